// format: a `<think>...</think>` span followed by a final answer.
//
// The completion arrives as segments (the engine parsed the special tokens), so the check reads
// structure, not regexes. Credit, with the defaults:
//   0.5  at least one non-empty thinking span, and no stray "<think>" / "</think>" text
//        (a tag the parser could not pair, e.g. an unclosed <think>)
//   0.5  a non-empty final answer after the last thinking span or tool output
//        (with `require_answer_line`, it must contain "Answer:")
// So "<think>steps</think>Answer: 4" scores 1, "Answer: 4" alone 0.5, "<think>steps</think>" 0.5.
import Foundation
import PonderCore

public struct FormatReward: RewardFunction {
    public struct Parameters: Codable, Sendable, Equatable {
        public var thinkCredit = 0.5
        public var answerCredit = 0.5
        public var requireAnswerLine = false
        public init() {}
        enum CodingKeys: String, CodingKey {
            case thinkCredit = "think_credit", answerCredit = "answer_credit", requireAnswerLine = "require_answer_line"
        }
    }

    public var parameters: Parameters
    public var name: String { "format" }

    public init(_ parameters: Parameters = Parameters()) { self.parameters = parameters }

    public func score(_ input: RewardInput) -> Result<Double, RewardFailure> {
        let segments = input.completion.segments
        let thought = segments.contains { if case .thinking(let t) = $0 { !t.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty } else { false } }
        let stray = segments.contains { if case .text(let t) = $0 { t.contains("<think>") || t.contains("</think>") } else { false } }
        let final = input.completion.finalText.trimmingCharacters(in: .whitespacesAndNewlines)
        let answered = !final.isEmpty && (!parameters.requireAnswerLine || final.contains("Answer:"))
        return .success((thought && !stray ? parameters.thinkCredit : 0) + (answered ? parameters.answerCredit : 0))
    }
}

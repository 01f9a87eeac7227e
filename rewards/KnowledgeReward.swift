// knowledge: refusal-aware reward for questions that may have no answer (DESIGN.md §6, §10).
//
//                     answerable question        unanswerable question (metadata answerable=false)
//   correct answer    correct   (+1)             -
//   refusal           refusal   (0)              refusalWhenUnanswerable (+1)
//   wrong answer      wrong     (-1)             wrong (-1): an invented fact
//   unparseable       unparseable (-1)           unparseable (-1)
// so a policy gains by answering what it knows and refusing what it does not, and loses most by
// guessing. All five values are parameters.
import PonderCore

public struct KnowledgeReward: RewardFunction {
    public struct Parameters: Codable, Sendable, Equatable {
        public var correct = 1.0
        public var refusal = 0.0
        public var wrong = -1.0
        public var refusalWhenUnanswerable = 1.0
        public var unparseable = -1.0
        public init() {}
        enum CodingKeys: String, CodingKey {
            case correct, refusal, wrong, refusalWhenUnanswerable = "refusal_when_unanswerable", unparseable
        }
    }

    public var parameters: Parameters
    public var name: String { "knowledge" }
    public var needsVerdict: Bool { true }

    public init(_ parameters: Parameters = Parameters()) { self.parameters = parameters }

    public func score(_ input: RewardInput) -> Result<Double, RewardFailure> {
        guard let verdict = input.verdict else { return .failure(RewardFailure(.missingVerdict, "knowledge needs the verifier's verdict")) }
        if let failure = verdict.failure { return .failure(RewardFailure(.execution, failure.description, execution: failure)) }
        let answerable = input.task.metadata["answerable"] != "false"
        switch verdict.kind {
        case .correct: return .success(answerable ? parameters.correct : parameters.wrong)
        case .refused: return .success(answerable ? parameters.refusal : parameters.refusalWhenUnanswerable)
        case .incorrect: return .success(parameters.wrong)
        case .unparseable: return .success(parameters.unparseable)
        }
    }
}

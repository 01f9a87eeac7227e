// Reading a judge's reply: strictly, in a documented order, never guessing.
//
// Pointwise replies end with a decision line in the format the rubric asks for:
//   scale "verdict":  `Verdict: correct` or `Verdict: incorrect`        -> 1 or 0
//   scale "1-10":     `Score: N` with N an integer in 1...10            -> (N - 1) / 9
// (any integer range "LO-HI" works the same way). Named fallbacks, tried only when the documented
// line is absent, in this order: `bracketed` ([[N]] or [[correct]]), `final_word` (the reply's
// last word is a verdict or an in-range number). Refused outright: two decision lines that
// disagree, a number outside the scale, a reply with no decision at all. Each refusal is a
// `JudgeParseFailure` naming what was wrong; it is recorded, never turned into a score.
//
// The pointwise prompt lives here too (`JudgeFormat`), beside the parser, because two sides must
// agree on it byte for byte: the judge that sends it and the `judging` environment that teaches
// a model to answer it.
//
// Pairwise replies name the better answer as `[[A]]`, `[[B]]`, or `[[C]]` for a tie (MT-Bench's
// format); fallback `final_word`: a last word of exactly A, B or tie. Both letters present in
// brackets is a refusal.

import Foundation

/// The scale a pointwise judge grades on.
public enum JudgeScale: Sendable, Equatable, Codable, CustomStringConvertible {
    /// correct / incorrect.
    case verdict
    /// Integers lo...hi.
    case range(Int, Int)

    public init(_ text: String) throws {
        if text == "verdict" { self = .verdict; return }
        let parts = text.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let lo = parts[0], let hi = parts[1], lo < hi, hi - lo <= 100 else {
            throw JudgeConfigError("scale \"\(text)\" is not \"verdict\" or an integer range such as \"1-10\"")
        }
        self = .range(lo, hi)
    }

    public var description: String {
        switch self {
        case .verdict: return "verdict"
        case .range(let lo, let hi): return "\(lo)-\(hi)"
        }
    }

    public init(from decoder: any Decoder) throws { try self.init(decoder.singleValueContainer().decode(String.self)) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    /// The value of a raw score in [0, 1].
    public func normalise(_ raw: Double) -> Double {
        switch self {
        case .verdict: return raw
        case .range(let lo, let hi): return (raw - Double(lo)) / Double(hi - lo)
        }
    }

    /// The raw value a word of the reply stands for on this scale, if any ("correct" -> 1, "7" -> 7).
    public func value(of word: String) -> Double? {
        let w = word.lowercased()
        switch self {
        case .verdict:
            if w == "correct" { return 1 }
            if w == "incorrect" { return 0 }
            return nil
        case .range(let lo, let hi):
            guard let n = Int(w), (lo...hi).contains(n) else { return nil }
            return Double(n)
        }
    }

    /// The decision line the rubric asks for.
    public var label: String {
        switch self {
        case .verdict: return "Verdict"
        case .range: return "Score"
        }
    }
}

public struct JudgeConfigError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Why a reply could not be read.
public struct JudgeParseFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A reply read: the raw value on the scale, its [0, 1] score, and which rule read it.
public struct PointwiseReading: Sendable, Equatable {
    public var raw: Double
    public var score: Double
    /// "documented", "bracketed" or "final_word".
    public var rule: String
}

public enum PairVerdict: String, Sendable, Equatable, Codable {
    case first = "A", second = "B", tie = "C"

    /// The verdict with the answers' positions swapped back.
    public var unflipped: PairVerdict {
        switch self {
        case .first: return .second
        case .second: return .first
        case .tie: return .tie
        }
    }
}

public struct PairwiseReading: Sendable, Equatable {
    public var verdict: PairVerdict
    public var rule: String
}

public enum JudgeReply {
    /// Reads a pointwise reply on `scale`.
    public static func pointwise(_ reply: String, scale: JudgeScale) -> Result<PointwiseReading, JudgeParseFailure> {
        // Documented: "Label: value" lines (case-insensitive label; value is the line's first word).
        let pattern = "(?im)^\\s*\\**\(scale.label)\\**\\s*:\\s*\\**\\s*([^\\s*]+)"
        let documented = matches(pattern, in: reply)
        if !documented.isEmpty {
            var values: [Double] = []
            for word in documented {
                let cleaned = word.trimmingCharacters(in: CharacterSet(charactersIn: ".,;!\"'[]()"))
                guard let v = scale.value(of: cleaned) else {
                    return .failure(JudgeParseFailure("\(scale.label) \"\(cleaned)\" is not on the scale \(scale)"))
                }
                values.append(v)
            }
            if Set(values).count > 1 {
                return .failure(JudgeParseFailure("\(values.count) decision lines disagree: \(documented.joined(separator: ", "))"))
            }
            return .success(PointwiseReading(raw: values[0], score: scale.normalise(values[0]), rule: "documented"))
        }
        let bracketed = matches("\\[\\[\\s*([^\\]\\s]+)\\s*\\]\\]", in: reply)
        if !bracketed.isEmpty {
            let values = bracketed.map { scale.value(of: $0) }
            if values.contains(where: { $0 == nil }) {
                return .failure(JudgeParseFailure("bracketed \(bracketed.joined(separator: ", ")) is not on the scale \(scale)"))
            }
            if Set(values.map { $0! }).count > 1 { return .failure(JudgeParseFailure("bracketed decisions disagree: \(bracketed)")) }
            return .success(PointwiseReading(raw: values[0]!, score: scale.normalise(values[0]!), rule: "bracketed"))
        }
        if let last = lastWord(reply) {
            if let v = scale.value(of: last) {
                return .success(PointwiseReading(raw: v, score: scale.normalise(v), rule: "final_word"))
            }
            if case .range(let lo, let hi) = scale, let n = Int(last) {
                return .failure(JudgeParseFailure("final number \(n) is outside the scale \(lo)-\(hi)"))
            }
        }
        return .failure(JudgeParseFailure("no decision: expected a line \"\(scale.label): ...\" on the scale \(scale)"))
    }

    /// Reads a pairwise reply.
    public static func pairwise(_ reply: String) -> Result<PairwiseReading, JudgeParseFailure> {
        let bracketed = Set(matches("\\[\\[\\s*([ABCabc])\\s*\\]\\]", in: reply).map { $0.uppercased() })
        if bracketed.count > 1 { return .failure(JudgeParseFailure("two verdicts: \(bracketed.sorted().map { "[[\($0)]]" }.joined(separator: " and "))")) }
        if let one = bracketed.first { return .success(PairwiseReading(verdict: PairVerdict(rawValue: one)!, rule: "documented")) }
        if let last = lastWord(reply) {
            switch last.lowercased() {
            case "a": return .success(PairwiseReading(verdict: .first, rule: "final_word"))
            case "b": return .success(PairwiseReading(verdict: .second, rule: "final_word"))
            case "tie", "c": return .success(PairwiseReading(verdict: .tie, rule: "final_word"))
            default: break
            }
        }
        return .failure(JudgeParseFailure("no verdict: expected [[A]], [[B]] or [[C]]"))
    }

    public static func matches(_ pattern: String, in text: String) -> [String] {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return [] }
        let ns = text as NSString
        return regex.matches(in: text, range: NSRange(location: 0, length: ns.length)).map { ns.substring(with: $0.range(at: 1)) }
    }

    /// The last word, stripped of punctuation and markup.
    public static func lastWord(_ text: String) -> String? {
        let words = text.split(whereSeparator: { $0.isWhitespace })
        guard let last = words.last else { return nil }
        let w = last.trimmingCharacters(in: CharacterSet(charactersIn: ".,;:!?\"'*()[]"))
        return w.isEmpty ? nil : w
    }
}

/// The judge's rubric prompts.
public enum JudgeFormat {
    /// The pointwise prompt: the rubric, the question, optionally the reference, the response.
    public static func pointwise(question: String, reference: String?, response: String, scale: JudgeScale) -> String {
        let decision: String
        switch scale {
        case .verdict: decision = "Verdict: correct\" or \"Verdict: incorrect"
        case .range(let lo, let hi): decision = "Score: N\" with N a whole number from \(lo) (wrong) to \(hi) (correct and complete)"
        }
        var text = "Grade the response to the question. End with one line \"\(decision)\".\n\nQuestion: \(question)\n"
        if let reference { text += "Reference answer: \(reference)\n" }
        return text + "Response: \(response)"
    }

    /// The pairwise prompt: answers A and B, a verdict [[A]], [[B]] or [[C]] (tie).
    public static func pairwise(question: String, reference: String?, a: String, b: String) -> String {
        var text = "Which answer to the question is better? End with [[A]], [[B]], or [[C]] for a tie.\n\nQuestion: \(question)\n"
        if let reference { text += "Reference answer: \(reference)\n" }
        return text + "Answer A: \(a)\nAnswer B: \(b)"
    }
}

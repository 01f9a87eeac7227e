// Reading answers out of free text, and recognising refusals.
//
// Verifiers grade `Message.finalText` (the visible answer after the last thinking span or tool
// output). Integer extraction tries, in this order of preference:
//   1. the last `Answer: N`            "so 12*3 = 36. Answer: 36"            -> 36
//   2. the last boxed number           "the total is \boxed{-7}"              -> -7
//   3. the last integer in the text    "I count 3 r's in strawberry"          -> 3
// A number is an optional minus sign and digits, with optional thousands commas ("1,234") and
// an optional trailing ".0" ("42.0" -> 42); a sentence-ending period is not a decimal point
// ("Answer: 42." -> 42), and "420" is never 42.
import Foundation
import PonderCore

public enum Answers {
    /// The text after the last `Answer:` (case-insensitive), up to the end of its line.
    /// "Let me check.\nAnswer: Paris\n" -> "Paris"
    public static func answerLine(_ text: String) -> String? {
        guard let range = text.range(of: "answer:", options: [.caseInsensitive, .backwards]) else { return nil }
        let rest = text[range.upperBound...]
        let line = rest.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// The integer a completion gives, by the order of preference in the file header.
    public static func integer(_ text: String) -> Int? {
        if let line = answerLine(text), let n = lastInteger(line) { return n }
        if let n = boxedInteger(text) { return n }
        return lastInteger(text)
    }

    /// The verdict on a completion whose answer is the integer `reference`: refused, unparseable,
    /// or correct / incorrect with the integer it gave.
    public static func integerVerdict(_ completion: Message, reference: String) -> Verdict {
        let text = completion.finalText
        if Refusal.isRefusal(text) { return Verdict(.refused, extracted: text) }
        guard let n = integer(text) else { return Verdict(.unparseable) }
        return Verdict(String(n) == reference ? .correct : .incorrect, extracted: String(n), note: "expected \(reference)")
    }

    /// The contents of the last `\boxed{...}`, as an integer. "\boxed{1,024}" -> 1024
    public static func boxedInteger(_ text: String) -> Int? {
        guard let range = text.range(of: "\\boxed{", options: .backwards) else { return nil }
        let rest = text[range.upperBound...]
        guard let close = rest.firstIndex(of: "}") else { return nil }
        return lastInteger(String(rest[..<close]))
    }

    /// The last integer in the text. "between 3 and -12." -> -12; "x = 42.0" -> 42; "4.5" -> nil
    public static func lastInteger(_ text: String) -> Int? {
        numbers(text).last.flatMap { $0 }
    }

    /// Every number token, left to right; nil for a token that is not an integer (4.5).
    private static func numbers(_ text: String) -> [Int?] {
        let chars = Array(text)
        var found: [Int?] = []
        func isDigit(_ k: Int) -> Bool { k < chars.count && chars[k].isASCII && chars[k].isNumber }
        var i = 0
        while i < chars.count {
            guard chars[i].isASCII, chars[i].isNumber else { i += 1; continue }
            let negative = i > 0 && (chars[i - 1] == "-" || chars[i - 1] == "\u{2212}")
                && (i < 2 || !(chars[i - 2].isLetter || chars[i - 2].isNumber))
            var digits = ""
            while i < chars.count {
                if chars[i].isASCII, chars[i].isNumber { digits.append(chars[i]); i += 1; continue }
                // Thousands comma: exactly three digits follow.
                if chars[i] == ",", !digits.isEmpty, (1...3).allSatisfy({ isDigit(i + $0) }), !isDigit(i + 4) {
                    i += 1; continue
                }
                break
            }
            var integral = true
            if i + 1 < chars.count, chars[i] == ".", chars[i + 1].isASCII, chars[i + 1].isNumber {
                var fraction = ""
                var j = i + 1
                while j < chars.count, chars[j].isASCII, chars[j].isNumber { fraction.append(chars[j]); j += 1 }
                integral = fraction.allSatisfy { $0 == "0" }
                i = j
            }
            guard integral, digits.count <= 18, let value = Int(digits) else { found.append(nil); continue }
            found.append(negative ? -value : value)
        }
        return found
    }

    /// Lowercased, punctuation and articles dropped, spaces collapsed: for comparing short
    /// answers. "The  Velor River." -> "velor river"
    public static func normalized(_ text: String) -> String {
        let cleaned = text.lowercased().map { $0.isLetter || $0.isNumber ? $0 : " " }
        let words = String(cleaned).split(separator: " ").filter { !["the", "a", "an"].contains($0) }
        return words.joined(separator: " ")
    }
}

/// Refusals: the phrasings that count as "not attempted" (DESIGN.md §10). Matched on the
/// normalised final text, at its start or as its answer line, so "I don't know" counts but
/// "I don't know why you ask; Answer: 1850" does not.
public enum Refusal {
    /// The documented set, normalised (see `Answers.normalized`).
    public static let phrases: [String] = [
        "i don t know", "i do not know", "i dont know", "i m not sure", "i am not sure",
        "i have no idea", "i cannot answer", "i can t answer", "i can not answer",
        "i don t have that information", "i do not have that information", "i don t have enough information",
        "i do not have enough information", "i m unable to answer", "i am unable to answer",
        "unknown", "no idea", "not sure", "cannot be determined", "i couldn t find", "i could not find",
        "no information", "i have no information",
    ]

    /// The canonical refusal demonstrations use.
    public static let canonical = "I don't know."

    /// Whether the text is a refusal. "I'm not sure." / "Answer: I don't know" / "Unknown" -> true.
    public static func isRefusal(_ text: String) -> Bool {
        let candidates = [Answers.answerLine(text), text].compactMap { $0 }
        for candidate in candidates {
            let n = Answers.normalized(candidate.replacingOccurrences(of: "\u{2019}", with: "'"))
            if phrases.contains(where: { n == $0 || n.hasPrefix($0 + " ") }) {
                // A refusal that still commits to an answer is an answer.
                if Answers.answerLine(text) != nil, candidate == text,
                   let line = Answers.answerLine(text), !isRefusal(line) { return false }
                return true
            }
        }
        return false
    }
}

// Reading answers out of free text, and recognising refusals.
//
// Verifiers grade `Message.finalText` (the visible answer after the last thinking span or tool
// output). An integer answer is read in three moves:
//   1. the answer segment: the last `Answer: ...` line; else the last `\boxed{...}`; else the
//      last non-empty line of the text;
//   2. its answer clause: markdown emphasis (* _ `) dropped, then what follows the last "=",
//      or else the last " is ", " equals ", " are " or " was " (so "45 + 38 = 83" and "the
//      result of 5-3 is 2" read only their results);
//   3. the numbers in the clause: digits first (an optional minus sign, thousands commas
//      "1,234", a trailing ".0"; a sentence-ending period is not a decimal point and "420" is
//      never 42); if there are none, number words ("twelve", "twenty-one", "three hundred and
//      five"). One distinct value is the answer; several different ones ("Answer: 12 or 13",
//      "there are 3 r's in 10 words") are no answer at all; "Answer: 12 (twelve)" is 12.
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

    /// The integer a completion gives, by the rules in the file header; nil when it gives none
    /// or several different ones.
    public static func integer(_ text: String) -> Int? {
        if case .one(let n) = readInteger(text) { return n }
        return nil
    }

    /// What an integer reading found.
    public enum IntegerReading: Equatable {
        case none
        case one(Int)
        /// Several different numbers in the answer clause.
        case several([Int])
    }

    /// The integer reading of a completion (file header).
    public static func readInteger(_ text: String) -> IntegerReading {
        let segment: String
        if let line = answerLine(text) {
            segment = line
        } else if let boxed = boxedContent(text) {
            segment = boxed
        } else {
            segment = text.split(whereSeparator: \.isNewline).last { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.map(String.init) ?? ""
        }
        let clause = answerClause(segment)
        var values: [Int] = []
        for n in numbers(clause).compactMap({ $0 }) where !values.contains(n) { values.append(n) }
        if values.isEmpty, let n = NumberWords.value(in: clause) { values = [n] }
        switch values.count {
        case 0: return .none
        case 1: return .one(values[0])
        default: return .several(values)
        }
    }

    /// A segment without markdown emphasis, cut after its last "=" or else its last " is ",
    /// " equals ", " are " or " was ". "**45 + 38 = 83**" -> " 83"
    static func answerClause(_ segment: String) -> String {
        let plain = segment.filter { !"*_`".contains($0) }
        if let eq = plain.range(of: "=", options: .backwards) { return String(plain[eq.upperBound...]) }
        var cut: String.Index?
        for marker in [" is ", " equals ", " are ", " was "] {
            if let r = plain.range(of: marker, options: [.backwards, .caseInsensitive]), cut.map({ r.upperBound > $0 }) ?? true {
                cut = r.upperBound
            }
        }
        return cut.map { String(plain[$0...]) } ?? plain
    }

    /// The verdict on a completion whose answer is the integer `reference`: refused, unparseable,
    /// or correct / incorrect with the integer it gave.
    public static func integerVerdict(_ completion: Message, reference: String) -> Verdict {
        let text = completion.finalText
        if Refusal.isRefusal(text) { return Verdict(.refused, extracted: text) }
        switch readInteger(text) {
        case .none: return Verdict(.unparseable)
        case .several(let values):
            return Verdict(.incorrect, extracted: values.map(String.init).joined(separator: " or "),
                           note: "several different final numbers; expected \(reference)")
        case .one(let n):
            return Verdict(String(n) == reference ? .correct : .incorrect, extracted: String(n), note: "expected \(reference)")
        }
    }

    /// The contents of the last `\boxed{...}`. "\boxed{1,024}" -> "1,024"
    public static func boxedContent(_ text: String) -> String? {
        guard let range = text.range(of: "\\boxed{", options: .backwards) else { return nil }
        let rest = text[range.upperBound...]
        guard let close = rest.firstIndex(of: "}") else { return nil }
        return String(rest[..<close])
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

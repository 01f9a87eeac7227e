// PyValue: the values code tasks pass to and expect from a Python function.
//
// Test inputs and expected outputs are computed here in Swift; only the inputs ever enter the
// sandbox. The harness returns each result as canonical JSON (`json`) and we compare the text,
// so a solution cannot win with an object whose `__eq__` lies. `repr` matches Python's repr for
// these values, for tool demonstrations that print results.
import Foundation
import PonderCore

indirect enum PyValue: Sendable, Equatable {
    case int(Int)
    case bool(Bool)
    case str(String)
    case list([PyValue])

    /// Canonical JSON, as the harness writes it: `json.dumps(v, separators=(",", ":"), ensure_ascii=True)`.
    var json: String {
        switch self {
        case .int(let n): return String(n)
        case .bool(let b): return b ? "true" : "false"
        case .str(let s): return jsonString(s)
        case .list(let xs): return "[" + xs.map(\.json).joined(separator: ",") + "]"
        }
    }

    /// Python's repr (strings here hold only ASCII letters, digits and spaces).
    var repr: String {
        switch self {
        case .int(let n): return String(n)
        case .bool(let b): return b ? "True" : "False"
        case .str(let s): return "'" + s + "'"
        case .list(let xs): return "[" + xs.map(\.repr).joined(separator: ", ") + "]"
        }
    }

    /// Python's str(): what print shows ('abc' prints as abc; lists show their items' repr).
    var printed: String { if case .str(let s) = self { s } else { repr } }

    var ints: [Int] {
        if case .list(let xs) = self { return xs.compactMap { if case .int(let n) = $0 { n } else { nil } } }
        return []
    }

    var string: String { if case .str(let s) = self { s } else { "" } }
}

/// Python source and harness JSON stay ASCII.
func jsonString(_ s: String) -> String { jsonStringLiteral(s, asciiOnly: true) }

extension PyValue {
    /// Parse the JSON subset `json` writes: integers, true/false, strings, arrays. nil otherwise.
    init?(json: String) {
        var parser = PyValueParser(scalars: Array(json.unicodeScalars))
        guard let v = parser.value(), parser.atEnd else { return nil }
        self = v
    }
}

private struct PyValueParser {
    let scalars: [Unicode.Scalar]
    var i = 0

    init(scalars: [Unicode.Scalar]) { self.scalars = scalars }

    var atEnd: Bool { mutating get { skipSpace(); return i == scalars.count } }

    mutating func skipSpace() { while i < scalars.count, [" ", "\n", "\t", "\r"].contains(scalars[i]) { i += 1 } }

    mutating func literal(_ word: String) -> Bool {
        let w = Array(word.unicodeScalars)
        guard i + w.count <= scalars.count, Array(scalars[i..<(i + w.count)]) == w else { return false }
        i += w.count
        return true
    }

    mutating func value() -> PyValue? {
        skipSpace()
        guard i < scalars.count else { return nil }
        switch scalars[i] {
        case "t": return literal("true") ? .bool(true) : nil
        case "f": return literal("false") ? .bool(false) : nil
        case "[":
            i += 1
            var items: [PyValue] = []
            skipSpace()
            if i < scalars.count, scalars[i] == "]" { i += 1; return .list(items) }
            while true {
                guard let v = value() else { return nil }
                items.append(v)
                skipSpace()
                guard i < scalars.count else { return nil }
                if scalars[i] == "," { i += 1; continue }
                if scalars[i] == "]" { i += 1; return .list(items) }
                return nil
            }
        case "\"":
            i += 1
            var s = String.UnicodeScalarView()
            while i < scalars.count {
                let c = scalars[i]; i += 1
                if c == "\"" { return .str(String(s)) }
                guard c == "\\" else { s.append(c); continue }
                guard i < scalars.count else { return nil }
                let e = scalars[i]; i += 1
                switch e {
                case "n": s.append("\n")
                case "t": s.append("\t")
                case "r": s.append("\r")
                case "u":
                    guard i + 4 <= scalars.count, let v = UInt32(String(String.UnicodeScalarView(scalars[i..<(i + 4)])), radix: 16) else { return nil }
                    i += 4
                    if (0xD800..<0xDC00).contains(v), i + 6 <= scalars.count, scalars[i] == "\\",
                       let low = UInt32(String(String.UnicodeScalarView(scalars[(i + 2)..<(i + 6)])), radix: 16) {
                        i += 6
                        guard let u = Unicode.Scalar(0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)) else { return nil }
                        s.append(u)
                    } else {
                        guard let u = Unicode.Scalar(v) else { return nil }
                        s.append(u)
                    }
                default: s.append(e)
                }
            }
            return nil
        default:
            let start = i
            if scalars[i] == "-" { i += 1 }
            while i < scalars.count, ("0"..."9").contains(scalars[i]) { i += 1 }
            return Int(String(String.UnicodeScalarView(scalars[start..<i]))).map { .int($0) }
        }
    }
}

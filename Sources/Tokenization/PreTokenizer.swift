// PreTokenizer: splits text into the pieces that BPE merges never cross.
//
// Byte-level BPE only merges inside a piece, so this split decides what a token can be. It is a
// hand-written matcher for three known regular expressions, run over UTF-8 bytes (no
// NSRegularExpression: it is slow on Linux and its Unicode classes can differ from Oniguruma's,
// which the Python `tokenizers` package uses). Each matcher follows the regex's
// leftmost-first alternation and greedy backtracking exactly, so Ponder and Python cut the same
// pieces. Unknown patterns are refused by the tokenizer.json loader instead of approximated.
//
// Classes, as Oniguruma defines them: \p{L} = general category L*, \p{N} = N*, \s = the Unicode
// White_Space property; [\r\n] are the only "newline" characters. The case-insensitive
// contractions of Llama 3 also match U+017F (long s), which Unicode case-folds to "s".

import Foundation

/// The split rules Ponder can run (each one a known tokenizer.json regex).
public enum PreTokenizerPattern: Sendable, Equatable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    /// (GPT-2, and HF's ByteLevel pre-tokenizer with use_regex = true).
    case gpt2
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    /// maxDigits 3 is Llama 3; maxDigits 1 is Qwen2 and Ponder's own (every digit its own piece,
    /// so numbers never merge and arithmetic sees digits one by one).
    case llama3(maxDigits: Int)

    static let gpt2Regex = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// Ponder's pattern: Qwen2's, so every digit is its own piece.
    public static let ponder = PreTokenizerPattern.llama3(maxDigits: 1)

    /// The regex this matcher implements, as written in tokenizer.json.
    public var regex: String {
        switch self {
        case .gpt2: return Self.gpt2Regex
        case .llama3(let d):
            return d == 1 ? Self.qwen2Regex : Self.llama3Regex.replacingOccurrences(of: #"\p{N}{1,3}"#, with: "\\p{N}{1,\(d)}")
        }
    }

    /// The matcher for a tokenizer.json regex, or nil when it is not one of the known patterns.
    public init?(regex: String) {
        switch regex {
        case Self.gpt2Regex: self = .gpt2
        case Self.llama3Regex: self = .llama3(maxDigits: 3)
        case Self.qwen2Regex: self = .llama3(maxDigits: 1)
        default: return nil
        }
    }
}

/// Character classes the patterns distinguish.
enum CharClass: UInt8 {
    case letter, number, space, newline, other
}

/// Class of each ASCII byte.
private let asciiClass: [CharClass] = (0..<128).map { b -> CharClass in
    switch b {
    case 0x41...0x5A, 0x61...0x7A: return .letter
    case 0x30...0x39: return .number
    case 0x0A, 0x0D: return .newline
    case 0x09, 0x0B, 0x0C, 0x20: return .space
    default: return .other
    }
}

@inline(__always)
private func classify(_ scalar: Unicode.Scalar) -> CharClass {
    if scalar.value < 128 { return asciiClass[Int(scalar.value)] }
    let p = scalar.properties
    if p.isWhitespace { return .space }
    switch p.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
    case .decimalNumber, .letterNumber, .otherNumber: return .number
    default: return .other
    }
}

/// Cuts text into pieces; BPE merges never cross a piece boundary.
public struct PreTokenizer: Sendable {
    public let pattern: PreTokenizerPattern

    public init(pattern: PreTokenizerPattern) { self.pattern = pattern }

    /// Calls `body` with the byte range of each piece of `text`, in order; the pieces tile `text`.
    /// `text` must be valid UTF-8 (it comes from a Swift String).
    func forEachPiece(in text: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        let scanner = Scanner(bytes: text)
        var p = 0
        switch pattern {
        case .gpt2:
            while p < text.count {
                let e = scanner.gpt2Match(at: p)
                body(p..<e)
                p = e
            }
        case .llama3(let maxDigits):
            while p < text.count {
                let e = scanner.llama3Match(at: p, maxDigits: maxDigits)
                body(p..<e)
                p = e
            }
        }
    }

    /// The pieces of `text`, in order (for tests and debugging).
    public func pieces(_ text: String) -> [String] {
        var copy = text
        var out: [String] = []
        copy.withUTF8 { buf in
            forEachPiece(in: buf) { r in out.append(String(decoding: UnsafeBufferPointer(rebasing: buf[r]), as: UTF8.self)) }
        }
        return out
    }
}

/// Cursor helpers over UTF-8 bytes.
private struct Scanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var end: Int { bytes.count }

    /// Class and byte length of the scalar starting at `i` (i < end).
    @inline(__always)
    func scalar(at i: Int) -> (CharClass, Int) {
        let b0 = bytes[i]
        if b0 < 0x80 { return (asciiClass[Int(b0)], 1) }
        let (value, length) = decode(at: i)
        return (classify(Unicode.Scalar(value) ?? "\u{FFFD}"), length)
    }

    @inline(__always)
    func decode(at i: Int) -> (UInt32, Int) {
        let b0 = UInt32(bytes[i])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 {
            return (((b0 & 0x1F) << 6) | (UInt32(bytes[i + 1]) & 0x3F), 2)
        }
        if b0 < 0xF0 {
            return (((b0 & 0x0F) << 12) | ((UInt32(bytes[i + 1]) & 0x3F) << 6) | (UInt32(bytes[i + 2]) & 0x3F), 3)
        }
        return (((b0 & 0x07) << 18) | ((UInt32(bytes[i + 1]) & 0x3F) << 12)
                | ((UInt32(bytes[i + 2]) & 0x3F) << 6) | (UInt32(bytes[i + 3]) & 0x3F), 4)
    }

    @inline(__always)
    func classAt(_ i: Int) -> CharClass? { i < end ? scalar(at: i).0 : nil }

    /// End of the run of scalars of class `c` starting at `i`.
    @inline(__always)
    func run(of c: CharClass, from i: Int) -> Int {
        var q = i
        while q < end {
            let b = bytes[q]
            if b < 0x80 {
                if asciiClass[Int(b)] != c { break }
                q += 1
            } else {
                let (cc, l) = scalar(at: q)
                if cc != c { break }
                q += l
            }
        }
        return q
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d` at `p` (which holds an apostrophe); end of the match or nil.
    func contraction(at p: Int, caseInsensitive: Bool) -> Int? {
        let q = p + 1
        guard q < end else { return nil }
        func lower(_ i: Int) -> (UInt32, Int)? {
            guard i < end else { return nil }
            var (v, l) = decode(at: i)
            if caseInsensitive {
                if v >= 0x41 && v <= 0x5A { v += 0x20 }
                if v == 0x17F { v = 0x73 }  // U+017F LATIN SMALL LETTER LONG S folds to "s"
            }
            return (v, l)
        }
        guard let (c1, l1) = lower(q) else { return nil }
        switch c1 {
        case 0x73, 0x74, 0x6D, 0x64: return q + l1  // s t m d
        case 0x72, 0x76:  // r v -> re ve
            if let (c2, l2) = lower(q + l1), c2 == 0x65 { return q + l1 + l2 }
        case 0x6C:  // l -> ll
            if let (c2, l2) = lower(q + l1), c2 == 0x6C { return q + l1 + l2 }
        default: break
        }
        return nil
    }

    /// Whitespace alternatives shared by both patterns. `newlineRule` adds `\s*[\r\n]+`.
    @inline(__always)
    func whitespaceMatch(at p: Int, newlineRule: Bool) -> Int {
        var q = p
        var lastStart = p
        var lastNewline = -1
        while q < end {
            let (c, l) = scalar(at: q)
            if c == .space || c == .newline {
                if c == .newline { lastNewline = q }
                lastStart = q
                q += l
            } else {
                break
            }
        }
        if newlineRule && lastNewline >= 0 { return lastNewline + 1 }  // \s*[\r\n]+ (newlines are one byte)
        if q == end { return q }  // \s+(?!\S) at the end of the text
        if lastStart > p { return lastStart }  // \s+(?!\S): leave the last whitespace for the next piece
        return q  // \s+
    }

    func gpt2Match(at p: Int) -> Int {
        if bytes[p] == 0x27, let e = contraction(at: p, caseInsensitive: false) { return e }
        var start = p
        if bytes[p] == 0x20, p + 1 < end {
            let c1 = scalar(at: p + 1).0
            if c1 != .space && c1 != .newline { start = p + 1 }
        }
        let (c, l) = scalar(at: start)
        switch c {
        case .letter, .number, .other: return run(of: c, from: start + l)
        case .space, .newline: return whitespaceMatch(at: p, newlineRule: false)
        }
    }

    func llama3Match(at p: Int, maxDigits: Int) -> Int {
        if bytes[p] == 0x27, let e = contraction(at: p, caseInsensitive: true) { return e }
        let (c0, l0) = scalar(at: p)
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if c0 == .letter { return run(of: .letter, from: p + l0) }
        if c0 != .newline && c0 != .number && p + l0 < end {
            let (c1, l1) = scalar(at: p + l0)
            if c1 == .letter { return run(of: .letter, from: p + l0 + l1) }
        }
        // \p{N}{1,maxDigits}
        if c0 == .number {
            var q = p + l0
            var n = 1
            while n < maxDigits, q < end {
                let (c, l) = scalar(at: q)
                if c != .number { break }
                q += l
                n += 1
            }
            return q
        }
        //  ?[^\s\p{L}\p{N}]+[\r\n]*
        var otherStart = -1
        if c0 == .other {
            otherStart = p
        } else if bytes[p] == 0x20, classAt(p + 1) == .other {
            otherStart = p + 1
        }
        if otherStart >= 0 {
            var q = run(of: .other, from: otherStart)
            while q < end, bytes[q] == 0x0A || bytes[q] == 0x0D { q += 1 }
            return q
        }
        return whitespaceMatch(at: p, newlineRule: true)
    }
}

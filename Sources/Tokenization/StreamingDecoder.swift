// StreamingDecoder: turns generated token ids into text one token at a time.
//
// A byte-level token can end in the middle of a UTF-8 character (an emoji is often two or three
// tokens). Decoding each token alone would print replacement characters; this decoder holds back
// the bytes of an incomplete trailing character until the token that completes it arrives.
// Bytes that can never become valid UTF-8 are released at once as U+FFFD.

public struct StreamingDecoder: Sendable {
    public let tokenizer: Tokenizer
    /// Bytes of an incomplete character at the end of the stream (at most 3).
    private var pending: [UInt8] = []
    private let skipSpecial: Bool

    public init(tokenizer: Tokenizer, skipSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecial = skipSpecial
    }

    /// Adds one token; returns the text it completes (possibly empty).
    public mutating func push(_ id: Int32) -> String { push([id]) }

    /// Adds several tokens; returns the text they complete.
    public mutating func push(_ ids: some Sequence<Int32>) -> String {
        pending.append(contentsOf: tokenizer.decodeBytes(ids, skipSpecial: skipSpecial))
        let cut = Self.completePrefixLength(pending)
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Ends the stream: whatever is held back comes out (an incomplete character as U+FFFD).
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the prefix of `bytes` that does not end inside a character that could still be
    /// completed by more bytes.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        // Find the lead byte of the last character: step back over at most 3 continuation bytes.
        var j = n - 1
        while j >= 0 && j >= n - 4 && bytes[j] & 0xC0 == 0x80 { j -= 1 }
        guard j >= 0 && j >= n - 4 else { return n }  // only continuation bytes: invalid, release
        let lead = bytes[j]
        let needed: Int
        switch lead {
        case 0xC2...0xDF: needed = 2
        case 0xE0...0xEF: needed = 3
        case 0xF0...0xF4: needed = 4
        default: return n  // ASCII or an invalid lead byte: nothing to wait for
        }
        let have = n - j
        return have < needed ? j : n
    }
}

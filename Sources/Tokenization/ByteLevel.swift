// ByteLevel: the GPT-2 byte-to-character alphabet used by byte-level BPE in tokenizer.json.
//
// tokenizer.json stores tokens as strings, but byte-level BPE tokens are byte sequences that need
// not be valid UTF-8. GPT-2 maps each of the 256 bytes to one printable Unicode character: the
// printable Latin-1 bytes (33...126, 161...172, 174...255) map to themselves, and the others
// (controls, space, DEL, NBSP, soft hyphen) map in increasing order to U+0100, U+0101, ...
// So the space byte 0x20 is written `Ġ` (U+0120). This file only converts; it knows nothing of BPE.

enum ByteLevel {
    /// Character (as a Unicode scalar value) for each byte.
    static let byteToScalar: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// Inverse of `byteToScalar`: scalar value -> byte.
    static let scalarToByte: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for b in 0..<256 { map[byteToScalar[b]] = UInt8(b) }
        return map
    }()

    /// The tokenizer.json spelling of a byte sequence.
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(Unicode.Scalar(byteToScalar[Int(b)])!) }
        return String(s)
    }

    /// The bytes behind a tokenizer.json token string, or nil if a character is outside the
    /// byte-level alphabet (the vocabulary is then not byte-level).
    static func decode(_ token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            guard let b = scalarToByte[scalar.value] else { return nil }
            bytes.append(b)
        }
        return bytes
    }
}

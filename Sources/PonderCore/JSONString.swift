// JSON string literals, written by hand where a whole encoder is not wanted (safetensors
// headers, resolved configs, Python test harnesses).

/// `s` as a JSON string literal with the escapes RFC 8259 requires. With `asciiOnly`, every
/// scalar outside printable ASCII is written as \uXXXX (a surrogate pair above U+FFFF), so the
/// text survives any encoding of the file it is pasted into.
public func jsonStringLiteral(_ s: String, asciiOnly: Bool = false) -> String {
    func hex4(_ v: UInt32) -> String {
        let digits = String(v, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if u.value < 0x20 || (asciiOnly && u.value > 0x7e) {
                if u.value > 0xFFFF {
                    let v = u.value - 0x10000
                    out += hex4(0xD800 + (v >> 10)) + hex4(0xDC00 + (v & 0x3FF))
                } else {
                    out += hex4(u.value)
                }
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}

// ConfigValue: a free-form YAML value (environment settings, reward parameters) and the
// ordered tree the resolved config is printed from.
//
// Keys keep their order (a YAML mapping is a list of pairs here, not a Dictionary), so the
// resolved text of a config is stable and can be hashed. Integers and reals stay apart:
// `3` is `.int(3)` and `3.0` is `.double(3)`. This file also prints a value as YAML (block
// style, two-space indent) and as JSON; it is not a general YAML emitter.
import Foundation
import PonderCore

public indirect enum ConfigValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([ConfigValue])
    case map([Entry])

    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: ConfigValue
        public init(_ key: String, _ value: ConfigValue) {
            self.key = key
            self.value = value
        }
    }

    /// The value under `key` of a mapping.
    public subscript(key: String) -> ConfigValue? {
        guard case .map(let entries) = self else { return nil }
        return entries.first { $0.key == key }?.value
    }

    /// JSON-like Foundation values (`Int`, `Double`, `Bool`, `String`, `NSNull`, arrays,
    /// `[String: Any]`), the form `EnvironmentRegistry.make` and `RewardRegistry.make` take.
    public var foundationValue: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let b): return b
        case .int(let i): return i
        case .double(let d): return d
        case .string(let s): return s
        case .list(let items): return items.map(\.foundationValue)
        case .map(let entries):
            var out: [String: Any] = [:]
            for e in entries { out[e.key] = e.value.foundationValue }
            return out
        }
    }

    /// A mapping as `[String: Any]` (empty for anything else).
    public var foundationMapping: [String: Any] { foundationValue as? [String: Any] ?? [:] }
}

extension ConfigValue: Codable {
    /// Generic decoding, for decoders other than the experiment decoder (which builds the
    /// value straight from the YAML node and keeps key order).
    public init(from decoder: Decoder) throws {
        if let single = try? decoder.singleValueContainer() {
            if single.decodeNil() { self = .null; return }
            if let b = try? single.decode(Bool.self) { self = .bool(b); return }
            if let i = try? single.decode(Int.self) { self = .int(i); return }
            if let d = try? single.decode(Double.self) { self = .double(d); return }
            if let s = try? single.decode(String.self) { self = .string(s); return }
        }
        if let keyed = try? decoder.container(keyedBy: AnyKey.self) {
            self = .map(try keyed.allKeys.map { Entry($0.stringValue, try keyed.decode(ConfigValue.self, forKey: $0)) })
            return
        }
        var unkeyed = try decoder.unkeyedContainer()
        var items: [ConfigValue] = []
        while !unkeyed.isAtEnd { items.append(try unkeyed.decode(ConfigValue.self)) }
        self = .list(items)
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer(); try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer(); try c.encode(b)
        case .int(let i):
            var c = encoder.singleValueContainer(); try c.encode(i)
        case .double(let d):
            var c = encoder.singleValueContainer(); try c.encode(d)
        case .string(let s):
            var c = encoder.singleValueContainer(); try c.encode(s)
        case .list(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case .map(let entries):
            var c = encoder.container(keyedBy: AnyKey.self)
            for e in entries { try c.encode(e.value, forKey: AnyKey(e.key)) }
        }
    }
}

// MARK: - Printing

extension ConfigValue {
    /// Block-style YAML, two-space indent, keys in order; ends with a newline.
    public var yamlText: String {
        var out = ""
        switch self {
        case .map(let entries) where !entries.isEmpty:
            ConfigValue.writeMap(entries, indent: 0, into: &out)
        case .list(let items) where !items.isEmpty:
            ConfigValue.writeList(items, indent: 0, into: &out)
        default:
            out = scalarYAML + "\n"
        }
        return out
    }

    private static func writeMap(_ entries: [Entry], indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        for e in entries {
            let key = yamlString(e.key)
            switch e.value {
            case .map(let inner) where !inner.isEmpty:
                out += "\(pad)\(key):\n"
                writeMap(inner, indent: indent + 2, into: &out)
            case .list(let items) where !items.isEmpty && items.allSatisfy(\.isScalar):
                out += "\(pad)\(key): [" + items.map(\.scalarYAML).joined(separator: ", ") + "]\n"
            case .list(let items) where !items.isEmpty:
                out += "\(pad)\(key):\n"
                writeList(items, indent: indent + 2, into: &out)
            default:
                out += "\(pad)\(key): \(e.value.scalarYAML)\n"
            }
        }
    }

    private static func writeList(_ items: [ConfigValue], indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        for item in items {
            switch item {
            case .map(let entries) where !entries.isEmpty:
                // "- " then the mapping, its first key on the dash's line.
                var inner = ""
                writeMap(entries, indent: indent + 2, into: &inner)
                out += pad + "- " + inner.dropFirst(indent + 2)
            case .list(let nested) where !nested.isEmpty:
                out += "\(pad)-\n"
                writeList(nested, indent: indent + 2, into: &out)
            default:
                out += "\(pad)- \(item.scalarYAML)\n"
            }
        }
    }

    private var isScalar: Bool {
        switch self {
        case .map, .list: return false
        default: return true
        }
    }

    /// A scalar (or an empty collection) in flow style.
    private var scalarYAML: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return ConfigValue.number(d)
        case .string(let s): return ConfigValue.yamlString(s)
        case .list: return "[]"
        case .map: return "{}"
        }
    }

    /// Shortest text that reads back as the same Double, always with a `.` or an exponent
    /// so that it reads back as a real, not an integer.
    static func number(_ d: Double) -> String {
        let text = "\(d)"
        return text.contains(".") || text.contains("e") || !d.isFinite ? text : text + ".0"
    }

    /// Plain when the text cannot be read as anything but a string; double-quoted otherwise.
    static func yamlString(_ s: String) -> String {
        let plain = s.range(of: #"^[A-Za-z_][A-Za-z0-9_./-]*$"#, options: .regularExpression) != nil
        let reserved: Set<String> = ["true", "false", "yes", "no", "on", "off", "null", "y", "n"]
        if plain && !reserved.contains(s.lowercased()) { return s }
        return jsonStringLiteral(s)
    }


    /// Pretty JSON, keys in order; ends with a newline.
    public var jsonText: String {
        var out = ""
        writeJSON(indent: 0, into: &out)
        return out + "\n"
    }

    private func writeJSON(indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent + 2)
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += d.isFinite ? ConfigValue.number(d) : "null"
        case .string(let s): out += jsonStringLiteral(s)
        case .list(let items):
            if items.isEmpty { out += "[]"; return }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                item.writeJSON(indent: indent + 2, into: &out)
                out += i + 1 < items.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "]"
        case .map(let entries):
            if entries.isEmpty { out += "{}"; return }
            out += "{\n"
            for (i, e) in entries.enumerated() {
                out += pad + jsonStringLiteral(e.key) + ": "
                e.value.writeJSON(indent: indent + 2, into: &out)
                out += i + 1 < entries.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        }
    }
}

/// A coding key made from any string or index.
public struct AnyKey: CodingKey, Hashable, Sendable {
    public var stringValue: String
    public var intValue: Int?
    public init(_ string: String) { stringValue = string; intValue = nil }
    public init(stringValue: String) { self.init(stringValue) }
    public init(intValue: Int) { stringValue = String(intValue); self.intValue = intValue }
}

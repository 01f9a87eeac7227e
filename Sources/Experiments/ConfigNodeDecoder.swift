// ConfigNodeDecoder: a strict `Decoder` over a composed Yams `Node` tree.
//
// Why not Yams' own YAMLDecoder: experiment files are decoded strictly. This decoder
// - accepts `true`/`false` only for booleans (not YAML 1.1's yes/no/on/off),
// - reads a number only from an unquoted scalar (`"3"` is a string, `3.5` is not an integer),
// - decodes `ConfigChoice` enums with an error listing the choices and the closest one,
// - builds `ConfigValue` (free-form settings) straight from the node, keeping key order,
// - reports every problem as a `ConfigIssue` carrying the coding path, which the loader turns
//   into `FILE:LINE:COL` (ConfigLocation.swift).
// Unknown keys are not checked here but by `strictContainer` (ConfigDecoding.swift), which
// knows the type's CodingKeys.
import Foundation
import Yams

struct ConfigNodeDecoder: Decoder {
    let node: Node
    let codingPath: [CodingKey]
    let userInfo: [CodingUserInfoKey: Any]

    init(node: Node, codingPath: [CodingKey] = [], userInfo: [CodingUserInfoKey: Any] = [:]) {
        self.node = node
        self.codingPath = codingPath
        self.userInfo = userInfo
    }

    func child(_ node: Node, _ key: CodingKey) -> ConfigNodeDecoder {
        ConfigNodeDecoder(node: node, codingPath: codingPath + [key], userInfo: userInfo)
    }

    func issue(_ message: String) -> ConfigIssue { ConfigIssue(path: codingPath, message: message) }

    func mismatch(_ expected: String) -> ConfigIssue {
        issue("expected \(expected), found \(ConfigNodeDecoder.describe(node))")
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .mapping(let mapping) = node else { throw mismatch("a mapping") }
        var pairs: [(String, Node)] = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                throw issue("a key must be a plain word, found \(ConfigNodeDecoder.describe(key))")
            }
            if scalar.string == "<<" {
                throw ConfigIssue(path: codingPath + [AnyKey("<<")], message: "merge keys (<<) are not supported; write the keys out",
                                  atKey: true)
            }
            pairs.append((scalar.string, value))
        }
        return KeyedDecodingContainer(Keyed<Key>(pairs: pairs, decoder: self))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .sequence(let sequence) = node else { throw mismatch("a list") }
        return Unkeyed(items: Array(sequence), decoder: self)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { Single(decoder: self) }

    // MARK: Values

    var isNull: Bool { ConfigNodeDecoder.isNull(node) }

    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let s) = node, isPlain(s) else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    static func isPlain(_ s: Node.Scalar) -> Bool { s.style == .plain || s.style == .any }

    /// How a node reads in an error message.
    static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let s):
            if isNull(node) { return "nothing" }
            return isPlain(s) ? "'\(s.string)'" : "the string '\(s.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// The text of an unquoted scalar, or a mismatch naming `expected`.
    private func plainText(_ expected: String) throws -> String {
        guard case .scalar(let s) = node, ConfigNodeDecoder.isPlain(s), !isNull else { throw mismatch(expected) }
        return s.string
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if T.self == ConfigValue.self { return configValue as! T }
        if T.self == String.self {
            guard case .scalar(let s) = node, !isNull else { throw mismatch("a string") }
            return s.string as! T
        }
        if T.self == Bool.self {
            let text = try plainText("true or false")
            switch text {
            case "true", "True", "TRUE": return true as! T
            case "false", "False", "FALSE": return false as! T
            default: throw mismatch("true or false")
            }
        }
        if let choice = T.self as? any ConfigChoice.Type { return try decodeChoice(choice) as! T }
        if T.self == Double.self { return try real() as! T }
        if T.self == Float.self { return Float(try real()) as! T }
        if let integer = T.self as? any FixedWidthInteger.Type { return try decodeInteger(integer) as! T }
        return try T(from: self)
    }

    private func real() throws -> Double {
        let text = try plainText("a number")
        guard let value = Double(text.replacingOccurrences(of: "_", with: "")), value.isFinite else {
            throw mismatch("a number")
        }
        return value
    }

    private func decodeInteger<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        let expected = I.isSigned ? "an integer" : "a non-negative integer"
        let text = try plainText(expected)
        guard let value = I(text.replacingOccurrences(of: "_", with: "")) else { throw mismatch(expected) }
        return value
    }

    private func decodeChoice<C: ConfigChoice>(_ type: C.Type) throws -> C {
        let choices = C.choices
        let allowed = choices.map { "`\($0)`" }.joined(separator: ", ")
        guard case .scalar(let s) = node, !isNull else { throw issue("expected one of \(allowed), found \(ConfigNodeDecoder.describe(node))") }
        guard let value = C(choice: s.string) else {
            throw issue("must be one of \(allowed), found '\(s.string)'" + Suggest.didYouMean(s.string, in: choices))
        }
        return value
    }

    /// The node as a free-form value: quoted scalars are strings; unquoted ones are null,
    /// true/false, an integer, a real, or else a string.
    var configValue: ConfigValue { ConfigNodeDecoder.value(of: node) }

    static func value(of node: Node) -> ConfigValue {
        switch node {
        case .scalar(let s):
            guard isPlain(s) else { return .string(s.string) }
            if isNull(node) { return .null }
            switch s.string {
            case "true", "True", "TRUE": return .bool(true)
            case "false", "False", "FALSE": return .bool(false)
            default: break
            }
            let cleaned = s.string.replacingOccurrences(of: "_", with: "")
            if let i = Int(cleaned) { return .int(i) }
            if let first = cleaned.first, first.isNumber || "+-.".contains(first), let d = Double(cleaned), d.isFinite { return .double(d) }
            return .string(s.string)
        case .mapping(let m):
            return .map(m.map { ConfigValue.Entry($0.key.string ?? "\($0.key)", value(of: $0.value)) })
        case .sequence(let seq):
            return .list(seq.map { value(of: $0) })
        case .alias:
            return .null
        }
    }

    // MARK: Containers

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let pairs: [(String, Node)]
        let decoder: ConfigNodeDecoder
        var codingPath: [CodingKey] { decoder.codingPath }
        var allKeys: [Key] { pairs.compactMap { Key(stringValue: $0.0) } }

        func node(_ key: Key) -> Node? { pairs.first { $0.0 == key.stringValue }?.1 }
        func contains(_ key: Key) -> Bool { node(key) != nil }

        func child(_ key: Key) throws -> ConfigNodeDecoder {
            guard let node = node(key) else { throw decoder.issue("missing required key `\(key.stringValue)`") }
            return decoder.child(node, key)
        }

        func decodeNil(forKey key: Key) throws -> Bool { node(key).map(ConfigNodeDecoder.isNull) ?? true }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).decode(T.self) }
        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try child(key).decode(type) }
        func decode(_ type: String.Type, forKey key: Key) throws -> String { try child(key).decode(type) }
        func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try child(key).decode(type) }
        func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try child(key).decode(type) }
        func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try child(key).decode(type) }
        func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try child(key).decode(type) }
        func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try child(key).decode(type) }
        func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try child(key).decode(type) }
        func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try child(key).decode(type) }
        func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try child(key).decode(type) }
        func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try child(key).decode(type) }
        func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try child(key).decode(type) }
        func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try child(key).decode(type) }
        func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try child(key).decode(type) }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            try child(key).container(keyedBy: type)
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer { try child(key).unkeyedContainer() }
        func superDecoder() throws -> Decoder { decoder }
        func superDecoder(forKey key: Key) throws -> Decoder { try child(key) }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let items: [Node]
        let decoder: ConfigNodeDecoder
        var codingPath: [CodingKey] { decoder.codingPath }
        var count: Int? { items.count }
        var isAtEnd: Bool { currentIndex >= items.count }
        var currentIndex = 0

        init(items: [Node], decoder: ConfigNodeDecoder) {
            self.items = items
            self.decoder = decoder
        }

        mutating func next() throws -> ConfigNodeDecoder {
            guard !isAtEnd else { throw decoder.issue("the list has only \(items.count) items") }
            defer { currentIndex += 1 }
            return decoder.child(items[currentIndex], AnyKey(intValue: currentIndex))
        }

        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd, ConfigNodeDecoder.isNull(items[currentIndex]) else { return false }
            currentIndex += 1
            return true
        }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decode(T.self) }
        mutating func decode(_ type: Bool.Type) throws -> Bool { try next().decode(type) }
        mutating func decode(_ type: String.Type) throws -> String { try next().decode(type) }
        mutating func decode(_ type: Double.Type) throws -> Double { try next().decode(type) }
        mutating func decode(_ type: Float.Type) throws -> Float { try next().decode(type) }
        mutating func decode(_ type: Int.Type) throws -> Int { try next().decode(type) }
        mutating func decode(_ type: Int8.Type) throws -> Int8 { try next().decode(type) }
        mutating func decode(_ type: Int16.Type) throws -> Int16 { try next().decode(type) }
        mutating func decode(_ type: Int32.Type) throws -> Int32 { try next().decode(type) }
        mutating func decode(_ type: Int64.Type) throws -> Int64 { try next().decode(type) }
        mutating func decode(_ type: UInt.Type) throws -> UInt { try next().decode(type) }
        mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next().decode(type) }
        mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next().decode(type) }
        mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next().decode(type) }
        mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next().decode(type) }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            try next().container(keyedBy: type)
        }
        mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer { try next().unkeyedContainer() }
        mutating func superDecoder() throws -> Decoder { try next() }
    }

    struct Single: SingleValueDecodingContainer {
        let decoder: ConfigNodeDecoder
        var codingPath: [CodingKey] { decoder.codingPath }

        func decodeNil() -> Bool { decoder.isNull }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decode(T.self) }
        func decode(_ type: Bool.Type) throws -> Bool { try decoder.decode(type) }
        func decode(_ type: String.Type) throws -> String { try decoder.decode(type) }
        func decode(_ type: Double.Type) throws -> Double { try decoder.decode(type) }
        func decode(_ type: Float.Type) throws -> Float { try decoder.decode(type) }
        func decode(_ type: Int.Type) throws -> Int { try decoder.decode(type) }
        func decode(_ type: Int8.Type) throws -> Int8 { try decoder.decode(type) }
        func decode(_ type: Int16.Type) throws -> Int16 { try decoder.decode(type) }
        func decode(_ type: Int32.Type) throws -> Int32 { try decoder.decode(type) }
        func decode(_ type: Int64.Type) throws -> Int64 { try decoder.decode(type) }
        func decode(_ type: UInt.Type) throws -> UInt { try decoder.decode(type) }
        func decode(_ type: UInt8.Type) throws -> UInt8 { try decoder.decode(type) }
        func decode(_ type: UInt16.Type) throws -> UInt16 { try decoder.decode(type) }
        func decode(_ type: UInt32.Type) throws -> UInt32 { try decoder.decode(type) }
        func decode(_ type: UInt64.Type) throws -> UInt64 { try decoder.decode(type) }
    }
}

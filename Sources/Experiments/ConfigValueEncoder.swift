// ConfigValueEncoder: an `Encoder` that turns any Encodable into an ordered `ConfigValue`.
//
// Used to print the resolved config (keys in CodingKeys order, so the text is stable) and to
// fill an environment's or a reward's defaults into its free-form settings. Unlike
// JSONEncoder it keeps integers apart from reals and writes `nil` optionals as `null`, so
// the resolved text shows every key.
import Foundation

enum ConfigValueEncoder {
    static func encode<T: Encodable>(_ value: T) throws -> ConfigValue {
        let root = Slot()
        try root.store(value, codingPath: [])
        return root.value
    }

    /// One place in the tree being built.
    final class Slot {
        enum Content {
            case unset
            case value(ConfigValue)
            case map([(String, Slot)])
            case list([Slot])
        }
        var content = Content.unset

        var value: ConfigValue {
            switch content {
            case .unset: return .null
            case .value(let v): return v
            case .map(let pairs): return .map(pairs.map { ConfigValue.Entry($0.0, $0.1.value) })
            case .list(let slots): return .list(slots.map(\.value))
            }
        }

        func store<T: Encodable>(_ value: T, codingPath: [CodingKey]) throws {
            switch value {
            case let v as ConfigValue: content = .value(v)
            case let v as String: content = .value(.string(v))
            case let v as Bool: content = .value(.bool(v))
            case let v as Double: content = .value(.double(v))
            case let v as Float: content = .value(.double(Double("\(v)") ?? Double(v)))
            case let v as Int: content = .value(.int(v))
            case let v as any FixedWidthInteger:
                guard let i = Int(exactly: v) else {
                    throw EncodingError.invalidValue(v, .init(codingPath: codingPath, debugDescription: "integer too large"))
                }
                content = .value(.int(i))
            default:
                try value.encode(to: Impl(slot: self, codingPath: codingPath))
            }
        }

        func child(_ key: String) -> Slot {
            var pairs: [(String, Slot)]
            if case .map(let existing) = content { pairs = existing } else { pairs = [] }
            if let found = pairs.first(where: { $0.0 == key }) { return found.1 }
            let slot = Slot()
            pairs.append((key, slot))
            content = .map(pairs)
            return slot
        }

        func appended() -> Slot {
            var slots: [Slot]
            if case .list(let existing) = content { slots = existing } else { slots = [] }
            let slot = Slot()
            slots.append(slot)
            content = .list(slots)
            return slot
        }
    }

    struct Impl: Encoder {
        let slot: Slot
        let codingPath: [CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            // Several keyed containers on one encoder merge into one mapping (Stage writes
            // `stage` first, then its payload's keys).
            if case .map = slot.content {} else { slot.content = .map([]) }
            return KeyedEncodingContainer(Keyed<Key>(slot: slot, codingPath: codingPath))
        }

        func unkeyedContainer() -> UnkeyedEncodingContainer {
            if case .list = slot.content {} else { slot.content = .list([]) }
            return Unkeyed(slot: slot, codingPath: codingPath)
        }

        func singleValueContainer() -> SingleValueEncodingContainer { Single(slot: slot, codingPath: codingPath) }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let slot: Slot
        let codingPath: [CodingKey]

        mutating func encodeNil(forKey key: Key) throws { slot.child(key.stringValue).content = .value(.null) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try slot.child(key.stringValue).store(value, codingPath: codingPath + [key])
        }
        mutating func encode(_ value: Bool, forKey key: Key) throws { try encode(value, key) }
        mutating func encode(_ value: String, forKey key: Key) throws { try encode(value, key) }
        mutating func encode(_ value: Double, forKey key: Key) throws { try encode(value, key) }
        mutating func encode(_ value: Float, forKey key: Key) throws { try encode(value, key) }
        mutating func encode(_ value: Int, forKey key: Key) throws { try encode(value, key) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { try encode(value, key) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { try encode(value, key) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { try encode(value, key) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { try encode(value, key) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { try encode(value, key) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { try encode(value, key) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { try encode(value, key) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { try encode(value, key) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { try encode(value, key) }

        private mutating func encode<T: Encodable>(_ value: T, _ key: Key) throws {
            try slot.child(key.stringValue).store(value, codingPath: codingPath + [key])
        }

        // nil optionals are written as `null`, so every key shows in the resolved text.
        private mutating func present<T: Encodable>(_ value: T?, _ key: Key) throws {
            if let value { try encode(value, key) } else { try encodeNil(forKey: key) }
        }
        mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try present(value, key) }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            Impl(slot: slot.child(key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
            Impl(slot: slot.child(key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
        }
        mutating func superEncoder() -> Encoder { Impl(slot: slot, codingPath: codingPath) }
        mutating func superEncoder(forKey key: Key) -> Encoder { Impl(slot: slot.child(key.stringValue), codingPath: codingPath + [key]) }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let slot: Slot
        let codingPath: [CodingKey]
        var count: Int {
            if case .list(let slots) = slot.content { return slots.count }
            return 0
        }

        mutating func encodeNil() throws { slot.appended().content = .value(.null) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            let index = count
            try slot.appended().store(value, codingPath: codingPath + [AnyKey(intValue: index)])
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            Impl(slot: slot.appended(), codingPath: codingPath).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
            Impl(slot: slot.appended(), codingPath: codingPath).unkeyedContainer()
        }
        mutating func superEncoder() -> Encoder { Impl(slot: slot.appended(), codingPath: codingPath) }
    }

    struct Single: SingleValueEncodingContainer {
        let slot: Slot
        let codingPath: [CodingKey]
        mutating func encodeNil() throws { slot.content = .value(.null) }
        mutating func encode<T: Encodable>(_ value: T) throws { try slot.store(value, codingPath: codingPath) }
        mutating func encode(_ value: Bool) throws { try slot.store(value, codingPath: codingPath) }
        mutating func encode(_ value: String) throws { try slot.store(value, codingPath: codingPath) }
        mutating func encode(_ value: Double) throws { try slot.store(value, codingPath: codingPath) }
        mutating func encode(_ value: Float) throws { try slot.store(value, codingPath: codingPath) }
        mutating func encode(_ value: Int) throws { try slot.store(value, codingPath: codingPath) }
        mutating func encode(_ value: Int8) throws { try slot.store(value, codingPath: codingPath) }
        mutating func encode(_ value: Int16) throws { try slot.store(value, codingPath: codingPath) }
        mutating func encode(_ value: Int32) throws { try slot.store(value, codingPath: codingPath) }
        mutating func encode(_ value: Int64) throws { try slot.store(value, codingPath: codingPath) }
        mutating func encode(_ value: UInt) throws { try slot.store(value, codingPath: codingPath) }
        mutating func encode(_ value: UInt8) throws { try slot.store(value, codingPath: codingPath) }
        mutating func encode(_ value: UInt16) throws { try slot.store(value, codingPath: codingPath) }
        mutating func encode(_ value: UInt32) throws { try slot.store(value, codingPath: codingPath) }
        mutating func encode(_ value: UInt64) throws { try slot.store(value, codingPath: codingPath) }
    }
}

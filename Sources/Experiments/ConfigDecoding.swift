// Helpers every config type's `init(from:)` uses: a strict keyed container (unknown keys are
// errors with a suggestion), `fill` (a present key replaces the default, optionally within a
// range), string-valued choices, and turning a coding path into FILE:LINE:COL.
//
// The pattern of a config struct:
//     public init(from decoder: Decoder) throws {
//         self.init()                                         // every default
//         let c = try decoder.strictContainer(keyedBy: CodingKeys.self, in: "a pretrain stage")
//         try c.fill(&steps, .steps, .atLeast(1))
//         ...
//     }
import Foundation
import PonderCore
import Yams

/// A string-valued enum read from YAML: errors list the choices and suggest the closest.
public protocol ConfigChoice {
    static var choices: [String] { get }
    init?(choice: String)
}

extension ConfigChoice where Self: RawRepresentable & CaseIterable, RawValue == String {
    public static var choices: [String] { allCases.map(\.rawValue) }
    public init?(choice: String) { self.init(rawValue: choice) }
}

extension Tool: ConfigChoice {}
extension Split: ConfigChoice {}
extension DemonstrationStyle: ConfigChoice {}

extension Decoder {
    /// A keyed container that rejects keys outside `Key.allCases` (plus `extra`), naming the
    /// closest known key. `context` reads in the message: "unknown key `x` in a grpo stage".
    func strictContainer<Key: CodingKey & CaseIterable>(
        keyedBy type: Key.Type, in context: String, alsoAllowing extra: [String] = []
    ) throws -> KeyedDecodingContainer<Key> {
        let known = Key.allCases.map(\.stringValue) + extra
        let all = try container(keyedBy: AnyKey.self)
        for key in all.allKeys where !known.contains(key.stringValue) {
            throw ConfigIssue(
                path: codingPath + [key],
                message: "unknown key `\(key.stringValue)` in \(context)" + Suggest.didYouMean(key.stringValue, in: known)
                    + " (allowed: " + known.joined(separator: ", ") + ")",
                atKey: true)
        }
        return try container(keyedBy: type)
    }
}

extension KeyedDecodingContainer {
    /// Replaces `target` (its default) when `key` is present.
    func fill<T: Decodable>(_ target: inout T, _ key: Key) throws {
        if contains(key) { target = try decode(T.self, forKey: key) }
    }

    /// Replaces `target` when `key` is present, then checks it against `limit` (the default too).
    func fill<T: Decodable & Comparable>(_ target: inout T, _ key: Key, _ limit: ParameterRule<T>) throws {
        if contains(key) { target = try decode(T.self, forKey: key) }
        if let violation = limit.violation(target) { throw ConfigIssue(path: codingPath + [key], message: violation) }
    }

    /// An optional key: absent or `null` leaves nil.
    func fillOptional<T: Decodable>(_ target: inout T?, _ key: Key) throws {
        if contains(key) { target = try decodeIfPresent(T.self, forKey: key) }
    }

    func issue(_ key: Key, _ message: String) -> ConfigIssue { ConfigIssue(path: codingPath + [key], message: message) }
}

/// Turns a coding path into a position in the file and a printable key path.
enum ConfigLocation {
    /// The node the path leads to (as far as it exists in the file): its position, or the
    /// key's position when `atKey`, and the key path as printed in errors.
    static func locate(_ path: [CodingKey], in root: Node, atKey: Bool) -> (line: Int?, column: Int?, keyPath: String) {
        var node: Node? = root
        var mark = root.mark
        var rendered = ""
        var previousKey = ""
        for (i, key) in path.enumerated() {
            let last = i == path.count - 1
            if let index = key.intValue {
                rendered += "[\(index)]"
                if case .sequence(let seq)? = node, index < seq.count {
                    let item = seq[seq.index(seq.startIndex, offsetBy: index)]
                    node = item
                    mark = item.mark ?? mark
                    // Stage items read as `stages[2].grpo` in key paths.
                    if previousKey == "stages", case .mapping(let m) = item, let kind = m["stage"]?.string {
                        rendered += ".\(kind)"
                    }
                } else {
                    node = nil
                }
            } else {
                rendered += (rendered.isEmpty ? "" : ".") + key.stringValue
                previousKey = key.stringValue
                if case .mapping(let m)? = node, let pair = m.first(where: { $0.key.string == key.stringValue }) {
                    node = pair.value
                    mark = (atKey && last ? pair.key.mark : pair.value.mark) ?? mark
                } else {
                    node = nil
                }
            }
        }
        return (mark?.line, mark?.column, rendered)
    }
}

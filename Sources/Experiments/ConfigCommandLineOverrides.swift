// `--set KEY.PATH=VALUE`: command-line changes to an experiment file, applied to its YAML tree
// before decoding, so they are checked exactly like the file (types, ranges, unknown keys with
// "did you mean") and the resolved config (and its hash in the store) shows them.
//
//   --set seed=3                                  a top-level key
//   --set stages.grpo.learning_rate=2e-4          a stage by its name (`name:`, else its kind,
//                                                 `KIND_2` for a second one), or by index: stages.4
//   --set environments.arithmetic.settings.max_digits=3     an environment by its name
//   --set environments.counting.tools=[]          VALUE is YAML: numbers, strings, [lists], {maps}
//
// A missing last key is added (and then refused by the decoder if it is not a known key); a
// missing mapping on the way is created. An error in an overridden value names the override:
// `--set stages.grpo.learning_rat=2e-4: stages[4].grpo.learning_rat: unknown key ...`.

import Foundation
import Yams

/// One `--set` argument, parsed.
public struct ConfigOverride: Sendable, Equatable, CustomStringConvertible {
    public var path: [String]
    public var value: String
    /// The argument as the user wrote it.
    public var text: String

    public var description: String { "--set \(text)" }

    /// Parses `KEY.PATH=VALUE`; throws a message saying what is expected.
    public init(_ text: String) throws {
        guard let eq = text.firstIndex(of: "=") else {
            throw ExperimentConfigError(file: "--set \(text)", line: nil, column: nil, keyPath: "",
                                        message: "expected KEY.PATH=VALUE, for example stages.grpo.learning_rate=2e-4")
        }
        let key = String(text[..<eq]).trimmingCharacters(in: .whitespaces)
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !key.isEmpty, !parts.contains(where: \.isEmpty) else {
            throw ExperimentConfigError(file: "--set \(text)", line: nil, column: nil, keyPath: "",
                                        message: "the key `\(key)` has an empty part; write dotted keys such as stages.grpo.beta")
        }
        path = parts
        value = String(text[text.index(after: eq)...])
        self.text = text
    }
}

extension ExperimentConfig {
    /// Applies `overrides` to the composed file, in order. Returns the coding path each one
    /// reached (list items by index), to name the override in later decoding errors.
    static func apply(_ overrides: [ConfigOverride], to root: inout Node) throws -> [(ConfigOverride, [String])] {
        var reached: [(ConfigOverride, [String])] = []
        for o in overrides {
            let value: Node
            do {
                value = try Yams.compose(yaml: o.value) ?? Node("", Tag(.null))
            } catch {
                throw ExperimentConfigError(file: o.description, line: nil, column: nil, keyPath: o.path.joined(separator: "."),
                                            message: "the value is not valid YAML (\(error)); quote it: '\(o.path.joined(separator: "."))=\"...\"'")
            }
            var codingPath: [String] = []
            root = try set(value, at: o.path[...], in: root, override: o, codingPath: &codingPath)
            reached.append((o, codingPath))
        }
        return reached
    }

    private static func set(_ value: Node, at path: ArraySlice<String>, in node: Node, override o: ConfigOverride,
                            codingPath: inout [String]) throws -> Node {
        guard let key = path.first else { return value }
        func fail(_ message: String) -> ExperimentConfigError {
            ExperimentConfigError(file: o.description, line: nil, column: nil, keyPath: codingPath.joined(separator: "."), message: message)
        }
        switch node {
        case .mapping(var mapping):
            codingPath.append(key)
            let child = mapping[key] ?? Node([(Node, Node)]())
            mapping[key] = try set(value, at: path.dropFirst(), in: child, override: o, codingPath: &codingPath)
            return .mapping(mapping)
        case .sequence(var sequence):
            let names = itemNames(sequence, stages: codingPath.last == "stages")
            let index: Int
            if let i = Int(key) {
                guard sequence.indices.contains(i) else {
                    throw fail("there is no item \(i): the list has \(sequence.count) (0...\(sequence.count - 1))")
                }
                index = i
            } else if let i = names.firstIndex(of: key) {
                index = i
            } else {
                throw fail("no item named `\(key)`" + Suggest.didYouMean(key, in: names) + " (items: " + names.joined(separator: ", ") + ")")
            }
            codingPath.append(String(index))
            sequence[index] = try set(value, at: path.dropFirst(), in: sequence[index], override: o, codingPath: &codingPath)
            return .sequence(sequence)
        case .scalar, .alias:
            throw fail("`\(codingPath.joined(separator: "."))` is a single value, not a mapping with a `\(key)` key")
        }
    }

    /// The names list items answer to: `name:`, and for stages the default name a stage gets
    /// (its kind, `KIND_2` for the second of a kind), as `resolve()` gives them.
    private static func itemNames(_ sequence: Node.Sequence, stages: Bool) -> [String] {
        var counts: [String: Int] = [:]
        return sequence.map { item in
            let mapping = item.mapping
            if let name = mapping?["name"]?.string { return name }
            guard stages, let kind = mapping?["stage"]?.string else { return "" }
            counts[kind, default: 0] += 1
            return counts[kind]! == 1 ? kind : "\(kind)_\(counts[kind]!)"
        }
    }

    /// The override whose path a decoding error's path falls under, if any.
    static func override(for path: [CodingKey], in reached: [(ConfigOverride, [String])]) -> ConfigOverride? {
        let rendered = path.map { $0.intValue.map(String.init) ?? $0.stringValue }
        return reached.last { _, target in rendered.count >= target.count && Array(rendered.prefix(target.count)) == target }?.0
    }
}

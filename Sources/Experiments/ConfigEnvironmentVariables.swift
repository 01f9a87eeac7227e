// `${NAME}` in an experiment file's values: the environment variable NAME; `${NAME:-default}`
// gives the default when NAME is unset or empty (the shell's rule). A file can then name what
// differs between machines, as hf-grpo.yaml's `init_from: ${MODEL_DIR:-...}` does. Values only
// (keys and comments are left alone), before `--set` overrides, whose values are taken as typed.
// An unset variable without a default is an error naming the file, the line and the variable.
import Foundation
import Yams

extension ExperimentConfig {
    static func substitutingEnvironment(in node: Node, file: String,
                                        environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Node {
        switch node {
        case .scalar(var scalar):
            guard scalar.string.contains("${") else { return node }
            scalar.string = try expand(scalar.string, environment) { message in
                ExperimentConfigError(file: file, line: scalar.mark?.line, column: scalar.mark?.column, keyPath: "", message: message)
            }
            return .scalar(scalar)
        case .mapping(var mapping):
            for i in mapping.indices {
                let (key, value) = mapping[i]
                mapping[i] = (key, try substitutingEnvironment(in: value, file: file, environment: environment))
            }
            return .mapping(mapping)
        case .sequence(var sequence):
            for i in sequence.indices { sequence[i] = try substitutingEnvironment(in: sequence[i], file: file, environment: environment) }
            return .sequence(sequence)
        case .alias:
            return node
        }
    }

    /// `text` with every `${NAME}` and `${NAME:-default}` replaced.
    static func expand(_ text: String, _ environment: [String: String],
                       _ fail: (String) -> ExperimentConfigError) throws -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                throw fail("`\(text)`: `${` without its closing `}`; write ${NAME} or ${NAME:-default}")
            }
            let inside = rest[open.upperBound..<close]
            let (name, fallback): (Substring, Substring?) = inside.range(of: ":-").map {
                (inside[..<$0.lowerBound], inside[$0.upperBound...])
            } ?? (inside, nil)
            guard !name.isEmpty, name.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }) else {
                throw fail("`${\(inside)}`: `\(name)` is not an environment variable name (letters, digits and _)")
            }
            if let value = environment[String(name)], !value.isEmpty {
                out += value
            } else if let fallback {
                out += fallback
            } else {
                throw fail("`${\(name)}`: the environment variable \(name) is not set; set it (\(name)=... ponder run ...), give a default (${\(name):-VALUE}), or replace the value with --set")
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}

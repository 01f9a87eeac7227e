// Reading an experiment file, and printing the resolved config.
//
// Every failure is an ExperimentConfigError: a missing file lists the folder's YAML files,
// a byte that is not UTF-8 is given its line and column, a YAML syntax error keeps libyaml's
// line and column, and a decoding problem is located by walking the node tree along its
// coding path.
import Foundation
import PonderCore
import Yams

extension ExperimentConfig {
    /// Reads and decodes `path` (as the user typed it; errors repeat it), with `--set`
    /// overrides applied first (ConfigCommandLineOverrides.swift).
    public static func load(path: String, overrides: [ConfigOverride] = []) throws -> ExperimentConfig {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw ExperimentConfigError(file: path, line: nil, column: nil, keyPath: "", message: missingFileMessage(path))
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ExperimentConfigError(file: path, line: nil, column: nil, keyPath: "",
                                        message: "cannot read the file (\(error.localizedDescription))")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw notUTF8Error(data, file: path) }
        let base = (path as NSString).lastPathComponent
        let name = base.hasSuffix(".yaml") ? String(base.dropLast(5)) : base.hasSuffix(".yml") ? String(base.dropLast(4)) : base
        return try decode(yaml: text, file: path, defaultName: name, overrides: overrides)
    }

    /// Decodes YAML text; `file` names it in errors, `defaultName` is the name when the text
    /// has no `name:` key.
    public static func decode(yaml: String, file: String = "<text>", defaultName: String = "experiment",
                              overrides: [ConfigOverride] = []) throws -> ExperimentConfig {
        var root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                throw ExperimentConfigError(file: file, line: nil, column: nil, keyPath: "",
                                            message: "the file is empty; an experiment needs at least `environments` and `stages`")
            }
            root = try substitutingEnvironment(in: node, file: file)
        } catch let error as YamlError {
            throw syntaxError(error, file: file)
        }
        let reached = try apply(overrides, to: &root)
        let decoder = ConfigNodeDecoder(node: root, userInfo: [fileNameKey: defaultName])
        func located(_ path: [CodingKey], atKey: Bool, _ message: String) -> ExperimentConfigError {
            let at = ConfigLocation.locate(path, in: root, atKey: atKey)
            if let o = override(for: path, in: reached) {
                return ExperimentConfigError(file: o.description, line: nil, column: nil, keyPath: at.keyPath, message: message)
            }
            return ExperimentConfigError(file: file, line: at.line, column: at.column, keyPath: at.keyPath, message: message)
        }
        do {
            return try ExperimentConfig(from: decoder)
        } catch let issue as ConfigIssue {
            throw located(issue.path, atKey: issue.atKey, issue.message)
        } catch let error as DecodingError {
            let (path, message) = describe(error)
            throw located(path, atKey: false, message)
        }
    }

    /// The resolved config as an ordered value: every key, every default filled in.
    public var resolvedValue: ConfigValue {
        // Encoding plain structs into ConfigValue cannot fail (no custom throwing encoders).
        (try? ConfigValueEncoder.encode(self)) ?? .null
    }

    /// The resolved config as YAML, keys in a fixed order: what `ponder config show` prints
    /// and what the store hashes. Decoding it gives back an equal config.
    public func resolvedYAML() -> String {
        "# \(name): resolved experiment config (every default filled in)\n" + resolvedValue.yamlText
    }

    /// The resolved config as JSON, keys in the same order.
    public func resolvedJSON() -> String { resolvedValue.jsonText }

    /// Canonical text for hashing: the resolved YAML without its comment line.
    public var canonicalText: String { resolvedValue.yamlText }

    /// A stable 64-bit digest (16 hex digits, FNV-1a) of `canonicalText`.
    public var configHash: String { stableDigest(canonicalText) }

    // MARK: Error text

    static func missingFileMessage(_ path: String) -> String {
        let folder = (path as NSString).deletingLastPathComponent
        let shown = folder.isEmpty ? "." : folder
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: shown) else {
            return "no such file (and no folder \(shown))"
        }
        let yaml = names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        if yaml.isEmpty { return "no such file; the folder \(shown) holds no .yaml files" }
        let wanted = (path as NSString).lastPathComponent
        let hint = Suggest.closest(to: wanted, in: yaml).map { "; did you mean \($0)?" } ?? ""
        let label = folder.isEmpty ? "this folder" : "the \((folder as NSString).lastPathComponent) folder"
        return "no such file; \(label) holds: " + yaml.joined(separator: ", ") + hint
    }

    /// Where the first byte that is not UTF-8 sits: its line, and its column in characters.
    static func notUTF8Error(_ data: Data, file: String) -> ExperimentConfigError {
        var parser = Unicode.UTF8.ForwardParser()
        var bytes = data.makeIterator()
        var offset = 0, line = 1, column = 1
        while case .valid(let scalar) = parser.parseScalar(from: &bytes) {
            if scalar.count == 1 && scalar.first == UInt8(ascii: "\n") { line += 1; column = 1 } else { column += 1 }
            offset += scalar.count
        }
        let byte = offset < data.count ? String(format: "0x%02X", data[data.startIndex + offset]) : "a byte"
        return ExperimentConfigError(file: file, line: line, column: column, keyPath: "",
                                     message: "\(byte) (byte \(offset) of the file) is not UTF-8 text; save the file as UTF-8")
    }

    static func syntaxError(_ error: YamlError, file: String) -> ExperimentConfigError {
        func located(_ mark: Mark, _ problem: String, _ context: YamlError.Context?) -> ExperimentConfigError {
            let detail = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            return ExperimentConfigError(file: file, line: mark.line, column: mark.column, keyPath: "",
                                         message: "YAML syntax error: \(problem)\(detail)")
        }
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            return located(mark, problem, context)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ExperimentConfigError(file: file, line: context.mark.line, column: context.mark.column, keyPath: "",
                                         message: "duplicate key " + duplicates.map { "`\($0)`" }.joined(separator: ", ")
                                             + " in one mapping; each key may appear once")
        case .reader(let problem, let offset, _, let yaml):
            var line = 1, column = 1
            if let offset {
                for ch in yaml.prefix(offset) {
                    if ch == "\n" { line += 1; column = 1 } else { column += 1 }
                }
            }
            return ExperimentConfigError(file: file, line: offset == nil ? nil : line, column: offset == nil ? nil : column,
                                         keyPath: "", message: "cannot read the text: \(problem)")
        default:
            return ExperimentConfigError(file: file, line: nil, column: nil, keyPath: "", message: "YAML error: \(error)")
        }
    }

    /// A DecodingError thrown by a standard type, as (path, message).
    static func describe(_ error: DecodingError) -> ([CodingKey], String) {
        switch error {
        case .typeMismatch(let type, let context): return (context.codingPath, "expected a value of type \(type): \(context.debugDescription)")
        case .valueNotFound(let type, let context): return (context.codingPath, "expected a value of type \(type)")
        case .keyNotFound(let key, let context): return (context.codingPath, "missing required key `\(key.stringValue)`")
        case .dataCorrupted(let context): return (context.codingPath, context.debugDescription)
        @unknown default: return ([], "\(error)")
        }
    }
}

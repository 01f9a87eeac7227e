// The environments by name. Only the experiment runner (and the command line) maps YAML ids to
// types; trainers see `any Environment`.
import Foundation
import PonderCore

public enum EnvironmentRegistry {
    public static let names = ["arithmetic", "counting", "code", "knowledge", "jsonl", "judging"]

    /// An environment from its name and settings (the YAML mapping under it, as JSON-like values;
    /// missing keys keep their defaults). `jsonl` needs `path`.
    public static func make(_ name: String, settings: [String: Any] = [:], sandbox: Sandbox? = nil) throws -> any Environment {
        switch name {
        case "arithmetic":
            return try ArithmeticEnvironment(applyingOverrides(settings, to: .init(), knob: name, optionalKeys: ["system_prompt"]))
        case "counting":
            return try CountingEnvironment(applyingOverrides(settings, to: .init(), knob: name, optionalKeys: ["system_prompt"]))
        case "code":
            return try CodeEnvironment(applyingOverrides(settings, to: .init(), knob: name, optionalKeys: ["system_prompt"]),
                                       sandbox: sandbox ?? .shared)
        case "knowledge":
            return try KnowledgeEnvironment(applyingOverrides(settings, to: .init(), knob: name, optionalKeys: ["system_prompt", "exposure"]))
        case "jsonl":
            guard let path = settings["path"] as? String else {
                throw ConfigError(knob: "jsonl.path", allowed: "a path to a .jsonl file", found: "nothing")
            }
            if let unknown = settings.keys.first(where: { $0 != "path" }) {
                throw ConfigError(knob: "jsonl.\(unknown)", allowed: "only: path", found: "unknown key")
            }
            return try JSONLEnvironment(path: path, sandbox: sandbox ?? .shared)
        case "judging":
            // {of: NAME, settings: {...}, pairwise: SHARE}: grading answers to NAME's tasks (environments/Judging.swift).
            if let unknown = settings.keys.first(where: { !["of", "settings", "pairwise"].contains($0) }) {
                throw ConfigError(knob: "judging.\(unknown)", allowed: "only: of, settings, pairwise", found: "unknown key")
            }
            let pairwise = (settings["pairwise"] as? Double) ?? (settings["pairwise"] as? Int).map(Double.init) ?? 0
            guard (0...1).contains(pairwise) else {
                throw ConfigError(knob: "judging.pairwise", allowed: "a share between 0 and 1", found: "\(pairwise)")
            }
            let of = settings["of"] as? String ?? "arithmetic"
            guard of != "judging", of != "code" else {
                throw ConfigError(knob: "judging.of", allowed: "arithmetic, counting, knowledge or jsonl", found: of)
            }
            return JudgingEnvironment(inner: try make(of, settings: settings["settings"] as? [String: Any] ?? [:], sandbox: sandbox),
                                      pairwise: pairwise)
        default:
            throw ConfigError(knob: "environment", allowed: names.joined(separator: ", "), found: name)
        }
    }
}

extension Message {
    /// The message as the model would see it, with the chat markup of DESIGN.md §4 (for display).
    public var markedUp: String {
        segments.map { segment -> String in
            switch segment {
            case .text(let t): t
            case .thinking(let t): "<think>\(t)</think>"
            case .toolCall(.python, let code): "<|python_start|>\(code)<|python_end|>"
            case .toolCall(.search, let query): "<|search_start|>\(query)<|search_end|>"
            case .toolOutput(let out): "<|output_start|>\(out)<|output_end|>"
            }
        }.joined()
    }
}

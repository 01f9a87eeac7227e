// ExperimentConfigError: what went wrong in an experiment file, and where.
//
// Every problem the config layer finds (an unknown key, a wrong type, a value out of range, a
// bad environment knob, a YAML syntax error, a missing file) ends up as one of these, printed
// as `FILE:LINE:COL: KEYPATH: message`, e.g.
//     experiments/x.yaml:14:5: stages[2].grpo.beta: must be >= 0, found -1
// Inside the decoder problems travel as `ConfigIssue` (a coding path, no position); the loader
// turns the path into a line and column by walking the YAML node tree (ConfigLocation.swift).
import Foundation

public struct ExperimentConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file as the user named it.
    public var file: String
    /// 1-based; nil when the problem has no position (a missing file, an empty file).
    public var line: Int?
    public var column: Int?
    /// Dotted path of the key, with list indices and the stage kind:
    /// `stages[2].grpo.beta`, `environments[0].settings.max_digits`; empty for the whole file.
    public var keyPath: String
    /// What is wrong and what is allowed.
    public var message: String

    public init(file: String, line: Int?, column: Int?, keyPath: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        var head = file
        if let line { head += ":\(line)" + (column.map { ":\($0)" } ?? "") }
        return keyPath.isEmpty ? "\(head): \(message)" : "\(head): \(keyPath): \(message)"
    }
}

/// A problem found while decoding, before it has a position. `atKey` points the location at
/// the key itself (unknown keys) rather than at its value.
struct ConfigIssue: Error {
    var path: [CodingKey]
    var message: String
    var atKey = false
}

/// "did you mean" for a misspelt key or value.
enum Suggest {
    /// Keys people carry over from TRL / Hugging Face configs, mapped to Ponder's names.
    static let aliases: [String: String] = [
        "lr": "learning_rate", "max_grad_norm": "grad_clip", "epsilon": "eps_low", "epsilon_high": "eps_high",
        "max_steps": "steps", "num_train_steps": "steps", "per_device_train_batch_size": "batch_size",
        "lr_scheduler_type": "lr_schedule", "warmup": "warmup_steps", "max_length": "seq_len",
        "hidden_size": "d_model", "num_hidden_layers": "n_layers", "num_attention_heads": "n_heads",
        "num_key_value_heads": "n_kv_heads", "intermediate_size": "ffn_hidden",
        "max_position_embeddings": "max_seq_len", "rms_norm_eps": "norm_eps", "tie_word_embeddings": "tie_embeddings",
        "attention_bias": "qkv_bias", "type": "stage", "kind": "stage", "max_new_tokens": "max_completion_length",
        "num_samples": "samples", "n": "samples", "reward_funcs": "rewards", "reward_weights": "rewards",
    ]

    /// The closest of `candidates` to `word`, if close enough to be a likely typo.
    static func closest(to word: String, in candidates: [String]) -> String? {
        if let alias = aliases[word], candidates.contains(alias) { return alias }
        let lowered = word.lowercased().replacingOccurrences(of: "-", with: "_")
        if lowered != word, candidates.contains(lowered) { return lowered }
        var best: (String, Int)? = nil
        for c in candidates {
            let d = distance(lowered, c)
            if d < (best?.1 ?? Int.max) { best = (c, d) }
        }
        guard let (candidate, d) = best else { return nil }
        return d <= max(1, min(word.count, candidate.count) / 3) ? candidate : nil
    }

    /// " Did you mean `x`?" or "".
    static func didYouMean(_ word: String, in candidates: [String]) -> String {
        closest(to: word, in: candidates).map { "; did you mean `\($0)`?" } ?? ""
    }

    /// Levenshtein distance (insert, delete, substitute, each 1).
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

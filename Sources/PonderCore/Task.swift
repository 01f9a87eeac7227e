// EnvTask: one question an environment asks, with everything needed to grade the answer.
//
// Named `EnvTask`, not `Task`: a public `Task` in PonderCore would shadow Swift concurrency's
// `Task { ... }` in every file that imports PonderCore (checked with Swift 6.3: the trailing
// closure then fails to type-check). The design's word "task" means this type.
//
// A task is plain data (Codable) so the store can keep it beside each rollout and an eval can
// replay it: the prompt conversation, the reference answer as text, and free-form metadata the
// environment's verifier reads back (operands, the hidden tests of a code task, the fact asked).

/// How a demonstration reaches its answer (SFT data, DESIGN.md §5).
public enum DemonstrationStyle: String, Codable, Sendable, CaseIterable {
    /// The answer line alone: `Answer: 42`.
    case direct
    /// A `<think>` span with the steps, then the answer line.
    case think
    /// A tool call (python or search) whose output leads to the answer.
    case tool
}

public struct EnvTask: Codable, Sendable, Equatable, Identifiable {
    /// Stable id: environment name, the task's own seed and a short digest of its settings,
    /// e.g. `arithmetic-5f1c0a2e9b7d4c31`. Same seed and settings, same id.
    public var id: String
    /// Name of the environment that made the task (its registry name).
    public var environment: String
    /// Optional system message, then the user's question.
    public var prompt: Conversation
    /// The reference answer as text (an integer, a word, "I don't know", a function name...).
    public var reference: String
    /// What the verifier needs besides the reference, all as strings (JSON where structured).
    public var metadata: [String: String]
    /// Human-readable difficulty, e.g. "3 operands of 2 digits, parentheses".
    public var difficulty: String
    /// Tools the model may call while answering.
    public var tools: [Tool]

    public init(id: String, environment: String, prompt: Conversation, reference: String,
                metadata: [String: String] = [:], difficulty: String, tools: [Tool] = []) {
        self.id = id
        self.environment = environment
        self.prompt = prompt
        self.reference = reference
        self.metadata = metadata
        self.difficulty = difficulty
        self.tools = tools
    }

    /// The user's question (the last user message's text).
    public var question: String {
        prompt.messages.last(where: { $0.role == .user })?.plainText ?? ""
    }
}

/// A stable 64-bit digest (FNV-1a) for task ids: Swift's `Hasher` is seeded per process, this is not.
public func stableDigest(_ parts: String...) -> String {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for part in parts {
        for b in part.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        h = (h ^ 0x1F) &* 0x100_0000_01B3  // separator, so ("ab","c") != ("a","bc")
    }
    let hex = String(h, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}

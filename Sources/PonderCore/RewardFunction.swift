// RewardFunction: maps one (task, completion) to a number, or to a typed failure (DESIGN.md §6).
//
// The trainer builds a `RewardInput` per rollout: the task, the completion, what generation
// knows about its length, and the environment's verdict (computed once and shared, so the code
// sandbox runs once even when both `accuracy` and `code_tests` are configured). A function that
// cannot score returns `.failure`, never a silent 0; the store records failures apart.

/// Why generation stopped.
public enum FinishReason: String, Codable, Sendable {
    /// The model emitted its end-of-turn token.
    case stop
    /// The completion hit `max_completion_length`.
    case length
}

public struct RewardInput: Sendable {
    public var task: EnvTask
    public var completion: Message
    /// Tokens the model generated (tool output injected by the engine excluded).
    public var completionTokens: Int
    /// The trainer's `max_completion_length`.
    public var maxCompletionTokens: Int
    public var finishReason: FinishReason
    /// The environment's verdict on this completion; nil when no verifier ran.
    public var verdict: Verdict?

    public init(task: EnvTask, completion: Message, completionTokens: Int = 0,
                maxCompletionTokens: Int = 0, finishReason: FinishReason = .stop, verdict: Verdict? = nil) {
        self.task = task
        self.completion = completion
        self.completionTokens = completionTokens
        self.maxCompletionTokens = maxCompletionTokens
        self.finishReason = finishReason
        self.verdict = verdict
    }
}

/// A reward that could not be computed. Recorded by the store as a failure, not as a value.
public struct RewardFailure: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Codable, Sendable {
        /// The function needs the environment's verdict and none was given.
        case missingVerdict = "missing_verdict"
        /// The verifier's machinery failed (sandbox error, timeout...): see `execution`.
        case execution
        /// The function does not apply to this task (e.g. `code_tests` on an arithmetic task).
        case notApplicable = "not_applicable"
        /// An LLM judge's call failed or its reply could not be read.
        case judge
    }
    public var kind: Kind
    public var detail: String
    public var execution: ExecutionFailure?

    public init(_ kind: Kind, _ detail: String, execution: ExecutionFailure? = nil) {
        self.kind = kind
        self.detail = detail
        self.execution = execution
    }

    public var description: String { "\(kind.rawValue): \(detail)" }
}

public protocol RewardFunction: Sendable {
    /// The id used in YAML and in the store ("accuracy", "format", ...).
    var name: String { get }
    /// Whether the function reads `RewardInput.verdict` (the trainer then runs the verifier).
    var needsVerdict: Bool { get }
    func score(_ input: RewardInput) -> Result<Double, RewardFailure>
    /// Scores many inputs, in order. The default scores them one by one; a function that calls
    /// out (the judge) asks for all of them at once.
    func score(batch inputs: [RewardInput]) -> [Result<Double, RewardFailure>]
}

extension RewardFunction {
    public var needsVerdict: Bool { false }
    public func score(batch inputs: [RewardInput]) -> [Result<Double, RewardFailure>] { inputs.map(score) }
}

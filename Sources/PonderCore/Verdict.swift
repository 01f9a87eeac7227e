// Verdict: what a verifier concluded about one completion.
//
// Four kinds, as an eval reports them (DESIGN.md §10): correct, incorrect, refused (the model
// said it does not know), unparseable (no answer could be extracted). A failure of the machinery
// (the sandbox could not run, timed out, ran out of memory) is recorded apart, in `failure`, so
// a trainer never confuses "the lab broke" with "the model was wrong".

public enum VerdictKind: String, Codable, Sendable, CaseIterable {
    case correct, incorrect, refused, unparseable
}

/// Why the machinery could not grade (or fully grade) a completion.
public struct ExecutionFailure: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Codable, Sendable {
        /// The sandbox could not start, or a required protection is missing.
        case sandboxUnavailable = "sandbox_unavailable"
        /// The program ran past its wall-clock or CPU budget.
        case timeout
        /// The program ran out of its address-space budget.
        case memory
        /// The program printed more than the output cap.
        case outputLimit = "output_limit"
        /// The program was killed by a signal.
        case killed
        /// The grading harness itself misbehaved (a bug in the lab, not in the model's code).
        case harness
    }
    public var kind: Kind
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue): \(detail)" }
}

public struct Verdict: Codable, Sendable, Equatable {
    public var kind: VerdictKind
    /// The answer the verifier read from the completion (nil when unparseable).
    public var extracted: String?
    /// Graded score in [0, 1] where the task has partial credit (code: share of tests passed);
    /// nil means all-or-nothing (1 if correct, 0 otherwise).
    public var score: Double?
    /// Set when the lab, not the model, failed: the verdict is then not evidence about the model.
    public var failure: ExecutionFailure?
    /// One line on how the verdict was reached, for logs ("3/5 tests passed", "expected 42").
    public var note: String?

    public init(_ kind: VerdictKind, extracted: String? = nil, score: Double? = nil,
                failure: ExecutionFailure? = nil, note: String? = nil) {
        self.kind = kind
        self.extracted = extracted
        self.score = score
        self.failure = failure
        self.note = note
    }

    public var isCorrect: Bool { kind == .correct }

    /// The score a reward reads: `score` when graded, else 1 for correct and 0 otherwise.
    public var value: Double { score ?? (kind == .correct ? 1 : 0) }
}

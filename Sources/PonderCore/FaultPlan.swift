// FaultPlan: where to kill the process, for the tests that prove a killed run resumes exactly.
//
// `PONDER_FAULT=POINT:STEP` (any stage) or `PONDER_FAULT=STAGE/POINT:STEP` makes `ponder run`
// send itself SIGKILL when it reaches that point: no handler runs, no buffer is flushed, exactly
// as a power cut or `kill -9` would leave things. Points (DESIGN.md §7, §8):
//   before_commit    a trainer step is done, its rows not yet committed to the store
//   after_commit     the step's rows are committed, its checkpoint not yet written
//   mid_checkpoint   between the two renames of a checkpoint save (the directory is absent)
//   eval             an eval stage has recorded environment STEP (1-based), not the next
//   tokenizer        the tokenizer is saved, its stage not yet recorded (STEP is 0)
// `signal` is SIGKILL unless a test asks for another (SIGSTOP: a process that hangs, for the
// data-parallel timeout test). Compiled in and off unless the variable is set; the plan is parsed once by the command line
// and handed down, so no global state is read in the libraries.

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

public struct FaultPlan: Sendable, Equatable {
    public enum Point: String, Sendable, CaseIterable {
        case beforeCommit = "before_commit"
        case afterCommit = "after_commit"
        case midCheckpoint = "mid_checkpoint"
        case eval
        case tokenizer
    }

    /// The stage the fault is limited to (nil: the first stage that reaches the point).
    public var stage: String?
    public var point: Point?
    public var step: Int
    /// What the process sends itself at the point.
    public var signal: Int32 = SIGKILL

    /// No fault.
    public static let none = FaultPlan(stage: nil, point: nil, step: 0)

    public init(stage: String?, point: Point?, step: Int) {
        self.stage = stage
        self.point = point
        self.step = step
    }

    /// Parses `[STAGE/]POINT:STEP`; throws a message listing the points.
    public init(parsing text: String) throws {
        let (scope, rest): (String?, Substring) = {
            if let slash = text.firstIndex(of: "/") { return (String(text[..<slash]), text[text.index(after: slash)...]) }
            return (nil, Substring(text))
        }()
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let point = Point(rawValue: String(parts[0])), let step = Int(parts[1]), step >= 0 else {
            throw ConfigError(knob: "PONDER_FAULT", allowed: "[STAGE/]POINT:STEP with POINT one of "
                              + Point.allCases.map(\.rawValue).joined(separator: ", "), found: text)
        }
        self.init(stage: scope, point: point, step: step)
    }

    /// The plan as seen by the stage named `stage`: itself, unscoped, when it names that stage
    /// or none; no fault otherwise. (Trainers know their kind, not the experiment's stage name.)
    public func scoped(to stage: String) -> FaultPlan {
        self.stage == nil || self.stage == stage ? FaultPlan(stage: nil, point: point, step: step) : .none
    }

    /// SIGKILLs this process when the plan names this point of this stage and step.
    public func reached(_ point: Point, stage: String, step: Int) {
        guard self.point == point, self.step == step, self.stage == nil || self.stage == stage else { return }
        kill(getpid(), signal)
    }
}

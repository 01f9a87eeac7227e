// Environment: the protocol every task family implements (DESIGN.md §5).
//
// An environment is a small seeded generator with a verifier. Everything is a pure function of
// the RNG it is handed and its `Config`: same seed and settings, same tasks, byte for byte.
// `verify` is synchronous and may block (the code environment runs the sandbox, tens of
// milliseconds); callers that grade many completions fan out over threads (see
// `verify(batch:)`). It never throws: a machinery failure is carried in
// `Verdict.failure`.

import Foundation

public protocol Environment: Sendable {
    /// Registry name, used in task ids, YAML and the store ("arithmetic", "code", ...).
    var name: String { get }
    /// Tools the tasks of this environment allow.
    var tools: [Tool] { get }
    /// Demonstration styles this environment can write.
    var styles: [DemonstrationStyle] { get }

    /// A fresh task; advances `rng`.
    func sample(_ rng: inout RNG) -> EnvTask
    /// Grade a completion (an assistant message parsed from the model's output).
    func verify(_ task: EnvTask, _ completion: Message) -> Verdict
    /// Grade many completions, in order. The default runs `verify` on every core; the code
    /// environment overrides it to keep every sandbox slot busy.
    func verify(batch items: [(task: EnvTask, completion: Message)]) -> [Verdict]
    /// A correct worked answer in the given style (for SFT). Styles not in `styles` fall back
    /// to `.direct`.
    func demonstration(_ task: EnvTask, style: DemonstrationStyle) -> Message
    /// `count` plain-text documents about the environment's world, for pretraining.
    func corpus(_ rng: inout RNG, count: Int) -> [String]
}

extension Environment {
    public func verify(batch items: [(task: EnvTask, completion: Message)]) -> [Verdict] {
        let results = VerdictBox(count: items.count)
        DispatchQueue.concurrentPerform(iterations: items.count) { i in
            results.set(i, verify(items[i].task, items[i].completion))
        }
        return results.values
    }

    /// `count` tasks from one stream.
    public func sample(_ rng: inout RNG, count: Int) -> [EnvTask] {
        (0..<count).map { _ in sample(&rng) }
    }
}

private final class VerdictBox: @unchecked Sendable {
    private var verdicts: [Verdict?]
    private let lock = NSLock()

    init(count: Int) { verdicts = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ v: Verdict) {
        lock.lock(); verdicts[i] = v; lock.unlock()
    }

    var values: [Verdict] { verdicts.map { $0! } }
}

/// A difficulty knob outside its allowed range, or another bad setting.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Dotted path of the knob, e.g. "arithmetic.digits".
    public var knob: String
    /// What is allowed, e.g. "1...12".
    public var allowed: String
    /// The value found.
    public var found: String

    public init(knob: String, allowed: String, found: String) {
        self.knob = knob
        self.allowed = allowed
        self.found = found
    }

    public var description: String { "\(knob) must be in \(allowed), found \(found)" }

    /// Throws unless `value` is in `range`.
    public static func check<T: Comparable>(_ knob: String, _ value: T, in range: ClosedRange<T>) throws {
        guard range.contains(value) else {
            throw ConfigError(knob: knob, allowed: "\(range.lowerBound)...\(range.upperBound)", found: "\(value)")
        }
    }
}

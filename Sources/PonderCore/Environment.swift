// Environment: the protocol every task family implements (DESIGN.md §5).
//
// An environment is a small seeded generator with a verifier. Everything is a pure function of
// the RNG it is handed and its `Config`: same seed and settings, same tasks, byte for byte.
// `sample(_:)` draws from the whole task space; `sample(_:from:shares:)` keeps to one split
// (Split.swift) by drawing until a task of that split comes up, which is what every caller
// outside the environment uses: training streams draw from `train`, evals from `validation`
// or `test`.
// Phrasings (`wordings`, `reword`): an environment may render each task in several wordings. The
// phrasing of a task of a split is chosen by `Phrasing.choose` from a digest of the task's split
// key (its question), not from the RNG, so one question is always asked the same way whatever
// the settings around it (a system prompt, tools): training splits get seen phrasings only; a `test` task gets a seen or an
// unseen (held-out) one, half and half, so evaluation reports both and no unseen phrasing ever
// reaches pretraining, SFT or RL. Metadata `phrasing` ("seen"/"unseen") and `wording` (its index).
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

    /// A fresh task from the whole task space, every split; advances `rng`.
    func sample(_ rng: inout RNG) -> EnvTask
    /// The task's canonical key: two tasks with one key ask the same question, so they share a
    /// split. "12 + 7" for arithmetic, "letter|banana|a" for counting.
    func splitKey(_ task: EnvTask) -> String
    /// The task's split. Default: the split of `splitKey(task)`.
    func assign(_ task: EnvTask, shares: SplitShares) -> SplitAssignment
    /// Grade a completion (an assistant message parsed from the model's output).
    func verify(_ task: EnvTask, _ completion: Message) -> Verdict
    /// Grade many completions, in order. The default runs `verify` on every core; the code
    /// environment overrides it to keep every sandbox slot busy.
    func verify(batch items: [(task: EnvTask, completion: Message)]) -> [Verdict]
    /// A correct worked answer in the given style (for SFT). Styles not in `styles` fall back
    /// to `.direct`.
    func demonstration(_ task: EnvTask, style: DemonstrationStyle) -> Message
    /// A plain-text pretraining document about one task: the task worked to its answer.
    func document(_ task: EnvTask) -> String
    /// How many phrasings `reword` renders (0: the task's one phrasing). Phrasing 0 is what
    /// `sample(_:)` writes.
    var wordings: Int { get }
    /// The task's prompt in phrasing `wording` (0 ..< wordings), everything else unchanged.
    func reword(_ task: EnvTask, wording: Int) -> EnvTask
    /// `count` pretraining documents drawn from `split`. Default: `document` of tasks sampled
    /// from the split, each with its task. (The knowledge environment writes about its world
    /// instead: documents without a task.)
    func corpus(_ rng: inout RNG, count: Int, split: Split, shares: SplitShares) -> [CorpusDocument]
}

/// One pretraining document, and the task it works through when it is about one (so the
/// training stream can be audited for held-out tasks).
public struct CorpusDocument: Sendable {
    public var text: String
    public var task: EnvTask?

    public init(_ text: String, task: EnvTask?) {
        self.text = text
        self.task = task
    }
}

extension Environment {
    public var wordings: Int { 0 }
    public func reword(_ task: EnvTask, wording: Int) -> EnvTask { task }

    public func assign(_ task: EnvTask, shares: SplitShares) -> SplitAssignment {
        SplitAssignment(shares.split(ofKey: splitKey(task)))
    }

    public func corpus(_ rng: inout RNG, count: Int, split: Split, shares: SplitShares) -> [CorpusDocument] {
        (0..<count).map { _ in
            let task = sample(&rng, from: split, shares: shares)
            return CorpusDocument(document(task), task: task)
        }
    }

    /// A task of `split`: tasks are drawn from the whole space until one of that split comes up,
    /// and it is marked with its split (metadata `split`, and `held_out` for the kind of a
    /// held-out task when the environment tells kinds apart). `checkSplits` guarantees the
    /// split is not empty; a split it passed that still yields nothing in a million draws is a
    /// bug in the environment, and stops the process.
    public func sample(_ rng: inout RNG, from split: Split, shares: SplitShares) -> EnvTask {
        for _ in 0..<1_000_000 {
            var task = sample(&rng)
            let assignment = assign(task, shares: shares)
            guard assignment.split == split else { continue }
            task.metadata["split"] = split.rawValue
            if let kind = assignment.heldOutKind { task.metadata["held_out"] = kind }
            if wordings > 0 {
                let (wording, unseen) = Phrasing.choose(count: wordings, key: splitKey(task), split: split)
                task = reword(task, wording: wording)
                task.metadata["wording"] = String(wording)
                task.metadata["phrasing"] = unseen ? "unseen" : "seen"
            }
            return task
        }
        preconditionFailure("\(name): no \(split.rawValue) task in a million draws; checkSplits should have refused these settings")
    }

    /// Up to `count` tasks of `split` with distinct keys, in draw order: an eval set never
    /// grades one question twice. Fewer when the split holds fewer distinct tasks (drawing
    /// stops after 20 draws per task wanted without a new key).
    public func distinctTasks(_ rng: inout RNG, count: Int, split: Split, shares: SplitShares) -> [EnvTask] {
        var seen = Set<String>(), out: [EnvTask] = []
        var misses = 0
        while out.count < count && misses < 20 * max(1, count) {
            let task = sample(&rng, from: split, shares: shares)
            if seen.insert(splitKey(task)).inserted { out.append(task) } else { misses += 1 }
        }
        return out
    }

    /// Throws unless every split holds tasks under these settings: a task space so small that
    /// 4,000 draws put none in a split cannot be split (for instance one-digit additions with
    /// one operator: 100 questions). The error says how many distinct tasks it saw.
    public func checkSplits(_ shares: SplitShares) throws {
        var rng = RNG(seed: 0x5917_7A5C)
        var keys: [Split: Set<String>] = [:]
        for _ in 0..<4_000 {
            let task = sample(&rng)
            keys[assign(task, shares: shares).split, default: []].insert(splitKey(task))
        }
        let distinct = keys.values.reduce(0) { $0 + $1.count }
        for split in Split.allCases where keys[split, default: []].isEmpty {
            throw ConfigError(knob: "\(name).split", allowed: "settings whose task space has \(split.rawValue) tasks",
                              found: "\(distinct) distinct tasks in 4000 draws, none in \(split.rawValue); widen the settings or raise split.\(split.rawValue)")
        }
    }
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

/// An environment seen through one split: `sample` draws only tasks of `split`, everything else
/// is the base environment's. Trainers take `any Environment`; handing them a train view is how
/// the runner keeps held-out tasks out of training. `keeping` narrows it further to the tasks
/// whose split key it accepts (one part of the training questions: an sft stage's or a grpo
/// stage's `questions`), drawing again until one is kept.
public struct SplitView: Environment {
    public let base: any Environment
    public let split: Split
    public let shares: SplitShares
    public let keeps: (@Sendable (String) -> Bool)?

    public init(_ base: any Environment, split: Split, shares: SplitShares, keeping keeps: (@Sendable (String) -> Bool)? = nil) {
        self.base = base
        self.split = split
        self.shares = shares
        self.keeps = keeps
    }

    public var name: String { base.name }
    public var tools: [Tool] { base.tools }
    public var styles: [DemonstrationStyle] { base.styles }
    public func sample(_ rng: inout RNG) -> EnvTask {
        var task = base.sample(&rng, from: split, shares: shares)
        guard let keeps else { return task }
        // The cap only stops a filter that keeps (almost) nothing of a small task space.
        var tries = 1
        while !keeps(base.splitKey(task)) && tries < 100_000 {
            task = base.sample(&rng, from: split, shares: shares)
            tries += 1
        }
        return task
    }
    public var wordings: Int { base.wordings }
    public func reword(_ task: EnvTask, wording: Int) -> EnvTask { base.reword(task, wording: wording) }
    public func splitKey(_ task: EnvTask) -> String { base.splitKey(task) }
    public func assign(_ task: EnvTask, shares: SplitShares) -> SplitAssignment { base.assign(task, shares: shares) }
    public func verify(_ task: EnvTask, _ completion: Message) -> Verdict { base.verify(task, completion) }
    public func verify(batch items: [(task: EnvTask, completion: Message)]) -> [Verdict] { base.verify(batch: items) }
    public func demonstration(_ task: EnvTask, style: DemonstrationStyle) -> Message { base.demonstration(task, style: style) }
    public func document(_ task: EnvTask) -> String { base.document(task) }
    public func corpus(_ rng: inout RNG, count: Int, split: Split, shares: SplitShares) -> [CorpusDocument] {
        base.corpus(&rng, count: count, split: split, shares: shares)
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

/// Which phrasings are held out, and which one a task of a split gets.
public enum Phrasing {
    /// Phrasing w is unseen (held out for the `test` split) when w % 4 == 3: a quarter of them.
    public static func isUnseen(_ wording: Int) -> Bool { wording % 4 == 3 }

    /// The phrasings that training streams use: 0, 1, 2, 4, 5, 6, 8, ...
    public static func seen(count: Int) -> [Int] { (0..<count).filter { !isUnseen($0) } }
    public static func unseen(count: Int) -> [Int] { (0..<count).filter(isUnseen) }

    /// The phrasing of a task of `split`, from a digest of its split key: a seen one for train
    /// and validation; for test, an unseen one for half the questions and a seen one for the others.
    public static func choose(count: Int, key: String, split: Split) -> (wording: Int, unseen: Bool) {
        let digest = UInt64(stableDigest("phrasing", key), radix: 16) ?? 0
        let held = unseen(count: count)
        let unseen = split == .test && !held.isEmpty && digest & 1 == 1
        let pool = unseen ? held : seen(count: count)
        return (pool[Int((digest >> 1) % UInt64(pool.count))], unseen)
    }
}

// Split: which part of an environment's task space a task belongs to (DESIGN.md §5).
//
// Every task has a canonical key (`Environment.splitKey`: the normalised expression, the
// (kind, text, letter) of a counting task, the fact asked, the JSONL line). A stable hash of the
// key, mapped to [0, 1), falls into `train`, `validation` or `test` by the configured shares.
// Everything a model learns from (pretraining corpus, SFT demonstrations, RL prompts) is drawn
// from `train`; settings are tuned on `validation`; reported figures come from `test`. Because
// the split is a function of the key alone, two tasks that ask the same question always land in
// the same split, whatever seed, stage or process drew them: disjointness holds by construction,
// not by bookkeeping.
//
// Shares are approximate on small task spaces (a space of 100 keys may put 7 or 13 in `test`),
// exact on none; `SplitShares.check` refuses a space so small that a split it needs is empty.

/// A part of the task space.
public enum Split: String, Codable, Sendable, CaseIterable {
    /// What models learn from: corpus, demonstrations, RL prompts.
    case train
    /// Where settings are tuned; the default of every eval stage.
    case validation
    /// Reported once, at the end (`split: test` on an eval stage, `--split test` on `ponder eval`).
    case test
}

/// The share of the task space in each split.
public struct SplitShares: Codable, Sendable, Equatable, CustomStringConvertible {
    public var train = 0.8
    public var validation = 0.1
    public var test = 0.1

    public init(train: Double = 0.8, validation: Double = 0.1, test: Double = 0.1) {
        self.train = train
        self.validation = validation
        self.test = test
    }

    public var description: String { "train \(train), validation \(validation), test \(test)" }

    /// Why these shares cannot split a task space, or nil: each in (0, 1), summing to 1 (within
    /// 1e-9). Every split must exist: models learn from train, settings are tuned on validation
    /// and figures are reported on test.
    public var problem: String? {
        for (name, value) in [("train", train), ("validation", validation), ("test", test)] where !(value > 0 && value < 1) {
            return "\(name) must be above 0 and below 1, found \(value)"
        }
        if abs(train + validation + test - 1) > 1e-9 {
            return "train + validation + test must be 1, found \(train + validation + test)"
        }
        return nil
    }

    /// The split of a key: FNV-1a over the key, a SplitMix64 finaliser, the top 53 bits as a
    /// fraction of 1, compared with the cumulative shares.
    public func split(ofKey key: String) -> Split {
        let u = SplitShares.unitHash(key)
        if u < train { return .train }
        if u < train + validation { return .validation }
        return .test
    }

    /// A stable hash of `key` as a Double in [0, 1): the same on every machine and process
    /// (Swift's `Hasher` is seeded per process).
    public static func unitHash(_ key: String) -> Double {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in key.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        h ^= h >> 30; h = h &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 27; h = h &* 0x94D0_49BB_1331_11EB
        h ^= h >> 31
        return Double(h >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }
}

/// A task's split, and for held-out tasks of environments with more than one way of being new
/// (code: an unseen spec, or unseen inputs of a seen spec), which way: evals report each apart.
public struct SplitAssignment: Sendable, Equatable {
    public var split: Split
    /// nil for train tasks and for environments with one kind of held-out task.
    public var heldOutKind: String?

    public init(_ split: Split, heldOutKind: String? = nil) {
        self.split = split
        self.heldOutKind = heldOutKind
    }
}

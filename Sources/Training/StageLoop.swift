// StageLoop: the skeleton every trainer stage runs (pretraining, SFT, GRPO; the RLHF trainers
// next), so resume and durability are written once (DESIGN.md §7, §8).
//
//   restore   with `resume`, the checkpoint in the stage's directory (weights, AdamW moments,
//             step C; a save killed between its renames is undone first); else step 0
//   step N    for N = C + 1 ... steps:
//               body(N)        the step's work; it hands the step's records to the caller's
//                              progress callback, which commits them in one store transaction
//                              and may ask to stop
//               checkpoint N   when due (every `checkpointEvery`, the last step, or a stop)
// Commit first, then checkpoint: a process killed anywhere leaves a checkpoint at or behind the
// store's last committed step K, never ahead. Resuming from C <= K, the caller drops the rows of
// steps C + 1 ... K (TrainingProgress.resumedFromStep) and those steps run again; since a step's
// data depends only on (seed, step), the replay writes the same rows.
// Data parallel (a Collective of N ranks): rank 0 restores first (undoing a killed save), then
// the others read the same checkpoint; rank 0's callback decides whether to stop and every rank
// follows; rank 0 alone writes checkpoints; every `fingerprintEvery` steps (and at every
// checkpoint) the ranks compare a fingerprint of their weights and a mismatch stops the run.
// Not here: what a step does (the trainers), the store (the runner's callback).

import Foundation
import Model
import PonderCore
import Tokenization

struct StageLoop {
    var stage: String
    var steps: Int
    /// Checkpoint every this many steps (and after the last); 0 = only at the end or on a stop.
    var checkpointEvery: Int
    var seed: UInt64
    var faults: FaultPlan = .none
    var collective: any Collective = SingleProcess.shared
    /// Steps between weight comparisons across ranks (besides every checkpoint).
    var fingerprintEvery = 10
    /// Files saved in every checkpoint beside the model (a reward or value head).
    var extraFiles: () -> [String: Data] = { [:] }

    /// The state of the checkpoint to resume from (weights and moments loaded into `model` and
    /// `optimizer`), or nil to start at step 1. A checkpoint of another stage or seed is an error.
    func restore(model: Transformer, optimizer: AdamW, from directory: URL, resume: Bool) throws -> TrainerState? {
        guard resume else { return nil }
        var restored: TrainerState?
        if collective.isLeader { restored = try TrainingCheckpoint.restore(model: model, optimizer: optimizer, stage: stage, from: directory) }
        collective.barrier()
        if !collective.isLeader {
            restored = try TrainingCheckpoint.restore(model: model, optimizer: optimizer, stage: stage, from: directory, recover: false)
        }
        guard let state = restored else { return nil }
        if let saved = state.extras["seed"], saved != .string(String(seed)) {
            throw TrainingError.incompatibleCheckpoint("\(directory.path) was written with seed \(saved), this run has seed \(seed)")
        }
        return state
    }

    /// Runs steps `from + 1 ... steps`. `body(step, resumedFrom, checkpointDue)` does the step,
    /// including committing its records through the caller's callback, and returns false to stop
    /// after it; `state(step)` is the trainer state to checkpoint after `step`. Returns the last
    /// step completed and whether the run was stopped early.
    func run(model: Transformer, optimizer: AdamW, tokenizer: Tokenizer, directory: URL, from completed: Int,
             state: (Int) -> TrainerState,
             body: (_ step: Int, _ resumedFrom: Int, _ checkpointDue: Bool) throws -> Bool) throws -> (completed: Int, stopped: Bool) {
        guard completed < steps else { return (completed, false) }
        for step in (completed + 1)...steps {
            let due = step == steps || (checkpointEvery > 0 && step % checkpointEvery == 0)
            let keepGoing = collective.broadcast(try body(step, completed, due))
            if collective.isDistributed && (due || !keepGoing || step % fingerprintEvery == 0) { try compareWeights(model, step: step) }
            if due || !keepGoing { try save(step, model: model, optimizer: optimizer, tokenizer: tokenizer, directory: directory, state: state) }
            if !keepGoing { return (step, step < steps) }
        }
        return (steps, false)
    }

    /// Every rank's weight fingerprint must be rank 0's.
    private func compareWeights(_ model: Transformer, step: Int) throws {
        let mine = fingerprint(UnsafeBufferPointer(start: model.params.pointer, count: model.params.count))
        let all = collective.gather(withUnsafeBytes(of: mine) { Array($0) })
        let differing = all.indices.filter { all[$0] != all[0] }
        if !differing.isEmpty {
            throw TrainingError.diverged("\(stage) step \(step): the weights of rank(s) \(differing.map(String.init).joined(separator: ", ")) "
                                         + "differ from rank 0's; the ranks no longer compute the same run")
        }
    }

    private func save(_ step: Int, model: Transformer, optimizer: AdamW, tokenizer: Tokenizer, directory: URL,
                      state: (Int) -> TrainerState) throws {
        guard collective.isLeader else { return }
        var s = state(step)
        s.extras["stage"] = .string(stage)
        s.extras["seed"] = .string(String(seed))  // a string: UInt64 may exceed Int
        try TrainingCheckpoint.save(model: model, optimizer: optimizer, state: s, tokenizer: tokenizer, extraFiles: extraFiles(),
                                    to: directory) {
            faults.reached(.midCheckpoint, stage: stage, step: step)
        }
    }
}

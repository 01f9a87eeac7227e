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

    /// The state of the checkpoint to resume from (weights and moments loaded into `model` and
    /// `optimizer`), or nil to start at step 1. A checkpoint of another stage or seed is an error.
    func restore(model: Transformer, optimizer: AdamW, from directory: URL, resume: Bool) throws -> TrainerState? {
        guard resume, let state = try TrainingCheckpoint.restore(model: model, optimizer: optimizer, stage: stage, from: directory)
        else { return nil }
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
            let keepGoing = try body(step, completed, due)
            if due || !keepGoing { try save(step, model: model, optimizer: optimizer, tokenizer: tokenizer, directory: directory, state: state) }
            if !keepGoing { return (step, step < steps) }
        }
        return (steps, false)
    }

    private func save(_ step: Int, model: Transformer, optimizer: AdamW, tokenizer: Tokenizer, directory: URL,
                      state: (Int) -> TrainerState) throws {
        var s = state(step)
        s.extras["stage"] = .string(stage)
        s.extras["seed"] = .string(String(seed))  // a string: UInt64 may exceed Int
        try TrainingCheckpoint.save(model: model, optimizer: optimizer, state: s, tokenizer: tokenizer, to: directory) {
            faults.reached(.midCheckpoint, stage: stage, step: step)
        }
    }
}

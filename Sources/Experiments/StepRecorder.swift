// StepRecorder: the progress callback of a trainer stage, the runner's half of StageLoop's
// contract (Sources/Training/StageLoop.swift): each step's rows are committed to the store in
// one transaction, before the trainer writes the step's checkpoint.
//
// On the first call of a resumed run, the rows of steps after the checkpoint it resumed from
// (committed by the killed process after its last checkpoint) are deleted first; the trainer
// then replays those steps and they are written again, identical. A failed write throws: the
// run stops with the error, and no checkpoint of an unrecorded step is ever written. The fault
// points `before_commit` and `after_commit` (FaultPlan.swift) sit around the commit.

import Foundation
import PonderCore
import Storage
import Training

final class StepRecorder {
    let store: RunStore
    let runID: Int64
    let stage: String
    let faults: FaultPlan
    /// Reports the step and says whether to go on (false: stop after it).
    let proceed: (TrainingProgress) -> Bool
    private var truncated = false

    init(store: RunStore, runID: Int64, stage: String, faults: FaultPlan, proceed: @escaping (TrainingProgress) -> Bool) {
        self.store = store
        self.runID = runID
        self.stage = stage
        self.faults = faults
        self.proceed = proceed
    }

    /// Commits step `p.step`'s metrics and rollouts; returns false to stop after the step.
    func commit(_ p: TrainingProgress, rollouts: [NewRollout]) throws -> Bool {
        if !truncated {
            try store.truncate(run: runID, afterStep: p.resumedFromStep)
            truncated = true
        }
        faults.reached(.beforeCommit, stage: stage, step: p.step)
        try store.recordStep(run: runID, step: p.step, metrics: p.metrics, rollouts: rollouts)
        faults.reached(.afterCommit, stage: stage, step: p.step)
        return proceed(p)
    }

    /// A supervised trainer's step: metrics only.
    func commit(_ p: TrainingProgress) throws -> Bool { try commit(p, rollouts: []) }
}

// Training: what every trainer shares (DESIGN.md §7): the progress callback, the summary, the
// error type, per-step data seeds, the checkpoint a trainer writes, and the loop around a
// supervised step (OptimizationLoop). The loop around every trainer's steps is StageLoop.swift.
//
// Contract of a trainer's `train(..., progress:)`:
//   - steps are numbered 1...totalSteps; `TrainingProgress.step` is the step just completed;
//   - after each step the trainer calls `progress` once, BEFORE that step's checkpoint: the
//     callback commits the step's records (one store transaction) and returns false to stop
//     after the step; if it throws, the run stops with that error and no checkpoint of the step
//     is written. So a checkpoint is never ahead of the store;
//   - a checkpoint (model + AdamW moments + TrainerState + tokenizer.json, one atomic directory)
//     is saved every `checkpointEvery` steps, after the last step, and when the callback stops;
//   - `resume: true` with a checkpoint in `checkpointDirectory` restores weights, moments, step
//     and data cursor, and continues at step + 1; the first progress call of a resumed run
//     carries `resumedFromStep` (0 for a fresh run): rows of later steps that a killed process
//     committed after its last checkpoint must be dropped before writing, and those steps are
//     replayed exactly;
//   - the data of a step depends only on (seed, step), never on wall clock or on how many
//     times the run was interrupted: a resumed run reproduces the uninterrupted one bit for bit.
//     So trainer_state.json holds no RNG stream for the data: its `step`, `data_cursor.step`
//     (the same number), the last metrics and `extras` {stage, seed} are what resuming reads;
//     resuming with another seed or another stage's checkpoint is an error.
// Trainers never print; the command-line tool renders the progress.

import Foundation
import Model
import PonderCore
import Tokenization

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

public struct TrainingProgress: Sendable {
    /// The stage name ("pretrain", "sft", ...).
    public var stage: String
    /// The step just completed, 1...totalSteps.
    public var step: Int
    public var totalSteps: Int
    /// This step's metrics, e.g. "loss", "val_loss" (on evaluation steps only), "lr",
    /// "grad_norm", "tokens_per_second", "step_seconds".
    public var metrics: [String: Double]
    /// Seconds since this process entered `train`.
    public var elapsedSeconds: Double
    /// The step the run resumed from (0 for a fresh run): steps after it are recomputed.
    public var resumedFromStep: Int
    /// Whether a checkpoint of this step is written right after this call (periodic or last;
    /// a stop asked by the call writes one too).
    public var checkpointDue: Bool

    public init(stage: String, step: Int, totalSteps: Int, metrics: [String: Double], elapsedSeconds: Double,
                resumedFromStep: Int = 0, checkpointDue: Bool = false) {
        self.stage = stage
        self.step = step
        self.totalSteps = totalSteps
        self.metrics = metrics
        self.elapsedSeconds = elapsedSeconds
        self.resumedFromStep = resumedFromStep
        self.checkpointDue = checkpointDue
    }
}

/// Called after every step, before its checkpoint: commits the step's records and returns false
/// to stop after this step (a checkpoint is then saved). A throw stops the run with the error.
public typealias ProgressHandler = (TrainingProgress) throws -> Bool

public struct TrainingSummary: Sendable {
    /// Steps completed in total (including those before a resume).
    public var steps: Int
    /// Metrics of the last step (with the last validation loss under "val_loss").
    public var finalMetrics: [String: Double]
    /// True when the progress callback stopped the run before `totalSteps`.
    public var stopped: Bool

    public init(steps: Int, finalMetrics: [String: Double], stopped: Bool) {
        self.steps = steps
        self.finalMetrics = finalMetrics
        self.stopped = stopped
    }
}

public enum TrainingError: Error, CustomStringConvertible, Equatable {
    /// A parameter outside its allowed range; names it and the rule.
    case invalidParameter(String)
    /// Not enough data for one batch.
    case insufficientData(String)
    /// The checkpoint to resume from does not fit this run.
    case incompatibleCheckpoint(String)
    /// The ranks of a data-parallel run no longer hold the same weights.
    case diverged(String)

    public var description: String {
        switch self {
        case .invalidParameter(let s): return "invalid training parameter: \(s)"
        case .insufficientData(let s): return "not enough data: \(s)"
        case .incompatibleCheckpoint(let s): return "cannot resume: \(s)"
        case .diverged(let s): return "data-parallel ranks diverged: \(s)"
        }
    }
}

// MARK: Shared helpers

/// A generator that depends only on (seed, stream, index): the data of step `index` is the
/// same whether or not the run was interrupted before it.
func derivedRNG(seed: UInt64, stream: UInt64, index: Int) -> RNG {
    var h = seed ^ (stream &* 0xD6E8_FEB8_6659_FD93)
    h = (h ^ (h >> 32)) &* 0x9E37_79B9_7F4A_7C15
    return RNG(seed: h ^ UInt64(bitPattern: Int64(index)) &* 0xBF58_476D_1CE4_E5B9)
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// The loop both supervised trainers run around StageLoop: schedule, AdamW, clipping, periodic
/// validation. The trainer supplies the step's gradient. Data parallel, each rank's `accumulate`
/// computes its share of the step's rows and returns its part of the mean loss; the loop sums
/// gradients, loss and tokens over the ranks, so every rank takes the same AdamW step, and rank
/// 0 alone computes the validation loss.
struct OptimizationLoop {
    var stage: String
    var steps: Int
    var learningRate: Float
    var schedule: LRSchedule
    var adam: AdamWParameters
    var gradClip: Float
    var evalEvery: Int
    var checkpointEvery: Int
    var seed: UInt64
    var faults: FaultPlan = .none
    var collective: any Collective = SingleProcess.shared

    /// `accumulate(step)` runs forward and backward for the step (1-based) into `model.grads`
    /// and returns (mean loss, tokens processed, extra metrics); `validate()` returns the
    /// validation loss.
    func run(model: Transformer, tokenizer: Tokenizer, checkpointDirectory: URL, resume: Bool,
             progress: ProgressHandler,
             accumulate: (Int) -> (loss: Double, tokens: Int),
             validate: () -> Double) throws -> TrainingSummary {
        let start = monotonicSeconds()
        let optimizer = AdamW(layout: model.layout, parameters: adam)
        let loop = StageLoop(stage: stage, steps: steps, checkpointEvery: checkpointEvery, seed: seed, faults: faults,
                             collective: collective)
        let restored = try loop.restore(model: model, optimizer: optimizer, from: checkpointDirectory, resume: resume)
        var metrics = restored?.metrics ?? [:]
        var lastValidation = metrics["val_loss"]
        let outcome = try loop.run(model: model, optimizer: optimizer, tokenizer: tokenizer, directory: checkpointDirectory,
                                   from: restored?.step ?? 0, state: { step in
            TrainerState(step: step, dataCursor: ["step": step], metrics: metrics)
        }) { step, resumedFrom, checkpointDue in
            let stepStart = monotonicSeconds()
            let traffic = collective.traffic
            model.zeroGrad()
            var (loss, tokens) = accumulate(step)
            if collective.isDistributed {
                var sums = [loss, Double(tokens)]
                collective.sum(&sums)
                (loss, tokens) = (sums[0], Int(sums[1]))
                collective.sum(UnsafeMutableBufferPointer(start: model.grads.pointer, count: model.grads.count))
            }
            let norm = clipGradientNorm(model.grads, maxNorm: gradClip)
            let lr = schedule.lr(step: step - 1, peak: learningRate)
            optimizer.update(params: model.params, grads: model.grads, lr: lr)
            let seconds = monotonicSeconds() - stepStart
            metrics = ["loss": loss, "lr": Double(lr), "grad_norm": Double(norm),
                       "tokens_per_second": Double(tokens) / max(seconds, 1e-9), "step_seconds": seconds]
            if collective.isDistributed {
                let spent = collective.traffic - traffic
                metrics["time/communication"] = spent.seconds
                metrics["communication_bytes"] = Double(spent.bytes)
            }
            if evalEvery > 0 && (step % evalEvery == 0 || step == steps) && collective.isLeader {
                lastValidation = validate()
                metrics["val_loss"] = lastValidation
            }
            return try progress(TrainingProgress(stage: stage, step: step, totalSteps: steps, metrics: metrics,
                                                 elapsedSeconds: monotonicSeconds() - start,
                                                 resumedFromStep: resumedFrom, checkpointDue: checkpointDue))
        }
        var final = metrics
        if let lastValidation { final["val_loss"] = lastValidation }
        return TrainingSummary(steps: outcome.completed, finalMetrics: final, stopped: outcome.stopped)
    }
}

/// A checkpoint as trainers write it: `Checkpoint.save`'s directory with tokenizer.json in the
/// same atomic swap (a crash leaves either the old or the new checkpoint, each with its tokenizer).
enum TrainingCheckpoint {
    static func save(model: Transformer, optimizer: AdamW, state: TrainerState, tokenizer: Tokenizer,
                     extraFiles: [String: Data] = [:], to directory: URL, betweenRenames: () -> Void = {}) throws {
        try Checkpoint.save(model: model, optimizer: optimizer, trainerState: state,
                            extraFiles: extraFiles.merging(try tokenizer.checkpointFiles()) { $1 },
                            to: directory,
                            betweenRenames: betweenRenames)
    }

    /// Restores weights and optimizer from `directory` when it holds a trainer checkpoint;
    /// returns its trainer state (nil when there is nothing to resume from). A save that was
    /// killed between its two renames is undone first (the previous checkpoint moves back).
    static func restore(model: Transformer, optimizer: AdamW, stage: String, from directory: URL,
                        recover: Bool = true) throws -> TrainerState? {
        if recover { try Checkpoint.recoverInterruptedSave(at: directory) }
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent(Checkpoint.trainerStateFile).path),
              let state = try Checkpoint.readTrainerState(from: directory)
        else { return nil }
        if let saved = state.extras["stage"], saved != .string(stage) {
            throw TrainingError.incompatibleCheckpoint("\(directory.path) holds a checkpoint of stage \(saved), not \(stage)")
        }
        let config = try Checkpoint.readConfig(from: directory)
        guard config == model.config else {
            throw TrainingError.incompatibleCheckpoint("\(directory.path)/config.json differs from the model being trained")
        }
        try Checkpoint.loadWeights(into: model, from: directory)
        try Checkpoint.loadOptimizer(into: optimizer, from: directory)
        return state
    }
}


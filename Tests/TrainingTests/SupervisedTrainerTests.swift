// Pretraining and SFT: the loss goes down, the SFT loss reads only masked tokens, and an
// interrupted-then-resumed run equals an uninterrupted one bit for bit.
import Foundation
import Model
import PonderCore
import Testing
import Tokenization
import Training

struct SupervisedTrainerTests {
    static let pretrainParameters = Pretraining.Parameters(
        steps: 8, batchSize: 4, seqLen: 32, accumulationSteps: 2, learningRate: 3e-3, warmupSteps: 2, evalEvery: 2, evalBatches: 2,
        checkpointEvery: 5, seed: 42)
    static let sftParameters = SupervisedFineTuning.Parameters(
        steps: 8, batchSize: 3, seqLen: 96, learningRate: 3e-3, warmupSteps: 2, weightDecay: 0, evalEvery: 3, evalBatches: 2,
        checkpointEvery: 0, seed: 9)

    @Test func pretrainingLowersValidationLoss() throws {
        let model = Fixtures.model()
        var p = Self.pretrainParameters
        p.steps = 60
        p.accumulationSteps = 1
        p.evalEvery = 30
        p.checkpointEvery = 0
        let before = try Pretraining.validationLoss(model: model, validation: Fixtures.validationStream, parameters: p)
        let dir = Fixtures.temporaryDirectory("pretrain-loss")
        defer { try? FileManager.default.removeItem(at: dir) }
        var reports: [TrainingProgress] = []
        let summary = try Pretraining.train(model: model, tokenizer: Fixtures.tokenizer, train: Fixtures.trainStream,
                                            validation: Fixtures.validationStream, parameters: p,
                                            checkpointDirectory: dir, resume: false) { reports.append($0); return true }
        let after = try #require(summary.finalMetrics["val_loss"])
        #expect(summary.steps == 60 && !summary.stopped)
        #expect(reports.map(\.step) == Array(1...60))
        #expect(reports.filter { $0.metrics["val_loss"] != nil }.map(\.step) == [30, 60])
        #expect(after < before - 1.0, "validation loss \(before) -> \(after)")
        #expect(reports.last!.checkpointDue && reports.first!.resumedFromStep == 0)
        // The final checkpoint is a loadable HF-style directory with the tokenizer.
        let (loaded, state) = try Checkpoint.load(from: dir)
        #expect(loaded.params.array == model.params.array)
        #expect(state?.step == 60)
        #expect(try Tokenizer.load(checkpointDirectory: dir).vocabSize == Fixtures.tokenizer.vocabSize)
        let tps = reports.map { $0.metrics["tokens_per_second"]! }.sorted()[30]
        print("pretrain tiny config (d32 L1 B4 T32): \(Int(tps)) tokens/s, \(String(format: "%.1f", tps / 128)) steps/s")
    }

    /// Runs `train` uninterrupted, then interrupted after `stopAt` steps and resumed in a fresh model;
    /// both must report the same metrics for every step after the stop and end with equal weights.
    static func checkResume(stopAt: Int, steps: Int,
                            train: (Transformer, URL, Bool, ProgressHandler) throws -> TrainingSummary) throws {
        let dirA = Fixtures.temporaryDirectory("resume-a"), dirB = Fixtures.temporaryDirectory("resume-b")
        defer { try? FileManager.default.removeItem(at: dirA); try? FileManager.default.removeItem(at: dirB) }

        let full = Fixtures.model()
        var fullMetrics: [Int: [String: Double]] = [:]
        _ = try train(full, dirA, false) { fullMetrics[$0.step] = Fixtures.deterministic($0.metrics); return true }

        let first = Fixtures.model()
        let stopped = try train(first, dirB, false) { $0.step < stopAt }
        #expect(stopped.stopped && stopped.steps == stopAt)
        #expect(try Checkpoint.readTrainerState(from: dirB)?.step == stopAt)

        let resumed = Fixtures.model()  // same init; the checkpoint overwrites it
        var resumedMetrics: [Int: [String: Double]] = [:]
        var resumedFrom: [Int] = []
        let summary = try train(resumed, dirB, true) {
            resumedMetrics[$0.step] = Fixtures.deterministic($0.metrics)
            resumedFrom.append($0.resumedFromStep)
            return true
        }
        #expect(!summary.stopped && summary.steps == steps)
        #expect(Set(resumedFrom) == [stopAt])
        #expect(resumedMetrics.keys.sorted() == Array((stopAt + 1)...steps))
        for step in (stopAt + 1)...steps {
            #expect(resumedMetrics[step] == fullMetrics[step], "step \(step)")
        }
        #expect(resumed.params.array == full.params.array, "final weights differ")
        // Resuming a finished run does nothing.
        let again = try train(resumed, dirB, true) { _ in Issue.record("no step expected"); return true }
        #expect(again.steps == steps && !again.stopped)
    }

    /// A step whose records could not be stored is never checkpointed: the callback's error stops
    /// the run, and the checkpoint on disk is the last committed step's.
    @Test func aFailedCommitStopsTheRunBeforeItsCheckpoint() throws {
        struct StoreDown: Error {}
        var p = Self.pretrainParameters
        p.checkpointEvery = 1
        let dir = Fixtures.temporaryDirectory("commit-fails")
        defer { try? FileManager.default.removeItem(at: dir) }
        var committed: [Int] = []
        #expect(throws: StoreDown.self) {
            _ = try Pretraining.train(model: Fixtures.model(), tokenizer: Fixtures.tokenizer, train: Fixtures.trainStream,
                                      validation: Fixtures.validationStream, parameters: p, checkpointDirectory: dir, resume: false) {
                if $0.step == 3 { throw StoreDown() }
                committed.append($0.step)
                return true
            }
        }
        #expect(committed == [1, 2])
        #expect(try Checkpoint.readTrainerState(from: dir)?.step == 2)
    }

    @Test func pretrainingResumeEqualsUninterruptedRun() throws {
        let p = Self.pretrainParameters
        try Self.checkResume(stopAt: 3, steps: p.steps) { model, dir, resume, progress in
            try Pretraining.train(model: model, tokenizer: Fixtures.tokenizer, train: Fixtures.trainStream,
                                  validation: Fixtures.validationStream, parameters: p,
                                  checkpointDirectory: dir, resume: resume, progress: progress)
        }
    }

    @Test func sftResumeEqualsUninterruptedRun() throws {
        let p = Self.sftParameters
        let train = Fixtures.sftExamples(count: 10, seed: 3), validation = Fixtures.sftExamples(count: 4, seed: 4)
        try Self.checkResume(stopAt: 5, steps: p.steps) { model, dir, resume, progress in
            try SupervisedFineTuning.train(model: model, tokenizer: Fixtures.tokenizer, train: train, validation: validation,
                                           parameters: p, checkpointDirectory: dir, resume: resume, progress: progress)
        }
    }

    @Test func sftLossCountsMaskedTokensOnly() throws {
        let model = Fixtures.model()
        let tok = Fixtures.tokenizer
        // A trailing user turn: its tokens have mask 0 and the last one is a target only.
        let conversation = Conversation([.user("What is 2+3?"), .assistant("Answer: 5"), .user("Thanks, bye.")])
        let example = try SupervisedFineTuning.Example(conversation, tokenizer: tok)
        #expect(example.mask.last == 0 && example.mask.contains(1))
        let p = SupervisedFineTuning.Parameters(batchSize: 1, seqLen: 128, evalBatches: 1)
        let base = try SupervisedFineTuning.validationLoss(model: model, validation: [example], parameters: p)

        var unmasked = example
        unmasked.ids[unmasked.ids.count - 1] = tok.encode("x")[0]
        #expect(try SupervisedFineTuning.validationLoss(model: model, validation: [unmasked], parameters: p) == base)

        // Changing a learned token's target does change the loss.
        let learned = try #require(example.mask.lastIndex(of: 1))
        var masked = example
        masked.ids[learned] = tok.encode("x")[0]
        #expect(try SupervisedFineTuning.validationLoss(model: model, validation: [masked], parameters: p) != base)

        // The loss is the mean of -log p over exactly the learned targets.
        let T = example.ids.count - 1
        model.forward(tokens: Array(example.ids[0..<T]), B: 1, T: T)
        let (logp, _) = model.logProbs(targets: Array(example.ids[1...]))
        var sum = 0.0, n = 0.0
        for t in 0..<T where example.mask[t + 1] > 0 { sum -= Double(logp[t]); n += 1 }
        #expect(abs(sum / n - base) < 1e-5)
    }

    @Test func sftTrainingLowersValidationLoss() throws {
        let model = Fixtures.model()
        let train = Fixtures.sftExamples(count: 24, seed: 5), validation = Fixtures.sftExamples(count: 6, seed: 6)
        var p = Self.sftParameters
        p.steps = 40
        p.evalEvery = 40
        let before = try SupervisedFineTuning.validationLoss(model: model, validation: validation, parameters: p)
        let dir = Fixtures.temporaryDirectory("sft-loss")
        defer { try? FileManager.default.removeItem(at: dir) }
        let summary = try SupervisedFineTuning.train(model: model, tokenizer: Fixtures.tokenizer, train: train,
                                                     validation: validation, parameters: p, checkpointDirectory: dir,
                                                     resume: false) { _ in true }
        let after = try #require(summary.finalMetrics["val_loss"])
        #expect(after < before - 0.5, "SFT validation loss \(before) -> \(after)")
    }

    @Test func invalidParametersAreErrors() throws {
        let model = Fixtures.model(maxSeqLen: 16)
        let dir = Fixtures.temporaryDirectory("invalid")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: TrainingError.self) {
            try Pretraining.train(model: model, tokenizer: Fixtures.tokenizer, train: Fixtures.trainStream,
                                  validation: Fixtures.validationStream, parameters: Self.pretrainParameters,
                                  checkpointDirectory: dir, resume: false) { _ in true }
        }
    }
}

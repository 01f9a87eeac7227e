// The stage runner end to end on experiments/tiny-grpo.yaml: every stage runs and records to
// a real store, and a run interrupted twice (mid-pretraining, mid-GRPO) and resumed ends with
// the same metrics, rollouts and final weights as an uninterrupted one.

import Foundation
import Testing
@testable import Experiments
import Model
import Storage

@Suite(.serialized) struct RunnerTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-runner-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Every stored metric that does not measure time, by stage name.
    static func metrics(_ store: RunStore) throws -> [String: [String: [MetricPoint]]] {
        var out: [String: [String: [MetricPoint]]] = [:]
        for summary in try store.runs() {
            let id = summary.run.id!
            for name in try store.metricNames(run: id) where !name.contains("second") && !name.hasPrefix("time/") {
                out[summary.run.stage, default: [:]][name] = try store.metricSeries(run: id, name: name)
            }
        }
        return out
    }

    static func run(_ config: ExperimentConfig, in dir: URL, store: RunStore, resume: Bool, stopAfter: (String, Int)?) throws -> ExperimentRunner {
        let runner = ExperimentRunner(config: config, store: store,
                                      options: RunnerOptions(resume: resume, runsDirectory: dir.appendingPathComponent("runs"),
                                                             stopAfter: stopAfter.map { (stage: $0.0, step: $0.1) })) { _ in }
        try runner.run()
        return runner
    }

    /// `lr_schedule` reaches the pretrain and sft loops (both once ran cosine whatever it said).
    @Test func supervisedStagesFollowTheirScheduleKey() throws {
        var config = try ExperimentConfig.load(path: Self.root.appendingPathComponent("experiments/tiny.yaml").path)
        var pretrain: PretrainStage?, sft: SFTStage?
        for stage in config.stages {
            if case .pretrain(var s) = stage { s.lrSchedule = .constant; pretrain = s }
            if case .sft(var s) = stage { s.lrSchedule = .linear; s.minLRRatio = 0.5; sft = s }
        }
        let (p, f) = (try #require(pretrain), try #require(sft))
        config.stages = [config.stages[0], .pretrain(p), .sft(f)]
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try RunStore.open(path: dir.appendingPathComponent("ponder.sqlite").path)
        _ = try Self.run(config, in: dir, store: store, resume: false, stopAfter: nil)
        let lr = try Self.metrics(store).mapValues { $0["lr"] ?? [] }
        let pretrainLR = try #require(lr["pretrain"]).filter { $0.step > p.warmupSteps }.map(\.value)
        #expect(pretrainLR.count == p.steps - p.warmupSteps)
        #expect(pretrainLR.allSatisfy { abs($0 - p.learningRate) < 1e-9 }, "constant: \(pretrainLR)")
        let sftLR = try #require(lr["sft"]).filter { $0.step > f.warmupSteps }.map(\.value)
        #expect(sftLR.count == f.steps - f.warmupSteps)
        let steps = zip(sftLR, sftLR.dropFirst()).map { $0 - $1 }
        // Linear decay: equal steps down (cosine's would change size), ending near half the peak.
        #expect(steps.allSatisfy { $0 > 0 && abs($0 - steps[0]) < 1e-9 }, "linear: \(sftLR)")
        #expect(sftLR.last! >= 0.5 * f.learningRate && sftLR.last! < 0.6 * f.learningRate)
    }

    @Test func interruptedAndResumedEqualsUninterrupted() throws {
        let config = try ExperimentConfig.load(path: Self.root.appendingPathComponent("experiments/tiny-grpo.yaml").path)
        let a = try Self.temporaryDirectory(), b = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }

        let storeA = try RunStore.open(path: a.appendingPathComponent("ponder.sqlite").path)
        let full = try Self.run(config, in: a, store: storeA, resume: false, stopAfter: nil)
        #expect(!full.interrupted)
        #expect(try storeA.runs().allSatisfy { $0.run.status == .completed })
        #expect(full.evals.count == 4)  // two eval stages, two environments

        let storeB = try RunStore.open(path: b.appendingPathComponent("ponder.sqlite").path)
        let first = try Self.run(config, in: b, store: storeB, resume: false, stopAfter: ("pretrain", 7))
        #expect(first.interrupted)
        #expect(try storeB.runs().contains { $0.run.stage == "pretrain" && $0.run.status == .interrupted })
        let second = try Self.run(config, in: b, store: storeB, resume: true, stopAfter: ("grpo", 2))
        #expect(second.interrupted)
        let third = try Self.run(config, in: b, store: storeB, resume: true, stopAfter: nil)
        #expect(!third.interrupted)
        #expect(try storeB.runs().allSatisfy { $0.run.status == .completed })

        // Same metrics, step for step, in every stage; nothing duplicated or lost.
        let ma = try Self.metrics(storeA), mb = try Self.metrics(storeB)
        #expect(Set(ma.keys) == Set(mb.keys))
        for (stage, series) in ma {
            for (name, points) in series {
                #expect(mb[stage]?[name] == points, "\(stage) \(name)")
            }
        }
        // Same rollouts, and bit-identical final weights.
        let grpoA = try storeA.latestRun(experimentName: config.name, stage: "grpo")!.id!
        let grpoB = try storeB.latestRun(experimentName: config.name, stage: "grpo")!.id!
        #expect(try storeA.rollouts(run: grpoA).map(\.rollout.completion) == storeB.rollouts(run: grpoB).map(\.rollout.completion))
        let (wa, _) = try Checkpoint.load(from: a.appendingPathComponent("runs/tiny-grpo/grpo"))
        let (wb, _) = try Checkpoint.load(from: b.appendingPathComponent("runs/tiny-grpo/grpo"))
        #expect(wa.params.array == wb.params.array)
    }
}

// Held-out sets are disjoint from training, for every shipped experiment: the whole training
// stream (tokenizer and pretraining corpus, SFT demonstrations, GRPO prompts), rebuilt as the
// runner draws it, holds no key of a validation or test task, and the eval sets measure 0
// contamination against it; no training task is asked in a phrasing held out for the test split.
// Resampled GRPO prompts come from the same train views, checked here directly.
import Foundation
import Testing
@testable import Experiments
import PonderCore
import Environments

@Suite struct DisjointnessTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var experimentFiles: [String] {
        let dir = root.appendingPathComponent("experiments")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted().map { dir.appendingPathComponent($0).path }
    }

    @Test(arguments: experimentFiles)
    func noHeldOutTaskIsTrainedOn(_ file: String) throws {
        let config = try ExperimentConfig.load(path: file)
        let envs = try config.environments.map(LabEnvironment.init)
        let stream = TrainingStream.build(config, envs: envs)
        #expect(!stream.sources.isEmpty)
        // No training text asks a question in a phrasing held out for the test split.
        for source in stream.sources {
            #expect(source.unseenPhrasings == 0, "\(file): \(source.stage) \(source.what) uses \(source.unseenPhrasings) unseen phrasings")
        }
        for env in envs {
            let name = env.environment.name
            let trained = stream.keys(of: name)
            #expect(!trained.isEmpty || name == "knowledge", "\(file): no training keys for \(name)")
            // No key the stream holds belongs to a held-out split, whatever eval might draw.
            var splitOf: [String: Split] = [:]
            var probe = RNG(seed: 3)
            for _ in 0..<20_000 {
                let task = env.environment.sample(&probe)
                splitOf[env.environment.splitKey(task)] = env.environment.assign(task, shares: env.shares).split
            }
            let leaked = trained.filter { splitOf[$0].map { $0 != .train } ?? false }
            #expect(leaked.isEmpty, "\(file): \(name) trains on held-out keys \(leaked.prefix(5))")
            for split in [Split.validation, .test] {
                let tasks = env.heldOut(count: 300, seed: config.heldOutSeed, split: split)
                #expect(tasks.count > 0)
                #expect(stream.contamination(of: tasks, environment: env) == 0, "\(file): \(name) \(split)")
                #expect(tasks.allSatisfy { env.environment.assign($0, shares: env.shares).split == split })
            }
            // The view GRPO and dynamic sampling draw from.
            var rng = RNG(seed: 4)
            for _ in 0..<500 {
                let task = env.training.sample(&rng)
                #expect(env.environment.assign(task, shares: env.shares).split == .train)
            }
        }
    }

    /// The audit is not vacuous: a stream of tasks drawn from the whole space (as before splits)
    /// is caught.
    @Test func contaminationIsCountedWhenItHappens() throws {
        let config = try ExperimentConfig.load(path: Self.root.appendingPathComponent("experiments/quickstart.yaml").path)
        let env = try #require(try config.environments.map(LabEnvironment.init).first { $0.environment.name == "arithmetic" })
        let tasks = env.heldOut(count: 100, seed: config.heldOutSeed, split: .validation)
        var stream = TrainingStream()
        stream.sources = [.init(stage: "leak", what: "everything", keys: ["arithmetic": Set(tasks.prefix(7).map(env.environment.splitKey))], untracked: 0)]
        #expect(stream.contamination(of: tasks, environment: env) == 7)
    }
}

/// The hand-written test sets ask nothing training could hold: each arithmetic and letter line's
/// computation (its `key`, the environment's split key) is in the test split, each sentence is
/// absent from the prose counting tasks draw from, and no prompt appears twice.
@Suite struct HandwrittenSetTests {
    @Test(arguments: ["arithmetic", "counting"])
    func everyLineAsksATestSplitQuestion(_ skill: String) throws {
        let file = DisjointnessTests.root.appendingPathComponent("experiments/data/\(skill)-handwritten.jsonl")
        let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")
        #expect(lines.count >= 100)
        let prose = try English.load().taskProse.joined(separator: " ")
        var prompts = Set<String>()
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let key = try #require(object["key"] as? String, "\(line)")
            #expect(prompts.insert(try #require(object["prompt"] as? String)).inserted, "\(skill): a repeated prompt: \(line)")
            if key.hasPrefix("words|") {
                #expect(!prose.contains(String(key.dropFirst(6).dropLast())), "\(key) is in the task prose")
            } else {
                #expect(SplitShares().split(ofKey: key) == .test, "\(skill): \(key) is not a test-split question")
            }
        }
    }
}

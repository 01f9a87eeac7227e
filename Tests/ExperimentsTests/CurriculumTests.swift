// A GRPO curriculum moves through its tiers when the rolling accuracy reaches the threshold, draws
// the tier's tasks, and a run interrupted mid-curriculum resumes to the same tiers and rollouts.
import Foundation
import Testing
@testable import Experiments
import Storage
import GRDB

@Suite(.serialized) struct CurriculumTests {
    /// tiny-grpo with 6 GRPO steps on arithmetic: tier 1 one-digit pairs, tier 2 three operands of
    /// two digits. Threshold 0 with a window of 2: the stage moves after every two steps.
    static func config() throws -> ExperimentConfig {
        var text = try String(contentsOf: RunnerTests.root.appendingPathComponent("experiments/tiny-grpo.yaml"), encoding: .utf8)
        text = text.replacingOccurrences(of: "  - stage: grpo\n    steps: 4\n", with: """
              - stage: grpo
                steps: 6
                environments: [arithmetic]
                curriculum:
                  environment: arithmetic
                  threshold: 0
                  window: 2
                  tiers:
                    - {max_operands: 2, max_digits: 1}
                    - {min_operands: 3, max_operands: 3, min_digits: 2, max_digits: 2, parentheses: 0}

            """)
        text = text.replacingOccurrences(of: "  max_seq_len: 96", with: "  max_seq_len: 160")  // room for three-operand prompts
        return try ExperimentConfig.decode(yaml: text, file: "curriculum.yaml")
    }

    static func tiersAndPrompts(_ store: RunStore) throws -> (tiers: [Double], prompts: [Int: [String]]) {
        try store.database.read { db in
            let tiers = try Double.fetchAll(db, sql: """
                SELECT value FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.stage = 'grpo' AND m.name = 'curriculum/tier' ORDER BY m.step
                """)
            var prompts: [Int: [String]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT step, prompt FROM rollouts ORDER BY step, group_index, sample_index") {
                prompts[row[0], default: []].append(row[1])
            }
            return (tiers, prompts)
        }
    }

    @Test func movesThroughItsTiersAndResumesExactly() throws {
        let config = try Self.config()
        let dirA = try RunnerTests.temporaryDirectory(), dirB = try RunnerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dirA); try? FileManager.default.removeItem(at: dirB) }
        let a = try RunStore.open(path: dirA.appendingPathComponent("ponder.sqlite").path)
        _ = try RunnerTests.run(config, in: dirA, store: a, resume: false, stopAfter: nil)
        let (tiers, prompts) = try Self.tiersAndPrompts(a)
        #expect(tiers == [0, 0, 1, 1, 1, 1], "\(tiers)")  // two tiers: it stays on the last
        // Tier 0 asks one-digit pairs; tier 1 three operands of two digits.
        func operands(_ prompt: String) -> [String] { prompt.split { !$0.isNumber }.map(String.init) }
        for step in 1...2 { #expect(prompts[step]!.allSatisfy { operands($0).count == 2 && operands($0).allSatisfy { $0.count == 1 } }, "\(prompts[step]!)") }
        for step in 3...6 { #expect(prompts[step]!.allSatisfy { operands($0).count == 3 && operands($0).allSatisfy { $0.count == 2 } }, "\(prompts[step]!)") }

        // Stopped after step 3 (a checkpoint every 2 steps: resumed from step 2's) and resumed.
        let b = try RunStore.open(path: dirB.appendingPathComponent("ponder.sqlite").path)
        _ = try RunnerTests.run(config, in: dirB, store: b, resume: false, stopAfter: ("grpo", 3))
        _ = try RunnerTests.run(config, in: dirB, store: b, resume: true, stopAfter: nil)
        let (tiersB, promptsB) = try Self.tiersAndPrompts(b)
        #expect(tiersB == tiers && promptsB == prompts)
    }

    @Test func aCurriculumNeedsAKnownEnvironmentAndTwoTiers() throws {
        let base = try String(contentsOf: RunnerTests.root.appendingPathComponent("experiments/tiny-grpo.yaml"), encoding: .utf8)
        let oneTier = base.replacingOccurrences(of: "  - stage: grpo\n    steps: 4\n",
                                                with: "  - stage: grpo\n    steps: 4\n    curriculum: {environment: arithmetic, tiers: [{max_digits: 1}]}\n")
        #expect(throws: (any Error).self) { try ExperimentConfig.decode(yaml: oneTier, file: "x.yaml") }
        do {
            _ = try ExperimentConfig.decode(yaml: oneTier, file: "x.yaml")
        } catch {
            #expect("\(error)".contains("at least two tiers"), "\(error)")
        }
    }
}

extension CurriculumTests {
    /// A tier whose prompts do not fit the model's context is refused before training, by name.
    @Test func aTierTooLongForTheContextIsRefused() throws {
        var config = try Self.config()
        for (i, stage) in config.stages.enumerated() {
            guard case .grpo(var s) = stage else { continue }
            s.curriculum!.tiers[1] = .map([.init("min_operands", .int(8)), .init("max_operands", .int(8)), .init("min_digits", .int(9)),
                                           .init("max_digits", .int(9))])
            config.stages[i] = .grpo(s)
        }
        let dir = try RunnerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try RunStore.open(path: dir.appendingPathComponent("ponder.sqlite").path)
        do {
            _ = try RunnerTests.run(config, in: dir, store: store, resume: false, stopAfter: nil)
            Issue.record("a tier too long for the context trained")
        } catch {
            #expect("\(error)".contains("curriculum tier 2") && "\(error)".contains("max_seq_len"), "\(error)")
        }
    }
}

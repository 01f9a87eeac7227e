// `--set KEY.PATH=VALUE`: overrides reach the keys they name (stages and environments by name,
// lists by index), are checked like the file, and an error names the override, not a line of
// the file it never came from.
import Foundation
import Testing
@testable import Experiments
import PonderCore

@Suite struct ConfigOverrideTests {
    static let file = ConfigOverrideTests.root.appendingPathComponent("experiments/quickstart.yaml").path
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func load(_ sets: String...) throws -> ExperimentConfig {
        try ExperimentConfig.load(path: file, overrides: sets.map(ConfigOverride.init))
    }

    static func error(_ sets: String...) -> String {
        do {
            _ = try ExperimentConfig.load(path: file, overrides: sets.map(ConfigOverride.init))
            return "no error"
        } catch { return "\(error)" }
    }

    @Test func overridesReachTheirKeys() throws {
        let c = try Self.load("seed=3", "stages.grpo.learning_rate=2e-4", "stages.after_rl.split=test",
                              "environments.arithmetic.settings.max_digits=3", "environments.counting.tools=[python]",
                              "stages.1.steps=700", "environments.arithmetic.split={train: 0.7, validation: 0.15, test: 0.15}")
        #expect(c.seed == 3 && c.heldOutSeed == 1_000_003)
        guard case .grpo(let g) = c.stages[4], case .eval(let after) = c.stages[5], case .pretrain(let p) = c.stages[1] else {
            Issue.record("stages moved"); return
        }
        #expect(g.learningRate == 2e-4 && after.split == .test && p.steps == 700)
        #expect(c.environment(named: "arithmetic")?.settings["max_digits"] == .int(3))
        #expect(c.environment(named: "counting")?.tools == [.python])
        #expect(c.environment(named: "arithmetic")?.split == SplitShares(train: 0.7, validation: 0.15, test: 0.15))
        // The resolved config shows the overrides, so the store's hash of it changes.
        #expect(c.resolvedYAML().contains("learning_rate: 0.0002"))
        #expect(try Self.load().configHash != c.configHash)
    }

    @Test func errorsNameTheOverride() {
        #expect(Self.error("stages.grpo.learning_rat=2e-4").hasPrefix(
            "--set stages.grpo.learning_rat=2e-4: stages[4].grpo.learning_rat: unknown key `learning_rat` in a grpo stage; did you mean `learning_rate`?"))
        #expect(Self.error("stages.grpoo.beta=1") == "--set stages.grpoo.beta=1: stages: no item named `grpoo`; did you mean `grpo`? (items: tokenizer, pretrain, sft, before_rl, grpo, after_rl)")
        #expect(Self.error("stages.grpo.beta=-1") == "--set stages.grpo.beta=-1: stages[4].grpo.beta: must be >= 0, found -1")
        #expect(Self.error("environments.arithmetic.settings.max_digits=30")
                == "--set environments.arithmetic.settings.max_digits=30: environments[0].settings.max_digits: must be in 1...9, found 30")
        #expect(Self.error("stages.9.steps=3") == "--set stages.9.steps=3: stages: there is no item 9: the list has 6 (0...5)")
        #expect(Self.error("seed") == "--set seed: expected KEY.PATH=VALUE, for example stages.grpo.learning_rate=2e-4")
        #expect(Self.error("seed.x=1") == "--set seed.x=1: seed: `seed` is a single value, not a mapping with a `x` key")
        #expect(Self.error("stages.after_rl.split=train").hasSuffix("an eval grades held-out tasks: validation or test, not train"))
        #expect(Self.error("environments.arithmetic.split={train: 0.9, validation: 0.1, test: 0.1}").hasSuffix(
            "train + validation + test must be 1, found 1.1"))
        // A mistake in the file itself still points at its line.
        #expect(Self.error("stages.grpo.beta=0").hasPrefix("no error"))
    }

    @Test func seedsListsWinOverSeed() throws {
        let c = try Self.load("seeds=[5, 6, 7]")
        #expect(c.seed == 5 && c.replicateSeeds == [5, 6, 7] && c.heldOutSeed == 1_000_005)
        #expect(c.replicate(seed: 6).seed == 6 && c.replicate(seed: 6).heldOutSeed == 1_000_005)
        #expect(Self.error("seeds=[1, 1]").hasSuffix("lists a seed twice; replicates need distinct seeds"))
    }
}

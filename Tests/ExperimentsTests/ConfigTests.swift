// Experiment files decode, resolve and round-trip; presets, overrides and defaults.
import Foundation
import Model
import PonderCore
import Testing
import Training
@testable import Experiments

/// experiments/ at the repository root.
let experimentsFolder = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("experiments")

func experimentFiles() throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: experimentsFolder.path)
        .filter { $0.hasSuffix(".yaml") }.sorted()
        .map { experimentsFolder.appendingPathComponent($0).path }
}

/// A minimal valid experiment, with `extra` appended to the stage list.
func experimentText(model: String = "", stages extra: String = "") -> String {
    """
    name: t
    \(model)
    environments:
      - name: arithmetic
        settings: {max_digits: 2}
    stages:
      - stage: tokenizer
      - stage: pretrain
        steps: 10
    \(extra)
    """
}

@Suite struct ConfigFileTests {
    /// The knowledge recipes that start from another one's checkpoint (`init_from`) must ask about
    /// the same world with the same splits, or a test question of one could be a training
    /// question of the other: their knowledge settings are identical.
    @Test func chainedKnowledgeRecipesShareTheirWorld() throws {
        let names = ["knowledge-exposure", "knowledge-probe-sft", "knowledge-unknown-sft", "knowledge-grpo-refusal", "knowledge-abstention-tax"]
        let specs = try names.map { name in
            try #require(ExperimentConfig.load(path: experimentsFolder.appendingPathComponent(name + ".yaml").path).environment(named: "knowledge"), "\(name)")
        }
        for (name, spec) in zip(names, specs).dropFirst() {
            #expect(spec.settings == specs[0].settings && spec.split == specs[0].split && spec.tools == specs[0].tools,
                    "\(name)'s knowledge environment differs from knowledge-exposure's")
        }
    }

    @Test func everyExperimentFileDecodes() throws {
        let files = try experimentFiles()
        #expect(files.count >= 6)
        let names = files.map { ($0 as NSString).lastPathComponent }
        for required in ["quickstart.yaml", "tiny.yaml", "arithmetic-grpo.yaml", "counting-grpo.yaml",
                         "counting-tool-grpo.yaml", "code-grpo.yaml"] {
            #expect(names.contains(required))
        }
        for file in files {
            let config = try ExperimentConfig.load(path: file)
            #expect(config.stages.first?.kind == .tokenizer || config.stages.first?.initFrom.isEmpty == false, "\(file)")
            #expect(config.model.vocabSize == config.tokenizer.vocabSize)
            try config.model.modelConfig.validate()
            for environment in config.environments { _ = try environment.make() }
            for case .grpo(let grpo) in config.stages {
                // A judge is checked, not started: its checkpoint comes from another experiment's run.
                for spec in grpo.rewards {
                    if spec.name == "judge" { try spec.judgeConfig().validate() } else { _ = try spec.make() }
                }
            }
        }
    }

    @Test func resolvedYAMLRoundTrips() throws {
        for file in try experimentFiles() {
            let config = try ExperimentConfig.load(path: file)
            let text = config.resolvedYAML()
            let again = try ExperimentConfig.decode(yaml: text, file: "resolved")
            #expect(again == config, "\(file)")
            #expect(again.resolvedYAML() == text, "\(file)")
            #expect(again.configHash == config.configHash)
        }
    }

    @Test func fileNameIsTheDefaultName() throws {
        let text = experimentText().replacingOccurrences(of: "name: t\n", with: "")
        let config = try ExperimentConfig.decode(yaml: text, file: "x/my-run.yaml", defaultName: "my-run")
        #expect(config.name == "my-run")
        #expect(config.seed == 0)
        #expect(config.heldOutSeed == 1_000_000)
    }

    @Test func quickstartHasTheDocumentedPipeline() throws {
        let config = try ExperimentConfig.load(path: experimentsFolder.appendingPathComponent("quickstart.yaml").path)
        #expect(config.stages.map(\.kind) == [.tokenizer, .pretrain, .sft, .eval, .grpo, .eval])
        #expect(config.stages.map(\.name) == ["tokenizer", "pretrain", "sft", "before_rl", "grpo", "after_rl"])
        #expect(Set(config.environments.map(\.name)) == ["arithmetic", "counting"])
        #expect(config.model.dModel == 128 && config.model.nLayers == 4)
        let grpo = try ExperimentConfig.load(path: experimentsFolder.appendingPathComponent("arithmetic-grpo.yaml").path)
        #expect(grpo.stages.map(\.kind) == [.tokenizer, .pretrain, .sft, .eval, .grpo, .eval])
        #expect(grpo.stages.map(\.name) == ["tokenizer", "pretrain", "sft", "before_rl", "grpo", "after_rl"])
    }
}

@Suite struct ConfigSectionTests {
    @Test func presetWithOverrides() throws {
        let config = try ExperimentConfig.decode(yaml: experimentText(model: "model: {preset: tiny, d_model: 192, n_layers: 2, n_kv_heads: 2}"))
        let tiny = ModelConfig.presets["tiny"]!
        #expect(config.model.preset == .tiny)
        #expect(config.model.dModel == 192)
        #expect(config.model.nLayers == 2)
        #expect(config.model.nHeads == tiny.nHeads)
        #expect(config.model.nKVHeads == 2)
        #expect(config.model.ffnHidden == ModelConfig.swigluHidden(192))  // follows the overridden width
        #expect(config.model.maxSeqLen == tiny.maxSeqLen)
        #expect(config.model.vocabSize == 1024)  // the tokenizer's, not the preset's 512
        #expect(config.model.normEps == 1e-5)
    }

    @Test func explicitSizesAndDefaultModel() throws {
        let explicit = try ExperimentConfig.decode(yaml: experimentText(
            model: "model: {d_model: 64, n_layers: 3, n_heads: 4, max_seq_len: 128, tie_embeddings: false}"))
        #expect(explicit.model.preset == nil)
        #expect(explicit.model.modelConfig == ModelConfig(vocabSize: 1024, dModel: 64, nLayers: 3, nHeads: 4, maxSeqLen: 128,
                                                          tieEmbeddings: false))
        let absent = try ExperimentConfig.decode(yaml: experimentText())
        #expect(absent.model.preset == .tiny)
    }

    @Test func stageDefaultsAreTheDocumentedOnes() throws {
        let config = try ExperimentConfig.decode(yaml: experimentText(stages: """
          - stage: sft
          - stage: eval
          - stage: grpo
          - stage: eval
        """))
        #expect(config.stages.map(\.name) == ["tokenizer", "pretrain", "sft", "eval", "grpo", "eval_2"])
        guard case .grpo(let g) = config.stages[4], case .pretrain(let p) = config.stages[1],
              case .sft(let s) = config.stages[2], case .eval(let e) = config.stages[3] else {
            Issue.record("stage kinds"); return
        }
        #expect(g.beta == 0 && g.epsLow == 0.2 && g.epsHigh == 0.2 && g.numIterations == 1)
        #expect(g.advantage == .grpo && g.scaleRewards == .group && g.lossType == .dapo)
        #expect(!g.maskTruncatedCompletions && !g.dynamicSampling && g.maxResampleRounds == 3)
        #expect(g.numGenerations == 8 && g.temperature == 1 && g.tools == nil)
        #expect(g.rewards.map(\.name) == ["accuracy"])
        #expect(g.environments == ["arithmetic"])
        #expect(p.steps == 10 && p.warmupSteps == 1)  // warmup capped at a tenth of steps
        #expect(s.styles == StyleMix.all)
        #expect(e.tasks == 100 && e.samples == 1 && e.ks == [1] && e.temperature == 0)
        #expect(g.sampling.maxNewTokens == g.maxCompletionLength)
    }

    @Test func stylesAsListOrMapping() throws {
        let config = try ExperimentConfig.decode(yaml: experimentText(stages: """
          - stage: sft
            styles: [think, tool]
          - stage: sft
            styles: {direct: 1, think: 3}
        """))
        guard case .sft(let a) = config.stages[2], case .sft(let b) = config.stages[3] else { Issue.record("kinds"); return }
        #expect(a.styles.entries.map(\.style) == [.think, .tool])
        #expect(b.styles.weight(.think) == 3 && b.styles.weight(.direct) == 1 && b.styles.weight(.tool) == 0)
    }

    @Test func tokenizerStageOverridesTheSection() throws {
        let text = experimentText().replacingOccurrences(of: "  - stage: tokenizer", with: "  - stage: tokenizer\n    vocab_size: 700")
        let config = try ExperimentConfig.decode(yaml: text)
        #expect(config.tokenizer.vocabSize == 700)
        #expect(config.model.vocabSize == 700)
        guard case .tokenizer(let t) = config.stages[0] else { Issue.record("kind"); return }
        #expect(t.vocabSize == 700 && t.corpusDocuments == 2000)
    }

    @Test func environmentSettingsAreResolvedWithDefaults() throws {
        let config = try ExperimentConfig.decode(yaml: experimentText())
        let settings = config.environments[0].settings
        #expect(settings["max_digits"] == .int(2))
        #expect(settings["min_operands"] == .int(2))
        #expect(settings["operators"] == .list([.string("+"), .string("-"), .string("*"), .string("//")]))
    }

    @Test func scheduleMapping() {
        #expect(LRScheduleKind.constant.schedule(warmupSteps: 0, steps: 10, minLRRatio: 0.1) == .constant)
        let warm = LRScheduleKind.constant.schedule(warmupSteps: 5, steps: 100, minLRRatio: 0.1)
        #expect(warm.lr(step: 50, peak: 1) == 1)
        #expect(warm.lr(step: 0, peak: 1) < 1)
    }
}

@Suite struct ConfigTextTests {
    @Test func awkwardStringsRoundTrip() throws {
        let prompts = ["yes", "123", "", "a: b # c", "- x", "say \"hi\"\nthen\tstop", "naïve ✓", "null", "1e-5"]
        for prompt in prompts {
            let value = ConfigValue.map([.init("system_prompt", .string(prompt))])
            let text = experimentText().replacingOccurrences(of: "settings: {max_digits: 2}",
                                                              with: "settings: {max_digits: 2, system_prompt: \(jsonStringLiteral(prompt))}")
            let config = try ExperimentConfig.decode(yaml: text)
            #expect(config.environments[0].settings["system_prompt"] == value["system_prompt"], "\(prompt)")
            let again = try ExperimentConfig.decode(yaml: config.resolvedYAML())
            #expect(again == config, "\(prompt)")
        }
    }

    @Test func numbersKeepTheirKind() throws {
        let value = ConfigValue.map([.init("a", .int(3)), .init("b", .double(3)), .init("c", .double(1e-5)), .init("d", .bool(true)),
                                     .init("e", .null), .init("f", .list([])), .init("g", .map([]))])
        #expect(value.yamlText == "a: 3\nb: 3.0\nc: 1e-05\nd: true\ne: null\nf: []\ng: {}\n")
        #expect(value.jsonText.contains("\"b\": 3.0"))
    }
}

@Suite struct ConfigInCodeTests {
    @Test func builtInCodeIsResolved() throws {
        var eval = EvalStage()
        eval.name = "before_rl"
        let config = try ExperimentConfig(
            name: "code", environments: [EnvironmentSpec(name: "counting")],
            stages: [.tokenizer(TokenizerStage()), .pretrain(PretrainStage()), .eval(eval), .grpo(GRPOStage()), .eval(EvalStage())])
        #expect(config.stages.map(\.name) == ["tokenizer", "pretrain", "before_rl", "grpo", "eval_2"])
        #expect(config.model.vocabSize == 1024)
        let decoded = try ExperimentConfig.decode(yaml: config.resolvedYAML())
        #expect(decoded.stages == config.stages)
        #expect(throws: ExperimentConfigError.self) {
            try ExperimentConfig(name: "bad", environments: [EnvironmentSpec(name: "counting")], stages: [.pretrain(PretrainStage())])
        }
    }
}

/// An environment's `tools:` key: its tasks, demonstrations and rollouts see only those tools.
@Suite struct EnvironmentToolsTests {
    static let text = """
        name: t
        environments:
          - name: arithmetic
          - name: counting
            tools: []
        stages:
          - stage: tokenizer
        """

    @Test func toolsKeyLimitsTasksAndDemonstrations() throws {
        let config = try ExperimentConfig.decode(yaml: Self.text)
        #expect(config.environments[0].tools == nil && config.environments[1].tools == [])
        let arithmetic = try LabEnvironment(spec: config.environments[0]).environment
        let counting = try LabEnvironment(spec: config.environments[1]).environment
        var rng = RNG(seed: 1)
        #expect(arithmetic.sample(&rng).tools == [.python])
        let task = counting.sample(&rng)
        #expect(task.tools.isEmpty)
        #expect(!counting.styles.contains(.tool) && arithmetic.styles.contains(.tool))
        // A tool demonstration falls back to a direct answer, which still grades as correct.
        let shown = counting.demonstration(task, style: .tool)
        #expect(!shown.segments.contains { if case .toolCall = $0 { true } else { false } })
        #expect(counting.verify(task, shown).kind == .correct)
        // The same task from the unlimited environment keeps its python call.
        var again = RNG(seed: 1)
        _ = arithmetic.sample(&again)
        let free = try config.environments[1].make()
        #expect(free.demonstration(free.sample(&again), style: .tool).segments.contains { if case .toolCall = $0 { true } else { false } })
    }

    @Test func unknownToolIsLocated() throws {
        let bad = Self.text.replacingOccurrences(of: "tools: []", with: "tools: [pyhton]")
        let error = try #require(configError(bad))
        #expect(error.keyPath.hasPrefix("environments[1].tools"), "\(error)")
        #expect(error.line == 5, "\(error)")
    }
}

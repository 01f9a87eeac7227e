// experiments/hf-grpo.yaml on a model brought from elsewhere: a random tiny LlamaForCausalLM
// directory with a ChatML tokenizer and chat template (the TokenizationTests fixture that
// `transformers` rendered), as a Hub download looks. The grpo stage must start from its weights
// (`init_from`), render prompts in its format, stop at its end of turn, and write checkpoints
// that keep the format; a missing directory is a clear error.

import Foundation
import Testing
@testable import Experiments
import Model
import Storage
import Tokenization

@Suite(.serialized) struct HubModelRunTests {
    static let root = RunnerTests.root
    static let chatML = root.appendingPathComponent("Tests/TokenizationTests/ChatTemplates/chatml_default_system")

    /// A Hub-style directory: config.json + model.safetensors of a random model, and the
    /// fixture's tokenizer.json and tokenizer_config.json (chat_template with a default system).
    static func hubModel(in dir: URL) throws -> (URL, Transformer) {
        let hub = dir.appendingPathComponent("hub-model")
        let vocab = try Tokenizer.load(tokenizerJSON: chatML.appendingPathComponent("tokenizer.json")).vocabSize
        let model = try Transformer(config: ModelConfig(vocabSize: vocab, dModel: 32, nLayers: 2, nHeads: 4, nKVHeads: 2, maxSeqLen: 256), seed: 5)
        try Checkpoint.save(model: model, to: hub)
        for file in ["tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: chatML.appendingPathComponent(file), to: hub.appendingPathComponent(file))
        }
        return (hub, model)
    }

    @Test func grpoStartsFromAHubDirectoryInItsOwnFormat() throws {
        let dir = try RunnerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (hub, start) = try Self.hubModel(in: dir)
        let overrides = try ["stages.before_rl.init_from=\(hub.path)", "stages.before_rl.tasks=3", "stages.before_rl.max_new_tokens=12",
                             "stages.grpo.init_from=\(hub.path)", "stages.grpo.steps=2", "stages.grpo.prompts_per_step=2",
                             "stages.grpo.num_generations=2", "stages.grpo.max_completion_length=12", "stages.grpo.eval_every=2",
                             "stages.grpo.eval_tasks=2", "stages.grpo.checkpoint_every=2", "stages.after_rl.tasks=3",
                             "stages.after_rl.max_new_tokens=12"].map(ConfigOverride.init)
        let config = try ExperimentConfig.load(path: Self.root.appendingPathComponent("experiments/hf-grpo.yaml").path, overrides: overrides)
        let store = try RunStore.open(path: dir.appendingPathComponent("ponder.sqlite").path)
        let runner = try RunnerTests.run(config, in: dir, store: store, resume: false, stopAfter: nil)
        #expect(!runner.interrupted)
        #expect(try store.runs().allSatisfy { $0.run.status == .completed })

        let grpo = try store.findRun("hf-grpo/grpo")
        let rollouts = try store.rollouts(run: grpo.id!)
        #expect(rollouts.count == 2 * 2 * 2)
        // The runner rendered with the directory's tokenizer and template: ChatML turns with the
        // template's default system message, generation opened by "<|im_start|>assistant\n".
        let tok = try #require(runner.tokenizer)
        #expect(tok.chatTemplate.family == .chatml && tok.vocabSize == start.config.vocabSize)
        let rendered = tok.decode(try tok.renderForCompletion(.init(user: rollouts[0].rollout.prompt)))
        #expect(rendered == "<|im_start|>system\nYou are a small helpful model. Answer briefly.<|im_end|>\n<|im_start|>user\n"
                + rollouts[0].rollout.prompt + "<|im_end|>\n<|im_start|>assistant\n")
        // The checkpoint keeps the tokenizer, the template and the model's shape. (Its weights may
        // not move: a random model earns no reward, so every advantage is 0.)
        let out = dir.appendingPathComponent("runs/hf-grpo/grpo")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("chat_template.jinja").path))
        let reloaded = try Tokenizer.load(checkpointDirectory: out)
        #expect(reloaded.chatTemplate.family == .chatml)
        #expect(reloaded.chatTemplate.defaultSystem == "You are a small helpful model. Answer briefly.")
        let (trained, _) = try Checkpoint.load(from: out)
        #expect(trained.config.vocabSize == start.config.vocabSize && trained.config.nKVHeads == 2)
        // before_rl graded the directory itself, after_rl the trained checkpoint, on the same tasks.
        #expect(runner.evals.map(\.stage) == ["before_rl", "after_rl"] && runner.evals.allSatisfy { $0.graded == 3 })
        let evalRuns = try store.runs().filter { $0.run.stage == "before_rl" }.map { try store.evals(run: $0.run.id!) }
        #expect(evalRuns.first?.first?.checkpoint == hub.standardizedFileURL.path)
    }

    /// Tools in a Hub format, end to end: SFT from the directory on python demonstrations
    /// (rendered as `<python>...</python><output>...</output>` tags, the output unlearned) teaches
    /// the tiny model to write the tags; GRPO's rollouts then run its calls in the real sandbox
    /// and carry the output the engine forced.
    @Test func toolDemonstrationsTeachAHubModelToCallPython() throws {
        let dir = try RunnerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (hub, _) = try Self.hubModel(in: dir)
        let yaml = """
            name: hub-tool
            seed: 0
            environments:
              - name: arithmetic
                settings: {min_operands: 2, max_operands: 2, max_digits: 1, parentheses: 0}
                tools: [python]
            stages:
              - stage: sft
                init_from: \(hub.path)
                steps: 200
                batch_size: 16
                seq_len: 128
                learning_rate: 3.0e-3
                examples: 1000
                styles: {tool: 1}
              - stage: grpo
                steps: 1
                prompts_per_step: 2
                num_generations: 2
                max_completion_length: 64
                temperature: 0.5
                eval_tasks: 2
                rewards:
                  - name: accuracy
            """
        let file = dir.appendingPathComponent("hub-tool.yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        let store = try RunStore.open(path: dir.appendingPathComponent("ponder.sqlite").path)
        let runner = try RunnerTests.run(try ExperimentConfig.load(path: file.path), in: dir, store: store, resume: false, stopAfter: nil)
        #expect(!runner.interrupted)
        let rollouts = try store.rollouts(run: try store.findRun("hub-tool/grpo").id!).map(\.rollout)
        #expect(rollouts.count == 4)
        struct Call: Decodable { var tool: String; var input: String; var output: String }
        let calls = try rollouts.flatMap { r in try JSONDecoder().decode([Call].self, from: Data((r.toolCalls ?? "[]").utf8)).map { (r, $0) } }
        #expect(!calls.isEmpty, "no rollout called python: \(rollouts.map(\.completion))")
        var checked = 0
        for (rollout, call) in calls {
            // The completion holds the call and, after it, the output the engine forced (cut
            // where the completion reached its length).
            let marker = "<python>\(call.input)</python><output>"
            let after = rollout.completion.components(separatedBy: marker).dropFirst().first ?? ""
            #expect(call.tool == "python" && !call.output.isEmpty, "\(call)")
            #expect(!after.isEmpty && ((call.output + "</output>").hasPrefix(after) || after.hasPrefix(call.output + "</output>")),
                    "\(rollout.completion.debugDescription) \(call)")
            // The sandbox ran the code: a well-formed `print(a op b)` printed its value.
            let words = call.input.dropFirst("print(".count).dropLast().split(separator: " ")
            guard call.input.hasPrefix("print("), call.input.hasSuffix(")"), words.count == 3,
                  let a = Int(words[0]), let b = Int(words[2]) else { continue }
            let value: Int? = switch words[1] { case "+": a + b; case "-": a - b; case "*": a * b; default: nil }
            guard let value else { continue }
            #expect(call.output == "\(value)\n", "\(call)")
            checked += 1
        }
        #expect(checked > 0, "no well-formed call among \(calls.map(\.1.input))")
    }

    /// The RLHF stages from the same directory: a reward model on verifier-labelled pairs of the
    /// model's own samples, PPO against it and DPO on synthetic pairs, all in the ChatML format.
    @Test func rlhfStagesStartFromAHubDirectory() throws {
        let dir = try RunnerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (hub, _) = try Self.hubModel(in: dir)
        let yaml = """
            name: hub-rlhf
            seed: 3
            environments:
              - name: arithmetic
                settings: {max_operands: 2, max_digits: 1, parentheses: 0}
                tools: []
            stages:
              - stage: reward_model
                init_from: \(hub.path)
                ensemble: 2
                steps: 2
                batch_size: 2
                checkpoint_every: 2
                preferences: {source: verifier, pairs: 4, validation_pairs: 2, samples: 4, max_new_tokens: 8}
              - stage: ppo
                init_from: \(hub.path)
                steps: 1
                prompts_per_step: 2
                num_generations: 2
                max_completion_length: 8
                eval_tasks: 2
                eval_every: 1
                checkpoint_every: 1
                rewards:
                  - {name: reward_model, params: {stage: reward_model}}
              - stage: dpo
                init_from: \(hub.path)
                steps: 1
                batch_size: 2
                checkpoint_every: 1
                preferences: {source: synthetic, pairs: 4, validation_pairs: 2}
            """
        let file = dir.appendingPathComponent("hub-rlhf.yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        let config = try ExperimentConfig.load(path: file.path)
        let store = try RunStore.open(path: dir.appendingPathComponent("ponder.sqlite").path)
        let runner = try RunnerTests.run(config, in: dir, store: store, resume: false, stopAfter: nil)
        #expect(!runner.interrupted)
        #expect(try store.runs().map(\.run.status) == [.completed, .completed, .completed])
        for stage in ["reward_model/member-1", "ppo", "dpo"] {
            let out = dir.appendingPathComponent("runs/hub-rlhf/\(stage)")
            #expect(try Tokenizer.load(checkpointDirectory: out).chatTemplate.family == .chatml, "\(stage)")
        }
        // Run again with --resume: every stage is skipped, and the tokenizer is the directory's
        // again (the ensemble's folder holds none of its own).
        let again = try RunnerTests.run(config, in: dir, store: store, resume: true, stopAfter: nil)
        #expect(try store.runs().count == 3)
        #expect(again.tokenizer?.chatTemplate.family == .chatml)
        // `from` and `init_from` together are refused where they are written.
        let both = yaml.replacingOccurrences(of: "  - stage: dpo\n", with: "  - stage: dpo\n    from: ppo\n")
        try both.write(to: file, atomically: true, encoding: .utf8)
        #expect { try ExperimentConfig.load(path: file.path) } throws: { "\($0)".contains("give `from: STAGE` or `init_from: DIR`, not both") }
    }

    /// Without a tokenizer stage, every stage up to the first training one needs `init_from`,
    /// and a tokenizer stage after it is refused.
    @Test func stagesBeforeTheModelIsKnownAreRefused() throws {
        let file = Self.root.appendingPathComponent("experiments/hf-grpo.yaml").path
        #expect {
            try ExperimentConfig.load(path: file, overrides: [ConfigOverride("stages.before_rl.init_from=''")])
        } throws: { "\($0)".contains("found `eval` without `init_from`") }
        #expect {
            try ExperimentConfig.load(path: file, overrides: [ConfigOverride("stages.grpo.init_from=''")])
        } throws: { "\($0)".contains("found `grpo` without `init_from`") }
        #expect(try ExperimentConfig.load(path: file).stages.map(\.kind) == [.eval, .grpo, .eval])
    }

    @Test func initFromADirectoryWithoutAModelIsAClearError() throws {
        let dir = try RunnerTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("no-model").path
        let config = try ExperimentConfig.load(path: Self.root.appendingPathComponent("experiments/hf-grpo.yaml").path,
                                               overrides: [ConfigOverride("stages.before_rl.init_from=\(missing)"),
                                                           ConfigOverride("stages.grpo.init_from=\(missing)")])
        let store = try RunStore.open(path: dir.appendingPathComponent("ponder.sqlite").path)
        #expect {
            try RunnerTests.run(config, in: dir, store: store, resume: false, stopAfter: nil)
        } throws: { "\($0)".contains("stage before_rl: init_from \(missing): no config.json there") }
    }
}

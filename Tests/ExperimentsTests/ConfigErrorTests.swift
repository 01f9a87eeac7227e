// Bad experiment files: every problem names the file, line, column, key path and the fix.
import Foundation
import Testing
@testable import Experiments

/// The error decoding `text` (as file x.yaml) throws; nil when it decodes.
func configError(_ text: String) -> ExperimentConfigError? {
    do {
        _ = try ExperimentConfig.decode(yaml: text, file: "x.yaml")
        return nil
    } catch let error as ExperimentConfigError {
        return error
    } catch {
        Issue.record("not an ExperimentConfigError: \(error)")
        return nil
    }
}

@Suite struct ConfigErrorTests {
    @Test func unknownKeySuggestsTheClosest() throws {
        let error = try #require(configError(experimentText(stages: "    learning_rat: 0.1")))
        #expect(error.file == "x.yaml")
        #expect(error.line == 10 && error.column == 5)
        #expect(error.keyPath == "stages[1].pretrain.learning_rat")
        #expect(error.message.contains("did you mean `learning_rate`?"))
        #expect(error.description.hasPrefix("x.yaml:10:5: stages[1].pretrain.learning_rat: unknown key"))
    }

    @Test func trlNamesPointToPonderNames() throws {
        let error = try #require(configError(experimentText(stages: "  - stage: grpo\n    epsilon: 0.2")))
        #expect(error.message.contains("did you mean `eps_low`?"))
        #expect(error.keyPath == "stages[2].grpo.epsilon")
    }

    @Test func wrongType() throws {
        let error = try #require(configError(experimentText(stages: "    batch_size: abc")))
        #expect(error.line == 10 && error.column == 17)
        #expect(error.keyPath == "stages[1].pretrain.batch_size")
        #expect(error.message == "expected an integer, found 'abc'")
        let quoted = try #require(configError("seed: \"3\"\n" + experimentText()))
        #expect(quoted.message == "expected a non-negative integer, found the string '3'")
        let bool = try #require(configError(experimentText(stages: "  - stage: grpo\n    dynamic_sampling: yes")))
        #expect(bool.message == "expected true or false, found 'yes'")
    }

    @Test func outOfRange() throws {
        let error = try #require(configError(experimentText(stages: "  - stage: grpo\n    beta: -1")))
        #expect(error.description == "x.yaml:11:11: stages[2].grpo.beta: must be >= 0, found -1")
    }

    @Test func badChoiceSuggests() throws {
        let error = try #require(configError(experimentText(stages: "  - stage: grpo\n    loss_type: dapoo")))
        #expect(error.keyPath == "stages[2].grpo.loss_type")
        #expect(error.message.contains("`grpo`, `dapo`, `dr_grpo`") && error.message.contains("did you mean `dapo`?"))
    }

    @Test func environmentKnobIsLocated() throws {
        let text = experimentText().replacingOccurrences(of: "max_digits: 2", with: "max_digits: 12")
        let error = try #require(configError(text))
        #expect(error.line == 5 && error.column == 28)
        #expect(error.keyPath == "environments[0].settings.max_digits")
        #expect(error.message == "must be in 1...9, found 12")
        let typo = try #require(configError(experimentText().replacingOccurrences(of: "max_digits: 2", with: "max_digitz: 2")))
        #expect(typo.line == 5 && typo.column == 16)
        #expect(typo.message.contains("did you mean `max_digits`?"))
        let env = try #require(configError(experimentText().replacingOccurrences(of: "name: arithmetic", with: "name: arithmetc")))
        #expect(env.keyPath == "environments[0].name" && env.message.contains("did you mean `arithmetic`?"))
    }

    @Test func rewardParameterIsLocated() throws {
        let error = try #require(configError(experimentText(stages: """
          - stage: grpo
            rewards:
              - name: overlong
                params: {buffer_tokens: 0}
        """)))
        #expect(error.keyPath == "stages[2].grpo.rewards[0].params.buffer_tokens")
        #expect(error.line == 13)
        let unknown = try #require(configError(experimentText(stages: "  - stage: grpo\n    rewards: [{name: acuracy}]")))
        #expect(unknown.message.contains("did you mean `accuracy`?"))
    }

    @Test func yamlSyntaxErrorIsLocated() throws {
        let error = try #require(configError(experimentText(stages: "    batch_size: [1, 2")))
        #expect(error.line != nil && error.column != nil)
        #expect(error.message.hasPrefix("YAML syntax error:"))
        let tab = try #require(configError("name: t\nmodel:\n\tpreset: tiny\n"))
        #expect(tab.line == 3)
        let duplicate = try #require(configError(experimentText(stages: "    steps: 20")))
        #expect(duplicate.message.contains("duplicate key `steps`"))
    }

    @Test func missingFileListsTheFolder() throws {
        let path = experimentsFolder.appendingPathComponent("nope.yaml").path
        do {
            _ = try ExperimentConfig.load(path: path)
            Issue.record("loaded a missing file")
        } catch let error as ExperimentConfigError {
            #expect(error.line == nil)
            #expect(error.description.hasPrefix("\(path): no such file; the experiments folder holds: "))
            #expect(error.message.contains("quickstart.yaml") && error.message.contains("tiny.yaml"))
        }
        let typo = experimentsFolder.appendingPathComponent("quickstrt.yaml").path
        #expect(throws: ExperimentConfigError.self) { try ExperimentConfig.load(path: typo) }
        do { _ = try ExperimentConfig.load(path: typo) } catch let error as ExperimentConfigError {
            #expect(error.message.hasSuffix("did you mean quickstart.yaml?"))
        }
    }

    @Test func byteThatIsNotUTF8IsLocated() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-utf8-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bytes = Array("name: t\nseed: 1\nmodel: {preset: té".utf8) + [0xC0, 0x80] + Array("}\n".utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            _ = try ExperimentConfig.load(path: path)
            Issue.record("loaded a file that is not UTF-8")
        } catch let error as ExperimentConfigError {
            #expect(error.description == "\(path):3:19: 0xC0 (byte 35 of the file) is not UTF-8 text; save the file as UTF-8")
        }
    }

    /// Sizes whose products overflowed (d_model times 8 for the SwiGLU width) now stop at the
    /// model's limits, with the line.
    @Test func hugeModelSizesAreRangeErrors() throws {
        let width = try #require(configError(experimentText(model: "model: {preset: tiny, d_model: 9223372036854775807}")))
        #expect(width.description == "x.yaml:2:32: model.d_model: must be in 2...65536, found 9223372036854775807")
        let ffn = try #require(configError(experimentText(model: "model: {preset: tiny, ffn_hidden: 4294967296}")))
        #expect(ffn.description == "x.yaml:2:35: model.ffn_hidden: must be in 1...262144, found 4294967296")
    }

    @Test func emptyFile() throws {
        let error = try #require(configError(""))
        #expect(error.message.contains("empty"))
    }

    @Test func rlhfStageKeysAreChecked() throws {
        // A grpo-only key in a ppo stage names the key and what to use instead.
        let beta = try #require(configError(experimentText(stages: "  - stage: ppo\n    beta: 0.1")))
        #expect(beta.message.contains("`beta` is a grpo key, not a ppo one: use kl_coef"), "\(beta)")
        let noise = try #require(configError(experimentText(stages: "  - stage: reward_model\n    preferences: {noise: 0.9}")))
        #expect(noise.message.contains("must be"), "\(noise)")
        let file = try #require(configError(experimentText(stages: "  - stage: dpo\n    preferences: {source: file}")))
        #expect(file.message.contains("source: file needs `file: PATH.jsonl`"), "\(file)")
        let loss = try #require(configError(experimentText(stages: "  - stage: dpo\n    loss_type: sigmod")))
        #expect(loss.message.contains("did you mean `sigmoid`?"), "\(loss)")
        let typo = try #require(configError(experimentText(stages: "  - stage: grp")))
        #expect(typo.message.contains("did you mean `grpo`?"))
        // `from:` names an earlier training stage; preferences.from an earlier stage with pairs of its own.
        let from = try #require(configError(experimentText(stages: "  - stage: ppo\n    from: pretrian")))
        #expect(from.keyPath == "stages[2].ppo.from" && from.message.contains("did you mean `pretrain`?"), "\(from)")
        let later = try #require(configError(experimentText(stages: "  - stage: dpo\n    from: sft\n  - stage: sft\n")))
        #expect(later.message.contains("`sft` is not a training stage before this one"), "\(later)")
        let rm = "  - stage: reward_model\n    name: rm\n"
        let own = try #require(configError(experimentText(stages: rm + "  - stage: reward_model\n    preferences: {from: rm, samples: 8}")))
        #expect(own.message.contains("`samples` belongs to the stage whose pairs `from: rm` reuses"), "\(own)")
        let chain = try #require(configError(experimentText(stages: rm + "  - stage: dpo\n    name: d\n    preferences: {from: rm}\n"
                                                             + "  - stage: dpo\n    preferences: {from: d}")))
        #expect(chain.message.contains("`d` reuses another stage's pairs itself"), "\(chain)")
        let none = try #require(configError(experimentText(stages: "  - stage: dpo\n    preferences: {from: pretrain}")))
        #expect(none.message.contains("is not a reward_model or dpo stage before this one"), "\(none)")
    }

    @Test func pipelineRules() throws {
        let first = experimentText().replacingOccurrences(of: "  - stage: tokenizer\n", with: "")
        #expect(try #require(configError(first)).message.contains("first stage must be `tokenizer`"))
        let dup = try #require(configError(experimentText(stages: "  - stage: eval\n    name: pretrain")))
        #expect(dup.keyPath == "stages[2].eval.name" && dup.message.contains("unique"))
        let subset = try #require(configError(experimentText(stages: "  - stage: eval\n    environments: [counting]")))
        #expect(subset.keyPath == "stages[2].eval.environments[0]")
        let long = try #require(configError(experimentText(model: "model: {preset: tiny, max_seq_len: 64}", stages: "  - stage: grpo\n    max_completion_length: 64")))
        #expect(long.message.contains("model.max_seq_len"))
        let vocab = try #require(configError(experimentText(model: "model: {preset: tiny, vocab_size: 500}")))
        #expect(vocab.keyPath == "model.vocab_size" && vocab.line == 2)
        let greedy = try #require(configError(experimentText(stages: "  - stage: eval\n    samples: 4")))
        #expect(greedy.message.contains("temperature"))
        let heads = try #require(configError(experimentText(model: "model: {preset: tiny, n_heads: 3}")))
        #expect(heads.keyPath == "model.n_heads")
    }

    @Test func suggestionDistance() {
        #expect(Suggest.distance("kitten", "sitting") == 3)
        #expect(Suggest.closest(to: "learning_rat", in: ["learning_rate", "steps"]) == "learning_rate")
        #expect(Suggest.closest(to: "zzz", in: ["learning_rate", "steps"]) == nil)
        #expect(Suggest.closest(to: "lr", in: ["learning_rate", "steps"]) == "learning_rate")
    }
}

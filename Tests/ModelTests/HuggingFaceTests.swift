// Hugging Face checkpoints as `transformers` saves them: Ponder's logits and greedy continuations
// against the ones `transformers` computed (HuggingFace/make_fixtures.py, committed outputs), and
// the refusals of configs Ponder would compute differently.
import Foundation
import Testing
import PonderCore
@testable import Model

let huggingFaceDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("HuggingFace")

/// max |logit - reference| over every position of every prompt.
func largestLogitDifference(_ model: Transformer, _ prompts: [[Int32]], _ references: [[[Float]]]) -> Double {
    let V = model.config.vocabSize
    var worst = 0.0
    for (prompt, reference) in zip(prompts, references) {
        model.forward(tokens: prompt, B: 1, T: prompt.count)
        for t in prompt.indices {
            for v in 0..<V { worst = max(worst, abs(Double(model.logits[t * V + v]) - Double(reference[t][v]))) }
        }
    }
    return worst
}

@Suite struct HuggingFaceTests {
    struct Expected: Decodable {
        var prompts: [[Int32]]
        var logits: [[[Float]]]
        var greedy: [[Int32]]
        var min_margin: Double
    }

    static let cases = ["llama_tied_gqa", "llama3_rope_bf16", "llama_linear_rope", "qwen2_bias_sharded"]

    @Test(arguments: cases)
    func matchesTransformers(_ name: String) throws {
        let directory = huggingFaceDirectory.appendingPathComponent(name)
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: directory.appendingPathComponent("expected.json")))
        let model = try Checkpoint.load(from: directory).model
        let worst = largestLogitDifference(model, expected.prompts, expected.logits)
        #expect(worst <= 1e-4, "\(name): logits differ from transformers' by up to \(worst)")
        let engine = Engine(model: model, sequences: expected.prompts.count, maxLength: 32)
        var rng = RNG(seed: 0)
        let out = engine.generate(prompts: expected.prompts, parameters: .greedy(maxNewTokens: expected.greedy[0].count), rng: &rng)
        for (i, reference) in expected.greedy.enumerated() {
            #expect(out[i][0].tokens == reference, "\(name): greedy continuation of prompt \(i)")
        }
        print("\(name): largest logit difference from transformers \(worst)")
    }

    @Test func theFixturesCoverWhatTheyClaim() throws {
        let configs = try Dictionary(uniqueKeysWithValues: Self.cases.map { ($0, try Checkpoint.readConfig(from: huggingFaceDirectory.appendingPathComponent($0))) })
        #expect(configs["llama_tied_gqa"]?.tieEmbeddings == true && configs["llama_tied_gqa"]?.nKVHeads == 2)
        #expect(configs["llama3_rope_bf16"]?.ropeScaling?.type == .llama3 && configs["llama3_rope_bf16"]?.ropeTheta == 500_000)
        #expect(configs["llama_linear_rope"]?.ropeScaling == RopeScaling(type: .linear, factor: 2))
        #expect(configs["qwen2_bias_sharded"]?.qkvBias == true && configs["qwen2_bias_sharded"]?.tieEmbeddings == false)
        let bf16 = try SafeTensorsFile(contentsOf: huggingFaceDirectory.appendingPathComponent("llama3_rope_bf16/model.safetensors"))
        #expect(bf16.names.allSatisfy { bf16.info($0)?.dtype == .bf16 })
        let sharded = huggingFaceDirectory.appendingPathComponent("qwen2_bias_sharded")
        let files = try FileManager.default.contentsOfDirectory(atPath: sharded.path)
        #expect(!files.contains(Checkpoint.modelFile) && files.filter { $0.hasSuffix(".safetensors") }.count > 1)
    }

    /// llama3 RoPE by hand: plain frequencies 1, 0.1, 0.01, 0.001 have wavelengths 6.3, 63, 628
    /// and 6283; with 100 original positions and factors 1 and 4 the first is kept (below 25), the
    /// second interpolated, the last two divided by the factor (above 100).
    @Test func llama3FrequenciesFollowTheFormula() throws {
        let config = ModelConfig(vocabSize: 8, dModel: 8, nLayers: 1, nHeads: 1, maxSeqLen: 8, ropeTheta: 10_000,
                                 ropeScaling: RopeScaling(type: .llama3, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 100))
        let f = config.ropeInverseFrequencies()
        let smooth = (100 / (2 * Double.pi / 0.1) - 1) / (4 - 1)
        let expected = [1, (1 - smooth) * 0.1 / 8 + smooth * 0.1, 0.01 / 8, 0.001 / 8]
        for i in 0..<4 { #expect(abs(f[i] - expected[i]) <= 1e-12 * expected[i], "pair \(i): \(f[i]) vs \(expected[i])") }
        let linear = ModelConfig(vocabSize: 8, dModel: 8, nLayers: 1, nHeads: 1, maxSeqLen: 8, ropeScaling: RopeScaling(type: .linear, factor: 2))
        #expect(zip(linear.ropeInverseFrequencies(), [0.5, 0.05, 0.005, 0.0005]).allSatisfy { abs($0 - $1) <= 1e-12 * $1 })
    }

    /// Each edit of a real config.json that Ponder would compute differently is refused, naming the key.
    @Test(arguments: [
        ("architectures", #"["GemmaForCausalLM"]"#, "GemmaForCausalLM is not supported"),
        ("model_type", #""qwen2""#, "disagrees with architectures"),
        ("hidden_act", #""gelu""#, "silu"),
        ("mlp_bias", "true", "mlp_bias"),
        ("head_dim", "16", "head_dim: 16 x 4 heads"),
        ("num_experts", "8", "num_experts: a key Ponder does not know"),
        ("layer_types", #"["full_attention", "sliding_attention"]"#, "sliding_attention"),
        ("rope_parameters", #"{"rope_type": "yarn", "factor": 4.0, "rope_theta": 10000.0}"#, "rope_parameters.rope_type: yarn is not supported"),
        ("rope_parameters", #"{"rope_type": "linear", "rope_theta": 10000.0}"#, "rope_parameters.factor: missing"),
        ("tie_word_embeddings", "1", "tie_word_embeddings: must be true or false"),
        ("quantization_config", #"{"bits": 4}"#, "quantization_config"),
    ])
    func unsupportedConfigsAreRefused(_ key: String, _ json: String, _ message: String) throws {
        try withTemporaryDirectory { dir in
            let source = huggingFaceDirectory.appendingPathComponent("llama_tied_gqa")
            try FileManager.default.copyItem(at: source.appendingPathComponent(Checkpoint.modelFile), to: dir.appendingPathComponent(Checkpoint.modelFile))
            var text = try String(contentsOf: source.appendingPathComponent(Checkpoint.configFile), encoding: .utf8)
            text = text.replacingOccurrences(of: "{", with: "{\n  \"\(key)\": \(json),", options: [], range: text.range(of: "{"))
            try text.write(to: dir.appendingPathComponent(Checkpoint.configFile), atomically: true, encoding: .utf8)
            do {
                _ = try Checkpoint.load(from: dir)
                Issue.record("\(key) = \(json) was accepted")
            } catch {
                let said = "\(error)"
                #expect(said.contains(message) && said.contains(Checkpoint.configFile), "\(key): \(said)")
            }
        }
    }

    @Test func aMistralSlidingWindowShorterThanTheContextIsRefused() throws {
        let object: [String: Any] = ["architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 8, "hidden_size": 8,
                                     "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 64, "sliding_window": 32]
        let data = try JSONSerialization.data(withJSONObject: object)
        #expect(throws: ModelError.self) { try HuggingFaceConfig.modelConfig(from: data, file: "config.json") }
        var wide = object
        wide["sliding_window"] = 64
        let config = try HuggingFaceConfig.modelConfig(from: JSONSerialization.data(withJSONObject: wide), file: "config.json")
        #expect(config.maxSeqLen == 64 && config.normEps == 1e-6 && !config.tieEmbeddings)
    }

    @Test func aLlamaCheckpointWithAnOProjBiasIsRefused() throws {
        try withTemporaryDirectory { dir in
            var config = try JSONSerialization.jsonObject(with: Data(contentsOf: huggingFaceDirectory.appendingPathComponent("llama_tied_gqa/config.json"))) as! [String: Any]
            config["attention_bias"] = true
            try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent(Checkpoint.configFile))
            let biased = try Transformer(config: ModelConfig(vocabSize: 96, dModel: 32, nLayers: 2, nHeads: 4, nKVHeads: 2, ffnHidden: 64,
                                                             maxSeqLen: 64, tieEmbeddings: true, qkvBias: true))
            var writer = Checkpoint.modelWriter(biased)
            for l in 0..<2 { writer.add("model.layers.\(l).self_attn.o_proj.bias", shape: [32], floats: [Float](repeating: 0, count: 32)) }
            try writer.write(to: dir.appendingPathComponent(Checkpoint.modelFile))
            do {
                _ = try Checkpoint.load(from: dir)
                Issue.record("an o_proj bias was accepted")
            } catch {
                #expect("\(error)".contains("o_proj"), "\(error)")
            }
        }
    }

    /// A model with q/k/v biases is saved as Qwen2, whose layout it is, and reads back equal.
    @Test func qkvBiasModelsAreSavedAsQwen2() throws {
        try withTemporaryDirectory { dir in
            let model = try Transformer(config: untiedConfig)
            try Checkpoint.save(model: model, to: dir)
            let text = try String(contentsOf: dir.appendingPathComponent(Checkpoint.configFile), encoding: .utf8)
            #expect(text.contains("Qwen2ForCausalLM") && text.contains("\"qwen2\"") && !text.contains("attention_bias"))
            #expect(try Checkpoint.readConfig(from: dir) == untiedConfig)
        }
    }

    @Test func aShardIndexNamingAMissingFileIsAnError() throws {
        try withTemporaryDirectory { dir in
            let source = huggingFaceDirectory.appendingPathComponent("qwen2_bias_sharded")
            for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name != "model-00002-of-00003.safetensors" {
                try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: dir.appendingPathComponent(name))
            }
            do {
                _ = try Checkpoint.load(from: dir)
                Issue.record("a missing shard was accepted")
            } catch {
                #expect("\(error)".contains("model-00002-of-00003.safetensors, which is missing"), "\(error)")
            }
        }
    }
}

/// The other direction: checkpoints Ponder saves load in `transformers` (as Llama, or as Qwen2 when
/// they have q/k/v biases), and `transformers` computes Ponder's logits on them.
@Suite struct PonderCheckpointsInTransformersTests {
    static let cases: [(name: String, config: ModelConfig)] = [
        ("ponder_llama_tied", ModelConfig(vocabSize: 96, dModel: 32, nLayers: 2, nHeads: 4, nKVHeads: 2, ffnHidden: 64, maxSeqLen: 64)),
        ("ponder_qwen2_bias", ModelConfig(vocabSize: 96, dModel: 32, nLayers: 2, nHeads: 4, nKVHeads: 2, ffnHidden: 64, maxSeqLen: 64,
                                          ropeTheta: 1_000_000, tieEmbeddings: false, qkvBias: true)),
    ]

    struct Expected: Decodable {
        var prompts: [[Int32]]
        var logits: [[[Float]]]
        var architecture: String
    }

    @Test(arguments: [0, 1])
    func transformersComputesPondersLogits(_ index: Int) throws {
        let (name, config) = Self.cases[index]
        let directory = huggingFaceDirectory.appendingPathComponent(name)
        let model = try Transformer(config: config, seed: 7)
        if ProcessInfo.processInfo.environment["PONDER_WRITE_HF_FIXTURES"] != nil {
            try Checkpoint.save(model: model, to: directory)
            return
        }
        // The committed checkpoint is what Checkpoint.save writes for this model today.
        #expect(try String(contentsOf: directory.appendingPathComponent(Checkpoint.configFile), encoding: .utf8)
                == String(decoding: config.configJSON(), as: UTF8.self), "\(name): config.json is not what Ponder writes now")
        let saved = try Checkpoint.load(from: directory).model
        #expect(Array(saved.params.slice(0, saved.layout.count)) == Array(model.params.slice(0, model.layout.count)))
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: directory.appendingPathComponent("expected.json")))
        #expect(expected.architecture == (config.qkvBias ? "Qwen2ForCausalLM" : "LlamaForCausalLM"))
        let worst = largestLogitDifference(saved, expected.prompts, expected.logits)
        #expect(worst <= 1e-4, "\(name): transformers' logits differ from Ponder's by up to \(worst)")
        print("\(name): largest logit difference, transformers on Ponder's checkpoint: \(worst)")
    }
}

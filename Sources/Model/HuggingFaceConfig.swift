// config.json as Hugging Face writes it, read into a ModelConfig: the architectures whose
// computation is Ponder's transformer (Llama, Qwen2, and Mistral without a sliding window), the
// keys that shape it, and a refusal naming the key for anything that would compute something else.
//
// Both spellings of RoPE are read: transformers 4 writes `rope_theta` and `rope_scaling`
// ({"rope_type" or "type": "linear" | "llama3", ...}), transformers 5 writes `rope_parameters`
// ({"rope_theta", "rope_type": "default" | ...}). Defaults are those of LlamaConfig / Qwen2Config
// (untied embeddings, rms_norm_eps 1e-6, rope_theta 10000). Qwen2 always has q/k/v biases and
// none on o_proj, which is what Ponder's `qkv_bias` computes; Llama's `attention_bias: true`
// biases o_proj too, and the checkpoint's tensors say so (`Checkpoint.checkTensors`).
import Foundation

public enum HuggingFaceConfig {
    /// Architecture -> its model_type.
    public static let architectures = ["LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2", "MistralForCausalLM": "mistral"]

    /// Keys read below.
    static let shaping: Set<String> = [
        "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size",
        "max_position_embeddings", "rms_norm_eps", "tie_word_embeddings", "attention_bias", "rope_theta", "rope_scaling",
        "rope_parameters", "hidden_act", "head_dim", "mlp_bias", "sliding_window", "use_sliding_window", "layer_types",
        "rope_interleaved", "use_mrope", "partial_rotary_factor", "architectures", "model_type",
    ]

    /// Keys that do not change what the model computes: bookkeeping, token ids, dropout (zero at
    /// inference and unused by Ponder's training), generation defaults of old configs.
    static let inert: Set<String> = [
        "_name_or_path", "transformers_version", "torch_dtype", "dtype", "use_cache", "initializer_range", "bos_token_id",
        "eos_token_id", "pad_token_id", "sep_token_id", "decoder_start_token_id", "attention_dropout", "pretraining_tp",
        "max_window_layers", "is_llama_config", "output_attentions", "output_hidden_states", "return_dict", "use_return_dict",
        "tokenizer_class", "torchscript", "id2label", "label2id", "problem_type", "task_specific_params", "finetuning_task",
        "prefix", "max_length", "min_length", "do_sample", "early_stopping", "num_beams", "num_beam_groups",
        "diversity_penalty", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty", "length_penalty",
        "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids", "num_return_sequences",
        "output_scores", "return_dict_in_generate", "forced_bos_token_id", "forced_eos_token_id", "remove_invalid_values",
        "exponential_decay_length_penalty", "suppress_tokens", "begin_suppress_tokens", "chunk_size_feed_forward",
        "is_encoder_decoder", "is_decoder", "add_cross_attention", "cross_attention_hidden_size", "tie_encoder_decoder",
        "pruned_heads", "tf_legacy_loss", "use_bfloat16", "unsloth_version", "unsloth_fixed",
    ]

    /// Reads and checks config.json's text; errors name `file` and the key.
    public static func modelConfig(from data: Data, file: String) throws -> ModelConfig {
        func refuse(_ key: String, _ why: String) -> ModelError { .checkpoint("\(file): \(key): \(why)") }
        guard case .object(let object)? = try? JSONDecoder().decode(JSON.self, from: data) else {
            throw ModelError.checkpoint("\(file): not a JSON object (a model's config.json is one)")
        }
        if let unknown = object.keys.sorted().first(where: { !shaping.contains($0) && !inert.contains($0) }) {
            throw refuse(unknown, "a key Ponder does not know, so it may change the computation; Ponder loads Llama, Qwen2 and "
                         + "Mistral configs with the keys transformers writes for them (delete the key if you know it is inert)")
        }
        let modelType = try modelType(object, refuse)

        func int(_ key: String, default value: Int? = nil) throws -> Int {
            guard let raw = object[key], raw != .null else {
                if let value { return value }
                throw refuse(key, "missing; a \(modelType) config needs it")
            }
            if case .integer(let v) = raw { return v }
            guard case .number(let n) = raw, let v = Int(exactly: n) else { throw refuse(key, "must be an integer, got \(raw)") }
            return v
        }
        func float(_ value: JSON?, _ key: String, default d: Float) throws -> Float {
            guard let raw = value, raw != .null else { return d }
            guard let n = raw.number else { throw refuse(key, "must be a number, got \(raw)") }
            return Float(n)
        }
        func bool(_ key: String, default d: Bool) throws -> Bool {
            guard let raw = object[key], raw != .null else { return d }
            guard case .bool(let b) = raw else { throw refuse(key, "must be true or false, got \(raw)") }
            return b
        }

        let width = try int("hidden_size"), heads = try int("num_attention_heads")
        if let act = object["hidden_act"], act != .null, act != .string("silu") {
            throw refuse("hidden_act", "Ponder's MLP is SwiGLU with silu, got \(act)")
        }
        if try bool("mlp_bias", default: false) { throw refuse("mlp_bias", "biases on the MLP's projections are not supported") }
        for key in ["rope_interleaved", "use_mrope", "use_sliding_window"] where try bool(key, default: false) {
            throw refuse(key, "true is not supported (Ponder rotates halves of each head, over one position axis, attending to every earlier token)")
        }
        if let factor = object["partial_rotary_factor"], try float(factor, "partial_rotary_factor", default: 1) != 1 {
            throw refuse("partial_rotary_factor", "Ponder rotates the whole head, got \(factor)")
        }
        if let types = object["layer_types"], types != .null {
            guard case .array(let list) = types else { throw refuse("layer_types", "must be a list of strings") }
            if let other = list.first(where: { $0 != .string("full_attention") }) {
                throw refuse("layer_types", "layers of type \(other) are not supported; every layer must be full_attention")
            }
        }
        let positions = try int("max_position_embeddings")
        if let window = object["sliding_window"], window != .null, modelType == "mistral" {
            let w = try int("sliding_window")
            if w < positions {
                throw refuse("sliding_window", "attention limited to \(w) tokens is not supported (it equals full attention only from max_position_embeddings \(positions) up)")
            }
        }
        let (theta, scaling) = try rope(object, refuse)
        let config = ModelConfig(
            vocabSize: try int("vocab_size"), dModel: width, nLayers: try int("num_hidden_layers"), nHeads: heads,
            nKVHeads: try int("num_key_value_heads", default: heads),
            ffnHidden: try int("intermediate_size", default: ModelConfig.swigluHidden(width)),
            maxSeqLen: positions, ropeTheta: theta,
            normEps: try float(object["rms_norm_eps"], "rms_norm_eps", default: 1e-6),
            tieEmbeddings: try bool("tie_word_embeddings", default: false),
            qkvBias: modelType == "qwen2" ? true : try bool("attention_bias", default: false),
            ropeScaling: scaling)
        do {
            try config.validate()
        } catch let error as ModelError {
            throw ModelError.checkpoint("\(file): \(error)")
        }
        if let headDim = object["head_dim"], headDim != .null {
            let d = try int("head_dim")
            if d * heads != config.dModel {
                throw refuse("head_dim", "\(d) x \(heads) heads is not hidden_size \(config.dModel); Ponder's head width is hidden_size / heads")
            }
        }
        return config
    }

    /// The model type, from `architectures` and `model_type` (which must agree).
    private static func modelType(_ object: [String: JSON], _ refuse: (String, String) -> ModelError) throws -> String {
        let supported = architectures.keys.sorted().joined(separator: ", ")
        var fromArchitecture: String?
        if let raw = object["architectures"], raw != .null {
            guard case .array(let list) = raw, list.count == 1, case .string(let name) = list[0] else {
                throw refuse("architectures", "must name one architecture, got \(raw)")
            }
            guard let type = architectures[name] else { throw refuse("architectures", "\(name) is not supported; Ponder loads \(supported)") }
            fromArchitecture = type
        }
        if let raw = object["model_type"], raw != .null {
            guard case .string(let type) = raw, Set(architectures.values).contains(type) else {
                throw refuse("model_type", "\(raw) is not supported; Ponder loads \(Set(architectures.values).sorted().joined(separator: ", "))")
            }
            if let fromArchitecture, fromArchitecture != type {
                throw refuse("model_type", "\(type) disagrees with architectures (\(fromArchitecture))")
            }
            return type
        }
        guard let fromArchitecture else { throw refuse("architectures", "missing (and no model_type); Ponder loads \(supported)") }
        return fromArchitecture
    }

    /// rope_theta and the scaling, from either spelling.
    private static func rope(_ object: [String: JSON], _ refuse: (String, String) -> ModelError) throws -> (Float, RopeScaling?) {
        var theta: Float = 10_000
        if let t = object["rope_theta"]?.number { theta = Float(t) }
        var scaling: [String: JSON]?, key = "rope_scaling"
        if let raw = object["rope_scaling"], raw != .null {
            guard case .object(let map) = raw else { throw refuse(key, "must be an object or null") }
            scaling = map
        }
        if let raw = object["rope_parameters"], raw != .null {
            guard case .object(let map) = raw else { throw refuse("rope_parameters", "must be an object or null") }
            if let t = map["rope_theta"]?.number { theta = Float(t) }
            scaling = map
            key = "rope_parameters"
        }
        guard let map = scaling else { return (theta, nil) }
        var type = "default"
        if case .string(let t)? = map["rope_type"] ?? map["type"] { type = t }
        let known: Set<String> = ["rope_type", "type", "rope_theta", "factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"]
        if let extra = map.keys.sorted().first(where: { !known.contains($0) }) {
            throw refuse("\(key).\(extra)", "not supported: Ponder computes default, linear and llama3 RoPE only")
        }
        func number(_ name: String, _ d: Double? = nil) throws -> Double {
            guard let raw = map[name], raw != .null else {
                if let d { return d }
                throw refuse("\(key).\(name)", "missing; rope_type \(type) needs it")
            }
            guard let n = raw.number else { throw refuse("\(key).\(name)", "must be a number, got \(raw)") }
            return n
        }
        switch type {
        case "default":
            return (theta, nil)
        case "linear":
            return (theta, RopeScaling(type: .linear, factor: Float(try number("factor"))))
        case "llama3":
            return (theta, RopeScaling(type: .llama3, factor: Float(try number("factor")), lowFreqFactor: Float(try number("low_freq_factor")),
                                       highFreqFactor: Float(try number("high_freq_factor")),
                                       originalMaxPositions: Int(try number("original_max_position_embeddings"))))
        default:
            throw refuse("\(key).rope_type", "\(type) is not supported: Ponder computes default, linear and llama3 RoPE only")
        }
    }

    /// A JSON value, keeping true apart from 1.
    enum JSON: Decodable, Equatable, CustomStringConvertible {
        case null, bool(Bool), integer(Int), number(Double), string(String), array([JSON]), object([String: JSON])

        var number: Double? {
            switch self {
            case .integer(let i): return Double(i)
            case .number(let n): return n
            default: return nil
            }
        }

        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null }
            else if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let i = try? c.decode(Int.self) { self = .integer(i) }
            else if let n = try? c.decode(Double.self) { self = .number(n) }
            else if let s = try? c.decode(String.self) { self = .string(s) }
            else if let a = try? c.decode([JSON].self) { self = .array(a) }
            else { self = .object(try c.decode([String: JSON].self)) }
        }

        var description: String {
            switch self {
            case .null: return "null"
            case .bool(let b): return "\(b)"
            case .integer(let i): return "\(i)"
            case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? "\(Int(n))" : "\(n)"
            case .string(let s): return "\"\(s)\""
            case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
            case .object(let o): return "{" + o.keys.sorted().map { "\"\($0)\": \(o[$0]!)" }.joined(separator: ", ") + "}"
            }
        }
    }
}

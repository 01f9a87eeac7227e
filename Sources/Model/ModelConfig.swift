// ModelConfig: the size of a Llama-style transformer, with Hugging Face LlamaConfig keys.
//
// The Codable keys are the ones `config.json` uses in Hugging Face checkpoints
// (`hidden_size`, `num_attention_heads`, ...), so a Ponder checkpoint's config reads like a
// Llama one and a Llama/Qwen2 config can be read back. Swift names follow DESIGN.md.

import Foundation

public struct ModelConfig: Codable, Sendable, Equatable {
    public var vocabSize: Int
    public var dModel: Int
    public var nLayers: Int
    public var nHeads: Int
    public var nKVHeads: Int
    public var ffnHidden: Int
    public var maxSeqLen: Int
    public var ropeTheta: Float
    public var normEps: Float
    public var tieEmbeddings: Bool
    public var qkvBias: Bool

    public init(
        vocabSize: Int, dModel: Int, nLayers: Int, nHeads: Int, nKVHeads: Int? = nil,
        ffnHidden: Int? = nil, maxSeqLen: Int, ropeTheta: Float = 10_000, normEps: Float = 1e-5,
        tieEmbeddings: Bool = true, qkvBias: Bool = false
    ) {
        self.vocabSize = vocabSize
        self.dModel = dModel
        self.nLayers = nLayers
        self.nHeads = nHeads
        self.nKVHeads = nKVHeads ?? nHeads
        self.ffnHidden = ffnHidden ?? ModelConfig.swigluHidden(dModel)
        self.maxSeqLen = maxSeqLen
        self.ropeTheta = ropeTheta
        self.normEps = normEps
        self.tieEmbeddings = tieEmbeddings
        self.qkvBias = qkvBias
    }

    /// SwiGLU width: 8/3 of the model width, rounded up to a multiple of 64 (Llama practice,
    /// which keeps the MLP's parameter count close to a 4x GELU MLP). A width outside
    /// 0...maximumHiddenSize (which `validate` rejects) is clamped first, so this never overflows.
    public static func swigluHidden(_ dModel: Int) -> Int {
        let raw = (8 * min(max(dModel, 0), maximumHiddenSize) + 2) / 3
        return (raw + 63) / 64 * 64
    }

    // Largest sizes a config may give: far above any model Ponder trains or loads (Llama 3.1
    // 405B has hidden 16384, intermediate 53248, 126 layers, 128256 tokens), and small enough
    // that no product of sizes overflows. A config.json past them is corrupt.
    public static let maximumVocabSize = 1 << 24
    public static let maximumHiddenSize = 1 << 16
    public static let maximumLayers = 1 << 10
    public static let maximumIntermediateSize = 1 << 18
    public static let maximumPositions = 1 << 24

    public var headDim: Int { dModel / nHeads }

    /// Checks the sizes fit together; the error names the field and the rule.
    public func validate() throws {
        func fail(_ field: String, _ rule: String) throws -> Never {
            throw ModelError.invalidConfig("\(field): \(rule)")
        }
        func check(_ value: Int, _ field: String, in range: ClosedRange<Int>) throws {
            if !range.contains(value) { try fail(field, "must be in \(range.lowerBound)...\(range.upperBound), got \(value)") }
        }
        try check(vocabSize, "vocab_size", in: 1...ModelConfig.maximumVocabSize)
        try check(dModel, "hidden_size", in: 2...ModelConfig.maximumHiddenSize)
        try check(nLayers, "num_hidden_layers", in: 1...ModelConfig.maximumLayers)
        if nHeads < 1 || dModel % nHeads != 0 {
            try fail("num_attention_heads", "must divide hidden_size \(dModel), got \(nHeads)")
        }
        if headDim % 2 != 0 { try fail("num_attention_heads", "head width hidden_size / heads must be even for RoPE, got \(headDim)") }
        if nKVHeads < 1 || nHeads % nKVHeads != 0 {
            try fail("num_key_value_heads", "must divide num_attention_heads \(nHeads), got \(nKVHeads)")
        }
        try check(ffnHidden, "intermediate_size", in: 1...ModelConfig.maximumIntermediateSize)
        try check(maxSeqLen, "max_position_embeddings", in: 1...ModelConfig.maximumPositions)
        if !(ropeTheta > 0) { try fail("rope_theta", "must be > 0, got \(ropeTheta)") }
        if !(normEps > 0) { try fail("rms_norm_eps", "must be > 0, got \(normEps)") }
    }

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size"
        case dModel = "hidden_size"
        case nLayers = "num_hidden_layers"
        case nHeads = "num_attention_heads"
        case nKVHeads = "num_key_value_heads"
        case ffnHidden = "intermediate_size"
        case maxSeqLen = "max_position_embeddings"
        case ropeTheta = "rope_theta"
        case normEps = "rms_norm_eps"
        case tieEmbeddings = "tie_word_embeddings"
        case qkvBias = "attention_bias"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let heads = try c.decode(Int.self, forKey: .nHeads)
        let width = try c.decode(Int.self, forKey: .dModel)
        self.init(
            vocabSize: try c.decode(Int.self, forKey: .vocabSize),
            dModel: width,
            nLayers: try c.decode(Int.self, forKey: .nLayers),
            nHeads: heads,
            nKVHeads: try c.decodeIfPresent(Int.self, forKey: .nKVHeads) ?? heads,
            ffnHidden: try c.decodeIfPresent(Int.self, forKey: .ffnHidden) ?? ModelConfig.swigluHidden(width),
            maxSeqLen: try c.decode(Int.self, forKey: .maxSeqLen),
            ropeTheta: try c.decodeIfPresent(Float.self, forKey: .ropeTheta) ?? 10_000,
            normEps: try c.decodeIfPresent(Float.self, forKey: .normEps) ?? 1e-5,
            tieEmbeddings: try c.decodeIfPresent(Bool.self, forKey: .tieEmbeddings) ?? false,
            qkvBias: try c.decodeIfPresent(Bool.self, forKey: .qkvBias) ?? false)
    }

    /// The config.json text: LlamaConfig keys plus the fixed ones HF tools expect.
    public func configJSON() throws -> Data {
        var object: [String: Any] = [
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_act": "silu",
            "torch_dtype": "float32",
            "head_dim": headDim,
            "mlp_bias": false,
        ]
        let own = try JSONSerialization.jsonObject(with: JSONEncoder().encode(self)) as! [String: Any]
        object.merge(own) { _, new in new }
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }
}

extension ModelConfig {
    /// The benchmark sizes of `ponder bench` (issue 2), also usable as experiment presets.
    public static let presets: [String: ModelConfig] = [
        "tiny": ModelConfig(vocabSize: 512, dModel: 128, nLayers: 4, nHeads: 4, maxSeqLen: 256),
        "small": ModelConfig(vocabSize: 4096, dModel: 256, nLayers: 6, nHeads: 8, maxSeqLen: 512),
        "medium": ModelConfig(vocabSize: 8192, dModel: 512, nLayers: 8, nHeads: 8, maxSeqLen: 512),
    ]
}

public enum ModelError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(String)
    case checkpoint(String)

    public var description: String {
        switch self {
        case .invalidConfig(let s): return "invalid model config: \(s)"
        case .checkpoint(let s): return s
        }
    }
}

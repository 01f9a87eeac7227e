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
    /// Scaled RoPE frequencies (Hugging Face `rope_scaling`); nil: plain RoPE.
    public var ropeScaling: RopeScaling?

    public init(
        vocabSize: Int, dModel: Int, nLayers: Int, nHeads: Int, nKVHeads: Int? = nil,
        ffnHidden: Int? = nil, maxSeqLen: Int, ropeTheta: Float = 10_000, normEps: Float = 1e-5,
        tieEmbeddings: Bool = true, qkvBias: Bool = false, ropeScaling: RopeScaling? = nil
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
        self.ropeScaling = ropeScaling
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
        if let r = ropeScaling {
            if !(r.factor >= 1) { try fail("rope_scaling.factor", "must be >= 1, got \(r.factor)") }
            if r.type == .llama3 {
                if !(r.lowFreqFactor > 0 && r.highFreqFactor > r.lowFreqFactor) {
                    try fail("rope_scaling", "llama3 needs 0 < low_freq_factor < high_freq_factor, got \(r.lowFreqFactor) and \(r.highFreqFactor)")
                }
                if r.originalMaxPositions < 1 { try fail("rope_scaling.original_max_position_embeddings", "must be >= 1, got \(r.originalMaxPositions)") }
            }
        }
    }

    /// RoPE's angle per position for each of the head's D/2 pairs: theta^(-2i/D), then scaled
    /// as `transformers` scales them (`linear`: divided by the factor; `llama3`: divided for
    /// wavelengths longer than original / low_freq_factor, kept below original / high_freq_factor,
    /// interpolated between).
    public func ropeInverseFrequencies() -> [Double] {
        let D = headDim
        let plain = (0..<D / 2).map { 1 / pow(Double(ropeTheta), Double(2 * $0) / Double(D)) }
        guard let r = ropeScaling else { return plain }
        let factor = Double(r.factor)
        switch r.type {
        case .linear:
            return plain.map { $0 / factor }
        case .llama3:
            let original = Double(r.originalMaxPositions), low = Double(r.lowFreqFactor), high = Double(r.highFreqFactor)
            return plain.map { f in
                let wavelength = 2 * Double.pi / f
                if wavelength > original / low { return f / factor }
                if wavelength < original / high { return f }
                let smooth = (original / wavelength - low) / (high - low)
                return (1 - smooth) * f / factor + smooth * f
            }
        }
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
        case ropeScaling = "rope_scaling"
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
            qkvBias: try c.decodeIfPresent(Bool.self, forKey: .qkvBias) ?? false,
            ropeScaling: try c.decodeIfPresent(RopeScaling.self, forKey: .ropeScaling))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(dModel, forKey: .dModel)
        try c.encode(nLayers, forKey: .nLayers)
        try c.encode(nHeads, forKey: .nHeads)
        try c.encode(nKVHeads, forKey: .nKVHeads)
        try c.encode(ffnHidden, forKey: .ffnHidden)
        try c.encode(maxSeqLen, forKey: .maxSeqLen)
        try c.encode(ropeTheta, forKey: .ropeTheta)
        try c.encode(normEps, forKey: .normEps)
        try c.encode(tieEmbeddings, forKey: .tieEmbeddings)
        try c.encode(qkvBias, forKey: .qkvBias)
        try c.encodeIfPresent(ropeScaling, forKey: .ropeScaling)
    }

    /// The config.json text: LlamaConfig keys plus the fixed ones HF tools expect. A model with
    /// q/k/v biases is written as Qwen2 (Llama's `attention_bias` would add one to o_proj too).
    public func configJSON() throws -> Data {
        var object: [String: Any] = [
            "architectures": [qkvBias ? "Qwen2ForCausalLM" : "LlamaForCausalLM"],
            "model_type": qkvBias ? "qwen2" : "llama",
            "hidden_act": "silu",
            "torch_dtype": "float32",
            "head_dim": headDim,
            "mlp_bias": false,
        ]
        let own = try JSONSerialization.jsonObject(with: JSONEncoder().encode(self)) as! [String: Any]
        object.merge(own) { _, new in new }
        if qkvBias { object["attention_bias"] = nil }
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }
}

/// Hugging Face's `rope_scaling` of the kinds Ponder computes exactly (`rope_type` linear or
/// llama3); HF names in JSON.
public struct RopeScaling: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case linear, llama3 }
    public var type: Kind
    public var factor: Float
    /// llama3 only.
    public var lowFreqFactor: Float = 1, highFreqFactor: Float = 4
    public var originalMaxPositions: Int = 8192

    public init(type: Kind, factor: Float, lowFreqFactor: Float = 1, highFreqFactor: Float = 4, originalMaxPositions: Int = 8192) {
        self.type = type
        self.factor = factor
        self.lowFreqFactor = lowFreqFactor
        self.highFreqFactor = highFreqFactor
        self.originalMaxPositions = originalMaxPositions
    }

    enum CodingKeys: String, CodingKey {
        case type = "rope_type", factor, lowFreqFactor = "low_freq_factor", highFreqFactor = "high_freq_factor"
        case originalMaxPositions = "original_max_position_embeddings"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(type: try c.decode(Kind.self, forKey: .type), factor: try c.decode(Float.self, forKey: .factor),
                  lowFreqFactor: try c.decodeIfPresent(Float.self, forKey: .lowFreqFactor) ?? 1,
                  highFreqFactor: try c.decodeIfPresent(Float.self, forKey: .highFreqFactor) ?? 4,
                  originalMaxPositions: try c.decodeIfPresent(Int.self, forKey: .originalMaxPositions) ?? 8192)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(type, forKey: .type)
        try c.encode(factor, forKey: .factor)
        if type == .llama3 {
            try c.encode(lowFreqFactor, forKey: .lowFreqFactor)
            try c.encode(highFreqFactor, forKey: .highFreqFactor)
            try c.encode(originalMaxPositions, forKey: .originalMaxPositions)
        }
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

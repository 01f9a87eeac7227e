// The `model:` and `tokenizer:` sections of an experiment file.
//
// model: a preset (`tiny`, `small`, `medium` from ModelConfig.presets) with optional overrides,
// or explicit sizes. The vocabulary size comes from the tokenizer the experiment trains; a
// `vocab_size` written here must agree with it. Keys use Ponder's names (d_model, n_layers),
// not Hugging Face's (hidden_size, ...); checkpoints still write HF keys in config.json.
import Foundation
import Model
import Tokenization

/// `model:`. After decoding every size is filled in (from the preset, the tokenizer, or the
/// derived defaults), so `modelConfig` needs nothing else.
public struct ModelSection: Codable, Sendable, Equatable {
    public enum Preset: String, Codable, Sendable, CaseIterable, ConfigChoice {
        case tiny, small, medium
    }

    /// Start from this preset (`tiny`: d_model 128, 4 layers, 4 heads, seq 256; `small`: 256, 6, 8,
    /// 512; `medium`: 512, 8, 8, 512); keys given beside it override it. Default: none (then
    /// d_model, n_layers, n_heads and max_seq_len are required).
    public var preset: Preset?
    /// Vocabulary size. Default: the tokenizer's `vocab_size`; if given, must equal it.
    public var vocabSize: Int
    /// Residual stream width (Hugging Face `hidden_size`).
    public var dModel: Int
    /// Transformer blocks.
    public var nLayers: Int
    /// Attention heads; must divide d_model, and d_model / n_heads must be even (RoPE).
    public var nHeads: Int
    /// Key/value heads (grouped-query attention); must divide n_heads. Default: n_heads.
    public var nKVHeads: Int
    /// SwiGLU hidden width. Default: 8/3 d_model rounded up to a multiple of 64.
    public var ffnHidden: Int
    /// Longest sequence (prompt + completion) the model handles; RoPE tables are this long.
    public var maxSeqLen: Int
    /// RoPE base. Default 10000.
    public var ropeTheta: Double
    /// RMSNorm epsilon. Default 1e-5.
    public var normEps: Double
    /// Share the embedding matrix with the LM head. Default true (saves a V x d_model matrix,
    /// a large share of a small model).
    public var tieEmbeddings: Bool
    /// Bias on the q/k/v projections (Qwen2 style). Default false.
    public var qkvBias: Bool

    /// A preset's sizes; `vocabSize` 0 (the experiment takes the tokenizer's).
    public init(preset: Preset = .tiny) {
        let p = ModelConfig.presets[preset.rawValue]!
        self.init(p)
        self.preset = preset
        vocabSize = 0
    }

    public init(_ config: ModelConfig) {
        preset = nil
        vocabSize = config.vocabSize
        dModel = config.dModel
        nLayers = config.nLayers
        nHeads = config.nHeads
        nKVHeads = config.nKVHeads
        ffnHidden = config.ffnHidden
        maxSeqLen = config.maxSeqLen
        ropeTheta = Double("\(config.ropeTheta)") ?? Double(config.ropeTheta)
        normEps = Double("\(config.normEps)") ?? Double(config.normEps)  // 1e-5, not 9.99999974e-06
        tieEmbeddings = config.tieEmbeddings
        qkvBias = config.qkvBias
    }

    /// The model's config for the Model module.
    public var modelConfig: ModelConfig {
        ModelConfig(vocabSize: vocabSize, dModel: dModel, nLayers: nLayers, nHeads: nHeads, nKVHeads: nKVHeads,
                    ffnHidden: ffnHidden, maxSeqLen: maxSeqLen, ropeTheta: Float(ropeTheta), normEps: Float(normEps),
                    tieEmbeddings: tieEmbeddings, qkvBias: qkvBias)
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case preset
        case vocabSize = "vocab_size", dModel = "d_model", nLayers = "n_layers", nHeads = "n_heads"
        case nKVHeads = "n_kv_heads", ffnHidden = "ffn_hidden", maxSeqLen = "max_seq_len"
        case ropeTheta = "rope_theta", normEps = "norm_eps", tieEmbeddings = "tie_embeddings", qkvBias = "qkv_bias"
    }

    /// The vocabulary is filled in by the experiment (from the tokenizer); until then it is 0.
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self, in: "the model section")
        let preset = try c.decodeIfPresent(Preset.self, forKey: .preset)
        if let preset {
            self.init(preset: preset)
        } else {
            let required: [CodingKeys] = [.dModel, .nLayers, .nHeads, .maxSeqLen]
            if let missing = required.first(where: { !c.contains($0) }) {
                throw ConfigIssue(path: decoder.codingPath, message: "missing `\(missing.stringValue)`: give a `preset` ("
                                  + Preset.choices.joined(separator: ", ") + ") or d_model, n_layers, n_heads and max_seq_len")
            }
            self.init(preset: .tiny)
            self.preset = nil
        }
        if c.contains(.vocabSize) { try c.fill(&vocabSize, .vocabSize, .atLeast(1)) }
        try c.fill(&dModel, .dModel, .between(2, ModelConfig.maximumHiddenSize))
        try c.fill(&nLayers, .nLayers, .between(1, 256))
        try c.fill(&nHeads, .nHeads, .atLeast(1))
        nKVHeads = nHeads
        try c.fill(&nKVHeads, .nKVHeads, .atLeast(1))
        // A preset's derived widths follow an overridden d_model unless given.
        ffnHidden = ModelConfig.swigluHidden(dModel)
        try c.fill(&ffnHidden, .ffnHidden, .between(1, ModelConfig.maximumIntermediateSize))
        try c.fill(&maxSeqLen, .maxSeqLen, .between(8, 1 << 20))
        try c.fill(&ropeTheta, .ropeTheta, .greaterThan(0))
        try c.fill(&normEps, .normEps, .aboveUpTo(0, 1))
        try c.fill(&tieEmbeddings, .tieEmbeddings)
        try c.fill(&qkvBias, .qkvBias)
        if dModel % nHeads != 0 {
            throw c.issue(.nHeads, "must divide d_model \(dModel), found \(nHeads)")
        }
        if (dModel / nHeads) % 2 != 0 {
            throw c.issue(.nHeads, "d_model / n_heads (the head width, \(dModel / nHeads)) must be even for RoPE")
        }
        if nHeads % nKVHeads != 0 {
            throw c.issue(.nKVHeads, "must divide n_heads \(nHeads), found \(nKVHeads)")
        }
    }
}

/// `tokenizer:`: the byte-level BPE the `tokenizer` stage trains (DESIGN.md §4).
public struct TokenizerSection: Codable, Sendable, Equatable {
    /// Vocabulary size, special tokens included; at least `Tokenizer.minimumVocabSize`
    /// (256 bytes + the special tokens). Default 1024: enough merges for the lab's
    /// small synthetic corpus, and a small embedding matrix.
    public var vocabSize = 1024
    /// Corpus documents drawn from each environment to train the tokenizer on. Default 2000.
    public var corpusDocuments = 2000

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case vocabSize = "vocab_size", corpusDocuments = "corpus_documents"
    }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self, in: "the tokenizer section")
        try c.fill(&vocabSize, .vocabSize, .between(Tokenizer.minimumVocabSize, 1 << 20))
        try c.fill(&corpusDocuments, .corpusDocuments, .atLeast(1))
    }
}

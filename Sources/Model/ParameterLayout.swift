// ParameterLayout: where every named tensor lives in the one flat parameter buffer.
//
// Gradients and both AdamW moments use the same layout, so one offset finds a tensor in all
// four buffers. Order, per layer, is chosen for the kernels: q, k and v projections (and their
// biases) are adjacent so a single sgemm computes all three; gate and up projections are
// adjacent for the same reason. Each layer is one contiguous run of `layerSize` parameters from
// its input norm, so a layer can be copied (or widened from BF16) alone. Names are the Hugging
// Face Llama tensor names.
//
//   model.embed_tokens.weight                        [V, C]
//   per layer i (prefix model.layers.i.):
//     input_layernorm.weight                         [C]
//     self_attn.q_proj.weight                        [H*D, C]   \
//     self_attn.k_proj.weight                        [K*D, C]    } one [(H+2K)*D, C] block
//     self_attn.v_proj.weight                        [K*D, C]   /
//     self_attn.{q,k,v}_proj.bias                    [H*D], [K*D], [K*D]   (qkv_bias only)
//     self_attn.o_proj.weight                        [C, H*D]
//     post_attention_layernorm.weight                [C]
//     mlp.gate_proj.weight                           [F, C]     \ one [2F, C] block
//     mlp.up_proj.weight                             [F, C]     /
//     mlp.down_proj.weight                           [C, F]
//   model.norm.weight                                [C]
//   lm_head.weight                                   [V, C]     (untied only)

public struct TensorSpec: Sendable, Equatable {
    public enum Kind: Sendable { case embedding, norm, matrix, bias }
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public let kind: Kind
    public var count: Int { shape.reduce(1, *) }
    /// AdamW decays matrices only, by default (norms, biases and embeddings are not decayed).
    public var decays: Bool { kind == .matrix }
}

public struct LayerOffsets: Sendable {
    public let inputNorm, qkv, qkvBias, o, postNorm, gateUp, down: Int
    /// The layer's first parameter: the layer runs contiguously from here.
    public var start: Int { inputNorm }

    /// The offsets counted from `start`: where the tensors lie in a copy of this layer alone.
    public var withinLayer: LayerOffsets {
        LayerOffsets(inputNorm: 0, qkv: qkv - start, qkvBias: qkvBias >= 0 ? qkvBias - start : -1, o: o - start,
                     postNorm: postNorm - start, gateUp: gateUp - start, down: down - start)
    }
}

public struct ParameterLayout: Sendable {
    public let tensors: [TensorSpec]
    public let count: Int
    public let embed: Int
    public let layers: [LayerOffsets]
    /// Parameters of one layer (every layer has the same).
    public let layerSize: Int
    public let finalNorm: Int
    /// Offset of the LM head's [V, C] matrix: the embedding when tied.
    public let lmHead: Int

    public init(_ c: ModelConfig) {
        var tensors: [TensorSpec] = []
        var offset = 0
        func add(_ name: String, _ shape: [Int], _ kind: TensorSpec.Kind) -> Int {
            let t = TensorSpec(name: name, shape: shape, offset: offset, kind: kind)
            tensors.append(t)
            offset += t.count
            return t.offset
        }
        let (C, HD, KD, F) = (c.dModel, c.nHeads * c.headDim, c.nKVHeads * c.headDim, c.ffnHidden)
        embed = add("model.embed_tokens.weight", [c.vocabSize, C], .embedding)
        var layers: [LayerOffsets] = []
        var layerSize = 0
        for i in 0..<c.nLayers {
            let p = "model.layers.\(i)."
            let inputNorm = add(p + "input_layernorm.weight", [C], .norm)
            let qkv = add(p + "self_attn.q_proj.weight", [HD, C], .matrix)
            _ = add(p + "self_attn.k_proj.weight", [KD, C], .matrix)
            _ = add(p + "self_attn.v_proj.weight", [KD, C], .matrix)
            var qkvBias = -1
            if c.qkvBias {
                qkvBias = add(p + "self_attn.q_proj.bias", [HD], .bias)
                _ = add(p + "self_attn.k_proj.bias", [KD], .bias)
                _ = add(p + "self_attn.v_proj.bias", [KD], .bias)
            }
            let o = add(p + "self_attn.o_proj.weight", [C, HD], .matrix)
            let postNorm = add(p + "post_attention_layernorm.weight", [C], .norm)
            let gateUp = add(p + "mlp.gate_proj.weight", [F, C], .matrix)
            _ = add(p + "mlp.up_proj.weight", [F, C], .matrix)
            let down = add(p + "mlp.down_proj.weight", [C, F], .matrix)
            layerSize = offset - inputNorm
            layers.append(LayerOffsets(inputNorm: inputNorm, qkv: qkv, qkvBias: qkvBias, o: o,
                                       postNorm: postNorm, gateUp: gateUp, down: down))
        }
        self.layers = layers
        self.layerSize = layerSize
        finalNorm = add("model.norm.weight", [C], .norm)
        lmHead = c.tieEmbeddings ? embed : add("lm_head.weight", [c.vocabSize, C], .matrix)
        self.tensors = tensors
        self.count = offset
    }

    public func tensor(named name: String) -> TensorSpec? { tensors.first { $0.name == name } }

    /// Parameters that take part in matrix products, for the FLOP count (the embedding lookup
    /// is not a product; a tied embedding counts once, as the LM head).
    public func matmulParameterCount(_ c: ModelConfig) -> Int {
        tensors.filter { $0.kind == .matrix }.reduce(0) { $0 + $1.count } + c.vocabSize * c.dModel * (c.tieEmbeddings ? 1 : 0)
    }
}

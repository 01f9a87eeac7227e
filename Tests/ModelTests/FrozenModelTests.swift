// Frozen models (the reference of grpo, ppo and dpo): no gradients, forward-only activations,
// and BF16 storage widened one layer at a time. Weights that BF16 holds exactly must give the
// F32 model's log-probs (the products still run in F32; only the LM head is split into blocks);
// other weights move them by the rounding, a little.

import Foundation
import Kernels
import PonderCore
import Testing
@testable import Model

@Suite struct FrozenModelTests {
    /// Grouped-query attention (4 query over 2 KV heads), q/k/v biases, three layers (the scratch
    /// is reused) and a vocabulary of several LM-head blocks, the last one short.
    static func config(tied: Bool) -> ModelConfig {
        ModelConfig(vocabSize: 300, dModel: 16, nLayers: 3, nHeads: 4, nKVHeads: 2, ffnHidden: 24,
                    maxSeqLen: 16, tieEmbeddings: tied, qkvBias: true)
    }

    /// Weights larger than the training init, so log-probs differ visibly between tokens;
    /// `representable` rounds each to the nearest BF16 value.
    static func model(tied: Bool, representable: Bool) throws -> Transformer {
        let m = try Transformer(config: config(tied: tied))
        var rng = RNG(seed: 8)
        for t in m.layout.tensors {
            for i in 0..<t.count {
                let noise = rng.nextGaussian()
                let w = Float(t.kind == .norm ? 1 + 0.1 * noise : 0.3 * noise)
                m.params[t.offset + i] = representable ? float(bfloat16: bfloat16(w)) : w
            }
        }
        return m
    }

    static let (B, T) = (3, 7)

    /// Log-probs of random targets after random tokens, the same batch for every model.
    static func logProbs(_ m: Transformer) -> [Float] {
        var rng = RNG(seed: 5)
        let V = m.config.vocabSize
        let tokens = (0..<(B * T)).map { _ in Int32(rng.nextInt(below: V)) }
        let targets = (0..<(B * T)).map { _ in Int32(rng.nextInt(below: V)) }
        m.forward(tokens: tokens, B: B, T: T)
        return Array(m.logProbs(targets: targets).logp)
    }

    static func worstDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    @Test(arguments: [false, true])
    func representableWeightsGiveTheSameLogProbs(tied: Bool) throws {
        let source = try Self.model(tied: tied, representable: true)
        let expected = Self.logProbs(source)
        #expect(source.layout.layerSize / source.config.dModel < source.config.vocabSize, "the BF16 head must take several blocks")
        for dtype in WeightDType.allCases {
            let frozen = try source.frozenCopy(dtype)
            let worst = Self.worstDifference(Self.logProbs(frozen), expected)
            #expect(worst <= 1e-5, "\(dtype), tied \(tied): worst |delta logp| \(worst)")
            // A second batch shape reuses nothing stale.
            source.forward(tokens: [1, 2, 3, 4], B: 2, T: 2)
            frozen.forward(tokens: [1, 2, 3, 4], B: 2, T: 2)
            #expect(Self.worstDifference(Array(frozen.logits), Array(source.logits)) <= 1e-5)
        }
    }

    @Test func arbitraryWeightsMoveLogProbsByTheRounding() throws {
        for tied in [false, true] {
            let source = try Self.model(tied: tied, representable: false)
            let expected = Self.logProbs(source)
            let worst = Self.worstDifference(Self.logProbs(try source.frozenCopy(.bfloat16)), expected)
            // BF16 keeps 8 significant bits (relative error <= 2^-9 per weight); through three
            // layers and a 300-token softmax the log-probs move by hundredths, not more.
            #expect(worst > 0, "tied \(tied)")
            #expect(worst < 0.05, "tied \(tied): worst |delta logp| \(worst)")
            #expect(Self.worstDifference(Self.logProbs(try source.frozenCopy(.float32)), expected) == 0)
        }
    }

    @Test func frozenModelsHoldNoGradients() throws {
        let config = Self.config(tied: true)
        let n = ParameterLayout(config).count
        let trainable = try Transformer(config: config)
        #expect(!trainable.isFrozen && trainable.parameterBytes == 4 * n && trainable.gradientBytes == 4 * n)
        let f32 = try Transformer(config: config, storage: .frozen(.float32))
        let bf16 = try Transformer(config: config, storage: .frozen(.bfloat16))
        #expect(f32.isFrozen && f32.grads.count == 0 && f32.gradientBytes == 0)
        #expect(bf16.isFrozen && bf16.grads.count == 0 && bf16.params.count == 0)
        #expect(f32.parameterBytes == 4 * n)
        #expect(bf16.parameterBytes == 2 * n)
        #expect(bf16.dtype == .bfloat16 && f32.dtype == .float32)

        // Forward-only activations: one layer's buffers and no backward scratch.
        let source = try Self.model(tied: true, representable: true)
        _ = Self.logProbs(source)
        let frozen = try source.frozenCopy(.float32)
        _ = Self.logProbs(frozen)
        #expect(frozen.activationBytes * 2 < source.activationBytes, "\(frozen.activationBytes) vs \(source.activationBytes)")
    }

    @Test func backwardOnAFrozenModelStops() async {
        await #expect(processExitsWith: .failure) {
            let m = try Transformer(config: FrozenModelTests.config(tied: true), storage: .frozen(.float32))
            m.forward(tokens: [1, 2], B: 1, T: 2)
            _ = m.logProbs(targets: [2, 3])
            m.backward(dlogp: [1, 1])
        }
    }

    /// An F32 checkpoint loads as BF16 rounded to nearest-even, as `frozenCopy` rounds.
    @Test func loadFrozenRoundsAnF32Checkpoint() throws {
        let source = try Self.model(tied: false, representable: false)
        try withTemporaryDirectory { dir in
            try Checkpoint.save(model: source, to: dir)
            let loaded = try Checkpoint.loadFrozen(from: dir, dtype: .bfloat16)
            let copied = try source.frozenCopy(.bfloat16)
            let (a, b) = (try #require(loaded.halfParams), try #require(copied.halfParams))
            #expect(Array(UnsafeBufferPointer(start: a.pointer, count: a.count)) == Array(UnsafeBufferPointer(start: b.pointer, count: b.count)))
            let f32 = try Checkpoint.loadFrozen(from: dir, dtype: .float32)
            #expect(f32.params.array == source.params.array && f32.isFrozen)
        }
    }

    /// A Hub checkpoint saved in BF16 loses nothing as a BF16 reference.
    @Test func bf16CheckpointLoadsExactly() throws {
        let dir = huggingFaceDirectory.appendingPathComponent("llama3_rope_bf16")
        let (full, _) = try Checkpoint.load(from: dir)
        let frozen = try Checkpoint.loadFrozen(from: dir, dtype: .bfloat16)
        let half = try #require(frozen.halfParams)
        for i in 0..<half.count { #expect(half[i] == full.params[i]) }
        let worst = Self.worstDifference(Self.logProbs(frozen), Self.logProbs(full))
        #expect(worst <= 1e-5, "worst |delta logp| \(worst)")
    }

    @Test func roundingIsToNearestEven() {
        #expect(bfloat16(1) == 0x3F80)
        #expect(bfloat16(Float(bitPattern: 0x3F80_8000)) == 0x3F80)  // tie, even below
        #expect(bfloat16(Float(bitPattern: 0x3F81_8000)) == 0x3F82)  // tie, even above
        #expect(bfloat16(Float(bitPattern: 0x3F80_8001)) == 0x3F81)  // above the tie
        #expect(bfloat16(-.infinity) == 0xFF80)
        #expect(float(bfloat16: bfloat16(.nan)).isNaN)
        #expect(float(bfloat16: bfloat16(.greatestFiniteMagnitude)) == .infinity)
    }
}

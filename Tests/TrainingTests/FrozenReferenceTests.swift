// The frozen reference in GRPO's KL term: the policy's own weights as a BF16 reference give a
// KL of exactly 0 at the first step when BF16 holds them exactly (a Hub checkpoint saved in
// BF16), and a small positive one when storing them rounds (Ponder's F32 checkpoints).

import Kernels
import Model
import Testing
import Training

@Suite struct FrozenReferenceTests {
    /// The KL logged by one GRPO step with beta > 0 against a frozen copy of the policy.
    static func firstStepKL(representable: Bool, reference dtype: WeightDType) throws -> Double {
        let policy = try GRPOFixture.model()
        if representable {
            for i in 0..<policy.params.count { policy.params[i] = float(bfloat16: bfloat16(policy.params[i])) }
        }
        let reference = try policy.frozenCopy(dtype)
        let p = GRPO.Parameters(beta: 0.04, learningRate: 1e-3)
        let metrics = GRPO.optimize(policy: policy, reference: reference, optimizer: AdamW(layout: policy.layout),
                                    samples: GRPOFixture.samples, advantages: GRPOFixture.advantages(p), parameters: p,
                                    learningRate: 1e-3, microBatch: 2)
        return try #require(metrics["kl"])
    }

    @Test func bf16ReferenceOfRepresentableWeightsHasZeroKL() throws {
        #expect(try Self.firstStepKL(representable: true, reference: .bfloat16) == 0)
        #expect(try Self.firstStepKL(representable: false, reference: .float32) == 0)
    }

    @Test func bf16ReferenceOfRoundedWeightsHasASmallKL() throws {
        let kl = try Self.firstStepKL(representable: false, reference: .bfloat16)
        #expect(kl > 0 && kl < 1e-3, "k3 against the rounded reference: \(kl)")
    }
}

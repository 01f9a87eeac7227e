// GRPO advantages and loss-aggregation weights against numbers worked out by hand
// (issue 6, item 4): every advantage kind, every scale_rewards, every loss_type.

import Foundation
import Testing
import Training

@Suite struct GRPOAdvantageTests {
    // Two groups of three:
    //   group 0 rewards 0, 1, 2: mean 1, sample std sqrt((1 + 0 + 1) / 2) = 1
    //   group 1 rewards 2, 4, 6: mean 4, sample std sqrt((4 + 0 + 4) / 2) = 2
    //   batch 0, 1, 2, 2, 4, 6: mean 2.5, squared deviations 6.25 + 2.25 + 0.25 + 0.25 + 2.25
    //     + 12.25 = 23.5, sample std sqrt(23.5 / 5) = sqrt(4.7) = 2.1679483...
    // Group labels interleaved, to show groups need not be contiguous.
    static let rewards: [Double] = [0, 2, 1, 4, 2, 6]
    static let groups = [0, 1, 0, 1, 0, 1]
    static let eps = 1e-4

    static func advantages(_ kind: GRPO.Advantage, _ scale: GRPO.ScaleRewards) -> [Double] {
        GRPO.advantages(rewards: rewards, groups: groups,
                        parameters: GRPO.Parameters(advantage: kind, scaleRewards: scale))
    }

    static func expectClose(_ a: [Double], _ b: [Double], tolerance: Double = 1e-12, _ label: String) {
        #expect(a.count == b.count, "\(label): \(a.count) values, expected \(b.count)")
        for (x, y) in zip(a, b) { #expect(abs(x - y) <= tolerance, "\(label): got \(a), expected \(b)") }
    }

    @Test func groupMeanCentredAdvantages() {
        // Centred: r - mean_g = (0-1, 2-4, 1-1, 4-4, 2-1, 6-4) = (-1, -2, 0, 0, 1, 2).
        let centred: [Double] = [-1, -2, 0, 0, 1, 2]
        // group: divide by the group's std + 1e-4: group 0 by 1.0001, group 1 by 2.0001,
        //   -1/1.0001 = -0.99990001, -2/2.0001 = -0.99995000.
        Self.expectClose(Self.advantages(.grpo, .group),
                         [-1 / 1.0001, -2 / 2.0001, 0, 0, 1 / 1.0001, 2 / 2.0001], "grpo/group")
        // batch: every centred value divided by sqrt(4.7) + 1e-4 = 2.1680483:
        //   -1 -> -0.4612443, -2 -> -0.9224886.
        let b = 4.7.squareRoot() + Self.eps
        Self.expectClose(Self.advantages(.grpo, .batch), centred.map { $0 / b }, "grpo/batch")
        #expect(abs(Self.advantages(.grpo, .batch)[0] - -0.4612443) < 1e-7)
        // none: the centred rewards themselves.
        Self.expectClose(Self.advantages(.grpo, .none), centred, "grpo/none")
        // dr_grpo never divides, whatever scale_rewards says.
        for scale in GRPO.ScaleRewards.allCases {
            Self.expectClose(Self.advantages(.drGRPO, scale), centred, "dr_grpo/\(scale)")
        }
    }

    @Test func leaveOneOutAdvantages() {
        // rloo: r_i - mean of the other two of its group.
        //   group 0: 0 - (1+2)/2 = -1.5;  1 - (0+2)/2 = 0;  2 - (0+1)/2 = 1.5
        //   group 1: 2 - (4+6)/2 = -3;    4 - (2+6)/2 = 0;  6 - (2+4)/2 = 3
        // In batch order (labels 0, 1, 0, 1, 0, 1): -1.5, -3, 0, 0, 1.5, 3.
        let centred: [Double] = [-1.5, -3, 0, 0, 1.5, 3]
        Self.expectClose(Self.advantages(.rloo, .none), centred, "rloo/none")
        // group: -1.5/1.0001 = -1.49985, -3/2.0001 = -1.49993.
        Self.expectClose(Self.advantages(.rloo, .group),
                         [-1.5 / 1.0001, -3 / 2.0001, 0, 0, 1.5 / 1.0001, 3 / 2.0001], "rloo/group")
        // batch: -1.5 / 2.1680483 = -0.6918665.
        let b = 4.7.squareRoot() + Self.eps
        Self.expectClose(Self.advantages(.rloo, .batch), centred.map { $0 / b }, "rloo/batch")
        #expect(abs(Self.advantages(.rloo, .batch)[0] - -0.6918665) < 1e-7)
    }

    @Test func degenerateGroups() {
        // Equal rewards: no signal. A lone sample: std 0 (not NaN) and rloo has no baseline.
        for kind in GRPO.Advantage.allCases {
            let a = GRPO.advantages(rewards: [1, 1, 1, 5], groups: [0, 0, 0, 1],
                                    parameters: GRPO.Parameters(advantage: kind))
            #expect(a == [0, 0, 0, 0], "\(kind): \(a)")
        }
        #expect(GRPO.sampleStd([3]) == 0)
        #expect(GRPO.sampleStd([1, 3]) == 2.squareRoot())
    }

    // Loss weights on two groups of two, unequal lengths, one forced token:
    //   s0 (group 0): 2 tokens, mask 1 1        s1 (group 0): 4 tokens, mask 1 1 1 1
    //   s2 (group 1): 1 token,  mask 1          s3 (group 1): 3 tokens, mask 1 0 1 (forced middle)
    // S = 4 sequences, 9 learned tokens, max_completion_length L = 5.
    static let samples: [GRPO.Sample] = [
        GRPO.Sample(group: 0, promptIDs: [1], completionIDs: [2, 3], reward: 1),
        GRPO.Sample(group: 0, promptIDs: [1], completionIDs: [4, 5, 6, 7], reward: 0, truncated: true),
        GRPO.Sample(group: 1, promptIDs: [2], completionIDs: [8], reward: 1),
        GRPO.Sample(group: 1, promptIDs: [2], completionIDs: [9, 10, 11], lossMask: [1, 0, 1], reward: 0),
    ]

    static func weights(_ loss: GRPO.LossType, maskTruncated: Bool = false) -> [[Double]] {
        GRPO.tokenWeights(samples: samples, parameters: GRPO.Parameters(
            lossType: loss, maskTruncatedCompletions: maskTruncated, maxCompletionLength: 5))
    }

    static func expectClose(_ a: [[Double]], _ b: [[Double]], _ label: String) {
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) { expectClose(x, y, label) }
    }

    @Test func lossWeightsPerLossType() {
        // grpo: 1 / (learned tokens of the sequence * S): s0 1/(2*4) = 1/8, s1 1/(4*4) = 1/16,
        //   s2 1/(1*4) = 1/4, s3 1/(2*4) = 1/8 on its two learned tokens. Each sequence sums to 1/4.
        Self.expectClose(Self.weights(.grpo),
                         [[1 / 8, 1 / 8], [1 / 16, 1 / 16, 1 / 16, 1 / 16], [1 / 4], [1 / 8, 0, 1 / 8]], "grpo")
        // dapo: 1 / 9 on every learned token: the long sequence weighs twice the short one.
        let n = 1.0 / 9
        Self.expectClose(Self.weights(.dapo), [[n, n], [n, n, n, n], [n], [n, 0, n]], "dapo")
        // dr_grpo: 1 / (S * L) = 1 / 20 on every learned token; they sum to 9/20, not 1.
        let d = 1.0 / 20
        Self.expectClose(Self.weights(.drGRPO), [[d, d], [d, d, d, d], [d], [d, 0, d]], "dr_grpo")
    }

    @Test func maskedTruncatedCompletions() {
        // s1 is truncated: its tokens get weight 0; it still counts in S for grpo and dr_grpo.
        //   grpo: s0 1/8, s2 1/4, s3 1/8 (unchanged); dapo: 5 learned tokens left, 1/5 each;
        //   dr_grpo: still 1/20.
        Self.expectClose(Self.weights(.grpo, maskTruncated: true),
                         [[1 / 8, 1 / 8], [0, 0, 0, 0], [1 / 4], [1 / 8, 0, 1 / 8]], "grpo, masked")
        Self.expectClose(Self.weights(.dapo, maskTruncated: true),
                         [[0.2, 0.2], [0, 0, 0, 0], [0.2], [0.2, 0, 0.2]], "dapo, masked")
        let d = 1.0 / 20
        Self.expectClose(Self.weights(.drGRPO, maskTruncated: true),
                         [[d, d], [0, 0, 0, 0], [d], [d, 0, d]], "dr_grpo, masked")
    }

    @Test func parametersDecodeWithDefaultsAndValidate() throws {
        let json = #"{"advantage": "rloo", "loss_type": "dr_grpo", "eps_high": 0.28, "num_iterations": 2}"#
        let p = try JSONDecoder().decode(GRPO.Parameters.self, from: Data(json.utf8))
        #expect(p.advantage == .rloo && p.lossType == .drGRPO && p.epsHigh == 0.28 && p.numIterations == 2)
        #expect(p.scaleRewards == .group && p.epsLow == 0.2 && p.beta == 0 && p.temperature == 1)
        let round = try JSONDecoder().decode(GRPO.Parameters.self, from: JSONEncoder().encode(p))
        #expect(round == p)
        #expect(p.problems().isEmpty)
        let bad = GRPO.Parameters(beta: -1, numIterations: 0, temperature: 0)
        #expect(bad.problems().count == 3, "\(bad.problems())")
        #expect(bad.problems()[0].key == .temperature && bad.problems()[0].message == "must be > 0 and <= 10, found 0")
        #expect(bad.problems().map(\.key) == [.temperature, .beta, .numIterations])
    }
}

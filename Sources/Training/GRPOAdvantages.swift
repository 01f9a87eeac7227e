// GRPO advantages and loss weights: the two pieces of the objective that depend only on the
// batch's rewards, groups, lengths and masks, never on the model. The formulas are in GRPO.swift's
// header; this file is their literal implementation, in Double.

extension GRPO {
    /// The epsilon added to the std before dividing (TRL's 1e-4).
    public static let stdEpsilon = 1e-4

    /// Advantages per sample (see GRPO.swift's header for how `advantage` and `scaleRewards`
    /// combine). Groups are labels: they need not be contiguous or sorted.
    public static func advantages(rewards: [Double], groups: [Int], parameters: Parameters) -> [Double] {
        precondition(rewards.count == groups.count, "advantages: \(rewards.count) rewards for \(groups.count) group labels")
        var members: [Int: [Int]] = [:]
        for (i, g) in groups.enumerated() { members[g, default: []].append(i) }

        var centred = [Double](repeating: 0, count: rewards.count)
        var groupStd = [Double](repeating: 0, count: rewards.count)
        for indices in members.values {
            let r = indices.map { rewards[$0] }
            let mean = r.reduce(0, +) / Double(r.count)
            let std = sampleStd(r)
            let total = r.reduce(0, +)
            for (k, i) in indices.enumerated() {
                switch parameters.advantage {
                case .grpo, .drGRPO:
                    centred[i] = r[k] - mean
                case .rloo:
                    centred[i] = r.count > 1 ? r[k] - (total - r[k]) / Double(r.count - 1) : 0
                }
                groupStd[i] = std
            }
        }

        let scale = parameters.advantage == .drGRPO ? .none : parameters.scaleRewards
        switch scale {
        case .none:
            return centred
        case .group:
            return centred.indices.map { centred[$0] / (groupStd[$0] + stdEpsilon) }
        case .batch:
            let std = sampleStd(rewards)
            return centred.map { $0 / (std + stdEpsilon) }
        }
    }

    /// The unbiased (n - 1) standard deviation, as torch.std; 0 for fewer than two values.
    public static func sampleStd(_ x: [Double]) -> Double {
        guard x.count > 1 else { return 0 }
        let mean = x.reduce(0, +) / Double(x.count)
        let ss = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        return (ss / Double(x.count - 1)).squareRoot()
    }

    /// The effective loss mask m_{i,t}: the sample's mask, zeroed for a truncated completion
    /// when `maskTruncatedCompletions` is on.
    public static func effectiveMask(_ sample: Sample, parameters: Parameters) -> [Double] {
        if parameters.maskTruncatedCompletions && sample.truncated {
            return [Double](repeating: 0, count: sample.completionIDs.count)
        }
        return sample.lossMask.map { Double($0) }
    }

    /// Per-token aggregation weights w_{i,t} so that loss = -sum_{i,t} w_{i,t} J_{i,t}
    /// (GRPO.swift's header), one array per sample, one weight per completion token.
    public static func tokenWeights(samples: [Sample], parameters: Parameters) -> [[Double]] {
        let masks = samples.map { effectiveMask($0, parameters: parameters) }
        let S = Double(samples.count)
        switch parameters.lossType {
        case .grpo:
            return masks.map { m in
                let n = m.reduce(0, +)
                return n > 0 ? m.map { $0 / (n * S) } : m.map { _ in 0 }
            }
        case .dapo:
            let total = masks.reduce(0) { $0 + $1.reduce(0, +) }
            return masks.map { m in total > 0 ? m.map { $0 / total } : m.map { _ in 0 } }
        case .drGRPO:
            let denominator = S * Double(parameters.maxCompletionLength)
            return masks.map { m in m.map { $0 / denominator } }
        }
    }
}

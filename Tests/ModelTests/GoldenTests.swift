// Golden tests: the Swift transformer against the float64 numpy reference in Golden/reference.py.
//
// Each golden file holds a tiny model's weights, a batch with ignored (-1) targets and zero loss
// weights, and the reference's logits, loss, every parameter's gradient, the losses of 5 AdamW
// steps on that batch and the parameters after them. The test loads the weights through the
// safetensors reader, runs the same computation in float32, and compares within the tolerances
// below; they leave room for float32 rounding (~1e-6 relative per operation), not for a bug.
// The test never runs Python: regenerate the files with `python3 Tests/ModelTests/Golden/reference.py`.

import Foundation
import Testing
@testable import Model

/// Stated tolerances.
enum GoldenTolerance {
    /// Largest |logit - reference| (logits are O(1)).
    static let logitsAbs: Double = 1e-4
    /// |loss - reference| / |reference|.
    static let lossRel: Double = 1e-5
    /// ||g - g_ref|| / ||g_ref|| for each parameter tensor.
    static let gradientRel: Double = 1e-3
    /// Relative error of each of the 5 AdamW losses.
    static let adamwLossRel: Double = 1e-4
    /// ||p - p_ref|| / ||p_ref|| for each tensor after the 5 steps.
    static let adamwParamsRel: Double = 1e-4
}

let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

/// ||a - b|| / ||b|| in Double (0 when both are zero).
func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var diff = 0.0, norm = 0.0
    for i in a.indices {
        let d = Double(a[i]) - Double(b[i])
        diff += d * d
        norm += Double(b[i]) * Double(b[i])
    }
    return norm == 0 ? diff.squareRoot() : (diff / norm).squareRoot()
}

@Suite("Golden: Swift model vs numpy reference")
struct GoldenTests {
    @Test(arguments: ["golden_tied_mha", "golden_untied_gqa_bias"])
    func matchesReference(tag: String) throws {
        let golden = try SafeTensorsFile(contentsOf: goldenDirectory.appendingPathComponent("\(tag).safetensors"))
        let configText = try #require(golden.metadata["config"], "\(tag): no config in the golden file's metadata")
        let config = try JSONDecoder().decode(ModelConfig.self, from: Data(configText.utf8))
        let lr = try #require(Float(golden.metadata["lr"] ?? ""), "\(tag): no lr in the metadata")
        let model = try Transformer(config: config)
        for t in model.layout.tensors {
            try golden.read(t.name, shape: t.shape, into: model.params.pointer + t.offset)
        }
        let shape = try golden.entry("inputs.tokens").shape
        let (B, T) = (shape[0], shape[1])
        let tokens = try golden.integers("inputs.tokens").map(Int32.init)
        let targets = try golden.integers("inputs.targets", shape: [B, T]).map(Int32.init)
        let weights = try golden.floats("inputs.weights", shape: [B, T])
        let N = B * T, V = config.vocabSize

        // Forward: logits and loss.
        model.zeroGrad()
        model.forward(tokens: tokens, B: B, T: T)
        let logits = Array(model.logits)
        let refLogits = try golden.floats("logits", shape: [N, V])
        let logitsErr = zip(logits, refLogits).map { abs(Double($0) - Double($1)) }.max()!
        #expect(logitsErr <= GoldenTolerance.logitsAbs, "\(tag): logits max abs error \(logitsErr)")

        let loss = model.crossEntropy(targets: targets, weights: weights)
        let refLoss = try golden.floats("loss", shape: [])[0]
        let lossErr = abs(Double(loss) - Double(refLoss)) / abs(Double(refLoss))
        #expect(lossErr <= GoldenTolerance.lossRel, "\(tag): loss \(loss) vs reference \(refLoss)")

        // Backward: every parameter's gradient.
        model.backwardCrossEntropy()
        var worstGradient = (name: "", error: 0.0)
        for t in model.layout.tensors {
            let ref = try golden.floats("grad." + t.name, shape: t.shape)
            let err = relativeError(model.grads.slice(t.offset, t.count), ref)
            #expect(err <= GoldenTolerance.gradientRel, "\(tag): gradient of \(t.name): relative error \(err)")
            if err > worstGradient.error { worstGradient = (t.name, err) }
        }

        // 5 AdamW steps on the same batch, from the same weights (backward left them unchanged).
        let refLosses = try golden.floats("adamw.losses")
        let optimizer = AdamW(layout: model.layout)
        var worstAdamLoss = 0.0
        for step in refLosses.indices {
            model.zeroGrad()
            model.forward(tokens: tokens, B: B, T: T)
            let l = model.crossEntropy(targets: targets, weights: weights)
            model.backwardCrossEntropy()
            optimizer.update(params: model.params, grads: model.grads, lr: lr)
            let err = abs(Double(l) - Double(refLosses[step])) / abs(Double(refLosses[step]))
            #expect(err <= GoldenTolerance.adamwLossRel, "\(tag): AdamW step \(step + 1) loss \(l) vs reference \(refLosses[step])")
            worstAdamLoss = max(worstAdamLoss, err)
        }
        var worstParams = (name: "", error: 0.0)
        for t in model.layout.tensors {
            let ref = try golden.floats("adamw.final." + t.name, shape: t.shape)
            let err = relativeError(model.params.slice(t.offset, t.count), ref)
            #expect(err <= GoldenTolerance.adamwParamsRel, "\(tag): \(t.name) after \(refLosses.count) AdamW steps: relative error \(err)")
            if err > worstParams.error { worstParams = (t.name, err) }
        }
        print("""
            golden \(tag): logits max abs err \(logitsErr), loss rel err \(lossErr), \
            worst gradient rel err \(worstGradient.error) (\(worstGradient.name)), \
            worst AdamW loss rel err \(worstAdamLoss), worst final-param rel err \(worstParams.error) (\(worstParams.name))
            """)
    }
}

// The calibration page of `ponder compare --evals SUITE --html`: confidences come from the stored
// items' `log_prob`, refusals count as questions not attempted, and both charts and the table
// show each checkpoint.
import Foundation
import Testing
@testable import Experiments
@testable import Storage

@Suite struct CalibrationPageTests {
    static func item(_ index: Int, _ verdict: EvalVerdict, logProb: Double?, sample: Int = -1) -> EvalItemRecord {
        EvalItemRecord(evalID: 1, itemIndex: index, sampleIndex: sample, taskID: "t\(index)", answerable: true, prompt: "", completion: "",
                       reference: "", extracted: nil, verdict: verdict,
                       metadata: logProb.map { "{\"log_prob\":\"\($0)\"}" } ?? "{}", failure: nil)
    }

    @Test func confidencesComeFromTheStoredLogProbabilities() throws {
        let items = [Self.item(0, .correct, logProb: log(0.9)), Self.item(1, .incorrect, logProb: log(0.3)),
                     Self.item(2, .refused, logProb: log(0.8)), Self.item(3, .correct, logProb: log(0.7), sample: 0)]
        let curve = Report.CalibrationCurve(label: "runs/k/sft", items: items)
        #expect(curve.questions == 3)  // greedy items only
        #expect(curve.answers.count == 2 && curve.answers.map(\.correct) == [true, false])
        #expect(abs(curve.answers[0].confidence - 0.9) < 1e-12 && abs(curve.answers[1].confidence - 0.3) < 1e-12)

        let other = Report.CalibrationCurve(label: "runs/k/grpo", items: [Self.item(0, .correct, logProb: log(0.5))])
        let page = Report.calibrationPage(suite: "knowledge", [curve, other])
        #expect(page.components(separatedBy: "<svg").count - 1 == 2)
        #expect(page.contains("class=\"diagonal\""))
        #expect(page.components(separatedBy: "class=\"curve\" data-series=\"1\"").count - 1 == 2)  // one per chart
        #expect(page.contains("runs/k/sft") && page.contains("runs/k/grpo"))
        // ECE of the first checkpoint: bins [0.9, 1] (0.9 vs 1) and [0.3, 0.4) (0.3 vs 0): (0.1 + 0.3) / 2.
        #expect(page.contains("<td>0.200</td>"), "\(page)")
        #expect(!page.contains("http://") || page.contains("xmlns=\"http://www.w3.org/2000/svg\""))  // nothing fetched
    }
}

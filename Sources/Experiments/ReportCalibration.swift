// The calibration page of `ponder compare --evals SUITE --html FILE`: for the newest eval of each
// checkpoint, the reliability diagram (mean confidence against accuracy per confidence bin, with
// the diagonal of perfect calibration) and the accuracy / attempted curve (abstaining below a
// confidence threshold: the share of questions answered against the accuracy of those answers),
// both on the unit square, in one self-contained HTML file. Confidence is the greedy answer's
// sequence probability, stored with each eval item (metadata `log_prob`).
import Foundation
import PonderCore
import Storage

extension Report {
    /// One checkpoint's confident answers, from its stored eval items.
    public struct CalibrationCurve: Sendable {
        public var label: String
        public var questions: Int
        public var answers: [ConfidentAnswer]

        /// Greedy items with a `log_prob` in their metadata; refusals and unparseable answers are
        /// questions not attempted; machinery failures are left out.
        public init(label: String, items: [EvalItemRecord]) {
            self.label = label
            let greedy = items.filter { $0.sampleIndex < 0 && $0.failure == nil }
            questions = greedy.count
            answers = greedy.compactMap { item in
                guard item.verdict == .correct || item.verdict == .incorrect,
                      let logProb = (Breakdown.object(json: item.metadata)["log_prob"] as? String).flatMap(Double.init)
                else { return nil }
                return ConfidentAnswer(confidence: min(1, exp(logProb)), correct: item.verdict == .correct)
            }
        }
    }

    /// An SVG chart on the unit square: one polyline with dots per series, optionally the diagonal.
    static func unitSquareChart(title: String, xLabel: String, yLabel: String, series: [(label: String, points: [(x: Double, y: Double)])],
                                diagonal: Bool, width: Int = 520, height: Int = 420) -> String {
        let (left, top, right, bottom) = (60.0, 40.0, Double(width) - 150, Double(height) - 50)
        func x(_ v: Double) -> String { f(left + v * (right - left)) }
        func y(_ v: Double) -> String { f(bottom - v * (bottom - top)) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" "
            + "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
        svg += "<rect width=\"\(width)\" height=\"\(height)\" fill=\"white\"/>\n"
        svg += "<text x=\"\(f((left + right) / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">\(escapeXML(title))</text>\n"
        for tick in stride(from: 0.0, through: 1.0, by: 0.2) {
            svg += "<line x1=\"\(x(tick))\" y1=\"\(y(0))\" x2=\"\(x(tick))\" y2=\"\(y(1))\" stroke=\"#eee\"/>"
            svg += "<line x1=\"\(x(0))\" y1=\"\(y(tick))\" x2=\"\(x(1))\" y2=\"\(y(tick))\" stroke=\"#eee\"/>\n"
            svg += "<text x=\"\(x(tick))\" y=\"\(f(bottom + 16))\" text-anchor=\"middle\">\(String(format: "%.1f", tick))</text>"
            svg += "<text x=\"\(f(left - 8))\" y=\"\(f(bottom - tick * (bottom - top) + 4))\" text-anchor=\"end\">\(String(format: "%.1f", tick))</text>\n"
        }
        svg += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(right - left))\" height=\"\(f(bottom - top))\" fill=\"none\" stroke=\"#888\"/>\n"
        svg += "<text x=\"\(f((left + right) / 2))\" y=\"\(f(bottom + 36))\" text-anchor=\"middle\">\(escapeXML(xLabel))</text>\n"
        svg += "<text x=\"16\" y=\"\(f((top + bottom) / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f((top + bottom) / 2)))\">\(escapeXML(yLabel))</text>\n"
        if diagonal {
            svg += "<line class=\"diagonal\" x1=\"\(x(0))\" y1=\"\(y(0))\" x2=\"\(x(1))\" y2=\"\(y(1))\" stroke=\"#aaa\" stroke-dasharray=\"4 4\"/>\n"
        }
        for (i, s) in series.enumerated() {
            let color = palette[i % palette.count]
            let points = s.points.map { "\(x($0.x)),\(y($0.y))" }.joined(separator: " ")
            svg += "<polyline class=\"curve\" data-series=\"\(i)\" points=\"\(points)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            for p in s.points { svg += "<circle cx=\"\(x(p.x))\" cy=\"\(y(p.y))\" r=\"3\" fill=\"\(color)\"/>" }
            svg += "\n<text x=\"\(f(right + 12))\" y=\"\(f(top + 16 + Double(i) * 18))\" fill=\"\(color)\">\(escapeXML(s.label))</text>\n"
        }
        return svg + "</svg>"
    }

    /// The page: both charts and a table of ECE, attempted answers and accuracy per checkpoint.
    public static func calibrationPage(suite: String, _ curves: [CalibrationCurve]) -> String {
        let reliability = curves.map { c in
            (label: c.label, points: Calibration.reliability(c.answers).compactMap { bin -> (x: Double, y: Double)? in
                guard let confidence = bin.meanConfidence, let accuracy = bin.accuracy else { return nil }
                return (confidence, accuracy)
            })
        }
        let tradeOff = curves.map { c in
            (label: c.label, points: Calibration.abstentionCurve(c.answers, questions: c.questions).map { (x: $0.attempted, y: $0.accuracy) })
        }
        var rows = ""
        for c in curves {
            let correct = c.answers.filter(\.correct).count
            rows += "<tr><td>\(escapeXML(c.label))</td><td>\(c.questions)</td><td>\(c.answers.count)</td>"
                + "<td>\(c.answers.isEmpty ? "–" : String(format: "%.1f%%", 100 * Double(correct) / Double(c.answers.count)))</td>"
                + "<td>\(Calibration.ece(c.answers).map { String(format: "%.3f", $0) } ?? "–")</td></tr>\n"
        }
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head><meta charset="utf-8"><title>calibration: \(escapeXML(suite))</title>
            <style>body{font-family:Helvetica,Arial,sans-serif;margin:24px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}</style>
            </head>
            <body>
            <h1>Calibration of \(escapeXML(suite)) answers</h1>
            <p>Confidence: the sequence probability of each greedy answer. Refusals are not attempted.</p>
            \(unitSquareChart(title: "reliability", xLabel: "mean confidence (10 bins)", yLabel: "accuracy", series: reliability, diagonal: true))
            \(unitSquareChart(title: "accuracy against attempted", xLabel: "share of questions answered (abstaining below a confidence)",
                              yLabel: "accuracy of the answers", series: tradeOff, diagonal: false))
            <table><tr><th>checkpoint</th><th>questions</th><th>attempted</th><th>accuracy of attempts</th><th>ECE</th></tr>
            \(rows)</table>
            </body>
            </html>

            """
    }
}

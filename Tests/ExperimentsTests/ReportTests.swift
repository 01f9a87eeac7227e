// The report renderers of `ponder compare`: smoothing math, the terminal chart's geometry, the
// SVG as XML with every curve inside its box, and the HTML page's self-containment.
import Foundation
import Testing
@testable import Experiments

#if canImport(FoundationXML)
import FoundationXML
#endif

@Suite struct ReportTests {
    static let rising = ChartSeries(label: "rising", points: (0..<50).map { (step: $0 * 10, value: Double($0) * 0.02) })
    static let noisy = ChartSeries(label: "noisy <&> run", points: (0..<40).map {
        (step: $0 * 12, value: sin(Double($0)) + (($0 == 7) ? .nan : 0))
    })

    @Test func emaIsDebiasedAndZeroWeightIsIdentity() {
        let smoothed = Report.smooth([1, 2, 3], weight: 0.5)
        // m: 0.5, 1.25, 2.125; z: 0.5, 0.75, 0.875
        #expect(abs(smoothed[0] - 1) < 1e-12)
        #expect(abs(smoothed[1] - 1.25 / 0.75) < 1e-12)
        #expect(abs(smoothed[2] - 2.125 / 0.875) < 1e-12)
        #expect(Report.smooth([4, -1, 7], weight: 0) == [4, -1, 7])
        #expect(Report.smooth([], weight: 0.9).isEmpty)
        // A constant stays constant from the first point (the debiasing at work).
        #expect(Report.smooth([5, 5, 5, 5], weight: 0.9).allSatisfy { abs($0 - 5) < 1e-12 })
    }

    @Test func numbersAreShort() {
        #expect(Report.formatNumber(12000) == "12000" && Report.formatNumber(-3) == "-3")
        #expect(Report.formatNumber(0.123456) == "0.1235" && Report.formatNumber(2.5e-5) == "2.5e-05")
        #expect(Report.formatNumber(1.5e12) == "1.5e+12")
    }

    @Test func statisticsSkipNaN() {
        let stats = Report.statistics(ChartSeries(label: "x", points: [(0, 1), (1, .nan), (2, 3), (3, -2)]), smoothing: 0)
        #expect(stats.count == 3 && stats.last == -2 && stats.min == -2 && stats.max == 3 && stats.lastStep == 3)
    }

    @Test func terminalChartHasTheRequestedSizeAndTheMaxTopRight() {
        for (width, height) in [(72, 16), (40, 10), (100, 24)] {
            let chart = Report.terminalChart([Self.rising], options: ChartOptions(metric: "reward", smoothing: 0),
                                             width: width, height: height)
            let lines = chart.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == height)
            #expect(lines.allSatisfy { $0.count == width }, "\(lines.map(\.count))")
            // Line 1 is the plot's top row: it ends with the last (largest) point, labelled with the max.
            #expect(lines[1].last == "●")
            #expect(lines[1].trimmingCharacters(in: .whitespaces).hasPrefix("0.98 ┤"))
            // The first point sits bottom left, beside the min label.
            let bottom = lines[height - 4]
            #expect(bottom.hasPrefix("0 ┤●") || bottom.contains("┤●"))
            #expect(!chart.contains("\u{1B}["))
        }
    }

    @Test func terminalChartDistinguishesSeriesAndColoursOnlyWhenAsked() {
        let falling = ChartSeries(label: "falling", points: (0..<30).map { (step: $0 * 10, value: 1 - Double($0) * 0.03) })
        let chart = Report.terminalChart([Self.rising, falling], options: ChartOptions(smoothing: 0.3), width: 60, height: 14)
        #expect(chart.contains("●") && chart.contains("■"))
        #expect(chart.contains("● rising last 0.98") && chart.contains("■ falling last 0.13"))
        #expect(chart.contains("EMA 0.30"))
        let coloured = Report.terminalChart([Self.rising, falling], width: 60, height: 14, color: true)
        #expect(coloured.contains("\u{1B}[34m●\u{1B}[0m") && coloured.contains("\u{1B}[31m■\u{1B}[0m"))
    }

    @Test func terminalChartHandlesEmptySinglePointAndNaN() {
        let empty = Report.terminalChart([], width: 50, height: 12)
        #expect(empty.contains("no data"))
        #expect(empty.split(separator: "\n", omittingEmptySubsequences: false).count == 12)
        let nothing = Report.terminalChart([ChartSeries(label: "nan only", points: [(0, .nan)])], width: 50, height: 12)
        #expect(nothing.contains("no data") && nothing.contains("nan only (no data)"))
        let single = Report.terminalChart([ChartSeries(label: "one", points: [(5, 2.5)])], width: 50, height: 12)
        #expect(single.contains("●") && single.contains("one last 2.5"))
        let withNaN = Report.terminalChart([Self.noisy], width: 50, height: 12)
        #expect(!withNaN.contains("nan"))
    }

    @Test func svgParsesWithOnePolylinePerSeriesInsideTheViewBox() throws {
        let flat = ChartSeries(label: "flat", points: [(0, 1), (100, 1)])
        let series = [Self.rising, Self.noisy, flat]
        let svg = Report.svgChart(series, options: ChartOptions(title: "Reward", metric: "reward", smoothing: 0.6), width: 800, height: 400)
        let document = try SVGSummary(svg)
        #expect(document.root == "svg")
        #expect(document.viewBox == [0, 0, 800, 400])
        #expect(document.polylines(class: "smoothed").count == 3)
        #expect(document.polylines(class: "raw").count == 3)
        #expect(document.polylines(class: "smoothed").map(\.series) == ["0", "1", "2"])
        for line in document.polylines(class: nil) {
            #expect(!line.points.isEmpty)
            for (x, y) in line.points {
                #expect(x >= 0 && x <= 800 && y >= 0 && y <= 400, "point \(x),\(y) outside the viewBox")
            }
        }
        // NaN skipped: the noisy series drew 39 of its 40 points.
        #expect(document.polylines(class: "raw")[1].points.count == 39)
        #expect(document.texts.contains("noisy <&> run (\(Report.formatNumber(Report.statistics(Self.noisy, smoothing: 0.6).lastSmoothed!)))"))
        // The max of a rising series is its last point: the highest of its polyline (smallest y).
        let risingRaw = document.polylines(class: "raw")[0].points
        #expect(risingRaw.last!.1 == risingRaw.map(\.1).min())
        // Smoothing off: only the raw curves, bold.
        let plain = try SVGSummary(Report.svgChart(series, options: ChartOptions(smoothing: 0)))
        #expect(plain.polylines(class: "smoothed").isEmpty && plain.polylines(class: "raw").count == 3)
    }

    @Test func svgHandlesEmptyAndSinglePoint() throws {
        let empty = try SVGSummary(Report.svgChart([]))
        #expect(empty.texts.contains("no data") && empty.polylines(class: nil).isEmpty)
        let single = try SVGSummary(Report.svgChart([ChartSeries(label: "one", points: [(3, 0.5)])], width: 600, height: 300))
        let point = try #require(single.polylines(class: "smoothed").first?.points.first)
        #expect(point.0 > 0 && point.0 < 600 && point.1 > 0 && point.1 < 300)
    }

    @Test func htmlIsSelfContained() throws {
        let html = Report.htmlReport([Self.rising, Self.noisy], options: ChartOptions(title: "GRPO vs Dr. GRPO", metric: "reward"))
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<svg") && html.contains("</svg>"))
        #expect(html.contains("<table>") && html.contains("noisy &lt;&amp;&gt; run"))
        #expect(html.contains("GRPO vs Dr. GRPO"))
        #expect(html.contains("type=\"range\""))
        for external in ["src=", "<link", "href=", "@import", "url("] { #expect(!html.contains(external), "found \(external)") }
        // The only URL is the SVG namespace, which is a name, not a fetch.
        let urls = html.components(separatedBy: "http").count - 1
        #expect(urls == 1)
        // The table: 2 runs, with last/min/max of the rising run.
        #expect(html.contains("<td>50</td><td>490</td><td>0.98</td><td>0</td><td>0.98</td>"))
    }
}

/// What the tests need from an SVG document, read with XMLParser (well-formedness included).
struct SVGSummary {
    struct Polyline { var kind: String?; var series: String?; var points: [(Double, Double)] }
    var root = ""
    var viewBox: [Double] = []
    var lines: [Polyline] = []
    var texts: [String] = []

    init(_ svg: String) throws {
        let delegate = Delegate()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = delegate
        guard parser.parse() else {
            throw NSError(domain: "SVG", code: 1, userInfo: [NSLocalizedDescriptionKey: "not well-formed XML: \(String(describing: parser.parserError))"])
        }
        root = delegate.root; viewBox = delegate.viewBox; lines = delegate.lines; texts = delegate.texts
    }

    func polylines(class kind: String?) -> [Polyline] { kind == nil ? lines : lines.filter { $0.kind == kind } }

    final class Delegate: NSObject, XMLParserDelegate {
        var root = ""
        var viewBox: [Double] = []
        var lines: [Polyline] = []
        var texts: [String] = []
        var text: String?

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            if root.isEmpty {
                root = name
                viewBox = (attributes["viewBox"] ?? "").split(separator: " ").compactMap { Double($0) }
            }
            if name == "polyline" {
                let points = (attributes["points"] ?? "").split(separator: " ").compactMap { pair -> (Double, Double)? in
                    let parts = pair.split(separator: ",").compactMap { Double($0) }
                    return parts.count == 2 ? (parts[0], parts[1]) : nil
                }
                lines.append(Polyline(kind: attributes["class"], series: attributes["data-series"], points: points))
            }
            if name == "text" { text = "" }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { text? += string }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "text", let text { texts.append(text); self.text = nil }
        }
    }
}

/// A seed group's curve: the mean at the steps every run logged, inside a min-max or CI band that
/// the SVG draws as a polygon and the terminal shades.
@Suite struct SeedGroupChartTests {
    let runs: [[(step: Int, value: Double)]] = [
        [(1, 1.0), (2, 2.0), (3, 3.0), (4, 9.0)],
        [(1, 3.0), (2, 4.0), (3, 5.0)],
        [(1, 2.0), (2, 6.0), (3, 4.0), (5, 1.0)],
    ]

    @Test func meanAndBands() throws {
        let minmax = ChartSeries.seedGroup(label: "g", runs: runs, band: .minmax)
        #expect(minmax.points.map(\.step) == [1, 2, 3])
        #expect(minmax.points.map(\.value) == [2, 4, 4])
        #expect(minmax.band.map(\.low) == [1, 2, 3] && minmax.band.map(\.high) == [3, 6, 5])
        let ci = ChartSeries.seedGroup(label: "g", runs: runs, band: .ci)
        // Step 1: values 1, 2, 3, sd 1, half-width t(0.975, 2) / sqrt(3).
        let half = 4.302652729749462 / 3.0.squareRoot()
        #expect(abs(ci.band[0].low - (2 - half)) < 1e-8 && abs(ci.band[0].high - (2 + half)) < 1e-8)
        #expect(ChartSeries.seedGroup(label: "g", runs: runs, band: .none).band.isEmpty)
        #expect(ChartSeries.seedGroup(label: "one", runs: [runs[0]], band: .minmax).band.isEmpty)
    }

    @Test func bandsAreDrawn() {
        let group = ChartSeries.seedGroup(label: "g", runs: runs, band: .minmax)
        let svg = Report.svgChart([group], options: ChartOptions(metric: "reward", smoothing: 0))
        #expect(svg.components(separatedBy: "<polygon class=\"band\"").count == 2)
        let text = Report.terminalChart([group], options: ChartOptions(metric: "reward", smoothing: 0))
        #expect(text.contains("░"))
        // The band widens the value axis: its top label is the highest edge, 6.
        #expect(text.split(separator: "\n")[1].trimmingCharacters(in: .whitespaces).hasPrefix("6 ┤"))
        let single = Report.terminalChart([ChartSeries(label: "r", points: runs[0])], options: ChartOptions(smoothing: 0))
        #expect(!single.contains("░"))
    }
}

// Report charts for `ponder compare` (DESIGN.md §9): the data model shared by the terminal, SVG
// and HTML renderers (ReportTerminal.swift, ReportSVG.swift, ReportHTML.swift).
//
// Everything here is a pure function of its input: the command reads the curves from the store
// and hands them over; nothing here touches a file or the store.
//
// Smoothing is the exponential moving average TensorBoard and W&B show, debiased so the first
// points are not dragged toward zero:
//     m_t = w m_{t-1} + (1 - w) x_t,   z_t = w z_{t-1} + (1 - w),   smoothed_t = m_t / z_t
// with m_0 = z_0 = 0 and weight w in [0, 1): w = 0 is the raw curve. Non-finite values (NaN from
// a diverged step, infinities) are skipped, never drawn and never fed to the average.
//
// A seed group is drawn as one curve, the mean over its runs at each step all of them logged,
// with a band around it (`seedGroup`): the min-max of the runs, or the 95% t-interval of the
// mean. Smoothing applies to the band's edges as to the curve, so the band hugs what is drawn.
import Foundation
import PonderCore

/// One curve: a run's label and its (step, value) points, with an optional band around it.
public struct ChartSeries: Sendable {
    public var label: String
    public var points: [(step: Int, value: Double)]
    /// Lower and upper edges per step (a seed group's spread); empty for a single run.
    public var band: [(step: Int, low: Double, high: Double)]

    public init(label: String, points: [(step: Int, value: Double)], band: [(step: Int, low: Double, high: Double)] = []) {
        self.label = label
        self.points = points
        self.band = band
    }

    /// What the band around a seed group's mean shows.
    public enum Band: String, Sendable, CaseIterable {
        /// The lowest and highest run at each step.
        case minmax
        /// The 95% t-interval of the mean at each step.
        case ci
        case none
    }

    /// The mean of several runs' curves at the steps every run logged, with a band.
    public static func seedGroup(label: String, runs: [[(step: Int, value: Double)]], band: Band) -> ChartSeries {
        let byStep = runs.map { Dictionary($0.filter { $0.value.isFinite }.map { ($0.step, $0.value) }, uniquingKeysWith: { a, _ in a }) }
        let steps = byStep.dropFirst().reduce(Set(byStep.first?.keys ?? [:].keys)) { $0.intersection($1.keys) }.sorted()
        var points: [(step: Int, value: Double)] = [], edges: [(step: Int, low: Double, high: Double)] = []
        for step in steps {
            let values = byStep.map { $0[step]! }
            let mean = values.reduce(0, +) / Double(values.count)
            points.append((step, mean))
            switch band {
            case .minmax: edges.append((step, values.min()!, values.max()!))
            case .ci: if let i = Statistics.meanInterval(values) { edges.append((step, i.lower, i.upper)) }
            case .none: break
            }
        }
        return ChartSeries(label: label, points: points, band: runs.count > 1 ? edges : [])
    }

    /// The band's finite edges, sorted by step and smoothed like the curve.
    func smoothedBand(weight: Double) -> [(step: Int, low: Double, high: Double)] {
        let edges = band.filter { $0.low.isFinite && $0.high.isFinite }.sorted { $0.step < $1.step }
        let low = Report.smooth(edges.map(\.low), weight: weight), high = Report.smooth(edges.map(\.high), weight: weight)
        return edges.indices.map { (edges[$0].step, low[$0], high[$0]) }
    }

    /// The finite points, sorted by step.
    var plottable: [(step: Int, value: Double)] {
        points.filter { $0.value.isFinite }.sorted { $0.step < $1.step }
    }
}

public struct ChartOptions: Sendable {
    /// Heading; the metric name when empty.
    public var title: String
    /// The metric drawn, for the axis label.
    public var metric: String
    /// EMA weight in [0, 1); 0 draws the raw curves only.
    public var smoothing: Double
    /// The x axis: "step", or the metric drawn against (`ponder compare --x sqrt_kl`).
    public var xLabel = "step"
    /// Points carry x * xScale rounded in their `step` (a metric's value on an integer axis);
    /// tick labels divide it back out. 1 for steps.
    public var xScale = 1.0

    public init(title: String = "", metric: String = "value", smoothing: Double = 0.6) {
        self.title = title
        self.metric = metric
        self.smoothing = min(max(smoothing, 0), 0.999)
    }

    var heading: String { title.isEmpty ? metric : title }
}

/// Last, min and max of one series, for legends and the HTML table.
public struct SeriesStatistics: Sendable, Equatable {
    public var count: Int
    public var lastStep: Int?
    public var last: Double?
    public var lastSmoothed: Double?
    public var min: Double?
    public var max: Double?
}

public enum Report {
    /// Debiased exponential moving average of `values` (see the file header); `weight` 0 returns
    /// the values unchanged. Non-finite inputs must be filtered out first.
    public static func smooth(_ values: [Double], weight: Double) -> [Double] {
        guard weight > 0 else { return values }
        var moving = 0.0, debias = 0.0
        return values.map { value in
            moving = weight * moving + (1 - weight) * value
            debias = weight * debias + (1 - weight)
            return moving / debias
        }
    }

    public static func statistics(_ series: ChartSeries, smoothing: Double) -> SeriesStatistics {
        let points = series.plottable
        let values = points.map(\.value)
        return SeriesStatistics(count: points.count, lastStep: points.last?.step, last: values.last,
                                lastSmoothed: smooth(values, weight: smoothing).last,
                                min: values.min(), max: values.max())
    }

    /// A number short enough for an axis: integers as they are, others with 4 significant digits,
    /// in exponent form when very large or small.
    public static func formatNumber(_ value: Double) -> String {
        if value == 0 { return "0" }
        let magnitude = abs(value)
        // Steps and counts read as integers: 12000, not 1.2e+04.
        if value == value.rounded() && magnitude < 1e9 { return String(Int64(value)) }
        if magnitude >= 1e6 || magnitude < 1e-3 { return String(format: "%.3g", value) }
        var text = String(format: "%.4g", value)
        if text.contains("e") { text = String(format: "%.3g", value) }
        return text
    }
}

/// The data range of a chart over all its series, widened where it would be empty.
struct ChartDomain {
    var minStep: Double
    var maxStep: Double
    var minValue: Double
    var maxValue: Double

    init?(_ series: [[(step: Int, value: Double)]]) {
        let all = series.flatMap { $0 }
        guard let first = all.first else { return nil }
        var lowStep = Double(first.step), highStep = lowStep, low = first.value, high = first.value
        for point in all {
            lowStep = Swift.min(lowStep, Double(point.step)); highStep = Swift.max(highStep, Double(point.step))
            low = Swift.min(low, point.value); high = Swift.max(high, point.value)
        }
        if lowStep == highStep { lowStep -= 1; highStep += 1 }
        if low == high {
            let pad = Swift.max(abs(low) * 0.05, 0.5)
            low -= pad; high += pad
        }
        minStep = lowStep; maxStep = highStep; minValue = low; maxValue = high
    }

    /// Ticks at round numbers (1, 2 or 5 times a power of ten) covering [low, high], about `count` of them.
    static func niceTicks(low: Double, high: Double, count: Int) -> [Double] {
        guard high > low, count > 1 else { return [low] }
        let raw = (high - low) / Double(count - 1)
        let power = pow(10, floor(log10(raw)))
        let fraction = raw / power
        let step = (fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10) * power
        var ticks: [Double] = []
        var tick = (low / step).rounded(.up) * step
        while tick <= high + step * 1e-9 {
            ticks.append(abs(tick) < step * 1e-9 ? 0 : tick)
            tick += step
        }
        return ticks
    }

    /// The domain widened to the round ticks around it, for charts with a grid.
    func expandedToTicks(count: Int) -> (domain: ChartDomain, xTicks: [Double], yTicks: [Double]) {
        var domain = self
        let yProbe = ChartDomain.niceTicks(low: minValue, high: maxValue, count: count)
        if yProbe.count > 1 {
            let step = yProbe[1] - yProbe[0]
            domain.minValue = (minValue / step).rounded(.down) * step
            domain.maxValue = (maxValue / step).rounded(.up) * step
        }
        let xTicks = ChartDomain.niceTicks(low: minStep, high: maxStep, count: count)
        let yTicks = ChartDomain.niceTicks(low: domain.minValue, high: domain.maxValue, count: count)
        return (domain, xTicks, yTicks)
    }
}

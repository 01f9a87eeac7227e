// The terminal line chart of `ponder compare`: plain text, one symbol per series (●, ■, ▲, ...),
// ANSI colours only when asked, so the output can be pasted into an issue or a log as is.
//
// The chart is exactly `height` lines of exactly `width` characters (without colour): a title,
// the plot with the value axis (max at the top row, min at the bottom row, the exact data range so
// a curve's extreme touches the frame), the step axis, and a legend with each run's last value.
// With smoothing on, the smoothed curve is drawn; the raw points would only blur it at this
// resolution (the SVG shows both). Consecutive points are joined, so a curve reads as a line.
// A seed group's band is shaded with ░ behind its curve.
import Foundation

extension Report {
    static let terminalSymbols: [Character] = ["●", "■", "▲", "◆", "✚", "★", "○", "□", "△", "◇"]
    static let ansiColors = [34, 31, 32, 35, 33, 36, 94, 91, 92, 95]

    public static func terminalChart(_ series: [ChartSeries], options: ChartOptions = ChartOptions(),
                                     width: Int = 72, height: Int = 16, color: Bool = false) -> String {
        let width = max(width, 24)
        let curves = series.map { curve -> [(step: Int, value: Double)] in
            let points = curve.plottable
            let values = smooth(points.map(\.value), weight: options.smoothing)
            return zip(points, values).map { (step: $0.step, value: $1) }
        }
        let bands = series.map { $0.smoothedBand(weight: options.smoothing) }
        let domain = ChartDomain(curves + bands.map { $0.flatMap { [($0.step, $0.low), ($0.step, $0.high)] } })

        // Legend first: it decides how many rows the plot gets.
        let entries = series.enumerated().map { index, curve -> (plain: String, symbol: Character) in
            let stats = statistics(curve, smoothing: options.smoothing)
            let last = stats.last.map { " last \(formatNumber($0))" } ?? " (no data)"
            return ("\(terminalSymbols[index % terminalSymbols.count]) \(curve.label)\(last)",
                    terminalSymbols[index % terminalSymbols.count])
        }
        var legendLines: [[Int]] = []  // indices of entries per line
        var lineLength = 0
        for (index, entry) in entries.enumerated() {
            let length = entry.plain.count
            if legendLines.isEmpty || lineLength + 3 + length > width {
                legendLines.append([index]); lineLength = length
            } else {
                legendLines[legendLines.count - 1].append(index); lineLength += 3 + length
            }
        }
        let rows = max(height - 3 - legendLines.count, 2)

        // Value labels on the top, middle and bottom rows.
        var labels = [Int: String]()
        if let domain {
            labels[0] = formatNumber(domain.maxValue)
            labels[rows - 1] = formatNumber(domain.minValue)
            if rows >= 5 { labels[(rows - 1) / 2] = formatNumber(domain.maxValue - (domain.maxValue - domain.minValue) * Double((rows - 1) / 2) / Double(rows - 1)) }
        }
        let labelWidth = max(labels.values.map(\.count).max() ?? 0, 1)
        let plotWidth = max(width - labelWidth - 2, 4)

        // Cells hold the index of the series drawn there; later series draw over earlier ones.
        // A band is shaded first (`shaded`), so curves draw over it.
        var cells = [[Int?]](repeating: [Int?](repeating: nil, count: plotWidth), count: rows)
        var shaded = [[Int?]](repeating: [Int?](repeating: nil, count: plotWidth), count: rows)
        if let domain {
            func cell(_ point: (step: Int, value: Double)) -> (column: Int, row: Int) {
                let x = (Double(point.step) - domain.minStep) / (domain.maxStep - domain.minStep)
                let y = (domain.maxValue - point.value) / (domain.maxValue - domain.minValue)
                return (Int((x * Double(plotWidth - 1)).rounded()), Int((y * Double(rows - 1)).rounded()))
            }
            // Every column between two logged steps is shaded too, the edges joined by lines.
            for (index, band) in bands.enumerated() {
                for (a, b) in zip(band, band.dropFirst().map { Optional($0) } + [nil]) {
                    let b = b ?? a
                    let (from, to) = (cell((a.step, a.high)).column, cell((b.step, b.high)).column)
                    for column in from...max(from, to) {
                        let t = to == from ? 0 : Double(column - from) / Double(to - from)
                        let high = a.high + t * (b.high - a.high), low = a.low + t * (b.low - a.low)
                        let top = cell((a.step, high)).row, bottom = cell((a.step, low)).row
                        for row in top...max(top, bottom) { shaded[row][column] = index }
                    }
                }
            }
            for (index, curve) in curves.enumerated() {
                var previous: (column: Int, row: Int)?
                for point in curve {
                    let current = cell(point)
                    let from = previous ?? current
                    let steps = max(abs(current.column - from.column), abs(current.row - from.row), 1)
                    for s in 0...steps {
                        let t = Double(s) / Double(steps)
                        let column = Int((Double(from.column) + t * Double(current.column - from.column)).rounded())
                        let row = Int((Double(from.row) + t * Double(current.row - from.row)).rounded())
                        cells[row][column] = index
                    }
                    previous = current
                }
            }
        }

        func paint(_ index: Int) -> String {
            let symbol = String(terminalSymbols[index % terminalSymbols.count])
            return color ? "\u{1B}[\(ansiColors[index % ansiColors.count])m\(symbol)\u{1B}[0m" : symbol
        }
        func shade(_ index: Int) -> String {
            color ? "\u{1B}[\(ansiColors[index % ansiColors.count])m░\u{1B}[0m" : "░"
        }
        func fit(_ text: String) -> String {
            text.count >= width ? String(text.prefix(width)) : text + String(repeating: " ", count: width - text.count)
        }

        var lines: [String] = []
        let smoothingNote = options.smoothing > 0 ? "  (EMA \(String(format: "%.2f", options.smoothing)))" : ""
        lines.append(fit("\(options.heading)\(smoothingNote)"))
        for row in 0..<rows {
            let label = labels[row] ?? ""
            var line = String(repeating: " ", count: labelWidth - label.count) + label + (labels[row] == nil ? " │" : " ┤")
            if domain == nil && row == rows / 2 {
                let message = "no data"
                let left = max((plotWidth - message.count) / 2, 0)
                line += String((String(repeating: " ", count: left) + message + String(repeating: " ", count: plotWidth)).prefix(plotWidth))
            } else {
                for column in 0..<plotWidth {
                    line += cells[row][column].map(paint) ?? shaded[row][column].map { shade($0) } ?? " "
                }
            }
            lines.append(line)
        }
        lines.append(String(repeating: " ", count: labelWidth) + " └" + String(repeating: "─", count: plotWidth))

        var axis = [Character](repeating: " ", count: plotWidth)
        if let domain {
            func place(_ text: String, at start: Int) {
                for (offset, character) in text.enumerated() where start + offset >= 0 && start + offset < plotWidth {
                    axis[start + offset] = character
                }
            }
            let low = formatNumber(domain.minStep / options.xScale), high = formatNumber(domain.maxStep / options.xScale)
            let name = options.xLabel
            place(low, at: 0)
            place(high, at: plotWidth - high.count)
            if plotWidth > low.count + high.count + name.count + 4 { place(name, at: (plotWidth - name.count) / 2) }
        }
        lines.append(fit(String(repeating: " ", count: labelWidth + 2) + String(axis)))

        for indices in legendLines {
            let plain = indices.map { entries[$0].plain }.joined(separator: "   ")
            var line = fit(plain)
            if color {
                // Colour the symbols only; the padding computed on the plain text stays right.
                for index in indices { line = line.replacingOccurrences(of: String(entries[index].symbol), with: paint(index)) }
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}

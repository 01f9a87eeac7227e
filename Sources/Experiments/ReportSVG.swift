// The SVG chart of `ponder compare --svg`: a standalone image (no fonts, scripts or links to
// fetch) with a grid at round ticks, each run's raw curve drawn faint and its smoothed curve bold,
// a dot on each run's last smoothed point, and a legend at the right.
//
// Every element a script or a test needs is named: `polyline.raw` and `polyline.smoothed`
// carry `data-series="i"`, and the root's `data-*` attributes give the plot box and the domain,
// which the HTML page uses to redraw the smoothed curves when its slider moves.
import Foundation

extension Report {
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                          "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]

    /// Pixel geometry of a chart: the plot box inside the image and its data domain.
    struct SVGLayout {
        var width: Double, height: Double
        var left = 70.0, right: Double, top = 44.0, bottom: Double
        var domain: ChartDomain
        var xTicks: [Double], yTicks: [Double]

        init(width: Int, height: Int, domain: ChartDomain) {
            self.width = Double(width); self.height = Double(height)
            right = self.width - 190
            bottom = self.height - 50
            let expanded = domain.expandedToTicks(count: 6)
            self.domain = expanded.domain; xTicks = expanded.xTicks; yTicks = expanded.yTicks
        }

        func x(_ step: Double) -> Double { left + (step - domain.minStep) / (domain.maxStep - domain.minStep) * (right - left) }
        func y(_ value: Double) -> Double { bottom - (value - domain.minValue) / (domain.maxValue - domain.minValue) * (bottom - top) }
    }

    public static func svgChart(_ series: [ChartSeries], options: ChartOptions = ChartOptions(),
                                width: Int = 860, height: Int = 460) -> String {
        let width = max(width, 400), height = max(height, 240)
        let raw = series.map(\.plottable)
        let smoothed = raw.map { points in
            zip(points, smooth(points.map(\.value), weight: options.smoothing)).map { (step: $0.step, value: $1) }
        }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" \
            font-family="Helvetica, Arial, sans-serif" font-size="12"
            """
        let bands = series.map { $0.smoothedBand(weight: options.smoothing) }
        guard let domain = ChartDomain(raw + bands.map { $0.flatMap { [($0.step, $0.low), ($0.step, $0.high)] } }) else {
            svg += """
                >
                <rect width="\(width)" height="\(height)" fill="white"/>
                <text x="\(width / 2)" y="24" text-anchor="middle" font-size="15">\(escapeXML(options.heading))</text>
                <text x="\(width / 2)" y="\(height / 2)" text-anchor="middle" fill="#888">no data</text>
                </svg>
                """
            return svg
        }
        let layout = SVGLayout(width: width, height: height, domain: domain)
        let d = layout.domain
        svg += " data-plot=\"\(f(layout.left)) \(f(layout.top)) \(f(layout.right)) \(f(layout.bottom))\""
        svg += " data-domain=\"\(d.minStep) \(d.maxStep) \(d.minValue) \(d.maxValue)\">\n"
        svg += "<rect width=\"\(width)\" height=\"\(height)\" fill=\"white\"/>\n"
        svg += "<text x=\"\(f((layout.left + layout.right) / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">\(escapeXML(options.heading))</text>\n"

        // Grid and tick labels.
        svg += "<g class=\"grid\" stroke=\"#e5e5e5\" stroke-width=\"1\">\n"
        for tick in layout.xTicks {
            svg += "<line x1=\"\(f(layout.x(tick)))\" y1=\"\(f(layout.top))\" x2=\"\(f(layout.x(tick)))\" y2=\"\(f(layout.bottom))\"/>\n"
        }
        for tick in layout.yTicks {
            svg += "<line x1=\"\(f(layout.left))\" y1=\"\(f(layout.y(tick)))\" x2=\"\(f(layout.right))\" y2=\"\(f(layout.y(tick)))\"/>\n"
        }
        svg += "</g>\n<g class=\"ticks\" fill=\"#444\">\n"
        for tick in layout.xTicks {
            svg += "<text x=\"\(f(layout.x(tick)))\" y=\"\(f(layout.bottom + 18))\" text-anchor=\"middle\">\(formatNumber(tick / options.xScale))</text>\n"
        }
        for tick in layout.yTicks {
            svg += "<text x=\"\(f(layout.left - 8))\" y=\"\(f(layout.y(tick) + 4))\" text-anchor=\"end\">\(formatNumber(tick))</text>\n"
        }
        svg += "</g>\n"
        svg += "<rect class=\"frame\" x=\"\(f(layout.left))\" y=\"\(f(layout.top))\" width=\"\(f(layout.right - layout.left))\" "
            + "height=\"\(f(layout.bottom - layout.top))\" fill=\"none\" stroke=\"#999\"/>\n"
        svg += "<text x=\"\(f((layout.left + layout.right) / 2))\" y=\"\(f(layout.bottom + 40))\" text-anchor=\"middle\">\(escapeXML(options.xLabel))</text>\n"
        svg += "<text transform=\"translate(16 \(f((layout.top + layout.bottom) / 2))) rotate(-90)\" text-anchor=\"middle\">"
            + "\(escapeXML(options.metric))</text>\n"

        // Curves: raw faint under smoothed bold (raw alone, bold, when smoothing is off).
        let smoothingOn = options.smoothing > 0
        for index in series.indices {
            let colour = palette[index % palette.count]
            svg += "<g class=\"series\" data-series=\"\(index)\" data-label=\"\(escapeXML(series[index].label))\">\n"
            if !bands[index].isEmpty {
                let upper = bands[index].map { (step: $0.step, value: $0.high) }, lower = bands[index].reversed().map { (step: $0.step, value: $0.low) }
                svg += "<polygon class=\"band\" data-series=\"\(index)\" fill=\"\(colour)\" fill-opacity=\"0.18\" stroke=\"none\" "
                    + "points=\"\(pointList(upper + lower, layout))\"/>\n"
            }
            svg += "<polyline class=\"raw\" data-series=\"\(index)\" fill=\"none\" stroke=\"\(colour)\" "
                + (smoothingOn ? "stroke-opacity=\"0.3\" stroke-width=\"1\"" : "stroke-width=\"2\"")
                + " points=\"\(pointList(raw[index], layout))\"/>\n"
            if smoothingOn {
                svg += "<polyline class=\"smoothed\" data-series=\"\(index)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" "
                    + "stroke-linejoin=\"round\" points=\"\(pointList(smoothed[index], layout))\"/>\n"
            }
            if let last = smoothed[index].last {
                svg += "<circle class=\"last\" data-series=\"\(index)\" cx=\"\(f(layout.x(Double(last.step))))\" "
                    + "cy=\"\(f(layout.y(last.value)))\" r=\"3\" fill=\"\(colour)\"/>\n"
            }
            svg += "</g>\n"
        }

        // Legend.
        svg += "<g class=\"legend\">\n"
        for (index, curve) in series.enumerated() {
            let y = layout.top + 8 + Double(index) * 20
            let stats = statistics(curve, smoothing: options.smoothing)
            let value = (smoothingOn ? stats.lastSmoothed : stats.last).map(formatNumber) ?? "no data"
            svg += "<line x1=\"\(f(layout.right + 16))\" y1=\"\(f(y))\" x2=\"\(f(layout.right + 36))\" y2=\"\(f(y))\" "
                + "stroke=\"\(palette[index % palette.count])\" stroke-width=\"3\"/>\n"
            svg += "<text x=\"\(f(layout.right + 42))\" y=\"\(f(y + 4))\">\(escapeXML(truncate(curve.label, 16))) (\(value))</text>\n"
        }
        svg += "</g>\n</svg>"
        return svg
    }

    static func pointList(_ points: [(step: Int, value: Double)], _ layout: SVGLayout) -> String {
        points.map { "\(f(layout.x(Double($0.step)))),\(f(layout.y($0.value)))" }.joined(separator: " ")
    }

    /// Pixel coordinates to a tenth of a pixel.
    static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    static func truncate(_ text: String, _ length: Int) -> String {
        text.count <= length ? text : String(text.prefix(length - 1)) + "…"
    }

    static func escapeXML(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(character)
            }
        }
        return out
    }
}

// The HTML page of `ponder compare --html`: one self-contained file (no external script, style
// sheet, font or image) holding the SVG chart inline, a table of each run's last, min and max,
// and a smoothing slider. The slider's script is a few lines that recompute the same debiased
// EMA as `Report.smooth` and move the smoothed polylines; without JavaScript the page still shows
// the chart at the smoothing it was written with.
import Foundation

extension Report {
    public static func htmlReport(_ series: [ChartSeries], options: ChartOptions = ChartOptions(),
                                  width: Int = 860, height: Int = 460) -> String {
        // The page always draws both curves so the slider can bring smoothing in from zero.
        var chartOptions = options
        if chartOptions.smoothing == 0 { chartOptions.smoothing = 0.001 }
        let svg = svgChart(series, options: chartOptions, width: width, height: height)

        var rows = ""
        for (index, curve) in series.enumerated() {
            let stats = statistics(curve, smoothing: options.smoothing)
            func cell(_ value: Double?) -> String { value.map(formatNumber) ?? "–" }
            rows += """
                <tr><td><span class="swatch" style="background:\(palette[index % palette.count])"></span>\(escapeXML(curve.label))</td>\
                <td>\(stats.count)</td><td>\(stats.lastStep.map(String.init) ?? "–")</td><td>\(cell(stats.last))</td>\
                <td>\(cell(stats.min))</td><td>\(cell(stats.max))</td></tr>

                """
        }

        // Raw data for the slider: per series, the finite points in step order.
        let data = series.map { curve -> String in
            let points = curve.plottable
            return "{\"steps\":[\(points.map { String($0.step) }.joined(separator: ","))],"
                + "\"values\":[\(points.map { String(format: "%.9g", $0.value) }.joined(separator: ","))]}"
        }.joined(separator: ",")

        let heading = escapeXML(options.heading)
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(heading) · Ponder</title>
            <style>
            body { font-family: Helvetica, Arial, sans-serif; margin: 24px; color: #222; }
            h1 { font-size: 20px; font-weight: 600; }
            .controls { margin: 8px 0 16px; }
            table { border-collapse: collapse; margin-top: 16px; }
            th, td { padding: 4px 12px; border-bottom: 1px solid #ddd; text-align: right; }
            th:first-child, td:first-child { text-align: left; }
            .swatch { display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: -1px; }
            </style>
            </head>
            <body>
            <h1>\(heading)</h1>
            <div class="controls"><label>Smoothing <input id="smoothing" type="range" min="0" max="0.99" step="0.01" \
            value="\(String(format: "%.2f", options.smoothing))"> <output id="smoothing-value">\(String(format: "%.2f", options.smoothing))</output></label></div>
            <div id="chart">
            \(svg)
            </div>
            <table>
            <thead><tr><th>run</th><th>points</th><th>last step</th><th>last \(escapeXML(options.metric))</th><th>min</th><th>max</th></tr></thead>
            <tbody>
            \(rows)</tbody>
            </table>
            <script>
            const series = [\(data)];
            const svg = document.querySelector("#chart svg");
            const slider = document.getElementById("smoothing");
            function redraw() {
              const w = Math.min(Math.max(parseFloat(slider.value), 0), 0.999);
              document.getElementById("smoothing-value").textContent = w.toFixed(2);
              if (!svg.dataset.plot) return;
              const [left, top, right, bottom] = svg.dataset.plot.split(" ").map(Number);
              const [s0, s1, v0, v1] = svg.dataset.domain.split(" ").map(Number);
              series.forEach((s, i) => {
                let m = 0, z = 0;
                const pts = s.values.map((v, k) => {
                  m = w * m + (1 - w) * v; z = w * z + (1 - w);
                  const x = left + (s.steps[k] - s0) / (s1 - s0) * (right - left);
                  const y = bottom - (m / z - v0) / (v1 - v0) * (bottom - top);
                  return [x, y];
                });
                const line = svg.querySelector('polyline.smoothed[data-series="' + i + '"]');
                if (line) line.setAttribute("points", pts.map(p => p[0].toFixed(1) + "," + p[1].toFixed(1)).join(" "));
                const dot = svg.querySelector('circle.last[data-series="' + i + '"]');
                if (dot && pts.length) { dot.setAttribute("cx", pts[pts.length - 1][0].toFixed(1)); dot.setAttribute("cy", pts[pts.length - 1][1].toFixed(1)); }
              });
            }
            slider.addEventListener("input", redraw);
            </script>
            </body>
            </html>

            """
    }
}

// Live line charts drawn with the vendored uPlot: `stewardCharts.line(box, {title, yLabel, points: [[x, y], ...]})`
// replaces the box's content (a server-drawn SVG, kept as the fallback without JavaScript) with an interactive
// chart (hover for values, drag to zoom, double-click to reset). Redrawing the same box updates it in place.
(function () {
  const charts = new WeakMap();

  function line(box, spec) {
    if (typeof uPlot === "undefined" || !spec.points || spec.points.length === 0) return null;
    const xs = spec.points.map((p) => p[0]);
    const ys = spec.points.map((p) => p[1]);
    const old = charts.get(box);
    if (old) { old.setData([xs, ys]); box.dataset.livePoints = String(xs.length); return old; }
    box.innerHTML = "";
    const width = Math.max(box.clientWidth || 480, 240);
    const chart = new uPlot(
      {
        title: spec.title || "",
        width: width,
        height: spec.height || 220,
        scales: { x: { time: false } },
        axes: [{ label: spec.xLabel || "step" }, { label: spec.yLabel || "" }],
        series: [{ label: spec.xLabel || "step" }, { label: spec.label || spec.yLabel || "", stroke: spec.color || "#1a73e8", width: 2 }],
      },
      [xs, ys],
      box,
    );
    box.dataset.livePoints = String(xs.length);
    charts.set(box, chart);
    return chart;
  }

  // Several series over time: `stewardCharts.lines(box, {times: [unix seconds], yLabel, series: [{label, values,
  // color, dash}]})`; a null value breaks its line (no data in that minute).
  function lines(box, spec) {
    if (typeof uPlot === "undefined" || !spec.times || spec.times.length === 0 || !spec.series.length) return null;
    const data = [spec.times].concat(spec.series.map((s) => s.values));
    const old = charts.get(box);
    if (old && old.series.length === data.length) {
      old.setData(data);
      box.dataset.livePoints = String(spec.times.length);
      return old;
    }
    if (old) old.destroy();
    box.innerHTML = "";
    const chart = new uPlot(
      {
        title: spec.title || "",
        width: Math.max(box.clientWidth || 480, 240),
        height: spec.height || 240,
        scales: { x: { time: true } },
        axes: [{}, { label: spec.yLabel || "" }],
        series: [{}].concat(
          spec.series.map((s) => ({ label: s.label, stroke: s.color || "#1a73e8", width: 2, dash: s.dash || undefined, spanGaps: false })),
        ),
      },
      data,
      box,
    );
    box.dataset.livePoints = String(spec.times.length);
    box.dataset.liveSeries = String(spec.series.length);
    charts.set(box, chart);
    return chart;
  }

  // `get(box)`: the uPlot instance drawn in a box (its scales and data), or undefined.
  window.stewardCharts = { line: line, lines: lines, get: (box) => charts.get(box) };
})();

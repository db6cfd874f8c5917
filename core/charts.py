"""Charts as inline SVG, drawn on the server: no chart library, no JavaScript, nothing from the internet.

One palette and one frame for every page: `line_chart` (numbers or times along x; None breaks a
line), `bar_chart` (side-by-side bars per bin, e.g. live scores beside the test split) and
`hbar_chart` (one labelled horizontal bar per row, e.g. the share of personal data per column) and
`heatmap_chart` (a labelled square matrix of counts, e.g. a labeling project's confusion matrix).
Each returns a SafeString assembled with `format_html`, so every label, title and note is escaped
where it is written into the markup; templates render it as is (no `|safe`).

A chart's title is its accessible name (`<title>`, `aria-label`); the page puts the visible
heading above it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

BLUE, RED, GREEN, AMBER, PURPLE, CYAN = "#1a73e8", "#d93025", "#188038", "#f29900", "#9334e6", "#12b5cb"
GREY = "#80868b"  # a reference beside live data; rejected, inactive
LIGHT_GREY = "#dadce0"  # frames; nothing to show
PALETTE = (BLUE, RED, GREEN, AMBER, PURPLE, CYAN)  # series in order
_INK = "#5f6368"  # axis text
_GRID = "#eee"

_W, _H = 640, 220
_L, _R, _T, _B = 56, 12, 12, 40  # margins: left (y ticks), right, top, bottom (x ticks and legend)
_PLOT_W, _PLOT_H = _W - _L - _R, _H - _T - _B

Number = float | int


@dataclass
class Series:
    """One line: (x, y) points in x order; x a number or a datetime, y None for a gap."""

    label: str
    points: Sequence[tuple[Number | datetime, Number | None]]
    color: str | None = None  # default: the palette, by the series' position
    dashed: bool = False


@dataclass
class Bar:
    """One row of a horizontal bar chart."""

    label: str
    value: float
    color: str = BLUE
    note: str = ""  # written after the bar
    tip: str = ""  # shown on hover


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    y_label: str = "",
    x_label: str = "",
    y_from_zero: bool = True,
    y_format: str = "",
    x_range: tuple[Number | datetime, Number | datetime] | None = None,
) -> SafeString:
    """Lines over a shared x axis. The y axis runs from 0 to a round number above the data, or
    (`y_from_zero=False`) spans the data, for curves such as a validation AUC. `x_range` fixes the
    x axis (e.g. a time window); by default it spans the data."""
    colors = [s.color or PALETTE[i % len(PALETTE)] for i, s in enumerate(series)]
    points = [(x, float(y)) for s in series for x, y in s.points if y is not None]
    parts: list[SafeString] = []
    if not points:
        parts += _frame([], y_label)
        parts.append(
            format_html('<text x="{}" y="{}" font-size="12" fill="{}">no data yet</text>', _L + 8, _H // 2, _INK)
        )
        parts += _legend([(s.label, c, s.dashed) for s, c in zip(series, colors, strict=True)], x_label)
        return _svg(parts, title)
    ys = [y for _, y in points]
    if y_from_zero:
        y0, y1 = 0.0, _nice_max(max(ys))
    else:
        y0, y1 = min(ys), max(ys)
        if y1 == y0:
            y0, y1 = y0 - 0.005 * (abs(y0) or 1), y1 + 0.005 * (abs(y1) or 1)
    lo, hi = x_range if x_range is not None else (min(x for x, _ in points), max(x for x, _ in points))
    x0, x1 = _x_value(lo), _x_value(hi)
    if x1 == x0:
        x1 = x0 + 1

    def sx(x: Number | datetime) -> float:
        return _L + _PLOT_W * (_x_value(x) - x0) / (x1 - x0)

    def sy(y: float) -> float:
        return _H - _B - _PLOT_H * min(max((y - y0) / (y1 - y0), 0.0), 1.0)

    ticks = [y0 + (y1 - y0) * i / 4 for i in range(5)]
    parts += _frame([(sy(v), _fmt(v, y_format)) for v in ticks], y_label)
    for i in range(5):
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        moment = _x_tick(lo, hi, i / 4)
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="{}" font-size="11" fill="{}">{}</text>',
                f"{_L + _PLOT_W * i / 4:.1f}",
                _H - _B + 14,
                anchor,
                _INK,
                moment,
            )
        )
    for s, color in zip(series, colors, strict=True):
        segments: list[list[str]] = [[]]
        for x, y in s.points:
            if y is None:
                segments.append([])
            else:
                segments[-1].append(f"{sx(x):.1f},{sy(float(y)):.1f}")
        dash = "4 3" if s.dashed else "none"
        for seg in segments:
            if len(seg) == 1:
                cx, cy = seg[0].split(",")
                parts.append(format_html('<circle cx="{}" cy="{}" r="2.5" fill="{}"/>', cx, cy, color))
            elif seg:
                parts.append(
                    format_html(
                        '<polyline fill="none" stroke="{}" stroke-width="2" stroke-dasharray="{}" points="{}">'
                        "<title>{}</title></polyline>",
                        color,
                        dash,
                        " ".join(seg),
                        s.label,
                    )
                )
    parts += _legend([(s.label, c, s.dashed) for s, c in zip(series, colors, strict=True)], x_label)
    return _svg(parts, title)


def bar_chart(
    bins: Sequence[str],
    groups: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    y_label: str = "",
    colors: Sequence[str] = PALETTE,
) -> SafeString:
    """Side-by-side bars per bin, one colour per group; the y axis runs from 0."""
    values = [v for _, vs in groups for v in vs]
    ymax = _nice_max(max(values) if values else 1.0)
    parts = _frame([(_H - _B - _PLOT_H * i / 4, _fmt(ymax * i / 4)) for i in range(5)], y_label)
    slot = _PLOT_W / max(len(bins), 1)
    width = slot * 0.8 / max(len(groups), 1)
    for g, (label, vs) in enumerate(groups):
        color = colors[g % len(colors)]
        for i, v in enumerate(vs):
            h = _PLOT_H * min(max(v / ymax, 0.0), 1.0)
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" fill-opacity="0.75">'
                    "<title>{} {}: {}</title></rect>",
                    f"{_L + slot * i + slot * 0.1 + width * g:.1f}",
                    f"{_H - _B - h:.1f}",
                    f"{width:.1f}",
                    f"{h:.1f}",
                    color,
                    label,
                    bins[i],
                    f"{v:.3f}",
                )
            )
    step = max(1, len(bins) // 5)
    for i in range(0, len(bins), step):
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="middle" font-size="11" fill="{}">{}</text>',
                f"{_L + slot * i + slot / 2:.1f}",
                _H - _B + 14,
                _INK,
                bins[i],
            )
        )
    parts += _legend([(label, colors[g % len(colors)], False) for g, (label, _) in enumerate(groups)])
    return _svg(parts, title)


def hbar_chart(bars: Sequence[Bar], *, title: str, max_value: float = 1.0, label_chars: int = 28) -> SafeString:
    """One horizontal bar per row: its label on the left (cut to `label_chars`), the bar scaled to
    `max_value`, and its note after the bar."""
    row, label_w, bar_w = 22, 200, 400
    width, height = 720, row * len(bars) + 30
    parts: list[SafeString] = []
    for i, bar in enumerate(bars):
        y = 10 + i * row
        w = max(1, int(bar_w * min(max(bar.value / max_value, 0.0), 1.0))) if max_value > 0 else 1
        label = bar.label[:label_chars]  # cut before escaping, so an entity such as &amp; is never split
        parts.append(format_html('<text x="0" y="{}" font-size="12">{}</text>', y + 13, label))
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="16" fill="{}"><title>{}</title></rect>',
                label_w,
                y,
                w,
                bar.color,
                bar.tip or f"{label}: {bar.note}",
            )
        )
        if bar.note:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" font-size="11" fill="{}">{}</text>', label_w + 5 + w, y + 13, _INK, bar.note
                )
            )
    return _svg(parts, title, width=width, height=height)


# -- the frame and its parts ----------------------------------------------------------------------


def heatmap_chart(
    labels: Sequence[str],
    matrix: Sequence[Sequence[int]],
    *,
    title: str,
    row_title: str,
    column_title: str,
    cell: int = 44,
) -> SafeString:
    """Rows and columns share `labels`; each cell's colour grows (white to BLUE) with its share of the row, so a
    rare label's row reads as well as a common one's; the count is written in each cell, the diagonal outlined."""
    n = len(labels)
    left, top = 150, 110
    width, height = left + n * cell + 110, top + n * cell + 30  # room for the last rotated column label
    blue = [int(BLUE[i : i + 2], 16) for i in (1, 3, 5)]
    cells = []
    for i, row in enumerate(matrix):
        peak = max(1, sum(row))
        for j, count in enumerate(row):
            share = count / peak
            r, g, b = (round(255 - (255 - c) * share) for c in blue)
            x, y = left + j * cell, top + i * cell
            ink = "#fff" if share > 0.55 else "#202124"
            outline = "#202124" if i == j else LIGHT_GREY
            cells.append((x, y, cell, cell, f"rgb({r},{g},{b})", outline, x + cell // 2, y + cell // 2 + 4, ink, count))
            cells[-1] += (labels[i], labels[j], count)
    body = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="{}"/>'
        '<text x="{}" y="{}" font-size="12" text-anchor="middle" fill="{}">{}'
        "<title>{}, {}: {}</title></text>",
        cells,
    )
    row_labels = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="11" text-anchor="end">{}</text>',
        ((left - 6, top + i * cell + cell // 2 + 4, str(name)[:22]) for i, name in enumerate(labels)),
    )
    column_labels = format_html_join(
        "",
        '<text transform="translate({},{}) rotate(-40)" font-size="11">{}</text>',
        ((left + j * cell + cell // 2, top - 6, str(name)[:22]) for j, name in enumerate(labels)),
    )
    axes = format_html(
        '<text x="4" y="{}" font-size="11" fill="{}">rows: {}</text>'
        '<text x="4" y="14" font-size="11" fill="{}">columns: {}</text>',
        top + n * cell + 20,
        _INK,
        row_title,
        _INK,
        column_title,
    )
    return _svg([axes, row_labels, column_labels, body], title, width=width, height=height)


def _frame(y_ticks: Sequence[tuple[float, str]], y_label: str) -> list[SafeString]:
    """The plot's border, horizontal grid lines with their values, and the y axis label."""
    parts = [
        format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="{}"/>', _L, _T, _PLOT_W, _PLOT_H, LIGHT_GREY
        )
    ]
    for y, text in y_ticks:
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}"/>', _L, _W - _R, f"{y:.1f}", f"{y:.1f}", _GRID
            )
        )
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="end" font-size="11" fill="{}">{}</text>',
                _L - 6,
                f"{y + 4:.1f}",
                _INK,
                text,
            )
        )
    if y_label:
        middle = f"{_T + _PLOT_H / 2:.0f}"
        parts.append(
            format_html(
                '<text x="12" y="{}" font-size="11" fill="{}" transform="rotate(-90 12 {})" '
                'text-anchor="middle">{}</text>',
                middle,
                _INK,
                middle,
                y_label,
            )
        )
    return parts


def _legend(items: Sequence[tuple[str, str, bool]], x_label: str = "") -> list[SafeString]:
    """A swatch and label per series along the bottom; the x axis label at the bottom right."""
    parts, x = [], _L
    for label, color, dashed in items:
        if not label:
            continue
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}" stroke-width="2" stroke-dasharray="{}"/>',
                x,
                x + 18,
                _H - 10,
                _H - 10,
                color,
                "4 3" if dashed else "none",
            )
        )
        parts.append(format_html('<text x="{}" y="{}" font-size="11">{}</text>', x + 22, _H - 6, label))
        x += 30 + 7 * len(label)
    if x_label:
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="end" font-size="11" fill="{}">{}</text>',
                _W - _R,
                _H - 6,
                _INK,
                x_label,
            )
        )
    return parts


def _svg(parts: Sequence[SafeString], title: str, *, width: int = _W, height: int = _H) -> SafeString:
    # conditional_escape leaves the parts (SafeStrings from format_html) as they are and would
    # escape anything else, so nothing unescaped can reach the page.
    body = mark_safe("".join(conditional_escape(p) for p in parts))
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg"><title>{}</title>{}</svg>',
        width,
        height,
        title,
        title,
        body,
    )


def _nice_max(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= value (the axis top)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude * (1 + 1e-9):
            return step * magnitude
    return 10 * magnitude


def _fmt(v: float, spec: str = "") -> str:
    if spec:
        return spec.format(v)
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 1 or v == 0:
        return f"{v:g}"
    return f"{v:.3g}"


def _x_value(x: Number | datetime) -> float:
    return x.timestamp() if isinstance(x, datetime) else float(x)


def _x_tick(lo: Number | datetime, hi: Number | datetime, frac: float) -> str:
    if isinstance(lo, datetime) and isinstance(hi, datetime):
        return f"{lo + (hi - lo) * frac:%H:%M}"
    value = float(lo) + (float(hi) - float(lo)) * frac
    return f"{round(value):d}" if abs(value) >= 10 or float(value).is_integer() else f"{value:.3g}"

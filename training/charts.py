"""Line charts as inline SVG, drawn on the server (no chart library, nothing from the internet)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#1a73e8", "#d93025", "#188038", "#f29900", "#9334e6", "#12b5cb", "#5f6368")
Point = Sequence[float]


def line_chart(
    series: Sequence[tuple[str, Sequence[Point]]],
    *,
    title: str,
    width: int = 560,
    height: int = 220,
    y_format: str = "{:.3f}",
) -> SafeString:
    """One polyline per (label, [[x, y], ...]) series, with axes ticks and a legend."""
    pad_l, pad_r, pad_t, pad_b = 56, 12, 24, 36
    points = [(float(x), float(y)) for _, pts in series for x, y in pts if y is not None]
    out = [
        (
            f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(title)}">'
        ),
        f'<text x="{pad_l}" y="15" font-size="12" font-weight="600">{escape(title)}</text>',
    ]
    if not points:
        out.append(f'<text x="{pad_l}" y="{height // 2}" font-size="12" fill="#5f6368">no data yet</text></svg>')
        return mark_safe("".join(out))
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5 * (abs(y0) or 1) * 0.01, y1 + 0.5 * (abs(y1) or 1) * 0.01
    span_w, span_h = width - pad_l - pad_r, height - pad_t - pad_b

    def sx(x: float) -> float:
        return pad_l + (x - x0) / (x1 - x0) * span_w

    def sy(y: float) -> float:
        return pad_t + (1 - (y - y0) / (y1 - y0)) * span_h

    out.append(f'<rect x="{pad_l}" y="{pad_t}" width="{span_w}" height="{span_h}" fill="none" stroke="#dadce0"/>')
    for i in range(5):
        y = y0 + (y1 - y0) * i / 4
        out.append(
            f'<text x="{pad_l - 4}" y="{sy(y) + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="#5f6368">{escape(y_format.format(y))}</text>'
        )
    for i in range(5):
        x = x0 + (x1 - x0) * i / 4
        out.append(
            f'<text x="{sx(x):.1f}" y="{height - pad_b + 14}" font-size="10" '
            f'text-anchor="middle" fill="#5f6368">{round(x)}</text>'
        )
    out.append(
        f'<text x="{pad_l + span_w / 2:.0f}" y="{height - 4}" font-size="10" '
        'text-anchor="middle" fill="#5f6368">step</text>'
    )
    for i, (label, pts) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{sx(float(x)):.1f},{sy(float(y)):.1f}" for x, y in pts if y is not None)
        if coords:
            out.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="1.6" '
                f'points="{coords}"><title>{escape(label)}</title></polyline>'
            )
        out.append(
            f'<text x="{pad_l + 8 + 110 * i}" y="{pad_t + 14}" font-size="11" fill="{color}">{escape(label)}</text>'
        )
    out.append("</svg>")
    return mark_safe("".join(out))

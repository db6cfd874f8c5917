"""Small server-side SVG charts (no JavaScript, no CDN): lines over time and side-by-side bars."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2")
REFERENCE = "#9ca3af"  # the test split, beside live traffic
_W, _H = 640, 220
_L, _R, _T, _B = 56, 12, 12, 40  # margins


@dataclass
class Series:
    label: str
    points: Sequence[tuple[datetime, float | None]]
    color: str = PALETTE[0]
    dashed: bool = False


def _nice_max(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= value (the axis top)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude * (1 + 1e-9):
            return step * magnitude
    return 10 * magnitude


def _fmt(v: float) -> str:
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 1 or v == 0:
        return f"{v:g}"
    return f"{v:.3g}"


def _frame(ymax: float, y_label: str) -> list[str]:
    parts = [f'<rect x="{_L}" y="{_T}" width="{_W - _L - _R}" height="{_H - _T - _B}" fill="none" stroke="#ddd"/>']
    for i in range(5):
        value = ymax * i / 4
        y = _H - _B - (_H - _T - _B) * i / 4
        parts.append(f'<line x1="{_L}" x2="{_W - _R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{_L - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{_fmt(value)}</text>')
    parts.append(
        f'<text x="12" y="{_T + (_H - _T - _B) / 2:.0f}" font-size="11" '
        f'transform="rotate(-90 12 {_T + (_H - _T - _B) / 2:.0f})" text-anchor="middle">{escape(y_label)}</text>'
    )
    return parts


def _legend(items: Sequence[tuple[str, str, bool]]) -> list[str]:
    parts, x = [], _L
    for label, color, dashed in items:
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        parts.append(
            f'<line x1="{x}" x2="{x + 18}" y1="{_H - 10}" y2="{_H - 10}" stroke="{color}" stroke-width="2"{dash}/>'
        )
        parts.append(f'<text x="{x + 22}" y="{_H - 6}" font-size="11">{escape(label)}</text>')
        x += 30 + 7 * len(label)
    return parts


def _svg(parts: list[str], title: str) -> SafeString:
    body = "".join(parts)
    return mark_safe(  # every interpolated text above went through html.escape
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" width="100%" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{body}</svg>'
    )


def line_chart(series: Sequence[Series], *, start: datetime, end: datetime, y_label: str, title: str) -> SafeString:
    values = [v for s in series for _, v in s.points if v is not None]
    ymax = _nice_max(max(values) if values else 1.0)
    span = max((end - start).total_seconds(), 1.0)
    plot_w, plot_h = _W - _L - _R, _H - _T - _B
    parts = _frame(ymax, y_label)
    for frac, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):
        x = _L + plot_w * frac
        moment = start + (end - start) * frac
        parts.append(
            f'<text x="{x:.1f}" y="{_H - _B + 14}" text-anchor="{anchor}" font-size="11">{moment:%H:%M}</text>'
        )
    for s in series:
        segments: list[list[str]] = [[]]
        for t, v in s.points:
            if v is None:
                segments.append([])
                continue
            x = _L + plot_w * (t - start).total_seconds() / span
            y = _H - _B - plot_h * min(v / ymax, 1.0)
            segments[-1].append(f"{x:.1f},{y:.1f}")
        dash = ' stroke-dasharray="4 3"' if s.dashed else ""
        for seg in segments:
            if len(seg) == 1:
                x, y = seg[0].split(",")
                parts.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{s.color}"/>')
            elif seg:
                parts.append(
                    f'<polyline fill="none" stroke="{s.color}" stroke-width="2"{dash} points="{" ".join(seg)}"/>'
                )
    parts += _legend([(s.label, s.color, s.dashed) for s in series])
    return _svg(parts, title)


def bar_chart(
    bins: Sequence[str],
    groups: Sequence[tuple[str, Sequence[float]]],
    *,
    y_label: str,
    title: str,
    colors: Sequence[str] = PALETTE,
) -> SafeString:
    """Side-by-side bars per bin, one colour per group (e.g. live traffic vs the test split)."""
    values = [v for _, vs in groups for v in vs]
    ymax = _nice_max(max(values) if values else 1.0)
    plot_w, plot_h = _W - _L - _R, _H - _T - _B
    parts = _frame(ymax, y_label)
    slot = plot_w / max(len(bins), 1)
    width = slot * 0.8 / max(len(groups), 1)
    for g, (label, vs) in enumerate(groups):
        color = colors[g % len(colors)]
        for i, v in enumerate(vs):
            h = plot_h * min(v / ymax, 1.0)
            x = _L + slot * i + slot * 0.1 + width * g
            parts.append(
                f'<rect x="{x:.1f}" y="{_H - _B - h:.1f}" width="{width:.1f}" height="{h:.1f}" '
                f'fill="{color}" fill-opacity="0.75"><title>{escape(label)} {escape(bins[i])}: '
                f"{v:.3f}</title></rect>"
            )
    step = max(1, len(bins) // 5)
    for i in range(0, len(bins), step):
        parts.append(
            f'<text x="{_L + slot * i + slot / 2:.1f}" y="{_H - _B + 14}" text-anchor="middle" '
            f'font-size="11">{escape(bins[i])}</text>'
        )
    parts += _legend([(label, colors[g % len(colors)], False) for g, (label, _) in enumerate(groups)])
    return _svg(parts, title)

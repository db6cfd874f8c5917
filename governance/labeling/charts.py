"""The confusion matrix as an inline SVG heatmap, built with format_html so every label and number is escaped.

One function, to be folded into the shared chart module in core/ when it lands.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


def confusion_heatmap(
    labels: Sequence[str],
    matrix: Sequence[Sequence[int]],
    *,
    row_title: str = "final label",
    column_title: str = "annotator's label",
    cell: int = 44,
) -> SafeString:
    """Rows: the reference label; columns: the given one. Cell colour grows with the row's share (so a rare label's
    row is as readable as a common one's); the count is written in each cell."""
    n = len(labels)
    left, top = 150, 110
    width, height = left + n * cell + 110, top + n * cell + 30  # room for the last rotated column label
    peak = [max(1, sum(row)) for row in matrix]
    cells = []
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            share = count / peak[i]
            # White to Steward blue (#1a73e8) by share; diagonal cells are outlined.
            r, g, b = (round(255 - (255 - c) * share) for c in (0x1A, 0x73, 0xE8))
            cells.append(
                (
                    left + j * cell,
                    top + i * cell,
                    cell,
                    f"rgb({r},{g},{b})",
                    "#202124" if i == j else "#dadce0",
                    left + j * cell + cell // 2,
                    top + i * cell + cell // 2 + 4,
                    "#fff" if share > 0.55 else "#202124",
                    count,
                    labels[i],
                    labels[j],
                    count,
                )
            )
    body = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="{}"/>'
        '<text x="{}" y="{}" font-size="12" text-anchor="middle" fill="{}">{}'
        "<title>final {}, given {}: {}</title></text>",
        (
            (x, y, c, c, fill, stroke, tx, ty, ink, count, a, b, k)
            for x, y, c, fill, stroke, tx, ty, ink, count, a, b, k in cells
        ),
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
    return format_html(
        '<svg class="confusion" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img" '
        'aria-label="confusion matrix: {} by {}">'
        '<text x="4" y="{}" font-size="11" fill="#5f6368">rows: {}</text>'
        '<text x="4" y="{}" font-size="11" fill="#5f6368">columns: {}</text>{}{}{}</svg>',
        width,
        height,
        row_title,
        column_title,
        top + n * cell + 20,
        row_title,
        14,
        column_title,
        row_labels,
        column_labels,
        body,
    )

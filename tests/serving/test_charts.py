from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from serving import charts


@pytest.mark.parametrize(("value", "top"), [(0.15, 0.2), (0.26, 0.5), (1.0, 1.0), (7, 10), (130, 200), (0, 1.0)])
def test_axis_top_is_a_round_number_just_above_the_data(value: float, top: float) -> None:
    assert charts._nice_max(value) == pytest.approx(top)


def test_line_chart_draws_one_polyline_per_series_and_escapes_labels() -> None:
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    points = [(start + timedelta(minutes=m), float(m)) for m in range(10)]
    svg = str(
        charts.line_chart(
            [charts.Series("<v1>", points), charts.Series("v2", [*points[:3], (points[3][0], None)])],
            start=start,
            end=points[-1][0],
            y_label="req",
            title="t",
        )
    )
    assert svg.startswith("<svg") and svg.count("<polyline") == 2
    assert "&lt;v1&gt;" in svg and "<v1>" not in svg


def test_bar_chart_draws_a_bar_per_bin_and_group() -> None:
    svg = str(
        charts.bar_chart(
            ["a", "b", "c"],
            [("live", [0.1, 0.5, 0.4]), ("test split", [0.2, 0.4, 0.4])],
            y_label="share",
            title="scores",
        )
    )
    assert svg.count("<rect") == 1 + 6  # the frame and six bars

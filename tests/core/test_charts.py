"""The one chart module: inline SVG with escaped text, as SafeStrings the templates render as they are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils.safestring import SafeString

from core import charts


@pytest.mark.parametrize(("value", "top"), [(0.15, 0.2), (0.26, 0.5), (1.0, 1.0), (7, 10), (130, 200), (0, 1.0)])
def test_axis_top_is_a_round_number_just_above_the_data(value: float, top: float) -> None:
    assert charts._nice_max(value) == pytest.approx(top)


def test_line_chart_over_time_draws_one_polyline_per_series_and_escapes_labels() -> None:
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    points = [(start + timedelta(minutes=m), float(m)) for m in range(10)]
    svg = charts.line_chart(
        [charts.Series("<v1>", points), charts.Series("v2", [*points[:3], (points[3][0], None)])],
        x_range=(start, points[-1][0]),
        y_label="req",
        title="t",
    )
    assert isinstance(svg, SafeString)
    assert svg.startswith("<svg") and svg.count("<polyline") == 2
    assert "&lt;v1&gt;" in svg and "<v1>" not in svg
    assert ">12:00<" in svg and ">12:09<" in svg  # time ticks at both ends of the window


def test_line_chart_of_a_curve_spans_its_values_and_formats_them() -> None:
    svg = charts.line_chart(
        [charts.Series("valid AUC", [(10, 0.71), (20, 0.74), (30, 0.7412)])],
        title="Validation AUC",
        y_from_zero=False,
        y_format="{:.3f}",
        x_label="step",
    )
    assert ">0.710<" in svg and ">0.741<" in svg and ">0.000<" not in svg
    assert ">10<" in svg and ">30<" in svg and ">step<" in svg
    assert 'aria-label="Validation AUC"' in svg


def test_a_line_chart_without_points_says_so() -> None:
    svg = charts.line_chart([charts.Series("train loss", [])], title="Training loss")
    assert "no data yet" in svg and "<polyline" not in svg


def test_bar_chart_draws_a_bar_per_bin_and_group() -> None:
    svg = charts.bar_chart(
        ["a", "b", "c"],
        [("live", [0.1, 0.5, 0.4]), ("test split", [0.2, 0.4, 0.4])],
        y_label="share",
        title="scores",
    )
    assert svg.count("<rect") == 1 + 6  # the frame and six bars


def test_hbar_chart_cuts_labels_before_escaping_them() -> None:
    svg = charts.hbar_chart(
        [
            charts.Bar("a" * 27 + "&b", 0.5, charts.RED, note="EMAIL 50%"),
            charts.Bar("<script>", 0.0, charts.LIGHT_GREY, note="clean 0%"),
        ],
        title="share of personal data",
    )
    assert svg.count("<rect") == 2
    assert "a" * 27 + "&amp;<" in svg  # the cut kept the whole entity
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'width="200"' in svg  # half of the 400 px bar area

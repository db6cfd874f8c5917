"""The monitoring page's latency chart in a real browser (Debian's chromium through Playwright): drawn with the
vendored uPlot from GET /api/v1/serving/{model}/latency/ (nothing from the internet), with the server-drawn SVG
kept for a browser without JavaScript."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.factories import (
    CHROMIUM,
    browser_page,
    launch_chromium,
    outside_requests,
    record_serving_minute,
    served_model,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page: Any, base: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", "viewer-user")
    page.fill("#id_password", "pw-viewer-123")
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{base}/")


def test_the_monitoring_page_draws_serving_latency_with_uplot(live_server: Any, personas: dict[str, Any]) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import expect, sync_playwright

    served_model(personas)
    record_serving_minute("ctr", 2, 4, [3.0] * 20 + [700.0])
    record_serving_minute("ctr", 2, 2, [5.0] * 8)
    record_serving_minute("ctr", 1, 3, [40.0] * 4)
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser_page(browser)
            outside = outside_requests(page, live_server.url)
            _log_in(page, live_server.url)
            with page.expect_response(lambda r: "/api/v1/serving/ctr/latency/?window=15m" in r.url) as answer:
                page.goto(f"{live_server.url}/models/ctr/monitoring/?window=15m")
            body = answer.value.json()
            assert [v["version"] for v in body["versions"]] == [2, 1]

            chart = page.locator("#live-latency")
            expect(chart.locator("canvas")).to_have_count(1)
            expect(chart).to_have_attribute("data-live-points", str(len(body["times"])))
            expect(chart).to_have_attribute("data-live-series", "4")  # p50 and p99 of both versions
            expect(chart.locator(".u-legend")).to_contain_text("v2 p99")
            expect(chart.locator(".u-legend")).to_contain_text("v1 p50")
            expect(page.locator("#latency-svg")).to_be_hidden()  # the server's SVG steps aside
            # The chart holds the API's data and its y scale spans the slow p99 minute (the 500-1000 ms bucket).
            drawn = page.evaluate(
                "() => { const c = stewardCharts.get(document.getElementById('live-latency'));"
                " return {points: c.data[0].length, ymax: c.scales.y.max,"
                " p99: c.data[2].filter((v) => v !== null)}; }"
            )
            assert drawn["points"] == len(body["times"]) and drawn["ymax"] >= 500
            assert drawn["p99"] == [v for v in body["versions"][0]["p99"] if v is not None] and len(drawn["p99"]) == 2
            assert outside == []

            nojs = browser.new_context(java_script_enabled=False)
            plain = nojs.new_page()
            _log_in(plain, live_server.url)
            plain.goto(f"{live_server.url}/models/ctr/monitoring/?window=15m")
            expect(plain.locator("#latency-svg svg")).to_be_visible()
            expect(plain.locator("#live-latency canvas")).to_have_count(0)
            nojs.close()
        finally:
            browser.close()

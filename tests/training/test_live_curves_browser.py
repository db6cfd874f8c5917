"""Live training curves in a real browser (Debian's chromium through Playwright): the training job page draws the
curves the job API reports with the vendored uPlot (nothing from the internet), redraws them as the running job
reports more points, and keeps the server-drawn SVG charts without JavaScript."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

from core.models import Job
from tests.factories import CHROMIUM, browser_page, launch_chromium, outside_requests

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _job(actor: Any) -> Job:
    return Job.objects.create(
        kind="training",
        status=Job.Status.RUNNING,
        progress=0.4,
        actor=actor,
        params={"model_name": "ctr"},
        details={"curves": {"loss": [[20, 0.69], [40, 0.61], [60, 0.55]], "val_auc": [[40, 0.62]]}},
    )


def test_the_training_page_draws_live_curves_with_uplot(live_server: Any, personas: dict[str, Any]) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import expect, sync_playwright

    job = _job(personas["steward"])
    more = {"curves": {"loss": [[20, 0.69], [40, 0.61], [60, 0.55], [80, 0.5]], "val_auc": [[40, 0.62], [80, 0.66]]}}
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser_page(browser)
            outside = outside_requests(page, live_server.url)
            page.goto(f"{live_server.url}/login/")
            page.fill("#id_username", "steward-user")
            page.fill("#id_password", "pw-steward-123")
            page.click("button:has-text('Log in')")
            page.wait_for_url(f"{live_server.url}/")
            page.goto(f"{live_server.url}/training-jobs/{job.pk}/")
            expect(page.locator("#live-loss")).to_have_attribute("data-live-points", "3")
            expect(page.locator("#live-loss canvas")).to_have_count(1)
            expect(page.locator("#live-val-auc .u-title, #live-val-auc canvas").first).to_be_visible()
            expect(page.locator("#training-live .grid2")).to_be_hidden()  # the server's SVGs step aside

            # The worker reports more points: the next poll of the job API redraws the same chart.
            # (from another thread: Playwright's event loop makes Django refuse ORM calls in this one)
            writer = threading.Thread(target=lambda: Job.objects.filter(pk=job.pk).update(details=more, progress=0.8))
            writer.start()
            writer.join()
            page.wait_for_function("document.querySelector('progress').value > 0.7")
            expect(page.locator("#live-loss")).to_have_attribute("data-live-points", "4")
            expect(page.locator("#live-val-auc")).to_have_attribute("data-live-points", "2")
            expect(page.locator("#live-loss canvas")).to_have_count(1)  # updated in place, not stacked
            assert outside == []

            nojs = browser.new_context(java_script_enabled=False)
            plain = nojs.new_page()
            plain.goto(f"{live_server.url}/login/")
            plain.fill("#id_username", "steward-user")
            plain.fill("#id_password", "pw-steward-123")
            plain.click("button:has-text('Log in')")
            plain.goto(f"{live_server.url}/training-jobs/{job.pk}/")
            expect(plain.locator("#training-live svg").first).to_be_visible()
            nojs.close()
        finally:
            browser.close()

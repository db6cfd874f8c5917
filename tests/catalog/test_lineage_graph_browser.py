"""The interactive lineage graph in a real browser (Debian's chromium through Playwright): Cytoscape.js draws every
node of the lineage endpoint in a layered layout, the server-drawn SVG steps aside, and clicking a node opens
that version's page. Without JavaScript the SVG is the picture."""

from __future__ import annotations

import os
from typing import Any

import pytest

from governance.catalog.models import DatasetVersion
from tests.factories import CHROMIUM, browser_page, launch_chromium, outside_requests

CSV = "user_id,item_id,rating\n" + "".join(f"{i % 4},{i % 5},{i % 5 + 1}\n" for i in range(30))

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _chain(upload: Any, steward: Any) -> tuple[DatasetVersion, DatasetVersion]:
    from governance.catalog.transform_service import transform_start

    raw = upload(CSV, name="ratings.csv", dataset="ratings")
    job = transform_start(
        actor=steward, version=raw, operation="label", params={"column": "liked", "expression": "rating >= 4"}
    )
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    return raw, DatasetVersion.objects.get(pk=job.result["dataset_version"])


def _login(page: Any, url: str) -> None:
    page.goto(f"{url}/login/")
    page.fill("#id_username", "steward-user")
    page.fill("#id_password", "pw-steward-123")
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{url}/")


def test_the_graph_draws_the_lineage_nodes_and_a_click_opens_the_version(
    live_server: Any, upload: Any, steward: Any, run_tasks_eagerly: Any
) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import expect, sync_playwright

    raw, labeled = _chain(upload, steward)
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser_page(browser)
            outside = outside_requests(page, live_server.url)
            _login(page, live_server.url)
            page.goto(f"{live_server.url}/dataset-versions/{raw.pk}/lineage/")
            graph = page.locator("#lineage-graph")
            expect(graph).to_have_attribute("data-rendered-nodes", "2")
            expect(page.locator("#lineage-svg")).to_be_hidden()
            keys = page.evaluate("window.stewardLineage.nodes().map((n) => n.id()).sort()")
            assert keys == sorted([f"dataset_version:{raw.pk}", f"dataset_version:{labeled.pk}"])
            # Layered: the derived version sits to the right of its parent.
            xs = page.evaluate(
                f"[window.stewardLineage.$id('dataset_version:{raw.pk}').position('x'), "
                f"window.stewardLineage.$id('dataset_version:{labeled.pk}').position('x')]"
            )
            assert xs[0] < xs[1]
            # A real click on the child's box opens its page.
            pos = page.evaluate(f"window.stewardLineage.$id('dataset_version:{labeled.pk}').renderedPosition()")
            box = graph.bounding_box()
            page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
            page.wait_for_url(f"**/dataset-versions/{labeled.pk}/")
            assert outside == []  # the libraries are served by Steward, nothing loads from the internet

            nojs = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
            plain = nojs.new_page()
            _login(plain, live_server.url)
            plain.goto(f"{live_server.url}/dataset-versions/{raw.pk}/lineage/")
            expect(plain.locator("#lineage-svg svg a.node")).to_have_count(2)
            nojs.close()
        finally:
            browser.close()

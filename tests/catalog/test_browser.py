"""A steward in a real browser (Debian's chromium through Playwright): log in, create a dataset, upload a CSV, and
see its schema on the version page."""

from __future__ import annotations

import os
from typing import Any

import pytest

from governance.catalog.models import Dataset, DatasetVersion
from tests.factories import CHROMIUM, browser_page, launch_chromium

SCREENSHOT = "/tmp/steward-browser.png"
CSV = b"user_id,item_id,rating,review\n1,10,4.5,great mug\n2,11,3,\n3,10,5,great mug\n"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_steward_uploads_a_csv_and_sees_its_schema(live_server: Any, make_user: Any) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import expect, sync_playwright

    # Every database call happens outside the Playwright block: its event loop makes Django refuse sync ORM calls.
    make_user("steward")
    schema_rows: list[list[str]] = []
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser_page(browser)
            page.goto(f"{live_server.url}/login/")
            page.fill("#id_username", "steward-user")
            page.fill("#id_password", "pw-steward-123")
            page.click("button:has-text('Log in')")
            page.wait_for_url(f"{live_server.url}/")

            page.goto(f"{live_server.url}/datasets/")
            page.fill("#new-dataset #id_name", "clicks")
            page.fill("#new-dataset #id_description", "click log from the shop")
            page.select_option("#new-dataset #id_kind", "interactions")
            page.click("#new-dataset button[type=submit]")
            page.wait_for_url("**/datasets/*/")
            expect(page.locator("h1")).to_contain_text("clicks")

            page.set_input_files(
                "#upload-form input[type=file]", files=[{"name": "clicks.csv", "mimeType": "text/csv", "buffer": CSV}]
            )
            page.click("#upload-form button[type=submit]")
            page.wait_for_url("**/dataset-versions/*/")
            expect(page.locator("h1")).to_contain_text("version 1")
            expect(page.locator(".messages")).to_contain_text("Registered version 1")
            expect(page.locator("p.meta").first).to_contain_text("3 rows")
            schema = page.locator("table.schema tbody tr")
            expect(schema).to_have_count(4)
            schema_rows = [
                [cell.strip() for cell in schema.nth(i).locator("td").all_inner_texts()[:4]] for i in range(4)
            ]
            expect(page.locator("table.preview")).to_contain_text("great mug")
            page.screenshot(path=SCREENSHOT, full_page=True)
        finally:
            browser.close()

    # name, type, nulls, distinct
    assert schema_rows == [
        ["user_id", "int64", "0", "3"],
        ["item_id", "int64", "0", "2"],
        ["rating", "double", "0", "3"],
        ["review", "string", "1", "1"],
    ]
    version = DatasetVersion.objects.get()
    assert version.dataset == Dataset.objects.get(name="clicks")
    assert version.original_name == "clicks.csv" and version.row_count == 3

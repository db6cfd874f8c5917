"""Labeling in a real browser (Debian's chromium through Playwright): a steward creates a category project and its
tasks on the pages; two annotators label with the keyboard only (number keys, Enter, Backspace to undo, S to skip)
with no page reload; the steward sees agreement and the confusion matrix, reviews the conflict and exports."""

from __future__ import annotations

import os
from typing import Any

import pytest

from governance.catalog.models import DatasetVersion, LineageEdge
from governance.labeling.models import Annotation, Project, Task
from governance.labeling.services import gold_tasks_create
from tests.factories import CHROMIUM, browser_page, launch_chromium

SCREENSHOT = "/tmp/steward-labeling.png"
ITEMS = "item_id,title,price\n1,Voltix Wireless Headphones,59.99\n2,Sonaro Bluetooth Speaker,39.99\n" + (
    "3,Pixelon Phone Charger,19.99\n4,Kitchora Coffee Maker,89.99\n5,Lantern Press Mystery Novel,12.99\n"
)
CATEGORY = {
    "Voltix Wireless Headphones": "Electronics",
    "Sonaro Bluetooth Speaker": "Electronics",
    "Pixelon Phone Charger": "Electronics",
    "Kitchora Coffee Maker": "Home & Kitchen",
    "Lantern Press Mystery Novel": "Books",
}
LABELS = ["Electronics", "Home & Kitchen", "Books", "Sports & Outdoors"]  # keys 1-4

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page: Any, base: str, username: str, password: str, then: str) -> None:
    page.goto(f"{base}/login/?next={then}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{base}{then}")


def _moved_on(page: Any, task_id: int) -> None:
    """Wait until the page shows another task than `task_id`, or says none is left."""
    page.wait_for_function(
        "id => !document.getElementById('done').hidden || "
        "!document.getElementById('task-id').textContent.startsWith(id + ' ')",
        arg=task_id,
    )


def _annotate(page: Any, choose: Any) -> list[tuple[int, str]]:
    """Label every task the page serves with the keyboard; choose(title) -> a label name, or None to skip.
    Returns (task id, what was done) in order."""
    from playwright.sync_api import expect

    done = []
    page.evaluate("window.__sameDocument = true")
    while True:
        page.wait_for_selector("#task:not([hidden]), #done:not([hidden])")
        if page.locator("#done").is_visible():
            break
        task_id = int(page.locator("#task-id").inner_text().split()[0])
        title = page.locator("#row td").first.inner_text()
        label = choose(title)
        if label is None:
            page.keyboard.press("s")
            expect(page.locator("#status")).to_have_text(f"Skipped task {task_id}")
            done.append((task_id, "skipped"))
            _moved_on(page, task_id)
            continue
        page.keyboard.press(str(LABELS.index(label) + 1))
        expect(page.locator("#labels button.selected")).to_have_text(f"[{LABELS.index(label) + 1}]{label}")
        page.keyboard.press("Enter")
        expect(page.locator("#status")).to_contain_text(f"Saved task {task_id}")
        done.append((task_id, label))
        _moved_on(page, task_id)
    assert page.evaluate("window.__sameDocument") is True  # no reload between tasks
    return done


def test_two_annotators_label_with_the_keyboard_and_a_steward_reviews_and_exports(
    live_server: Any, make_user: Any, scan_upload: Any, steward: Any, run_tasks_eagerly: Any
) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import expect, sync_playwright

    # Every database call happens outside the Playwright blocks: their event loop makes Django refuse sync ORM calls.
    make_user("annotator", "ann0")
    make_user("annotator", "ann1")
    version = scan_upload(ITEMS, name="items.csv", dataset="demo-items")
    base = live_server.url

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            _login(page, base, "steward-user", "pw-steward-123", "/labeling/")
            page.fill("#new-project #id_name", "item categories")
            page.fill("#new-project #id_dataset_version", str(version.pk))
            page.select_option("#new-project #id_template", "category")
            page.fill("#new-project #id_labels", "\n".join(LABELS))
            page.fill("#new-project #id_display_columns", "title, price")
            page.fill("#new-project #id_overlap", "2")
            page.fill("#new-project #id_gold_rate", "0.5")
            page.click("#new-project button[type=submit]")
            page.wait_for_url("**/labeling/projects/*/")
            expect(page.locator("h1")).to_contain_text("item categories")
        finally:
            browser.close()

    # The novel is a gold task (the API's job; the page has no form for it): the 4 tasks are the other rows.
    project = Project.objects.get(name="item categories")
    titles = list(CATEGORY)
    gold_tasks_create(actor=steward, project=project, items=[{"row": 4, "label": "Books"}])

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            _login(page, base, "steward-user", "pw-steward-123", f"/labeling/projects/{project.pk}/")
            page.select_option("#tasks-form #id_strategy", "random")
            page.fill("#tasks-form #id_count", "4")
            page.click("#tasks-form button[type=submit]")
            page.wait_for_url("**/jobs/*/")
        finally:
            browser.close()

    normal = Task.objects.filter(project=project, kind="normal")
    assert sorted(normal.values_list("row", flat=True)) == [0, 1, 2, 3]
    assert all(t.suggestion["source"] == "base_model" for t in normal)
    annotate_url = f"/labeling/projects/{project.pk}/annotate/"

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            _login(page, base, "ann0", "pw-annotator-123", annotate_url)
            # Label the first task wrongly, take it back with Backspace, and label it again.
            page.wait_for_selector("#task:not([hidden])")
            first = int(page.locator("#task-id").inner_text().split()[0])
            page.keyboard.press("4")
            page.keyboard.press("Enter")
            expect(page.locator("#status")).to_contain_text(f"Saved task {first}")
            _moved_on(page, first)
            page.keyboard.press("Backspace")
            expect(page.locator("#status")).to_have_text(f"Undone: task {first} is back")
            expect(page.locator("#task-id")).to_contain_text(str(first))
            expect(page.locator("#labels button.selected")).to_contain_text("Sports & Outdoors")
            first_done = _annotate(page, lambda title: CATEGORY[title])
            expect(page.locator("#progress")).to_contain_text("You labeled 4 of 4 tasks")
            expect(page.locator("#progress")).to_contain_text("accuracy on gold tasks 100 % (1 of 1)")

            page = browser.new_page()
            page.set_default_timeout(60_000)
            _login(page, base, "ann1", "pw-annotator-123", annotate_url)

            def ann1(title: str) -> str | None:
                if title == "Kitchora Coffee Maker":
                    return None  # skipped
                return "Books" if title == "Voltix Wireless Headphones" else CATEGORY[title]

            second_done = _annotate(page, ann1)
        finally:
            browser.close()

    assert first_done[0][0] == first and len(first_done) == 5  # 4 tasks + the gold one
    assert [what for _, what in second_done].count("skipped") == 1
    assert Annotation.objects.filter(project=project).count() == 5 + 4
    conflict = Task.objects.get(project=project, status="review")
    assert titles[conflict.row] == "Voltix Wireless Headphones"
    assert Task.objects.filter(project=project, status="done").count() == 2
    assert Task.objects.get(project=project, row=titles.index("Kitchora Coffee Maker")).status == "open"

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser_page(browser, 120_000)
            _login(page, base, "steward-user", "pw-steward-123", f"/labeling/projects/{project.pk}/quality/")
            expect(page.locator('svg[aria-label="confusion matrix"]')).to_be_visible()
            expect(page.locator("table.pairs")).to_contain_text("ann0|ann1")
            expect(page.locator("table.annotators")).to_contain_text("ann1")
            page.screenshot(path=SCREENSHOT, full_page=True)
            page.goto(f"{base}/labeling/projects/{project.pk}/review/")
            item = page.locator(f".review-item[data-task='{conflict.pk}']")
            expect(item).to_contain_text("ann1: Books")
            item.locator("input[value='Electronics']").check()
            item.locator("button[type=submit]").click()
            expect(page.locator(".messages")).to_contain_text(f"Task {conflict.pk}: final label Electronics")
            page.goto(f"{base}/labeling/projects/{project.pk}/")
            page.click("#export-form button[type=submit]")
            page.wait_for_url("**/jobs/*/")
            expect(page.locator(".job-status").first).to_have_text("succeeded")
        finally:
            browser.close()

    conflict.refresh_from_db()
    assert (conflict.final_label, conflict.final_source, conflict.decided_by) == ("Electronics", "reviewer", steward)
    edge = LineageEdge.objects.get(operation="label_export")
    exported = DatasetVersion.objects.get(pk=edge.target_id)
    assert edge.source_id == version.pk and exported.row_count == 4  # 3 decided tasks + the gold row

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            _login(page, base, "steward-user", "pw-steward-123", f"/dataset-versions/{exported.pk}/lineage/")
            expect(page.locator("svg")).to_contain_text("label_export")
        finally:
            browser.close()

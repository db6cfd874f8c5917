"""The demo shop data, scanned as a new user's `make run` scans it, gives only true findings, correctly typed."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from governance.privacy.models import PiiFinding
from home.demo_data import write_demo_data, write_search_log

# Every finding the demo tables should produce, and no other: (file, column) -> (kind, entity type).
EXPECTED = {
    ("users.csv", "name"): ("entity", "PERSON"),
    ("users.csv", "email"): ("entity", "EMAIL_ADDRESS"),
    ("users.csv", "phone"): ("entity", "PHONE_NUMBER"),
    ("users.csv", "street_address"): ("entity", "STREET_ADDRESS"),
    ("users.csv", "city"): ("entity", "LOCATION"),
    ("users.csv", "zip_code"): ("entity", "ZIP_CODE"),
    ("users.csv", "birth_date"): ("entity", "DATE_OF_BIRTH"),
    ("interactions.csv", "review_text"): ("free_text", "EMAIL_ADDRESS"),
}


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("demo")
    files = write_demo_data(out)  # the sizes `make run` registers
    return {p.name: p for p in [*files.values(), write_search_log(out)]}


@pytest.mark.django_db
def test_demo_tables_give_exactly_the_true_findings_with_their_evidence(
    demo_files, upload, personas, run_tasks_eagerly, django_capture_on_commit_callbacks
):
    versions = {}
    for name, path in demo_files.items():
        with django_capture_on_commit_callbacks(execute=True):
            versions[name] = upload(path.read_text(), name=name, dataset=name.removesuffix(".csv"))
    found = {(_file(versions, f), f.column): f for f in PiiFinding.objects.all()}
    assert {key: (f.kind, f.entity_type) for key, f in found.items()} == EXPECTED
    city = found[("users.csv", "city")]
    assert "ColumnNameHint" in city.recognizers and city.evidence["name_hint"] == "LOCATION"
    assert any("place-like" in r for r in city.evidence["reasons"])
    assert any("PERSON" in r and "place names" in r for r in city.evidence["reasons"])
    queue = _login(personas["steward"]).get("/privacy/").content.decode()
    assert "place-like values" in queue and "name cue: &#x27;city&#x27; suggests LOCATION" in queue


@pytest.mark.django_db
def test_scan_api_and_page_say_why_id_and_product_columns_are_clean(
    demo_files, upload, api_as, personas, run_tasks_eagerly, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        version = upload(demo_files["items.csv"].read_text(), name="items.csv", dataset="items")
        interactions = upload(demo_files["interactions.csv"].read_text(), name="interactions.csv", dataset="events")
    client = api_as("steward")
    items = {c["name"]: c for c in client.get(f"/api/v1/pii-scans/{version.pii_scans.get().pk}/").json()["columns"]}
    assert items["title"]["entity_type"] is None and items["description"]["entity_type"] is None
    assert any("product copy of an items table" in r for r in items["description"]["reasons"])
    scan = interactions.pii_scans.get()
    events = {c["name"]: c for c in client.get(f"/api/v1/pii-scans/{scan.pk}/").json()["columns"]}
    assert events["user_id"]["entity_type"] is None
    assert any(r.startswith("id-like column") for r in events["user_id"]["reasons"])
    page = _login(personas["viewer"]).get(f"/privacy/scans/{scan.pk}/").content.decode()
    assert "id-like column (numeric, named &#x27;user_id&#x27;)" in page


def _file(versions: dict, finding: PiiFinding) -> str:
    return next(name for name, v in versions.items() if v.pk == finding.version_id)


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client

"""The issue's done-when scenario, through the API, on a tiny slice of ml-100k from ../shared/data: suggested rules
are accepted, a `references` rule catches interactions whose item is missing from a deliberately truncated items
version, and training is refused with that rule's name; pointing the rule at the full items version lifts the block."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.factories import csv_file
from training.selectors import training_gate_reasons

pytestmark = pytest.mark.django_db

ML100K = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ml-100k"
INTERACTIONS = 300


def _read(name: str) -> list[list[str]]:
    with (ML100K / name).open(encoding="utf-8", errors="replace") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    return rows[1:]  # RecBole's `name:type` header


def _csv(header: list[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


@pytest.fixture
def ml100k() -> dict[str, str]:
    if not ML100K.exists():
        pytest.skip("../shared/data/ml-100k is not here")
    inter = _read("ml-100k.inter")[:INTERACTIONS]
    items = _read("ml-100k.item")
    clicks = [[u, i, int(float(r)), int(float(t)), int(float(r) >= 4)] for u, i, r, t in inter]
    full = [[i, title, year, genres] for i, title, year, genres in items]
    truncated = [row for row in full if int(row[0]) <= 600]  # the items table lost its newer half
    return {
        "clicks": _csv(["user_id", "item_id", "rating", "timestamp", "label"], clicks),
        "items": _csv(["item_id", "title", "year", "genres"], full),
        "items_truncated": _csv(["item_id", "title", "year", "genres"], truncated),
        "missing": sum(1 for row in clicks if int(row[1]) > 600),
    }


def test_references_rule_blocks_training_on_interactions_with_missing_items(
    ml100k, api_as, run_tasks_eagerly, django_capture_on_commit_callbacks
):
    assert ml100k["missing"] > 0
    steward = api_as("steward")

    def post(url, body=None, **kw):
        with django_capture_on_commit_callbacks(execute=True):  # scans and checks run as a worker would
            return steward.post(url, body, **kw)

    def patch(url, body):
        with django_capture_on_commit_callbacks(execute=True):
            return steward.patch(url, body, format="json")

    def upload(dataset_id, text, name, *, scan=True):
        body = {"file": csv_file(text, name)}
        url = f"/api/v1/datasets/{dataset_id}/versions/"
        with django_capture_on_commit_callbacks(execute=scan):  # the items are referenced, not trained on: no scan
            response = steward.post(url, body, format="multipart")
        assert response.status_code == 201, response.json()
        return response.json()

    items = steward.post("/api/v1/datasets/", {"name": "ml-100k items", "kind": "items"}, format="json").json()
    clicks = steward.post("/api/v1/datasets/", {"name": "ml-100k clicks", "kind": "interactions"}, format="json").json()
    items_full = upload(items["id"], ml100k["items"], "items.csv", scan=False)
    items_cut = upload(items["id"], ml100k["items_truncated"], "items-cut.csv", scan=False)
    version = upload(clicks["id"], ml100k["clicks"], "clicks.csv")

    # Suggested rules from the profile, accepted by the steward: each acceptance checks the version at once.
    suggested = post(f"/api/v1/dataset-versions/{version['id']}/quality-suggestions/").json()
    kinds = {(r["kind"], tuple(r["columns"])) for r in suggested}
    assert {("not_null", ("user_id",)), ("allowed_values", ("rating",)), ("freshness", ("timestamp",))} <= kinds
    for rule in suggested:
        accepted = patch(f"/api/v1/quality-rules/{rule['id']}/", {"status": "active"})
        assert accepted.status_code == 200, accepted.json()
    report = steward.get(f"/api/v1/dataset-versions/{version['id']}/quality/").json()
    assert report["status"] in ("passed", "warning") and len(report["rules"]) == len(suggested)

    # Referential integrity against the truncated items version.
    made = post(
        f"/api/v1/datasets/{clicks['id']}/quality-rules/",
        {
            "kind": "references",
            "column": "item_id",
            "params": {"dataset_version": items_cut["id"], "column": "item_id"},
        },
        format="json",
    )
    assert made.status_code == 201, made.json()
    report = steward.get(f"/api/v1/dataset-versions/{version['id']}/quality/").json()
    assert report["status"] == "failed"
    references = next(r for r in report["rules"] if r["kind"] == "references")
    assert not references["passed"] and references["failing_count"] == ml100k["missing"]
    assert len(references["failing_rows"]) == min(20, ml100k["missing"])
    assert steward.get(f"/api/v1/dataset-versions/{version['id']}/").json()["quality_status"] == "failed"

    refused = api_as("ml_engineer").post(
        "/api/v1/training-jobs/",
        {
            "model_name": "ml100k-ctr",
            "dataset_version": version["id"],
            "label_column": "label",
            "categorical_columns": ["user_id", "item_id"],
            "user_column": "user_id",
            "item_column": "item_id",
        },
        format="json",
    )
    assert refused.status_code == 400
    detail = refused.json()["detail"]
    assert "fails its blocking quality rules" in detail
    assert f"references(item_id -> dataset version {items_cut['id']}.item_id)" in detail

    # The same interactions against the full items table pass, and the gate opens.
    fixed = patch(
        f"/api/v1/quality-rules/{made.json()['id']}/",
        {"params": {"dataset_version": items_full["id"], "column": "item_id"}},
    )
    assert fixed.status_code == 200, fixed.json()
    report = steward.get(f"/api/v1/dataset-versions/{version['id']}/quality/").json()
    assert next(r for r in report["rules"] if r["kind"] == "references")["passed"]
    from governance.catalog.models import DatasetVersion

    assert training_gate_reasons(DatasetVersion.objects.get(pk=version["id"])) == []

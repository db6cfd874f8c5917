"""GET /api/v1/dataset-versions/{id}/download/: the rows as a streamed Parquet, CSV or JSON Lines file, masked for
the caller's role exactly as the rows API, audited."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from django.http import StreamingHttpResponse

from core.models import AuditEvent
from governance.catalog import download, hooks

MARKER = "maria.kowalska.7731@example.com"
PEOPLE = (
    "user_id,category,email,visited\n"
    + f"1,Books,{MARKER},2024-01-03\n"
    + "".join(f"{i},Garden,client{i}@example.com,2024-01-{i % 27 + 1:02d}\n" for i in range(2, 41))
    + "41,Toys,,2024-02-01\n"
)


@pytest.fixture
def scanned(scan_upload) -> Callable[..., Any]:
    """upload() that also runs the automatic PII scan, so the e-mail column is flagged as the rows API sees it."""
    return scan_upload


@pytest.fixture
def people(scanned) -> Any:
    version = scanned(PEOPLE, name="people.csv", dataset="people")
    assert "email" in version.pii_findings.values_list("column", flat=True)
    return version


def _body(response: Any) -> bytes:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


def _url(version: Any, fmt: str | None = None) -> str:
    url = f"/api/v1/dataset-versions/{version.pk}/download/"
    return f"{url}?format={fmt}" if fmt else url


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_a_viewer_never_sees_the_marker_email_in_any_format(people, api_as, fmt) -> None:
    response = api_as("viewer").get(_url(people, fmt))
    assert response.status_code == 200
    body = _body(response)
    assert MARKER.encode() not in body
    assert b"client2@example.com" not in body
    assert response["X-Steward-Masked-Columns"] == "email"
    assert response["Content-Disposition"] == f'attachment; filename="people-v1.{download.FORMATS[fmt][1]}"'


def test_the_download_masks_the_same_columns_as_the_rows_api(people, api_as) -> None:
    viewer = api_as("viewer")
    rows = viewer.get(f"/api/v1/dataset-versions/{people.pk}/rows/", {"limit": 1000}).json()
    table = pq.read_table(io.BytesIO(_body(viewer.get(_url(people, "parquet")))))
    assert rows["masked_columns"] == ["email"]
    # Same values row for row: masked cells are MASKED, the empty e-mail stays empty, the rest is untouched.
    downloaded = table.to_pylist()
    for row in downloaded:
        row["visited"] = row["visited"].isoformat() if hasattr(row["visited"], "isoformat") else row["visited"]
    assert downloaded == rows["results"]
    assert downloaded[0]["email"] == hooks.MASKED and downloaded[-1]["email"] is None


def test_a_steward_downloads_the_raw_values(people, api_as) -> None:
    response = api_as("steward").get(_url(people, "csv"))
    table = pacsv.read_csv(io.BytesIO(_body(response)))
    assert response["X-Steward-Masked-Columns"] == ""
    assert table.num_rows == 41
    assert table.column("email")[0].as_py() == MARKER


def test_parquet_is_the_default_and_keeps_the_column_types(people, api_as) -> None:
    response = api_as("steward").get(_url(people))
    assert response["Content-Type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(_body(response)))
    assert table.column_names == ["user_id", "category", "email", "visited"]
    assert str(table.schema.field("user_id").type) == "int64"
    assert table.column("user_id").to_pylist() == list(range(1, 42))


def test_jsonl_has_one_json_object_per_row(people, api_as) -> None:
    lines = _body(api_as("ml_engineer").get(_url(people, "jsonl"))).decode().splitlines()
    assert len(lines) == 41
    first = json.loads(lines[0])
    assert first == {"user_id": 1, "category": "Books", "email": hooks.MASKED, "visited": first["visited"]}
    assert first["visited"].startswith("2024-01-03")


def test_rows_are_streamed_batch_by_batch(people, settings) -> None:
    chunks = list(download.stream_rows(people.parquet, "jsonl", set(), batch_rows=10))
    assert len(chunks) == 5  # 41 rows in batches of 10
    assert sum(chunk.count(b"\n") for chunk in chunks) == 41
    parquet_chunks = list(download.stream_rows(people.parquet, "parquet", {"email"}, batch_rows=10))
    assert len(parquet_chunks) > 1
    table = pq.read_table(io.BytesIO(b"".join(parquet_chunks)))
    assert set(table.column("email").to_pylist()) == {hooks.MASKED, None}


def test_a_download_is_audited_with_the_format_and_masked_columns(people, api_as, personas) -> None:
    _body(api_as("viewer").get(_url(people, "csv")))
    event = AuditEvent.objects.get(action="dataset_version.download")
    assert event.actor == personas["viewer"]
    assert event.object_id == str(people.pk)
    assert event.summary == {"format": "csv", "masked_columns": ["email"], "rows": 41}
    assert MARKER not in json.dumps(event.summary)


def test_a_format_outside_the_list_is_a_400_naming_the_choices(people, api_as) -> None:
    response = api_as("steward").get(_url(people, "xlsx"))
    assert response.status_code == 400
    assert response.json()["detail"] == "Unknown download format 'xlsx': use one of parquet, csv, jsonl."
    assert not AuditEvent.objects.filter(action="dataset_version.download").exists()


@pytest.mark.parametrize(("role", "status"), [("outsider", 403), (None, 401)])
def test_a_caller_who_may_not_read_the_catalog_is_refused(people, api_as, role, status) -> None:
    response = api_as(role).get(_url(people, "csv"))
    assert response.status_code == status
    assert MARKER not in response.content.decode()


def test_an_unknown_version_is_a_404(api_as) -> None:
    assert api_as("steward").get("/api/v1/dataset-versions/999999/download/").status_code == 404


def test_the_download_is_in_the_openapi_schema(api_as) -> None:
    schema = api_as("steward").get("/api/v1/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/dataset-versions/{id}/download/"]["get"]
    (param,) = [p for p in operation["parameters"] if p["name"] == "format"]
    assert sorted(param["schema"]["enum"]) == ["csv", "jsonl", "parquet"]
    assert "application/vnd.apache.parquet" in operation["responses"]["200"]["content"]


def test_a_column_hidden_by_any_registered_hook_is_masked_in_the_download(
    people, api_as, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The download asks the rows API's selector, so a rule added by another app (here: category) applies to both.
    monkeypatch.setattr(hooks, "_hidden_columns", [*hooks._hidden_columns, lambda version, user: {"category"}])
    viewer = api_as("viewer")
    rows = viewer.get(f"/api/v1/dataset-versions/{people.pk}/rows/", {"limit": 5}).json()
    response = viewer.get(_url(people, "csv"))
    table = pacsv.read_csv(io.BytesIO(_body(response)))
    assert rows["masked_columns"] == ["category", "email"]
    assert response["X-Steward-Masked-Columns"] == "category,email"
    assert set(table.column("category").to_pylist()) == {hooks.MASKED}

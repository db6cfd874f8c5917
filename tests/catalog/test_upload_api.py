"""The catalog API's contract (DESIGN.md section 5) and its answers to bad uploads: 400, a message naming the
problem, and nothing stored (no version row, no audit row, no file in storage, nothing left in the scratch dir)."""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from core.models import AuditEvent, Job
from governance.catalog.models import Dataset, DatasetVersion

pytestmark = pytest.mark.django_db

CLICKS = "user_id,item_id,rating,review\n1,10,4.5,great\n2,,3,\n3,12,5,great\n"


def named(content: bytes | str, name: str) -> io.BytesIO:
    buf = io.BytesIO(content.encode() if isinstance(content, str) else content)
    buf.name = name
    return buf


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


@pytest.fixture
def dataset_id(steward_api: APIClient) -> int:
    response = steward_api.post(
        "/api/v1/datasets/", {"name": "clicks", "description": "click log", "kind": "interactions"}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


@pytest.fixture
def post_file(steward_api: APIClient, dataset_id: int) -> Callable[..., Any]:
    def post(content: bytes | str, name: str = "data.csv", **fields: str) -> Any:
        return steward_api.post(
            f"/api/v1/datasets/{dataset_id}/versions/", {"file": named(content, name), **fields}, format="multipart"
        )

    return post


def _files_under(root: str | Path) -> set[Path]:
    root = Path(root)
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@contextlib.contextmanager
def nothing_stored() -> Iterator[None]:
    before = (
        DatasetVersion.objects.count(),
        AuditEvent.objects.count(),
        Job.objects.count(),
        _files_under(settings.MEDIA_ROOT),
        _files_under(settings.FILE_UPLOAD_TEMP_DIR),
    )
    yield
    after = (
        DatasetVersion.objects.count(),
        AuditEvent.objects.count(),
        Job.objects.count(),
        _files_under(settings.MEDIA_ROOT),
        _files_under(settings.FILE_UPLOAD_TEMP_DIR),
    )
    assert after == before


# --- contract shapes -----------------------------------------------------------------------------------------------


def test_creating_a_dataset_returns_the_dataset(steward_api: APIClient) -> None:
    response = steward_api.post(
        "/api/v1/datasets/",
        {"name": "items", "description": "catalogue", "kind": "items", "tags": ["shop"]},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body == {
        "id": body["id"],
        "name": "items",
        "description": "catalogue",
        "kind": "items",
        "tags": ["shop"],
        "owner": "steward-user",
        "created_at": body["created_at"],
        "latest_version": None,
    }
    assert steward_api.get(f"/api/v1/datasets/{body['id']}/").json() == body


def test_a_second_dataset_with_the_same_name_is_refused(steward_api: APIClient, dataset_id: int) -> None:
    response = steward_api.post("/api/v1/datasets/", {"name": "clicks"}, format="json")
    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]
    assert Dataset.objects.count() == 1


def test_uploading_a_csv_returns_201_with_hash_rows_and_column_profile(
    post_file: Callable[..., Any], dataset_id: int
) -> None:
    response = post_file(CLICKS, "clicks.csv")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["dataset"] == dataset_id
    assert body["sha256"] == hashlib.sha256(CLICKS.encode()).hexdigest()
    assert body["row_count"] == 3
    assert body["format"] == "csv" and body["number"] == 1 and body["operation"] == "upload"
    columns = {c["name"]: c for c in body["columns"]}
    assert [c["name"] for c in body["columns"]] == ["user_id", "item_id", "rating", "review"]
    assert {name: c["dtype"] for name, c in columns.items()} == {
        "user_id": "int64",
        "item_id": "int64",
        "rating": "double",
        "review": "string",
    }
    assert (columns["item_id"]["null_count"], columns["item_id"]["distinct_count"]) == (1, 2)
    assert (columns["review"]["null_count"], columns["review"]["distinct_count"]) == (1, 1)
    assert (columns["user_id"]["null_count"], columns["user_id"]["distinct_count"]) == (0, 3)
    assert columns["rating"]["min"] == 3 and columns["rating"]["max"] == 5


def test_identical_content_returns_the_existing_version_with_200(post_file: Callable[..., Any]) -> None:
    first = post_file(CLICKS, "clicks.csv")
    stored = _files_under(settings.MEDIA_ROOT)
    again = post_file(CLICKS, "renamed.csv")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json() == first.json()
    assert _files_under(settings.MEDIA_ROOT) == stored
    assert DatasetVersion.objects.count() == 1


def test_new_content_becomes_the_next_version(
    post_file: Callable[..., Any], steward_api: APIClient, dataset_id: int
) -> None:
    first = post_file(CLICKS, "clicks.csv").json()
    second = post_file(CLICKS + "4,13,1,meh\n", "clicks.csv").json()
    assert (first["number"], second["number"]) == (1, 2)
    assert steward_api.get(f"/api/v1/datasets/{dataset_id}/").json()["latest_version"] == second["id"]
    listed = steward_api.get(f"/api/v1/datasets/{dataset_id}/versions/").json()
    assert [v["id"] for v in listed["results"]] == [second["id"], first["id"]]


def test_get_version_returns_the_same_object_with_quality_and_pii_status(
    post_file: Callable[..., Any], steward_api: APIClient
) -> None:
    created = post_file(CLICKS, "clicks.csv").json()
    fetched = steward_api.get(f"/api/v1/dataset-versions/{created['id']}/").json()
    assert fetched == created
    assert {"pii_status", "quality_status", "profile_status", "parents", "created_by"} <= set(fetched)
    assert fetched["created_by"] == "steward-user" and fetched["parents"] == []


@pytest.mark.parametrize(
    ("name", "content", "fields", "dtypes"),
    [
        (
            "clicks.tsv",
            "user_id\titem_id\tquery\n1\t10\tred shoes\n2\t11\tblue hat\n",
            {},
            {"user_id": "int64", "item_id": "int64", "query": "string"},
        ),
        (
            "clicks.jsonl",
            '{"user_id": 1, "price": 9.5, "title": "mug"}\n{"user_id": 2, "price": 12, "title": null}\n',
            {},
            {"user_id": "int64", "price": "double", "title": "string"},
        ),
        (
            "clicks.parquet",
            parquet_bytes(
                pa.table(
                    {
                        "user_id": pa.array([1, 2], pa.int32()),
                        "ts": pa.array([1_700_000_000_000, 1_700_000_060_000], pa.timestamp("ms")),
                        "title": ["mug", "cup"],
                    }
                )
            ),
            {},
            {"user_id": "int32", "ts": "timestamp[ms]", "title": "string"},
        ),
        (
            "export.txt",
            "user_id;item_id\n1;10\n2;11\n",
            {"format": "csv", "sep": ";"},
            {"user_id": "int64", "item_id": "int64"},
        ),
    ],
    ids=["tsv", "jsonl", "parquet", "declared-format-and-sep"],
)
def test_every_supported_format_is_registered_with_its_schema(
    post_file: Callable[..., Any],
    steward_api: APIClient,
    name: str,
    content: bytes | str,
    fields: dict[str, str],
    dtypes: dict[str, str],
) -> None:
    response = post_file(content, name, **fields)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["row_count"] == 2
    assert {c["name"]: c["dtype"] for c in body["columns"]} == dtypes
    assert all(c["null_count"] is not None and c["distinct_count"] is not None for c in body["columns"])
    rows = steward_api.get(f"/api/v1/dataset-versions/{body['id']}/rows/").json()
    assert rows["count"] == 2 and list(rows["results"][0]) == list(dtypes)


def test_rows_are_paginated_with_offset_and_limit(post_file: Callable[..., Any], steward_api: APIClient) -> None:
    text = "n,word\n" + "".join(f"{i},w{i}\n" for i in range(7))
    version = post_file(text, "words.csv").json()["id"]
    url = f"/api/v1/dataset-versions/{version}/rows/"
    page = steward_api.get(url, {"offset": 2, "limit": 3}).json()
    assert page["count"] == 7
    assert page["results"] == [{"n": 2, "word": "w2"}, {"n": 3, "word": "w3"}, {"n": 4, "word": "w4"}]
    assert steward_api.get(url, {"offset": 6, "limit": 3}).json()["results"] == [{"n": 6, "word": "w6"}]
    assert steward_api.get(url, {"offset": 50}).json() == {"count": 7, "results": [], "masked_columns": []}
    assert len(steward_api.get(url).json()["results"]) == 7


@pytest.mark.parametrize("query", [{"offset": "x"}, {"limit": "ten"}, {"offset": -1}, {"limit": 5000}])
def test_bad_row_paging_is_a_400_naming_the_parameter(
    post_file: Callable[..., Any], steward_api: APIClient, query: dict[str, Any]
) -> None:
    version = post_file(CLICKS, "clicks.csv").json()["id"]
    response = steward_api.get(f"/api/v1/dataset-versions/{version}/rows/", query)
    assert response.status_code == 400
    assert "offset" in response.json()["detail"] or "limit" in response.json()["detail"]


def test_missing_objects_are_404(steward_api: APIClient) -> None:
    for url in (
        "/api/v1/datasets/999/",
        "/api/v1/datasets/999/versions/",
        "/api/v1/dataset-versions/999/",
        "/api/v1/dataset-versions/999/rows/",
        "/api/v1/dataset-versions/999/lineage/",
        "/api/v1/jobs/999/",
    ):
        assert steward_api.get(url).status_code == 404, url


def test_a_transform_job_reports_its_result_and_the_lineage_connects_both_versions(
    post_file: Callable[..., Any],
    steward_api: APIClient,
    run_tasks_eagerly: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    parent = post_file(CLICKS, "clicks.csv").json()
    with django_capture_on_commit_callbacks(execute=True):
        started = steward_api.post(
            f"/api/v1/dataset-versions/{parent['id']}/transforms/",
            {"operation": "label", "params": {"column": "liked", "expression": "rating >= 4"}},
            format="json",
        )
    assert started.status_code == 202, started.content
    assert started.json()["status"] == "queued" and started.json()["kind"] == "transform"

    job = steward_api.get(f"/api/v1/jobs/{started.json()['id']}/").json()
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == 1.0 and job["error"] == "" and isinstance(job["message"], str)
    assert set(job["result"]) == {"dataset_version"}
    assert {
        "id",
        "kind",
        "status",
        "progress",
        "message",
        "error",
        "result",
        "actor",
        "created_at",
        "started_at",
        "finished_at",
    } <= set(job)
    child_id = job["result"]["dataset_version"]
    child = steward_api.get(f"/api/v1/dataset-versions/{child_id}/").json()
    assert child["operation"] == "label" and child["parents"] == [parent["id"]]
    assert [c["name"] for c in child["columns"]][-1] == "liked"
    rows = steward_api.get(f"/api/v1/dataset-versions/{child_id}/rows/").json()["results"]
    assert [r["liked"] for r in rows] == [1, 0, 1]

    for start in (parent["id"], child_id):  # the graph is the same from either end
        graph = steward_api.get(f"/api/v1/dataset-versions/{start}/lineage/").json()
        assert sorted(n["key"] for n in graph["nodes"]) == sorted(
            [f"dataset_version:{parent['id']}", f"dataset_version:{child_id}"]
        )
        for node in graph["nodes"]:
            assert node["type"] == "dataset_version" and node["key"] == f"dataset_version:{node['id']}"
            assert node["label"]
        assert [(e["source"], e["target"], e["operation"]) for e in graph["edges"]] == [
            (f"dataset_version:{parent['id']}", f"dataset_version:{child_id}", "label")
        ]

    listed = steward_api.get("/api/v1/jobs/", {"kind": "transform"}).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == job["id"]


def test_a_split_job_returns_its_versions_in_the_order_asked(
    post_file: Callable[..., Any],
    steward_api: APIClient,
    run_tasks_eagerly: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    text = "user_id,ts\n" + "".join(f"{i},{1000 + i}\n" for i in range(10))
    parent = post_file(text, "events.csv").json()
    with django_capture_on_commit_callbacks(execute=True):
        started = steward_api.post(
            f"/api/v1/dataset-versions/{parent['id']}/transforms/",
            {"operation": "split", "params": {"strategy": "time", "time_column": "ts", "fractions": [0.7, 0.3]}},
            format="json",
        )
    job = steward_api.get(f"/api/v1/jobs/{started.json()['id']}/").json()
    assert job["status"] == "succeeded", job["error"]
    parts = job["result"]["dataset_versions"]
    sizes = [steward_api.get(f"/api/v1/dataset-versions/{p}/").json()["row_count"] for p in parts]
    assert sizes == [7, 3]
    first_rows = steward_api.get(f"/api/v1/dataset-versions/{parts[1]}/rows/").json()["results"]
    assert [r["ts"] for r in first_rows] == [1007, 1008, 1009]


def test_the_token_endpoint_returns_a_token_that_works(personas: Any) -> None:
    client = APIClient()
    token = client.post(
        "/api/v1/auth/token/", {"username": "viewer-user", "password": "pw-viewer-123"}, format="json"
    ).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/datasets/").status_code == 200
    wrong = APIClient().post("/api/v1/auth/token/", {"username": "viewer-user", "password": "nope"}, format="json")
    assert wrong.status_code == 400 and "Wrong username or password" in wrong.json()["detail"]


def test_health_reports_database_and_broker() -> None:
    response = APIClient().get("/api/v1/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


# --- bad input -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "name", "fields", "message"),
    [
        (b"", "empty.csv", {}, "empty"),
        (b"a,b\n1,2\n", "data.xlsx", {}, "Unsupported file type '.xlsx'"),
        (b"a,b\n1,2\n", "data", {}, "Unsupported file type '(no extension)'"),
        (b"a,b\n1,2\n", "data.csv", {"format": "xml"}, "format"),
        (b"name,city\nAnna,Berlin\nJ\xf6rg,K\xf6ln\n", "latin1.csv", {}, "not valid in its encoding"),
        (b"name,city\n" + b"Anna,Berlin\n" * 3 + b"\xff\xfe\xfa,x\n", "bad.csv", {}, "not valid in its encoding"),
        (b"\xff\xfeu,v\n1,2\n", "bom16.csv", {}, "not valid in its encoding"),
        (b'{"name": "J\xf6rg"}\n', "bad.jsonl", {}, "not valid in its encoding"),
        (b"a,b\n1,2\n3\n", "ragged.csv", {}, "Ragged CSV rows: the header has 2 columns but a row has 1"),
        (b"a,b\n1,2,3\n", "ragged.csv", {}, "Ragged CSV rows: the header has 2 columns but a row has 3"),
        (b"a\tb\n1\t2\t3\n", "ragged.tsv", {}, "Ragged TSV rows"),
        (b"id,name,id\n1,x,2\n", "dupes.csv", {}, "Duplicate column names: id"),
        (b"id,,name\n1,2,x\n", "blank.csv", {}, "Empty column name at position 2"),
        (b"id, \n1,2\n", "blank.csv", {}, "Empty column name at position 2"),
        (b'{"a": 1}\nnot json\n', "broken.jsonl", {}, "not valid JSON Lines"),
        (b'{"a": 1}\n{"a": "x"}\n', "mixed.jsonl", {}, "Column a changes from number to string in row 2"),
        (b"{}\n{}\n", "no-columns.jsonl", {}, "no columns"),
        (b"PAR1 but not really parquet", "broken.parquet", {}, "not a readable Parquet file"),
        (b"a,b\n1,2\n", "data.csv", {"sep": ";;"}, "sep"),
        (b"a,b\n1,2\n", "data.csv", {"sep": "\u00e9"}, "sep"),
        (b"a,b\n1,2\n", "data.csv", {"sep": "\n"}, "sep"),
        (b"a,b\n1,2\n", "data.csv", {"encoding": "no-such-codec"}, "Unknown encoding 'no-such-codec'"),
        (b"a,b\n1,2\n", "data.csv", {"encoding": "base64"}, "Encoding 'base64' cannot read text files"),
        (b"a,b\n1,2\n", "data.csv", {"encoding": "punycode"}, "Encoding 'punycode' cannot read text files"),
        (b"a,b\n1,2\n", "data.csv", {"encoding": "utf-16"}, "not valid in its encoding"),
    ],
    ids=[
        "empty",
        "unsupported-extension",
        "no-extension",
        "unsupported-declared-format",
        "latin1-bytes",
        "bad-bytes-late",
        "utf16-bom",
        "bad-bytes-jsonl",
        "ragged-short",
        "ragged-long",
        "ragged-tsv",
        "duplicate-columns",
        "empty-column-name",
        "blank-column-name",
        "broken-jsonl",
        "jsonl-type-change",
        "jsonl-no-columns",
        "broken-parquet",
        "long-sep",
        "non-ascii-sep",
        "newline-sep",
        "unknown-encoding",
        "binary-codec",
        "punycode",
        "utf16-without-bom",
    ],
)
def test_bad_upload_is_a_400_naming_the_problem_and_stores_nothing(
    post_file: Callable[..., Any], content: bytes, name: str, fields: dict[str, str], message: str
) -> None:
    with nothing_stored():
        response = post_file(content, name, **fields)
    assert response.status_code == 400, response.content
    assert message in response.json()["detail"]


def test_a_csv_column_without_any_value_is_registered_as_null(
    post_file: Callable[..., Any], steward_api: APIClient
) -> None:
    response = post_file("user_id,comment\n1,\n2,\n", "sparse.csv")
    assert response.status_code == 201, response.content
    comment = response.json()["columns"][1]
    assert (comment["name"], comment["dtype"], comment["null_count"], comment["distinct_count"]) == (
        "comment",
        "null",
        2,
        0,
    )
    rows = steward_api.get(f"/api/v1/dataset-versions/{response.json()['id']}/rows/").json()["results"]
    assert rows == [{"user_id": 1, "comment": None}, {"user_id": 2, "comment": None}]


def test_jsonl_with_nested_values_is_registered_and_readable(
    post_file: Callable[..., Any], steward_api: APIClient
) -> None:
    content = (
        '{"user_id": 1, "tags": ["a", "b"], "address": {"city": "Oslo"}}\n'
        '{"user_id": 2, "tags": [], "address": {"city": "Rome"}}\n'
    )
    response = post_file(content, "nested.jsonl")
    assert response.status_code == 201, response.content
    columns = {c["name"]: c for c in response.json()["columns"]}
    assert columns["tags"]["dtype"].startswith("list<") and columns["address"]["dtype"].startswith("struct<")
    assert columns["tags"]["null_count"] == 0 and columns["tags"]["distinct_count"] is None
    rows = steward_api.get(f"/api/v1/dataset-versions/{response.json()['id']}/rows/").json()["results"]
    assert rows[0] == {"user_id": 1, "tags": ["a", "b"], "address": {"city": "Oslo"}}


def test_a_parquet_file_with_duplicate_columns_is_refused(post_file: Callable[..., Any]) -> None:
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["id", "id"])
    with nothing_stored():
        response = post_file(parquet_bytes(table), "dupes.parquet")
    assert response.status_code == 400
    assert "Duplicate column names: id" in response.json()["detail"]


def test_bad_bytes_in_a_declared_encoding_are_refused(post_file: Callable[..., Any]) -> None:
    with nothing_stored():
        response = post_file("name\nJörg\n".encode(), "names.csv", encoding="ascii")
    assert response.status_code == 400
    assert "not valid in its encoding" in response.json()["detail"]


def test_a_declared_encoding_reads_the_file(post_file: Callable[..., Any], steward_api: APIClient) -> None:
    response = post_file("name,city\nJörg,Köln\n".encode("latin-1"), "latin1.csv", encoding="latin-1")
    assert response.status_code == 201, response.content
    rows = steward_api.get(f"/api/v1/dataset-versions/{response.json()['id']}/rows/").json()["results"]
    assert rows == [{"name": "Jörg", "city": "Köln"}]


def test_a_file_over_the_upload_limit_is_refused(post_file: Callable[..., Any], settings: Any) -> None:
    settings.STEWARD_MAX_UPLOAD_MB = 1
    row = b"1234567890,abcdefghij,0.5\n"
    content = b"a,b,c\n" + row * (int(1.5 * 1024 * 1024) // len(row))
    with nothing_stored():
        response = post_file(content, "big.csv")
    assert response.status_code == 400
    assert "larger than the limit of 1 MB" in response.json()["detail"]


def test_a_file_just_under_the_upload_limit_is_accepted(post_file: Callable[..., Any], settings: Any) -> None:
    settings.STEWARD_MAX_UPLOAD_MB = 1
    row = b"1234567890,abcdefghij,0.5\n"
    content = b"a,b,c\n" + row * ((1024 * 1024 - 6) // len(row))
    response = post_file(content, "under.csv")
    assert response.status_code == 201, response.content
    assert response.json()["row_count"] == (1024 * 1024 - 6) // len(row)


def _multipart(filename: str, content: bytes) -> tuple[bytes, str]:
    # Built by hand: test clients take the name from the file object and would never send path parts.
    boundary = "steward-boundary-7MA4YWxkTrZu0gW"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("filename", ["../x.csv", "a/b.csv", "..\\..\\x.csv", "/etc/x.csv", "..", "a&#x2f;b.csv"])
def test_a_file_name_with_path_parts_is_refused(steward_api: APIClient, dataset_id: int, filename: str) -> None:
    body, content_type = _multipart(filename, b"a,b\n1,2\n")
    with nothing_stored():
        response = steward_api.generic("POST", f"/api/v1/datasets/{dataset_id}/versions/", body, content_type)
    assert response.status_code == 400, response.content
    assert "path parts" in response.json()["detail"]


def test_a_plain_file_name_in_a_hand_built_body_is_accepted(steward_api: APIClient, dataset_id: int) -> None:
    body, content_type = _multipart("plain.csv", b"a,b\n1,2\n")
    response = steward_api.generic("POST", f"/api/v1/datasets/{dataset_id}/versions/", body, content_type)
    assert response.status_code == 201, response.content
    assert response.json()["original_name"] == "plain.csv"


def test_an_upload_without_a_file_is_a_400_naming_the_field(steward_api: APIClient, dataset_id: int) -> None:
    with nothing_stored():
        response = steward_api.post(f"/api/v1/datasets/{dataset_id}/versions/", {"format": "csv"}, format="multipart")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("file:")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x", "kind": "planets"}, "kind"),
        ({"description": "no name"}, "name"),
    ],
)
def test_a_bad_dataset_is_a_400_naming_the_field(steward_api: APIClient, body: dict[str, Any], message: str) -> None:
    response = steward_api.post("/api/v1/datasets/", body, format="json")
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not Dataset.objects.exists()


def test_a_dataset_name_with_html_is_stored_as_is_and_shown_escaped(
    steward_api: APIClient, personas: dict[str, Any]
) -> None:
    name = "<script>alert(1)</script> clicks"
    response = steward_api.post("/api/v1/datasets/", {"name": name, "description": "<b>bold</b>"}, format="json")
    assert response.status_code == 201
    assert response.json()["name"] == name
    dataset = Dataset.objects.get()
    assert dataset.name == name

    browser = Client()
    browser.force_login(personas["viewer"])
    for url in ("/datasets/", f"/datasets/{dataset.pk}/", "/"):
        page = browser.get(url).content.decode()
        assert "&lt;script&gt;alert(1)&lt;/script&gt; clicks" in page, url
        assert "<script>alert" not in page, url
        assert "<b>bold</b>" not in page, url


def test_a_failure_while_recording_the_version_leaves_no_files_behind(steward: Any, monkeypatch: Any) -> None:
    # Files are stored before the row is written; if the transaction fails they must go too (both or neither).
    from governance.catalog import services

    dataset = services.dataset_create(actor=steward, name="clicks")

    def broken_audit(**kwargs: Any) -> None:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(services, "audit_log", broken_audit)
    with nothing_stored(), pytest.raises(RuntimeError, match="audit store unavailable"):
        services.dataset_version_upload(
            actor=steward, dataset=dataset, source=named(CLICKS, "clicks.csv"), filename="clicks.csv"
        )


@pytest.mark.parametrize(
    ("whole_file_mb", "broken"),
    [(128, "profile_column"), (0, "StreamProfiler.add"), (0, "StreamProfiler.finish")],
    ids=["csv-read-whole", "csv-streamed", "streamed-finish"],
)
def test_a_profiler_failure_is_a_400_saying_so_and_stores_nothing(
    post_file: Callable[..., Any],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    whole_file_mb: int,
    broken: str,
) -> None:
    # Not an Arrow error (those say what is wrong with the file): a bug in the profile, in its helper thread.
    from governance.catalog import ingest

    settings.STEWARD_INGEST_WHOLE_FILE_MB = whole_file_mb

    def profiler_bug(*args: Any, **kwargs: Any) -> None:
        raise KeyError("great")  # a message that quotes a value of the file

    owner, _, name = broken.rpartition(".")
    monkeypatch.setattr(getattr(ingest, owner) if owner else ingest, name, profiler_bug)
    with nothing_stored():
        response = post_file(CLICKS, "clicks.csv")
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert "column profile could not be computed (KeyError)" in detail and "great" not in detail
    assert "KeyError" in caplog.text and "great" not in caplog.text

"""Upload limits: the size limit holds while the body streams in; decoded rows and bytes are capped (bombs)."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.test import Client

from governance.catalog import ingest
from governance.catalog.models import DatasetVersion
from governance.catalog.services import dataset_create
from governance.catalog.uploads import LimitedUploadHandler, UploadTooLarge

pytestmark = pytest.mark.django_db


def named(content: bytes, name: str) -> io.BytesIO:
    buf = io.BytesIO(content)
    buf.name = name
    return buf


def parquet_bytes(table: pa.Table, **kwargs: Any) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, **kwargs)
    return sink.getvalue()


@pytest.fixture
def dataset(steward):
    return dataset_create(actor=steward, name="uploads")


@pytest.fixture
def post(steward_api, dataset):
    def do(content: bytes, name: str) -> Any:
        url = f"/api/v1/datasets/{dataset.pk}/versions/"
        return steward_api.post(url, {"file": named(content, name)}, format="multipart")

    return do


@pytest.fixture
def chunks_received(monkeypatch) -> list[int]:
    seen: list[int] = []
    receive = LimitedUploadHandler.receive_data_chunk

    def spy(self, raw_data, start):
        seen.append(len(raw_data))
        return receive(self, raw_data, start)

    monkeypatch.setattr(LimitedUploadHandler, "receive_data_chunk", spy)
    return seen


def test_a_body_declared_over_the_limit_is_refused_before_any_of_it_is_read(post, settings, chunks_received):
    settings.STEWARD_MAX_UPLOAD_MB = 1
    response = post(b"a,b\n" + b"1,2\n" * 400_000, "big.csv")
    assert response.status_code == 400
    assert response.json()["code"] == "too_large" and "limit of 1 MB" in response.json()["detail"]
    assert chunks_received == [] and not DatasetVersion.objects.exists()


def test_file_data_past_the_limit_stops_the_upload_whatever_the_declared_length(settings):
    settings.STEWARD_MAX_UPLOAD_MB = 1
    handler = LimitedUploadHandler()
    handler.handle_raw_input(None, {}, 0, b"boundary")  # e.g. a chunked body with no length
    handler.receive_data_chunk(b"x" * (1024 * 1024), 0)
    with pytest.raises(UploadTooLarge):
        handler.receive_data_chunk(b"x", 1024 * 1024)


def test_the_upload_page_refuses_a_body_over_the_limit_with_a_message(personas, dataset, settings):
    settings.STEWARD_MAX_UPLOAD_MB = 1
    client = Client()
    client.force_login(personas["steward"])
    response = client.post(f"/datasets/{dataset.pk}/upload/", {"file": named(b"a\n" + b"1\n" * 700_000, "b.csv")})
    assert response.status_code == 400 and b"limit of 1 MB" in response.content
    assert not DatasetVersion.objects.exists()


def test_a_parquet_bomb_is_refused_once_its_decoded_size_passes_the_limit(post, settings):
    settings.STEWARD_MAX_DECODED_MB = 4
    # 20,000 copies of one 1,000-character value: a few kilobytes compressed, 20 MB decoded.
    bomb = parquet_bytes(pa.table({"text": pa.array(["x" * 1000] * 20_000)}), compression="zstd")
    assert len(bomb) < 64 * 1024
    response = post(bomb, "bomb.parquet")
    assert response.status_code == 400, response.content
    assert "decodes to more than 4 MB" in response.json()["detail"]
    assert not DatasetVersion.objects.exists()


def test_too_many_rows_are_refused_and_parquet_before_decoding(post, settings, monkeypatch):
    settings.STEWARD_MAX_INGEST_ROWS = 100
    response = post(b"n\n" + b"".join(b"%d\n" % i for i in range(101)), "rows.csv")
    assert response.status_code == 400 and "more than 100 rows" in response.json()["detail"]

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded a file its metadata refuses")

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", no_decoding)
    response = post(parquet_bytes(pa.table({"n": list(range(1000))})), "rows.parquet")
    assert response.status_code == 400 and "more than 100 rows" in response.json()["detail"]
    assert not DatasetVersion.objects.exists()


def test_parquet_read_in_small_batches_is_still_written_in_full_row_groups(post, monkeypatch):
    monkeypatch.setattr(ingest, "PARQUET_BATCH_ROWS", 100)
    response = post(parquet_bytes(pa.table({"n": list(range(1000))}), row_group_size=128), "n.parquet")
    assert response.status_code == 201, response.content
    version = DatasetVersion.objects.get(pk=response.json()["id"])
    from core.storage import local_path

    with local_path(version.parquet) as path:
        meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == 1000 and meta.num_row_groups == 1

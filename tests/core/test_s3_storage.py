"""STEWARD_STORAGE=s3 end to end, against moto's S3 server started by the test: the demo chain (upload, join,
label, scan, mask, split, train, rank) and a download, with nothing written under the local file root."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

BUCKET = "steward-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def s3_storage(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Django's default storage pointed (as config/settings.py does for STEWARD_STORAGE=s3) at a fresh bucket on
    a local moto server; MEDIA_ROOT moved to an empty directory so a stray local write would show."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    settings.AWS_STORAGE_BUCKET_NAME = BUCKET
    settings.AWS_S3_ENDPOINT_URL = endpoint
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.AWS_ACCESS_KEY_ID = "testing"
    settings.AWS_SECRET_ACCESS_KEY = "testing"
    settings.AWS_S3_MAX_MEMORY_SIZE = 8 * 1024 * 1024
    settings.MEDIA_ROOT = tmp_path / "media-must-stay-empty"
    settings.DATA_DIR = tmp_path / "data"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {"file_overwrite": False}},
    }
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    try:
        yield client
    finally:
        server.stop()


def _keys(client: Any) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


@pytest.mark.django_db(transaction=True)
def test_the_whole_chain_runs_on_s3_storage_and_writes_nothing_under_the_local_file_root(
    s3_storage: Any, settings: Any, tiny_base_model: str, run_tasks_eagerly: None, tmp_path: Path
) -> None:
    from django.contrib.auth.models import User
    from django.core.files.storage import storages

    from core.models import Job
    from core.services import roles_ensure
    from governance.catalog.models import DatasetVersion
    from governance.catalog.services import dataset_get_or_create, dataset_version_upload
    from home.demo_data import write_demo_data
    from home.services import demo_story_start
    from serving.loader import reset_cache
    from serving.models import ServingStat
    from tests.factories import token_client
    from training.models import ModelAlias

    assert type(storages["default"]).__name__ == "S3Storage"
    settings.STEWARD_BASE_MODEL = tiny_base_model
    settings.STEWARD_SERVING_BACKGROUND_WRITES = False
    roles_ensure()
    admin = User.objects.create_superuser("admin", "admin@localhost", "pw-admin-123")

    files = write_demo_data(tmp_path / "raw", n_interactions=600, n_users=40, n_items=30)
    names = {"users": "demo-users", "items": "demo-items", "interactions": "demo-interactions"}
    raw = {}
    for key, name in names.items():
        dataset = dataset_get_or_create(actor=admin, name=name, kind="other")
        with files[key].open("rb") as fh:
            raw[key], _ = dataset_version_upload(actor=admin, dataset=dataset, source=fh, filename=files[key].name)
    stored = _keys(s3_storage)
    assert all(f"{v.parquet}" in stored and v.file in stored for v in raw.values())

    reset_cache()
    job, started = demo_story_start(actor=admin)
    job.refresh_from_db()
    reset_cache()
    assert started and job.status == Job.Status.SUCCEEDED, job.error
    result = job.result
    masked = DatasetVersion.objects.get(pk=result["mask"])
    production = ModelAlias.objects.get(name="production")
    keys = _keys(s3_storage)
    # Every derived version and the model artifact live in the bucket.
    derived = DatasetVersion.objects.exclude(pk__in=[v.pk for v in raw.values()])
    assert derived.count() >= 5 and all(v.parquet in keys for v in derived)
    assert any(k.startswith(production.version.artifact + "/") for k in keys)
    # Rank traffic was served by the model loaded from the bucket.
    assert sum(s.requests for s in ServingStat.objects.all()) > 0

    # Download: streamed from the bucket, masked columns stay masked.
    api = token_client(admin)
    response = api.get(f"/api/v1/dataset-versions/{masked.pk}/download/?format=parquet")
    assert response.status_code == 200
    table = pq.read_table(io.BytesIO(b"".join(response.streaming_content)))
    assert table.num_rows == masked.row_count and table.column_names == masked.column_names

    # A transform's dry run reads only the inputs' Parquet footers (ranged GETs), and bad params are a 400.
    from storages.backends.s3 import S3Storage

    def no_open(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the dry run opened the whole object through S3File")

    jobs_before = Job.objects.count()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(S3Storage, "open", no_open)
        bad = api.post(
            f"/api/v1/dataset-versions/{masked.pk}/transforms/",
            {"operation": "select", "params": {"columns": ["no_such_column"]}},
            format="json",
        )
    assert bad.status_code == 400 and "no_such_column" in bad.content.decode()
    assert Job.objects.count() == jobs_before

    # Nothing went to the local file root.
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(media.rglob("*"))


def test_a_large_object_goes_up_in_multipart_parts_and_comes_down_to_disk_by_the_transfer_manager(
    s3_storage: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib
    import os

    from storages.backends.s3 import S3Storage

    from core.storage import local_path, store_file

    size = 20 * 1024 * 1024
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(size))
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    name = store_file("datasets/big/data.bin", source)
    head = s3_storage.head_object(Bucket=BUCKET, Key=name)
    assert head["ContentLength"] == size
    assert head["ETag"].strip('"').endswith("-3")  # a multipart upload of three 8 MiB parts

    # Opening through the storage API (S3File) would first copy the whole object into a spooled file; the
    # download must go from ranged GETs straight into the temporary file instead.
    def no_open(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("local_path opened the object through S3File")

    monkeypatch.setattr(S3Storage, "open", no_open)
    with local_path(name) as path:
        assert path.stat().st_size == size
        with path.open("rb") as fh:
            assert hashlib.file_digest(fh, "sha256").hexdigest() == digest
    assert not path.exists()  # the temporary copy is gone with the block

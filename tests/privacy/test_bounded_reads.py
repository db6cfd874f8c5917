"""Scans, masking chunks, previews, raw examples and mask assembly read row groups, never the whole table."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from django.test import override_settings

from core.models import Job
from core.storage import local_path
from governance.catalog import ingest
from governance.catalog.models import DatasetVersion
from governance.privacy.models import PiiFinding, PiiScan
from governance.privacy.selectors import mask_preview, masked_rows, read_sample
from governance.privacy.services import pii_finding_raw_examples, pii_scan_start

ROWS, GROUP = 60, 10
CSV = "email,qty\n" + "".join(f"shopper{i}@example.com,{i}\n" for i in range(ROWS))
POLICY = {"columns": {"email": {"operator": "redact"}}}


@pytest.fixture
def version(upload, monkeypatch):
    monkeypatch.setattr(ingest, "ROW_GROUP_ROWS", GROUP)
    v = upload(CSV)  # not scanned: the tests start what they read
    with local_path(v.parquet) as path:
        assert pq.ParquetFile(path).num_row_groups == ROWS // GROUP
    return v


@pytest.fixture
def groups_read(monkeypatch):
    """Row groups decoded, in order; reading a whole file or table fails the test."""
    seen: list[int] = []
    one, many = pq.ParquetFile.read_row_group, pq.ParquetFile.read_row_groups

    def read_row_group(self, i, *args, **kwargs):
        seen.append(i)
        return one(self, i, *args, **kwargs)

    def read_row_groups(self, groups, *args, **kwargs):
        seen.extend(groups)
        return many(self, groups, *args, **kwargs)

    def whole(*args, **kwargs):
        raise AssertionError("read the whole table")

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", read_row_group)
    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", read_row_groups)
    monkeypatch.setattr(pq, "read_table", whole)
    monkeypatch.setattr(pq.ParquetFile, "read", whole)
    return seen


@pytest.mark.django_db
def test_a_sample_keeps_only_the_drawn_rows_from_each_row_group(version, groups_read):
    sample = read_sample(version, 7, seed=version.pk)
    assert sample.num_rows == 7 and sample.column_names == ["email", "qty"]
    qty = sample.column("qty").to_pylist()
    assert qty == sorted(qty) and len(set(qty)) == 7
    assert groups_read == sorted(set(groups_read)) and set(groups_read) == {q // GROUP for q in qty}


@override_settings(STEWARD_PII_SAMPLE_ROWS=4)
@pytest.mark.django_db
def test_a_scan_reads_at_most_one_row_group_per_sampled_row(
    version, steward, groups_read, run_tasks_eagerly, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        scan = pii_scan_start(version=version, actor=steward)
    scan = PiiScan.objects.select_related("job").get(pk=scan.pk)
    assert scan.status == "succeeded", scan.job.error
    assert PiiFinding.objects.get(scan=scan, column="email").entity_type == "EMAIL_ADDRESS"
    assert 1 <= len(groups_read) <= 4


@pytest.mark.django_db
def test_a_masking_chunk_and_the_preview_read_only_their_row_groups(version, groups_read):
    before, after = masked_rows(version=version, policy=POLICY, start=25, stop=35)
    assert before.column("qty").to_pylist() == list(range(25, 35))
    assert "shopper25@example.com" not in str(after.to_pylist())
    assert groups_read == [2, 3]
    groups_read.clear()
    columns, before_rows, _ = mask_preview(version=version, policy=POLICY, rows=5)
    assert columns == ["email", "qty"] and [r["qty"] for r in before_rows] == [0, 1, 2, 3, 4]
    assert groups_read == [0]


@pytest.mark.django_db
def test_raw_examples_stop_reading_once_they_have_enough(
    version, steward, run_tasks_eagerly, django_capture_on_commit_callbacks, monkeypatch
):
    with django_capture_on_commit_callbacks(execute=True):
        pii_scan_start(version=version, actor=steward)
    finding = PiiFinding.objects.get(version=version, column="email")
    batches: list[int] = []
    iterate = pq.ParquetFile.iter_batches

    def iter_batches(self, *args, **kwargs):
        for batch in iterate(self, *args, **kwargs):
            batches.append(batch.num_rows)
            yield batch

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", iter_batches)
    monkeypatch.setattr("governance.privacy.selectors.pq.read_table", lambda *a, **k: 1 / 0)
    examples = pii_finding_raw_examples(finding=finding, actor=steward, limit=2)
    assert examples == ["shopper0@example.com", "shopper1@example.com"]
    assert len(batches) == 1


@override_settings(STEWARD_PII_CHUNK_ROWS=20)
@pytest.mark.django_db
def test_mask_assembly_streams_the_parts_row_group_by_row_group(
    version, steward_api, run_tasks_eagerly, django_capture_on_commit_callbacks, monkeypatch
):
    # The new version's profile reads it column by column (the catalog's profiler); the parts are never read whole.
    monkeypatch.setattr(pq, "read_table", lambda *a, **k: 1 / 0)
    with django_capture_on_commit_callbacks(execute=True):
        response = steward_api.post(f"/api/v1/dataset-versions/{version.pk}/mask/", POLICY, format="json")
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == "succeeded", job.error
    assert job.result["chunks"] == 3 and job.result["rows"] == ROWS
    masked = DatasetVersion.objects.get(pk=job.result["dataset_version"])
    assert masked.row_count == ROWS and masked.operation == "mask"
    with local_path(masked.parquet) as path:
        qty = pq.ParquetFile(path).read_row_groups([0]).column("qty").to_pylist()
    assert qty[:3] == [0, 1, 2]

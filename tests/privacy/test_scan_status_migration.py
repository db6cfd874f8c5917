"""Migrations privacy 0003-0004: a scan's status becomes its job's, without losing what the scans recorded."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# core goes back too: its later migrations add Job columns that rows made through this old state would lack.
BEFORE = [("privacy", "0002_mask_chunk_timeline"), ("core", "0001_initial")]
AFTER = [("privacy", "0004_scan_status_from_job")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


def _leaves(app: str) -> list[tuple[str, str]]:
    return [node for node in MigrationExecutor(connection).loader.graph.leaf_nodes() if node[0] == app]


@pytest.fixture
def at_0002(transactional_db):
    apps = _migrate(BEFORE)
    yield apps
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())  # back to the latest for the other tests


def _version(apps):
    dataset = apps.get_model("catalog", "Dataset").objects.create(name="shop")
    return apps.get_model("catalog", "DatasetVersion").objects.create(
        dataset=dataset, number=1, sha256="0" * 64, format="csv", parquet="x.parquet"
    )


def test_scans_keep_their_outcome_when_the_status_moves_to_the_job(at_0002):
    apps = at_0002
    Job = apps.get_model("core", "Job")
    PiiScan = apps.get_model("privacy", "PiiScan")
    version = _version(apps)
    ended = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    agreeing = PiiScan.objects.create(
        version=version,
        status="succeeded",
        finished_at=ended,
        job=Job.objects.create(kind="pii_scan", status="succeeded"),
    )
    jobless = PiiScan.objects.create(version=version, status="succeeded", finished_at=ended, job=None)
    lost_worker = PiiScan.objects.create(
        version=version, status="failed", finished_at=ended, job=Job.objects.create(kind="pii_scan", status="running")
    )
    cancelled = PiiScan.objects.create(
        version=version, status="queued", job=Job.objects.create(kind="pii_scan", status="cancelled")
    )

    from governance.privacy.models import PiiScan as CurrentPiiScan

    _migrate(AFTER + _leaves("core"))  # the code under test reads jobs through today's Job model
    scans = {s.pk: s for s in CurrentPiiScan.objects.select_related("job")}
    assert scans[agreeing.pk].status == "succeeded"
    assert scans[jobless.pk].status == "succeeded" and scans[jobless.pk].finished_at == ended
    assert scans[jobless.pk].job.params["scan"] == jobless.pk
    assert scans[lost_worker.pk].status == "failed" and scans[lost_worker.pk].finished_at == ended
    assert scans[cancelled.pk].status == "failed"  # its job was cancelled before it started

    apps = _migrate(BEFORE)
    restored = {s.pk: s for s in apps.get_model("privacy", "PiiScan").objects.all()}
    assert [restored[s.pk].status for s in (agreeing, jobless, lost_worker, cancelled)] == [
        "succeeded",
        "succeeded",
        "failed",
        "failed",
    ]
    assert restored[jobless.pk].finished_at == ended

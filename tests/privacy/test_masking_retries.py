"""A masking or transform job whose worker dies during finalisation is retried without a second version or
lineage edge (outputs are keyed on the job), and a job that was assembling does not stay running forever."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from core import jobs
from core.jobs import jobs_sweep
from core.models import Job
from governance.catalog.models import DatasetVersion, LineageEdge
from tests.factories import Killed, expire_lease

pytestmark = pytest.mark.django_db

KEY = "0123456789abcdef0123456789abcdef"


def _customers(n: int) -> str:
    rows = [f"Maria Lopez{i % 7},maria{i}@example.com,4111111111111111,{i}.5" for i in range(n)]
    return "customer,email,card,price\n" + "\n".join(rows) + "\n"


@pytest.fixture
def version(scan_upload: Any) -> DatasetVersion:
    return scan_upload(_customers(120), name="customers.csv")


def _mask_job(version: DatasetVersion, steward: Any) -> Job:
    from governance.privacy.services import mask_start

    # encrypt is randomised: a second assembly from scratch would give other bytes, hence another version.
    return mask_start(
        version=version, actor=steward, policy={"columns": {"email": "hash", "card": {"operator": "encrypt"}}}
    )


def _masked_versions(source: DatasetVersion) -> list[LineageEdge]:
    return list(LineageEdge.objects.filter(source=source, operation="mask"))


@override_settings(STEWARD_PII_ENCRYPTION_KEY=KEY, STEWARD_PII_CHUNK_ROWS=50)
def test_a_mask_job_killed_after_registering_its_version_is_finished_by_the_retry_without_a_second_one(
    version: DatasetVersion, steward: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from governance.privacy import services
    from governance.privacy.tasks import mask_chunk, mask_version

    job = _mask_job(version, steward)
    mask_version(job.pk)  # claims, plans three chunks (their messages are not sent inside this test transaction)
    real_delete = services.delete_file
    monkeypatch.setattr(services, "delete_file", lambda name: (_ for _ in ()).throw(Killed()))
    mask_chunk(job.pk, 0)
    mask_chunk(job.pk, 1)
    with pytest.raises(Killed):
        mask_chunk(job.pk, 2)  # the last chunk assembles, registers the version, dies while tidying up
    monkeypatch.setattr(services, "delete_file", real_delete)
    job.refresh_from_db()
    assert job.status == "running" and job.message == "assembling" and "mask" in job.output
    first = job.output["mask"]["dataset_version"]

    expire_lease(job)
    assert jobs_sweep()["requeued"] == 1
    mask_version(job.pk)  # the sweep's message: every chunk is done, so it assembles (finds the version)
    job.refresh_from_db()
    assert job.status == "succeeded" and job.attempts == 2, job.error
    assert job.result["dataset_version"] == first
    assert [e.target_id for e in _masked_versions(version)] == [first]
    assert DatasetVersion.objects.filter(operation="mask").count() == 1


@override_settings(STEWARD_PII_ENCRYPTION_KEY=KEY, STEWARD_PII_CHUNK_ROWS=50)
def test_a_mask_job_killed_while_registering_its_version_leaves_nothing_and_the_retry_registers_one(
    version: DatasetVersion, steward: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from governance.catalog import services as catalog
    from governance.privacy.tasks import mask_chunk, mask_version

    job = _mask_job(version, steward)
    mask_version(job.pk)
    real_derive = catalog.dataset_version_derive

    def derive_then_die(**kwargs: Any) -> DatasetVersion:
        real_derive(**kwargs)
        raise Killed()

    monkeypatch.setattr(catalog, "dataset_version_derive", derive_then_die)
    mask_chunk(job.pk, 0)
    mask_chunk(job.pk, 1)
    with pytest.raises(Killed):
        mask_chunk(job.pk, 2)
    monkeypatch.setattr(catalog, "dataset_version_derive", real_derive)
    assert _masked_versions(version) == []  # rolled back with the job's record of it
    job.refresh_from_db()
    assert job.output == {} and job.status == "running"

    expire_lease(job)
    jobs_sweep()
    mask_version(job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert [e.target_id for e in _masked_versions(version)] == [job.result["dataset_version"]]


def test_a_transform_killed_after_registering_its_outputs_is_not_registered_twice(
    upload: Any, steward: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from governance.catalog.tasks import transform_version
    from governance.catalog.transform_service import transform_start

    source = upload("user_id,item_id,ts\n" + "".join(f"{i % 5},{i % 7},{i}\n" for i in range(40)), name="e.csv")
    job = transform_start(
        actor=steward,
        version=source,
        operation="split",
        params={"strategy": "random", "fractions": [0.5, 0.5], "seed": 3},
    )
    real_progress = jobs.Reporter.progress

    def die_after_registering(self: Any, fraction: float, message: str = "", **details: Any) -> None:
        if message.startswith("registered"):
            raise Killed()
        real_progress(self, fraction, message, **details)

    monkeypatch.setattr(jobs.Reporter, "progress", die_after_registering)
    with pytest.raises(Killed):
        transform_version(job.pk)
    monkeypatch.setattr(jobs.Reporter, "progress", real_progress)
    job.refresh_from_db()
    parts = job.output["transform"]["dataset_versions"]
    assert job.status == "running" and len(parts) == 2

    expire_lease(job)
    jobs_sweep()
    transform_version(job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded" and job.result == {"dataset_versions": parts}
    edges = LineageEdge.objects.filter(source=source, operation="split")
    assert sorted(e.target_id for e in edges) == sorted(parts)
    assert DatasetVersion.objects.filter(operation="split").count() == 2

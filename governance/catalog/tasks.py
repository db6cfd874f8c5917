from __future__ import annotations

from typing import Any

from celery import shared_task

from core.jobs import Reporter, job_create, job_enqueue, run_job
from core.models import Job
from governance.catalog.models import DatasetVersion


def profile_job_start(*, version: DatasetVersion, actor: Any) -> Job:
    job = job_create(kind="profile", actor=actor, subject_type="dataset_version", subject_id=version.pk,
                     params={"dataset_version": version.pk})
    job_enqueue(job, profile_version)
    return job


@shared_task(name="catalog.profile_version", acks_late=True, max_retries=3, default_retry_delay=10)
def profile_version(job_id: int) -> None:
    def work(job: Job, reporter: Reporter) -> dict[str, Any]:
        from governance.catalog.services import dataset_version_profile

        version = DatasetVersion.objects.filter(pk=job.params["dataset_version"]).first()
        if version is None:
            return {"dataset_version": None}
        reporter.progress(0.1, "profiling columns")
        dataset_version_profile(version=version)
        return {"dataset_version": version.pk}

    run_job(job_id, work, kind="profile")


@shared_task(name="catalog.transform", acks_late=True, max_retries=3, default_retry_delay=10)
def transform_version(job_id: int) -> None:
    def work(job: Job, reporter: Reporter) -> dict[str, Any]:
        from governance.catalog.transform_service import transform_run

        return transform_run(job=job, reporter=reporter)

    run_job(job_id, work, kind="transform")

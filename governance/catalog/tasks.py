"""Celery tasks of the catalog (queue "default"). Services start them by name through core.jobs.job_start."""

from __future__ import annotations

from typing import Any

from core.jobs import Reporter, job_task
from core.models import Job


@job_task("catalog.profile_version", kind="profile")
def profile_version(job: Job, reporter: Reporter) -> dict[str, Any]:
    from governance.catalog.models import DatasetVersion
    from governance.catalog.services import dataset_version_profile

    version = DatasetVersion.objects.filter(pk=job.params["dataset_version"]).first()
    if version is None:
        return {"dataset_version": None}
    reporter.progress(0.1, "profiling columns")
    dataset_version_profile(version=version)
    return {"dataset_version": version.pk}


@job_task("catalog.transform", kind="transform")
def transform_version(job: Job, reporter: Reporter) -> dict[str, Any]:
    from governance.catalog.transform_service import transform_run

    return transform_run(job=job, reporter=reporter)

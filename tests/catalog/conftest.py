"""Fixtures shared by the catalog tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from core.models import Job
from governance.catalog.models import DatasetVersion


@pytest.fixture
def run_transform(
    steward_api: APIClient, run_tasks_eagerly: Any, django_capture_on_commit_callbacks: Any
) -> Callable[..., DatasetVersion]:
    """Start a transform through the API, run it eagerly, assert it succeeded; the derived version."""

    def do(version: DatasetVersion, operation: str, params: dict[str, Any]) -> DatasetVersion:
        with django_capture_on_commit_callbacks(execute=True):
            response = steward_api.post(
                f"/api/v1/dataset-versions/{version.pk}/transforms/",
                {"operation": operation, "params": params},
                format="json",
            )
        assert response.status_code == 202, response.content
        job = Job.objects.get(pk=response.json()["id"])
        assert job.status == Job.Status.SUCCEEDED, job.error
        return DatasetVersion.objects.get(pk=job.result["dataset_version"])

    return do

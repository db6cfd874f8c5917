"""Fixtures for labeling: PII-scan_upload versions (as a worker would scan them), projects, annotators, tasks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from core.models import Job
from governance.labeling.models import Project
from governance.labeling.services import project_create, webhook_set
from tests.factories import CATEGORIES, Receiver, add_tasks, items_csv


@pytest.fixture
def annotators(make_user: Callable[..., User]) -> list[User]:
    return [make_user("annotator", f"ann{i}") for i in range(4)]


@pytest.fixture
def client_for() -> Callable[[User], APIClient]:
    def make(user: User) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def make_project(steward: User) -> Callable[..., Project]:
    def make(version: Any, **kw: Any) -> Project:
        defaults: dict[str, Any] = {
            "name": f"project-{Project.objects.count() + 1}",
            "template": "category",
            "labels": CATEGORIES,
            "display_columns": ["title"],
            "overlap": 2,
        }
        defaults.update(kw)
        return project_create(actor=steward, dataset_version=version, **defaults)

    return make


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    """receiver(codes, location=...): a webhook Receiver answering with those codes; all are closed after the test."""
    made: list[Receiver] = []

    def make(codes: list[int], location: str = "") -> Receiver:
        made.append(Receiver(codes, location))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def run_api_job(run_tasks_eagerly, django_capture_on_commit_callbacks):
    """run_api_job(call): call the API (202), run the job it starts (and the PII scan of any version it registers)
    in-process, and return the job, which must have succeeded."""

    def do(call):
        with django_capture_on_commit_callbacks(execute=True):
            response = call()
        assert response.status_code == 202, response.json()
        job = Job.objects.get(pk=response.json()["id"])
        assert job.status == "succeeded", job.error
        return job

    return do


@pytest.fixture
def hooked_project(upload, make_project: Callable[..., Project], steward: User) -> Callable[[str], Project]:
    """hooked_project(url): a project (overlap 1) on a 2-row items table, tasks for both rows, and the steward's
    webhook to `url` on task.completed."""

    def make(url: str) -> Project:
        project = make_project(upload(items_csv(2), name="items.csv"), overlap=1)
        add_tasks(project, [0, 1])
        webhook_set(actor=steward, project=project, url=url, events=["task.completed"])
        return project

    return make

"""Fixtures for labeling: PII-scanned versions (as a worker would scan them), projects, annotators, tasks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from governance.labeling.models import Project
from governance.labeling.services import project_create
from tests.factories import CATEGORIES


@pytest.fixture
def scanned(upload, run_tasks_eagerly, django_capture_on_commit_callbacks) -> Callable[..., Any]:
    """upload(text, ...) that also runs the automatic PII scan, so the version's masking rule is settled."""

    def do(text: str, **kw: Any):
        with django_capture_on_commit_callbacks(execute=True):
            version = upload(text, **kw)
        version.refresh_from_db()
        return version

    return do


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

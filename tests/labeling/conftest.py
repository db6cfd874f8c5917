"""Fixtures for labeling: PII-scanned versions (as a worker would scan them), projects, annotators, tasks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from governance.labeling.models import Project, Task
from governance.labeling.services import project_create

ITEMS = [
    ("Voltix Wireless Headphones", "Electronics"),
    ("Sonaro Bluetooth Speaker", "Electronics"),
    ("Pixelon Phone Charger", "Electronics"),
    ("Kitchora Coffee Maker", "Home & Kitchen"),
    ("Homely Chef's Knife", "Home & Kitchen"),
    ("Brava Air Fryer", "Home & Kitchen"),
    ("Lantern Press Mystery Novel", "Books"),
    ("Redleaf Cookbook", "Books"),
    ("Trailpeak Yoga Mat", "Sports & Outdoors"),
    ("Stridex Running Shoes", "Sports & Outdoors"),
    ("Summitco Camping Tent", "Sports & Outdoors"),
    ("Flexa Resistance Bands", "Sports & Outdoors"),
]
CATEGORIES = ["Electronics", "Home & Kitchen", "Books", "Sports & Outdoors"]


def items_csv(n: int = 12) -> str:
    lines = ["item_id,title,category,price"]
    for i in range(n):
        title, category = ITEMS[i % len(ITEMS)]
        lines.append(f"{i + 1},{title} {i // len(ITEMS) or ''},{category},{10 + i}.99")
    return "\n".join(lines) + "\n"


def search_csv(n: int = 20) -> str:
    lines = ["query,item_id,title,position,clicked"]
    for i in range(n):
        title, _category = ITEMS[i % len(ITEMS)]
        query = ["headphones", "coffee", "yoga mat", "novel"][i % 4]
        lines.append(f"{query},{i + 1},{title},{i % 10 + 1},{int(i % 3 == 0)}")
    return "\n".join(lines) + "\n"


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


def add_tasks(project: Project, rows: list[int] | None = None, **fields: Any) -> list[Task]:
    """Tasks straight into the table (the task-creation job has its own tests)."""
    rows = list(range(project.dataset_version.row_count)) if rows is None else rows
    return Task.objects.bulk_create([Task(project=project, row=r, **fields) for r in rows])

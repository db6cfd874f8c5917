"""Shared fixtures: one persona per role, API clients authenticated as each, uploads, a tiny base model.

Django is imported inside the fixtures, and the autouse ones do nothing without pytest-django:
tests/training/ml runs without Django (`pytest tests/training/ml -p no:django`, the GPU machine).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from tests.factories import csv_file, tiny_bert, token_client, word_tokenizer

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from rest_framework.test import APIClient

# Nothing may download a model (base models and tokenizers load from packages or local paths).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PERSONAS = ("steward", "annotator", "ml_engineer", "viewer", "outsider", "admin")


def _with_django(request: pytest.FixtureRequest) -> bool:
    return request.config.pluginmanager.has_plugin("django")


@pytest.fixture(autouse=True)
def _fast_password_hashing(request: pytest.FixtureRequest) -> None:
    # PBKDF2's million rounds cost about half a second per user here; personas make six users per test.
    if _with_django(request):
        request.getfixturevalue("settings").PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _own_cache_keys() -> None:
    # Login failures live in the shared cache (Redis in CI): a fresh key space per test, so none leaks into the next.
    from tests import cache_keys

    cache_keys.generation += 1


@pytest.fixture(scope="session")
def tiny_base_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 1-layer, 16-wide BERT with random weights and a word-level vocabulary, on disk, used as a base
    model (a path) by tests that train: it trains and loads in about a second."""
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"), word_tokenizer())


@pytest.fixture
def make_user(db: Any) -> Callable[..., User]:
    from django.contrib.auth.models import Group, User

    from core.roles import ROLES

    def make(role: str, username: str | None = None) -> User:
        username = username or f"{role}-user"
        if role == "admin":
            return User.objects.create_superuser(username, f"{username}@example.com", "pw-admin-123")
        user = User.objects.create_user(username, f"{username}@example.com", f"pw-{role}-123")
        if role in ROLES:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        return user

    return make


@pytest.fixture
def personas(make_user: Callable[..., User]) -> dict[str, User]:
    return {role: make_user(role) for role in PERSONAS}


@pytest.fixture
def api_as(personas: dict[str, User]) -> Callable[[str | None], APIClient]:
    """api_as("steward") -> an APIClient with that persona's token; api_as(None) -> anonymous."""
    return lambda role: token_client(personas[role] if role else None)


@pytest.fixture
def steward(personas: dict[str, User]) -> User:
    return personas["steward"]


@pytest.fixture
def steward_api(api_as: Callable[[str | None], APIClient]) -> APIClient:
    return api_as("steward")


@pytest.fixture
def upload(steward: User) -> Callable[..., Any]:
    """upload(csv_text, name=...) registers a version through the service layer and returns it."""
    from governance.catalog.services import dataset_create, dataset_version_upload

    def do(text: str, *, name: str = "data.csv", dataset: str = "shop", kind: str = "other") -> Any:
        from governance.catalog.models import Dataset

        ds = Dataset.objects.filter(name=dataset).first() or dataset_create(actor=steward, name=dataset, kind=kind)
        version, _ = dataset_version_upload(actor=steward, dataset=ds, source=csv_file(text, name), filename=name)
        return version

    return do


@pytest.fixture
def run_tasks_eagerly() -> Any:
    """Celery tasks run in-process; combine with django_capture_on_commit_callbacks(execute=True)."""
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def scan_upload(upload, run_tasks_eagerly, django_capture_on_commit_callbacks):
    """upload(text, name=...) that also runs the automatic PII scan, as a worker would."""

    def do(text: str, **kw: Any):
        with django_capture_on_commit_callbacks(execute=True):
            version = upload(text, **kw)
        version.refresh_from_db()
        return version

    return do


@pytest.fixture(scope="session", autouse=True)
def _fresh_broker(request: pytest.FixtureRequest) -> None:
    """A shared broker (Redis in CI) may hold messages of an earlier run whose job ids name other rows of this
    run's new test database; drop them before any test enqueues."""
    if not _with_django(request):
        return
    from tests.worker import purge_broker

    purge_broker()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    from tests import worker

    worker.current_test_is_marked = item.get_closest_marker("worker") is not None

"""The catalog's one plug-in mechanism: apps above it register in AppConfig.ready(), the catalog calls them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from governance.catalog import hooks
from governance.catalog.selectors import version_rows


@pytest.fixture
def clean_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from empty registries and leaves the real ones (privacy's, training's) as they were."""
    monkeypatch.setattr(hooks, "_hidden_columns", [])
    monkeypatch.setattr(hooks, "_version_created", [])
    monkeypatch.setattr(hooks, "_version_profiled", [])
    monkeypatch.setattr(hooks, "_node_urls", dict(hooks._node_urls))


def test_the_installed_apps_register_their_hooks_at_start_up() -> None:
    from governance.privacy.apps import scan_new_version
    from governance.privacy.selectors import hidden_pii_columns

    assert hidden_pii_columns in hooks._hidden_columns
    assert scan_new_version in hooks._version_created
    from governance.quality.apps import check_profiled_version

    assert check_profiled_version in hooks._version_profiled
    assert hooks.node_url("model_version", 3) == "/model-versions/3/"
    assert hooks.node_url("dataset_version", 4) == "/dataset-versions/4/"
    assert hooks.node_url("unknown", 5) == ""


def test_registering_the_same_function_twice_calls_it_once(
    clean_hooks: None, upload: Callable[..., Any], django_capture_on_commit_callbacks: Any
) -> None:
    calls: list[dict[str, Any]] = []

    def listener(**kwargs: Any) -> None:
        calls.append(kwargs)

    hooks.register_version_created(listener)
    hooks.register_version_created(listener)
    with django_capture_on_commit_callbacks(execute=True):
        version = upload("user_id,item_id\n1,2\n")
    assert calls == [{"version_id": version.pk, "actor_id": version.created_by_id}]


@pytest.mark.django_db(transaction=True)
def test_listeners_hear_of_a_new_version_only_once_its_transaction_commits(
    clean_hooks: None, upload: Callable[..., Any]
) -> None:
    heard: list[int] = []
    hooks.register_version_created(lambda *, version_id, actor_id: heard.append(version_id))

    with pytest.raises(RuntimeError), transaction.atomic():
        upload("user_id,item_id\n1,2\n", dataset="rolled-back")
        raise RuntimeError("roll back")
    assert heard == []

    version = upload("user_id,item_id\n3,4\n", dataset="kept")
    assert heard == [version.pk]


def test_hidden_columns_from_every_hook_are_masked_in_rows(clean_hooks: None, upload: Callable[..., Any]) -> None:
    version = upload("email,phone,item_id\na@example.com,555-0100,7\n")
    hooks.register_hidden_columns(lambda version, user: {"email"})
    hooks.register_hidden_columns(lambda version, user: {"phone"})

    page = version_rows(version=version, offset=0, limit=10, user=None)

    assert page["masked_columns"] == ["email", "phone"]
    assert page["results"] == [{"email": hooks.MASKED, "phone": hooks.MASKED, "item_id": 7}]


def test_a_registered_node_url_links_that_node_type(clean_hooks: None) -> None:
    hooks.register_node_url("labeling_project", lambda ident: f"/labeling/{ident}/")
    assert hooks.node_url("labeling_project", 9) == "/labeling/9/"


def test_profiled_listeners_hear_of_an_inline_profiled_version_on_commit_and_of_a_job_profiled_one_after_the_job(
    clean_hooks: None,
    upload: Callable[..., Any],
    django_capture_on_commit_callbacks: Any,
    run_tasks_eagerly: None,
    settings: Any,
) -> None:
    heard: list[tuple[int, str]] = []

    def listener(*, version_id: int, actor_id: int | None) -> None:
        from governance.catalog.models import DatasetVersion

        heard.append((version_id, DatasetVersion.objects.get(pk=version_id).profile_status))

    hooks.register_version_profiled(listener)
    with django_capture_on_commit_callbacks(execute=True):
        inline = upload("user_id,item_id\n1,2\n")
    settings.STEWARD_PROFILE_INLINE_MAX_ROWS = 1
    with django_capture_on_commit_callbacks(execute=True):
        by_job = upload("user_id,item_id\n1,2\n3,4\n")
    assert heard == [(inline.pk, "done"), (by_job.pk, "done")]

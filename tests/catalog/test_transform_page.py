"""The transform page: a form per operation (fields from the operation's parameters, columns to pick from the
version), a submitted form becomes a job, a bad one a message and nothing stored; the API docs list every
operation with its parameters and an example."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils.html import escape

from core.models import Job
from governance.catalog import transforms
from governance.catalog.models import DatasetVersion, LineageEdge


@pytest.fixture
def version(upload: Callable[..., Any]) -> DatasetVersion:
    return upload("user_id,item_id,rating,timestamp\n1,10,5,100\n1,11,3,200\n2,10,4,150\n", name="events.csv")


@pytest.fixture
def page(client: Client, steward: Any) -> Client:
    client.force_login(steward)
    return client


def test_the_version_page_has_a_form_per_operation_with_the_versions_columns(
    page: Client, version: DatasetVersion
) -> None:
    html = page.get(f"/dataset-versions/{version.pk}/").content.decode()
    for name, (description, params) in transforms.PARAMS.items():
        assert escape(description) in html
        assert f'aria-label="{name}"' in html
        assert f'<input type="hidden" name="operation" value="{name}">' in html
        for param in params:
            assert f'name="{name}-{param.name}"' in html, (name, param.name)
    # Column parameters are pickers over the version's columns, not free text or a JSON box.
    assert '<select name="sequence-user_column"' in html and '<option value="timestamp">' in html
    assert "<textarea" not in html


def test_a_submitted_sequence_form_runs_the_job_and_registers_the_list_column(
    page: Client, version: DatasetVersion, run_tasks_eagerly: Any, django_capture_on_commit_callbacks: Any
) -> None:
    form = {
        "operation": "sequence",
        "sequence-user_column": "user_id",
        "sequence-item_column": "item_id",
        "sequence-time_column": "timestamp",
        "sequence-length": "2",
        "sequence-column": "item_sequence",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = page.post(f"/dataset-versions/{version.pk}/transform/", form)
    job = Job.objects.get(kind="transform")
    assert response.status_code == 302 and response.url == f"/jobs/{job.pk}/"
    assert job.params["params"] == {
        "user_column": "user_id",
        "item_column": "item_id",
        "time_column": "timestamp",
        "length": 2,
        "column": "item_sequence",
    }
    assert job.status == Job.Status.SUCCEEDED, job.error
    derived = DatasetVersion.objects.get(pk=job.result["dataset_version"])
    assert "item_sequence" in derived.column_names
    assert LineageEdge.objects.filter(source=version, target_id=derived.pk, operation="sequence").exists()


def test_list_and_pair_fields_become_lists_and_objects(page: Client, version: DatasetVersion) -> None:
    page.post(
        f"/dataset-versions/{version.pk}/transform/",
        {"operation": "split", "split-strategy": "random", "split-fractions": "0.5, 0.5", "split-seed": "3"},
    )
    page.post(f"/dataset-versions/{version.pk}/transform/", {"operation": "rename", "rename-columns": "rating:stars"})
    params = [job.params["params"] for job in Job.objects.filter(kind="transform").order_by("pk")]
    assert params == [
        {"strategy": "random", "fractions": [0.5, 0.5], "seed": 3},
        {"columns": {"rating": "stars"}},
    ]


def test_a_bad_form_shows_the_problem_and_stores_nothing(page: Client, version: DatasetVersion) -> None:
    response = page.post(
        f"/dataset-versions/{version.pk}/transform/",
        {"operation": "time_features", "time_features-reference": "soon"},
        follow=True,
    )
    assert "time_features" in response.content.decode() and "required" in response.content.decode()
    response = page.post(
        f"/dataset-versions/{version.pk}/transform/",
        {"operation": "bucketize", "bucketize-columns": ["rating"], "bucketize-strategy": "fixed"},
        follow=True,
    )
    assert "`edges` must be a non-empty list" in response.content.decode()
    assert not Job.objects.filter(kind="transform").exists()


def test_the_openapi_schema_lists_every_operation_with_parameters_and_an_example(page: Client) -> None:
    schema = page.get("/api/v1/schema/?format=json").json()
    post = schema["paths"]["/api/v1/dataset-versions/{id}/transforms/"]["post"]
    for name, (_, params) in transforms.PARAMS.items():
        assert f"**{name}**" in post["description"]
        assert all(f"`{p.name}`" in post["description"] for p in params)
    examples = post["requestBody"]["content"]["application/json"]["examples"]
    assert {e["value"]["operation"] for e in examples.values()} == set(transforms.PARAMS)

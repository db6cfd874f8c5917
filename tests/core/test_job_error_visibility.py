"""A failed job's traceback (internals, perhaps values) is for stewards; other roles read the reason without it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from core.jobs import job_create, job_fail

pytestmark = pytest.mark.django_db

TRACEBACK_ERROR = (
    "ValueError: could not convert 'maria.lopez@example.com' to float\n"
    "Traceback (most recent call last):\n"
    '  File "/srv/steward/governance/catalog/transforms.py", line 412, in cast\n'
    "ValueError: could not convert 'maria.lopez@example.com' to float\n"
)


def _failed(actor: Any, error: str) -> int:
    job = job_create(kind="transform", actor=actor)
    job_fail(job.pk, error)
    return job.pk


@pytest.mark.parametrize("role", ["viewer", "ml_engineer"])
def test_other_roles_see_the_exception_type_but_no_traceback_or_message(role: str, personas: Any, api_as: Any) -> None:
    # Even the job's own author: an unexpected exception's text is internals.
    pk = _failed(personas[role], TRACEBACK_ERROR)
    client = api_as(role)
    detail = client.get(f"/api/v1/jobs/{pk}/").json()
    listed = next(j for j in client.get("/api/v1/jobs/").json()["results"] if j["id"] == pk)
    for body in (detail, listed):
        assert body["error"].startswith("ValueError: the job failed unexpectedly")
        assert "Traceback" not in body["error"] and "maria" not in body["error"]


def test_a_steward_sees_the_whole_error(personas: Any, api_as: Any) -> None:
    pk = _failed(personas["ml_engineer"], TRACEBACK_ERROR)
    assert api_as("steward").get(f"/api/v1/jobs/{pk}/").json()["error"] == TRACEBACK_ERROR


def test_a_reason_written_for_people_reads_the_same_for_everyone(personas: Any, api_as: Any) -> None:
    reason = "column 'rating' does not exist in dataset version 4"
    pk = _failed(personas["ml_engineer"], reason)
    assert api_as("viewer").get(f"/api/v1/jobs/{pk}/").json()["error"] == reason


def test_the_job_page_shows_the_traceback_to_stewards_only(personas: Any) -> None:
    pk = _failed(personas["ml_engineer"], TRACEBACK_ERROR)
    viewer, steward = Client(), Client()
    viewer.force_login(personas["viewer"])
    steward.force_login(personas["steward"])
    seen_by_viewer = viewer.get(f"/jobs/{pk}/").content.decode()
    assert "the job failed unexpectedly" in seen_by_viewer
    assert "Traceback" not in seen_by_viewer and "maria" not in seen_by_viewer
    assert "Traceback" in steward.get(f"/jobs/{pk}/").content.decode()

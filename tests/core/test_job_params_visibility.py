"""A job's parameters can quote raw values (a transform's filter over a personal-data column), so only the job's
owner and roles with pii.manage read them; other readers of the job learn which operation ran."""

from __future__ import annotations

import pytest
from django.test import Client

from core.jobs import job_create

pytestmark = pytest.mark.django_db

MARKER = "zq-marker-4711@example.org"


@pytest.fixture
def job(personas):
    params = {"operation": "filter", "params": {"expression": f"email == '{MARKER}'"}, "inputs": [1]}
    return job_create(kind="transform", actor=personas["ml_engineer"], params=params)


@pytest.mark.parametrize(("role", "sees"), [("ml_engineer", True), ("steward", True), ("viewer", False)])
def test_job_parameters_reach_the_owner_and_stewards_only(job, personas, api_as, role, sees):
    body = api_as(role).get(f"/api/v1/jobs/{job.pk}/").content.decode()
    assert (MARKER in body) is sees
    assert "filter" in body  # everyone who may read the job learns which operation ran
    page = Client()
    page.force_login(personas[role])
    html = page.get(f"/jobs/{job.pk}/").content.decode()
    assert (MARKER in html) is sees
    listing = api_as(role).get("/api/v1/jobs/").content.decode()
    assert (MARKER in listing) is sees

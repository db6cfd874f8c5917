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


def test_the_post_that_starts_a_job_answers_its_owner_with_the_parameters_in_full(upload, api_as):
    version = upload("customer,email,qty\nMaria Lopez,maria.lopez@example.com,3\n")
    engineer = api_as("ml_engineer")
    params = {"expression": "qty >= 2"}
    response = engineer.post(
        f"/api/v1/dataset-versions/{version.pk}/transforms/", {"operation": "filter", "params": params}, format="json"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["params"]["params"] == params and "withheld" not in body["params"]
    # The same answer as the job's GET gives its owner.
    assert engineer.get(f"/api/v1/jobs/{body['id']}/").json()["params"] == body["params"]


def test_cancelling_answers_the_owner_with_the_parameters_in_full(job, api_as):
    response = api_as("ml_engineer").post(f"/api/v1/jobs/{job.pk}/cancel/")
    assert response.status_code == 200, response.content
    assert MARKER in response.json()["params"]["params"]["expression"]

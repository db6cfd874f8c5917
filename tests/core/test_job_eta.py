"""The time left of a running job, estimated from its rate of progress: on the Job (injectable `now`), in the job
API as `eta_seconds`, and in words on the job page."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from core.models import Job, eta_words

pytestmark = pytest.mark.django_db


def _running(progress: float, minutes_ago: float, **fields: Any) -> Job:
    return Job.objects.create(
        kind="transform",
        status=Job.Status.RUNNING,
        progress=progress,
        started_at=timezone.now() - timedelta(minutes=minutes_ago),
        **fields,
    )


def test_the_estimate_follows_the_rate_of_progress() -> None:
    start = timezone.now()
    job = Job(status=Job.Status.RUNNING, progress=0.25, started_at=start)
    assert job.eta_seconds(now=start + timedelta(seconds=60)) == 180.0  # a quarter in a minute: three to go
    job.progress = 0.5
    assert job.eta_seconds(now=start + timedelta(seconds=60)) == 60.0
    job.progress = 0.01  # setup (reading data, loading a model) says little about the rate
    assert job.eta_seconds(now=start + timedelta(seconds=60)) is None
    for status in (Job.Status.QUEUED, Job.Status.SUCCEEDED, Job.Status.FAILED):
        assert Job(status=status, progress=0.5, started_at=start).eta_seconds(now=start + timedelta(60)) is None
    assert Job(status=Job.Status.RUNNING, progress=0.5).eta_seconds() is None  # never started


def test_words_for_the_page() -> None:
    assert eta_words(None) == ""
    assert eta_words(20) == "less than a minute left"
    assert eta_words(185) == "about 3 min left"
    assert eta_words(4 * 3600) == "about 4.0 h left"


def test_the_job_api_and_page_show_the_time_left(api_as: Any, client: Any, personas: dict[str, Any]) -> None:
    api = api_as("steward")
    client.force_login(personas["steward"])
    job = _running(0.5, 10, actor=personas["steward"])  # half done in ten minutes (a slow test machine adds some)
    assert api.get(f"/api/v1/jobs/{job.pk}/").json()["eta_seconds"] == pytest.approx(600, abs=60)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert re.search(r'<span class="job-eta meta">about 1[01] min left</span>', page)
    listing = client.get("/jobs/").content.decode()  # every job row shows it too (steward.js keeps it live)
    assert re.search(r'<span class="job-eta meta">about 1[01] min left</span>', listing)

    job.status = Job.Status.SUCCEEDED
    job.save()
    assert api_as("steward").get(f"/api/v1/jobs/{job.pk}/").json()["eta_seconds"] is None

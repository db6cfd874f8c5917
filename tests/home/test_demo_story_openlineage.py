"""The demo story's jobs send OpenLineage events to a local HTTP receiver: every transform, the masking and the
training of the story, each START then COMPLETE, and the datasets chain from the raw uploads to the model version
(each step's output is the next step's input, by name)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from core.models import Job
from home import story
from home.services import demo_story_start
from tests.factories import OpenLineageReceiver, assert_openlineage_event
from tests.home.test_demo_story import _register, admin  # noqa: F401 (admin is a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_story_sends_lineage_from_the_raw_uploads_to_the_model_version(
    admin: User,  # noqa: F811
    tmp_path: Path,
    settings: Any,
) -> None:
    from serving.loader import reset_cache

    raw = _register(admin, tmp_path)
    receiver = OpenLineageReceiver()
    settings.OPENLINEAGE_URL = receiver.url
    try:
        job, _ = demo_story_start(actor=admin)
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        reset_cache()
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error

    children = Job.objects.filter(kind__in=settings.STEWARD_OPENLINEAGE_KINDS)
    assert {"transform", "pii_mask", "training"} <= set(children.values_list("kind", flat=True))
    for child in children:
        events = receiver.of(child)
        assert [e["eventType"] for e in events] == ["START", "COMPLETE"], (child.kind, child.status)
        for event in events:
            assert_openlineage_event(event)
    names = {e["job"]["name"] for e in receiver.events}
    assert {"transform.join", "transform.label", "pii_mask", "transform.split", f"training.{story.MODEL}"} <= names

    # Walk back from the model version through the events' inputs and outputs to the raw uploads.
    produced_by = {}
    for event in receiver.events:
        if event["eventType"] == "COMPLETE":
            for out in event["outputs"]:
                produced_by[out["name"]] = [i["name"] for i in event["inputs"]]
    reached, todo = set(), [f"models/{story.MODEL}:1"]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo += produced_by.get(name, [])
    for key in ("users", "items", "interactions"):
        assert f"{raw[key].dataset.name}:{raw[key].number}" in reached

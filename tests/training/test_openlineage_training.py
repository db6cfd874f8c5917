"""A training job's OpenLineage events: the dataset version it read as input, the model version it registered as
output (`models/<model>:<version>`), its parameters, received by a local HTTP endpoint."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.models import Job
from tests.factories import OpenLineageReceiver, assert_openlineage_event

pytestmark = pytest.mark.django_db


def test_a_training_job_sends_start_and_complete_from_its_data_to_its_model_version(
    settings: Any, trainable: Any, payload: dict[str, Any], start_training: Any
) -> None:
    receiver = OpenLineageReceiver()
    settings.OPENLINEAGE_URL = receiver.url
    try:
        assert start_training(payload).status_code == 202
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    job = Job.objects.get(kind="training")
    assert job.status == Job.Status.SUCCEEDED, job.error
    events = receiver.of(job)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    for event in events:
        assert_openlineage_event(event)
        assert event["job"]["name"] == "training.ctr"
        assert [d["name"] for d in event["inputs"]] == [f"clicks:{trainable.number}"]
    complete = events[1]
    assert [d["name"] for d in complete["outputs"]] == ["models/ctr:1"]
    params = {p["key"]: p["value"] for p in complete["run"]["facets"]["executionParameters"]["parameters"]}
    assert params["model_name"] == "ctr" and json.loads(params["dataset_versions"]) == {"source": trainable.pk}
    schema = {f["name"] for f in complete["inputs"][0]["facets"]["schema"]["fields"]}
    assert {"user_id", "item_id", "label", "title", "price"} <= schema

"""A labeling export's OpenLineage events: the project's dataset version in, the labeled version out."""

from __future__ import annotations

from typing import Any

import pytest

from core.models import Job
from governance.catalog.models import DatasetVersion
from governance.labeling.models import Task
from governance.labeling.services import annotation_submit, task_next
from tests.factories import OpenLineageReceiver, add_tasks, assert_openlineage_event, search_csv

pytestmark = pytest.mark.django_db


def test_an_export_sends_start_and_complete_from_the_project_version_to_the_labeled_one(
    settings: Any,
    scan_upload: Any,
    make_project: Any,
    annotators: Any,
    steward_api: Any,
    run_tasks_eagerly: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    version = scan_upload(search_csv(12), name="search.csv", dataset="search-log")
    project = make_project(
        version, name="rel", template="relevance", labels=None, overlap=1, display_columns=["query", "title"]
    )
    add_tasks(project)
    while (served := task_next(project=project, annotator=annotators[0])) is not None:
        task = Task.objects.select_related("project").get(pk=served["id"])
        annotation_submit(task=task, annotator=annotators[0], label="relevant")

    receiver = OpenLineageReceiver()
    settings.OPENLINEAGE_URL = receiver.url
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = steward_api.post(f"/api/v1/labeling/projects/{project.pk}/export/", {}, format="json")
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.SUCCEEDED, job.error
    exported = DatasetVersion.objects.select_related("dataset").get(pk=job.result["dataset_version"])
    events = receiver.of(job)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    for event in events:
        assert_openlineage_event(event)
        assert event["job"]["name"] == "labeling_export"
        assert [d["name"] for d in event["inputs"]] == [f"search-log:{version.number}"]
    assert [d["name"] for d in events[1]["outputs"]] == [f"{exported.dataset.name}:{exported.number}"]
    assert "label" in {f["name"] for f in events[1]["outputs"][0]["facets"]["schema"]["fields"]}

"""next / annotations / skip / undo / progress through the API: leases, overlap, bad input, masking at read time."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from governance.labeling.models import Annotation, Assignment, Task
from tests.factories import add_tasks, items_csv

pytestmark = pytest.mark.django_db

PEOPLE = "item_id,title,contact\n" + "".join(f"{i},Mug {i},maria{i}@example.com\n" for i in range(1, 31))


@pytest.fixture
def version(scan_upload):
    return scan_upload(items_csv(12), name="items.csv", dataset="items")


def _next(client, project):
    return client.get(f"/api/v1/labeling/projects/{project.pk}/next/")


def _submit(client, task_id, label):
    return client.post(f"/api/v1/labeling/tasks/{task_id}/annotations/", {"label": label}, format="json")


def test_next_serves_the_row_from_the_version_and_leases_it(version, make_project, annotators, client_for):
    project = make_project(version, display_columns=["title", "category"])
    add_tasks(project, [3])
    response = _next(client_for(annotators[0]), project)
    assert response.status_code == 200
    body = response.json()
    assert body["row"] == 3 and body["data"] == {"title": "Kitchora Coffee Maker ", "category": "Home & Kitchen"}
    assert body["labels"][0]["name"] == "Electronics" and body["template"] == "category"
    lease = Assignment.objects.get(task_id=body["id"])
    assert lease.status == "leased" and lease.expires_at > timezone.now()
    # Asking again returns the same lease instead of taking a second slot.
    assert _next(client_for(annotators[0]), project).json()["id"] == body["id"]
    assert Task.objects.get(pk=body["id"]).slots_taken == 1


def test_each_task_goes_to_overlap_different_annotators_then_none_is_left(
    version, make_project, annotators, client_for
):
    project = make_project(version, overlap=2)
    add_tasks(project, [0])
    first, second, third = (client_for(a) for a in annotators[:3])
    task = _next(first, project).json()["id"]
    assert _next(second, project).json()["id"] == task
    assert _next(third, project).status_code == 204  # both slots leased: the last slot is not handed out twice
    assert _submit(first, task, "Electronics").status_code == 201
    assert _next(first, project).status_code == 204  # never the same task twice
    assert _submit(second, task, "Electronics").status_code == 201
    done = Task.objects.get(pk=task)
    assert (done.status, done.final_label, done.final_source, done.agreement) == (
        "done",
        "Electronics",
        "majority",
        1.0,
    )


def test_a_label_outside_the_set_is_refused_and_nothing_is_stored(version, make_project, annotators, client_for):
    project = make_project(version)
    add_tasks(project, [0])
    client = client_for(annotators[0])
    task = _next(client, project).json()["id"]
    for bad in ("Toys", ["Electronics"], 3, None):
        response = _submit(client, task, bad)
        assert response.status_code == 400, bad
        assert "label" in response.json()["detail"].lower()
    assert not Annotation.objects.exists()


def test_a_task_submitted_by_someone_not_assigned_is_refused_with_403(version, make_project, annotators, client_for):
    project = make_project(version)
    add_tasks(project, [0])
    task = _next(client_for(annotators[0]), project).json()["id"]
    response = _submit(client_for(annotators[1]), task, "Electronics")
    assert response.status_code == 403
    assert "not assigned" in response.json()["detail"]
    assert not Annotation.objects.exists()


def test_a_second_submission_of_the_same_task_is_a_409(version, make_project, annotators, client_for):
    project = make_project(version)
    add_tasks(project, [0])
    client = client_for(annotators[0])
    task = _next(client, project).json()["id"]
    assert _submit(client, task, "Electronics").status_code == 201
    again = _submit(client, task, "Books")
    assert again.status_code == 409 and "already submitted" in again.json()["detail"]
    assert list(Annotation.objects.values_list("label", flat=True)) == ["Electronics"]
    assert Task.objects.get(pk=task).annotation_count == 1


def test_an_expired_lease_is_refused_and_its_slot_goes_to_someone_else(version, make_project, annotators, client_for):
    project = make_project(version, overlap=1)
    add_tasks(project, [0])
    slow, other = client_for(annotators[0]), client_for(annotators[1])
    task = _next(slow, project).json()["id"]
    Assignment.objects.filter(task_id=task).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = _submit(slow, task, "Electronics")
    assert response.status_code == 409 and "expired" in response.json()["detail"]
    assert _next(other, project).json()["id"] == task  # the slot was given back
    assert _submit(other, task, "Books").status_code == 201
    assert Task.objects.get(pk=task).slots_taken == 1


def test_skip_gives_the_slot_back_and_the_task_never_returns_to_that_annotator(
    version, make_project, annotators, client_for
):
    project = make_project(version, overlap=1)
    add_tasks(project, [0, 1])
    client = client_for(annotators[0])
    first = _next(client, project).json()["id"]
    assert client.post(f"/api/v1/labeling/tasks/{first}/skip/").status_code == 204
    second = _next(client, project).json()["id"]
    assert second != first
    assert Task.objects.get(pk=first).slots_taken == 0
    assert _next(client_for(annotators[1]), project).json()["id"] == first


def test_undo_takes_back_ones_own_last_label_and_serves_the_task_again(version, make_project, annotators, client_for):
    project = make_project(version, overlap=1)
    add_tasks(project, [0, 1])
    client = client_for(annotators[0])
    first = _next(client, project).json()["id"]
    assert _submit(client, first, "Books").status_code == 201
    assert Task.objects.get(pk=first).status == "done"
    second = _next(client, project).json()["id"]
    undone = client.post(f"/api/v1/labeling/projects/{project.pk}/undo/")
    assert undone.status_code == 200
    assert undone.json()["id"] == first and undone.json()["label"] == "Books"
    task = Task.objects.get(pk=first)
    assert (task.status, task.final_label, task.annotation_count) == ("open", None, 0)
    assert Task.objects.get(pk=second).slots_taken == 0  # the task shown meanwhile went back to the pool
    assert _submit(client, first, "Electronics").status_code == 201
    assert Task.objects.get(pk=first).final_label == "Electronics"
    # Someone else's label is never undone by me; with nothing of mine left, undo is a 409.
    other = client_for(annotators[1])
    assert other.post(f"/api/v1/labeling/projects/{project.pk}/undo/").status_code == 409


def test_undo_is_refused_once_a_reviewer_decided(version, make_project, annotators, client_for, steward_api):
    project = make_project(version, overlap=2)
    add_tasks(project, [0])
    a, b = client_for(annotators[0]), client_for(annotators[1])
    task = _next(a, project).json()["id"]
    _next(b, project)
    _submit(a, task, "Books")
    _submit(b, task, "Electronics")
    review = steward_api.post(f"/api/v1/labeling/tasks/{task}/review/", {"label": "Books"}, format="json")
    assert review.status_code == 200
    response = a.post(f"/api/v1/labeling/projects/{project.pk}/undo/")
    assert response.status_code == 409 and "reviewed" in response.json()["detail"]


def test_pii_columns_come_back_masked_for_annotators_and_raw_for_stewards(
    scan_upload, make_project, annotators, client_for, steward
):
    version = scan_upload(PEOPLE, name="people.csv", dataset="people")
    assert "contact" in version.pii_findings.values_list("column", flat=True)
    project = make_project(version, display_columns=["title", "contact"], overlap=2)
    add_tasks(project, [4])
    body = _next(client_for(annotators[0]), project).json()
    assert body["data"] == {"title": "Mug 5", "contact": "***"}
    assert body["masked_columns"] == ["contact"]
    assert _next(client_for(steward), project).json()["data"]["contact"] == "maria5@example.com"
    # Row positions are stored, never values: nothing of the e-mail address is in the labeling tables.
    assert "maria5" not in str(list(Task.objects.values())) + str(list(Assignment.objects.values()))


def test_progress_shows_own_count_and_accuracy_on_gold(version, make_project, annotators, client_for, steward_api):
    project = make_project(version, overlap=1, gold_rate=0.5)
    add_tasks(project, [0, 1, 2])
    gold = steward_api.post(
        f"/api/v1/labeling/projects/{project.pk}/gold/",
        {"tasks": [{"row": 8, "label": "Sports & Outdoors"}, {"row": 6, "label": "Books"}]},
        format="json",
    )
    assert gold.status_code == 201
    client = client_for(annotators[0])
    served = []
    while (response := _next(client, project)).status_code == 200:
        body = response.json()
        served.append(body["row"])
        # The annotator gets gold rows right once and wrong once.
        label = {8: "Sports & Outdoors", 6: "Electronics"}.get(body["row"], "Electronics")
        assert _submit(client, body["id"], label).status_code == 201
    assert sorted(served) == [0, 1, 2, 6, 8]
    assert served[0] == 8 or served[1] == 8  # gold is mixed in at the rate, not left to the end
    progress = client.get(f"/api/v1/labeling/projects/{project.pk}/progress/").json()
    assert progress["annotated"] == 3 and progress["remaining_for_you"] == 0
    assert progress["gold"] == {"answered": 2, "correct": 1, "accuracy": 0.5}


def test_gold_rows_must_be_rows_of_the_version_with_labels_of_the_set(version, make_project, steward_api):
    project = make_project(version)
    url = f"/api/v1/labeling/projects/{project.pk}/gold/"
    assert steward_api.post(url, {"tasks": [{"row": 99, "label": "Books"}]}, format="json").status_code == 400
    assert steward_api.post(url, {"tasks": [{"row": 1, "label": "Toys"}]}, format="json").status_code == 400
    assert not Task.objects.exists()

"""Review: tasks whose annotators disagree (or fall under the project's agreement threshold) wait for a reviewer;
the final label is the majority or the reviewer's decision, and the task records who decided and how."""

from __future__ import annotations

import pytest

from core.models import AuditEvent
from governance.labeling.models import Project, Task
from governance.labeling.services import annotation_submit, task_next
from tests.factories import add_tasks, items_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(upload):
    return upload(items_csv(4), name="items.csv", dataset="items")


def _label(project, users, labels_by_user):
    for user, label in zip(users, labels_by_user, strict=True):
        served = task_next(project=project, annotator=user)
        annotation_submit(task=Task.objects.select_related("project").get(pk=served["id"]), annotator=user, label=label)


def test_a_split_vote_goes_to_review_and_a_reviewer_decides(version, make_project, annotators, steward_api, steward):
    project = make_project(version, overlap=2)
    add_tasks(project, [0])
    _label(project, annotators[:2], ["Books", "Electronics"])
    task = Task.objects.get()
    assert task.status == "review" and task.final_label is None
    queue = steward_api.get(f"/api/v1/labeling/projects/{project.pk}/review/").json()
    assert [t["id"] for t in queue["results"]] == [task.pk]

    response = steward_api.post(
        f"/api/v1/labeling/tasks/{task.pk}/review/", {"label": "Electronics", "note": "headphones"}, format="json"
    )
    assert response.status_code == 200
    task.refresh_from_db()
    assert (task.status, task.final_label, task.final_source, task.decided_by) == (
        "done",
        "Electronics",
        "reviewer",
        steward,
    )
    assert task.agreement == 0.5 and task.review_note == "headphones"
    assert AuditEvent.objects.filter(action="labeling.task.review", object_id=str(task.pk)).exists()
    assert Project.objects.get().status == "completed"


def test_a_majority_over_the_threshold_decides_alone_and_one_under_it_goes_to_review(version, make_project, annotators):
    project = make_project(version, overlap=3, review_threshold=0.6)
    add_tasks(project, [0, 1])
    _label(project, annotators[:3], ["Books", "Books", "Electronics"])  # 2/3 >= 0.6: majority decides
    _label(project, annotators[:3], ["Books", "Books", "Books"])
    assert list(Task.objects.order_by("row").values_list("status", "final_label", "final_source")) == [
        ("done", "Books", "majority"),
        ("done", "Books", "majority"),
    ]
    strict = make_project(version, overlap=3)  # default threshold 1.0: any disagreement is reviewed
    add_tasks(strict, [0])
    _label(strict, annotators[:3], ["Books", "Books", "Electronics"])
    assert Task.objects.get(project=strict).status == "review"


def test_tags_take_each_tag_by_majority(version, make_project, annotators):
    project = make_project(version, template="tags", labels=["gift", "sale", "new"], overlap=3, review_threshold=0.6)
    add_tasks(project, [0])
    _label(project, annotators[:3], [["gift", "new"], ["gift"], ["new", "gift"]])
    task = Task.objects.get()
    assert (task.status, task.final_label) == ("done", ["gift", "new"])
    assert task.agreement == pytest.approx(2 / 3)  # two of the three sets equal the final one


def test_a_reviewer_label_outside_the_set_or_an_open_task_is_refused(version, make_project, annotators, steward_api):
    project = make_project(version, overlap=2)
    add_tasks(project, [0, 1])
    _label(project, annotators[:2], ["Books", "Electronics"])
    open_task, split = Task.objects.order_by("status")  # "open" < "review"
    assert (
        steward_api.post(f"/api/v1/labeling/tasks/{split.pk}/review/", {"label": "Toys"}, format="json").status_code
        == 400
    )
    response = steward_api.post(f"/api/v1/labeling/tasks/{open_task.pk}/review/", {"label": "Books"}, format="json")
    assert response.status_code == 409 and "waits for annotations" in response.json()["detail"]
    assert Task.objects.get(pk=split.pk).final_label is None

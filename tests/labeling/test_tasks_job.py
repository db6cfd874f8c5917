"""POST /api/v1/labeling/projects/{id}/tasks/: a job that samples rows (random, stratified, uncertainty) and
pre-labels them (base model embeddings, or a registered model version through the hook)."""

from __future__ import annotations

from collections import Counter

import pytest

from core.models import Job
from governance.labeling import hooks
from governance.labeling.models import Annotation, Task
from tests.factories import CATEGORIES, ITEMS, items_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(scan_upload):
    return scan_upload(items_csv(12), name="items.csv", dataset="items")


@pytest.fixture
def start(steward_api, run_api_job):
    def do(project, body):
        return run_api_job(
            lambda: steward_api.post(f"/api/v1/labeling/projects/{project.pk}/tasks/", body, format="json")
        )

    return do


@pytest.fixture
def fake_model(monkeypatch):
    """A registered model version whose p(relevant) is the row's price / 100 (so the 50.99 row is most uncertain)."""
    monkeypatch.setitem(hooks._scorer, "describe", lambda pk: "fake v1" if pk == 7 else None)

    def score(pk, table):
        return [[1 - p / 100, p / 100] for p in table.column("price").to_pylist()]

    monkeypatch.setitem(hooks._scorer, "score_rows", score)


def test_random_tasks_name_distinct_rows_and_a_second_job_adds_only_new_ones(make_project, version, start):
    project = make_project(version, text_columns=None, template="relevance", labels=None)
    first = start(project, {"strategy": "random", "count": 5, "seed": 1})
    assert first.result == {"project": project.pk, "created": 5, "strategy": "random"}
    second = start(project, {"strategy": "random", "count": 10, "seed": 1})
    assert second.result["created"] == 7  # only 7 rows were left
    rows = list(Task.objects.filter(project=project).values_list("row", flat=True))
    assert sorted(rows) == list(range(12))


def test_stratified_tasks_give_each_value_of_the_column_an_equal_share(make_project, version, start):
    project = make_project(version)
    start(project, {"strategy": "stratified", "count": 8, "column": "category"})
    categories = {i: c for i, (_, c) in enumerate(ITEMS)}
    shares = Counter(categories[t.row] for t in Task.objects.filter(project=project))
    assert shares == dict.fromkeys(CATEGORIES, 2)


def test_category_tasks_carry_a_base_model_pre_label_shown_preselected_and_counted_as_accepted(
    make_project, version, start, annotators, client_for
):
    project = make_project(version, overlap=1)
    start(project, {"strategy": "random", "count": 12})
    task = Task.objects.get(project=project, row=0)  # "Voltix Wireless Headphones"
    assert task.suggestion["source"] == "base_model"
    assert task.suggestion["label"] == "Electronics"
    assert set(task.suggestion["scores"]) == set(CATEGORIES)
    assert abs(sum(task.suggestion["scores"].values()) - 1) < 1e-3
    client = client_for(annotators[0])
    body = client.get(f"/api/v1/labeling/projects/{project.pk}/next/").json()
    assert body["suggestion"] == Task.objects.get(pk=body["id"]).suggestion["label"]
    client.post(f"/api/v1/labeling/tasks/{body['id']}/annotations/", {"label": body["suggestion"]}, format="json")
    annotation = Annotation.objects.get()
    assert annotation.accepted_suggestion and annotation.suggested == body["suggestion"]


def test_tags_pre_labels_are_lists(make_project, version, start):
    project = make_project(version, template="tags", labels=["audio", "kitchen", "reading", "fitness"])
    start(project, {"strategy": "random", "count": 4, "seed": 3})
    for task in Task.objects.filter(project=project):
        assert isinstance(task.suggestion["label"], list) and task.suggestion["label"]


def test_uncertainty_tasks_score_rows_with_the_model_and_serve_the_most_uncertain_first(
    make_project, version, start, fake_model, annotators, client_for
):
    project = make_project(version, template="relevance", labels=None, model_version=7, overlap=1)
    job = start(project, {"strategy": "uncertainty", "count": 3, "measure": "margin"})
    assert job.params["model_version"] == 7
    tasks = list(Task.objects.filter(project=project).order_by("-priority"))
    # prices 10.99 .. 21.99: the closest to 50 % are the dearest ones.
    assert [t.row for t in tasks] == [11, 10, 9]
    assert tasks[0].priority > tasks[1].priority > tasks[2].priority
    assert tasks[0].suggestion["source"] == "model_version:7"
    assert tasks[0].suggestion["label"] == "not_relevant"
    served = client_for(annotators[0]).get(f"/api/v1/labeling/projects/{project.pk}/next/").json()
    assert served["row"] == 11


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"strategy": "stratified", "count": 3}, "column"),
        ({"strategy": "stratified", "count": 3, "column": "colour"}, "column"),
        ({"strategy": "uncertainty", "count": 3}, "model version"),
        ({"strategy": "uncertainty", "count": 3, "model_version": 12345}, "does not exist"),
        ({"strategy": "random", "count": 0}, "count"),
        ({"strategy": "everything", "count": 3}, "strategy"),
    ],
)
def test_bad_task_requests_are_a_400_and_start_no_job(make_project, version, steward_api, body, words):
    project = make_project(version)
    response = steward_api.post(f"/api/v1/labeling/projects/{project.pk}/tasks/", body, format="json")
    assert response.status_code == 400
    assert words in response.json()["detail"]
    assert not Job.objects.filter(kind="labeling_tasks").exists()

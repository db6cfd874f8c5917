"""Server-rendered labeling pages: the project page (tasks, export, webhook secret shown once), quality figures with
the confusion-matrix picture, the review queue, the annotator page."""

from __future__ import annotations

import pytest
from django.test import Client

from core.charts import heatmap_chart
from governance.labeling.models import Task
from governance.labeling.services import annotation_submit, task_next
from tests.factories import add_tasks, items_csv

pytestmark = pytest.mark.django_db


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def project(upload, make_project, annotators):
    version = upload(items_csv(4), name="items.csv", dataset="items")
    project = make_project(version, name="cats", overlap=2, labels=["Books", "<b>Toys</b>", "Electronics"])
    add_tasks(project, [0, 1])
    for user, labels in zip(annotators[:2], (["Books", "Books"], ["<b>Toys</b>", "Books"]), strict=True):
        for label in labels:
            served = task_next(project=project, annotator=user)
            annotation_submit(
                task=Task.objects.select_related("project").get(pk=served["id"]), annotator=user, label=label
            )
    return project


def test_the_confusion_heatmap_escapes_labels_and_writes_every_count():
    svg = str(heatmap_chart(["a<script>", "b"], [[3, 1], [0, 2]], title="t", row_title="r", column_title="c"))
    assert svg.startswith("<svg") and "<script>" not in svg and "a&lt;script&gt;" in svg
    assert svg.count("<rect") == 4 and ">3<title>" in svg and ">2<title>" in svg


def test_quality_page_shows_agreement_the_matrix_and_annotators(project, steward):
    html = _login(steward).get(f"/labeling/projects/{project.pk}/quality/").content.decode()
    assert 'aria-label="confusion matrix"' in html and "Fleiss" in html and "Krippendorff" in html
    assert "ann0|ann1" in html and "ann1" in html
    assert "<b>Toys</b>" not in html and "&lt;b&gt;Toys&lt;/b&gt;" in html


def test_review_page_lists_the_conflict_and_a_steward_decides_it(project, steward):
    client = _login(steward)
    conflict = Task.objects.get(project=project, status="review")
    html = client.get(f"/labeling/projects/{project.pk}/review/").content.decode()
    assert f'data-task="{conflict.pk}"' in html and "ann1: <strong>&lt;b&gt;Toys&lt;/b&gt;</strong>" in html
    client.post(f"/labeling/tasks/{conflict.pk}/review/", {"label": "Books", "note": "a book"})
    conflict.refresh_from_db()
    assert (conflict.final_label, conflict.final_source, conflict.decided_by) == ("Books", "reviewer", steward)


def test_project_page_shows_the_webhook_secret_once(project, steward):
    client = _login(steward)
    page = client.get(f"/labeling/projects/{project.pk}/").content.decode()
    assert "2 tasks: 0 open, 1 in review, 1 done" in page
    client.post(f"/labeling/projects/{project.pk}/", {"action": "webhook", "url": "http://93.184.216.34/hook"})
    first = client.get(f"/labeling/projects/{project.pk}/").content.decode()
    secret = project.webhook.secret
    assert secret in first
    assert secret not in client.get(f"/labeling/projects/{project.pk}/").content.decode()


def test_annotator_page_loads_the_keyboard_script_and_annotators_cannot_manage(project, annotators):
    client = _login(annotators[0])
    html = client.get(f"/labeling/projects/{project.pk}/annotate/").content.decode()
    assert "labeling/annotate.js" in html and 'data-project="' in html and "csrfmiddlewaretoken" in html
    assert client.get(f"/labeling/projects/{project.pk}/").status_code == 403
    assert client.get("/labeling/").status_code == 200
    assert client.get("/datasets/").status_code == 403  # annotators reach only labeling


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_a_steward_adds_a_gold_task_and_sets_the_gold_rate_from_the_project_page(project, steward):
    client = _login(steward)
    html = client.get(f"/labeling/projects/{project.pk}/").content.decode()
    assert 'id="gold-form"' in html and 'name="row"' in html and '<option value="Electronics">' in html
    client.post(f"/labeling/projects/{project.pk}/", {"action": "gold", "row": 2, "label": "Electronics"})
    client.post(f"/labeling/projects/{project.pk}/", {"action": "gold_rate", "gold_rate": "0.4"})
    gold = Task.objects.get(project=project, kind="gold")
    assert (gold.row, gold.gold_label, gold.strategy) == (2, "Electronics", "gold")
    project.refresh_from_db()
    assert project.gold_rate == 0.4
    html = client.get(f"/labeling/projects/{project.pk}/").content.decode()
    assert f"<tr><td>{gold.pk}</td><td>2</td><td>Electronics</td><td>0</td><td>0</td></tr>" in html
    assert "No gold task answered yet." in html


@pytest.mark.parametrize(
    ("post", "message"),
    [
        ({"row": 2, "label": "Garden"}, "Select a valid choice"),
        ({"row": 99, "label": "Books"}, "less than or equal to 3"),
        ({"row": 0, "label": "Books"}, "already have a task"),
        ({"row": "", "label": "Books"}, "row: This field is required"),
    ],
)
def test_a_bad_gold_task_is_refused_with_a_message_and_nothing_is_written(project, steward, post, message):
    client = _login(steward)
    response = client.post(f"/labeling/projects/{project.pk}/", {"action": "gold", **post}, follow=True)
    assert any(message in m for m in _messages(response)), _messages(response)
    assert not Task.objects.filter(project=project, kind="gold").exists()


def test_the_project_page_shows_each_annotators_accuracy_on_gold(project, steward, annotators):
    client = _login(steward)
    client.post(f"/labeling/projects/{project.pk}/", {"action": "gold", "row": 2, "label": "Books"})
    client.post(f"/labeling/projects/{project.pk}/", {"action": "gold_rate", "gold_rate": "0.4"})
    project.refresh_from_db()
    # Each of the two has 2 annotations: with rate 0.4 their third task is gold.
    for user, label in ((annotators[0], "Books"), (annotators[1], "Electronics")):
        served = task_next(project=project, annotator=user)
        task = Task.objects.select_related("project").get(pk=served["id"])
        assert task.kind == "gold"
        annotation_submit(task=task, annotator=user, label=label)
    html = client.get(f"/labeling/projects/{project.pk}/").content.decode()
    assert "<tr><td>ann0</td><td>1</td><td>1</td><td>1.000</td></tr>" in html
    assert "<tr><td>ann1</td><td>1</td><td>0</td><td>0.000</td></tr>" in html
    assert "<td>2</td><td>Books</td><td>2</td><td>1</td></tr>" in html


def test_gold_tasks_of_a_tags_project_take_several_labels(upload, make_project, steward):
    project = make_project(upload(items_csv(3), name="items.csv"), template="tags", labels=["red", "blue", "green"])
    client = _login(steward)
    assert (
        'type="checkbox" name="label" value="green"' in client.get(f"/labeling/projects/{project.pk}/").content.decode()
    )
    client.post(f"/labeling/projects/{project.pk}/", {"action": "gold", "row": 1, "label": ["green", "red"]})
    assert Task.objects.get(project=project, kind="gold").gold_label == ["red", "green"]


def test_annotators_cannot_add_gold_tasks(project, annotators):
    response = _login(annotators[0]).post(
        f"/labeling/projects/{project.pk}/", {"action": "gold", "row": 2, "label": "Books"}
    )
    assert response.status_code == 403
    assert not Task.objects.filter(project=project, kind="gold").exists()

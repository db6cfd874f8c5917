"""Per-project annotator lists: a project may name who works on it (empty: every annotator); `next` and submit
refuse anyone else with 403; the API and the project page edit the list."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from governance.labeling.models import Annotation, Project
from tests.factories import add_tasks, items_csv

pytestmark = pytest.mark.django_db
URL = "/api/v1/labeling/projects/"


@pytest.fixture
def items(upload):
    return upload(items_csv(4), name="items.csv", dataset="items")


def _next(client, project):
    return client.get(f"{URL}{project.pk}/next/")


def _submit(client, task_id, label="Books"):
    return client.post(f"/api/v1/labeling/tasks/{task_id}/annotations/", {"label": label}, format="json")


def test_a_project_created_with_a_list_serves_only_those_annotators(steward_api, items, annotators, client_for):
    response = steward_api.post(
        URL,
        {
            "name": "listed",
            "dataset_version": items.pk,
            "template": "category",
            "labels": ["Books", "Toys"],
            "display_columns": ["title"],
            "annotators": ["ann1", "ann0", "ann0"],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert sorted(response.json()["annotators"]) == ["ann0", "ann1"]
    project = Project.objects.get(name="listed")
    add_tasks(project, [0, 1])

    refused = _next(client_for(annotators[2]), project)
    assert refused.status_code == 403
    assert "not on the annotator list" in refused.json()["detail"]
    served = _next(client_for(annotators[0]), project)
    assert served.status_code == 200
    assert _submit(client_for(annotators[0]), served.json()["id"]).status_code == 201


def test_a_project_without_a_list_is_open_to_every_annotator(make_project, items, annotators, client_for):
    project = make_project(items)
    add_tasks(project, [0, 1])
    assert list(project.annotators.all()) == []
    for user in annotators:
        assert _next(client_for(user), project).status_code == 200


def test_removing_an_annotator_refuses_their_submit_even_with_a_lease(
    steward_api, make_project, items, annotators, client_for
):
    project = make_project(items, labels=["Books", "Toys"], overlap=2)
    add_tasks(project, [0])
    ann0 = client_for(annotators[0])
    task_id = _next(ann0, project).json()["id"]
    changed = steward_api.patch(f"{URL}{project.pk}/", {"annotators": ["ann1"]}, format="json")
    assert changed.status_code == 200 and changed.json()["annotators"] == ["ann1"]

    refused = _submit(ann0, task_id)
    assert refused.status_code == 403 and "not on the annotator list" in refused.json()["detail"]
    assert not Annotation.objects.exists()
    assert _next(client_for(annotators[1]), project).status_code == 200

    # An empty list opens it to everyone again.
    assert steward_api.patch(f"{URL}{project.pk}/", {"annotators": []}, format="json").json()["annotators"] == []
    assert _submit(ann0, task_id).status_code == 201


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["ann0", "nobody"], "No user named 'nobody'"),
        (["viewer-user"], "'viewer-user' may not annotate"),
    ],
)
def test_a_list_naming_an_unknown_user_or_a_non_annotator_is_refused(
    steward_api, make_project, items, annotators, personas, names, message
):
    project = make_project(items)
    project.annotators.set([annotators[1]])
    response = steward_api.patch(f"{URL}{project.pk}/", {"annotators": names}, format="json")
    assert response.status_code == 400 and message in response.json()["detail"]
    assert list(project.annotators.values_list("username", flat=True)) == ["ann1"]  # nothing half-written
    created = steward_api.post(
        URL,
        {
            "name": "bad",
            "dataset_version": items.pk,
            "template": "category",
            "labels": ["a", "b"],
            "display_columns": ["title"],
            "annotators": names,
        },
        format="json",
    )
    assert created.status_code == 400 and not Project.objects.filter(name="bad").exists()


def test_only_stewards_change_the_list(make_project, items, annotators, client_for):
    project = make_project(items)
    response = client_for(annotators[0]).patch(f"{URL}{project.pk}/", {"annotators": ["ann0"]}, format="json")
    assert response.status_code == 403
    assert not project.annotators.exists()


def test_the_project_page_edits_the_list(make_project, items, annotators, steward, personas, client_for):
    project = make_project(items)
    add_tasks(project, [0, 1])
    client = Client()
    client.force_login(steward)
    html = client.get(f"/labeling/projects/{project.pk}/").content.decode()
    assert "Every annotator may work on this project." in html
    assert 'name="annotators" value="ann2"' in html and 'value="viewer-user"' not in html

    client.post(f"/labeling/projects/{project.pk}/", {"action": "annotators", "annotators": ["ann0", "ann2"]})
    assert sorted(project.annotators.values_list("username", flat=True)) == ["ann0", "ann2"]
    html = client.get(f"/labeling/projects/{project.pk}/").content.decode()
    assert "Only <strong>ann0</strong>, <strong>ann2</strong> may work on this project." in html
    ticked = re.findall(r'<input type="checkbox" name="annotators" value="([^"]+)"[^>]*checked', html)
    assert ticked == ["ann0", "ann2"]
    assert _next(client_for(annotators[1]), project).status_code == 403
    assert _next(client_for(annotators[2]), project).status_code == 200

    response = client.post(
        f"/labeling/projects/{project.pk}/", {"action": "annotators", "annotators": ["viewer-user"]}, follow=True
    )
    assert any("viewer-user" in str(m) for m in response.context["messages"])
    assert sorted(project.annotators.values_list("username", flat=True)) == ["ann0", "ann2"]

    client.post(f"/labeling/projects/{project.pk}/", {"action": "annotators"})
    assert not project.annotators.exists()
    assert _next(client_for(annotators[1]), project).status_code == 200


def test_annotators_only_see_the_projects_they_may_work_on(make_project, items, annotators, steward, client_for):
    open_project = make_project(items, name="open")
    listed = make_project(items, name="listed")
    listed.annotators.set([annotators[0]])

    def names(user):
        return sorted(p["name"] for p in client_for(user).get(URL).json()["results"])

    assert names(annotators[0]) == ["listed", "open"]
    assert names(annotators[1]) == ["open"]
    assert names(steward) == ["listed", "open"]

    client = Client()
    client.force_login(annotators[1])
    html = client.get("/labeling/").content.decode()
    assert f"/labeling/projects/{open_project.pk}/annotate/" in html
    assert "<td>open</td>" in html and "<td>listed</td>" not in html
    assert client.get(f"/labeling/projects/{listed.pk}/annotate/").status_code == 403
    assert client.get(f"/labeling/projects/{open_project.pk}/annotate/").status_code == 200

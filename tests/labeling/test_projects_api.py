"""POST /api/v1/labeling/projects/: templates, defaults, and every kind of bad input (a clear 4xx, nothing stored)."""

from __future__ import annotations

import pytest

from core.errors import ServiceError
from governance.labeling.models import Project
from governance.labeling.services import project_create
from tests.factories import CATEGORIES, items_csv, search_csv

pytestmark = pytest.mark.django_db
URL = "/api/v1/labeling/projects/"


@pytest.fixture
def items(upload):
    return upload(items_csv(), name="items.csv", dataset="items")


def test_a_steward_creates_a_category_project_on_items(steward_api, items):
    response = steward_api.post(
        URL,
        {
            "name": "item categories",
            "dataset_version": items.pk,
            "template": "category",
            "labels": [{"name": c, "description": f"products of {c}"} for c in CATEGORIES],
            "display_columns": ["title", "price"],
            "overlap": 3,
            "gold_rate": 0.1,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["template"] == "category" and body["overlap"] == 3 and body["dataset_version"] == items.pk
    assert [label["name"] for label in body["labels"]] == CATEGORIES
    assert body["text_columns"] == ["title"]  # the string display columns feed the base model's pre-labels
    assert body["tasks"]["total"] == 0


def test_relevance_templates_come_with_their_labels(steward_api, upload):
    log = upload(search_csv(), name="search.csv", dataset="search")
    for template, names in (
        ("relevance", ["not_relevant", "relevant"]),
        ("graded_relevance", ["irrelevant", "marginal", "relevant", "perfect"]),
    ):
        response = steward_api.post(
            URL,
            {"name": template, "dataset_version": log.pk, "template": template, "display_columns": ["query", "title"]},
            format="json",
        )
        assert response.status_code == 201, response.json()
        assert [label["name"] for label in response.json()["labels"]] == names


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"display_columns": ["title", "colour"]}, 400, "'colour' do not exist"),
        ({"display_columns": []}, 400, "display_columns"),
        ({"template": "bounding_boxes"}, 400, "template"),
        ({"labels": ["Books", "Books"]}, 400, "unique"),
        ({"labels": ["Books"]}, 400, "2 to 20"),
        ({"labels": None, "template": "category"}, 400, "labels"),
        ({"overlap": 0}, 400, "overlap"),
        ({"overlap": 11}, 400, "overlap"),
        ({"dataset_version": 99999}, 400, "dataset_version"),
        ({"model_version": 99999}, 400, "Model version 99999 does not exist"),
        ({"template": "relevance", "labels": ["a", "b", "c"]}, 400, "exactly 2"),
        ({"gold_rate": 0.9}, 400, "gold_rate"),
    ],
)
def test_bad_project_input_is_a_clear_4xx_and_stores_nothing(steward_api, items, change, status, words):
    body = {
        "name": "p",
        "dataset_version": items.pk,
        "template": "category",
        "labels": CATEGORIES,
        "display_columns": ["title"],
    } | change
    response = steward_api.post(URL, body, format="json")
    assert response.status_code == status, response.json()
    assert words in response.json()["detail"]
    assert not Project.objects.exists()


def test_a_second_project_with_the_same_name_is_a_409(steward_api, items):
    body = {"name": "p", "dataset_version": items.pk, "template": "category", "labels": CATEGORIES}
    body["display_columns"] = ["title"]
    assert steward_api.post(URL, body, format="json").status_code == 201
    again = steward_api.post(URL, body, format="json")
    assert again.status_code == 409 and "already exists" in again.json()["detail"]


def test_annotators_list_projects_but_may_not_create_them(api_as, items):
    body = {"name": "p", "dataset_version": items.pk, "template": "category", "labels": CATEGORIES}
    body["display_columns"] = ["title"]
    assert api_as("annotator").post(URL, body, format="json").status_code == 403
    assert api_as("annotator").get(URL).status_code == 200
    assert api_as("viewer").get(URL).status_code == 403


def test_a_project_on_a_version_the_creator_may_not_read_is_refused(personas, items):
    with pytest.raises(ServiceError) as refused:
        project_create(
            actor=personas["annotator"],
            name="p",
            dataset_version=items,
            template="category",
            labels=CATEGORIES,
            display_columns=["title"],
        )
    assert refused.value.status_code == 403 and "may not read" in refused.value.message
    assert not Project.objects.exists()


def test_the_openapi_schema_documents_the_labeling_contract(steward_api):
    schema = steward_api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    for path, method in [
        ("/api/v1/labeling/projects/", "post"),
        ("/api/v1/labeling/projects/{id}/tasks/", "post"),
        ("/api/v1/labeling/projects/{id}/next/", "get"),
        ("/api/v1/labeling/tasks/{id}/annotations/", "post"),
        ("/api/v1/labeling/projects/{id}/agreement/", "get"),
        ("/api/v1/labeling/projects/{id}/export/", "post"),
    ]:
        assert method in paths[path], path
    assert "204" in paths["/api/v1/labeling/projects/{id}/next/"]["get"]["responses"]

"""A custom recognizer's deny list is a list of the values it hides: only roles with pii.manage read it."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db

SPEC = {"entity_type": "VIP_NAME", "deny_list": ["Zelda Quartermaine", "Orson Blythe"], "patterns": []}


@pytest.fixture
def dataset_id(upload: Any, api_as: Any) -> int:
    version = upload("ref,qty\nX-1,1\n", name="orders.csv", dataset="orders")
    created = api_as("steward").post(
        f"/api/v1/datasets/{version.dataset_id}/pii-recognizers/", {"spec": SPEC}, format="json"
    )
    assert created.status_code == 201
    assert created.json()["spec"]["deny_list"] == SPEC["deny_list"]
    return version.dataset_id


@pytest.mark.parametrize("role", ["viewer", "ml_engineer"])
def test_other_roles_see_the_recognizer_without_its_deny_list(role: str, dataset_id: int, api_as: Any) -> None:
    response = api_as(role).get(f"/api/v1/datasets/{dataset_id}/pii-recognizers/")
    assert response.status_code == 200
    (recognizer,) = response.json()
    assert recognizer["spec"]["entity_type"] == "VIP_NAME"
    assert "deny_list" not in recognizer["spec"]
    assert recognizer["deny_list_count"] == 2
    assert "Zelda" not in response.content.decode() and "Blythe" not in response.content.decode()


def test_a_steward_reads_the_deny_list(dataset_id: int, api_as: Any) -> None:
    (recognizer,) = api_as("steward").get(f"/api/v1/datasets/{dataset_id}/pii-recognizers/").json()
    assert recognizer["spec"]["deny_list"] == SPEC["deny_list"]

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_analyze_returns_one_result_list_per_text(api_as):
    texts = ["Mail me at ann@example.com", "nothing to see"]
    response = api_as("ml_engineer").post("/api/v1/pii/analyze/", {"texts": texts}, format="json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 2 and results[1] == []
    email = results[0][0]
    assert email["entity_type"] == "EMAIL_ADDRESS" and texts[0][email["start"] : email["end"]] == "ann@example.com"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, message",
    [
        ({"texts": ["x"] * 1001}, "at most 1000 texts"),
        ({"texts": ["a" * 10_001]}, "limit is 10000"),
        ({"texts": ["x"], "language": "de"}, "language"),
        ({"texts": ["x"], "entities": ["NOT_A_THING"]}, "unknown entities"),
        ({"texts": "not a list"}, "texts"),
    ],
)
def test_bad_analyze_requests_are_400_with_a_message(api_as, body, message):
    response = api_as("steward").post("/api/v1/pii/analyze/", body, format="json")
    assert response.status_code == 400 and message in response.json()["detail"]


@pytest.mark.django_db
def test_analyze_needs_the_pii_analyze_capability(api_as):
    assert api_as("viewer").post("/api/v1/pii/analyze/", {"texts": ["x"]}, format="json").status_code == 403
    assert api_as(None).post("/api/v1/pii/analyze/", {"texts": ["x"]}, format="json").status_code in (401, 403)

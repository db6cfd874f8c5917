"""GET /api/v1/serving/{model}/latency/: the monitoring page's latency and request series as JSON, per version."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.factories import openapi_schema, record_serving_minute, served_model

pytestmark = pytest.mark.django_db


def test_latency_series_per_version_one_value_per_minute(
    personas: dict[str, Any], api_as: Callable[..., APIClient]
) -> None:
    served_model(personas)
    record_serving_minute("ctr", 2, 3, [4.0] * 9 + [900.0])
    record_serving_minute("ctr", 2, 1, [4.0, 4.0])
    record_serving_minute("ctr", 1, 2, [30.0])
    record_serving_minute("ctr", 1, 120, [30.0])  # outside the default hour
    resp = api_as("viewer").get("/api/v1/serving/ctr/latency/")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["model"] == "ctr" and body["window"] == "1h" and body["aliases"] == {"production": 2}
    times = body["times"]
    assert 60 <= len(times) <= 62 and all(b - a == 60 for a, b in itertools.pairwise(times))
    assert [v["version"] for v in body["versions"]] == [2, 1]
    v2, v1 = body["versions"]
    assert v2["aliases"] == ["production"] and v1["aliases"] == []
    for series in (v2, v1):
        assert len(series["requests"]) == len(series["p50"]) == len(series["p99"]) == len(times)
    assert sum(v2["requests"]) == 12 and sum(v1["requests"]) == 1
    busy = v2["requests"].index(10)
    assert v2["p50"][busy] <= 5 and v2["p99"][busy] > 500  # the one slow request shows in p99 only
    assert v2["p50"][busy - 1] is None  # a quiet minute breaks the line
    assert v1["p50"][v1["requests"].index(1)] > 10


def test_alias_or_version_keeps_one_version(personas: dict[str, Any], api_as: Callable[..., APIClient]) -> None:
    served_model(personas)
    record_serving_minute("ctr", 2, 1, [4.0])
    record_serving_minute("ctr", 1, 1, [30.0])
    client = api_as("ml_engineer")
    production = client.get("/api/v1/serving/ctr/latency/?alias=production&window=15m").json()
    assert [v["version"] for v in production["versions"]] == [2] and production["window"] == "15m"
    assert 15 <= len(production["times"]) <= 17
    assert [v["version"] for v in client.get("/api/v1/serving/ctr/latency/?version=1").json()["versions"]] == [1]


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("?window=2d", 400, "window must be one of 15m, 1h, 6h, 24h"),
        ("?version=two", 400, "version must be a positive integer"),
        ("?alias=production&version=1", 400, "either ?alias= or ?version="),
        ("?alias=staging", 404, "no alias 'staging'"),
        ("?version=7", 404, "no version 7"),
    ],
)
def test_bad_selections_are_refused_with_a_reason(
    personas: dict[str, Any], api_as: Callable[..., APIClient], query: str, status: int, message: str
) -> None:
    served_model(personas)
    resp = api_as("viewer").get(f"/api/v1/serving/ctr/latency/{query}")
    assert resp.status_code == status and message in resp.json()["detail"]


def test_access_follows_the_monitoring_page(personas: dict[str, Any], api_as: Callable[..., APIClient]) -> None:
    served_model(personas)
    assert api_as(None).get("/api/v1/serving/ctr/latency/").status_code == 401
    assert api_as("annotator").get("/api/v1/serving/ctr/latency/").status_code == 403
    assert api_as("viewer").get("/api/v1/serving/nothing/latency/").status_code == 404
    empty = api_as("steward").get("/api/v1/serving/ctr/latency/")
    assert empty.status_code == 200 and empty.json()["versions"] == []


def test_the_latency_endpoint_is_in_the_openapi_schema() -> None:
    operation = openapi_schema().raw_schema["paths"]["/api/v1/serving/{model_name}/latency/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"model_name", "window", "alias", "version"}
    assert "200" in operation["responses"] and "404" in operation["responses"]

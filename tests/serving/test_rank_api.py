from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from serving.loader import get_cache, reset_cache
from tests.factories import SHOP_ITEM_IDS, SHOP_USER, FakeClock, post_rank, shop_interactions, shop_user, table_csv


def test_rank_answers_best_first_with_the_production_version(shop: Any, engineer: APIClient) -> None:
    resp = post_rank(engineer, {"user": SHOP_USER, "candidates": SHOP_ITEM_IDS, "k": 5})
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["model_version"] == {"model": "shop", "version": 1}
    scores = [item["score"] for item in body["items"]]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True)
    assert {item["item_id"] for item in body["items"]} <= set(SHOP_ITEM_IDS)
    everything = post_rank(engineer, {"user": SHOP_USER, "candidates": SHOP_ITEM_IDS}).json()["items"]
    assert len(everything) == 30
    assert everything[:5] == body["items"]


def test_alias_and_version_parameters_choose_another_version(shop: Any, engineer: APIClient) -> None:
    shop.set_alias("shop", "staging", 2)
    assert (
        post_rank(engineer, {"candidates": SHOP_ITEM_IDS}, query="?version=2").json()["model_version"]["version"] == 2
    )
    assert (
        post_rank(engineer, {"candidates": SHOP_ITEM_IDS}, query="?alias=staging").json()["model_version"]["version"]
        == 2
    )
    v1 = post_rank(engineer, {"user": SHOP_USER, "candidates": SHOP_ITEM_IDS}, query="?version=1").json()["items"]
    v2 = post_rank(engineer, {"user": SHOP_USER, "candidates": SHOP_ITEM_IDS}, query="?version=2").json()["items"]
    assert v1 != v2  # two trained versions really answer differently


def test_candidates_with_features_and_unknown_ids_are_scored(shop: Any, engineer: APIClient) -> None:
    cands = [{"item_id": "i1", "genre": "comedy"}, "brand-new", {"item_id": 77, "title": "new film", "price": 3}]
    resp = post_rank(engineer, {"user": {"user_id": "nobody", "occupation": "unknown field"}, "candidates": cands})
    assert resp.status_code == 200, resp.content
    assert sorted(str(i["item_id"]) for i in resp.json()["items"]) == ["77", "brand-new", "i1"]


def test_moving_production_takes_effect_without_restart(shop: Any, engineer: APIClient, settings: Any) -> None:
    settings.STEWARD_SERVING_ALIAS_TTL_MS = 0
    assert post_rank(engineer, {"candidates": SHOP_ITEM_IDS}).json()["model_version"]["version"] == 1
    shop.set_alias("shop", "production", 2)
    during = post_rank(engineer, {"candidates": SHOP_ITEM_IDS})  # v2 loads in the background; v1 still answers
    assert during.status_code == 200
    assert during.json()["model_version"]["version"] in (1, 2)
    get_cache().wait_idle()
    assert post_rank(engineer, {"candidates": SHOP_ITEM_IDS}).json()["model_version"]["version"] == 2


@pytest.mark.parametrize(
    ("model", "query", "message"),
    [
        ("nothing", "", "No model named 'nothing'"),
        ("shop", "?alias=canary", "no alias 'canary'"),
        ("shop", "?version=9", "no version 9"),
    ],
)
def test_unknown_model_alias_or_version_is_404(
    shop: Any, engineer: APIClient, model: str, query: str, message: str
) -> None:
    resp = post_rank(engineer, {"candidates": SHOP_ITEM_IDS}, model=model, query=query)
    assert resp.status_code == 404
    assert message in resp.json()["detail"]


@pytest.mark.parametrize(
    ("body", "query", "message"),
    [
        ({"user": SHOP_USER}, "", "candidates: this field is required"),
        ({"candidates": "i1"}, "", "candidates: expected a list"),
        ({"candidates": SHOP_ITEM_IDS, "k": 0}, "", "k must be a positive integer"),
        ({"candidates": SHOP_ITEM_IDS, "k": "3"}, "", "k must be a positive integer"),
        ({"user": {"hour": "noon"}, "candidates": SHOP_ITEM_IDS}, "", "user.hour: expected a number"),
        ({"user": {"age": {"years": 3}}, "candidates": SHOP_ITEM_IDS}, "", "user.age"),
        ({"candidates": ["i1", {"genre": "drama"}]}, "", "candidates[1]: missing 'item_id'"),
        ({"candidates": [None]}, "", "candidates[0]"),
        ([1, 2], "", "must be a JSON object"),
        ({"candidates": SHOP_ITEM_IDS}, "?version=two", "version must be a positive integer"),
        ({"candidates": SHOP_ITEM_IDS}, "?version=1&alias=production", "either ?alias= or ?version="),
    ],
)
def test_malformed_requests_are_400_with_the_field_named(
    shop: Any, engineer: APIClient, body: Any, query: str, message: str
) -> None:
    resp = post_rank(engineer, body, query=query)
    assert resp.status_code == 400, resp.content
    assert message in resp.json()["detail"]


def test_a_body_that_is_not_json_is_400(shop: Any, engineer: APIClient) -> None:
    resp = engineer.post("/api/v1/serving/shop/rank/", "{not json", content_type="application/json")
    assert resp.status_code == 400


def test_more_candidates_than_the_limit_is_413(shop: Any, engineer: APIClient, settings: Any) -> None:
    settings.STEWARD_MAX_CANDIDATES = 10
    resp = post_rank(engineer, {"candidates": SHOP_ITEM_IDS[:11]})
    assert resp.status_code == 413
    assert "limit of 10" in resp.json()["detail"]
    assert post_rank(engineer, {"candidates": SHOP_ITEM_IDS[:10]}).status_code == 200


def test_scoring_needs_a_role_that_may_score(shop: Any, api_as: Callable[[str | None], APIClient]) -> None:
    assert post_rank(api_as(None), {"candidates": SHOP_ITEM_IDS}).status_code == 401
    assert post_rank(api_as("outsider"), {"candidates": SHOP_ITEM_IDS}).status_code == 403
    assert post_rank(api_as("annotator"), {"candidates": SHOP_ITEM_IDS}).status_code == 403
    assert post_rank(api_as("viewer"), {"candidates": SHOP_ITEM_IDS}).status_code == 200


def test_score_answers_pairs_in_request_order(shop: Any, engineer: APIClient) -> None:
    pairs = [
        {"user": SHOP_USER, "item": "i1"},
        {"user": {"user_id": "u4"}, "item": {"item_id": "i2"}},
        {"user": SHOP_USER, "item": "i3"},
    ]
    resp = engineer.post("/api/v1/serving/shop/score/", json.dumps({"pairs": pairs}), content_type="application/json")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["model_version"] == {"model": "shop", "version": 1}
    assert [(r["user_id"], r["item_id"]) for r in body["results"]] == [("u3", "i1"), ("u4", "i2"), ("u3", "i3")]
    ranked = {
        i["item_id"]: i["score"]
        for i in post_rank(engineer, {"user": SHOP_USER, "candidates": ["i1", "i3"]}).json()["items"]
    }
    assert body["results"][0]["score"] == pytest.approx(ranked["i1"], abs=1e-6)
    assert body["results"][2]["score"] == pytest.approx(ranked["i3"], abs=1e-6)


def test_score_refuses_a_pair_without_an_item(shop: Any, engineer: APIClient) -> None:
    resp = engineer.post(
        "/api/v1/serving/shop/score/", json.dumps({"pairs": [{"user": SHOP_USER}]}), content_type="application/json"
    )
    assert resp.status_code == 400
    assert "pairs[0].item" in resp.json()["detail"]


def test_rank_runs_no_database_query_once_the_alias_is_cached(
    shop: Any, engineer: APIClient, django_assert_max_num_queries: Any
) -> None:
    post_rank(engineer, {"user": SHOP_USER, "candidates": SHOP_ITEM_IDS})
    with django_assert_max_num_queries(0):
        assert post_rank(engineer, {"user": SHOP_USER, "candidates": SHOP_ITEM_IDS}).status_code == 200


def test_the_api_docs_describe_the_unknown_bucket(engineer: APIClient, db: Any) -> None:
    schema = engineer.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    rank_doc = schema["paths"]["/api/v1/serving/{model_name}/rank/"]["post"]
    assert "unknown bucket" in rank_doc["description"]
    assert {"200", "400", "404", "413"} <= set(rank_doc["responses"])


def test_moving_production_through_the_registry_api_reaches_rank_once_the_alias_ttl_has_passed(
    shop: Any, engineer: APIClient, settings: Any
) -> None:
    """The default alias TTL (2 s), on the cache's own clock: the old version answers until the TTL has
    passed and the new version has loaded, and no call fails meanwhile."""
    clock = FakeClock()
    reset_cache(clock=clock)
    assert settings.STEWARD_SERVING_ALIAS_TTL_MS == 2000
    assert post_rank(engineer, {"candidates": SHOP_ITEM_IDS}).json()["model_version"]["version"] == 1
    moved = engineer.put("/api/v1/models/shop/aliases/production/", {"version": 2}, format="json")
    assert moved.status_code == 200, moved.content
    clock.now += 1.9
    assert post_rank(engineer, {"candidates": SHOP_ITEM_IDS}).json()["model_version"]["version"] == 1  # within the TTL
    clock.now += 0.1
    during = post_rank(engineer, {"candidates": SHOP_ITEM_IDS})  # re-resolves; v2 loads in the background
    assert during.status_code == 200 and during.json()["model_version"]["version"] in (1, 2)
    get_cache().wait_idle()
    assert post_rank(engineer, {"candidates": SHOP_ITEM_IDS}).json()["model_version"]["version"] == 2


def test_a_user_given_by_id_alone_takes_features_from_the_training_data(
    registry: Any, engineer: APIClient, upload: Callable[..., Any]
) -> None:
    source = upload(table_csv(shop_interactions(seed=0)), name="interactions.csv", dataset="interactions")
    registry.add_version("people", "v1", dataset_versions={"source": source})
    registry.set_alias("people", "production", 1)
    by_id = post_rank(engineer, {"user": "u7", "candidates": SHOP_ITEM_IDS}, model="people").json()["items"]
    explicit = post_rank(engineer, {"user": shop_user(7), "candidates": SHOP_ITEM_IDS}, model="people").json()["items"]
    assert [i["item_id"] for i in by_id] == [i["item_id"] for i in explicit]
    assert by_id[0]["score"] == pytest.approx(explicit[0]["score"], abs=1e-6)
    anonymous = post_rank(engineer, {"user": {"user_id": "u7x"}, "candidates": SHOP_ITEM_IDS}, model="people")
    assert anonymous.json()["items"] != by_id


def test_no_candidates_rank_to_an_empty_list(shop: Any, engineer: APIClient) -> None:
    resp = post_rank(engineer, {"user": SHOP_USER, "candidates": [], "k": 3})
    assert resp.status_code == 200
    assert resp.json() == {"model_version": {"model": "shop", "version": 1}, "items": []}


def test_an_alias_with_characters_no_alias_can_have_is_a_400(shop: Any, engineer: APIClient) -> None:
    resp = post_rank(engineer, {"candidates": SHOP_ITEM_IDS}, query="?alias=prod%00uction")
    assert resp.status_code == 400
    assert "alias must be" in resp.json()["detail"]

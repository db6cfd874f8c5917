from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from serving.encoding import InputError
from serving.scorer import Scorer
from tests.factories import SHOP_ITEM_IDS, SHOP_USER, shop_item, shop_user


def _expected(predictor: Any, user: dict[str, Any], candidates: list[Any]) -> np.ndarray:
    """What the artifact's own predictor says for the same rows (the ground truth)."""
    rows = []
    stored = {r["item_id"]: r for r in predictor.items.to_pylist()}
    for cand in candidates:
        given = dict(cand) if isinstance(cand, dict) else {"item_id": cand}
        row = dict(user)
        if given["item_id"] in stored:
            row.update({c: stored[given["item_id"]][c] for c in predictor.item_columns})
        row.update(given)
        rows.append(row)
    return predictor.predict(rows)


@pytest.mark.parametrize("name", ["v1", "plain", "two_tower"])
def test_known_items_score_as_the_artifacts_predictor(predictors: dict[str, Any], name: str) -> None:
    predictor = predictors[name]
    scorer = Scorer(predictor)
    assert scorer.mode == "fast"
    ids = SHOP_ITEM_IDS
    got = scorer.score([SHOP_USER], ids, None)
    np.testing.assert_allclose(got, _expected(predictor, SHOP_USER, ids), atol=1e-5)


def test_item_features_come_from_the_item_table_kept_with_the_version(predictors: dict[str, Any]) -> None:
    scorer = Scorer(predictors["v1"])
    by_id = scorer.score([SHOP_USER], ["i4"], None)
    with_features = scorer.score([SHOP_USER], [{**shop_item(4), "price": 4.0}], None)
    assert scorer.predictor.item_columns  # title, genre, price are item-level
    np.testing.assert_allclose(by_id, with_features, atol=1e-6)


def test_candidate_features_override_the_stored_ones(predictors: dict[str, Any]) -> None:
    predictor = predictors["v1"]
    scorer = Scorer(predictor)
    cands = [{"item_id": "i4", "genre": "drama"}, {"item_id": "i5", "title": "a brand new title", "price": 99}]
    got = scorer.score([SHOP_USER], cands, None)
    np.testing.assert_allclose(got, _expected(predictor, SHOP_USER, cands), atol=1e-5)
    assert not np.isclose(got[0], scorer.score([SHOP_USER], ["i4"], None)[0])


def test_unseen_values_fall_into_the_unknown_bucket(predictors: dict[str, Any]) -> None:
    predictor = predictors["v1"]
    scorer = Scorer(predictor)
    new_user = {"user_id": "never-seen", "age": "99", "gender": "X", "hour": 3}
    missing = {"hour": 3}
    cands = ["i1", "brand-new-item", {"item_id": "other-new", "genre": "opera"}]
    got = scorer.score([new_user], cands, None)
    np.testing.assert_allclose(got, scorer.score([missing], cands, None), atol=1e-7)
    np.testing.assert_allclose(got, _expected(predictor, new_user, cands), atol=1e-5)
    assert np.all((got > 0) & (got < 1))


def test_ids_match_whatever_json_type_they_arrive_as(predictors: dict[str, Any]) -> None:
    scorer = Scorer(predictors["v1"])
    assert scorer.encoder.category_id("age", 23, "user") == scorer.encoder.category_id("age", "23", "user")
    assert scorer.encoder.category_id("age", 23.0, "user") == scorer.encoder.category_id("age", "23", "user")
    assert scorer.encoder.category_id("age", "23", "user") != 0


def test_rank_orders_best_first_and_cuts_at_k(predictors: dict[str, Any]) -> None:
    scorer = Scorer(predictors["v1"])
    ids = SHOP_ITEM_IDS
    order, scores = scorer.rank(SHOP_USER, ids, 5)
    assert len(order) == 5 and len(scores) == 30
    top = scores[order]
    assert list(top) == sorted(top, reverse=True)
    assert top[0] == scores.max()


def test_pairs_of_different_users_score_like_one_user_at_a_time(predictors: dict[str, Any]) -> None:
    scorer = Scorer(predictors["v1"])
    users = [shop_user(1), shop_user(2)]
    items = ["i1", "i2", "i3", "i4"]
    got = scorer.score(users, items, np.array([0, 1, 0, 1]))
    np.testing.assert_allclose(got[[0, 2]], scorer.score([users[0]], ["i1", "i3"], None), atol=1e-6)
    np.testing.assert_allclose(got[[1, 3]], scorer.score([users[1]], ["i2", "i4"], None), atol=1e-6)


def test_user_id_alone_takes_features_from_the_user_table(predictors: dict[str, Any]) -> None:
    users = {f"u{j}": {k: v for k, v in shop_user(j).items() if k != "user_id"} for j in range(20)}
    scorer = Scorer(predictors["v1"], users=users)
    by_id = scorer.score(["u3"], ["i1", "i2"], None)
    explicit = scorer.score([shop_user(3)], ["i1", "i2"], None)
    np.testing.assert_allclose(by_id, explicit, atol=1e-7)


@pytest.mark.parametrize(
    ("user", "candidates", "message"),
    [
        ({"age": [1, 2]}, ["i1"], "user.age"),
        ({"hour": "noon"}, ["i1"], "user.hour: expected a number"),
        (SHOP_USER, [True], "candidates[0]"),
        (SHOP_USER, ["i1", {"genre": "drama"}], "candidates[1]: missing 'item_id'"),
        (SHOP_USER, ["i1", ["i2"]], "candidates[1]"),
        (SHOP_USER, [{"item_id": "i1", "price": {"x": 1}}], "candidates[0].price"),
    ],
)
def test_wrong_types_are_refused_with_the_field_named(
    predictors: dict[str, Any], user: Any, candidates: list[Any], message: str
) -> None:
    scorer = Scorer(predictors["v1"])
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        scorer.score([user], candidates, None)


def test_a_scorer_that_disagrees_with_the_predictor_stops_using_its_shortcut(
    predictors: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Scorer._score_fast
    monkeypatch.setattr(Scorer, "_score_fast", lambda self, *a: original(self, *a) * 0.9)
    scorer = Scorer(predictors["v1"])
    assert scorer.mode == "full"
    ids = ["i1", "i2", "i3"]
    np.testing.assert_allclose(
        scorer.score([SHOP_USER], ids, None), _expected(predictors["v1"], SHOP_USER, ids), atol=1e-5
    )

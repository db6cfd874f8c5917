"""A model with a list column (a behaviour sequence) served: the rank request carries the list, and
serving scores exactly as the artifact's own predictor does offline, under target attention (computed per
user and candidate on the fast path) and under the mean pooling of earlier artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rest_framework.test import APIClient

from tests.factories import SHOP_ITEM_IDS, ModelRegistry, post_rank, train_sequence_model

USER = {"user_id": "u3", "age": "23", "gender": "F"}


@pytest.fixture(scope="session")
def sequence_artifact(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    from training.ml import save_artifact

    path = tmp_path_factory.mktemp("sequence-artifact") / "seq"
    result = train_sequence_model(with_history=True)
    save_artifact(result, path)
    np.save(path / "test_predictions.npy", result.test_predictions)
    return path, result


def _offline(predictor: Any, user: dict[str, Any], items: list[str]) -> np.ndarray:
    return predictor.predict([predictor._merge(user, i) for i in items])


@pytest.fixture(scope="session")
def mean_sequence_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.ml import save_artifact

    path = tmp_path_factory.mktemp("sequence-artifact-mean") / "seq"
    save_artifact(train_sequence_model(with_history=True, list_pooling="mean"), path)
    return path


@pytest.mark.parametrize("pooling", ["attention", "mean"])
def test_the_scorer_takes_the_list_and_agrees_with_the_predictor(
    sequence_artifact: tuple[Path, Any], mean_sequence_artifact: Path, pooling: str
) -> None:
    from serving.scorer import Scorer
    from training.ml import load_artifact

    path = sequence_artifact[0] if pooling == "attention" else mean_sequence_artifact
    predictor = load_artifact(path, device="cpu")
    assert predictor.model.head_config.list_pooling == pooling
    scorer = Scorer(predictor)
    assert scorer.mode == "fast"  # the load-time check (with a sample history) passed
    for history in (["i7", "i2"], [], None, ["never-seen", "i7"], [7, 3]):
        user = {**USER, "history": history}
        _, served = scorer.rank(user, SHOP_ITEM_IDS)
        np.testing.assert_allclose(served, _offline(predictor, user, SHOP_ITEM_IDS), atol=1e-5)
        # Many users in one call (each candidate its own user's attention) score as one at a time.
        n = len(SHOP_ITEM_IDS)
        both = scorer.score([user, {**USER, "history": ["i1"]}], SHOP_ITEM_IDS * 2, np.repeat([0, 1], n))
        np.testing.assert_allclose(both[:n], served, atol=1e-6)
    # A candidate with its own features takes the full path: the list counts there too.
    given = [{"item_id": "i1", "genre": "drama"}]
    served = scorer.score([{**USER, "history": ["i7"]}], given, None)
    offline = predictor.predict([predictor._merge({**USER, "history": ["i7"]}, given[0])])
    np.testing.assert_allclose(served, offline, atol=1e-5)


def test_rank_over_http_takes_the_history_and_scores_as_offline(
    sequence_artifact: tuple[Path, Any], personas: dict[str, Any], engineer: APIClient
) -> None:
    from training.ml import load_artifact

    registry = ModelRegistry({"seq": sequence_artifact}, personas["ml_engineer"])
    registry.add_version("seqshop", "seq")
    registry.set_alias("seqshop", "production", 1)
    predictor = load_artifact(sequence_artifact[0], device="cpu")
    scores = {}
    for history in (["i7"], ["i3"]):
        user = {**USER, "history": history}
        resp = post_rank(engineer, {"user": user, "candidates": SHOP_ITEM_IDS}, model="seqshop")
        assert resp.status_code == 200, resp.content
        items = resp.json()["items"]
        served = {i["item_id"]: i["score"] for i in items}
        offline = dict(zip(SHOP_ITEM_IDS, _offline(predictor, user, SHOP_ITEM_IDS).tolist(), strict=True))
        for item, score in served.items():
            assert score == pytest.approx(offline[item], abs=1e-5)
        scores[history[0]] = served
    assert scores["i7"]["i1"] > scores["i3"]["i1"]  # users who saw i7 click: the history moved the score


@pytest.mark.parametrize(
    ("history", "message"),
    [([["i1"]], "user.history: expected an array of item ids"), ({"a": 1}, "user.history: expected a string")],
)
def test_a_history_that_is_not_a_list_of_ids_is_a_400(
    sequence_artifact: tuple[Path, Any], personas: dict[str, Any], engineer: APIClient, history: Any, message: str
) -> None:
    registry = ModelRegistry({"seq": sequence_artifact}, personas["ml_engineer"])
    registry.add_version("seqshop", "seq")
    registry.set_alias("seqshop", "production", 1)
    resp = post_rank(engineer, {"user": {**USER, "history": history}, "candidates": SHOP_ITEM_IDS}, model="seqshop")
    assert resp.status_code == 400
    assert message in resp.json()["detail"]

"""Serving scores a model with a wide part exactly as it scores offline: the item side's wide
terms are precomputed with the other item-only terms, the user side's per request."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from serving.scorer import Scorer
from tests.factories import SHOP_ITEM_IDS, SHOP_USER, shop_interactions
from training.ml.head_split import SideParts


def test_the_shop_models_have_a_trained_wide_part(predictors: dict[str, Any]) -> None:
    for name in ("v1", "two_tower", "plain"):
        p = predictors[name]
        assert p.wide is not None and p.model.wide is not None, name
        assert p.model.wide.weight.abs().max() > 0.01, name
    assert predictors["v1"].wide.item_text_columns == ["title"]
    assert ["age", "gender"] in predictors["v1"].wide.crosses


def test_offline_predictions_equal_serving_scores_for_the_test_rows(
    predictors: dict[str, Any], trained: dict[str, Any]
) -> None:
    """Test rows scored one by one through the serving scorer give the training job's test predictions."""
    _, result = trained["v1"]
    scorer = Scorer(predictors["v1"])
    assert scorer.mode == "fast"
    rows = shop_interactions(seed=0).slice(350).to_pylist()[:25]
    item_cols = set(predictors["v1"].item_columns) | {"item_id"}
    got = np.array(
        [
            scorer.score([{k: v for k, v in r.items() if k not in item_cols and k != "label"}], [r["item_id"]], None)[0]
            for r in rows
        ]
    )
    np.testing.assert_allclose(got, result.test_predictions[:25], atol=1e-5)


def test_serving_precomputes_the_item_wide_terms_and_they_count(predictors: dict[str, Any]) -> None:
    predictor = predictors["v1"]
    scorer = Scorer(predictor)
    with_wide = scorer.score([SHOP_USER], SHOP_ITEM_IDS, None)
    # The item parts' constants hold each item's wide term: removing it changes their scores.
    item_wide = predictor.model.wide_term(scorer._item_wide).detach()
    assert item_wide.abs().max() > 1e-3
    original = scorer._items
    scorer._items = SideParts(original.const - item_wide, original.x, original.h)
    positions = np.array([scorer.item_index[i] for i in SHOP_ITEM_IDS])
    with torch.inference_mode():  # as Scorer.score runs it
        without = scorer._score_fast([SHOP_USER], positions, np.zeros(len(positions), dtype=np.int64))
    assert not np.allclose(with_wide, without, atol=1e-4)
    scorer._items = original
    np.testing.assert_allclose(scorer.score([SHOP_USER], SHOP_ITEM_IDS, None), with_wide, atol=1e-6)

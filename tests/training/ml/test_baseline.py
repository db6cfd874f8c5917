"""The baseline every job is measured against: TF-IDF / one-hot / scaled numerics + logistic regression."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa

from training.ml import FeatureSpec
from training.ml.baseline import fit_baseline, lift
from training.ml.metrics import binary_metrics

GOOD = ["great", "lovely", "perfect", "excellent"]
BAD = ["broken", "awful", "refund", "useless"]


def _reviews(n: int, seed: int) -> pa.Table:
    """Rows whose label is carried by words in the review, with noise categoricals and a numeric."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.random() < 0.5
        words = [rng.choice(GOOD if label else BAD)] + [rng.choice(["the", "item", "box", "it"]) for _ in range(4)]
        rng.shuffle(words)
        rows.append(
            {
                "review": " ".join(words) if rng.random() < 0.9 else None,
                "shop": f"s{rng.randrange(5)}",
                "item_id": rng.randrange(30),
                "price": rng.random() * 10 if rng.random() < 0.9 else None,
                "label": int(label),
            }
        )
    return pa.Table.from_pylist(rows)


SPEC = FeatureSpec(
    label_column="label",
    text_columns=["review"],
    categorical_columns=["shop"],
    numeric_columns=["price"],
    item_column="item_id",
)


def test_baseline_learns_words_and_scores_exactly_the_test_rows():
    test = _reviews(200, 2)
    result = fit_baseline(train_table=_reviews(600, 0), valid_table=_reviews(150, 1), test_table=test, spec=SPEC)
    assert result.metrics["count"] == 200 == len(result.test_predictions)
    assert result.metrics["auc"] > 0.9  # the words carry the label; missing reviews cost a little
    # the stored metrics are the test predictions' metrics against the test rows' labels
    again = binary_metrics(np.array(test.column("label").to_pylist()), result.test_predictions)
    assert again["auc"] == result.metrics["auc"]
    assert result.C in (0.1, 0.3, 1.0, 3.0) and result.n_features > 10
    assert "TF-IDF" in result.description and "one-hot shop, item_id" in result.description
    assert "test_predictions" not in result.to_dict()


def test_baseline_without_text_or_with_unseen_values_still_scores():
    spec = FeatureSpec(label_column="label", categorical_columns=["shop"], numeric_columns=["price"])
    train = _reviews(100, 0)
    unseen = _reviews(40, 3).set_column(1, "shop", pa.array(["never-seen"] * 40))
    result = fit_baseline(train_table=train, valid_table=train.slice(0, 0), test_table=unseen, spec=spec)
    assert result.metrics["count"] == 40 and result.C == 1.0 and result.valid_metrics == {}
    assert np.isfinite(result.test_predictions).all()


def test_lift_is_model_auc_minus_baseline_auc():
    assert abs(lift({"auc": 0.8}, {"auc": 0.75}) - 0.05) < 1e-12
    assert lift({"auc": 0.8}, {}) is None and lift({"auc": None}, {"auc": 0.7}) is None

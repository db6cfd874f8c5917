from __future__ import annotations

import numpy as np
import pytest

from training.ml.metrics import binary_metrics, segment_auc


def test_binary_metrics_of_a_known_example():
    y = np.array([1, 1, 0, 0])
    p = np.array([0.9, 0.4, 0.6, 0.1])
    m = binary_metrics(y, p)
    assert m["auc"] == pytest.approx(0.75)
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["precision"] == pytest.approx(0.5) and m["recall"] == pytest.approx(0.5)
    assert m["f1"] == pytest.approx(0.5)
    expected_logloss = -np.mean(np.log([0.9, 0.4, 0.4, 0.9]))
    assert m["logloss"] == pytest.approx(expected_logloss)


def test_auc_is_none_when_only_one_class_is_present():
    assert binary_metrics(np.array([1, 1]), np.array([0.2, 0.7]))["auc"] is None


def test_segment_auc_names_the_weak_segment_and_skips_small_ones():
    y = np.array([1, 0] * 20 + [1, 0] * 20 + [1, 0])
    p = np.array([0.9, 0.1] * 20 + [0.1, 0.9] * 20 + [0.5, 0.5])
    seg = ["good"] * 40 + ["bad"] * 40 + ["tiny"] * 2
    out = {s["segment"]: s for s in segment_auc(y, p, seg, min_count=10)}
    assert out["good"]["auc"] == pytest.approx(1.0)
    assert out["bad"]["auc"] == pytest.approx(0.0)
    assert "tiny" not in out and out["good"]["count"] == 40

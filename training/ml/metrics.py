"""Evaluation with scikit-learn: the binary metrics the registry stores, and AUC per segment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import metrics as skm

METRIC_NAMES = ("auc", "logloss", "accuracy", "precision", "recall", "f1")


def binary_metrics(y_true: np.ndarray, y_prob: np.ndarray, *, threshold: float = 0.5) -> dict[str, float | int | None]:
    """auc, logloss, accuracy, precision, recall, f1 (+ count, positive_rate).

    AUC is None when the labels hold one class only, since it is undefined there.
    """
    y_true = np.asarray(y_true).astype(np.int64)
    y_prob = np.clip(np.asarray(y_prob, dtype=np.float64), 1e-7, 1 - 1e-7)
    y_pred = (y_prob >= threshold).astype(np.int64)
    both = len(np.unique(y_true)) == 2
    return {
        "auc": float(skm.roc_auc_score(y_true, y_prob)) if both else None,
        "logloss": float(skm.log_loss(y_true, y_prob, labels=[0, 1])) if len(y_true) else None,
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "precision": float(skm.precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(skm.recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(skm.f1_score(y_true, y_pred, zero_division=0)),
        "count": len(y_true),
        "positive_rate": float(y_true.mean()) if len(y_true) else None,
    }


def segment_auc(
    y_true: np.ndarray,
    y_prob: np.ndarray,
    segments: Sequence[Any],
    *,
    min_count: int = 20,
    max_segments: int = 50,
) -> list[dict[str, Any]]:
    """AUC per value of a column, largest segments first, so weaker groups stand out.

    Segments smaller than `min_count` are left out (their AUC is noise); a segment with one
    class has auc None.
    """
    y_true = np.asarray(y_true).astype(np.int64)
    y_prob = np.asarray(y_prob, dtype=np.float64)
    keys = np.array(["" if s is None else str(s) for s in segments], dtype=object)
    values, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    out = []
    for pos in np.argsort(-counts, kind="stable")[:max_segments]:
        if counts[pos] < min_count:
            break
        mask = inverse == pos
        ys = y_true[mask]
        auc = float(skm.roc_auc_score(ys, y_prob[mask])) if len(np.unique(ys)) == 2 else None
        out.append(
            {
                "segment": values[pos],
                "count": int(counts[pos]),
                "positive_rate": float(ys.mean()),
                "auc": auc,
            }
        )
    return out

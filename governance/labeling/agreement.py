"""Inter-annotator agreement, without Django: Cohen's kappa per pair (scikit-learn), Fleiss' kappa (Fleiss 1971,
with the usual generalization to items rated by different numbers of raters), Krippendorff's alpha (the
`krippendorff` package; nominal, and ordinal for graded relevance).

Ratings come as {annotator: {item: code}} with integer codes (label positions); None means "not defined" (too few
items or no variation), never a made-up number.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

import numpy as np

Ratings = dict[Any, dict[Any, int]]


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) or math.isinf(value) else float(value)


def cohen_pairs(ratings: Ratings, n_categories: int, *, weights: str | None = None) -> dict[str, dict[str, Any]]:
    """Cohen's kappa of every pair of annotators over the items both rated: {"a|b": {"kappa", "n"}}."""
    from sklearn.metrics import cohen_kappa_score

    out: dict[str, dict[str, Any]] = {}
    for a, b in itertools.combinations(sorted(ratings, key=str), 2):
        common = sorted(set(ratings[a]) & set(ratings[b]), key=str)
        kappa = None
        if len(common) >= 2:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # constant raters: sklearn warns and returns nan
                kappa = _finite(
                    cohen_kappa_score(
                        [ratings[a][i] for i in common],
                        [ratings[b][i] for i in common],
                        labels=list(range(n_categories)),
                        weights=weights,
                    )
                )
        out[f"{a}|{b}"] = {"kappa": kappa, "n": len(common)}
    return out


def category_counts(ratings: Ratings, n_categories: int) -> np.ndarray:
    """[items, categories]: how many annotators put each item in each category."""
    items = sorted({i for by_item in ratings.values() for i in by_item}, key=str)
    index = {item: k for k, item in enumerate(items)}
    counts = np.zeros((len(items), n_categories), dtype=np.int64)
    for by_item in ratings.values():
        for item, code in by_item.items():
            counts[index[item], code] += 1
    return counts


def fleiss_kappa(counts: np.ndarray) -> float | None:
    """Fleiss' kappa from an [items, categories] count table. Items rated fewer than twice carry no agreement
    and are left out; with n raters on every item this is exactly Fleiss (1971)."""
    counts = np.asarray(counts, dtype=np.float64)
    n_i = counts.sum(axis=1)
    counts, n_i = counts[n_i >= 2], n_i[n_i >= 2]
    if len(counts) < 2:
        return None
    p_i = ((counts * (counts - 1)).sum(axis=1)) / (n_i * (n_i - 1))
    p_bar = p_i.mean()
    p_j = counts.sum(axis=0) / n_i.sum()
    p_e = float((p_j**2).sum())
    if math.isclose(p_e, 1.0):
        return None
    return _finite((p_bar - p_e) / (1 - p_e))


def krippendorff_alpha(ratings: Ratings, n_categories: int, level: str = "nominal") -> float | None:
    import krippendorff

    annotators = sorted(ratings, key=str)
    items = sorted({i for by_item in ratings.values() for i in by_item}, key=str)
    if len(annotators) < 2 or len(items) < 2:
        return None
    index = {item: k for k, item in enumerate(items)}
    matrix = np.full((len(annotators), len(items)), np.nan)
    for row, annotator in enumerate(annotators):
        for item, code in ratings[annotator].items():
            matrix[row, index[item]] = code
    # Units coded by one annotator only carry no information about agreement.
    pairable = (~np.isnan(matrix)).sum(axis=0) >= 2
    if pairable.sum() < 1 or len(np.unique(matrix[:, pairable][~np.isnan(matrix[:, pairable])])) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = krippendorff.alpha(
            reliability_data=matrix[:, pairable],
            level_of_measurement=level,
            value_domain=list(range(n_categories)),
        )
    return _finite(float(value))


def confusion(pairs: list[tuple[int, int]], n_categories: int) -> list[list[int]]:
    """[reference][given] counts."""
    matrix = [[0] * n_categories for _ in range(n_categories)]
    for reference, given in pairs:
        matrix[reference][given] += 1
    return matrix

"""After training, a logistic regression on the model's own features is blended into its linear terms.

Beside the trained model, a logistic regression (scikit-learn, liblinear) is fitted on the train
split's encoded features as the model's first-order terms see them: one column per categorical
value (each field's unknown bucket included), one per wide bucket (hashed word n-grams and
crosses, wide.py) and the standardized numerics; its inverse regularization C is picked on the
validation split. The final model scores `model logit + alpha * regression logit`, with `alpha`
picked on the validation split from `ALPHAS` (0 = the model alone), times a temperature fitted on
the validation split's log loss (a large alpha would otherwise make the scores overconfident:
AUC does not see the scale, a served probability does). Since the regression's logit
is linear in exactly the features the model's first-order terms weigh, the blend is folded into
those weights (`cat_bias`, the wide weights, `numeric_linear`, the global bias) and the
temperature is the model's `logit_scale`: the artifact, serving and the item-side precomputation
are the model's own.

Why: where words carry the signal, a bag of words with logistic regression is hard to beat, and
a text tower fine-tuned for minutes on CPU can end just below it (the issue's held-out review
set: 0.928 vs 0.951). The blend keeps what each does best, and validation decides how much of
the regression to add. No Django here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from training.ml.batches import EncodedSplit
from training.ml.model import CTRModel
from training.ml.wide import ID_DTYPE

C_GRID = (0.03, 0.1, 0.3, 1.0)
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
# The regression is fitted on at most this many train rows (sampled with the run's seed):
# liblinear's time grows with rows x features, and the blend needs a good regression, not the best.
MAX_ROWS = 400_000


@dataclass
class LinearBlend:
    alpha: float  # the regression's weight in the final logit (0: the model alone)
    temperature: float  # the final logit's scale, fitted on validation log loss
    C: float
    regression_valid_auc: float | None
    model_valid_auc: float | None
    blended_valid_auc: float | None
    rows: int
    features: int
    fit_s: float

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["fit_s"] = round(self.fit_s, 3)
        return out


def design_matrix(model: CTRModel, split: EncodedSplit) -> sp.csr_matrix:
    """The split's features as the model's first-order terms see them, in the model's order:
    [categorical values (flat ids) | wide buckets | numerics]."""
    head = model.head_config
    n = len(split)
    blocks: list[sp.csr_matrix] = []
    if head.vocab_sizes:
        flat = split.categorical + model.cat_offsets.cpu().numpy()[None, :]
        rows = np.repeat(np.arange(n), flat.shape[1])
        ones = np.ones(flat.size, dtype=np.float32)
        blocks.append(sp.csr_matrix((ones, (rows, flat.ravel())), shape=(n, int(sum(head.vocab_sizes)))))
    if head.wide_buckets:
        wide = split.wide if split.wide is not None else np.zeros((n, 0), dtype=ID_DTYPE)
        used = wide > 0  # 0 is padding
        rows = np.broadcast_to(np.arange(n)[:, None], wide.shape)[used]
        ones = np.ones(int(used.sum()), dtype=np.float32)
        # Duplicates are summed, as the model's EmbeddingBag sums a bucket that occurs twice.
        blocks.append(sp.csr_matrix((ones, (rows, wide[used])), shape=(n, int(head.wide_buckets))))
    if head.n_numeric:
        blocks.append(sp.csr_matrix(split.numeric.astype(np.float32)))
    if not blocks:
        return sp.csr_matrix((n, 0), dtype=np.float32)
    return sp.hstack(blocks, format="csr", dtype=np.float32)


def _sample(n: int, seed: int) -> np.ndarray:
    """Positions of at most MAX_ROWS of n rows (seeded, in order): a split is sliced before any
    design matrix is built, so memory does not grow with the split."""
    if n <= MAX_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, MAX_ROWS, replace=False))


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Probabilities of logits (float64 in, float64 out): the inverse of `logit`."""
    return 1.0 / (1.0 + np.exp(-logits))


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-15, 1 - 1e-15)
    return np.log(p) - np.log1p(-p)


def fit_blend(
    model: CTRModel,
    train: EncodedSplit,
    valid: EncodedSplit,
    valid_probabilities: np.ndarray,
    *,
    seed: int = 0,
) -> LinearBlend | None:
    """Fit the regression, pick alpha on validation and fold alpha x the regression into `model`.

    None (the model untouched) when the validation split cannot pick: it is empty or holds one
    class, or train holds one class."""
    t0 = time.perf_counter()
    if len(valid) == 0 or len(np.unique(valid.labels)) < 2 or len(np.unique(train.labels)) < 2:
        return None
    train = train.take(_sample(len(train), seed))
    picked = _sample(len(valid), seed)
    valid, valid_probabilities = valid.take(picked), np.asarray(valid_probabilities)[picked]
    x, y = design_matrix(model, train), train.labels
    if x.shape[1] == 0 or len(np.unique(y)) < 2 or len(np.unique(valid.labels)) < 2:
        return None
    x_valid = design_matrix(model, valid)
    best: tuple[float, float, LogisticRegression] | None = None
    for c in C_GRID:
        regression = _regression(x, y, c, seed)
        auc = float(roc_auc_score(valid.labels, regression.decision_function(x_valid)))
        if best is None or auc > best[0] + 1e-9:
            best = (auc, c, regression)
    assert best is not None
    regression_auc, c, regression = best
    model_logit = logit(valid_probabilities)
    regression_logit = regression.decision_function(x_valid)
    scores = {a: float(roc_auc_score(valid.labels, model_logit + a * regression_logit)) for a in ALPHAS}
    alpha = max(ALPHAS, key=lambda a: (scores[a] - 1e-4 * a, -a))  # ties (within 1e-4 per unit) go to less
    temperature = fit_temperature(model_logit + alpha * regression_logit, valid.labels)
    _apply(model, alpha, regression, temperature)
    return LinearBlend(
        alpha=alpha,
        temperature=temperature,
        C=c,
        regression_valid_auc=regression_auc,
        model_valid_auc=scores[0.0],
        blended_valid_auc=scores[alpha],
        rows=len(train),
        features=int(x.shape[1]),
        fit_s=time.perf_counter() - t0,
    )


def apply_blend(model: CTRModel, train: EncodedSplit, blend: LinearBlend, *, seed: int = 0) -> float:
    """Blend another model (a refit, train.py) as `blend` says: the regression fitted again on `train`
    with the C validation picked, folded in with the same alpha, and the same temperature. Returns
    the seconds it took."""
    t0 = time.perf_counter()
    regression = None
    if blend.alpha:
        train = train.take(_sample(len(train), seed))
        regression = _regression(design_matrix(model, train), train.labels, blend.C, seed)
    _apply(model, blend.alpha, regression, blend.temperature)
    return time.perf_counter() - t0


def _regression(x: sp.csr_matrix, y: np.ndarray, c: float, seed: int) -> LogisticRegression:
    return LogisticRegression(C=c, solver="liblinear", max_iter=1_000, random_state=seed).fit(x, y)


def _apply(model: CTRModel, alpha: float, regression: LogisticRegression | None, temperature: float) -> None:
    if alpha and regression is not None:
        _fold(model, alpha * regression.coef_.ravel(), alpha * float(regression.intercept_[0]))
    with torch.no_grad():
        model.logit_scale.fill_(temperature)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The scale s in (0.01, 10] that minimizes the log loss of sigmoid(s * logits)."""
    y = np.asarray(labels, dtype=np.float64)

    def loss(s: float) -> float:
        z = s * logits
        return float(np.mean(np.logaddexp(0.0, z) - y * z))

    found = minimize_scalar(loss, bounds=(0.01, 10.0), method="bounded")
    return float(found.x) if found.success and loss(found.x) < loss(1.0) else 1.0


@torch.no_grad()
def _fold(model: CTRModel, coef: np.ndarray, intercept: float) -> None:
    """Add a linear function of the design matrix's columns to the model's first-order terms."""
    head = model.head_config
    n_cat = int(sum(head.vocab_sizes))
    n_wide = int(head.wide_buckets)

    def add(param: torch.Tensor, values: np.ndarray) -> None:
        param.add_(torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32)).to(param).view_as(param))

    model.bias.add_(intercept)
    if n_cat:
        add(model.cat_bias.weight, coef[:n_cat])
    if n_wide and model.wide is not None:
        wide = coef[n_cat : n_cat + n_wide].copy()
        wide[0] = 0.0  # padding stays 0
        add(model.wide.weight, wide)
    if head.n_numeric and model.numeric_linear is not None:
        add(model.numeric_linear.weight, coef[n_cat + n_wide :])

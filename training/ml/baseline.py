"""The baseline every training job is measured against: a bag of words with logistic regression.

On the same split and the same columns as the model: TF-IDF word 1-2-grams per text column,
one-hot categoricals (the user and item columns included; unseen values are all-zero), numerics
standardized with missing values at the mean, and a logistic regression whose inverse
regularization C is picked on the validation split. It fits in seconds, and a model that does
not beat it has not earned its place. No Django here.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import OneHotEncoder

from training.ml.features import FeatureSpec, _as_floats, _as_strings
from training.ml.metrics import binary_metrics
from training.ml.tables import TableLike, as_table

BASELINE_NAME = "tfidf_onehot_logreg"
C_GRID = (0.1, 0.3, 1.0, 3.0)
MAX_TEXT_FEATURES = 200_000


@dataclass
class BaselineResult:
    name: str
    description: str
    metrics: dict[str, Any]  # test split, the same rows as the model's test metrics
    valid_metrics: dict[str, Any]
    C: float
    n_features: int
    fit_s: float
    test_predictions: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("test_predictions")
        return out


class _Featurizer:
    """Learns the sparse design matrix's columns from the train split."""

    def __init__(self, spec: FeatureSpec, train_rows: int) -> None:
        self.spec = spec
        min_df = 2 if train_rows >= 1_000 else 1
        self.text = {
            col: TfidfVectorizer(
                ngram_range=(1, 2),
                min_df=min_df,
                max_features=MAX_TEXT_FEATURES,
                sublinear_tf=True,
                dtype=np.float32,
            )
            for col in spec.text_columns
        }
        self.onehot = OneHotEncoder(handle_unknown="ignore", dtype=np.float32)
        self.means: dict[str, tuple[float, float]] = {}

    def _texts(self, table: pa.Table, col: str) -> list[str]:
        return pc.fill_null(_as_strings(table.column(col)), "").to_pylist()

    def _categories(self, table: pa.Table) -> np.ndarray:
        cols = [pc.fill_null(_as_strings(table.column(c)), "\x00missing").to_pylist() for c in self._cat_columns]
        return np.array(cols, dtype=object).T.reshape(table.num_rows, len(self._cat_columns))

    @property
    def _cat_columns(self) -> list[str]:
        return self.spec.categorical_features

    def _numeric(self, table: pa.Table) -> sp.csr_matrix:
        out = np.zeros((table.num_rows, len(self.spec.numeric_columns)), dtype=np.float32)
        for j, col in enumerate(self.spec.numeric_columns):
            mean, std = self.means[col]
            values = (_as_floats(col, table.column(col)) - mean) / std
            out[:, j] = np.where(np.isfinite(values), values, 0.0)
        return sp.csr_matrix(out)

    def fit_transform(self, table: pa.Table) -> sp.csr_matrix:
        parts = []
        for col, vec in self.text.items():
            texts = self._texts(table, col)
            try:
                parts.append(vec.fit_transform(texts))
            except ValueError:  # no word in any text (all empty): the column adds nothing
                self.text[col] = None  # type: ignore[assignment]
        if self._cat_columns:
            parts.append(self.onehot.fit_transform(self._categories(table)))
        for col in self.spec.numeric_columns:
            values = _as_floats(col, table.column(col))
            finite = values[np.isfinite(values)]
            mean = float(finite.mean()) if finite.size else 0.0
            std = float(finite.std()) if finite.size else 1.0
            self.means[col] = (mean, std if std > 1e-12 else 1.0)
        if self.spec.numeric_columns:
            parts.append(self._numeric(table))
        return self._stack(parts, table.num_rows)

    def transform(self, table: pa.Table) -> sp.csr_matrix:
        parts = [vec.transform(self._texts(table, col)) for col, vec in self.text.items() if vec is not None]
        if self._cat_columns:
            parts.append(self.onehot.transform(self._categories(table)))
        if self.spec.numeric_columns:
            parts.append(self._numeric(table))
        return self._stack(parts, table.num_rows)

    @staticmethod
    def _stack(parts: list[Any], rows: int) -> sp.csr_matrix:
        if not parts:
            return sp.csr_matrix((rows, 1), dtype=np.float32)
        return sp.hstack(parts, format="csr", dtype=np.float32)


def fit_baseline(
    *,
    train_table: TableLike,
    valid_table: TableLike,
    test_table: TableLike,
    spec: FeatureSpec,
    threshold: float = 0.5,
    seed: int = 0,
) -> BaselineResult:
    """Fit the baseline on train (C picked on valid when it holds both classes) and score test."""
    t0 = time.perf_counter()
    train_t, valid_t, test_t = as_table(train_table), as_table(valid_table), as_table(test_table)
    y_train = spec.labels(train_t)
    y_valid = spec.labels(valid_t)
    y_test = spec.labels(test_t)
    featurizer = _Featurizer(spec, train_t.num_rows)
    x_train = featurizer.fit_transform(train_t)
    width = x_train.shape[1]
    x_valid = featurizer.transform(valid_t) if valid_t.num_rows else sp.csr_matrix((0, width), dtype=np.float32)
    x_test = featurizer.transform(test_t) if test_t.num_rows else sp.csr_matrix((0, width), dtype=np.float32)

    def fit(c: float) -> LogisticRegression:
        model = LogisticRegression(C=c, solver="liblinear", max_iter=1_000, random_state=seed)
        return model.fit(x_train, y_train)

    best_c, best = 1.0, None
    if len(np.unique(y_valid)) == 2:
        best_score = -np.inf
        for c in C_GRID:
            model = fit(c)
            score = roc_auc_score(y_valid, model.predict_proba(x_valid)[:, 1])
            if score > best_score + 1e-9:
                best_score, best_c, best = score, c, model
    if best is None:
        best = fit(best_c)
    valid_pred = best.predict_proba(x_valid)[:, 1] if valid_t.num_rows else np.zeros(0)
    test_pred = best.predict_proba(x_test)[:, 1].astype(np.float64)
    parts = []
    if spec.text_columns:
        parts.append(f"TF-IDF word 1-2-grams of {', '.join(spec.text_columns)}")
    if spec.categorical_features:
        parts.append(f"one-hot {', '.join(spec.categorical_features)}")
    if spec.numeric_columns:
        parts.append(f"standardized {', '.join(spec.numeric_columns)}")
    return BaselineResult(
        name=BASELINE_NAME,
        description="logistic regression on " + "; ".join(parts),
        metrics=binary_metrics(y_test, test_pred, threshold=threshold) if test_t.num_rows else {},
        valid_metrics=binary_metrics(y_valid, valid_pred, threshold=threshold) if valid_t.num_rows else {},
        C=best_c,
        n_features=int(x_train.shape[1]),
        fit_s=time.perf_counter() - t0,
        test_predictions=test_pred,
    )


def lift(model_metrics: dict[str, Any] | None, baseline_metrics: dict[str, Any] | None) -> float | None:
    """Model AUC minus baseline AUC on the same test rows; None when either is unknown."""
    a = (model_metrics or {}).get("auc")
    b = (baseline_metrics or {}).get("auc")
    if not isinstance(a, int | float) or not isinstance(b, int | float):
        return None
    return float(a) - float(b)

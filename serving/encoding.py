"""Request values -> the model's feature ids and numbers, per value, without building Arrow tables.

A request carries one user and up to 10,000 candidates as JSON, so the per-request path uses
plain dict lookups. The rules match `training.ml.features.FeatureSpec` exactly (the scorer checks
that at load time against the artifact's own predictor):
- categorical: the value as a string (24 and 24.0 are the same bucket, booleans are
  "true"/"false"); a value never seen in training, or a missing one, is id 0, the unknown bucket.
- numeric: standardized with the training mean and standard deviation; missing is the mean (0).
- text: the string itself; missing text is "".
- list (a behaviour sequence): a JSON array of item ids, as slots exactly as training's
  `training.ml.sequence.encode_lists` makes them (the item's categorical id under attention pooling,
  an item unseen in training being padding; its hash under mean pooling); missing or null is the
  empty list.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from training.ml.features import UNKNOWN_ID, FeatureSpec
from training.ml.sequence import encode_list_value, pad_rows

_SCALARS = (str, int, float, bool)


class InputError(ValueError):
    """A request field with the wrong shape or type; the API answers 400 with this message."""


def value_key(value: Any) -> str | None:
    """The string under which a categorical value (or an item id) is looked up."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer():
            return str(int(value))
        # Arrow's float formatting differs from Python's for exponents ("1e-7"); match training.
        return pa.array([value], pa.float64()).cast(pa.string())[0].as_py()
    raise InputError(f"expected a string, number, boolean or null, got {type(value).__name__}")


class FeatureEncoder:
    """Encodes feature values of one fitted spec; built once per model version."""

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        self.categorical = list(spec.categorical_features)
        self.numeric = list(spec.numeric_columns)
        self.text = list(spec.text_columns)
        self._vocab: dict[str, dict[str, int]] = {
            col: {v: i + 1 for i, v in enumerate(spec.vocabularies[col])} for col in self.categorical
        }
        self._stats = {col: (float(s["mean"]), float(s["std"])) for col, s in spec.numeric_stats.items()}
        self.lists = list(spec.list_columns)
        self._list_vocab = spec.list_vocabulary() if self.lists else None
        self.columns = frozenset([*self.categorical, *self.numeric, *self.text, *self.lists])

    def category_id(self, column: str, value: Any, where: str) -> int:
        try:
            key = value_key(value)
        except InputError as exc:
            raise InputError(f"{where}.{column}: {exc}") from None
        if key is None:
            return UNKNOWN_ID
        return self._vocab[column].get(key, UNKNOWN_ID)

    def numeric_value(self, column: str, value: Any, where: str) -> float:
        if value is None:
            return 0.0
        if isinstance(value, (int, float)):  # booleans too: True is 1.0
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                raise InputError(f"{where}.{column}: expected a number, got {value!r}") from None
        else:
            raise InputError(f"{where}.{column}: expected a number, got {type(value).__name__}")
        mean, std = self._stats[column]
        scaled = (number - mean) / std
        return scaled if math.isfinite(scaled) else 0.0

    def text_value(self, column: str, value: Any, where: str) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, _SCALARS):
            return value_key(value) or ""
        raise InputError(f"{where}.{column}: expected a string, got {type(value).__name__}")

    def list_value(self, column: str, value: Any, where: str) -> list[int]:
        try:
            return encode_list_value(
                value,
                buckets=self.spec.list_buckets,
                max_len=self.spec.list_max_len,
                key=value_key,
                vocabulary=self._list_vocab,
            )
        except ValueError as exc:  # InputError too (a value that is no id)
            raise InputError(f"{where}.{column}: {exc}") from None

    def encode_lists(self, rows: list[Mapping[str, Any]], where: list[str]) -> np.ndarray:
        """int64 [n, list columns, max_len]: each row's list columns as hashed slots, 0-padded."""
        out = np.zeros((len(rows), len(self.lists), self.spec.list_max_len), dtype=np.int64)
        for j, col in enumerate(self.lists):
            out[:, j] = pad_rows(
                [self.list_value(col, row.get(col), w) for row, w in zip(rows, where, strict=True)],
                self.spec.list_max_len,
            )
        return out

    def encode_rows(
        self, rows: list[Mapping[str, Any]], where: list[str]
    ) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
        """(categorical ids int64 [n, C], numerics float32 [n, N], texts [n][T]) for full rows."""
        n = len(rows)
        cat = np.zeros((n, len(self.categorical)), dtype=np.int64)
        num = np.zeros((n, len(self.numeric)), dtype=np.float32)
        texts: list[list[str]] = []
        for r, row in enumerate(rows):
            for j, col in enumerate(self.categorical):
                cat[r, j] = self.category_id(col, row.get(col), where[r])
            for j, col in enumerate(self.numeric):
                num[r, j] = self.numeric_value(col, row.get(col), where[r])
            texts.append([self.text_value(col, row.get(col), where[r]) for col in self.text])
        return cat, num, texts


def check_features(value: Any, where: str) -> dict[str, Any]:
    """A JSON object of feature values (scalars, or flat arrays of scalars for list columns), or
    InputError naming the bad field. Arrays become tuples, so a user's features stay hashable."""
    if not isinstance(value, Mapping):
        raise InputError(f"{where}: expected an object of feature values, got {_json_type(value)}")
    out = dict(value)
    for key, v in value.items():
        if isinstance(v, (list, tuple)):
            for x in v:
                if x is not None and not isinstance(x, _SCALARS):
                    raise InputError(
                        f"{where}.{key}: expected an array of item ids, got an element that is {_json_type(x)}"
                    )
            out[key] = tuple(v)
        elif v is not None and not isinstance(v, _SCALARS):
            raise InputError(f"{where}.{key}: expected a string, number, boolean or null, got {_json_type(v)}")
    return out


def _json_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    if value is None:
        return "null"
    return type(value).__name__

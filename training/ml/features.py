"""Which columns feed the model, and how their values become tensors.

A `FeatureSpec` names the columns by role. `fit` learns, from the training split only:
- a vocabulary per categorical column. Id 0 is the unknown bucket: it takes values never seen in
  training (or rarer than `min_count`, or beyond `max_vocab_size`) and missing values, so a new
  user or item at serving time still gets a prediction. Seen values get ids 1..len(vocab).
- mean and standard deviation per numeric column; a missing value becomes the mean (0 after
  standardization), so missing numerics carry no signal of their own.
Text columns are passed to the tokenizer as strings; missing text is the empty string.
List columns (a behaviour sequence: lists of item ids) become one field each (training/ml/sequence.py):
with `list_pooling` "attention" (the default when an item column is named) their ids are looked up
in the item column's vocabulary, so only items seen in training count; with "mean" they are hashed.

The fitted spec is JSON-serializable (`to_dict` / `from_dict`) and travels in the model artifact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

UNKNOWN_ID = 0


class SpecError(ValueError):
    """Bad training input (a column, a label, a parameter, a base model); the API returns it as 400."""


_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no"}


@dataclass
class FeatureSpec:
    label_column: str
    text_columns: list[str] = field(default_factory=list)
    categorical_columns: list[str] = field(default_factory=list)
    numeric_columns: list[str] = field(default_factory=list)
    user_column: str | None = None
    item_column: str | None = None
    list_columns: list[str] = field(default_factory=list)  # lists of item ids, pooled (sequence.py)
    list_buckets: int = 100_003  # hash slots of the list columns' embedding table (slot 0 pads)
    list_max_len: int = 50  # the last ids of a list that count
    # "attention" (target attention over the item embeddings; needs item_column) or "mean" (hashed
    # ids, own table); None: "attention" with an item column, else "mean". fit() decides.
    list_pooling: str | None = None
    # Learned by fit():
    vocabularies: dict[str, list[str]] = field(default_factory=dict)
    numeric_stats: dict[str, dict[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.text_columns = list(self.text_columns or [])
        self.categorical_columns = list(self.categorical_columns or [])
        self.numeric_columns = list(self.numeric_columns or [])
        self.list_columns = list(self.list_columns or [])
        self.user_column = self.user_column or None
        self.item_column = self.item_column or None

    # -- definition ---------------------------------------------------------------------------

    @property
    def categorical_features(self) -> list[str]:
        """Categorical columns; the user and item columns are always categorical features."""
        cols = list(self.categorical_columns)
        for extra in (self.user_column, self.item_column):
            if extra and extra not in cols:
                cols.append(extra)
        return cols

    @property
    def feature_columns(self) -> list[str]:
        return [*self.text_columns, *self.categorical_features, *self.numeric_columns, *self.list_columns]

    @property
    def is_fitted(self) -> bool:
        return set(self.vocabularies) == set(self.categorical_features) and set(self.numeric_stats) == set(
            self.numeric_columns
        )

    def check_definition(self) -> None:
        if not self.label_column:
            raise SpecError("label_column is required")
        if not self.feature_columns:
            raise SpecError("name at least one text, categorical or numeric column")
        seen: dict[str, str] = {}
        roles = [
            ("text", self.text_columns),
            ("categorical", self.categorical_columns),
            ("numeric", self.numeric_columns),
            ("list", self.list_columns),
        ]
        for role, cols in roles:
            for col in cols:
                if not isinstance(col, str) or not col:
                    raise SpecError(f"{role} column names must be non-empty strings, got {col!r}")
                if col in seen:
                    raise SpecError(f"column '{col}' is named as both {seen[col]} and {role}")
                seen[col] = role
        for role, col in (("user_column", self.user_column), ("item_column", self.item_column)):
            if col is not None and seen.get(col, "categorical") != "categorical":
                raise SpecError(f"{role} '{col}' is also named as a {seen[col]} column")
        if self.label_column in self.feature_columns:
            raise SpecError(f"label column '{self.label_column}' is also named as a feature")
        if self.list_pooling not in (None, "mean", "attention"):
            raise SpecError(f"list_pooling must be 'mean' or 'attention', got {self.list_pooling!r}")
        if self.list_columns and self.list_pooling == "attention" and not self.item_column:
            raise SpecError("list_pooling 'attention' attends from the candidate item: name item_column")
        if self.list_columns:
            for name, value, low in (("list_buckets", self.list_buckets, 2), ("list_max_len", self.list_max_len, 1)):
                if isinstance(value, bool) or not isinstance(value, int) or value < low:
                    raise SpecError(f"{name} must be an integer >= {low}, got {value!r}")

    def check_list_types(self, schema: pa.Schema) -> None:
        """SpecError naming a list column whose type training cannot pool (not a list of ids)."""
        from training.ml.sequence import check_list_type

        for col in self.list_columns:
            if col in schema.names:
                check_list_type(col, schema.field(col).type)

    def check_columns(self, column_names: list[str], *, need_label: bool = True) -> None:
        """Raise SpecError naming every column the spec uses that the table lacks."""
        wanted = ([self.label_column] if need_label else []) + self.feature_columns
        missing = [c for c in dict.fromkeys(wanted) if c not in set(column_names)]
        if missing:
            names = ", ".join(f"'{c}'" for c in missing)
            raise SpecError(f"column(s) {names} not found; the table has: {', '.join(column_names)}")

    # -- fitting --------------------------------------------------------------------------------

    def fit(self, table: pa.Table, *, min_count: int = 1, max_vocab_size: int = 1_000_000) -> FeatureSpec:
        """A copy of this spec with vocabularies and scalers learned from `table` (the train split)."""
        self.check_definition()
        self.check_columns(table.column_names)
        self.labels(table)  # refuses a non-binary label before any work
        self.check_list_types(table.schema)
        vocabularies = {
            col: _fit_vocabulary(table.column(col), min_count, max_vocab_size) for col in self.categorical_features
        }
        stats = {col: _fit_scaler(col, table.column(col)) for col in self.numeric_columns}
        return replace(self, vocabularies=vocabularies, numeric_stats=stats, list_pooling=self.resolved_list_pooling)

    @property
    def resolved_list_pooling(self) -> str:
        if self.list_pooling is not None:
            return self.list_pooling
        return "attention" if self.item_column else "mean"

    def list_vocabulary(self) -> dict[str, int] | None:
        """Item id string -> categorical id, the slots of list ids under attention pooling; None
        under mean pooling (hashed)."""
        from training.ml.sequence import item_vocabulary

        if self.resolved_list_pooling != "attention":
            return None
        self._require_fitted()
        assert self.item_column is not None
        return item_vocabulary(self.vocabularies[self.item_column])

    # -- encoding -------------------------------------------------------------------------------

    def labels(self, table: pa.Table) -> np.ndarray:
        """The label as float32 0/1; SpecError if it is missing anywhere or not binary."""
        col = self.label_column
        if col not in table.column_names:
            raise SpecError(f"label column '{col}' not found")
        return binary_labels(col, table.column(col))

    def categorical_ids(self, table: pa.Table) -> np.ndarray:
        """int64 [rows, categorical features]; unknown and missing values are id 0."""
        self._require_fitted()
        out = np.zeros((table.num_rows, len(self.categorical_features)), dtype=np.int64)
        for j, col in enumerate(self.categorical_features):
            if col not in table.column_names:
                continue  # serving may omit a feature: it is missing, i.e. the unknown bucket
            vocab = pa.array(self.vocabularies[col], type=pa.string())
            idx = pc.index_in(_as_strings(table.column(col)), value_set=vocab)
            out[:, j] = pc.fill_null(pc.add(idx, 1), UNKNOWN_ID).to_numpy()
        return out

    def numeric_values(self, table: pa.Table) -> np.ndarray:
        """float32 [rows, numeric columns], standardized; missing values are the mean."""
        self._require_fitted()
        out = np.zeros((table.num_rows, len(self.numeric_columns)), dtype=np.float32)
        for j, col in enumerate(self.numeric_columns):
            if col not in table.column_names:
                continue
            values = _as_floats(col, table.column(col))
            st = self.numeric_stats[col]
            standardized = (values - st["mean"]) / st["std"]
            out[:, j] = np.where(np.isfinite(standardized), standardized, 0.0)
        return out

    def list_slots(self, table: pa.Table) -> np.ndarray:
        """int64 [rows, list columns, list_max_len]: hashed ids, 0-padded; a missing column is empty."""
        from training.ml.sequence import encode_lists

        out = np.zeros((table.num_rows, len(self.list_columns), self.list_max_len), dtype=np.int64)
        vocabulary = self.list_vocabulary() if self.list_columns else None
        for j, col in enumerate(self.list_columns):
            if col in table.column_names:
                out[:, j] = encode_lists(
                    table.column(col),
                    name=col,
                    buckets=self.list_buckets,
                    max_len=self.list_max_len,
                    vocabulary=vocabulary,
                )
        return out

    def text_values(self, table: pa.Table) -> list[pa.ChunkedArray]:
        """One string array per text column; missing text (or a missing column) is ''."""
        out = []
        for col in self.text_columns:
            if col in table.column_names:
                out.append(pc.fill_null(_as_strings(table.column(col)), ""))
            else:
                out.append(pa.chunked_array([pa.array([""] * table.num_rows, pa.string())]))
        return out

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise RuntimeError("FeatureSpec.fit() must run before encoding")

    # -- serialization --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        lists = (
            {
                "list_columns": list(self.list_columns),
                "list_buckets": self.list_buckets,
                "list_max_len": self.list_max_len,
                "list_pooling": self.list_pooling,
            }
            if self.list_columns
            else {}
        )
        return {
            **lists,
            "label_column": self.label_column,
            "text_columns": list(self.text_columns),
            "categorical_columns": list(self.categorical_columns),
            "numeric_columns": list(self.numeric_columns),
            "user_column": self.user_column,
            "item_column": self.item_column,
            "unknown_id": UNKNOWN_ID,
            "vocabularies": {k: list(v) for k, v in self.vocabularies.items()},
            "numeric_stats": {k: dict(v) for k, v in self.numeric_stats.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        return cls(
            label_column=data["label_column"],
            text_columns=data.get("text_columns") or [],
            categorical_columns=data.get("categorical_columns") or [],
            numeric_columns=data.get("numeric_columns") or [],
            user_column=data.get("user_column"),
            item_column=data.get("item_column"),
            list_columns=data.get("list_columns") or [],
            list_buckets=100_003 if data.get("list_buckets") is None else data["list_buckets"],
            list_max_len=50 if data.get("list_max_len") is None else data["list_max_len"],
            # A spec saved before attention pooling existed pooled by the mean.
            list_pooling=data.get("list_pooling") or ("mean" if data.get("vocabularies") else None),
            vocabularies={k: list(v) for k, v in (data.get("vocabularies") or {}).items()},
            numeric_stats={k: dict(v) for k, v in (data.get("numeric_stats") or {}).items()},
        )


def binary_labels(name: str, column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    nulls = column.null_count
    if nulls:
        raise SpecError(f"label column '{name}' has {nulls} missing value(s)")
    typ = column.type
    if pa.types.is_boolean(typ):
        return column.to_numpy(zero_copy_only=False).astype(np.float32)
    if pa.types.is_integer(typ) or pa.types.is_floating(typ):
        values = column.to_numpy(zero_copy_only=False).astype(np.float64)
        distinct = np.unique(values)
        if not set(distinct.tolist()) <= {0.0, 1.0}:
            shown = ", ".join(_fmt(v) for v in distinct[:5])
            raise SpecError(
                f"label column '{name}' must be binary (0/1); it has {len(distinct)} distinct values, e.g. {shown}"
            )
        return values.astype(np.float32)
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_dictionary(typ):
        strings = pc.utf8_lower(pc.utf8_trim_whitespace(_as_strings(column)))
        distinct = set(pc.unique(strings).to_pylist())
        if not distinct <= _TRUE | _FALSE:
            raise SpecError(
                f"label column '{name}' must be binary (0/1 or true/false); it has {len(distinct)} distinct values"
            )
        is_true = pc.is_in(strings, value_set=pa.array(sorted(_TRUE)))
        return is_true.to_numpy(zero_copy_only=False).astype(np.float32)
    raise SpecError(f"label column '{name}' has type {typ}; it must be binary (0/1)")


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _as_strings(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_floating(column.type):
        # 24.0 and 24 must land in the same bucket whether the column arrived as int or float.
        arr = column.to_numpy(zero_copy_only=False)
        integral = np.isfinite(arr) & (np.floor(arr) == arr)
        if integral[~np.isnan(arr)].all():
            masked = pa.array(np.where(np.isnan(arr), 0, arr).astype(np.int64), mask=np.isnan(arr))
            column = masked
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    if column.type == pa.string():
        return column
    return column.cast(pa.string())


def _as_floats(name: str, column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    typ = column.type
    if not (pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ)):
        if pa.types.is_null(typ):
            return np.full(len(column), np.nan)
        try:
            column = column.cast(pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise SpecError(f"numeric column '{name}' has non-numeric values ({typ})") from exc
    values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return values.astype(np.float64)


def _fit_vocabulary(column: pa.ChunkedArray, min_count: int, max_size: int) -> list[str]:
    counts = pc.value_counts(_as_strings(column).drop_null())
    values = counts.field("values").to_pylist()
    freqs = counts.field("counts").to_pylist()
    # Most frequent first, ties by value, so the same data always gives the same ids.
    ranked = sorted(
        ((v, c) for v, c in zip(values, freqs, strict=True) if c >= min_count),
        key=lambda vc: (-vc[1], vc[0]),
    )
    return [v for v, _ in ranked[:max_size]]


def _fit_scaler(name: str, column: pa.ChunkedArray) -> dict[str, float]:
    values = _as_floats(name, column)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"mean": 0.0, "std": 1.0}
    mean = float(finite.mean())
    std = float(finite.std())
    if not math.isfinite(std) or std < 1e-12:
        std = 1.0
    return {"mean": mean, "std": std}

"""The wide part of the model: a sparse linear term over hashed words and categorical crosses.

Wide & Deep style: beside the text tower and the factorization head, the logit gets
`sum(w[b] for b in the row's buckets)`, where the buckets are
- the lower-cased word unigrams and bigrams of each text column (`title:toy`, `title:toy story`),
- crosses of two categorical features on the same side (`age=24&gender=F`),
hashed (MurmurHash3, as scikit-learn's HashingVectorizer) into `buckets - 1` slots; bucket 0 is
padding. So the model holds what a bag-of-words logistic regression holds, trained jointly with
the deep part, and cannot easily do worse than that baseline where words carry the signal.

Every bucket depends on one side's features only (item text and item-item crosses, or user /
context text and user-user crosses): the wide term is wide_item + wide_user, so serving
precomputes the item side once per version like the head's other item-only terms
(head_split.py). Pairs across the sides are the factorization head's job. No Django here.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from sklearn.utils import murmurhash3_32

_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern
# Bucket ids are < buckets <= 2**24 (params.py), so int32 holds them at half int64's bytes: the ids
# are a text-heavy job's biggest array (rows x hundreds of n-grams). nn.EmbeddingBag takes int32.
ID_DTYPE = np.int32


@dataclass
class WideSpec:
    buckets: int
    text_columns: list[str] = field(default_factory=list)
    crosses: list[list[str]] = field(default_factory=list)  # pairs of categorical columns
    item_text_columns: list[str] = field(default_factory=list)  # the item-side subset
    item_crosses: list[list[str]] = field(default_factory=list)
    max_tokens: int = 256  # word n-grams kept per text value (a long review: its words, then bigrams)

    def __post_init__(self) -> None:
        if self.buckets > np.iinfo(ID_DTYPE).max + 1:
            raise ValueError(f"{self.buckets} wide buckets do not fit int32 ids")

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys([*self.text_columns, *(c for pair in self.crosses for c in pair)]))

    @property
    def empty(self) -> bool:
        return not self.text_columns and not self.crosses

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WideSpec:
        return cls(**data)

    # -- features ---------------------------------------------------------------------------------

    def _parts(self, side: str | None) -> tuple[list[str], list[list[str]]]:
        if side is None:
            return self.text_columns, self.crosses
        item_text, item_crosses = set(self.item_text_columns), {tuple(p) for p in self.item_crosses}
        if side == "item":
            return [c for c in self.text_columns if c in item_text], [
                p for p in self.crosses if tuple(p) in item_crosses
            ]
        if side == "user":
            return (
                [c for c in self.text_columns if c not in item_text],
                [p for p in self.crosses if tuple(p) not in item_crosses],
            )
        raise ValueError(f"side must be None, 'item' or 'user', not {side!r}")

    def ids(self, rows: Sequence[Mapping[str, Any]] | pa.Table, *, side: str | None = None) -> np.ndarray:
        """Bucket ids int32 [rows, L] (0 = padding) of the rows' wide features: all of them, or one
        side's ("item" or "user"). Missing columns or values add nothing."""
        texts, crosses = self._parts(side)
        if isinstance(rows, pa.Table):
            wanted = [c for c in dict.fromkeys([*texts, *(c for p in crosses for c in p)]) if c in rows.column_names]
            rows = rows.select(wanted).to_pylist()
        # A text's ids are kept as an int32 array (4 bytes an id, not a Python int's 30-odd), each row
        # as its parts, until one copy into the padded array.
        cache: dict[tuple[str, str], np.ndarray] = {}
        per_row: list[list[np.ndarray]] = []
        for row in rows:
            parts: list[np.ndarray] = []
            for col in texts:
                value = row.get(col)
                if value is None or value == "":
                    continue
                key = (col, str(value))
                hit = cache.get(key)
                if hit is None:
                    grams = ngrams(str(value), self.max_tokens)
                    hit = cache[key] = np.array([self._bucket(f"{col}:{g}") for g in grams], dtype=ID_DTYPE)
                parts.append(hit)
            crossed = [
                self._bucket(f"{a}={_norm(row.get(a))}&{b}={_norm(row.get(b))}")
                for a, b in crosses
                if row.get(a) is not None and row.get(b) is not None
            ]
            if crossed:
                parts.append(np.array(crossed, dtype=ID_DTYPE))
            per_row.append(parts)
        width = max((sum(len(p) for p in parts) for parts in per_row), default=0)
        out = np.zeros((len(per_row), width), dtype=ID_DTYPE)
        for i, parts in enumerate(per_row):
            at = 0
            for p in parts:
                out[i, at : at + len(p)] = p
                at += len(p)
        return out

    def _bucket(self, key: str) -> int:
        return 1 + murmurhash3_32(key, seed=0, positive=True) % (self.buckets - 1)


def ngrams(text: str, limit: int) -> list[str]:
    """Distinct lower-cased word unigrams and bigrams, in order, at most `limit`."""
    words = _TOKEN.findall(text.lower())
    grams = list(dict.fromkeys([*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))]))
    return grams[:limit]


def _norm(value: Any) -> str:
    """One spelling per value whether it came from Arrow (24.0) or JSON (24, "24")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def build_wide_spec(
    *,
    buckets: int,
    text_columns: Sequence[str],
    categorical_features: Sequence[str],
    item_level: set[str],
    id_columns: Sequence[str | None],
) -> WideSpec | None:
    """The wide features of a model: every text column, and crosses of the categorical features
    within each side (the user and item id columns excluded: an id already names its row's
    other values). None when there is nothing to put in it or `buckets` is 0."""
    if buckets <= 1:
        return None
    ids = {c for c in id_columns if c}
    cats = [c for c in categorical_features if c not in ids]
    item_cats = [c for c in cats if c in item_level]
    user_cats = [c for c in cats if c not in item_level]
    item_crosses = [list(p) for p in itertools.combinations(item_cats, 2)]
    user_crosses = [list(p) for p in itertools.combinations(user_cats, 2)]
    spec = WideSpec(
        buckets=buckets,
        text_columns=list(text_columns),
        crosses=item_crosses + user_crosses,
        item_text_columns=[c for c in text_columns if c in item_level],
        item_crosses=item_crosses,
    )
    return None if spec.empty else spec

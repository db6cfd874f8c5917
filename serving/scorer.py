"""Scores candidates for users with one loaded model version, running only the light part of the model.

Known items take the fast path: `training.ml.head_split.HeadSplit` splits the model's head into
item parts, computed here once per model version for every item of the artifact, and user parts,
computed once per request (and remembered for repeat users), so a request for 1,000 known items
costs a gather, a dot product and, with an MLP, its remaining layers. Candidates with features of
their own take the full head on encoded rows.

Correctness does not rest on the split alone: at load time the scorer compares its answers with
the artifact's own `Predictor` on sample rows and falls back to the plain head ("full") or to the
predictor itself when they disagree, so a change in the model's layout cannot silently change
scores.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from serving.encoding import FeatureEncoder, InputError, check_features, value_key
from training.ml.head_split import HeadSplit, SideParts
from training.ml.linear_blend import sigmoid
from training.ml.predictor import Predictor

log = logging.getLogger(__name__)

# Largest disagreement (in probability) with the predictor tolerated by the load-time check;
# float32 sums in another order differ by ~1e-7.
_CHECK_TOLERANCE = 1e-4
_ID_TYPES = (str, int)  # exact types: bool, a subclass of int, is not an id
_USER_CACHE_SIZE = 4096


class Scorer:
    """Scores candidates for users with one model version; thread-safe for concurrent reads."""

    def __init__(
        self, predictor: Predictor, *, users: Mapping[str, Mapping[str, Any]] | None = None, check: bool = True
    ) -> None:
        spec = predictor.spec
        if not spec.item_column:
            raise ValueError("this model was trained without an item column; it cannot rank items")
        self.predictor = predictor
        self.spec = spec
        self.model = predictor.model.eval()
        self.device = predictor.device
        self.encoder = FeatureEncoder(spec)
        self.item_column: str = spec.item_column
        self.user_column = spec.user_column
        self.item_level = frozenset([spec.item_column, *predictor.item_columns])
        self.users = {str(k): dict(v) for k, v in (users or {}).items()}
        self._user_cache: OrderedDict[tuple, SideParts] = OrderedDict()
        self._user_lock = threading.Lock()
        self._text_lock = threading.Lock()

        self._cat_item = [j for j, c in enumerate(self.encoder.categorical) if c in self.item_level]
        self._cat_user = [j for j, c in enumerate(self.encoder.categorical) if c not in self.item_level]
        self._text_item = [j for j, c in enumerate(self.encoder.text) if c in self.item_level]
        self._text_user = [j for j, c in enumerate(self.encoder.text) if c not in self.item_level]
        self._num_item = [j for j, c in enumerate(self.encoder.numeric) if c in self.item_level]
        self._num_user = [j for j, c in enumerate(self.encoder.numeric) if c not in self.item_level]

        items = predictor.items
        ids = [] if items is None else items.column(spec.item_column).to_pylist()
        self.item_index: dict[str, int] = {str(v): i for i, v in enumerate(ids)}
        self._lookup: dict[str | int, int] = dict(self.item_index)
        for key, pos in self.item_index.items():
            if key.lstrip("-").isdigit() and str(int(key)) == key:
                self._lookup[int(key)] = pos
        self._item_rows: list[dict[str, Any]] | None = None
        if items is not None and len(ids):
            _, emb = predictor.item_embeddings()  # [items, item text columns, hidden]
            self._item_text = torch.from_numpy(np.ascontiguousarray(emb)).to(self.device)
            self._item_cat = torch.from_numpy(spec.categorical_ids(items)[:, self._cat_item]).to(self.device)
            self._item_num = torch.from_numpy(spec.numeric_values(items)[:, self._num_item]).to(self.device)
            # The wide part's item-side buckets: precomputed into the item parts below.
            self._item_wide = predictor.wide_ids(items, side="item")
        else:
            self._item_wide = predictor.wide_ids([], side="item")
            hidden = self.model.head_config.text_dim
            self._item_text = torch.zeros(0, len(self._text_item), hidden, device=self.device)
            self._item_cat = torch.zeros(0, len(self._cat_item), dtype=torch.long, device=self.device)
            self._item_num = torch.zeros(0, len(self._num_item), device=self.device)

        # The item column's vocabulary id of every stored item, for the neighbourhood term.
        self._item_vocab_ids = np.zeros(0, dtype=np.int64)
        if items is not None and len(ids):
            self._item_vocab_ids = spec.categorical_ids(items)[:, spec.categorical_features.index(spec.item_column)]
        self.mode = "full"
        self._split: HeadSplit | None = None
        self._items: SideParts | None = None
        try:
            self._prepare_fast()
            self.mode = "fast"
        except (AttributeError, TypeError, ValueError, RuntimeError, IndexError) as exc:
            log.warning("serving: fast scoring disabled for this model layout (%s)", exc)
        if check:
            self.mode = self._check_against_predictor()

    # -- public ---------------------------------------------------------------------------------

    @property
    def n_items(self) -> int:
        return len(self.item_index)

    def rank(self, user: Any, candidates: Sequence[Any], k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(positions of the best candidates, best first, at most k; every candidate's score)."""
        scores = self.score([user], candidates, None)
        n = len(scores)
        if k is not None and k < n:
            top = np.argpartition(-scores, k - 1)[:k]
            order = top[np.argsort(-scores[top], kind="stable")]
        else:
            order = np.argsort(-scores, kind="stable")
        return order, scores

    def score(self, users: Sequence[Any], candidates: Sequence[Any], user_of: np.ndarray | None) -> np.ndarray:
        """Click probabilities (float64) for each candidate; candidate i belongs to users[user_of[i]]
        (all to users[0] when user_of is None)."""
        users = [self._user_features(u, f"user[{i}]" if len(users) > 1 else "user") for i, u in enumerate(users)]
        n = len(candidates)
        if user_of is None:
            user_of = np.zeros(n, dtype=np.int64)
        # Ids given as JSON strings or integers resolve with one dict lookup each (the lookup table
        # holds both spellings); everything else (objects, floats, unknown ids) takes the slow loop.
        lookup = self._lookup.get
        known = np.fromiter(
            (lookup(c, -1) if type(c) in _ID_TYPES else -1 for c in candidates), dtype=np.int64, count=n
        )
        given: dict[int, dict[str, Any]] = {}
        for i in np.flatnonzero(known < 0).tolist():
            cand = candidates[i]
            if isinstance(cand, Mapping):
                where = f"candidates[{i}]"
                feats = check_features(cand, where)
                if feats.get(self.item_column) is None:
                    raise InputError(f"{where}: missing '{self.item_column}'")
                key = value_key(feats[self.item_column])
                if len(feats) == 1 and key in self.item_index:
                    known[i] = self.item_index[key]
                else:
                    given[i] = feats
            else:
                try:
                    key = value_key(cand)
                except InputError as exc:
                    raise InputError(f"candidates[{i}]: {exc}") from None
                if isinstance(cand, bool) or key is None:
                    raise InputError(f"candidates[{i}]: expected an item id or an object with '{self.item_column}'")
                pos = self.item_index.get(key)
                if pos is None:
                    given[i] = {self.item_column: cand}
                else:
                    known[i] = pos
        with torch.inference_mode():
            if self.mode == "predictor":
                rows = [
                    self._merge(users[user_of[i]], given.get(i) or self._candidate_dict(candidates[i]))
                    for i in range(n)
                ]
                return self._predictor_scores(rows)
            out = np.empty(n, dtype=np.float64)
            use_fast = known >= 0 if self.mode == "fast" else np.zeros(n, dtype=bool)
            fast = np.flatnonzero(use_fast)
            if len(fast):
                out[fast] = self._score_fast(users, known[fast], user_of[fast])
            slow = np.flatnonzero(~use_fast)
            if len(slow):
                rows = [
                    self._merge(users[user_of[i]], given.get(i) or self._candidate_dict(candidates[i])) for i in slow
                ]
                out[slow] = self._score_full(rows, [f"candidates[{i}]" for i in slow])
        return out

    def warm(self, rounds: int = 3, n_candidates: int = 1000) -> None:
        """Run a few requests of the usual shape (a plausible user, up to `n_candidates` known items)
        so that the first real ones do not pay first-call costs (allocations, lazy tables, kernels)."""
        ids = list(self.item_index)[:n_candidates]
        if not ids:
            return
        user = self.sample_user()
        with torch.inference_mode():
            for _ in range(rounds):
                self.rank(user, ids, 10)
                self.rank({}, ids[:10], 10)
        with self._user_lock:
            self._user_cache.clear()  # the sample users are not real ones

    # -- user features --------------------------------------------------------------------------

    def _user_features(self, user: Any, where: str) -> dict[str, Any]:
        if user is None:
            return {}
        if not isinstance(user, Mapping):
            if self.user_column is None:
                raise InputError(f"{where}: expected an object of feature values")
            user = {self.user_column: user}
        feats = check_features(user, where)
        if self.user_column and self.users and feats.get(self.user_column) is not None:
            stored = self.users.get(value_key(feats[self.user_column]) or "")
            if stored:
                feats = {**stored, **feats}
        return feats

    # -- fast path: precomputed item parts + per-request user parts ------------------------------

    def _prepare_fast(self) -> None:
        head = self.model.head_config
        groups = (len(head.vocab_sizes), head.n_text, head.n_numeric)
        if groups != (len(self.encoder.categorical), len(self.encoder.text), len(self.encoder.numeric)):
            raise ValueError("head config and feature spec disagree")
        split = HeadSplit(
            self.model, item_categorical=self._cat_item, item_text=self._text_item, item_numeric=self._num_item
        )
        with torch.inference_mode():
            self._items = split.item_parts(self._item_cat, self._item_text, self._item_num, self._item_wide)
        self._split = split

    def _user_parts(self, users: Sequence[Mapping[str, Any]]) -> SideParts:
        assert self._split is not None
        enc = self.encoder
        where = [f"user[{i}]" if len(users) > 1 else "user" for i in range(len(users))]
        rows = list(zip(users, where, strict=True))
        cat_ids = torch.tensor(
            [
                [enc.category_id(enc.categorical[j], u.get(enc.categorical[j]), w) for j in self._cat_user]
                for u, w in rows
            ],
            dtype=torch.long,
            device=self.device,
        ).reshape(len(users), len(self._cat_user))
        nums = torch.tensor(
            [[enc.numeric_value(enc.numeric[j], u.get(enc.numeric[j]), w) for j in self._num_user] for u, w in rows],
            dtype=torch.float32,
            device=self.device,
        ).reshape(len(users), len(self._num_user))
        if self._text_user:
            texts = [[enc.text_value(enc.text[j], u.get(enc.text[j]), w) for j in self._text_user] for u, w in rows]
            flat = self._text_embeddings([t for row in texts for t in row])
            text_emb = flat.reshape(len(users), len(self._text_user), -1)
        else:
            text_emb = torch.zeros(len(users), 0, 0, device=self.device)
        lists = None
        if enc.lists:  # behaviour sequences: always the user's (request's) side
            lists = torch.from_numpy(enc.encode_lists(list(users), where)).to(self.device)
        wide = self.predictor.wide_ids(list(users), side="user")
        return self._split.user_parts(cat_ids, text_emb, nums, wide, lists)

    def _cached_user_parts(self, user: Mapping[str, Any]) -> SideParts:
        """One user's parts, remembered: the same users come back request after request."""
        key = tuple(sorted(user.items()))
        with self._user_lock:
            hit = self._user_cache.get(key)
            if hit is not None:
                self._user_cache.move_to_end(key)
                return hit
        parts = self._user_parts([user])
        with self._user_lock:
            self._user_cache[key] = parts
            while len(self._user_cache) > _USER_CACHE_SIZE:
                self._user_cache.popitem(last=False)
        return parts

    def _score_fast(self, users: Sequence[Mapping[str, Any]], positions: np.ndarray, user_of: np.ndarray) -> np.ndarray:
        assert self._split is not None and self._items is not None
        items = self._items.take(torch.from_numpy(positions).to(self.device))
        if len(users) == 1:
            user = self._cached_user_parts(users[0])
        else:
            user = self._user_parts(users).take(torch.from_numpy(user_of).to(self.device))
        logits = self._split.logits(items, user).double().cpu().numpy()
        if self.predictor.neighbours is not None:
            logits = logits + self._neighbour_logits(users, positions, user_of)
        return sigmoid(logits)

    def _neighbour_logits(
        self, users: Sequence[Mapping[str, Any]], positions: np.ndarray, user_of: np.ndarray
    ) -> np.ndarray:
        """The neighbourhood term (training/ml/neighbours.py) for known items, by vocabulary ids."""
        neighbours = self.predictor.neighbours
        assert neighbours is not None and self.spec.user_column
        user_col = self.spec.user_column
        user_ids = np.array(
            [self.encoder.category_id(user_col, u.get(user_col), "user") for u in users], dtype=np.int64
        )
        return neighbours.logits(user_ids[user_of], self._item_vocab_ids[positions])

    # -- full path: any feature given per candidate --------------------------------------------

    def _candidate_dict(self, cand: Any) -> dict[str, Any]:
        if isinstance(cand, Mapping):
            return dict(cand)
        return {self.item_column: cand}

    def _merge(self, user: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
        """The row the model sees: user features, then the stored item's, then the candidate's own."""
        row = dict(user)
        pos = self.item_index.get(value_key(given.get(self.item_column)) or "")
        if pos is not None:
            row.update(self._stored_item(pos))
        row.update(given)
        return row

    def _stored_item(self, pos: int) -> dict[str, Any]:
        if self._item_rows is None:
            items = self.predictor.items
            assert items is not None
            self._item_rows = items.select([c for c in items.column_names if c in self.item_level]).to_pylist()
        return self._item_rows[pos]

    def _text_embeddings(self, texts: list[str]) -> torch.Tensor:
        # The predictor's text cache is a plain OrderedDict: one writer at a time (threaded servers).
        with self._text_lock:
            return self.predictor.text_embeddings(texts)

    def _score_full(self, rows: list[dict[str, Any]], where: list[str]) -> np.ndarray:
        enc = self.encoder
        cat, num, texts = enc.encode_rows(rows, where)
        text_emb = None
        if enc.text:
            flat = self._text_embeddings([t for row in texts for t in row])
            text_emb = flat.reshape(len(rows), len(enc.text), -1)
        lists = torch.from_numpy(enc.encode_lists(rows, where)).to(self.device) if enc.lists else None
        logits = self.model.score_from_parts(
            text_emb,
            torch.from_numpy(cat).to(self.device),
            torch.from_numpy(num).to(self.device),
            self.predictor.wide_ids(rows),
            lists=lists,
        )
        return sigmoid(logits.double().cpu().numpy() + self.predictor.neighbour_logits(cat))

    def _predictor_scores(self, rows: list[dict[str, Any]]) -> np.ndarray:
        import pyarrow as pa

        lists = set(self.spec.list_columns)
        clean = [
            {
                c: list(r[c]) if c in lists and isinstance(r.get(c), tuple) else r.get(c)
                for c in self.spec.feature_columns
            }
            for r in rows
        ]
        try:
            return self.predictor.predict(clean)
        except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
            raise InputError(f"features could not be read: {exc}") from None

    # -- load-time check ------------------------------------------------------------------------

    def sample_user(self) -> dict[str, Any]:
        """A plausible request: the most frequent value of each user-side categorical feature."""
        spec = self.spec
        user: dict[str, Any] = {}
        for col in spec.categorical_features:
            if col not in self.item_level and spec.vocabularies.get(col):
                user[col] = spec.vocabularies[col][0]
        for col in spec.numeric_columns:
            if col not in self.item_level:
                st = spec.numeric_stats[col]
                user[col] = st["mean"] + st["std"]
        for col in spec.text_columns:
            if col not in self.item_level:
                user[col] = "a sample request text"
        for col in spec.list_columns:
            user[col] = tuple(list(self.item_index)[:5])  # a short history of known items
        return user

    def _check_against_predictor(self) -> str:
        ids = list(self.item_index)[:16]
        if not ids:
            return self.mode
        users = [self.sample_user(), {}]
        with torch.inference_mode():
            for user in users:
                rows = [self._merge(user, {self.item_column: i}) for i in ids]
                expected = self._predictor_scores(rows)
                full = self._score_full(rows, ["check"] * len(rows))
                if not np.allclose(full, expected, atol=_CHECK_TOLERANCE, rtol=0):
                    log.warning("serving: head scores differ from the predictor's; using the predictor")
                    return "predictor"
                if self.mode == "fast":
                    pos = np.array([self.item_index[i] for i in ids], dtype=np.int64)
                    fast = self._score_fast([user], pos, np.zeros(len(ids), dtype=np.int64))
                    if not np.allclose(fast, expected, atol=_CHECK_TOLERANCE, rtol=0):
                        log.warning("serving: precomputed item parts disagree with the model; fast path off")
                        self.mode = "full"
        return self.mode

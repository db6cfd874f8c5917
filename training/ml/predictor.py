"""Scoring with a trained model, from an artifact directory or straight from training.

Serving must not run the encoder per request: the pooled embeddings of every item text are
computed once per model version (stored in the artifact), other texts are encoded in one batch
the first time they are seen and kept in a bounded cache, and each request runs only the head.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from training.ml import device as devices
from training.ml.features import FeatureSpec
from training.ml.linear_blend import sigmoid
from training.ml.model import CTRModel, HeadConfig
from training.ml.neighbours import Neighbours, id_fields
from training.ml.tables import TableLike, as_table
from training.ml.text import TokenStore, tokenize_texts
from training.ml.wide import WideSpec

_ROWS_PER_PASS = 16_384


class Predictor:
    def __init__(
        self,
        *,
        model: CTRModel,
        spec: FeatureSpec,
        tokenizer: Any | None,
        max_seq_len: int,
        config: dict[str, Any],
        items: pa.Table | None,
        item_columns: list[str],
        item_text_embeddings: np.ndarray | None = None,
        device: torch.device,
        max_cached_texts: int = 100_000,
        wide: WideSpec | None = None,
        neighbours: Neighbours | None = None,
    ) -> None:
        self.model = model.to(device).eval()
        self.spec = spec
        self.tokenizer = tokenizer
        self.max_seq_len = max_seq_len
        self.config = config
        self.device = device
        if (wide is None) != (model.wide is None):
            raise ValueError("the model's wide part and its wide spec must come together")
        self.wide = wide
        # The neighbourhood term (neighbours.py), added to the head's logit by user and item vocabulary ids.
        self.neighbours = neighbours if neighbours is not None and id_fields(spec) is not None else None
        self.item_columns = list(item_columns)
        self._text_cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._max_cached_texts = max_cached_texts
        self.items = items
        self._item_index: dict[str, int] = {}
        if items is not None and spec.item_column:
            ids = items.column(spec.item_column).to_pylist()
            self._item_index = {str(v): i for i, v in enumerate(ids)}
            self._prepare_items(item_text_embeddings)

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, *, device: str | None = None) -> Predictor:
        from training.ml.artifact import read_config, read_manifest
        from training.ml.base_model import load_encoder, load_tokenizer

        read_manifest(path)
        dev = devices.pick_device(device)
        spec = FeatureSpec.from_dict(json.loads((path / "feature_spec.json").read_text()))
        head = HeadConfig.from_dict(json.loads((path / "head_config.json").read_text()))
        config = read_config(path)
        encoder = tokenizer = None
        if head.n_text:
            encoder = load_encoder(str(path / "encoder"))
            tokenizer = load_tokenizer(str(path / "tokenizer"))
        model = CTRModel(encoder, head)
        state = torch.load(path / "head.pt", map_location="cpu", weights_only=True)
        missing, unexpected = model.load_state_dict(state, strict=False)
        # Artifacts from before the blend's temperature have no logit_scale: it stays 1.
        if unexpected or any(not k.startswith("encoder.") and k != "logit_scale" for k in missing):
            raise ValueError(f"{path}: head.pt does not match head_config.json")
        items = None
        if (path / "items.parquet").is_file():
            items = pq.read_table(path / "items.parquet")
        emb = None
        if (path / "item_text_embeddings.npy").is_file():
            emb = np.load(path / "item_text_embeddings.npy")
        wide = None
        if (path / "wide.json").is_file():
            wide = WideSpec.from_dict(json.loads((path / "wide.json").read_text()))
        neighbours = None
        if (path / "neighbours.npz").is_file():
            neighbours = Neighbours.load(path / "neighbours.npz", config.get("neighbours"))
        return cls(
            model=model,
            spec=spec,
            tokenizer=tokenizer,
            max_seq_len=int(config["params"]["max_seq_len"]),
            config=config,
            items=items,
            item_columns=config.get("item_columns") or [],
            item_text_embeddings=emb,
            device=dev,
            wide=wide,
            neighbours=neighbours,
        )

    @classmethod
    def from_training(cls, result) -> Predictor:  # result: TrainResult
        return cls(
            model=result.model,
            spec=result.spec,
            tokenizer=result.tokenizer,
            max_seq_len=result.params.max_seq_len,
            config={"params": result.params.to_dict(), "item_columns": result.item_columns},
            items=result.item_table,
            item_columns=result.item_columns,
            device=next(result.model.parameters()).device,
            wide=result.wide_spec,
            neighbours=result.neighbours,
        )

    # -- text embeddings ------------------------------------------------------------------------

    @torch.inference_mode()
    def text_embeddings(self, texts: Sequence[str]) -> torch.Tensor:
        """Pooled embeddings [n, hidden]; unseen texts are encoded together in one batched pass."""
        from training.ml.train import embed_texts

        missing = list(dict.fromkeys(t for t in texts if t not in self._text_cache))
        if missing:
            tokens = tokenize_texts(missing, self.tokenizer, max_length=self.max_seq_len)
            store = TokenStore(tokens, self.device)
            emb = embed_texts(self.model, store, np.arange(len(missing)), self.device)
            for text, row in zip(missing, emb, strict=True):
                self._text_cache[text] = row
            while len(self._text_cache) > self._max_cached_texts:
                self._text_cache.popitem(last=False)
        hidden = self.model.head_config.text_dim
        if not texts:
            return torch.zeros(0, hidden, device=self.device)
        return torch.stack([self._text_cache[t] for t in texts])

    # -- scoring rows ---------------------------------------------------------------------------

    def predict(self, rows: TableLike) -> np.ndarray:
        """Click probabilities (float64 [n]) for rows holding the spec's feature columns."""
        return sigmoid(self.predict_logits(rows))

    @torch.inference_mode()
    def predict_logits(self, rows: TableLike) -> np.ndarray:
        table = as_table(rows)
        cat = torch.from_numpy(self.spec.categorical_ids(table)).to(self.device)
        num = torch.from_numpy(self.spec.numeric_values(table)).to(self.device)
        text = self._row_text_embeddings(table)
        logits = self._score(text, cat, num, self.wide_ids(table), self._lists(table))
        return logits + self.neighbour_logits(cat)

    def neighbour_logits(self, cat: torch.Tensor | np.ndarray) -> np.ndarray | float:
        """The neighbourhood term of rows given their categorical ids (0.0 without a term)."""
        if self.neighbours is None:
            return 0.0
        u, i = id_fields(self.spec)  # type: ignore[misc]
        ids = cat.cpu().numpy() if isinstance(cat, torch.Tensor) else np.asarray(cat)
        return self.neighbours.logits(ids[:, u], ids[:, i])

    def wide_ids(self, rows: pa.Table | Sequence[Mapping[str, Any]], side: str | None = None) -> torch.Tensor | None:
        """The wide part's bucket ids of rows (all features, or one side's), None without one."""
        if self.wide is None:
            return None
        return torch.from_numpy(self.wide.ids(rows, side=side)).to(self.device)

    def _lists(self, table: pa.Table) -> torch.Tensor | None:
        if not self.spec.list_columns:
            return None
        return torch.from_numpy(self.spec.list_slots(table)).to(self.device)

    def _row_text_embeddings(self, table: pa.Table) -> torch.Tensor | None:
        if not self.spec.text_columns:
            return None
        columns = [c.to_pylist() for c in self.spec.text_values(table)]
        distinct = list(dict.fromkeys(t for col in columns for t in col))
        position = {t: i for i, t in enumerate(distinct)}
        emb = self.text_embeddings(distinct)
        index = torch.tensor(
            [[position[t] for t in col] for col in columns], dtype=torch.long, device=self.device
        ).T.reshape(table.num_rows, len(columns))
        return emb[index]

    def _score(
        self,
        text: torch.Tensor | None,
        cat: torch.Tensor,
        num: torch.Tensor,
        wide: torch.Tensor | None = None,
        lists: torch.Tensor | None = None,
    ) -> np.ndarray:
        outs = []
        for s in range(0, cat.shape[0], _ROWS_PER_PASS):
            part = slice(s, s + _ROWS_PER_PASS)
            with devices.autocast(self.device):
                logits = self.model.score_from_parts(
                    None if text is None else text[part],
                    cat[part],
                    num[part],
                    None if wide is None else wide[part],
                    lists=None if lists is None else lists[part],
                )
            outs.append(logits.float().cpu())
        if not outs:
            return np.zeros(0, dtype=np.float64)
        return torch.cat(outs).numpy().astype(np.float64)

    # -- items ----------------------------------------------------------------------------------

    def item_ids(self) -> list[str]:
        return list(self._item_index)

    def item_embeddings(self) -> tuple[list[str], np.ndarray]:
        """(item ids, pooled embeddings [items, item text columns, hidden]) as cached for serving."""
        if self.items is None:
            raise ValueError("this model was trained without an item column")
        return self.item_ids(), self._item_text.cpu().numpy()

    def compute_item_text_embeddings(self) -> np.ndarray | None:
        if self.items is None or self._item_text.shape[1] == 0:
            return None
        return self._item_text.cpu().numpy()

    def _prepare_items(self, cached: np.ndarray | None) -> None:
        spec, items = self.spec, self.items
        assert items is not None and spec.item_column
        item_level = {spec.item_column, *self.item_columns}
        self._item_cat = torch.from_numpy(spec.categorical_ids(items)).to(self.device)
        self._item_num = torch.from_numpy(spec.numeric_values(items)).to(self.device)
        self._cat_from_item = torch.tensor([c in item_level for c in spec.categorical_features], device=self.device)
        self._num_from_item = torch.tensor([c in item_level for c in spec.numeric_columns], device=self.device)
        self._item_text_cols = [j for j, c in enumerate(spec.text_columns) if c in item_level]
        # The item side's wide buckets, once per version (wide.py: every bucket is one side's).
        self._item_wide = self.wide_ids(items, side="item")
        hidden = self.model.head_config.text_dim
        if cached is not None:
            self._item_text = torch.from_numpy(cached).to(self.device)
        elif self._item_text_cols:
            values = spec.text_values(items)
            cols = [values[j].to_pylist() for j in self._item_text_cols]
            flat = self.text_embeddings([t for col in cols for t in col])
            self._item_text = flat.reshape(len(cols), items.num_rows, hidden).transpose(0, 1)
        else:
            self._item_text = torch.zeros(items.num_rows, 0, hidden, device=self.device)

    @torch.inference_mode()
    def score(
        self,
        user_features: Mapping[str, Any],
        candidate_items: Sequence[Any],
    ) -> np.ndarray:
        """Click probabilities for one user (or request context) and candidate items, in order.

        A candidate is an item id, or a dict with the item column and feature values that
        override the stored ones. Known ids take their item-level features (and cached text
        embeddings) from the artifact, the rest (user, context) from `user_features`; unknown
        ids fall into the unknown bucket with missing item features unless given.
        """
        spec = self.spec
        if not spec.item_column:
            raise ValueError("this model was trained without an item column")
        keys = [None if isinstance(c, Mapping) else str(c) for c in candidate_items]
        if candidate_items and all(k is not None and k in self._item_index for k in keys):
            return sigmoid(self._score_known(user_features, [self._item_index[k] for k in keys]))
        return self.predict([self._merge(user_features, c) for c in candidate_items])

    def rank(
        self, user_features: Mapping[str, Any], candidate_items: Sequence[Any], k: int | None = None
    ) -> list[dict[str, Any]]:
        """[{"item_id", "score"}] best first, at most k."""
        scores = self.score(user_features, candidate_items)
        ids = [str(c.get(self.spec.item_column)) if isinstance(c, Mapping) else str(c) for c in candidate_items]
        order = np.argsort(-scores, kind="stable")
        if k is not None:
            order = order[:k]
        return [{"item_id": ids[i], "score": float(scores[i])} for i in order]

    def _score_known(self, user_features: Mapping[str, Any], positions: list[int]) -> np.ndarray:
        spec = self.spec
        user = as_table([dict(user_features)]) if user_features else pa.table({"_": [None]})
        pos = torch.tensor(positions, dtype=torch.long, device=self.device)
        n = len(positions)
        u_cat = torch.from_numpy(spec.categorical_ids(user)).to(self.device)
        u_num = torch.from_numpy(spec.numeric_values(user)).to(self.device)
        cat = torch.where(self._cat_from_item, self._item_cat[pos], u_cat.expand(n, -1))
        num = torch.where(self._num_from_item, self._item_num[pos], u_num.expand(n, -1))
        text = None
        if spec.text_columns:
            user_text = self._row_text_embeddings(user)[0]  # [T, hidden]
            text = user_text.unsqueeze(0).expand(n, -1, -1).clone()
            for slot, j in enumerate(self._item_text_cols):
                text[:, j] = self._item_text[pos, slot]
        wide = None
        if self.wide is not None:
            user_wide = self.wide_ids([dict(user_features)], side="user")
            wide = torch.cat([self._item_wide[pos], user_wide.expand(n, -1)], dim=1)
        lists = self._lists(user)
        logits = self._score(text, cat, num, wide, None if lists is None else lists.expand(n, -1, -1))
        return logits + self.neighbour_logits(cat)

    def _merge(self, user_features: Mapping[str, Any], candidate: Any) -> dict[str, Any]:
        item_col = self.spec.item_column
        assert item_col is not None
        given = dict(candidate) if isinstance(candidate, Mapping) else {item_col: candidate}
        row = dict(user_features)
        pos = self._item_index.get(str(given.get(item_col)))
        if pos is not None and self.items is not None:
            stored = self.items.slice(pos, 1).to_pylist()[0]
            row.update({c: stored[c] for c in self.item_columns})
        row.update(given)
        row[item_col] = None if given.get(item_col) is None else str(given[item_col])
        return row

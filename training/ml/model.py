"""The CTR model: a pre-trained text tower plus a factorization-machine head over all features.

Two halves, so serving can run only the light one:
- `encode_texts(input_ids, attention_mask)`: the encoder, mean pooled over real tokens. Serving
  runs it once per distinct item text per model version and caches the result.
- `score_from_parts(text_embeddings, categorical_ids, numerics)`: the head. Every feature becomes
  a field vector of one width k (categorical: an embedding, id 0 the unknown bucket; text: a
  projection of the layer-normed pooled embedding; numeric: a learned vector scaled by the
  standardized value). The logit is a bias + first-order terms + pairwise interactions + an
  optional MLP (DeepFM) over the concatenated fields.

Pairwise interactions, by `interaction`:
- "fm": every pair of fields (a factorization machine).
- "two_tower": only pairs across the item side and the rest, i.e. the dot product of the sum of
  the item's field vectors (id, genre, title, ...) with the sum of the user's and context's. Pairs
  inside one side (item id x its own genre) only restate what the id says and overfit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from training.ml.sequence import ListPooling, TargetAttention


@dataclass
class HeadConfig:
    vocab_sizes: list[int]  # per categorical feature, counting the unknown bucket
    n_text: int
    n_numeric: int
    text_dim: int = 0  # the encoder's hidden size; 0 without text columns
    embedding_dim: int = 64
    hidden_units: list[int] = field(default_factory=list)  # [] = no MLP
    dropout: float = 0.1
    interaction: str = "fm"  # or "two_tower"
    item_fields: list[int] = field(default_factory=list)  # field positions on the item side
    list_buckets: list[int] = field(default_factory=list)  # per list column (sequence.py): hash slots
    # "mean": hashed ids in a table of their own, averaged; "attention": item ids embedded with the
    # item column's own embedding (categorical position `list_item_field`), target attention (sequence.py).
    list_pooling: str = "mean"
    list_item_field: int = -1
    list_attention_units: int = 32
    list_dropout: float = 0.0  # attention: share of history items dropped per training row
    wide_buckets: int = 0  # the wide part's hashed buckets (wide.py); 0 = no wide part

    @property
    def n_fields(self) -> int:
        return len(self.vocab_sizes) + self.n_text + self.n_numeric + len(self.list_buckets)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HeadConfig:
        return cls(**data)


class CTRModel(nn.Module):
    def __init__(self, encoder: nn.Module | None, head: HeadConfig) -> None:
        super().__init__()
        if head.n_text and encoder is None:
            raise ValueError("text columns need an encoder")
        self.head_config = head
        self.encoder = encoder if head.n_text else None
        k = head.embedding_dim
        n_cat = len(head.vocab_sizes)
        offsets = torch.tensor([0, *head.vocab_sizes[:-1]], dtype=torch.long).cumsum(0)
        # One table for all categorical columns (offset per column): one lookup per batch.
        self.register_buffer("cat_offsets", offsets if n_cat else torch.zeros(0, dtype=torch.long))
        total = max(sum(head.vocab_sizes), 1)
        self.cat_embedding = nn.Embedding(total, k)
        self.cat_bias = nn.Embedding(total, 1)
        nn.init.normal_(self.cat_embedding.weight, std=0.01)
        nn.init.zeros_(self.cat_bias.weight)

        self.text_norm = nn.ModuleList(nn.LayerNorm(head.text_dim) for _ in range(head.n_text))
        self.text_proj = nn.ModuleList(nn.Linear(head.text_dim, k) for _ in range(head.n_text))
        self.text_linear = nn.ModuleList(nn.Linear(k, 1) for _ in range(head.n_text))

        self.numeric_vectors = nn.Parameter(torch.randn(head.n_numeric, k) * 0.01)
        self.numeric_linear = nn.Linear(head.n_numeric, 1) if head.n_numeric else None
        # List columns (behaviour sequences): one field each, the mean of hashed id embeddings, or the
        # candidate's target attention over the history's item embeddings (sequence.py).
        if head.list_pooling not in ("mean", "attention"):
            raise ValueError(f"unknown list pooling {head.list_pooling!r}")
        attention = head.list_pooling == "attention" and bool(head.list_buckets)
        if attention and not 0 <= head.list_item_field < n_cat:
            raise ValueError("attention over a list column needs the item column's categorical position")
        self.list_pooling = nn.ModuleList(() if attention else (ListPooling(b, k) for b in head.list_buckets))
        self.list_attention = nn.ModuleList(
            TargetAttention(k, head.list_attention_units, head.list_dropout) for _ in head.list_buckets if attention
        )
        self.list_affinity = nn.Parameter(torch.zeros(len(head.list_buckets))) if attention else None
        self.list_linear = nn.ModuleList(nn.Linear(k, 1) for _ in head.list_buckets)

        n_fields = head.n_fields
        if head.interaction not in ("fm", "two_tower"):
            raise ValueError(f"unknown interaction {head.interaction!r}")
        item_mask = torch.zeros(n_fields, 1)
        item_mask[list(head.item_fields)] = 1.0
        self.register_buffer("item_field_mask", item_mask)
        self.deep: nn.Sequential | None = None
        if head.hidden_units:
            layers: list[nn.Module] = []
            width = n_fields * k + head.n_numeric
            for units in head.hidden_units:
                layers += [nn.Linear(width, units), nn.ReLU(), nn.Dropout(head.dropout)]
                width = units
            layers.append(nn.Linear(width, 1))
            self.deep = nn.Sequential(*layers)
        self.bias = nn.Parameter(torch.zeros(1))
        # A temperature on the final logit, fitted after training (linear_blend.py); 1 = none. Artifacts
        # from before it load without it (strict=False) and keep 1.
        self.register_buffer("logit_scale", torch.ones(()))
        # Wide part: one weight per hashed bucket, summed over a row's buckets (0 = padding).
        self.wide: nn.EmbeddingBag | None = None
        if head.wide_buckets:
            self.wide = nn.EmbeddingBag(head.wide_buckets, 1, mode="sum", padding_idx=0)
            nn.init.zeros_(self.wide.weight)

    # -- text tower -----------------------------------------------------------------------------

    def encode_texts(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Mean-pooled encoder output [n, hidden] over the real (unpadded) tokens, float32."""
        assert self.encoder is not None
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if attention_mask is None:
            return hidden.mean(dim=1).float()
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return pooled.float()

    # -- head -----------------------------------------------------------------------------------

    def score_from_parts(
        self,
        text_embeddings: torch.Tensor | None,
        categorical_ids: torch.Tensor,
        numerics: torch.Tensor,
        wide_ids: torch.Tensor | None = None,
        *,
        lists: torch.Tensor | None = None,
        return_fields: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits [n] from pooled text embeddings [n, n_text, hidden], ids [n, C], numerics [n, N]
        and, with a wide part, its bucket ids [n, L] (0 = padding; wide.WideSpec.ids), and with list columns,
        hashed list slots [n, n_list, max_len] (fields after the numerics).

        With `return_fields`, also the field vectors [n, fields, k] (for the training penalty).
        """
        fields: list[torch.Tensor] = []
        first = self.bias.expand(categorical_ids.shape[0])
        if self.head_config.vocab_sizes:
            flat_ids = categorical_ids + self.cat_offsets
            fields.append(self.cat_embedding(flat_ids))
            first = first + self.cat_bias(flat_ids).sum(dim=(1, 2))
        for j in range(self.head_config.n_text):
            assert text_embeddings is not None
            projected = self.text_proj[j](self.text_norm[j](text_embeddings[:, j]))
            fields.append(projected.unsqueeze(1))
            first = first + self.text_linear[j](projected).squeeze(-1)
        if self.head_config.n_numeric:
            fields.append(numerics.unsqueeze(-1) * self.numeric_vectors)
            first = first + self.numeric_linear(numerics).squeeze(-1)
        for j, pooling in enumerate(self.list_pooling):
            assert lists is not None, "this model has list columns: pass lists="
            pooled = pooling(lists[:, j])
            fields.append(pooled.unsqueeze(1))
            first = first + self.list_linear[j](pooled).squeeze(-1)
        if len(self.list_attention):
            assert lists is not None, "this model has list columns: pass lists="
            f = self.head_config.list_item_field
            candidate = self.cat_embedding(categorical_ids[:, f] + self.cat_offsets[f])
            for j, (pooled, affinity) in enumerate(self.attend(lists, candidate)):
                fields.append(pooled.unsqueeze(1))
                first = first + self.list_linear[j](pooled).squeeze(-1) + self.list_affinity[j] * affinity
        stacked = torch.cat(fields, dim=1)  # [n, fields, k]
        summed = stacked.sum(dim=1)
        if self.head_config.interaction == "two_tower":
            item_side = (stacked * self.item_field_mask).sum(dim=1)
            pairwise = (item_side * (summed - item_side)).sum(dim=1)
        else:
            pairwise = 0.5 * (summed.pow(2) - stacked.pow(2).sum(dim=1)).sum(dim=1)
        logits = first + pairwise
        if self.wide is not None:
            if wide_ids is None:
                raise ValueError("this model has a wide part: pass its wide_ids")
            logits = logits + self.wide_term(wide_ids)
        if self.deep is not None:
            deep_in = stacked.flatten(1)
            if self.head_config.n_numeric:
                deep_in = torch.cat([deep_in, numerics], dim=1)
            logits = logits + self.deep(deep_in).squeeze(-1)
        logits = logits * self.logit_scale
        if return_fields:
            return logits.float(), stacked
        return logits.float()

    def attend(self, lists: torch.Tensor, candidate: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per list column, (field vector [n, k], affinity [n]) of histories [n, lists, L] (item
        categorical ids, 0 = padding) for candidates embedded as [n, k] (attention pooling only).
        The history's items are embedded with the candidate item's own table."""
        f = self.head_config.list_item_field
        out = []
        for j, attention in enumerate(self.list_attention):
            ids = lists[:, j]
            history = self.cat_embedding(ids + self.cat_offsets[f])
            out.append(attention(history, ids != 0, candidate))
        return out

    def wide_term(self, wide_ids: torch.Tensor) -> torch.Tensor:
        """The wide part's logit [n] of bucket ids [n, L] (int32 as WideSpec.ids makes them, or int64:
        nn.EmbeddingBag takes either, on the CPU and CUDA, and sums the same); zeros when L is 0."""
        assert self.wide is not None
        if wide_ids.shape[1] == 0:
            return torch.zeros(wide_ids.shape[0], device=wide_ids.device)
        return self.wide(wide_ids).squeeze(-1).float()

    def forward(
        self,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        text_index: torch.Tensor | None,
        categorical_ids: torch.Tensor,
        numerics: torch.Tensor,
        wide_ids: torch.Tensor | None = None,
        lists: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Full model: encode the batch's unique texts, then gather them per row by `text_index`.

        Returns (logits, field vectors) as `score_from_parts(..., return_fields=True)`.
        """
        text_embeddings = None
        if self.head_config.n_text:
            assert input_ids is not None and text_index is not None
            unique = self.encode_texts(input_ids, attention_mask)
            text_embeddings = unique[text_index]
        return self.score_from_parts(
            text_embeddings, categorical_ids, numerics, wide_ids, lists=lists, return_fields=True
        )

    # -- parameter groups -----------------------------------------------------------------------

    def encoder_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters()) if self.encoder is not None else []

    def head_state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.state_dict().items() if not k.startswith("encoder.")}

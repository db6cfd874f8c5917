"""`CTRModel`'s head split into an item side and a user side, so many items score at the cost of one.

The head (model.py) is additive over feature fields: the first-order terms are a sum over fields;
the pairwise interactions (a factorization machine over all fields, or two-tower: the item side's
sum dotted with the rest) split into terms within the item's fields, terms within the user's and
context's fields, and one dot product across; and the optional MLP's first Linear is a sum of one
block per field. So

    logit(user, item) = const_item + const_user + x_item . x_user  (+ MLP(h_item + h_user))

where each side's `SideParts` depend on that side's features alone. Serving computes the item
parts once per model version (every known item), the user parts once per request, and a request
for 1,000 items costs a gather, a dot product and, with an MLP, its remaining layers.

Constants that belong to no field (the bias, the numeric layer's bias, the first dense layer's
bias) ride on the user side, as do list columns (behaviour sequences: per request, never the
item's). Under target attention a list field is a function of the pair (sequence.py): the item side
keeps the candidate's id embedding, the user side its history ids, and `logits` runs the attention
per pair and adds the field's first-order term, its dot products with the other fields (in
two-tower, with the item side's sum) and its block of the first dense layer.
`tests/training/ml/test_head_split.py` checks the algebra against `CTRModel.score_from_parts` for
every interaction, with and without an MLP and with attention-pooled lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from training.ml.model import CTRModel


@dataclass
class SideParts:
    """What one side's fields contribute, per row."""

    const: torch.Tensor  # [n]: first-order terms and the interactions among this side's fields
    x: torch.Tensor  # [n, k] (fm) or [n, 2k] (two_tower): its dot product with the other side's x
    h: torch.Tensor | None  # [n, H]: this side's share of the first dense layer; None without an MLP
    # Target attention (sequence.py) is a function of the pair: the item side keeps the candidate's
    # id embedding [n, k], the user side its histories [n, list columns, L]; `logits` attends.
    candidate: torch.Tensor | None = None
    lists: torch.Tensor | None = None

    def take(self, index: torch.Tensor) -> SideParts:
        """The rows at `index` (a long tensor)."""

        def pick(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.index_select(0, index)

        return SideParts(
            self.const.index_select(0, index),
            self.x.index_select(0, index),
            pick(self.h),
            pick(self.candidate),
            pick(self.lists),
        )


@dataclass(frozen=True)
class _Side:
    categorical: list[int]  # positions among the categorical features
    text: list[int]  # among the text columns
    numeric: list[int]  # among the numeric columns


class HeadSplit:
    """The head of one `CTRModel`, split by which features belong to the item.

    `item_categorical`, `item_text` and `item_numeric` are positions within each feature group (in
    the spec's order: `categorical_features`, `text_columns`, `numeric_columns`); every other
    feature is on the user side. Raises ValueError for a model whose layout has no split form.
    """

    def __init__(
        self,
        model: CTRModel,
        *,
        item_categorical: Sequence[int],
        item_text: Sequence[int],
        item_numeric: Sequence[int],
    ) -> None:
        head = model.head_config
        n_cat, n_text, n_num = len(head.vocab_sizes), head.n_text, head.n_numeric
        if head.interaction not in ("fm", "two_tower"):
            raise ValueError(f"interaction {head.interaction!r} has no split form")
        self.item = _side(item_categorical, item_text, item_numeric, (n_cat, n_text, n_num))
        self.user = _Side(
            categorical=[j for j in range(n_cat) if j not in self.item.categorical],
            text=[j for j in range(n_text) if j not in self.item.text],
            numeric=[j for j in range(n_num) if j not in self.item.numeric],
        )
        self.model = model
        self.interaction = head.interaction
        self.k = head.embedding_dim
        self.device = model.bias.device
        self._n_cat, self._n_text, self._n_num = n_cat, n_text, n_num
        self.n_lists = len(head.list_buckets)
        # Under target attention the list fields are computed per (user, candidate) pair in `logits`;
        # the candidate is the item column's embedding, which must be on the item side.
        self.attention = bool(self.n_lists) and head.list_pooling == "attention"
        self._item_id_slot = -1
        if self.attention:
            if head.list_item_field not in self.item.categorical:
                raise ValueError("target attention needs the item column on the item side")
            self._item_id_slot = self.item.categorical.index(head.list_item_field)
        self._list_positions = [n_cat + n_text + n_num + j for j in range(self.n_lists)]
        self._item_side = model.item_field_mask.detach().reshape(-1)  # 0/1 per field (two-tower)

        self._w_fields = self._w_raw = None
        self._rest: nn.Module | None = None
        h_bias: torch.Tensor | float = 0.0
        if model.deep is not None:
            first_dense = model.deep[0]
            if not isinstance(first_dense, nn.Linear):
                raise ValueError("the deep part does not start with a Linear layer")
            n_fields = head.n_fields
            if first_dense.in_features != n_fields * self.k + n_num:
                raise ValueError("unexpected width of the first dense layer")
            weight = first_dense.weight.detach()
            self._w_fields = weight[:, : n_fields * self.k].reshape(weight.shape[0], n_fields, self.k)
            self._w_raw = weight[:, n_fields * self.k :]
            self._rest = model.deep[1:]
            h_bias = first_dense.bias.detach() if first_dense.bias is not None else 0.0
        const = model.bias.detach().reshape(()) * 1.0
        if n_num:
            const = const + model.numeric_linear.bias.detach().reshape(())
        self._const = const
        self._h_bias = h_bias

    # -- parts ------------------------------------------------------------------------------------

    def item_parts(
        self,
        categorical_ids: torch.Tensor,
        text_embeddings: torch.Tensor,
        numerics: torch.Tensor,
        wide_ids: torch.Tensor | None = None,
    ) -> SideParts:
        """Parts of n items from their own features only: ids [n, item categorical], pooled text
        embeddings [n, item text columns, hidden], standardized numerics [n, item numerics] and,
        with a wide part, the item side's wide bucket ids [n, L] (WideSpec.ids(..., side="item"))."""
        parts = self._parts(self.item, categorical_ids, text_embeddings, numerics, item_side=True)
        candidate = None
        if self.attention:
            f = self.model.head_config.list_item_field
            candidate = self.model.cat_embedding(categorical_ids[:, self._item_id_slot] + self.model.cat_offsets[f])
        return SideParts(parts.const + self._wide(wide_ids, parts.const), parts.x, parts.h, candidate)

    def user_parts(
        self,
        categorical_ids: torch.Tensor,
        text_embeddings: torch.Tensor,
        numerics: torch.Tensor,
        wide_ids: torch.Tensor | None = None,
        lists: torch.Tensor | None = None,
    ) -> SideParts:
        """Parts of n users (or request contexts), shaped as `item_parts` with the user's columns (wide ids:
        side="user"; hashed list slots [n, list columns, max_len]); they carry the constants of the head."""
        parts = self._parts(self.user, categorical_ids, text_embeddings, numerics, item_side=False, lists=lists)
        h = None if parts.h is None else parts.h + self._h_bias
        if self.attention and lists is None:
            raise ValueError("this model has list columns: pass lists=")
        kept = lists if self.attention else None
        return SideParts(parts.const + self._const + self._wide(wide_ids, parts.const), parts.x, h, lists=kept)

    def _wide(self, wide_ids: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | float:
        """The wide part's term of one side (it is additive over buckets, each one side's)."""
        if self.model.wide is None:
            return 0.0
        if wide_ids is None:
            raise ValueError("this model has a wide part: pass each side's wide_ids")
        return self.model.wide_term(wide_ids).to(like.dtype)

    def logits(self, items: SideParts, users: SideParts) -> torch.Tensor:
        """Logits [n] of item row i with user row i, or with the single user row for every item."""
        if users.const.shape[0] == 1:
            logits = items.const + users.const + items.x @ users.x[0]
        else:
            logits = items.const + users.const + (items.x * users.x).sum(dim=1)
        h = None
        if self._rest is not None:
            assert items.h is not None and users.h is not None
            h = items.h + users.h
        if self.attention:
            extra, h = self._attention_terms(items, users, h)
            logits = logits + extra
        if self._rest is not None:
            logits = logits + self._rest(h).squeeze(-1)
        return logits * self.model.logit_scale.to(logits.dtype)

    def _attention_terms(
        self, items: SideParts, users: SideParts, h: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What the list fields add for each (item, user) pair: their first-order terms, their
        interactions with every other field (and each other) and their share of the first dense layer."""
        m = self.model
        assert items.candidate is not None and users.lists is not None
        n = items.candidate.shape[0]
        lists = users.lists.expand(n, -1, -1) if users.lists.shape[0] == 1 else users.lists
        x_u = users.x.expand(n, -1) if users.x.shape[0] == 1 else users.x
        k = self.k
        extra = torch.zeros(n, device=self.device)
        fields = []
        for j, (pooled, affinity) in enumerate(m.attend(lists, items.candidate)):
            extra = extra + m.list_linear[j](pooled).squeeze(-1) + m.list_affinity[j] * affinity
            fields.append(pooled)
        if self.interaction == "fm":
            # The list fields with every field of both sides (x = each side's sum) and with each other.
            others = items.x + x_u
            for i, f in enumerate(fields):
                extra = extra + (f * others).sum(dim=1)
                for g in fields[i + 1 :]:
                    extra = extra + (f * g).sum(dim=1)
        else:
            # The list fields are never the item's: they meet the item-side sum (a_I + a_U).
            item_sum = items.x[:, :k] + x_u[:, k:]
            for f in fields:
                extra = extra + (f * item_sum).sum(dim=1)
        if h is not None:
            assert self._w_fields is not None
            stacked = torch.stack(fields, dim=1)  # [n, lists, k]
            h = h + torch.einsum("nfk,hfk->nh", stacked, self._w_fields[:, self._list_positions])
        return extra, h

    def _parts(
        self,
        side: _Side,
        cat_ids: torch.Tensor,
        text_emb: torch.Tensor,
        nums: torch.Tensor,
        *,
        item_side: bool,
        lists: torch.Tensor | None = None,
    ) -> SideParts:
        m = self.model
        n = cat_ids.shape[0]
        vectors: list[torch.Tensor] = []
        positions: list[int] = []  # the field position of each vector, as in score_from_parts
        first = torch.zeros(n, device=self.device)
        if side.categorical:
            flat = cat_ids + m.cat_offsets[side.categorical]
            vectors.append(m.cat_embedding(flat))
            first = first + m.cat_bias(flat).sum(dim=(1, 2))
            positions += side.categorical
        for slot, j in enumerate(side.text):
            projected = m.text_proj[j](m.text_norm[j](text_emb[:, slot]))
            vectors.append(projected.unsqueeze(1))
            first = first + m.text_linear[j](projected).squeeze(-1)
            positions.append(self._n_cat + j)
        if side.numeric:
            vectors.append(nums.unsqueeze(-1) * m.numeric_vectors[side.numeric])
            first = first + nums @ m.numeric_linear.weight[0, side.numeric]
            positions += [self._n_cat + self._n_text + j for j in side.numeric]
        if not item_side and not self.attention:
            for j in range(self.n_lists):
                if lists is None:
                    raise ValueError("this model has list columns: pass lists=")
                pooled = m.list_pooling[j](lists[:, j])
                vectors.append(pooled.unsqueeze(1))
                first = first + m.list_linear[j](pooled).squeeze(-1)
                positions.append(self._n_cat + self._n_text + self._n_num + j)
        stacked = torch.cat(vectors, dim=1) if vectors else torch.zeros(n, 0, self.k, device=self.device)
        total = stacked.sum(dim=1)  # [n, k]
        if self.interaction == "fm":
            # 0.5 * (|sum|^2 - sum of squares) splits into within-side terms and total_I . total_U.
            within = 0.5 * (total.pow(2).sum(dim=1) - stacked.pow(2).sum(dim=(1, 2)))
            x = total
        else:
            # item_side . (all - item_side): with A / B the item-side / other sums of each side,
            # (A_I + A_U) . (B_I + B_U) = A_I.B_I + A_U.B_U + [A_I, B_I] . [B_U, A_U].
            a = (stacked * self._item_side[positions].reshape(1, -1, 1)).sum(dim=1)
            b = total - a
            within = (a * b).sum(dim=1)
            x = torch.cat([a, b], dim=1) if item_side else torch.cat([b, a], dim=1)
        h = None
        if self._w_fields is not None:
            h = torch.einsum("nfk,hfk->nh", stacked, self._w_fields[:, positions])
            if side.numeric:
                h = h + nums @ self._w_raw[:, side.numeric].T
        return SideParts(first + within, x, h)


def _side(
    categorical: Sequence[int], text: Sequence[int], numeric: Sequence[int], sizes: tuple[int, int, int]
) -> _Side:
    side = _Side(list(categorical), list(text), list(numeric))
    for name, positions, size in zip(
        ("categorical", "text", "numeric"), (side.categorical, side.text, side.numeric), sizes, strict=True
    ):
        if any(not 0 <= j < size for j in positions) or len(set(positions)) != len(positions):
            raise ValueError(f"item {name} positions {positions} do not fit the model's {size} {name} features")
    return side

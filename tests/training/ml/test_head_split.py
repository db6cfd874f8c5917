"""The head split into item and user parts gives the logits of the whole head, for every layout."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from training.ml.head_split import HeadSplit
from training.ml.model import CTRModel, HeadConfig

VOCABS = [5, 7, 4, 6]  # categorical features: user id, age, item id, genre
ITEM_CATEGORICAL = [2, 3]
HIDDEN = 6


def _model(*, interaction: str, hidden_units: list[int], n_text: int = 2, n_numeric: int = 2) -> CTRModel:
    # Field order: categorical features, text columns, numeric columns; the item side is its id,
    # its genre, its first text column and its last numeric column.
    item_fields = [
        *ITEM_CATEGORICAL,
        *([len(VOCABS)] if n_text else []),
        *([len(VOCABS) + n_text + n_numeric - 1] if n_numeric else []),
    ]
    head = HeadConfig(
        vocab_sizes=VOCABS,
        n_text=n_text,
        n_numeric=n_numeric,
        text_dim=HIDDEN if n_text else 0,
        embedding_dim=4,
        hidden_units=hidden_units,
        dropout=0.0,
        interaction=interaction,
        item_fields=item_fields,
    )
    torch.manual_seed(0)
    model = CTRModel(nn.Identity() if n_text else None, head).eval()
    with torch.no_grad():  # trained-looking weights: initial embeddings are nearly zero
        for p in model.parameters():
            p.normal_(0.0, 0.5)
    return model


def _rows(n: int, n_text: int, n_numeric: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    cat = torch.stack([torch.randint(0, v, (n,), generator=gen) for v in VOCABS], dim=1)
    text = torch.randn(n, n_text, HIDDEN, generator=gen)
    num = torch.randn(n, n_numeric, generator=gen)
    return cat, text, num


def _split_logits(model: CTRModel, cat: torch.Tensor, text: torch.Tensor, num: torch.Tensor) -> torch.Tensor:
    n_text, n_numeric = model.head_config.n_text, model.head_config.n_numeric
    item_text = [0] if n_text else []
    item_numeric = [n_numeric - 1] if n_numeric else []
    user_categorical = [j for j in range(len(VOCABS)) if j not in ITEM_CATEGORICAL]
    user_text = [j for j in range(n_text) if j not in item_text]
    user_numeric = [j for j in range(n_numeric) if j not in item_numeric]
    split = HeadSplit(model, item_categorical=ITEM_CATEGORICAL, item_text=item_text, item_numeric=item_numeric)
    items = split.item_parts(cat[:, ITEM_CATEGORICAL], text[:, item_text], num[:, item_numeric])
    users = split.user_parts(cat[:, user_categorical], text[:, user_text], num[:, user_numeric])
    return split.logits(items, users)


@pytest.mark.parametrize("interaction", ["fm", "two_tower"])
@pytest.mark.parametrize("hidden_units", [[], [8, 3]])
@pytest.mark.parametrize(("n_text", "n_numeric"), [(2, 2), (0, 0), (1, 1)])
@torch.inference_mode()
def test_item_parts_and_user_parts_add_up_to_the_heads_logits(
    interaction: str, hidden_units: list[int], n_text: int, n_numeric: int
) -> None:
    model = _model(interaction=interaction, hidden_units=hidden_units, n_text=n_text, n_numeric=n_numeric)
    cat, text, num = _rows(32, n_text, n_numeric)
    expected = model.score_from_parts(text if n_text else None, cat, num)
    torch.testing.assert_close(_split_logits(model, cat, text, num), expected, atol=1e-5, rtol=1e-5)
    model.logit_scale.fill_(0.25)  # the temperature the linear blend fits scales both forms alike
    torch.testing.assert_close(_split_logits(model, cat, text, num), expected * 0.25, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("interaction", ["fm", "two_tower"])
@torch.inference_mode()
def test_one_users_parts_score_every_item(interaction: str) -> None:
    model = _model(interaction=interaction, hidden_units=[8])
    cat, text, num = _rows(10, 2, 2)
    # Every row is user 0 with item i: the user's columns copied from the first row.
    user_categorical = [0, 1]
    cat[:, user_categorical] = cat[0, user_categorical]
    text[:, 1] = text[0, 1]
    num[:, 0] = num[0, 0]
    split = HeadSplit(model, item_categorical=ITEM_CATEGORICAL, item_text=[0], item_numeric=[1])
    items = split.item_parts(cat[:, ITEM_CATEGORICAL], text[:, [0]], num[:, [1]])
    one_user = split.user_parts(cat[:1, user_categorical], text[:1, [1]], num[:1, [0]])
    picked = torch.tensor([7, 2, 2, 0])
    got = split.logits(items.take(picked), one_user)
    expected = model.score_from_parts(text, cat, num)[picked]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_positions_outside_the_model_are_refused() -> None:
    model = _model(interaction="fm", hidden_units=[])
    with pytest.raises(ValueError, match="categorical positions"):
        HeadSplit(model, item_categorical=[4], item_text=[], item_numeric=[])
    with pytest.raises(ValueError, match="numeric positions"):
        HeadSplit(model, item_categorical=[], item_text=[], item_numeric=[1, 1])


def _attention_model(*, interaction: str, hidden_units: list[int], n_lists: int) -> CTRModel:
    head = HeadConfig(
        vocab_sizes=VOCABS,
        n_text=0,
        n_numeric=1,
        embedding_dim=4,
        hidden_units=hidden_units,
        dropout=0.0,
        interaction=interaction,
        item_fields=ITEM_CATEGORICAL,
        list_buckets=[VOCABS[2]] * n_lists,
        list_pooling="attention",
        list_item_field=2,
    )
    torch.manual_seed(0)
    model = CTRModel(None, head).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.5)
    return model


@pytest.mark.parametrize("interaction", ["fm", "two_tower"])
@pytest.mark.parametrize("hidden_units", [[], [8, 3]])
@pytest.mark.parametrize("n_lists", [1, 2])
@torch.inference_mode()
def test_target_attention_over_a_history_is_scored_per_pair_as_the_whole_head_does(
    interaction: str, hidden_units: list[int], n_lists: int
) -> None:
    model = _attention_model(interaction=interaction, hidden_units=hidden_units, n_lists=n_lists)
    cat, _, num = _rows(12, 0, 1)
    gen = torch.Generator().manual_seed(2)
    lists = torch.randint(0, VOCABS[2], (12, n_lists, 5), generator=gen)  # item ids, 0 = padding
    lists[0] = 0  # an empty history
    expected = model.score_from_parts(None, cat, num, lists=lists)
    split = HeadSplit(model, item_categorical=ITEM_CATEGORICAL, item_text=[], item_numeric=[])
    items = split.item_parts(cat[:, ITEM_CATEGORICAL], torch.zeros(12, 0, 0), num[:, []])
    users = split.user_parts(cat[:, [0, 1]], torch.zeros(12, 0, 0), num, lists=lists)
    torch.testing.assert_close(split.logits(items, users), expected, atol=1e-5, rtol=1e-5)
    # One user (row 3's features and history) against every item: the attention is per candidate.
    one = split.user_parts(cat[3:4, [0, 1]], torch.zeros(1, 0, 0), num[3:4], lists=lists[3:4])
    as_row3 = cat.clone()
    as_row3[:, [0, 1]] = cat[3, [0, 1]]
    expected_one = model.score_from_parts(None, as_row3, num[3:4].expand(12, -1), lists=lists[3:4].expand(12, -1, -1))
    picked = torch.tensor([5, 1, 1, 9])
    torch.testing.assert_close(split.logits(items.take(picked), one), expected_one[picked], atol=1e-5, rtol=1e-5)

"""The wide part: hashed word n-grams and same-side crosses, a linear term trained with the rest,
split by side for serving, saved and loaded with the artifact."""

from __future__ import annotations

import json
import random
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest
import torch

from training.ml import FeatureSpec, load_artifact, save_artifact, train
from training.ml.batches import DeviceSplit, concat_splits, encode_split
from training.ml.head_split import HeadSplit
from training.ml.model import CTRModel, HeadConfig
from training.ml.text import TextPool
from training.ml.wide import WideSpec, build_wide_spec, ngrams

SPEC = WideSpec(
    buckets=1 << 12,
    text_columns=["title", "query"],
    crosses=[["genre", "brand"], ["age", "gender"]],
    item_text_columns=["title"],
    item_crosses=[["genre", "brand"]],
)
ROW = {"title": "Toy Story (1995)", "query": "toy cartoon", "genre": "kids", "brand": "acme", "age": 24, "gender": "F"}


def test_ngrams_are_lower_cased_words_and_bigrams():
    assert ngrams("Toy Story (1995) toy", 10) == ["toy", "story", "1995", "toy story", "story 1995", "1995 toy"]
    assert ngrams("a b c", 10) == []  # one-letter words are not tokens, as in scikit-learn
    assert len(ngrams(" ".join(f"w{i}" for i in range(100)), 48)) == 48


def test_item_and_user_sides_partition_the_rows_buckets():
    everything = SPEC.ids([ROW])[0]
    item, user = SPEC.ids([ROW], side="item")[0], SPEC.ids([ROW], side="user")[0]
    nonzero = lambda a: Counter(a[a > 0].tolist())  # noqa: E731
    assert nonzero(everything) == nonzero(item) + nonzero(user)
    assert len(nonzero(item)) >= 6 and len(nonzero(user)) >= 3  # title n-grams + cross; query n-grams + cross
    assert everything.max() < SPEC.buckets


def test_values_bucket_the_same_from_arrow_and_from_json():
    from_json = SPEC.ids([{**ROW, "age": "24"}])
    from_arrow = SPEC.ids(pa.Table.from_pylist([{**ROW, "age": 24.0}]))
    np.testing.assert_array_equal(from_json, from_arrow)
    missing = SPEC.ids([{"title": None, "genre": "kids"}])
    assert missing.shape == (1, 0)


def test_crosses_stay_within_a_side_and_skip_the_id_columns():
    wide = build_wide_spec(
        buckets=1 << 10,
        text_columns=["title"],
        categorical_features=["age", "gender", "genre", "brand", "user_id", "item_id"],
        item_level={"item_id", "genre", "brand", "title"},
        id_columns=["user_id", "item_id"],
    )
    assert wide is not None
    assert wide.item_crosses == [["genre", "brand"]] and wide.crosses == [["genre", "brand"], ["age", "gender"]]
    assert wide.item_text_columns == ["title"]
    kw = {"categorical_features": ["a"], "item_level": set(), "id_columns": []}
    assert build_wide_spec(buckets=0, text_columns=["t"], **kw) is None
    assert build_wide_spec(buckets=1 << 10, text_columns=[], **kw) is None


@torch.inference_mode()
def test_the_head_split_adds_each_sides_wide_term_to_its_constant():
    head = HeadConfig(
        vocab_sizes=[5, 4], n_text=0, n_numeric=0, embedding_dim=3, item_fields=[1], wide_buckets=SPEC.buckets
    )
    torch.manual_seed(0)
    model = CTRModel(None, head).eval()
    for p in model.parameters():
        p.normal_(0.0, 0.5)
    rows = [{**ROW, "title": f"title {i} of {i % 3}", "age": i % 4} for i in range(12)]
    cat = torch.randint(0, 4, (12, 2))
    expected = model.score_from_parts(None, cat, torch.zeros(12, 0), torch.from_numpy(SPEC.ids(rows)))
    split = HeadSplit(model, item_categorical=[1], item_text=[], item_numeric=[])
    empty = torch.zeros(12, 0, 0)
    items = split.item_parts(cat[:, [1]], empty, torch.zeros(12, 0), torch.from_numpy(SPEC.ids(rows, side="item")))
    users = split.user_parts(cat[:, [0]], empty, torch.zeros(12, 0), torch.from_numpy(SPEC.ids(rows, side="user")))
    torch.testing.assert_close(split.logits(items, users), expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="wide part"):
        model.score_from_parts(None, cat, torch.zeros(12, 0))


GOOD, BAD = ["great", "lovely", "perfect"], ["broken", "awful", "refund"]


def _reviews(n: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.random() < 0.5
        words = [rng.choice(GOOD if label else BAD), "item", rng.choice(["box", "it", "the"])]
        rng.shuffle(words)
        rows.append(
            {
                "review": " ".join(words),
                "shop": f"s{rng.randrange(4)}",
                "item_id": rng.randrange(20),
                "label": int(label),
            }
        )
    return pa.Table.from_pylist(rows)


REVIEW_SPEC = FeatureSpec(
    label_column="label", text_columns=["review"], categorical_columns=["shop"], item_column="item_id"
)


def train_reviews(table: pa.Table, tiny_base_model: str, params: dict):
    """Train on rows 0-349 of `_reviews`, validate on 350-424, test on the rest, on the CPU."""
    return train(
        train_table=table.slice(0, 350),
        valid_table=table.slice(350, 75),
        test_table=table.slice(425),
        spec=REVIEW_SPEC,
        base_model=tiny_base_model,
        params=params,
        device="cpu",
    )


def test_wide_weights_train_save_and_load_with_the_artifact(tmp_path, tiny_base_model):
    table = _reviews(500, 1)
    params = {
        "epochs": 6,
        "batch_size": 32,
        "lr": 0.05,
        "embedding_dim": 4,
        "patience": 0,
        "checkpoint_every_steps": 0,
        "freeze_encoder_steps": 1_000_000,
        "wide_buckets": 1 << 12,
    }
    result = train_reviews(table, tiny_base_model, params)
    assert result.wide_spec is not None and result.wide_spec.text_columns == ["review"]
    assert result.model.wide is not None and result.model.wide.weight.abs().max() > 0.1
    assert result.metrics["auc"] > 0.9  # the words carry the label; the tiny random encoder does not
    path = save_artifact(result, tmp_path / "a")
    assert json.loads((path / "wide.json").read_text())["buckets"] == 1 << 12
    predictor = load_artifact(path, device="cpu")
    assert predictor.model.wide is not None
    np.testing.assert_allclose(predictor.predict(table.slice(425)), result.test_predictions, atol=1e-6)

    off = train_reviews(table, tiny_base_model, {**params, "wide_buckets": 0})
    assert off.model.wide is None and off.wide_spec is None and off.head_config.wide_buckets == 0
    assert not (save_artifact(off, tmp_path / "b") / "wide.json").exists()


@torch.inference_mode()
def test_wide_ids_are_int32_end_to_end_and_score_as_int64_ids_do():
    table = _reviews(120, 2)
    spec = REVIEW_SPEC.fit(table)
    wide = WideSpec(buckets=1 << 16, text_columns=["review"], crosses=[["shop", "item_id"]])
    pool = TextPool()
    first, second = (
        encode_split(spec, table.slice(0, 80), pool, wide=wide),
        encode_split(spec, table.slice(80), pool, wide=wide),
    )
    both = concat_splits(first, second)
    assert first.wide is not None and both.wide is not None
    assert first.wide.dtype == both.wide.dtype == np.int32 and both.wide.shape[0] == 120
    assert DeviceSplit(both, torch.device("cpu")).wide.dtype == torch.int32
    assert wide.ids([ROW]).dtype == np.int32 and wide.ids([]).dtype == np.int32
    with pytest.raises(ValueError, match="int32"):
        WideSpec(buckets=(1 << 31) + 1, text_columns=["review"])

    head = HeadConfig(vocab_sizes=[5, 4], n_text=0, n_numeric=0, embedding_dim=3, wide_buckets=wide.buckets)
    torch.manual_seed(0)
    model = CTRModel(None, head).eval()
    for p in model.parameters():
        p.normal_(0.0, 0.5)
    ids32 = torch.from_numpy(both.wide)
    assert (ids32 > 0).sum(dim=1).min() >= 3  # every row has words, so every score has a wide term
    cat = torch.randint(0, 4, (120, 2))
    from_int32 = model.score_from_parts(None, cat, torch.zeros(120, 0), ids32)
    from_int64 = model.score_from_parts(None, cat, torch.zeros(120, 0), ids32.long())
    assert torch.equal(model.wide_term(ids32), model.wide_term(ids32.long()))
    assert torch.equal(from_int32, from_int64)


def test_an_artifact_without_a_wide_part_still_loads():
    data = HeadConfig(vocab_sizes=[3], n_text=0, n_numeric=0).to_dict()
    data.pop("wide_buckets")  # head_config.json written before the wide part existed
    assert HeadConfig.from_dict(data).wide_buckets == 0
    assert CTRModel(None, HeadConfig.from_dict(data)).wide is None

"""Fixtures for training/ml: a tiny random BERT saved like a real base model, and small tables.

No Django here: these tests run on any machine with torch, transformers, pyarrow and sklearn
(the GPU machine included).
"""

from __future__ import annotations

import os
import random

import pyarrow as pa
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

WORDS = [
    "the",
    "a",
    "of",
    "movie",
    "story",
    "about",
    "cats",
    "dogs",
    "space",
    "war",
    "love",
    "night",
    "day",
    "city",
    "house",
]
GENRES = ("drama", "comedy", "action")


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    # Tiny models gain nothing from a second thread, and on a busy machine OpenMP's spinning
    # threads make each step 10-20x slower.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_base_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 1-layer, 16-wide BERT with random weights and a word-level vocabulary, on disk."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    directory = tmp_path_factory.mktemp("tiny-bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *GENRES, *[str(i) for i in range(50)]]
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(vocab)})
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


def item(j: int) -> dict:
    genre = GENRES[j % 3]
    words = " ".join(random.Random(j).sample(WORDS, 3))
    return {"item_id": j, "genre": genre, "title": f"{words} {genre} {j}", "price": float(j % 7)}


def interactions(n: int = 360, seed: int = 0, n_users: int = 24, n_items: int = 18) -> pa.Table:
    """user x item rows whose label depends on a user trait crossed with the item's genre."""
    rng = random.Random(seed)
    rows = []
    for t in range(n):
        u, j = rng.randrange(n_users), rng.randrange(n_items)
        it = item(j)
        likes = ("drama", "comedy") if u % 2 else ("action",)
        p = 0.9 if it["genre"] in likes else 0.1
        rows.append({"user_id": u, "gender": "MF"[u % 2], **it, "ts": t, "label": int(rng.random() < p)})
    return pa.Table.from_pylist(rows)


@pytest.fixture
def table() -> pa.Table:
    return interactions()


@pytest.fixture
def spec():
    from training.ml import FeatureSpec

    return FeatureSpec(
        label_column="label",
        text_columns=["title"],
        categorical_columns=["gender", "genre"],
        numeric_columns=["price"],
        user_column="user_id",
        item_column="item_id",
    )


FAST = {
    "epochs": 3,
    "batch_size": 32,
    "lr": 0.02,
    "encoder_lr": 1e-3,
    "embedding_dim": 8,
    "hidden_units": [16],
    "dropout": 0.0,
    "patience": 0,
    "checkpoint_every_steps": 0,
}


@pytest.fixture
def fast_params() -> dict:
    return dict(FAST)


def splits(table: pa.Table) -> dict[str, pa.Table]:
    n = table.num_rows
    a, b = int(n * 0.7), int(n * 0.85)
    return {"train_table": table.slice(0, a), "valid_table": table.slice(a, b - a), "test_table": table.slice(b)}


@pytest.fixture
def trained(tiny_base_model, table, spec, fast_params, tmp_path_factory):
    """One small trained result shared by artifact tests (module-agnostic, cheap: ~1 s)."""
    from training.ml import train

    # On CPU in fp32 on every machine, so artifact parity can be exact (test_gpu.py covers CUDA).
    return train(
        **splits(table),
        spec=spec,
        base_model=tiny_base_model,
        device="cpu",
        params={**fast_params, "freeze_encoder_steps": 10, "segment_column": "genre", "segment_min_count": 5},
    )

"""Tiny CTR model artifacts for serving tests, made with training/ml itself.

The encoder is a one-layer, 16-wide BERT with random weights and the real MiniLM tokenizer, so an
artifact trains and loads in about a second and exercises the same code as a real model.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pyarrow as pa

GENRES = ("drama", "comedy", "action")
N_ITEMS = 30
N_USERS = 20


def tiny_encoder(directory: Path) -> str:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from training.ml.base_model import default_model_dir

    tokenizer = AutoTokenizer.from_pretrained(default_model_dir(), local_files_only=True)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


def item_features(j: int) -> dict[str, Any]:
    genre = GENRES[j % 3]
    return {"item_id": f"i{j}", "genre": genre, "title": f"movie {j} {genre}", "price": float(j % 7)}


def user_features(j: int) -> dict[str, Any]:
    return {"user_id": f"u{j}", "age": str(20 + j % 5), "gender": "MF"[j % 2]}


def interactions(n: int = 400, seed: int = 0) -> pa.Table:
    """Rows of user x item with a label that depends on genre and gender, and a request-level hour."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        user, item = user_features(rng.randrange(N_USERS)), item_features(rng.randrange(N_ITEMS))
        p = 0.75 if item["genre"] == "drama" else 0.25
        if user["gender"] == "F" and item["genre"] == "comedy":
            p = 0.8
        rows.append({**user, **item, "hour": rng.randint(0, 23), "label": int(rng.random() < p)})
    return pa.Table.from_pylist(rows)


def train_artifact(
    path: Path,
    *,
    encoder: str | None,
    seed: int = 0,
    numeric: bool = True,
    text: bool = True,
    interaction: str = "fm",
    hidden_units: tuple[int, ...] = (16,),
) -> Any:
    """Train and save an artifact as a training job does (test predictions included); returns the
    TrainResult."""
    import numpy as np

    from training.ml import FeatureSpec, save_artifact, train

    table = interactions(seed=seed)
    spec = FeatureSpec(
        label_column="label",
        text_columns=["title"] if text else [],
        categorical_columns=["age", "gender", "genre"],
        numeric_columns=["price", "hour"] if numeric else [],
        user_column="user_id",
        item_column="item_id",
    )
    result = train(
        train_table=table.slice(0, 300),
        valid_table=table.slice(300, 50),
        test_table=table.slice(350),
        spec=spec,
        base_model=encoder if text else None,
        params={
            "epochs": 6,
            "batch_size": 64,
            "hidden_units": list(hidden_units),
            "embedding_dim": 4,
            "seed": seed,
            "lr": 0.03,
            "interaction": interaction,
            "freeze_encoder_steps": 1_000_000,  # the head alone learns: fast, and the same artifact layout
            "patience": 0,
        },
    )
    save_artifact(result, path)
    np.save(path / "test_predictions.npy", result.test_predictions)
    return result

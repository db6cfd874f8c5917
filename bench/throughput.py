"""Train-step throughput of training/ml on a GPU (`bench/train.py --gpu-throughput`).

A randomly initialised model with MiniLM-L6's architecture (its config.json; no weights needed),
sequence length 64, bf16 autocast, batch 256 and 1024, plain and torch.compile. Each step is the
platform's own path: rows planned by `EpochPlan` (batch order and distinct texts computed on the
host once per epoch, uploaded once), token ids already on the GPU (`TokenStore`), `batch_loss`
(encoder over the batch's distinct texts, mean pooling, the CTR head, BCE + penalty) and
`optimize` (backward, clipping, fused AdamW, schedule). Every row has its own text, so the
encoder runs on the whole batch, as in the reference figures of a MiniLM classifier.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from training.ml import FeatureSpec, TrainParams
from training.ml.base_model import load_tokenizer, random_encoder
from training.ml.batches import DeviceSplit, EpochPlan, encode_split
from training.ml.device import configure
from training.ml.model import CTRModel, HeadConfig
from training.ml.text import TextPool, TokenStore, tokenize_texts
from training.ml.train import (
    batch_loss,
    field_penalty_weights,
    make_optimizer,
    make_scheduler,
    optimize,
)

SEQ_LEN = 64


def config_dir() -> str:
    """The MiniLM config and tokenizer: $STEWARD_MINILM_DIR, the offline package, or .gpu/minilm."""
    candidates = [os.environ.get("STEWARD_MINILM_DIR")]
    try:
        from training.ml.base_model import default_model_dir

        candidates.append(default_model_dir())
    except ImportError:
        pass
    candidates.append(str(Path(__file__).resolve().parents[1] / ".gpu" / "minilm"))
    for c in candidates:
        if c and (Path(c) / "config.json").is_file():
            return c
    raise SystemExit("no MiniLM config found (set STEWARD_MINILM_DIR)")


def synthetic(n_rows: int, tokenizer, seed: int = 0) -> pa.Table:
    """n_rows with distinct texts long enough to fill 64 tokens, plus a few tabular features."""
    rng = np.random.default_rng(seed)
    words = [w for w in tokenizer.get_vocab() if w.isalpha() and w.isascii() and len(w) > 2]
    words = np.array(sorted(words))
    texts = [" ".join(rng.choice(words, SEQ_LEN + 8)) for _ in range(n_rows)]
    return pa.table(
        {
            "user": rng.integers(0, 2_000, n_rows),
            "item": rng.integers(0, 20_000, n_rows),
            "category": rng.integers(0, 50, n_rows),
            "price": rng.random(n_rows) * 100,
            "text": texts,
            "label": rng.integers(0, 2, n_rows),
        }
    )


def measure(
    batch: int, *, compiled: bool, table: pa.Table, tokenizer, cfg: str, device: torch.device, steps: int, warmup: int
) -> dict:
    torch.manual_seed(0)
    spec = FeatureSpec(
        label_column="label",
        text_columns=["text"],
        categorical_columns=["category"],
        numeric_columns=["price"],
        user_column="user",
        item_column="item",
    ).fit(table)
    pool = TextPool()
    split = encode_split(spec, table, pool)
    t0 = time.perf_counter()
    cache = Path(os.environ.get("TMPDIR", "/tmp")) / "steward-throughput-tokens"
    tokens = tokenize_texts(pool.texts, tokenizer, max_length=SEQ_LEN, cache_dir=cache)
    tokenize_s = time.perf_counter() - t0
    assert int(tokens.lengths.min()) == SEQ_LEN, "every text should fill the sequence"
    store = TokenStore(tokens, device)
    data = DeviceSplit(split, device)
    encoder = random_encoder(cfg)
    head = HeadConfig(
        vocab_sizes=[len(spec.vocabularies[c]) + 1 for c in spec.categorical_features],
        n_text=1,
        n_numeric=1,
        text_dim=int(encoder.config.hidden_size),
        embedding_dim=64,
        interaction="two_tower",
        item_fields=[0, 2, 3],
    )  # category, item, text
    model = CTRModel(encoder, head).to(device).train()
    params = TrainParams(batch_size=batch, epochs=1)
    optimizer = make_optimizer(model, params, device)
    scheduler = make_scheduler(optimizer, params, total_steps=10_000)
    penalty = field_penalty_weights(head, params, device)
    step_model = torch.compile(model) if compiled else model
    plan = EpochPlan(data, batch_size=batch, seed=0, epoch=0, dedupe_texts=True)
    n = min(len(plan) - 1, warmup + steps)  # the last batch may be short

    def run(i: int) -> torch.Tensor:
        loss, bce = batch_loss(step_model, data, plan.batch(i), store, None, device, penalty)
        optimize(loss, model, optimizer, scheduler, params.max_grad_norm)
        return bce

    t0 = time.perf_counter()
    for i in range(warmup):
        run(i)
    torch.cuda.synchronize(device) if device.type == "cuda" else None
    warmup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    last = None
    for i in range(warmup, n):
        last = run(i)
    torch.cuda.synchronize(device) if device.type == "cuda" else None
    elapsed = time.perf_counter() - t0
    timed = n - warmup
    return {
        "batch": batch,
        "compiled": compiled,
        "steps": timed,
        "seconds": elapsed,
        "samples_per_second": timed * batch / elapsed,
        "warmup_s": warmup_s,
        "tokenize_s": tokenize_s,
        "final_bce": float(last) if last is not None else None,
        "peak_memory_gib": (torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None),
    }


def main(json_out: str | None = None) -> None:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    configure(device)
    cfg = config_dir()
    tokenizer = load_tokenizer(cfg)
    gpu = device.type == "cuda"
    steps = int(os.environ.get("THROUGHPUT_STEPS", "60" if gpu else "2"))
    warmup = int(os.environ.get("THROUGHPUT_WARMUP", "8" if gpu else "1"))
    batches = [256, 1024] if gpu else [8]
    name = torch.cuda.get_device_name(device) if gpu else "cpu"
    print(f"device {name}; torch {torch.__version__}; seq len {SEQ_LEN}; bf16 autocast {gpu}", flush=True)
    table = synthetic(max(batches) * (steps + warmup + 1), tokenizer)
    results = []
    modes = [False, True] if gpu and os.environ.get("THROUGHPUT_COMPILE", "1") == "1" else [False]
    for compiled in modes:
        for batch in batches:
            torch.cuda.reset_peak_memory_stats(device) if gpu else None
            r = measure(
                batch,
                compiled=compiled,
                table=table,
                tokenizer=tokenizer,
                cfg=cfg,
                device=device,
                steps=steps,
                warmup=warmup,
            )
            r["device"] = name
            results.append(r)
            print(
                f"{'torch.compile' if compiled else 'plain loop':>13} batch {batch:5d}: "
                f"{r['samples_per_second']:10,.0f} samples/s ({r['steps']} steps in {r['seconds']:.2f}s; "
                f"warm-up {r['warmup_s']:.1f}s; peak {r['peak_memory_gib'] or 0:.1f} GiB)",
                flush=True,
            )
            if json_out:
                Path(json_out).write_text(json.dumps(results, indent=2))

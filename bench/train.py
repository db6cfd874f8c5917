"""Benchmark training/ml alone (no Django, no database).

    .venv/bin/python bench/train.py                  # ml-100k: random and time-ordered splits
    .venv/bin/python bench/train.py --split random   # one split only
    python3 bench/train.py --gpu-throughput          # train-step samples/s on a GPU

ml-100k: label rating >= 4; user, item, age, gender, occupation and genres categorical; the
title as text; the default base model; 80/10/10 splits. Prints wall time, samples/s and test
metrics. Reference (logistic regression on one-hot user + item): AUC 0.774 random, 0.704 time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.ml import FeatureSpec, split_random, split_time, train
from training.ml.recipes import CPU_FINETUNE_STEPS, CPU_PARAMS

# The CPU recipe that `POST /api/v1/training-jobs/` also gets by default on a CPU worker
# (training/ml/recipes.py): the head trains on cached title embeddings while the encoder is frozen
# (cheap), then the encoder is fine-tuned for the last steps with 64 sampled titles per step.
DEFAULT_PARAMS = {
    **CPU_PARAMS,
    "interaction": "auto",
    "hidden_units": [],
    "seed": 0,
    "checkpoint_every_steps": 0,
    "segment_column": "genres",
}
# The encoder is fine-tuned for the last FINETUNE_STEPS steps only (see --finetune-steps).
FINETUNE_STEPS = CPU_FINETUNE_STEPS

SPEC = FeatureSpec(
    label_column="label",
    text_columns=["title"],
    categorical_columns=["age", "gender", "occupation", "genres"],
    user_column="user_id",
    item_column="item_id",
)


def run_split(name: str, table, params: dict, base_model: str | None, finetune_steps: int) -> dict:
    if name == "random":
        parts = split_random(table, (0.8, 0.1, 0.1), seed=params.get("seed", 0))
    else:
        parts = split_time(table, "timestamp", (0.8, 0.1, 0.1))
    if "freeze_encoder_steps" not in params:
        total = params["epochs"] * math.ceil(parts[0].num_rows / params["batch_size"])
        params = {**params, "freeze_encoder_steps": max(0, total - finetune_steps)}
    t0 = time.perf_counter()
    last_print = [0.0]

    def progress(event: dict) -> None:
        now = time.perf_counter() - t0
        if event["event"] == "eval":
            print(f"  [{now:6.1f}s] step {event['step']:5d} val auc {event['auc']:.4f}", flush=True)
        elif event["event"] == "step" and now - last_print[0] > 15:
            last_print[0] = now
            print(
                f"  [{now:6.1f}s] step {event['step']:5d}/{event['total_steps']} "
                f"loss {event['loss']:.4f} {event['samples_per_second']:.0f} samples/s"
                f"{' (encoder frozen)' if event['encoder_frozen'] else ''}",
                flush=True,
            )

    result = train(
        train_table=parts[0],
        valid_table=parts[1],
        test_table=parts[2],
        spec=SPEC,
        base_model=base_model,
        params=params,
        on_progress=progress,
    )
    wall = time.perf_counter() - t0
    m = result.metrics
    print(
        f"{name:>6} split: wall {wall:.1f}s, train {result.timings['train_s']:.1f}s, "
        f"{result.timings['train_samples_per_second']:.0f} samples/s, steps {result.steps} "
        f"(best {result.best_step}), device {result.device}\n"
        f"        test auc {m['auc']:.4f} logloss {m['logloss']:.4f} acc {m['accuracy']:.4f} "
        f"precision {m['precision']:.4f} recall {m['recall']:.4f} f1 {m['f1']:.4f}",
        flush=True,
    )
    if result.segment_auc:
        worst = sorted((s for s in result.segment_auc if s["auc"] is not None), key=lambda s: s["auc"])[:3]
        print("        weakest genres: " + ", ".join(f"{s['segment']} {s['auc']:.3f} (n={s['count']})" for s in worst))
    return {"split": name, "wall_s": wall, "metrics": m, "timings": result.timings}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--split", choices=["random", "time", "both"], default="both")
    ap.add_argument("--params", default="{}", help="JSON overriding the default parameters")
    ap.add_argument("--base-model", default=None)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--gpu-throughput", action="store_true")
    ap.add_argument("--json-out", default=None)
    ap.add_argument(
        "--finetune-steps",
        type=int,
        default=FINETUNE_STEPS,
        help="fine-tune the encoder in the last N steps (earlier: frozen, cached)",
    )
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()

    if args.gpu_throughput:
        from throughput import main as throughput_main  # bench/throughput.py

        throughput_main(json_out=args.json_out)
        return

    import torch
    from ml100k import DEFAULT_DIR, load_ml100k  # bench/ml100k.py

    if args.threads:
        torch.set_num_threads(args.threads)
    params = {**DEFAULT_PARAMS, **json.loads(args.params)}
    print(f"torch threads: {torch.get_num_threads()}; params: {json.dumps(params)}", flush=True)
    t0 = time.perf_counter()
    table = load_ml100k(Path(args.data_dir) if args.data_dir else DEFAULT_DIR)
    results = []
    for name in ["random", "time"] if args.split == "both" else [args.split]:
        results.append(run_split(name, table, params, args.base_model, args.finetune_steps))
    total = time.perf_counter() - t0
    print(f"total wall time {total:.1f}s")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"total_s": total, "runs": results}, indent=2))


if __name__ == "__main__":
    main()

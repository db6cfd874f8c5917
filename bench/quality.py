"""Does the model earn its place? Model AUC vs the job's baseline on the same test rows.

    .venv/bin/python bench/quality.py                    # every dataset and split below
    .venv/bin/python bench/quality.py --only ml100k-random
    .venv/bin/python bench/quality.py --baseline-only    # the baselines alone (seconds)
    .venv/bin/python bench/quality.py --only ml100k-random --split-seeds 5   # and 4 more random splits, with the mean

Datasets (80/10/10 splits, as a training job makes them):
- ml100k-random, ml100k-time: MovieLens 100K, label rating >= 4; text = title and genres
  ("Toy Story (1995) | Animation Children's Comedy"); categorical age, gender, occupation,
  genres; user and item columns.
- ml100k-random-behaviour, ml100k-time-behaviour: the same ratings with the behaviour features a
  recommender computes from its own log, through Steward's transforms: `aggregates` (per user and
  per item: events and mean rating strictly before the row) and `sequence` with
  `event_column=label, event_values=[1]` (the user's last 50 liked items strictly before the row,
  attention-pooled against the candidate item). The baseline gets the same columns (the list as
  one-hot items is not in it: it has no list columns).
- demo-random, demo-time: Steward's own demo data (home/demo_data.py, seed 7, 150,000 events),
  the rated purchases: label rating >= 4; text = review text and item title; categorical
  category and brand; numeric price; user and item columns.

For each: the baseline (training/ml/baseline.py, what every job records), the model with the CPU
recipe (training/ml/recipes.py) and the model with the defaults a `POST /training-jobs/` with no
params gets on this machine (the recipe its device picks: the same run on a CPU-only machine,
so it is not trained twice). Prints AUC, baseline AUC, lift and wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa
import pyarrow.compute as pc

from training.ml import FeatureSpec, split_random, split_time, train
from training.ml.baseline import fit_baseline, lift
from training.ml.recipes import choose_recipe

ML100K_SPEC = FeatureSpec(
    label_column="label",
    text_columns=["text"],
    categorical_columns=["age", "gender", "occupation", "genres"],
    user_column="user_id",
    item_column="item_id",
)
DEMO_SPEC = FeatureSpec(
    label_column="label",
    text_columns=["review_text", "title"],
    categorical_columns=["category", "brand"],
    numeric_columns=["price"],
    user_column="user_id",
    item_column="item_id",
)


def ml100k() -> pa.Table:
    from ml100k import DEFAULT_DIR, load_ml100k  # bench/ml100k.py

    table = load_ml100k(DEFAULT_DIR)
    text = pc.binary_join_element_wise(table.column("title"), table.column("genres"), " | ")
    return table.append_column("text", text)


BEHAVIOUR = ["user_events_before", "user_mean_rating", "item_events_before", "item_mean_rating"]
ML100K_BEHAVIOUR_SPEC = FeatureSpec(
    **{**ML100K_SPEC.__dict__, "numeric_columns": BEHAVIOUR, "list_columns": ["liked"]},
)


def ml100k_behaviour() -> pa.Table:
    from governance.catalog.transforms import apply

    keys = {"user_column": "user_id", "item_column": "item_id", "time_column": "timestamp"}
    (table,) = apply("aggregates", [ml100k()], {**keys, "rating_column": "rating"})
    liked = {**keys, "length": 50, "column": "liked", "event_column": "label", "event_values": [1]}
    (table,) = apply("sequence", [table], liked)
    return table


def demo() -> pa.Table:
    from home.demo_data import write_demo_data

    with tempfile.TemporaryDirectory() as tmp:
        import pyarrow.csv as pacsv

        paths = write_demo_data(Path(tmp), seed=7, n_interactions=150_000)
        inter = pacsv.read_csv(paths["interactions"])
        items = pacsv.read_csv(paths["items"]).select(["item_id", "title", "category", "brand", "price"])
    rated = inter.filter(pc.is_valid(inter.column("rating")))
    rated = rated.append_column("_row", pa.array(range(rated.num_rows), pa.int64()))
    table = rated.join(items, "item_id", join_type="left outer").sort_by("_row").drop_columns(["_row"])
    label = pc.cast(pc.greater_equal(table.column("rating"), 4), pa.int8())
    return table.append_column("label", label).drop_columns(["rating", "clicked", "purchased", "event"])


DATASETS = {
    "ml100k-random": (ml100k, ML100K_SPEC, "random"),
    "ml100k-time": (ml100k, ML100K_SPEC, "time"),
    "ml100k-random-behaviour": (ml100k_behaviour, ML100K_BEHAVIOUR_SPEC, "random"),
    "ml100k-time-behaviour": (ml100k_behaviour, ML100K_BEHAVIOUR_SPEC, "time"),
    "demo-random": (demo, DEMO_SPEC, "random"),
    "demo-time": (demo, DEMO_SPEC, "time"),
}


def split(table: pa.Table, how: str, seed: int = 0) -> tuple[pa.Table, pa.Table, pa.Table]:
    if how == "random":
        return split_random(table, (0.8, 0.1, 0.1), seed=seed)
    return split_time(table, "timestamp", (0.8, 0.1, 0.1))


def run_model(parts, spec: FeatureSpec, params: dict) -> dict:
    t0 = time.perf_counter()
    last = [0.0]

    def progress(event: dict) -> None:
        now = time.perf_counter() - t0
        if event["event"] == "eval":
            print(f"    [{now:6.0f}s] step {event['step']} valid AUC {event['auc']:.4f}", flush=True)
        elif event["event"] == "step" and now - last[0] > 30:
            last[0] = now
            print(f"    [{now:6.0f}s] step {event['step']}/{event['total_steps']}", flush=True)

    result = train(
        train_table=parts[0],
        valid_table=parts[1],
        test_table=parts[2],
        spec=spec,
        params=params,
        on_progress=progress,
    )
    blend = result.linear_blend or {}
    if blend:
        print(
            f"    blend: alpha {blend['alpha']}, valid AUC model {blend['model_valid_auc']:.4f}, regression "
            f"{blend['regression_valid_auc']:.4f}, blended {blend['blended_valid_auc']:.4f} ({blend['fit_s']:.1f}s)",
            flush=True,
        )
    nb = result.neighbours_info
    if nb:
        print(
            f"    neighbours: weight {nb['weight']:.3f}, valid AUC model {nb['model_valid_auc']:.4f}, "
            f"blended {nb['blended_valid_auc']:.4f} ({nb['fit_s']:.1f}s)",
            flush=True,
        )
    if result.refit:
        r = result.refit
        print(
            f"    refit on train + valid: {r['rows']} rows, {r['steps']} steps in {r['wall_s']:.0f}s; "
            f"first pass test AUC {r['first_pass_test_auc']:.4f}",
            flush=True,
        )
    return {
        "auc": result.metrics["auc"],
        "refit": result.refit,
        "wall_s": time.perf_counter() - t0,
        "steps": result.steps,
        "linear_blend": result.linear_blend,
        "neighbours": result.neighbours_info,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", action="append", choices=sorted(DATASETS), help="repeatable; default: all")
    ap.add_argument("--baseline-only", action="store_true")
    ap.add_argument("--params", default="{}", help="JSON of explicit params for both runs (they win)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json-out", default=None)
    ap.add_argument(
        "--split-seeds",
        type=int,
        default=1,
        help="random splits: also train on the splits of seeds 1..N-1 (a job's default is seed 0) and print the\n"
        "mean: one 10%% test draw of ml-100k moves the baseline's AUC by about 0.008",
    )
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    explicit = json.loads(args.params)
    print(f"torch threads {torch.get_num_threads()}; cuda {torch.cuda.is_available()}; load {os.getloadavg()}")
    loaded: dict = {}
    rows = []
    runs = []
    for name in args.only or list(DATASETS):
        seeds = range(args.split_seeds) if DATASETS[name][2] == "random" else range(1)
        runs += [(name, seed) for seed in seeds]
    for name, seed in runs:
        load, spec, how = DATASETS[name]
        if load not in loaded:
            loaded[load] = load()
        parts = split(loaded[load], how, seed)
        if seed:
            name = f"{name} (split seed {seed})"
        t0 = time.perf_counter()
        base = fit_baseline(train_table=parts[0], valid_table=parts[1], test_table=parts[2], spec=spec)
        row = {
            "dataset": name,
            "rows": [p.num_rows for p in parts],
            "baseline_auc": base.metrics["auc"],
            "baseline_s": time.perf_counter() - t0,
        }
        print(
            f"{name}: rows {row['rows']}; baseline AUC {base.metrics['auc']:.4f} in {row['baseline_s']:.1f}s",
            flush=True,
        )
        if not args.baseline_only:
            cpu = choose_recipe(explicit, train_rows=parts[0].num_rows, device="cpu", has_text=True)
            defaults = choose_recipe(explicit, train_rows=parts[0].num_rows, has_text=True)
            print(f"  model, CPU recipe ({cpu.name}) ...", flush=True)
            row["cpu"] = run_model(parts, spec, cpu.params)
            if defaults.params == cpu.params:
                row["defaults"] = {**row["cpu"], "recipe": defaults.name, "same_run_as_cpu": True}
            else:
                print(f"  model, defaults ({defaults.name}) ...", flush=True)
                row["defaults"] = {**run_model(parts, spec, defaults.params), "recipe": defaults.name}
            for key in ("cpu", "defaults"):
                row[key]["lift"] = lift(row[key], base.metrics)
            print(
                f"  CPU recipe: AUC {row['cpu']['auc']:.4f}, lift {row['cpu']['lift']:+.4f}, "
                f"{row['cpu']['wall_s']:.0f}s; defaults ({defaults.name}): AUC {row['defaults']['auc']:.4f}, "
                f"lift {row['defaults']['lift']:+.4f}",
                flush=True,
            )
        rows.append(row)

    print(
        "\n| dataset | test rows | model AUC (CPU recipe) | first pass (before refit) | baseline AUC | lift "
        "| model wall | baseline wall |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        m = r.get("cpu")
        if not m:
            print(
                f"| {r['dataset']} | {r['rows'][2]} | – | – | {r['baseline_auc']:.4f} | – | – "
                f"| {r['baseline_s']:.1f} s |"
            )
            continue
        first = (m.get("refit") or {}).get("first_pass_test_auc")
        print(
            f"| {r['dataset']} | {r['rows'][2]} | {m['auc']:.4f} | {'–' if first is None else f'{first:.4f}'} | "
            f"{r['baseline_auc']:.4f} | {m['lift']:+.4f} | {m['wall_s']:.0f} s | {r['baseline_s']:.1f} s |"
        )
    seeded = [r for r in rows if "cpu" in r and "(split seed" in r["dataset"]]
    for base_name in sorted({r["dataset"].split(" (")[0] for r in seeded}):
        group = [r for r in rows if "cpu" in r and r["dataset"].split(" (")[0] == base_name]
        aucs = [r["cpu"]["auc"] for r in group]
        print(
            f"{base_name} over split seeds 0..{len(group) - 1}: model AUC mean {statistics.mean(aucs):.4f} "
            f"(sd {statistics.stdev(aucs):.4f}, min {min(aucs):.4f}), baseline mean "
            f"{statistics.mean(r['baseline_auc'] for r in group):.4f}, lift mean "
            f"{statistics.mean(r['cpu']['lift'] for r in group):+.4f}"
        )
    print(f"load after: {os.getloadavg()}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

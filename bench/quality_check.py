"""Quality-check benchmark (issue 12): a generated interactions table (Parquet, like a version's copy) checked against
the rules a steward would keep (not_null, unique event id, range, allowed_values, max_null_fraction, freshness,
distribution_shift against a previous version, references into a truncated items table) by the check's engine
(governance/quality/engine.py, the body of the `quality.check` job), beside plain pandas doing the same checks on
the same files in the same run. Each side runs in its own process so its peak RSS is its own.

    .venv/bin/python bench/quality_check.py [--rows 5000000] [--batch-rows 65536]

It times the engine alone, not the job system around it (a job adds one Job row and one report row).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
USERS, ITEMS, KEPT_ITEMS = 100_000, 50_000, 49_000
VERSION_TIME = datetime(2024, 7, 1, tzinfo=UTC)
RULES = [
    ("not_null", ["user_id"], {}),
    ("not_null", ["item_id"], {}),
    ("unique", ["event_id"], {}),
    ("range", ["price"], {"min": 0, "max": 500, "min_inclusive": True, "max_inclusive": True}),
    ("allowed_values", ["rating"], {"values": [1, 2, 3, 4, 5]}),
    ("max_null_fraction", ["price"], {"max_fraction": 0.05}),
    ("freshness", ["timestamp"], {"max_age_days": 30, "unit": "s"}),
    ("distribution_shift", ["rating"], {"threshold": 0.2, "bins": 10}),
    ("references", ["item_id"], {"dataset_version": 1, "column": "item_id"}),
]


def generate(directory: Path, rows: int, seed: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    chunk = 1_000_000
    start_ts = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
    schema = pa.schema(
        [
            ("event_id", pa.int64()),
            ("user_id", pa.int64()),
            ("item_id", pa.int64()),
            ("rating", pa.int64()),
            ("price", pa.float64()),
            ("timestamp", pa.int64()),
        ]
    )
    with pq.ParquetWriter(directory / f"interactions-{seed}.parquet", schema, compression="zstd") as writer:
        for begin in range(0, rows, chunk):
            n = min(chunk, rows - begin)
            price = rng.gamma(2.0, 20.0, n)
            table = pa.table(
                {
                    "event_id": np.arange(begin, begin + n),
                    "user_id": rng.integers(0, USERS, n),
                    "item_id": rng.integers(0, ITEMS, n),
                    "rating": rng.integers(1, 6, n),
                    "price": pa.array(price, mask=rng.random(n) < 0.01),
                    "timestamp": np.sort(rng.integers(start_ts, start_ts + 180 * 86400, n)),
                },
                schema=schema,
            )
            writer.write_table(table, row_group_size=256 * 1024)
    items = pa.table({"item_id": np.arange(KEPT_ITEMS), "title": [f"item {i}" for i in range(KEPT_ITEMS)]})
    pq.write_table(items, directory / "items.parquet")


def run_steward(directory: Path, batch_rows: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from governance.quality import engine

    specs = [
        engine.RuleSpec(id=i, name=f"{k}({', '.join(c)})", kind=k, severity="blocking", columns=c, params=p)
        for i, (k, c, p) in enumerate(RULES)
    ]
    ctx = engine.Context(
        version_time=VERSION_TIME,
        previous_path=directory / "interactions-1.parquet",
        reference_paths={1: directory / "items.parquet"},
        batch_rows=batch_rows,
    )
    results = engine.evaluate(directory / "interactions-0.parquet", specs, ctx)
    return {r["name"]: [r["passed"], r["failing_count"]] for r in results}


def run_pandas(directory: Path) -> dict:
    import numpy as np
    import pandas as pd

    df = pd.read_parquet(directory / "interactions-0.parquet")
    prev = pd.read_parquet(directory / "interactions-1.parquet", columns=["rating"])
    items = pd.read_parquet(directory / "items.parquet", columns=["item_id"])
    out = {
        "not_null(user_id)": int(df["user_id"].isna().sum()),
        "not_null(item_id)": int(df["item_id"].isna().sum()),
        "unique(event_id)": int(df["event_id"].duplicated().sum()),
        "range(price)": int(((df["price"] < 0) | (df["price"] > 500)).sum()),
        "allowed_values(rating)": int((~df["rating"].isin([1, 2, 3, 4, 5]) & df["rating"].notna()).sum()),
        "max_null_fraction(price)": int(df["price"].isna().sum()),
        "freshness(timestamp)": float((VERSION_TIME.timestamp() - df["timestamp"].max()) / 86400),
        "references(item_id)": int((~df["item_id"].isin(items["item_id"]) & df["item_id"].notna()).sum()),
    }
    e = prev["rating"].value_counts(normalize=True).sort_index()
    a = df["rating"].value_counts(normalize=True).reindex(e.index, fill_value=0)
    e, a = np.maximum(e.to_numpy(), 1e-4), np.maximum(a.to_numpy(), 1e-4)
    out["distribution_shift(rating)"] = float(np.sum((a - e) * np.log(a / e)))
    return out


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM belongs to the process's own memory map, which exec replaces; ru_maxrss
    would carry over the peak of the forking parent (the generator)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(which: str, directory: Path, batch_rows: int) -> None:
    # A worker has its libraries loaded already: imports stay out of the timing (and in the peak RSS of both).
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.compute
    import pyarrow.parquet  # noqa: F401

    start = time.perf_counter()
    result = run_steward(directory, batch_rows) if which == "steward" else run_pandas(directory)
    wall = time.perf_counter() - start
    rss = peak_rss_mb()
    print(json.dumps({"wall_s": wall, "peak_rss_mb": rss, "result": result}))


def measure(which: str, directory: Path, batch_rows: int) -> dict:
    cmd = [sys.executable, __file__, "--child", which, "--dir", str(directory), "--batch-rows", str(batch_rows)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--batch-rows", type=int, default=65_536)
    parser.add_argument("--child", choices=["steward", "pandas"])
    parser.add_argument("--dir")
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.dir), args.batch_rows)
        return
    with tempfile.TemporaryDirectory(dir=ROOT / "var" if (ROOT / "var").exists() else None) as tmp:
        directory = Path(tmp)
        t0 = time.perf_counter()
        generate(directory, args.rows, seed=0)
        generate(directory, args.rows, seed=1)  # the previous version, for distribution_shift
        size = (directory / "interactions-0.parquet").stat().st_size / 1e6
        print(
            f"generated 2 x {args.rows:,} interactions ({size:.0f} MB Parquet each) in {time.perf_counter() - t0:.1f}s"
        )
        steward = measure("steward", directory, args.batch_rows)
        pandas = measure("pandas", directory, args.batch_rows)
    print(f"{'':28}{'wall s':>10}{'peak RSS MB':>14}")
    print(f"{'steward check (engine)':28}{steward['wall_s']:>10.2f}{steward['peak_rss_mb']:>14.0f}")
    print(f"{'pandas, same checks':28}{pandas['wall_s']:>10.2f}{pandas['peak_rss_mb']:>14.0f}")
    print("steward results (passed, failing count):")
    for name, (passed, count) in steward["result"].items():
        print(f"  {name:70} {'pass' if passed else 'FAIL'} {count:,}")
    print("pandas failing counts / measures:", json.dumps(pandas["result"]))


if __name__ == "__main__":
    main()

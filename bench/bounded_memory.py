"""Peak memory of the privacy reads: a scan's sample, a masking chunk and the policy preview, each against the
whole-table read they replaced; and an upload that decodes far beyond its size, with and without the limits.

Each measurement runs in a fresh Python process and prints the peak of pyarrow's memory pool during the read
(`max_memory()` above the pool's peak after imports): what the read itself decoded and held at once.

Run: .venv/bin/python bench/bounded_memory.py [--rows 2000000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = {
    "scan: whole table (before)": "whole",
    "scan: read_sample(500) (now)": "sample",
    "mask chunk of 100k rows: whole table + slice (before)": "whole_slice",
    "mask chunk of 100k rows: read_row_range (now)": "range",
    "preview 20 rows: read_row_range (now)": "preview",
    "parquet bomb: first batch as ingest decoded it before (256k rows)": "bomb_before",
    "parquet bomb upload: decoded-size limit off": "bomb_unlimited",
    "parquet bomb upload: STEWARD_MAX_DECODED_MB=256": "bomb_limited",
}


def child(case: str, data_dir: str, rows: int) -> None:
    os.environ["STEWARD_DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from types import SimpleNamespace

    import pyarrow.parquet as pq

    from governance.catalog import ingest
    from governance.privacy.selectors import read_row_range, read_sample

    version = SimpleNamespace(parquet="bench/table.parquet")
    path = Path(data_dir) / "files" / version.parquet
    import pyarrow as pa

    pool = pa.default_memory_pool()
    base = pool.max_memory() or 0
    started = time.perf_counter()
    if case == "whole":
        pq.read_table(path)
    elif case == "sample":
        assert read_sample(version, 500, seed=1).num_rows == 500
    elif case == "whole_slice":
        pq.read_table(path).slice(rows - 100_000, 100_000)
    elif case == "range":
        assert read_row_range(version, rows - 100_000, rows).num_rows == 100_000
    elif case == "preview":
        assert read_row_range(version, 0, 20).num_rows == 20
    elif case == "bomb_before":
        batch = next(pq.ParquetFile(Path(data_dir) / "bomb.parquet").iter_batches(batch_size=256 * 1024))
        print(f"decoded {batch.num_rows:,} rows at once", file=sys.stderr)
    else:
        limits = ingest.Limits(max_bytes=256 * 1024 * 1024) if case == "bomb_limited" else ingest.NO_LIMITS
        out = Path(data_dir) / "bomb-out.parquet"
        try:
            ingest.ingest(Path(data_dir) / "bomb.parquet", "parquet", out, limits=limits)
            outcome = "accepted"
        except ingest.IngestError as exc:
            outcome = f"refused: {exc}"[:60]
        print(outcome, file=sys.stderr)
    print(f"{((pool.max_memory() or 0) - base) / 2**20:.0f} {time.perf_counter() - started:.2f}")


def build(data_dir: str, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    target = Path(data_dir) / "files" / "bench" / "table.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    step = 256 * 1024  # the catalog's ROW_GROUP_ROWS
    for start in range(0, rows, step):
        n = min(step, rows - start)
        ids = rng.integers(0, 10**9, n)
        table = pa.table(
            {
                "email": pa.array([f"shopper{i}@example.com" for i in ids]),
                "review": pa.array([f"order {i}: the kettle arrived quickly and works as described" for i in ids]),
                "qty": pa.array(ids % 7),
            }
        )
        writer = writer or pq.ParquetWriter(target, table.schema, compression="zstd")
        writer.write_table(table, row_group_size=step)
    writer.close()
    bomb = pa.table({"text": pa.array(["x" * 10_000] * 200_000)})  # 2 GB decoded, a few MB on disk
    pq.write_table(bomb, Path(data_dir) / "bomb.parquet", compression="zstd", row_group_size=50_000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--child", default="")
    parser.add_argument("--data-dir", default="")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data_dir, args.rows)
        return
    with tempfile.TemporaryDirectory(prefix="bounded-memory-") as data_dir:
        build(data_dir, args.rows)
        size = (Path(data_dir) / "files" / "bench" / "table.parquet").stat().st_size / 2**20
        bomb = (Path(data_dir) / "bomb.parquet").stat().st_size / 2**20
        print(f"table: {args.rows:,} rows, {size:.0f} MB Parquet; bomb: {bomb:.1f} MB Parquet, 1.9 GB decoded")
        print(f"{'case':<58} {'arrow peak MB':>14} {'seconds':>8}")
        for label, case in CASES.items():
            cmd = [sys.executable, __file__, "--child", case, "--data-dir", data_dir, "--rows", str(args.rows)]
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
            if done.returncode != 0:
                print(f"{label:<58} failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            mb, seconds = done.stdout.split()[-2:]
            note = done.stderr.strip().splitlines()[-1][:70] if case.startswith("bomb") and done.stderr.strip() else ""
            print(f"{label:<58} {mb:>14} {seconds:>8}  {note}")
        print("load:", os.getloadavg())


if __name__ == "__main__":
    main()

"""Scan + mask a generated customer table end to end through jobs on Celery `pii` workers.

Prints cells/s for 1 and 2 workers beside a plain per-cell ``AnalyzerEngine.analyze`` loop on a
sample of the same table (same run), and cell-level precision/recall/F1 of both on that sample
(a cell is positive when it holds PII: every name/e-mail/phone/address cell and the reviews the
generator put PII into; Steward predicts positive when masking changed the cell, the plain
loop when analyze returned any result).

Run: .venv/bin/python bench/pii_scan.py [--rows 100000] [--workers 1,2] [--sample-rows 300]
         [--database-url postgres://postgres@127.0.0.1:5432/pii_bench] [--broker-url redis://127.0.0.1:6379/14]
By default it uses a throw-away data dir with the embedded setup (SQLite + filesystem broker);
--database-url / --broker-url point workers and bench at PostgreSQL / Redis instead (the
database must exist and is migrated; its tables are shared with nothing else you care about).
Each worker is one `celery worker --pool solo` process, so N workers can run N chunks at once;
the chunk timeline (which process ran which chunk, and how many ran at the same time) is
printed to show it. CPU timings on a shared machine are noisy: the load average is printed.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import start_celery_worker  # noqa: E402  (after the sys.path set-up)

COLUMNS = ["name", "email", "phone", "street_address", "review", "price", "category"]
PII_COLUMNS = {"name", "email", "phone", "street_address"}


def cell_truth(table, has_pii, rows):
    return {(r, c): (c in PII_COLUMNS) or (c == "review" and bool(has_pii[r])) for r in rows for c in COLUMNS}


def prf(truth, predicted):
    tp = sum(1 for k, v in truth.items() if v and predicted[k])
    fp = sum(1 for k, v in truth.items() if not v and predicted[k])
    fn = sum(1 for k, v in truth.items() if v and not predicted[k])
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def plain_loop(table, rows):
    from governance.privacy.analyzer import build_plain_analyzer

    engine = build_plain_analyzer()
    engine.analyze("warm up John Smith", language="en")
    predicted = {}
    start = time.perf_counter()
    for r in rows:
        for c in COLUMNS:
            value = table.column(c)[r].as_py()
            predicted[(r, c)] = bool(engine.analyze(str(value), language="en"))
    seconds = time.perf_counter() - start
    return predicted, len(predicted) / seconds


def start_workers(n: int, env: dict[str, str], log_dir: Path) -> list[subprocess.Popen]:
    procs = []
    for i in range(n):
        log = (log_dir / f"worker-{n}-{i}.log").open("wb")
        procs.append(start_celery_worker("pii", f"bench{n}-{i}-{os.getpid()}@localhost", env, log))
    return procs


def warm_workers(n: int) -> None:
    """One tiny scan per worker so each has loaded spaCy before the timed run."""
    from governance.catalog.services import dataset_create, dataset_version_upload
    from governance.privacy.models import PiiScan

    for i in range(n * 2):
        ds = dataset_create(actor=None, name=f"warmup-{n}-{i}-{time.time_ns()}")
        src = io.BytesIO(f"name,email\nAnn Lee,ann{i}@example.com\n".encode())
        dataset_version_upload(actor=None, dataset=ds, source=src, filename="w.csv")
    deadline = time.time() + 300
    while PiiScan.objects.in_flight().exists() and time.time() < deadline:
        time.sleep(0.5)


def wait_job(job_id: int, timeout: float = 3600) -> object:
    from core.models import Job

    deadline = time.time() + timeout
    while time.time() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.is_finished:
            return job
        time.sleep(0.2)
    raise TimeoutError(f"job {job_id} did not finish")


def chunk_timeline(job_id: int) -> dict:
    """Worker processes used, chunks per process, and the most chunks running at one time."""
    from governance.privacy.models import MaskChunk

    chunks = list(MaskChunk.objects.filter(job_id=job_id).order_by("started_at"))
    per_worker: dict[str, int] = {}
    for c in chunks:
        per_worker[c.worker] = per_worker.get(c.worker, 0) + 1
    events = sorted(
        [(c.started_at, 1) for c in chunks if c.started_at] + [(c.finished_at, -1) for c in chunks if c.finished_at]
    )
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return {
        "processes": len(per_worker),
        "per_process": sorted(per_worker.values(), reverse=True),
        "peak_parallel": peak,
        "chunk_seconds": [round(c.seconds, 1) for c in chunks],
    }


def run_once(workers: int, csv_path: Path, table, rows, env, log_dir) -> dict:
    import pyarrow.parquet as pq

    from core.storage import local_path
    from governance.catalog.models import DatasetVersion
    from governance.catalog.services import dataset_create, dataset_version_upload
    from governance.privacy.models import PiiScan
    from governance.privacy.selectors import SUGGESTED_OPERATORS
    from governance.privacy.services import mask_start

    procs = start_workers(workers, env, log_dir)
    try:
        warm_workers(workers)
        ds = dataset_create(actor=None, name=f"customers-{workers}w-{time.time_ns()}")
        with csv_path.open("rb") as fh:
            version, _ = dataset_version_upload(actor=None, dataset=ds, source=fh, filename="customers.csv")
        # Timing starts when the version exists: the auto scan is already queued.
        t0 = time.perf_counter()
        scan = PiiScan.objects.filter(version=version).latest("id")
        scan_job = wait_job(scan.job_id)
        t_scan = time.perf_counter() - t0
        scan.refresh_from_db()
        policy = {"columns": {}}
        for c in scan.columns:
            if not c.get("entity_type"):
                continue
            if c["kind"] == "free_text":
                policy["columns"][c["name"]] = {"operator": "replace"}
            else:
                op, params = SUGGESTED_OPERATORS.get(c["entity_type"], ("hash", {}))
                policy["columns"][c["name"]] = {"operator": op, "params": params}
        t1 = time.perf_counter()
        job = mask_start(version=version, actor=None, policy=policy)
        job = wait_job(job.pk)
        t_mask = time.perf_counter() - t1
        if job.status != "succeeded":
            raise RuntimeError(f"mask job failed: {job.error}")
        masked = DatasetVersion.objects.get(pk=job.result["dataset_version"])
        with local_path(masked.parquet) as path:
            out = pq.read_table(path)
        predicted = {}
        for r in rows:
            for c in COLUMNS:
                before = table.column(c)[r].as_py()
                after = out.column(c)[r].as_py() if c in out.column_names else None
                predicted[(r, c)] = after != before
        cells = table.num_rows * table.num_columns
        return {
            "workers": workers,
            "scan_s": t_scan,
            "mask_s": t_mask,
            "cells": cells,
            "cells_per_s": cells / (t_scan + t_mask),
            "predicted": predicted,
            "policy": policy,
            "scan_status": scan_job.status,
            "chunks": job.result.get("chunks"),
            "timeline": chunk_timeline(job.pk),
            "load": os.getloadavg(),
        }
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--sample-rows", type=int, default=300)
    parser.add_argument("--chunk-rows", type=int, default=10_000)
    parser.add_argument("--database-url", default="", help="e.g. postgres://postgres@127.0.0.1:5432/pii_bench")
    parser.add_argument("--broker-url", default="", help="e.g. redis://127.0.0.1:6379/14")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="steward-bench-pii-"))
    env = dict(
        os.environ,
        STEWARD_DATA_DIR=str(data_dir),
        STEWARD_PII_CHUNK_ROWS=str(args.chunk_rows),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    env.pop("PYTEST_VERSION", None)
    for name, value in (("DATABASE_URL", args.database_url), ("CELERY_BROKER_URL", args.broker_url)):
        if value:
            env[name] = os.environ[name] = value
        else:
            env.pop(name, None)
            os.environ.pop(name, None)
    os.environ.update({k: env[k] for k in ("STEWARD_DATA_DIR", "STEWARD_PII_CHUNK_ROWS", "DJANGO_SETTINGS_MODULE")})
    if args.broker_url.startswith("redis://"):
        _purge_redis_queues(args.broker_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    import numpy as np
    import pyarrow.csv as pacsv
    from customer_table import generate

    table, has_pii = generate(args.rows, seed=7)
    csv_path = data_dir / "customers.csv"
    pacsv.write_csv(table, csv_path)
    rng = np.random.default_rng(1)
    rows = sorted(rng.choice(args.rows, size=min(args.sample_rows, args.rows), replace=False).tolist())
    truth = cell_truth(table, has_pii, rows)

    plain_pred, plain_rate = plain_loop(table, rows)
    pp, pr, pf = prf(truth, plain_pred)
    print(
        f"setup: database {'PostgreSQL' if args.database_url else 'SQLite'}, broker "
        f"{'Redis' if args.broker_url else 'filesystem'}; {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min)"
    )
    print(
        f"table: {args.rows} rows x {table.num_columns} columns = {args.rows * table.num_columns} cells; "
        f"{int(has_pii.sum())} reviews carry PII ({has_pii.mean():.1%})"
    )
    print(
        f"plain AnalyzerEngine.analyze per cell, {len(plain_pred)} sampled cells: {plain_rate:.0f} cells/s; "
        f"cell P/R/F1 {pp:.3f}/{pr:.3f}/{pf:.3f}"
    )
    for n in [int(w) for w in args.workers.split(",")]:
        res = run_once(n, csv_path, table, rows, env, data_dir)
        sp, sr, sf = prf(truth, res["predicted"])
        print(
            f"Steward, {n} pii worker(s), chunks of {args.chunk_rows} rows ({res['chunks']} chunks): "
            f"scan {res['scan_s']:.1f} s + mask {res['mask_s']:.1f} s -> {res['cells_per_s']:.0f} cells/s "
            f"= {res['cells_per_s'] / plain_rate:.1f}x the plain loop; cell P/R/F1 on the same sample "
            f"{sp:.3f}/{sr:.3f}/{sf:.3f} ({'>=' if sf >= pf else '<'} plain {pf:.3f})"
        )
        tl = res["timeline"]
        print(
            f"  chunks ran in {tl['processes']} worker process(es) {tl['per_process']}, at most "
            f"{tl['peak_parallel']} at once; seconds per chunk {tl['chunk_seconds']}; load average after "
            f"{' '.join(f'{x:.2f}' for x in res['load'])}"
        )
        print(f"  policy: {res['policy']}")
    print(f"(data dir {data_dir}; shared 2-core machine: timings are noisy)")


def _purge_redis_queues(url: str) -> None:
    """Start from an empty broker database (leftover messages of an earlier run would be run)."""
    import redis

    redis.Redis.from_url(url).flushdb()


if __name__ == "__main__":
    main()

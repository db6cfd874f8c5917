"""Transforms at scale through the job system, beside a plain pandas script doing the same operations.

Builds a seeded interactions table (default 5,000,000 rows, 100,000 users, 50,000 items, timestamps, about 1 %
exact duplicate rows) plus items and users tables as Parquet in a temp dir, registers them as dataset versions,
and runs through jobs on one Celery worker (`--pool solo`, queue `default`): the quality check (only where the
quality app is installed; skipped with a message otherwise), join with items, dedupe, impute, `aggregates`,
`sequence` (N = 20) and a time split, each step on the previous step's version. For every step it prints the
wall time (job asked for -> job finished, including writing, hashing and profiling the new version) and the
peak RSS of the worker process during the step (VmHWM, reset before each step through /proc/PID/clear_refs);
then a plain pandas script (its own process, same files, same operations, each result written to Parquet) with
its wall time and peak RSS per step. Targets: total within 1.3x of pandas, worker peak under 2 GiB.

Run: .venv/bin/python bench/transforms.py [--rows 5000000] [--users 100000] [--items 50000]
         [--memory-limit 1GB] [--skip-pandas] [--keep]
`--rows 50000000` is the large run (pandas may not finish there; `--skip-pandas` leaves it out). The data dir
is a throw-away temp dir (SQLite + filesystem broker) removed at the end unless --keep. The load average is
printed beside the figures: on a shared machine timings are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import start_celery_worker  # noqa: E402  (bench/, the script's folder, is on sys.path)

CHUNK = 1_000_000
SEQUENCE_LENGTH = 20


def _peak_reset(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


# --- data ------------------------------------------------------------------------------------------------------------


def generate(out: Path, rows: int, users: int, items: int, seed: int = 0) -> dict[str, Path]:
    """interactions.parquet (user_id, item_id, event, rating, timestamp), items.parquet, users.parquet."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    paths = {name: out / f"{name}.parquet" for name in ("interactions", "items", "users")}
    events = np.array(["view", "click", "purchase"])
    schema = pa.schema(
        [
            ("user_id", pa.int64()),
            ("item_id", pa.int64()),
            ("event", pa.string()),
            ("rating", pa.float64()),
            ("timestamp", pa.int64()),
        ]
    )
    written = 0
    with pq.ParquetWriter(paths["interactions"], schema, compression="zstd") as writer:
        while written < rows:
            n = min(CHUNK, rows - written)
            fresh = n - n // 100
            user = rng.integers(1, users + 1, fresh)
            item = (rng.zipf(1.3, fresh) - 1) % items + 1  # popular items dominate, as in real logs
            event = events[rng.choice(3, fresh, p=[0.85, 0.12, 0.03])]
            rating = np.where(rng.random(fresh) < 0.3, rng.integers(1, 6, fresh).astype(float), np.nan)
            ts = 1_600_000_000 + rng.integers(0, 180 * 86_400, fresh)
            dup = rng.integers(0, fresh, n - fresh)  # exact duplicate rows, for dedupe
            table = pa.table(
                {
                    "user_id": np.concatenate([user, user[dup]]),
                    "item_id": np.concatenate([item, item[dup]]),
                    "event": np.concatenate([event, event[dup]]),
                    "rating": pa.array(np.concatenate([rating, rating[dup]]), from_pandas=True),
                    "timestamp": np.concatenate([ts, ts[dup]]),
                },
                schema=schema,
            )
            writer.write_table(table, row_group_size=256 * 1024)
            written += n
    price = np.round(rng.lognormal(3, 1, items), 2)
    pq.write_table(
        pa.table(
            {
                "item_id": np.arange(1, items + 1),
                "category": pa.array([f"cat-{c}" for c in rng.integers(0, 300, items)]),
                "price": pa.array(np.where(rng.random(items) < 0.05, np.nan, price), from_pandas=True),
            }
        ),
        paths["items"],
    )
    pq.write_table(
        pa.table(
            {
                "user_id": np.arange(1, users + 1),
                "age": pa.array(
                    np.where(rng.random(users) < 0.1, np.nan, rng.integers(16, 80, users)), from_pandas=True
                ),
                "country": pa.array([f"c{c}" for c in rng.integers(0, 40, users)]),
            }
        ),
        paths["users"],
    )
    return paths


# --- the plain pandas script ---------------------------------------------------------------------------------


def pandas_run(paths: dict[str, str], out: Path) -> list[dict[str, Any]]:
    """The same operations in plain pandas, one after the other, each result written to Parquet."""
    import numpy as np
    import pandas as pd

    steps: list[dict[str, Any]] = []
    pid = os.getpid()

    def step(name: str, fn: Any, frame: Any) -> Any:
        _peak_reset(pid)
        start = time.perf_counter()
        result = fn(frame)
        parts = result if isinstance(result, list) else [result]
        for i, part in enumerate(parts):
            part.to_parquet(out / f"pandas-{name}-{i}.parquet", index=False)
        steps.append({"step": name, "seconds": time.perf_counter() - start, "peak_mib": _peak_mib(pid)})
        return result

    inter = pd.read_parquet(paths["interactions"])
    items = pd.read_parquet(paths["items"])

    def join(df: Any) -> Any:
        return df.merge(items, on="item_id", how="left")

    def dedupe(df: Any) -> Any:
        return df.drop_duplicates(subset=["user_id", "item_id", "event", "timestamp"], keep="first").reset_index(
            drop=True
        )

    def impute(df: Any) -> Any:
        return df.assign(price=df["price"].fillna(df["price"].mean()))

    def aggregates(df: Any) -> Any:
        out = df.copy()
        click = (df["event"] == "click").astype(float)
        purchase = (df["event"] == "purchase").astype(float)
        rated = df["rating"].notna().astype(float)
        rating = df["rating"].fillna(0.0)
        for side in ("user", "item"):
            key = f"{side}_id"
            order = np.lexsort((df["timestamp"].to_numpy(), df[key].to_numpy()))
            s = pd.DataFrame(
                {
                    "k": df[key].to_numpy()[order],
                    "t": df["timestamp"].to_numpy()[order],
                    "click": click.to_numpy()[order],
                    "purchase": purchase.to_numpy()[order],
                    "rated": rated.to_numpy()[order],
                    "rating": rating.to_numpy()[order],
                }
            )
            g = s.groupby("k", sort=False)
            # Events strictly before: cumulative sums before the row, then the first row of each (key, time)
            # group's values for all rows of that group (ties do not see each other).
            before = pd.DataFrame(
                {
                    "n": g.cumcount().astype(float),
                    "click": g["click"].cumsum() - s["click"],
                    "purchase": g["purchase"].cumsum() - s["purchase"],
                    "rated": g["rated"].cumsum() - s["rated"],
                    "rating": g["rating"].cumsum() - s["rating"],
                }
            )
            before[["k", "t"]] = s[["k", "t"]]
            before = before.groupby(["k", "t"], sort=False).transform("min")
            n = before["n"].to_numpy()
            with np.errstate(invalid="ignore", divide="ignore"):
                values = {
                    f"{side}_events_before": n.astype(np.int64),
                    f"{side}_click_rate": np.where(n > 0, before["click"] / n, np.nan),
                    f"{side}_purchase_rate": np.where(n > 0, before["purchase"] / n, np.nan),
                    f"{side}_mean_rating": np.where(before["rated"] > 0, before["rating"] / before["rated"], np.nan),
                }
            back = np.empty_like(order)
            back[order] = np.arange(len(order))
            for name, column in values.items():
                out[name] = np.asarray(column)[back]
        return out

    def sequence(df: Any) -> Any:
        order = np.lexsort((np.arange(len(df)), df["timestamp"].to_numpy(), df["user_id"].to_numpy()))
        users, times, item_ids = (df[c].to_numpy()[order] for c in ("user_id", "timestamp", "item_id"))
        lists: list[list[int]] = [[] for _ in range(len(df))]
        history: list[int] = []
        group_list: list[int] = []
        for pos in range(len(order)):
            if pos == 0 or users[pos] != users[pos - 1]:
                history, group_list = [], []
            elif times[pos] != times[pos - 1]:
                group_list = history[-SEQUENCE_LENGTH:]  # rows at the same time share the list before them
            lists[order[pos]] = group_list
            history.append(int(item_ids[pos]))
        return df.assign(item_sequence=lists)

    def split(df: Any) -> Any:
        ordered = df.sort_values("timestamp", kind="stable")
        cuts = np.round(np.cumsum([0.0, 0.8, 0.1, 0.1]) * len(df)).astype(int)
        return [ordered.iloc[cuts[i] : cuts[i + 1]] for i in range(3)]

    frame = inter
    for name, fn in (
        ("join", join),
        ("dedupe", dedupe),
        ("impute", impute),
        ("aggregates", aggregates),
        ("sequence", sequence),
        ("split", split),
    ):
        frame = step(name, fn, frame)
    return steps


# --- through Steward's jobs ----------------------------------------------------------------------------------------


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    return start_celery_worker("default", f"bench-transforms-{os.getpid()}@localhost", env, log.open("wb"))


def wait_job(job_id: int, timeout: float = 6 * 3600) -> Any:
    from core.models import Job

    deadline = time.time() + timeout
    while time.time() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.is_finished:
            return job
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id} did not finish")


def wait_idle() -> None:
    """Until no job on the default queue (profiling of big uploads) is queued or running."""
    from core.models import Job

    while Job.objects.filter(kind="profile", status__in=["queued", "running"]).exists():
        time.sleep(0.5)


def steward_run(paths: dict[str, Path], worker_pid: int) -> list[dict[str, Any]]:
    from django.apps import apps

    from governance.catalog.models import DatasetVersion
    from governance.catalog.services import dataset_create, dataset_version_upload
    from governance.catalog.transform_service import transform_start

    # A steward with pii.manage: derived versions hide their text columns from other roles until their PII scan
    # (queue "pii", not served here) is done, and a transform may not name a hidden column.
    actor = _bench_user()
    versions = {}
    start = time.perf_counter()
    for name, path in paths.items():
        dataset = dataset_create(actor=actor, name=f"bench-{name}-{time.time_ns()}")
        with path.open("rb") as fh:
            versions[name], _ = dataset_version_upload(actor=actor, dataset=dataset, source=fh, filename=path.name)
    wait_idle()
    print(f"registered 3 versions in {time.perf_counter() - start:.1f} s (upload, Parquet copy, hash, profile)")

    steps: list[dict[str, Any]] = []

    def step(name: str, version: Any, operation: str, params: dict[str, Any]) -> Any:
        _peak_reset(worker_pid)
        start = time.perf_counter()
        job = wait_job(transform_start(actor=actor, version=version, operation=operation, params=params).pk)
        seconds = time.perf_counter() - start
        if job.status != "succeeded":
            raise RuntimeError(f"{name} failed: {job.error}")
        steps.append({"step": name, "seconds": seconds, "peak_mib": _peak_mib(worker_pid)})
        result = job.result
        return DatasetVersion.objects.get(pk=result.get("dataset_version") or result["dataset_versions"][0])

    if apps.is_installed("governance.quality"):
        try:
            steps.append(quality_step(versions, worker_pid))
        except (RuntimeError, KeyError) as exc:
            print(f"quality check: not measured ({exc})")
    else:
        print("quality check: skipped (the quality app, governance.quality, is not installed on this branch)")
    v = step(
        "join", versions["interactions"], "join", {"right": versions["items"].pk, "on": ["item_id"], "how": "left"}
    )
    v = step("dedupe", v, "dedupe", {"keys": ["user_id", "item_id", "event", "timestamp"], "keep": "first"})
    v = step("impute", v, "impute", {"columns": ["price"], "strategy": "mean"})
    agg = {
        "user_column": "user_id",
        "item_column": "item_id",
        "time_column": "timestamp",
        "event_column": "event",
        "rating_column": "rating",
    }
    v = step("aggregates", v, "aggregates", agg)
    seq = {"user_column": "user_id", "item_column": "item_id", "time_column": "timestamp", "length": SEQUENCE_LENGTH}
    v = step("sequence", v, "sequence", seq)
    step("split", v, "split", {"strategy": "time", "time_column": "timestamp", "fractions": [0.8, 0.1, 0.1]})
    return steps


def _bench_user() -> Any:
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="bench-transforms", defaults={"is_superuser": True})
    return user


def quality_step(versions: dict[str, Any], worker_pid: int) -> dict[str, Any]:
    """Where the quality app is installed: through the documented API (DESIGN.md), a blocking `not_null` rule on
    user_id and a `references` rule (interactions.item_id -> the items version), then a quality check job."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(_bench_user())
    interactions = versions["interactions"]
    rules = [
        {"kind": "not_null", "column": "user_id", "params": {}, "severity": "blocking"},
        {
            "kind": "references",
            "column": "item_id",
            "params": {"dataset_version": versions["items"].pk, "column": "item_id"},
            "severity": "blocking",
        },
    ]
    for rule in rules:
        response = client.post(f"/api/v1/datasets/{interactions.dataset_id}/quality-rules/", rule, format="json")
        if response.status_code >= 400:
            raise RuntimeError(f"quality rule refused: {response.content[:300]!r}")
    _peak_reset(worker_pid)
    start = time.perf_counter()
    response = client.post(f"/api/v1/dataset-versions/{interactions.pk}/quality-checks/", {}, format="json")
    if response.status_code >= 400:
        raise RuntimeError(f"quality check refused: {response.content[:300]!r}")
    job = wait_job(response.json()["id"])
    if job.status != "succeeded":
        raise RuntimeError(f"quality check failed: {job.error}")
    return {"step": "quality", "seconds": time.perf_counter() - start, "peak_mib": _peak_mib(worker_pid)}


def _table(steward: list[dict[str, Any]], plain: list[dict[str, Any]] | None) -> None:
    by_step = {s["step"]: s for s in plain or []}
    print(f"{'step':<12}{'steward s':>11}{'worker peak MiB':>17}{'pandas s':>11}{'pandas peak MiB':>17}")
    for s in steward:
        p = by_step.get(s["step"])
        pandas_cols = f"{p['seconds']:>11.1f}{p['peak_mib']:>17.0f}" if p else f"{'-':>11}{'-':>17}"
        print(f"{s['step']:<12}{s['seconds']:>11.1f}{s['peak_mib']:>17.0f}{pandas_cols}")
    total = sum(s["seconds"] for s in steward if s["step"] in by_step or not plain)
    peak = max(s["peak_mib"] for s in steward)
    print(f"{'total':<12}{total:>11.1f}{peak:>17.0f}", end="")
    if plain:
        ptotal = sum(p["seconds"] for p in plain)
        print(f"{ptotal:>11.1f}{max(p['peak_mib'] for p in plain):>17.0f}")
        print(f"steward / pandas wall time: {total / ptotal:.2f}x (target <= 1.3x)")
    else:
        print()
    print(f"worker peak RSS {peak:.0f} MiB (target < 2048 MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--memory-limit", default="1GB", help="STEWARD_TRANSFORM_MEMORY_LIMIT for the worker")
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temp data dir")
    parser.add_argument("--pandas-only", help=argparse.SUPPRESS)  # internal: the pandas subprocess
    args = parser.parse_args()

    if args.pandas_only:
        spec = json.loads(args.pandas_only)
        print(json.dumps(pandas_run(spec["paths"], Path(spec["out"]))))
        return

    data_dir = Path(tempfile.mkdtemp(prefix="steward-bench-transforms-"))
    env = dict(
        os.environ,
        STEWARD_DATA_DIR=str(data_dir),
        STEWARD_TRANSFORM_MEMORY_LIMIT=args.memory_limit,
        DJANGO_SETTINGS_MODULE="config.settings",
        HF_HUB_OFFLINE="1",
    )
    for name in ("PYTEST_VERSION", "DATABASE_URL", "CELERY_BROKER_URL", "STEWARD_TASKS_EAGER"):
        env.pop(name, None)
        os.environ.pop(name, None)
    os.environ.update(
        {k: env[k] for k in ("STEWARD_DATA_DIR", "DJANGO_SETTINGS_MODULE", "STEWARD_TRANSFORM_MEMORY_LIMIT")}
    )
    print(f"{args.rows:,} interactions, {args.users:,} users, {args.items:,} items; memory limit {args.memory_limit}")
    print(f"{_load()} on {os.cpu_count()} cores")
    worker = None
    try:
        start = time.perf_counter()
        paths = generate(data_dir, args.rows, args.users, args.items)
        size = paths["interactions"].stat().st_size / 2**20
        print(f"generated in {time.perf_counter() - start:.1f} s ({size:.0f} MiB of Parquet)")

        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        worker = start_worker(env, data_dir / "worker.log")
        steward = steward_run(paths, worker.pid)
        print(f"steward done; {_load()}")

        plain = None
        if not args.skip_pandas:
            spec = json.dumps({"paths": {k: str(v) for k, v in paths.items()}, "out": str(data_dir)})
            done = subprocess.run(
                [sys.executable, __file__, "--pandas-only", spec], capture_output=True, text=True, cwd=ROOT, env=env
            )
            if done.returncode != 0:
                print(f"pandas did not finish (exit {done.returncode}): {done.stderr.strip()[-300:]}")
            else:
                plain = json.loads(done.stdout.strip().splitlines()[-1])
            child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print(f"pandas process peak RSS {child:.0f} MiB; {_load()}")
        _table(steward, plain)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=60)
        if args.keep:
            print(f"data dir kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

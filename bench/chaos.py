"""Chaos run: the ml-100k chain through the HTTP API while the worker process is SIGKILLed every N seconds.

Starts its own Steward twice (`manage.py steward_run`: web, worker and beat, each in a fresh data directory with
SQLite and the filesystem broker): once undisturbed, once while a killer SIGKILLs the worker (its pool processes
included) every `--kill-every` seconds; `steward_run` restarts it and the job sweep retries what it was running.
Each run goes through the chain as a user would: upload ratings / items / users, join, join, label rating >= 4,
wait for the automatic PII scan and review it, mask, split, train a tiny model, batch-score the test part.

Prints, for the chaos run: jobs run, retried (attempts > 1), failed, duplicated (a second version, model version or
lineage edge for one output) and stuck (not finished when the chain ended), and compares every output of the
chain (content hashes of the versions, the model's metrics and scores) with the undisturbed run.

    .venv/bin/python bench/chaos.py [--rows 20000] [--kill-every 20]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_ml100k import DATA, NOT_PII, Api, latest_scan  # noqa: E402

PASSWORD = "chaos-admin-password-1"
# Small enough that one attempt fits between two kills on a busy 2-core machine; checkpoints let a killed
# training attempt resume instead of starting over.
TRAIN_PARAMS = {
    "epochs": 2,
    "batch_size": 256,
    "lr": 0.01,
    "embedding_dim": 8,
    "patience": 0,
    "seed": 0,
    "checkpoint_every_steps": 10,
}
LEASE_ENV = {
    "STEWARD_JOB_LEASE_S": "10",
    "STEWARD_JOB_HEARTBEAT_S": "2",
    "STEWARD_JOB_SWEEP_S": "2",
    "STEWARD_JOB_QUEUED_RESEND_S": "20",
    # A scan loads spaCy in each new worker process: on a busy machine that alone can outlast a kill interval.
    "STEWARD_JOB_MAX_ATTEMPTS": "20",
}
T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f}s] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """pid's child processes, recursively (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class Steward:
    """One Steward under `manage.py steward_run`, in its own data directory."""

    def __init__(self, name: str, workdir: Path) -> None:
        self.name = name
        self.data = workdir / name
        self.data.mkdir(parents=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = dict(
            os.environ,
            STEWARD_DATA_DIR=str(self.data),
            STEWARD_PORT=str(self.port),
            STEWARD_ADMIN_PASSWORD=PASSWORD,
            STEWARD_WORKER_CONCURRENCY="2",
            WEB_CONCURRENCY="2",
            STEWARD_SERVING_WARM_UP="0",
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            OMP_NUM_THREADS="1",
            PYTHONUNBUFFERED="1",
            **LEASE_ENV,
        )
        for var in ("DATABASE_URL", "CELERY_BROKER_URL", "STEWARD_TEST_DB_NAME"):
            self.env.pop(var, None)
        self.log_path = self.data / "steward_run.log"
        self.proc: subprocess.Popen | None = None

    def start(self, template: Path | None = None) -> None:
        """Migrate and set up (or copy `template`'s freshly set-up database: migrating twice costs minutes on a
        busy machine), then start web, worker and beat."""
        py = sys.executable
        if template is not None:
            shutil.copy(template, self.data / "steward.sqlite3")
        else:
            for cmd in (["migrate", "--noinput", "-v", "0"], ["steward_setup", "--no-demo"]):
                subprocess.run([py, "manage.py", *cmd], cwd=ROOT, env=self.env, check=True, capture_output=True)
            shutil.copy(self.data / "steward.sqlite3", self.data.parent / "template.sqlite3")
        out = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [py, "manage.py", "steward_run"],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.base}/api/v1/health/", timeout=5).status_code < 500:
                    return
            time.sleep(1)
        raise RuntimeError(f"{self.name}: the web server did not answer; see {self.log_path}")

    def worker_pid(self) -> int | None:
        import re

        found = re.findall(r"(?:Started the worker \(pid|The worker restarted \(restart \d+, pid) (\d+)\)", self.log())
        return int(found[-1]) if found else None

    def kill_worker(self) -> int | None:
        pid = self.worker_pid()
        if pid is None:
            return None
        for victim in [*descendants(pid), pid]:  # the pool processes too, all at once
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        return pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=40)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.data / "steward.sqlite3")


def sample_ratings(rows: int, workdir: Path) -> Path:
    source = DATA / "ml-100k.inter"
    if rows <= 0:
        return source
    target = workdir / "ml-100k.inter"
    with source.open() as src, target.open("w") as dst:
        for i, line in enumerate(src):
            if i > rows:
                break
            dst.write(line)
    return target


class Chain:
    def __init__(self, api: Api, ratings: Path, timeout: float) -> None:
        self.api = api
        self.ratings = ratings
        self.timeout = timeout
        self.outputs: dict[str, Any] = {}

    def wait(self, job: dict) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            job = self.api.call("GET", f"jobs/{job['id']}/")
            if job["status"] in ("succeeded", "failed", "cancelled"):
                if job["status"] != "succeeded":
                    raise RuntimeError(f"job {job['id']} ({job['kind']}) {job['status']}: {job.get('error')}")
                return job
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {job['id']} ({job['kind']}) still {job['status']} after {self.timeout} s")
            time.sleep(1)

    def version(self, vid: int) -> dict:
        return self.api.call("GET", f"dataset-versions/{vid}/")

    def record(self, name: str, version: dict) -> dict:
        self.outputs[name] = version["sha256"]
        log(f"   {name}: version {version['id']}, {version['row_count']} rows, sha256 {version['sha256'][:12]}")
        return version

    def upload(self, name: str, kind: str, path: Path) -> dict:
        ds = self.api.call("POST", "datasets/", json={"name": name, "kind": kind})
        with path.open("rb") as fh:
            v = self.api.call(
                "POST", f"datasets/{ds['id']}/versions/", files={"file": (path.name, fh)}, data={"format": "tsv"}
            )
        return self.record(name, v)

    def transform(self, name: str, vid: int, operation: str, params: dict) -> Any:
        job = self.api.call(
            "POST", f"dataset-versions/{vid}/transforms/", json={"operation": operation, "params": params}
        )
        job = self.wait(job)
        if "dataset_versions" in job["result"]:
            return [
                self.record(f"{name}[{i}]", self.version(v)) for i, v in enumerate(job["result"]["dataset_versions"])
            ]
        return self.record(name, self.version(job["result"]["dataset_version"]))

    def review(self, vid: int) -> list[str]:
        """Wait for the version's automatic scan; reject findings on columns known not to be PII, accept the rest."""
        deadline = time.monotonic() + self.timeout
        while True:
            scan = latest_scan(self.api, vid, timeout=self.timeout)
            if scan["status"] == "succeeded":
                break
            # A scan failed (say, at its attempt cap): ask for another one, as a steward would.
            log(f"   scan {scan['id']} of version {vid} {scan['status']}; scanning again")
            self.api.call("POST", f"dataset-versions/{vid}/pii-scans/")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no succeeded scan of version {vid}")
            time.sleep(2)
        accepted = []
        for column in scan["columns"]:
            if column["finding"] and column["decision"] == "pending":
                decision = "rejected" if column["name"] in NOT_PII else "accepted"
                self.api.call("PATCH", f"pii-findings/{column['finding']}/", json={"decision": decision})
                if decision == "accepted":
                    accepted.append(column["name"])
        return accepted

    def run(self) -> None:
        suffix = "chaos"
        with_step = log
        with_step("== upload ratings, items, users")
        inter = self.upload(f"ratings-{suffix}", "interactions", self.ratings)
        item = self.upload(f"items-{suffix}", "items", DATA / "ml-100k.item")
        user = self.upload(f"users-{suffix}", "users", DATA / "ml-100k.user")
        with_step("== join, join, label")
        joined = f"joined-{suffix}"
        j1 = self.transform(
            "join items", inter["id"], "join", {"right": item["id"], "on": ["item_id"], "output_dataset": joined}
        )
        j2 = self.transform(
            "join users", j1["id"], "join", {"right": user["id"], "on": ["user_id"], "output_dataset": joined}
        )
        labeled = self.transform("label", j2["id"], "label", {"column": "label", "expression": "rating >= 4"})
        with_step("== scan, review, mask")
        accepted = self.review(labeled["id"])
        # Dropped rather than generalized: a derived version's rescan flags a generalized zip code again.
        policy = {name: {"operator": "drop"} for name in [*accepted, "zip_code"]}
        job = self.wait(self.api.call("POST", f"dataset-versions/{labeled['id']}/mask/", json={"columns": policy}))
        masked = self.record("mask", self.version(job["result"]["dataset_version"]))
        self.review(masked["id"])
        with_step("== split, train (tiny), batch score")
        parts = self.transform(
            "split", masked["id"], "split", {"strategy": "random", "fractions": [0.8, 0.1, 0.1], "seed": 0}
        )
        for part in parts:
            self.review(part["id"])
        spec = {
            "model_name": "chaos-ctr",
            "dataset_version": parts[0]["id"],
            "valid_version": parts[1]["id"],
            "test_version": parts[2]["id"],
            "label_column": "label",
            "text_columns": [],
            "categorical_columns": ["user_id", "item_id", "gender", "occupation", "class"],
            "numeric_columns": [],
            "user_column": "user_id",
            "item_column": "item_id",
            "params": TRAIN_PARAMS,
        }
        job = self.wait(self.api.call("POST", "training-jobs/", json=spec))
        ref = job["result"]["model_version"]
        mv = self.api.call("GET", f"models/{ref['model']}/versions/{ref['version']}/")
        self.outputs["model metrics"] = {k: round(v, 6) for k, v in mv["metrics"].items() if isinstance(v, float)}
        log(f"   model {ref['model']} v{ref['version']}: auc {mv['metrics'].get('auc')}")
        self.api.call("PUT", f"models/{ref['model']}/aliases/production/", json={"version": ref["version"]})
        job = self.wait(
            self.api.call("POST", f"serving/{ref['model']}/batch-score/", json={"dataset_version": parts[2]["id"]})
        )
        self.record("batch score", self.version(job["result"]["dataset_version"]))


def job_figures(steward: Steward) -> dict[str, Any]:
    with contextlib.closing(steward.db()) as db:
        one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "jobs run": one("select count(*) from core_job"),
            "retried": one("select count(*) from core_job where attempts > 1"),
            "failed": one("select count(*) from core_job where status = 'failed'"),
            "stuck": one("select count(*) from core_job where status in ('queued', 'running')"),
            "attempts": one("select coalesce(sum(attempts), 0) from core_job"),
            "duplicated": one(
                "select coalesce(sum(n - 1), 0) from (select count(*) n from catalog_lineageedge "
                "group by source_id, target_type, target_id, operation having count(*) > 1)"
            )
            + one(
                "select coalesce(sum(n - 1), 0) from (select count(*) n from training_modelversion "
                "where job_id is not null group by job_id having count(*) > 1)"
            ),
            "dataset versions": one("select count(*) from catalog_datasetversion"),
            "model versions": one("select count(*) from training_modelversion"),
            "lineage edges": one("select count(*) from catalog_lineageedge"),
            "failed reasons": [
                row[0][:200] for row in db.execute("select kind || ': ' || error from core_job where status='failed'")
            ],
        }


def run(name: str, workdir: Path, ratings: Path, *, kill_every: float, timeout: float) -> dict[str, Any]:
    steward = Steward(name, workdir)
    log(f"== {name}: starting Steward at {steward.base} (data in {steward.data})")
    template = workdir / "template.sqlite3"
    steward.start(template if template.exists() else None)
    kills: list[int] = []
    done = threading.Event()

    def killer() -> None:
        while not done.wait(kill_every):
            pid = steward.kill_worker()
            if pid:
                kills.append(pid)
                log(f"   KILL worker pid {pid} (kill {len(kills)})")

    thread = threading.Thread(target=killer, daemon=True)
    if kill_every > 0:
        thread.start()
    error = None
    started = time.perf_counter()
    try:
        chain = Chain(Api(steward.base, "admin", PASSWORD), ratings, timeout)
        try:
            chain.run()
        except (RuntimeError, requests.RequestException) as exc:  # report what was reached
            error = f"{type(exc).__name__}: {exc}"
            log(f"   CHAIN FAILED: {error}")
        finally:
            done.set()
            seconds = time.perf_counter() - started
        # Jobs the chain did not wait for (the scans of the last versions) get the time a stuck job would not.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and job_figures(steward)["stuck"]:
            time.sleep(2)
        figures = job_figures(steward)
        restarts = steward.log().count("The worker restarted")
    finally:
        done.set()
        steward.stop()
    return {
        "name": name,
        "seconds": round(seconds, 1),
        "kills": len(kills),
        "worker restarts": restarts,
        "error": error,
        "outputs": chain.outputs,
        **figures,
    }


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the Stewards it started (finally blocks)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=20000, help="ratings rows to use (0 = all 100,000)")
    ap.add_argument("--kill-every", type=float, default=20.0, help="seconds between worker kills")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds one job may take before it counts as stuck")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="steward-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    ratings = sample_ratings(args.rows, workdir)
    log(f"ml-100k chain on {args.rows or 100000} ratings; worker killed every {args.kill_every:.0f} s in the chaos run")
    calm = run("calm", workdir, ratings, kill_every=0, timeout=args.timeout)
    chaos = run("chaos", workdir, ratings, kill_every=args.kill_every, timeout=args.timeout)
    print()
    for key in (
        "seconds",
        "kills",
        "worker restarts",
        "jobs run",
        "retried",
        "attempts",
        "failed",
        "duplicated",
        "stuck",
    ):
        print(f"{key:>18}: calm {calm[key]!s:>8}   chaos {chaos[key]!s:>8}")
    for key in ("dataset versions", "model versions", "lineage edges"):
        print(f"{key:>18}: calm {calm[key]!s:>8}   chaos {chaos[key]!s:>8}")
    if chaos["failed reasons"]:
        print("failed jobs (chaos):", json.dumps(chaos["failed reasons"], indent=1))
    same, differ = [], []
    for name in calm["outputs"]:
        (same if calm["outputs"][name] == chaos["outputs"].get(name) else differ).append(name)
    missing = [n for n in calm["outputs"] if n not in chaos["outputs"]]
    print(f"outputs identical: {len(same)} of {len(calm['outputs'])}" + (f"; differ: {differ}" if differ else ""))
    for name in differ:
        print(f"  {name}: calm {calm['outputs'][name]}  chaos {chaos['outputs'].get(name)}")
    ok = (
        not calm["error"]
        and not chaos["error"]
        and chaos["duplicated"] == 0
        and chaos["stuck"] == 0
        and not differ
        and not missing
    )
    print("RESULT:", "ok" if ok else "NOT ok", "| errors:", calm["error"], chaos["error"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Labeling benchmark (issue 10): simulated annotators against a running server on loopback.

    .venv/bin/python bench/labeling.py                                   # SQLite in a throwaway data dir
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/labeling_bench .venv/bin/python bench/labeling.py

A relevance project on the demo search log with 10,000 tasks and overlap 3 (30,000 submissions); gunicorn
(serving/gunicorn_conf.py, 127.0.0.1 only) serves the API; 20 annotators, each its own process with a keep-alive
connection and its own token, loop `GET .../next/` -> `POST .../tasks/{id}/annotations/` until `next` answers 204,
waiting --think-ms between tasks (0: as fast as the server answers). Prints submissions per second, p50 and p99 of
next and submit, and checks in the database that every task got exactly 3 annotations from 3 different annotators
(none lost, none counted twice) and no lease is left. Target: p99 < 50 ms on 2 cores.

--seconds stops the annotators after that long (the checks then cover what was submitted: no task over 3
annotations, every acknowledged submission stored once); --think-ms makes them pause like people between tasks.

With PostgreSQL the database named in DATABASE_URL is dropped and created again, so its name must contain "bench".
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402  (after the sys.path set-up)
from _common import start_gunicorn  # noqa: E402  (bench/, the script's folder, is on sys.path)

LABELS = ("not_relevant", "relevant")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_postgres(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[-1].split("?")[0]
    if "bench" not in name:
        raise SystemExit(f"refusing to drop database {name!r}: its name must contain 'bench'")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup(data_dir: Path, n_tasks: int, overlap: int, annotators: int) -> tuple[int, list[str]]:
    """Migrate, register the demo search log, create the project, its tasks and the annotators' tokens."""
    os.environ["STEWARD_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from knox.models import AuthToken

    from governance.catalog.services import dataset_create, dataset_version_upload
    from governance.labeling.models import Task
    from governance.labeling.services import project_create
    from home.demo_data import write_search_log

    call_command("migrate", verbosity=0)
    steward = User.objects.create_user("bench-steward", password="bench-password-1")
    steward.groups.add(Group.objects.get_or_create(name="steward")[0])
    path = write_search_log(data_dir / "demo")
    dataset = dataset_create(actor=steward, name="demo-search-log", kind="interactions")
    with path.open("rb") as fh:
        version, _ = dataset_version_upload(actor=steward, dataset=dataset, source=fh, filename=path.name)
    project = project_create(
        actor=steward,
        name="bench relevance",
        dataset_version=version,
        template="relevance",
        display_columns=["query", "title", "position"],
        overlap=overlap,
    )
    rows = sorted(random.Random(0).sample(range(version.row_count), n_tasks))
    Task.objects.bulk_create([Task(project=project, row=r) for r in rows], batch_size=2000)
    group = Group.objects.get_or_create(name="annotator")[0]
    tokens = []
    for i in range(annotators):
        user = User.objects.create_user(f"annotator-{i}", password="bench-password-1")
        user.groups.add(group)
        tokens.append(AuthToken.objects.create(user=user, expiry=None)[1])
    from django.db import connection

    connection.close()  # the annotator processes are forked from this one
    return project.pk, tokens


def annotate(
    port: int, project: int, token: str, seed: int, think_ms: float, deadline: float, out: multiprocessing.Queue
) -> None:
    """One annotator: next -> submit until 204 (or the deadline). Sends back (next ms, submit ms, errors, submitted)."""
    rng = random.Random(seed)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json", "Accept": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    nexts: list[float] = []
    submits: list[float] = []
    errors: list[str] = []
    submitted = 0

    def call(method: str, url: str, body: bytes | None = None) -> tuple[int, bytes, float]:
        nonlocal conn
        for attempt in range(3):
            start = time.perf_counter()
            try:
                conn.request(method, url, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                ms = (time.perf_counter() - start) * 1000
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                return resp.status, data, ms
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                if attempt == 2:
                    errors.append(f"{method} {url}: {type(exc).__name__}")
        return 0, b"", 0.0

    while time.time() < deadline:
        status, data, ms = call("GET", f"/api/v1/labeling/projects/{project}/next/")
        if status == 204:
            break
        if status != 200:
            errors.append(f"next: HTTP {status} {data[:120]!r}")
            if len(errors) > 50:
                break
            continue
        nexts.append(ms)
        task = json.loads(data)
        if think_ms:
            time.sleep(rng.expovariate(1.0 / think_ms) / 1000)
        body = json.dumps({"label": rng.choice(LABELS)}).encode()
        status, data, ms = call("POST", f"/api/v1/labeling/tasks/{task['id']}/annotations/", body)
        if status == 201:
            submits.append(ms)
            submitted += 1
        else:
            errors.append(f"submit: HTTP {status} {data[:120]!r}")
    conn.close()
    out.put((nexts, submits, errors, submitted))


def wait_ready(port: int, token: str, project: int) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", f"/api/v1/labeling/projects/{project}/", headers={"Authorization": f"Token {token}"})
            resp = conn.getresponse()
            resp.read()
            conn.close()
            if resp.status == 200:
                return
            raise SystemExit(f"server answered HTTP {resp.status}")
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not answer within 120 s")


def warm_up(port: int, token: str, project: int, workers: int) -> float:
    """Until every worker answers quickly: each one imports the URL configuration (and through it torch) on its
    first request, which must not be counted. Returns the seconds it took."""
    import threading

    start = time.perf_counter()
    fast_rounds = 0
    while fast_rounds < 2 and time.perf_counter() - start < 300:
        times: list[float] = []

        def one(times: list[float] = times) -> None:
            t = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            conn.request("GET", f"/api/v1/labeling/projects/{project}/", headers={"Authorization": f"Token {token}"})
            conn.getresponse().read()
            conn.close()
            times.append(time.perf_counter() - t)

        threads = [threading.Thread(target=one) for _ in range(3 * workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        fast_rounds = fast_rounds + 1 if max(times) < 0.5 else 0
    return time.perf_counter() - start


def pct(values: list[float]) -> str:
    a = np.asarray(values)
    return f"p50 {np.percentile(a, 50):.1f} ms, p99 {np.percentile(a, 99):.1f} ms, max {a.max():.1f} ms"


def check(project: int, n_tasks: int, overlap: int, acknowledged: int, complete: bool) -> list[str]:
    from django.db.models import Count

    from governance.labeling.models import Annotation, Assignment, Task

    problems = []
    per_task = (
        Annotation.objects.filter(project_id=project)
        .values("task_id")
        .annotate(n=Count("id"), people=Count("annotator_id", distinct=True))
    )
    counts = [(r["n"], r["people"]) for r in per_task]
    over = sum(1 for n, _ in counts if n > overlap)
    short = n_tasks - sum(1 for n, _ in counts if n == overlap) if complete else 0
    same_person = sum(1 for n, p in counts if p != n)
    total = Annotation.objects.filter(project_id=project).count()
    if total != acknowledged:
        problems.append(f"{acknowledged} submissions acknowledged (201) but {total} stored")
    if over:
        problems.append(f"{over} task(s) got more than {overlap} annotations")
    if short:
        problems.append(f"{short} task(s) got fewer than {overlap} annotations")
    if same_person:
        problems.append(f"{same_person} task(s) annotated twice by one annotator")
    mismatched = sum(
        1
        for t in Task.objects.filter(project_id=project)
        .annotate(n=Count("annotations"))
        .values("annotation_count", "n")
        if t["annotation_count"] != t["n"]
    )
    if mismatched:
        problems.append(f"{mismatched} task(s) whose counter disagrees")
    leased = Assignment.objects.filter(project_id=project, status="leased").count()
    if leased:
        problems.append(f"{leased} lease(s) left")
    print(
        f"  checks: {total} annotations stored, {acknowledged} acknowledged"
        + (f", {n_tasks} x {overlap} = {n_tasks * overlap} expected" if complete else " (time-limited run)")
        + "; "
        f"max per task {max((n for n, _ in counts), default=0)}; "
        + ("all passed" if not problems else "PROBLEMS: " + "; ".join(problems))
    )
    return problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--overlap", type=int, default=3)
    ap.add_argument("--annotators", type=int, default=20)
    ap.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    ap.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (gthread when > 1)")
    ap.add_argument("--think-ms", type=float, default=0.0, help="mean pause between tasks per annotator")
    ap.add_argument("--seconds", type=float, default=0.0, help="stop after this long (0: until no task is left)")
    args = ap.parse_args()

    database = os.environ.get("DATABASE_URL") or ""
    if database.startswith("postgres"):
        fresh_postgres(database)
    data_dir = Path(tempfile.mkdtemp(prefix="steward-bench-labeling-"))
    t0 = time.perf_counter()
    project, tokens = setup(data_dir, args.tasks, args.overlap, args.annotators)
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (shared with other engineers: "
        f"figures are noisy); database {'PostgreSQL' if database.startswith('postgres') else 'SQLite (WAL)'}"
    )
    print(
        f"set-up: {args.tasks} tasks, overlap {args.overlap}, {args.annotators} annotators "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    port = free_port()
    env = {
        **os.environ,
        "STEWARD_DATA_DIR": str(data_dir),
        "STEWARD_BIND": f"127.0.0.1:{port}",
        "STEWARD_WEB_WORKERS": str(args.workers),
        "STEWARD_WEB_THREADS": str(args.threads),
        "STEWARD_SERVING_WARM_UP": "0",
        # Persistent SQLite connections: closing one per request checkpoints the WAL every time (see settings).
        "STEWARD_SQLITE_CONN_MAX_AGE": os.environ.get("STEWARD_SQLITE_CONN_MAX_AGE", "60"),
        "PROMETHEUS_MULTIPROC_DIR": str(data_dir / "prometheus"),
    }
    env.pop("PYTEST_VERSION", None)
    log = (data_dir / "gunicorn.log").open("wb")
    server = start_gunicorn(env, log)
    try:
        wait_ready(port, tokens[0], project)
        print(f"warm-up: every worker answering after {warm_up(port, tokens[0], project, args.workers):.1f} s")
        ctx = multiprocessing.get_context("fork")
        deadline = time.time() + (args.seconds or 10**9)
        out: multiprocessing.Queue = ctx.Queue()
        procs = [
            ctx.Process(target=annotate, args=(port, project, token, i, args.think_ms, deadline, out), daemon=True)
            for i, token in enumerate(tokens)
        ]
        start = time.perf_counter()
        for p in procs:
            p.start()
        results = [out.get(timeout=3600) for _ in procs]
        wall = time.perf_counter() - start
        for p in procs:
            p.join(30)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
        log.close()
    nexts = [ms for r in results for ms in r[0]]
    submits = [ms for r in results for ms in r[1]]
    errors = [e for r in results for e in r[2]]
    submitted = sum(r[3] for r in results)
    kind = f"gthread {args.workers} x {args.threads}" if args.threads > 1 else f"{args.workers} sync workers"
    print(
        f"gunicorn ({kind}, 127.0.0.1), {args.annotators} annotators, think time "
        f"{args.think_ms:.0f} ms: {submitted} submissions in {wall:.1f} s = {submitted / wall:.1f} submissions/s"
    )
    print(f"  next   ({len(nexts)}): {pct(nexts)}")
    print(f"  submit ({len(submits)}): {pct(submits)}")
    print(f"  errors: {len(errors)}" + (f" e.g. {errors[:3]}" if errors else ""))
    problems = check(project, args.tasks, args.overlap, submitted, complete=not args.seconds)
    shutil.rmtree(data_dir, ignore_errors=True)
    if problems or errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

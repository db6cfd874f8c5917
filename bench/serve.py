"""Serving benchmark (issue 5): ranking 1,000 candidates with the ml-100k model.

    .venv/bin/python bench/serve.py                       # train (once, cached) or reuse, then both parts
    .venv/bin/python bench/serve.py --artifact DIR [--artifact2 DIR2]
    .venv/bin/python bench/serve.py --skip-http           # in-process part only

1. In process: `Scorer.rank` for one user and 1,000 random candidate item ids, 1,000 requests:
   p50 and p99 (target p99 < 20 ms).
2. Over HTTP: gunicorn (serving/gunicorn_conf.py, on 127.0.0.1 only) with a throwaway data
   directory and SQLite database, two registered versions of the model and `production` on v1;
   8 concurrent clients POST /api/v1/serving/ml100k/rank/ for 30 s and production is moved to v2
   halfway (PUT /api/v1/models/ml100k/aliases/production/ on the same server). Prints requests/s,
   p50, p99, errors, and which versions answered before and after the swap (targets: >= 200 req/s,
   p99 < 100 ms, 0 errors), then p99 and max latency before, during (from the PUT until the last
   answer by v1) and after the move (target: no request over 100 ms; every worker loads and warms
   v2 in the background).
3. Eval-style: one client sending requests back to back while production moves to v3 (not loaded
   anywhere yet): p99, max and how many took over 100 ms before, during and after the move.
4. A first-ever `production`: a third model registered without an alias gets `production` through
   the API (how long the PUT took: it returns once every worker reports the version warm, issue 14);
   40 sequential rank requests right after the PUT, and 40 more 2 s later (as a user trying it would
   send them): p99, max and how many took over 100 ms.

The model: the training benchmark's spec and parameters (bench/train.py) trained with training/ml on
a random 80/10/10 split of ml-100k (encoder frozen, 3 epochs, so it takes minutes on 2 cores); both
versions are cached under var/bench/ (per version of training/ml's code) and reused by later runs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402  (after the sys.path set-up)
from _common import start_gunicorn  # noqa: E402  (after the sys.path set-up)

CACHE = ROOT / "var" / "bench"
MODEL = "ml100k"
FIRST_SET = "ml100k_first"  # registered without an alias; production is first set during the run


def train_version(path: Path, seed: int) -> Path:
    from ml100k import load_ml100k
    from train import DEFAULT_PARAMS, SPEC

    from training.ml import save_artifact, split_random, train

    table = load_ml100k()
    tr, va, te = split_random(table, (0.8, 0.1, 0.1), seed=0)
    # The training benchmark's architecture and parameters; fewer epochs and a frozen encoder keep
    # this to minutes (serving speed depends on the head's shape, not on how long it trained).
    params = {**DEFAULT_PARAMS, "epochs": 3, "freeze_encoder_steps": 10**9, "seed": seed, "segment_column": None}
    t0 = time.perf_counter()
    result = train(train_table=tr, valid_table=va, test_table=te, spec=SPEC, params=params)
    save_artifact(result, path)
    np.save(path / "test_predictions.npy", result.test_predictions)  # as training jobs do: the PSI reference
    print(f"trained {path.name}: test AUC {result.metrics['auc']:.4f} in {time.perf_counter() - t0:.0f}s")
    return path


def artifacts(args: argparse.Namespace) -> tuple[Path, Path]:
    if args.artifact:
        first = Path(args.artifact)
        return first, Path(args.artifact2) if args.artifact2 else first
    from training.ml.artifact import training_code_version

    CACHE.mkdir(parents=True, exist_ok=True)
    code = training_code_version().rsplit(":", 1)[-1]  # retrain when training/ml changes
    out = []
    for seed in (0, 1):
        path = CACHE / f"ml100k-serve-{code}-seed{seed}"
        if not (path / "manifest.json").is_file():
            shutil.rmtree(path, ignore_errors=True)
            train_version(path, seed)
        out.append(path)
    return out[0], out[1]


def user_rows() -> list[dict]:
    from ml100k import DEFAULT_DIR, read_atomic

    users = read_atomic(DEFAULT_DIR / "ml-100k.user")
    return [{k: r[k] for k in ("user_id", "age", "gender", "occupation")} for r in users.to_pylist()]


def percentiles(ms: list[float]) -> str:
    a = np.asarray(ms)
    return f"p50 {np.percentile(a, 50):.2f} ms, p99 {np.percentile(a, 99):.2f} ms, max {a.max():.2f} ms"


def in_process(path: Path, requests: int, n_candidates: int) -> None:
    import torch

    from serving.scorer import Scorer
    from training.ml import load_artifact

    torch.set_num_threads(1)
    scorer = Scorer(load_artifact(path, device="cpu"))
    ids = [int(i) for i in scorer.item_index]
    users = user_rows()
    rng = np.random.default_rng(0)
    plans = [
        (users[rng.integers(len(users))], [ids[j] for j in rng.choice(len(ids), n_candidates, replace=False)])
        for _ in range(requests + 50)
    ]
    for user, cands in plans[:50]:  # warm-up
        scorer.rank(user, cands, 10)
    times = []
    for user, cands in plans[50:]:
        t = time.perf_counter()
        scorer.rank(user, cands, 10)
        times.append((time.perf_counter() - t) * 1000)
    print(
        f"in-process rank, {n_candidates} candidates by id + user features, k=10, {requests} requests, "
        f"1 torch thread, scoring path '{scorer.mode}': {percentiles(times)}"
    )


# -- HTTP ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def django_setup(data_dir: Path) -> None:
    os.environ["STEWARD_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def register(paths: tuple[Path, Path]) -> str:
    """A user with a token, and the model's two versions with production on v1."""
    from django.contrib.auth.models import Group, User
    from knox.models import AuthToken

    user = User.objects.create_user("bench", password="bench-password-1")
    user.groups.add(Group.objects.get_or_create(name="ml_engineer")[0])
    token = AuthToken.objects.create(user=user, expiry=None)[1]
    register_versions(actor=user, artifacts=[*paths, paths[0]])  # v3: the sequential (eval-style) move
    register_versions(actor=user, artifacts=[paths[1]], name=FIRST_SET, alias=False)
    return token


def register_versions(*, actor: object, artifacts: list[Path], name: str = MODEL, alias: bool = True) -> None:
    """The artifacts as versions 1, 2, ... of `name` (linked into this run's storage), production on v1."""
    from django.conf import settings

    from training.models import ModelVersion, RegisteredModel
    from training.services.registry import model_alias_set

    model = RegisteredModel.objects.create(name=name, created_by=actor)
    for number, path in enumerate(artifacts, start=1):
        stored = f"models/{name}/v{number}"
        target = Path(settings.MEDIA_ROOT) / stored
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(path.resolve(), target_is_directory=True)
        spec = json.loads((path / "feature_spec.json").read_text())
        spec = {k: v for k, v in spec.items() if k not in ("vocabularies", "numeric_stats")}
        metrics = json.loads((path / "metrics.json").read_text())["test"]
        # Registered directly (the artifact was trained outside a job); the alias moves go through the API.
        ModelVersion.objects.create(
            model=model, version=number, artifact=stored, metrics=metrics, feature_spec=spec, created_by=actor
        )
    if alias:
        model_alias_set(actor=actor, model=model, alias="production", version=1)


def move_production(port: int, token: str, version: int, model: str = MODEL) -> int:
    """PUT /api/v1/models/<model>/aliases/production/ on the running server, as a user would."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "PUT",
        f"/api/v1/models/{model}/aliases/production/",
        body=json.dumps({"version": version}),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp.status


class Client(threading.Thread):
    def __init__(
        self, port: int, token: str, bodies: list[bytes], stop: threading.Event, model: str = MODEL, limit: int = 0
    ) -> None:
        super().__init__(daemon=True)
        self.port, self.token, self.bodies, self.stop = port, token, bodies, stop
        self.model, self.limit = model, limit  # limit: stop after that many requests (0: when told)
        self.results: list[tuple[float, float, int, int | None]] = []  # start, ms, status, version

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": f"Token {self.token}", "Content-Type": "application/json"}
        i = 0
        while not self.stop.is_set() and not (self.limit and i >= self.limit):
            body = self.bodies[i % len(self.bodies)]
            i += 1
            start = time.perf_counter()
            try:
                conn.request("POST", f"/api/v1/serving/{self.model}/rank/", body=body, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
                status = resp.status
                version = json.loads(payload)["model_version"]["version"] if status == 200 else None
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                status, version = 0, None
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.results.append((start, (time.perf_counter() - start) * 1000, status, version))


def http_bench(
    paths: tuple[Path, Path], *, seconds: float, clients: int, n_candidates: int, workers: int, threads: int
) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="steward-bench-serve-"))
    django_setup(data_dir)
    token = register(paths)
    port = free_port()
    env = {
        **os.environ,
        "STEWARD_DATA_DIR": str(data_dir),
        "STEWARD_BIND": f"127.0.0.1:{port}",
        "STEWARD_WEB_WORKERS": str(workers),
        "STEWARD_WEB_THREADS": str(threads),
        "PROMETHEUS_MULTIPROC_DIR": str(data_dir / "prometheus"),
    }
    log = (data_dir / "gunicorn.log").open("wb")
    server = start_gunicorn(env, log)
    try:
        ids = [int(i) for i in _item_ids(paths[0])]
        users = user_rows()
        rng = np.random.default_rng(1)
        bodies = [
            json.dumps(
                {
                    "user": users[rng.integers(len(users))],
                    "candidates": [ids[j] for j in rng.choice(len(ids), n_candidates, replace=False)],
                    "k": 10,
                }
            ).encode()
            for _ in range(200)
        ]
        _wait_ready(port, token, bodies[0], workers)
        warm = threading.Event()  # a few seconds of the same load first, so every worker is warm
        warmers = [Client(port, token, bodies, warm) for _ in range(clients)]
        for c in warmers:
            c.start()
        time.sleep(3)
        warm.set()
        for c in warmers:
            c.join(30)
        stop = threading.Event()
        pool = [Client(port, token, bodies, stop) for _ in range(clients)]
        t0 = time.perf_counter()
        for c in pool:
            c.start()
        time.sleep(seconds / 2)
        swap_at = time.perf_counter()
        moved = move_production(port, token, 2)
        if moved != 200:
            raise SystemExit(f"moving production failed: HTTP {moved}")
        time.sleep(seconds / 2)
        stop.set()
        for c in pool:
            c.join(30)
        wall = time.perf_counter() - t0
        sequential = sequential_move_phase(port, token, bodies)
        first_set = first_set_phase(port, token, bodies)
        scraped = scrape_requests(port)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
        log.close()
    rows = [r for c in pool for r in c.results]
    ok = [r for r in rows if r[2] == 200]
    errors = len(rows) - len(ok)
    after = [r for r in ok if r[0] > swap_at]
    first_v2 = min((r[0] for r in after if r[3] == 2), default=None)
    print(
        f"HTTP rank under gunicorn ({workers} sync workers x {threads} thread(s), 127.0.0.1), {clients} clients, "
        f"{n_candidates} candidates by id + user features, k=10, {wall:.1f} s:"
    )
    print(f"  {len(rows)} requests, {len(rows) / wall:.1f} req/s, {percentiles([r[1] for r in ok])}")
    print(
        f"  alias swap v1 -> v2 at {swap_at - t0:.1f} s: errors during the run {errors} "
        f"(non-200 or connection failures); answers before the swap "
        f"{_versions(r for r in ok if r[0] <= swap_at)}, after {_versions(after)}; first v2 answer "
        + (f"{first_v2 - swap_at:.2f} s after the swap" if first_v2 else "never")
    )
    last_v1 = max((r[0] + r[1] / 1000 for r in after if r[3] == 1), default=swap_at)
    phases = {
        "before the move": [r for r in ok if r[0] <= swap_at],
        f"during the move ({last_v1 - swap_at:.2f} s, PUT to the last v1 answer)": [
            r for r in ok if swap_at < r[0] <= last_v1
        ],
        "after the move": [r for r in ok if r[0] > last_v1],
    }
    for label, part in phases.items():
        ms = [r[1] for r in part]
        if ms:
            print(f"  {label}: {len(ms)} requests, {percentiles(ms)}, over 100 ms: {sum(m > 100 for m in ms)}")
    seq_rows, seq_swap = sequential
    seq_ok = [r for r in seq_rows if r[2] == 200]
    seq_last_old = max((r[0] + r[1] / 1000 for r in seq_ok if r[0] > seq_swap and r[3] != 3), default=seq_swap)
    for label, part in (
        ("before", [r for r in seq_ok if r[0] <= seq_swap]),
        (f"during ({seq_last_old - seq_swap:.2f} s)", [r for r in seq_ok if seq_swap < r[0] <= seq_last_old]),
        ("after", [r for r in seq_ok if r[0] > seq_last_old]),
    ):
        ms = [r[1] for r in part]
        if ms:
            print(
                f"  eval-style (1 sequential client) move v2 -> v3, {label}: {len(ms)} requests, {percentiles(ms)}, "
                f"over 100 ms: {sum(m > 100 for m in ms)}, non-200: {len(seq_rows) - len(seq_ok)}"
            )
    print(f"  first-ever production of {FIRST_SET}: the PUT answered in {first_set.pop('put_seconds'):.2f} s")
    for label, part in first_set.items():
        ms = [r[1] for r in part if r[2] == 200]
        bad = len(part) - len(ms)
        if ms:
            print(
                f"  first-ever production of {FIRST_SET}, {label}: {len(part)} sequential requests, "
                f"{percentiles(ms)}, over 100 ms: {sum(m > 100 for m in ms)}, non-200: {bad}"
            )
    from django.db.models import Sum

    from serving.models import ServingStat

    counted = ServingStat.objects.filter(model_name=MODEL).aggregate(n=Sum("requests"))["n"] or 0
    print(
        f"  monitoring: /metrics (all workers) counted {scraped:.0f} rank requests, the per-minute counters "
        f"{counted} (both include the warm-up requests)"
    )
    shutil.rmtree(data_dir, ignore_errors=True)


def sequential_move_phase(port: int, token: str, bodies: list[bytes]) -> tuple[list, float]:
    """One client sending rank requests back to back (as an evaluation loop does) for 8 s while
    production moves from v2 to v3 (a version no worker has loaded) after 3 s."""
    stop = threading.Event()
    client = Client(port, token, bodies, stop)
    client.start()
    time.sleep(3)
    swap = time.perf_counter()
    moved = move_production(port, token, 3)
    if moved != 200:
        raise SystemExit(f"moving production to v3 failed: HTTP {moved}")
    time.sleep(5)
    stop.set()
    client.join(30)
    return client.results, swap


def first_set_phase(port: int, token: str, bodies: list[bytes]) -> dict:
    """Set production of FIRST_SET (never aliased) through the API (timed: it waits until every worker has the
    version warm), then send 40 sequential rank requests at once and 40 more 2 s later, as a user trying the new
    model would."""
    put_at = time.perf_counter()
    moved = move_production(port, token, 1, model=FIRST_SET)
    if moved != 200:
        raise SystemExit(f"setting production of {FIRST_SET} failed: HTTP {moved}")
    out: dict = {"put_seconds": time.perf_counter() - put_at}
    for label, delay in (("right after the PUT", 0.0), ("2 s later", 2.0)):
        time.sleep(delay)
        client = Client(port, token, bodies, threading.Event(), model=FIRST_SET, limit=40)
        client.run()  # in this thread: sequential
        out[label] = client.results
    return out


def scrape_requests(port: int) -> float:
    """Rank requests counted by /metrics, summed over versions and statuses (every worker's)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("steward_serving_requests_total{") and f'model="{MODEL}"' in line
    )


def _versions(rows) -> dict:
    out: dict = {}
    for r in rows:
        out[f"v{r[3]}"] = out.get(f"v{r[3]}", 0) + 1
    return out


def _item_ids(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return [str(v) for v in pq.read_table(path / "items.parquet").column("item_id").to_pylist()]


def _wait_ready(port: int, token: str, body: bytes, workers: int) -> None:
    """Until the server answers (gunicorn_conf's warm-up loads v1 in every worker before it accepts)."""
    deadline = time.time() + 180
    answered = 0
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request(
                "POST",
                f"/api/v1/serving/{MODEL}/rank/",
                body=body,
                headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
            )
            resp = conn.getresponse()
            resp.read()
            conn.close()
            if resp.status == 200:
                answered += 1
                if answered >= workers:
                    return
                continue
            raise SystemExit(f"warm-up request failed with HTTP {resp.status}")
        except OSError:
            time.sleep(0.5)
    raise SystemExit("gunicorn did not answer within 180 s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--artifact", help="an ml-100k artifact directory (default: train one, cached in var/bench/)")
    ap.add_argument("--artifact2", help="the version production moves to halfway (default: a second one)")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--candidates", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-http", action="store_true")
    args = ap.parse_args()
    paths = artifacts(args)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (shared machine: figures are noisy)")
    in_process(paths[0], args.requests, args.candidates)
    if not args.skip_http:
        http_bench(
            paths,
            seconds=args.seconds,
            clients=args.clients,
            n_candidates=args.candidates,
            workers=args.workers,
            threads=args.threads,
        )


if __name__ == "__main__":
    main()

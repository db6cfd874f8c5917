"""End-to-end check of a running Steward on ml-100k, through its HTTP API only (as a user would).

Uploads the three RecBole files, joins and labels them, reviews the automatic PII scan (training is refused
before), masks, trains two model versions, points `production` at them, ranks through serving, checks the
lineage, and (optionally) takes screenshots of the pages with Playwright. Prints each step with its time.

    .venv/bin/python bench/e2e_ml100k.py http://127.0.0.1:8020 "$(cat /tmp/e2e/admin_password)" \
        [--epochs 20] [--screenshots /tmp/e2e-shots]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k"
MODEL = "ml100k-ctr"
# bench/train.py's DEFAULT_PARAMS and FINETUNE_STEPS, reproduced through the API.
TRAIN_PARAMS: dict[str, Any] = {
    "epochs": 20,
    "batch_size": 512,
    "lr": 2e-3,
    "encoder_lr": 3e-5,
    "weight_decay": 0.01,
    "embedding_dim": 64,
    "embedding_l2": 0.03,
    "text_l2_factor": 3.0,
    "interaction": "auto",
    "hidden_units": [],
    "warmup_ratio": 0.02,
    "patience": 3,
    "max_seq_len": 32,
    "seed": 0,
    "checkpoint_every_steps": 0,
    "encoder_texts_per_step": 64,
    "segment_column": "class",  # bench/train.py's "genres" is called "class" in the raw .item file
}
FINETUNE_STEPS = 30
# Columns a steward knows are not personal data in ml-100k, whatever a recognizer guessed.
NOT_PII = {
    "movie_title",
    "class",
    "occupation",
    "gender",
    "age",
    "item_id",
    "user_id",
    "rating",
    "timestamp",
    "release_year",
    "label",
}

T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f}s] {msg}", flush=True)


@contextmanager
def step(name: str) -> Iterator[None]:
    log(f"== {name}")
    t = time.perf_counter()
    yield
    log(f"   {name}: done in {time.perf_counter() - t:.1f}s")


class Api:
    def __init__(self, base: str, username: str, password: str) -> None:
        self.base = base.rstrip("/")
        self.s = requests.Session()
        r = self.s.post(f"{self.base}/api/v1/auth/token/", json={"username": username, "password": password})
        r.raise_for_status()
        self.s.headers["Authorization"] = f"Token {r.json()['token']}"

    def call(self, method: str, path: str, expect: tuple[int, ...] = (200, 201, 202), **kw: Any) -> Any:
        r = self.s.request(method, f"{self.base}/api/v1/{path.lstrip('/')}", timeout=120, **kw)
        if r.status_code not in expect:
            raise RuntimeError(f"{method} {path} -> {r.status_code}: {r.text[:800]}")
        return r.json() if r.content else None

    def wait_job(self, job: dict, *, timeout: float = 3600, every: float = 1.0, show: bool = False) -> dict:
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            job = self.call("GET", f"jobs/{job['id']}/")
            line = (
                f"job {job['id']} {job['kind']} {job['status']} {job.get('progress', 0):.0%} {job.get('message', '')}"
            )
            if show and line != last:
                log("   " + line)
                last = line
            if job["status"] in ("succeeded", "failed", "cancelled"):
                if job["status"] != "succeeded":
                    raise RuntimeError(f"job {job['id']} {job['status']}: {job.get('error') or job.get('message')}")
                return job
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {job['id']} still {job['status']} after {timeout}s")
            time.sleep(every)


def upload(api: Api, name: str, kind: str, path: Path) -> dict:
    ds = api.call("POST", "datasets/", json={"name": name, "kind": kind, "description": f"ml-100k {path.name}"})
    with path.open("rb") as fh:
        v = api.call("POST", f"datasets/{ds['id']}/versions/", files={"file": (path.name, fh)}, data={"format": "tsv"})
    log(f"   {name}: version {v['id']}, {v['row_count']} rows, columns {[c['name'] for c in v['columns']]}")
    return v


def transform(api: Api, version_id: int, operation: str, params: dict) -> dict:
    job = api.call(
        "POST", f"dataset-versions/{version_id}/transforms/", json={"operation": operation, "params": params}
    )
    job = api.wait_job(job)
    v = api.call("GET", f"dataset-versions/{job['result']['dataset_version']}/")
    log(f"   {operation} -> version {v['id']}: {v['row_count']} rows, columns {[c['name'] for c in v['columns']]}")
    return v


def latest_scan(api: Api, version_id: int, timeout: float = 900) -> dict:
    """The version's newest finished PII scan (waiting for the automatic one)."""
    deadline = time.monotonic() + timeout
    while True:
        scans = api.call("GET", f"dataset-versions/{version_id}/pii-scans/")
        if scans and scans[0]["status"] not in ("queued", "running"):
            return api.call("GET", f"pii-scans/{scans[0]['id']}/")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no finished PII scan of version {version_id} after {timeout}s: {scans}")
        time.sleep(1)


def train(api: Api, spec: dict, params: dict, label: str) -> dict:
    with step(f"train {label}"):
        job = api.call("POST", "training-jobs/", json={**spec, "params": params})
        log(f"   training job {job['id']} queued")
        deadline = time.monotonic() + 3 * 3600
        last_print = 0.0
        while True:
            job = api.call("GET", f"jobs/{job['id']}/")
            details = job.get("details") or {}
            if time.monotonic() - last_print > 15 or job["status"] in ("succeeded", "failed", "cancelled"):
                last_print = time.monotonic()
                tr = details.get("training") or {}
                auc = (details.get("curves") or {}).get("val_auc") or []
                log(
                    f"   job {job['id']} {job['status']} {job['progress']:.0%} {job['message']}"
                    + (f" | epoch {tr.get('epoch')}, {tr.get('samples_per_second', 0):.0f} samples/s" if tr else "")
                    + (f" | val auc (step, auc) {auc[-1]}" if auc else "")
                )
            if job["status"] in ("succeeded", "failed", "cancelled"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"training job {job['id']} did not finish")
            time.sleep(2)
        if job["status"] != "succeeded":
            raise RuntimeError(f"training job {job['id']} {job['status']}: {job.get('error')}")
        ref = job["result"]["model_version"]
        mv = api.call("GET", f"models/{MODEL}/versions/{ref['version']}/")
        m = mv["metrics"]
        log(
            f"   {MODEL} v{mv['version']} (job {job['id']}): test "
            + ", ".join(f"{k} {v:.4f}" for k, v in m.items() if isinstance(v, (int, float)))
        )
        return {"job": job, "version": mv}


def rank_version(api: Api, user: int, candidates: list[int]) -> tuple[int, list[dict]]:
    r = api.call("POST", f"serving/{MODEL}/rank/", json={"user": user, "candidates": candidates})
    return r["model_version"]["version"], r["items"]


def screenshots(base: str, password: str, out: Path, pages: dict[str, str]) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/login/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", password)
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_load_state("networkidle")
        for name, path in pages.items():
            resp = page.goto(f"{base}{path}")
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(1500)  # let steward.js poll once and draw live curves
            target = out / f"{name}.png"
            page.screenshot(path=str(target), full_page=True)
            log(f"   {name}: {path} -> HTTP {resp.status if resp else '?'}; {target}")
        browser.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("base_url")
    ap.add_argument("password", help="the admin password (DATA_DIR/admin_password)")
    ap.add_argument("--username", default="admin")
    ap.add_argument("--data-dir", type=Path, default=DATA)
    ap.add_argument("--epochs", type=int, default=TRAIN_PARAMS["epochs"], help="epochs of the first version")
    ap.add_argument("--cheap-epochs", type=int, default=1, help="epochs of the second, cheaper version")
    ap.add_argument("--screenshots", type=Path, default=None, help="folder for page screenshots (Playwright)")
    ap.add_argument(
        "--api-defaults",
        action="store_true",
        help="train v1 as a new user would: no training parameters but the seed, the server's device recipe fills in"
        " the rest (the figure to compare with bench/train.py)",
    )
    args = ap.parse_args()
    base = args.base_url.rstrip("/")
    api = Api(base, args.username, args.password)
    failures: list[str] = []

    def check(ok: bool, what: str) -> None:
        log(f"   CHECK {'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            failures.append(what)

    suffix = time.strftime("%H%M%S")
    with step("upload the three raw files"):
        inter = upload(api, f"ml100k-ratings-{suffix}", "interactions", args.data_dir / "ml-100k.inter")
        item = upload(api, f"ml100k-items-{suffix}", "items", args.data_dir / "ml-100k.item")
        user = upload(api, f"ml100k-users-{suffix}", "users", args.data_dir / "ml-100k.user")
        check(
            [c["name"] for c in item["columns"]] == ["item_id", "movie_title", "release_year", "class"],
            "item columns have their RecBole type tags stripped",
        )

    with step("join ratings+items, +users; label rating >= 4"):
        j1 = transform(
            api,
            inter["id"],
            "join",
            {"right": item["id"], "on": ["item_id"], "how": "inner", "output_dataset": f"ml100k-joined-{suffix}"},
        )
        cols = [c["name"] for c in j1["columns"]]
        check(
            set(cols) == {"user_id", "item_id", "rating", "timestamp", "movie_title", "release_year", "class"},
            f"ratings+items columns {cols}",
        )
        again = transform(
            api,
            inter["id"],
            "join",
            {"right": item["id"], "on": ["item_id"], "how": "inner", "output_dataset": f"ml100k-joined-{suffix}"},
        )
        check(again["id"] == j1["id"], "the same join again gives the same version (rows in a fixed order)")
        j2 = transform(
            api,
            j1["id"],
            "join",
            {"right": user["id"], "on": ["user_id"], "how": "inner", "output_dataset": f"ml100k-joined-{suffix}"},
        )
        cols = [c["name"] for c in j2["columns"]]
        check(
            not any(c.endswith("_right") for c in cols) and {"age", "gender", "occupation", "zip_code"} <= set(cols),
            f"+users columns {cols}",
        )
        check(j2["row_count"] == inter["row_count"], f"joined rows {j2['row_count']} == ratings {inter['row_count']}")
        labeled = transform(api, j2["id"], "label", {"column": "label", "expression": "rating >= 4"})

    spec = {
        "model_name": MODEL,
        "dataset_version": labeled["id"],
        "label_column": "label",
        "text_columns": ["movie_title"],
        "categorical_columns": ["user_id", "item_id", "age", "gender", "occupation", "class"],
        "user_column": "user_id",
        "item_column": "item_id",
        "split": {"strategy": "random", "fractions": [0.8, 0.1, 0.1], "seed": 0},
    }
    with step("PII: automatic scan of the labeled version; training refused before review"):
        scan = latest_scan(api, labeled["id"])
        flagged = [c for c in scan["columns"] if c["finding"]]
        for c in flagged:
            log(
                f"   finding {c['finding']}: {c['name']} {c['entity_type']} ({c['kind']}) share {c['share']:.2f} "
                f"score {c['score']:.2f} recognizers {c['recognizers']}"
            )
        check(scan["status"] == "succeeded", f"scan {scan['id']} status {scan['status']}")
        r = api.s.post(f"{base}/api/v1/training-jobs/", json={**spec, "params": TRAIN_PARAMS}, timeout=60)
        log(f"   POST training-jobs before review -> {r.status_code}: {r.text[:600]}")
        check(
            r.status_code == 400 if flagged else r.status_code == 202,
            "training refused (400) while findings are unresolved",
        )

    train_version = labeled
    with step("PII review as steward: reject non-PII, accept + mask the rest"):
        accepted: list[str] = []
        for c in flagged:
            decision = "rejected" if c["name"] in NOT_PII else "accepted"
            api.call("PATCH", f"pii-findings/{c['finding']}/", json={"decision": decision})
            log(f"   {c['name']}: {decision}")
            if decision == "accepted":
                accepted.append(c["name"])
        if accepted:
            policy = {
                name: (
                    {"operator": "generalize", "params": {"kind": "zip", "digits": 3}}
                    if name == "zip_code"
                    else {"operator": "drop"}
                )
                for name in accepted
            }
            job = api.call("POST", f"dataset-versions/{labeled['id']}/mask/", json={"columns": policy})
            job = api.wait_job(job, show=True)
            train_version = api.call("GET", f"dataset-versions/{job['result']['dataset_version']}/")
            log(f"   masked version {train_version['id']} ({policy})")
            rescan = latest_scan(api, train_version["id"])
            pending = [c["name"] for c in rescan["columns"] if c["finding"] and c["decision"] == "pending"]
            log(f"   rescan {rescan['id']} of masked version: pending findings {pending}")
            for c in rescan["columns"]:
                if c["finding"] and c["decision"] == "pending" and c["name"] in NOT_PII:
                    api.call("PATCH", f"pii-findings/{c['finding']}/", json={"decision": "rejected"})
                    log(f"   rescan {c['name']}: rejected")
        v = api.call("GET", f"dataset-versions/{train_version['id']}/")
        check(v["pii_status"] in ("clean", "resolved"), f"version {v['id']} pii_status {v['pii_status']}")
        spec["dataset_version"] = train_version["id"]

    total_steps = args.epochs * math.ceil(train_version["row_count"] * 0.8 / TRAIN_PARAMS["batch_size"])
    if args.api_defaults:
        p1 = {"seed": TRAIN_PARAMS["seed"], "segment_column": TRAIN_PARAMS["segment_column"]}
        v1 = train(api, spec, p1, "v1 (the API's defaults: the server's device recipe)")
        log(f"   recipe: {json.dumps(v1['version'].get('recipe') or v1['job'].get('result', {}).get('recipe'))[:400]}")
    else:
        p1 = {**TRAIN_PARAMS, "epochs": args.epochs, "freeze_encoder_steps": max(0, total_steps - FINETUNE_STEPS)}
        v1 = train(api, spec, p1, f"v1 ({args.epochs} epochs, bench/train.py params)")
    auc1 = v1["version"]["metrics"].get("auc")
    check(auc1 is not None and auc1 >= 0.79, f"v1 test auc {auc1} >= 0.79 (random split)")
    api.call("PUT", f"models/{MODEL}/aliases/production/", json={"version": v1["version"]["version"]})
    cheap_steps = args.cheap_epochs * math.ceil(train_version["row_count"] * 0.8 / TRAIN_PARAMS["batch_size"])
    p2 = {**TRAIN_PARAMS, "epochs": args.cheap_epochs, "freeze_encoder_steps": cheap_steps}
    v2 = train(api, spec, p2, f"v2 ({args.cheap_epochs} epoch, encoder frozen)")

    with step("serve: rank 100 candidates; move production to v2"):
        rng = random.Random(0)
        candidates = rng.sample(range(1, 1683), 100)
        t = time.perf_counter()
        served, items = rank_version(api, 196, candidates)
        log(
            f"   rank (first call, loads the model) {1000 * (time.perf_counter() - t):.0f} ms; "
            f"version {served}; top 3 {items[:3]}"
        )
        check(served == v1["version"]["version"] and len(items) == 100, "rank answers with production (v1), 100 items")
        lat = []
        for _ in range(20):
            t = time.perf_counter()
            rank_version(api, rng.randint(1, 943), candidates)
            lat.append(1000 * (time.perf_counter() - t))
        lat.sort()
        log(f"   20 warm rank calls: p50 {lat[10]:.0f} ms, max {lat[-1]:.0f} ms")
        # v2 is the deliberately cheap model: it may not beat its baseline, so the move is forced (audited).
        api.call(
            "PUT", f"models/{MODEL}/aliases/production/", json={"version": v2["version"]["version"], "force": True}
        )
        t = time.perf_counter()
        while True:
            served, _ = rank_version(api, 196, candidates)
            if served == v2["version"]["version"] or time.perf_counter() - t > 30:
                break
            time.sleep(0.2)
        switch = time.perf_counter() - t
        log(f"   after moving production to v{v2['version']['version']}: rank says v{served} after {switch:.1f}s")
        check(served == v2["version"]["version"] and switch < 10, "rank follows production within a few seconds")

    with step("lineage of the training version"):
        g = api.call("GET", f"dataset-versions/{train_version['id']}/lineage/")
        keys = {n["key"] for n in g["nodes"]}
        log(f"   {len(g['nodes'])} nodes, {len(g['edges'])} edges: {sorted(keys)}")
        for mv in (v1, v2):
            check(f"model_version:{mv['version']['id']}" in keys, f"lineage holds model_version {mv['version']['id']}")
        for raw in (inter, item, user):
            check(f"dataset_version:{raw['id']}" in keys, f"lineage reaches raw upload {raw['id']}")

    if args.screenshots:
        with step("screenshots"):
            screenshots(
                base,
                args.password,
                args.screenshots,
                {
                    "training_job": f"/training-jobs/{v1['job']['id']}/",
                    "compare": f"/models/{MODEL}/compare/?v={v1['version']['version']}&v={v2['version']['version']}",
                    "lineage": f"/dataset-versions/{train_version['id']}/lineage/",
                    "pii_scan": f"/privacy/scans/{scan['id']}/",
                    "monitoring": f"/models/{MODEL}/monitoring/",
                },
            )

    log(
        f"summary: v1 test auc {auc1}; v2 test auc {v2['version']['metrics'].get('auc')}; "
        f"{len(failures)} failed check(s)" + (": " + "; ".join(failures) if failures else "")
    )
    print(json.dumps({"v1": v1["version"]["metrics"], "v2": v2["version"]["metrics"]}, indent=None)[:2000])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

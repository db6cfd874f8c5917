"""Test data and helpers shared across test packages: small tables, tiny models, request helpers.

Conftest files hold fixtures only; what several test modules build or call lives here. This module
imports no Django (Django, DRF and the apps are imported inside the helpers that need them), so
tests/training/ml, which runs without Django (also on the GPU machine), uses it too.
"""

from __future__ import annotations

import io
import json
import random
import threading
import uuid
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa

GENRES = ("drama", "comedy", "action")

# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def csv_file(text: str, name: str = "data.csv") -> io.BytesIO:
    """An upload: the text as a named binary file."""
    buf = io.BytesIO(text.encode("utf-8"))
    buf.name = name
    return buf


def table_csv(table: pa.Table) -> str:
    """An Arrow table as CSV text."""
    import pyarrow.csv as pacsv

    out = io.BytesIO()
    pacsv.write_csv(table, out)
    return out.getvalue().decode()


# ---------------------------------------------------------------------------------------------
# Click data for training: integer ids, a label that a user trait crossed with the genre decides
# ---------------------------------------------------------------------------------------------

WORDS = (
    "the",
    "a",
    "of",
    "movie",
    "story",
    "about",
    "cats",
    "dogs",
    "space",
    "war",
    "love",
    "night",
    "day",
    "city",
    "house",
)


def item(j: int) -> dict[str, Any]:
    genre = GENRES[j % 3]
    words = " ".join(random.Random(j).sample(WORDS, 3))
    return {"item_id": j, "genre": genre, "title": f"{words} {genre} {j}", "price": float(j % 7)}


def interactions(n: int = 360, seed: int = 0, n_users: int = 24, n_items: int = 18) -> pa.Table:
    """user x item rows whose label depends on a user trait crossed with the item's genre."""
    rng = random.Random(seed)
    rows = []
    for t in range(n):
        u, j = rng.randrange(n_users), rng.randrange(n_items)
        it = item(j)
        likes = ("drama", "comedy") if u % 2 else ("action",)
        p = 0.9 if it["genre"] in likes else 0.1
        rows.append({"user_id": u, "gender": "MF"[u % 2], **it, "ts": t, "label": int(rng.random() < p)})
    return pa.Table.from_pylist(rows)


def splits(table: pa.Table) -> dict[str, pa.Table]:
    """train / valid / test in row order (70 / 15 / 15), as `train()`'s keyword arguments."""
    n = table.num_rows
    a, b = int(n * 0.7), int(n * 0.85)
    return {"train_table": table.slice(0, a), "valid_table": table.slice(a, b - a), "test_table": table.slice(b)}


def cancel_and_resume(
    *, table: pa.Table, spec: Any, base_model: str, params: dict[str, Any], device: str, checkpoint_dir: Path
) -> tuple[Any, Any]:
    """Train until the tenth step event and cancel (checkpoints in `checkpoint_dir`), train again
    from the checkpoint, and train once without interruption: (resumed, straight) TrainResults."""
    from training.ml import TrainingCancelled, train

    steps: list[dict[str, Any]] = []
    try:
        train(
            **splits(table),
            spec=spec,
            base_model=base_model,
            params=params,
            device=device,
            checkpoint_dir=checkpoint_dir,
            should_stop=lambda: len(steps) >= 10,
            on_progress=lambda e: steps.append(e) if e["event"] == "step" else None,
        )
    except TrainingCancelled:
        pass
    else:
        raise AssertionError("training was not cancelled")
    resumed = train(
        **splits(table), spec=spec, base_model=base_model, params=params, device=device, checkpoint_dir=checkpoint_dir
    )
    straight = train(**splits(table), spec=spec, base_model=base_model, params=params, device=device)
    return resumed, straight


def interaction_columns() -> dict[str, Any]:
    """The columns of `interactions()` as keyword arguments of FeatureSpec and of a training job (a fresh dict)."""
    return {
        "label_column": "label",
        "text_columns": ["title"],
        "categorical_columns": ["gender", "genre"],
        "numeric_columns": ["price"],
        "user_column": "user_id",
        "item_column": "item_id",
    }


# Parameters for `training.ml.train` on `interactions()`: a model that learns in about a second.
FAST_TRAIN_PARAMS = {
    "epochs": 3,
    "batch_size": 32,
    "lr": 0.02,
    "encoder_lr": 1e-3,
    "embedding_dim": 8,
    "hidden_units": [16],
    "dropout": 0.0,
    "patience": 0,
    "checkpoint_every_steps": 0,
    "refit": False,  # the first pass alone; test_refit.py trains the second
}

# Parameters for a training job (the API's `params`) on `interactions(240)`.
FAST_JOB_PARAMS = {
    "epochs": 2,
    "batch_size": 32,
    "lr": 0.02,
    "embedding_dim": 8,
    "patience": 0,
    "checkpoint_every_steps": 0,
    "freeze_encoder_steps": 8,
    "segment_column": "genre",
    "segment_min_count": 5,
}


# ---------------------------------------------------------------------------------------------
# Tiny base models
# ---------------------------------------------------------------------------------------------


def word_tokenizer() -> Any:
    """A word-level BERT tokenizer over `WORDS`, the genres and the numbers 0-49."""
    from transformers import BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *GENRES, *[str(i) for i in range(50)]]
    return BertTokenizer(vocab={w: i for i, w in enumerate(vocab)})


def minilm_tokenizer() -> Any:
    """The real MiniLM tokenizer of the offline base model package."""
    from transformers import AutoTokenizer

    from training.ml.base_model import default_model_dir

    return AutoTokenizer.from_pretrained(default_model_dir(), local_files_only=True)


def tiny_bert(directory: Path, tokenizer: Any) -> str:
    """A 1-layer, 16-wide BERT with (seeded) random weights saved with `tokenizer` like a real base
    model; returns its path. It trains and loads in about a second."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


# ---------------------------------------------------------------------------------------------
# The shop served in serving tests: string ids, user traits, an hour of the request
# ---------------------------------------------------------------------------------------------

SHOP_ITEMS = 30
SHOP_USERS = 20
SHOP_USER = {"user_id": "u3", "age": "23", "gender": "F", "hour": 14}
SHOP_ITEM_IDS = [f"i{j}" for j in range(SHOP_ITEMS)]


def shop_item(j: int) -> dict[str, Any]:
    genre = GENRES[j % 3]
    return {"item_id": f"i{j}", "genre": genre, "title": f"movie {j} {genre}", "price": float(j % 7)}


def shop_user(j: int) -> dict[str, Any]:
    return {"user_id": f"u{j}", "age": str(20 + j % 5), "gender": "MF"[j % 2]}


def shop_interactions(n: int = 400, seed: int = 0) -> pa.Table:
    """Rows of user x item with a label that depends on genre and gender, and a request-level hour."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        user, it = shop_user(rng.randrange(SHOP_USERS)), shop_item(rng.randrange(SHOP_ITEMS))
        p = 0.75 if it["genre"] == "drama" else 0.25
        if user["gender"] == "F" and it["genre"] == "comedy":
            p = 0.8
        rows.append({**user, **it, "hour": rng.randint(0, 23), "label": int(rng.random() < p)})
    return pa.Table.from_pylist(rows)


def shop_sequences(n: int = 600, seed: int = 0) -> pa.Table:
    """`shop_interactions` plus "history", each row's list of item ids seen before (as the sequence
    transform writes it), and a label that depends on the history alone: users who saw i7 click."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        user, it = shop_user(rng.randrange(SHOP_USERS)), shop_item(rng.randrange(SHOP_ITEMS))
        history = [f"i{rng.randrange(10)}" for _ in range(rng.randint(0, 6))]
        p = 0.85 if "i7" in history else 0.15
        rows.append({**user, **it, "history": history, "label": int(rng.random() < p)})
    return pa.Table.from_pylist(rows)


def train_sequence_model(
    *, with_history: bool, seed: int = 0, hidden_units: tuple[int, ...] = (8,), list_pooling: str | None = None
) -> Any:
    """A small model (no text) on `shop_sequences`, with or without the "history" list column (pooled by
    `list_pooling`; None: the default, target attention)."""
    from training.ml import FeatureSpec, train

    table = shop_sequences(seed=seed)
    spec = FeatureSpec(
        label_column="label",
        categorical_columns=["age", "gender", "genre"],
        numeric_columns=["price"],
        user_column="user_id",
        item_column="item_id",
        list_columns=["history"] if with_history else [],
        list_buckets=211,
        list_max_len=8,
        list_pooling=list_pooling,
    )
    return train(
        train_table=table.slice(0, 400),
        valid_table=table.slice(400, 100),
        test_table=table.slice(500),
        spec=spec,
        params={
            "epochs": 8,
            "batch_size": 64,
            "hidden_units": list(hidden_units),
            "embedding_dim": 4,
            "seed": seed,
            "lr": 0.03,
            "patience": 0,
        },
    )


def train_shop_artifact(
    path: Path,
    *,
    encoder: str | None,
    seed: int = 0,
    numeric: bool = True,
    text: bool = True,
    interaction: str = "fm",
    hidden_units: tuple[int, ...] = (16,),
) -> Any:
    """Train on `shop_interactions` and save an artifact as a training job does (test predictions
    included); returns the TrainResult."""
    import numpy as np

    from training.ml import FeatureSpec, save_artifact, train

    table = shop_interactions(seed=seed)
    spec = FeatureSpec(
        label_column="label",
        text_columns=["title"] if text else [],
        categorical_columns=["age", "gender", "genre"],
        numeric_columns=["price", "hour"] if numeric else [],
        user_column="user_id",
        item_column="item_id",
    )
    result = train(
        train_table=table.slice(0, 300),
        valid_table=table.slice(300, 50),
        test_table=table.slice(350),
        spec=spec,
        base_model=encoder if text else None,
        params={
            "epochs": 6,
            "batch_size": 64,
            "hidden_units": list(hidden_units),
            "embedding_dim": 4,
            "seed": seed,
            "lr": 0.03,
            "interaction": interaction,
            "freeze_encoder_steps": 1_000_000,  # the head alone learns: fast, and the same artifact layout
            "patience": 0,
        },
    )
    save_artifact(result, path)
    np.save(path / "test_predictions.npy", result.test_predictions)
    return result


class ModelRegistry:
    """Registers trained artifacts as model versions (through the training app's services) and
    moves aliases, for one test. `trained` maps a name to (artifact directory, TrainResult)."""

    def __init__(self, trained: dict[str, tuple[Path, Any]], actor: Any) -> None:
        self.trained = trained
        self.actor = actor
        self.versions: dict[tuple[str, int], Any] = {}

    def add_version(self, name: str, artifact: str, *, dataset_versions: dict[str, Any] | None = None) -> Any:
        from django.conf import settings

        from training.services.registry import model_version_create

        path, result = self.trained[artifact]
        stored = f"models/{name}/{artifact}-{uuid.uuid4().hex[:8]}"
        target = Path(settings.MEDIA_ROOT) / stored
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(path, target_is_directory=True)  # artifacts are read-only: share, don't copy
        mv = model_version_create(
            actor=self.actor,
            model_name=name,
            job=None,
            artifact=stored,
            result=result,
            versions=dataset_versions or {},
            config={},
        )
        self.versions[(name, mv.version)] = mv
        return mv

    def set_alias(self, name: str, alias: str, number: int) -> None:
        from training.selectors import model_get
        from training.services.registry import model_alias_set

        model_alias_set(actor=self.actor, model=model_get(name), alias=alias, version=number)


def api_token(user: Any) -> str:
    """A fresh API token (django-rest-knox) for `user`, as a client sends it after `Authorization: Token `."""
    from knox.models import AuthToken

    return AuthToken.objects.create(user=user)[1]


def token_client(user: Any | None) -> Any:
    """A DRF APIClient that sends `user`'s token (anonymous for None)."""
    from rest_framework.test import APIClient

    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def post_rank(client: Any, body: Any, *, model: str = "shop", query: str = "") -> Any:
    """POST /api/v1/serving/{model}/rank/ with a JSON body (any JSON, to test bad ones too)."""
    return client.post(f"/api/v1/serving/{model}/rank/{query}", json.dumps(body), content_type="application/json")


class FakeClock:
    """A clock that moves only when a test moves it: `clock.now += 2.5`."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------------------------------------
# Labeling: a small items table and search log, tasks straight into the table
# ---------------------------------------------------------------------------------------------

ITEMS = [
    ("Voltix Wireless Headphones", "Electronics"),
    ("Sonaro Bluetooth Speaker", "Electronics"),
    ("Pixelon Phone Charger", "Electronics"),
    ("Kitchora Coffee Maker", "Home & Kitchen"),
    ("Homely Chef's Knife", "Home & Kitchen"),
    ("Brava Air Fryer", "Home & Kitchen"),
    ("Lantern Press Mystery Novel", "Books"),
    ("Redleaf Cookbook", "Books"),
    ("Trailpeak Yoga Mat", "Sports & Outdoors"),
    ("Stridex Running Shoes", "Sports & Outdoors"),
    ("Summitco Camping Tent", "Sports & Outdoors"),
    ("Flexa Resistance Bands", "Sports & Outdoors"),
]
CATEGORIES = ["Electronics", "Home & Kitchen", "Books", "Sports & Outdoors"]


def items_csv(n: int = 12) -> str:
    lines = ["item_id,title,category,price"]
    for i in range(n):
        title, category = ITEMS[i % len(ITEMS)]
        lines.append(f"{i + 1},{title} {i // len(ITEMS) or ''},{category},{10 + i}.99")
    return "\n".join(lines) + "\n"


def search_csv(n: int = 20) -> str:
    lines = ["query,item_id,title,position,clicked"]
    for i in range(n):
        title, _category = ITEMS[i % len(ITEMS)]
        query = ["headphones", "coffee", "yoga mat", "novel"][i % 4]
        lines.append(f"{query},{i + 1},{title},{i % 10 + 1},{int(i % 3 == 0)}")
    return "\n".join(lines) + "\n"


def add_tasks(project: Any, rows: list[int] | None = None, **fields: Any) -> list[Any]:
    """Tasks straight into the table (the task-creation job has its own tests)."""
    from governance.labeling.models import Task

    rows = list(range(project.dataset_version.row_count)) if rows is None else rows
    return Task.objects.bulk_create([Task(project=project, row=r, **fields) for r in rows])


class Killed(BaseException):
    """Stands in for SIGKILL: not an Exception, so no job handler records anything."""


def expire_lease(job: Any) -> None:
    """Make a running job look as if its worker died: its heartbeat is older than STEWARD_JOB_LEASE_S."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from core.models import Job

    stale = timezone.now() - timedelta(seconds=settings.STEWARD_JOB_LEASE_S + 1)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=stale, started_at=stale)


def expire_chunk_lease(chunk: Any) -> None:
    """Make a running masking chunk look as if its worker died: its heartbeat is older than STEWARD_JOB_LEASE_S."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from governance.privacy.models import MaskChunk

    stale = timezone.now() - timedelta(seconds=settings.STEWARD_JOB_LEASE_S + 1)
    MaskChunk.objects.filter(pk=chunk.pk).update(heartbeat_at=stale)


def openapi_schema() -> Any:
    """The API's OpenAPI schema as schemathesis drives it against the WSGI app. Built by drf-spectacular directly:
    /api/v1/schema/ needs a signed-in caller, and collection (where the schema is loaded) has no database."""
    import json

    import schemathesis
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    from config.wsgi import application

    document = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = application
    return loaded


class Receiver:
    """A webhook receiver: a local HTTP server answering with the given status codes in turn (the last repeats)."""

    def __init__(self, codes: list[int], location: str = "") -> None:
        self.codes = codes
        self.requests: list[tuple[dict[str, str], bytes, float]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                import time

                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body, time.monotonic()))
                code = receiver.codes[min(len(receiver.requests), len(receiver.codes)) - 1]
                self.send_response(code)
                if location:
                    self.send_header("Location", location)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class OpenLineageReceiver:
    """A tiny OpenLineage HTTP endpoint (what Marquez would be) on a thread: POSTed events land in `events`."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.paths.append(self.path)
                receiver.events.append(json.loads(body))
                self.send_response(201)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def of(self, job: Any) -> list[dict[str, Any]]:
        from core.openlineage import run_id

        return [e for e in self.events if e["run"]["runId"] == run_id(job.pk)]


def assert_openlineage_event(event: dict[str, Any]) -> None:
    """The RunEvent fields the OpenLineage 2-0-2 spec requires, and the facets' own required keys."""
    assert event["eventType"] in {"START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"}
    datetime.fromisoformat(event["eventTime"])  # ISO 8601 with an offset
    assert datetime.fromisoformat(event["eventTime"]).tzinfo is not None
    uuid.UUID(event["run"]["runId"])
    assert event["job"]["namespace"] == "steward" and event["job"]["name"]
    assert event["producer"].startswith("https://")
    assert event["schemaURL"].startswith("https://openlineage.io/spec/") and "RunEvent" in event["schemaURL"]
    for dataset in event.get("inputs", []) + event.get("outputs", []):
        assert dataset["namespace"] == "steward" and dataset["name"]
        for facet in dataset.get("facets", {}).values():
            assert facet["_producer"] and facet["_schemaURL"].startswith("https://openlineage.io/spec/")
    for facet in list(event["run"].get("facets", {}).values()) + list(event["job"].get("facets", {}).values()):
        assert facet["_producer"] and facet["_schemaURL"].startswith("https://openlineage.io/spec/")


# ---------------------------------------------------------------------------------------------
# Browser tests: Debian's chromium through Playwright
# ---------------------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"


def launch_chromium(pw: Any) -> Any:
    """A headless chromium from a sync_playwright() handle; the caller closes it."""
    return pw.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )


def browser_page(browser: Any, timeout_ms: int = 20_000) -> Any:
    """A 1280x900 page whose waits give up after timeout_ms."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(timeout_ms)
    return page


def outside_requests(page: Any, base: str) -> list[str]:
    """The URLs the page requests from anywhere but `base`, filled in as it loads."""
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base) else None)
    return outside


def served_model(personas: dict[str, Any], name: str = "ctr") -> Any:
    """A registered model with versions 1 and 2 (rows only: latency series need no artifact), production -> 2."""
    from training.models import ModelAlias, ModelVersion, RegisteredModel

    model = RegisteredModel.objects.create(name=name, created_by=personas["ml_engineer"])
    versions = [ModelVersion.objects.create(model=model, version=n, artifact=f"models/{name}/v{n}") for n in (1, 2)]
    ModelAlias.objects.create(model=model, name="production", version=versions[1])
    return model


def record_serving_minute(name: str, version: int, minutes_ago: int, latencies_ms: list[float]) -> None:
    """One flushed minute of serving counters, as serving.stats writes them."""
    from django.utils import timezone

    from serving.models import ServingStat
    from serving.stats import LATENCY_EDGES_MS

    counts = [0] * (len(LATENCY_EDGES_MS) + 1)
    for ms in latencies_ms:
        counts[sum(1 for edge in LATENCY_EDGES_MS if ms > edge)] += 1
    minute = (timezone.now() - timedelta(minutes=minutes_ago)).replace(second=0, microsecond=0)
    ServingStat.objects.create(
        model_name=name,
        version=version,
        endpoint="rank",
        minute=minute,
        requests=len(latencies_ms),
        latency_ms_sum=sum(latencies_ms),
        latency_counts=counts,
        score_counts=[],
    )

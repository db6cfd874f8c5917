"""Model versions loaded into this process: the process-wide cache (`get_cache`), what loading one
version does (`load_version`: the artifact's predictor, the fast scorer, and the files serving keeps
beside it in DATA_DIR/serving/versions/<id>/: the user table and the test split's score
distribution, the reference for drift on the monitoring page), and the warm-up before a worker's
first request."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from django.conf import settings

from core.errors import ServiceError
from serving.cache import ModelCache, VersionRef
from serving.encoding import value_key
from serving.registry import artifact_dir
from serving.scorer import Scorer
from serving.stats import score_histogram
from serving.user_table import USERS_FILE, ensure_user_table

log = logging.getLogger(__name__)

# Names under which a test split's predictions may sit in the artifact (written at training) or
# in serving's own directory for the version (written by the reference job).
REFERENCE_FILES = ("test_predictions.npy", "reference_scores.npy")

_threads_lock = threading.Lock()
_threads_set = False

_cache: ModelCache | None = None
_cache_lock = threading.Lock()
_clock: Callable[[], float] = time.monotonic  # the cache's clock: alias TTLs and retries (tests set their own)


@dataclass
class LoadedVersion:
    ref: VersionRef
    scorer: Scorer
    reference_counts: np.ndarray | None  # test-split scores per bin of serving.stats.SCORE_BINS
    load_seconds: float


def version_dir(pk: int) -> Path:
    return Path(settings.DATA_DIR) / "serving" / "versions" / str(pk)


def load_version(ref: VersionRef) -> LoadedVersion:
    from training.ml import load_artifact

    configure_torch()
    start = time.perf_counter()
    path = artifact_dir(ref)
    predictor = load_artifact(path, device="cpu")
    if not predictor.spec.item_column:
        raise ServiceError(
            f"Model {ref.model!r} v{ref.version} was trained without an item column, so it cannot "
            "score items by id; serving needs a model trained with item_column.",
            status_code=409,
            code="not_servable",
        )
    try:
        ensure_user_table(ref, predictor.spec, version_dir(ref.pk))
    except Exception:  # the model still serves; callers then send user features explicitly
        log.exception("serving: could not build the user table of %s v%s", ref.model, ref.version)
    scorer = Scorer(predictor, users=read_users(ref.pk, predictor.spec.user_column))
    scorer.warm()  # the first requests it answers must not pay first-call costs either
    loaded = LoadedVersion(
        ref=ref, scorer=scorer, reference_counts=read_reference(ref.pk, path), load_seconds=time.perf_counter() - start
    )
    log.info(
        "serving: loaded %s v%s in %.2fs (%d items, %s path)",
        ref.model,
        ref.version,
        loaded.load_seconds,
        scorer.n_items,
        scorer.mode,
    )
    return loaded


def configure_torch() -> None:
    """Serving processes run many small requests side by side: one intra-op thread each by default."""
    global _threads_set
    threads = settings.STEWARD_SERVING_TORCH_THREADS
    with _threads_lock:
        if _threads_set or not threads:
            return
        import torch

        torch.set_num_threads(threads)
        _threads_set = True


def read_reference(pk: int, artifact: Path) -> np.ndarray | None:
    for folder in (artifact, version_dir(pk)):
        for name in REFERENCE_FILES:
            candidate = folder / name
            if candidate.is_file():
                scores = np.load(candidate).astype(np.float64).ravel()
                return score_histogram(scores)
    return None


def read_users(pk: int, user_column: str | None) -> dict[str, dict[str, Any]] | None:
    """user id -> user-level feature values, when a user table was built for this version."""
    path = version_dir(pk) / USERS_FILE
    if user_column is None or not path.is_file():
        return None
    table = pq.read_table(path)
    ids = table.column(user_column).to_pylist()
    rows = table.drop_columns([user_column]).to_pylist()
    return {value_key(i): row for i, row in zip(ids, rows, strict=True) if value_key(i) is not None}


# ---------------------------------------------------------------------------------------------
# The process-wide cache
# ---------------------------------------------------------------------------------------------


def get_cache() -> ModelCache:
    """The cache of this process, built from settings on first use."""
    global _cache
    if _cache is None:
        with _cache_lock:
            if _cache is None:
                from serving import metrics, warm
                from serving.registry import alias_generation, alias_refs, resolve_alias, resolve_version

                def load(ref: VersionRef) -> LoadedVersion:  # counted, so /metrics shows loads and their duration
                    try:
                        loaded = load_version(ref)
                    except Exception:
                        metrics.LOADS.labels(ref.model, str(ref.version), "failed").inc()
                        raise
                    metrics.LOADS.labels(ref.model, str(ref.version), "loaded").inc()
                    metrics.LOAD_SECONDS.labels(ref.model).observe(loaded.load_seconds)
                    metrics.LOADED.inc()
                    return loaded

                _cache = ModelCache(
                    resolve_alias=resolve_alias,
                    resolve_version=resolve_version,
                    load=load,
                    alias_ttl=settings.STEWARD_SERVING_ALIAS_TTL_MS / 1000,
                    max_versions=settings.STEWARD_SERVING_CACHE_VERSIONS,
                    clock=_clock,
                    on_evict=lambda _loaded: metrics.LOADED.dec(),
                    generation=alias_generation,
                    list_aliases=alias_refs,
                    warm_aliases=tuple(settings.STEWARD_SERVING_WARM_ALIASES),
                    warm_requests=warm.warm_requests,
                    report_warm=warm.report,
                    heartbeat_s=warm.HEARTBEAT_S,
                )
    return _cache


def current_cache() -> ModelCache | None:
    """This process's cache if it has one (it has served or warmed up), else None: nothing to keep warm."""
    return _cache


def reset_cache(*, clock: Callable[[], float] = time.monotonic) -> None:
    """Forget every loaded version (tests); the next cache reads the time from `clock`."""
    global _cache, _clock
    with _cache_lock:
        if _cache is not None:
            _cache.stop_watcher()
            _cache.wait_idle()
        _cache = None
        _clock = clock


def alias_moved() -> None:
    """An alias moved in this process (after its transaction committed): sync the aliases now, in
    the background, instead of waiting for the watcher's next poll. Other processes learn it from
    their watcher (STEWARD_SERVING_ALIAS_POLL_MS)."""
    if _cache is None:
        return  # this process serves nothing yet: nothing to keep warm
    _cache.poll()


def start_alias_watcher() -> None:
    """Poll the alias generation in this process every STEWARD_SERVING_ALIAS_POLL_MS (gunicorn
    workers call it after warm-up), so a moved or first-set alias loads before requests use it."""
    cache = get_cache()
    cache.poll(wait=True)  # what the registry says now, before the first request
    cache.start_watcher(settings.STEWARD_SERVING_ALIAS_POLL_MS / 1000)


def warm_up(aliases: tuple[str, ...] = ("production",)) -> list[str]:
    """Load what these aliases point to for every model, before a worker takes its first request
    (called from serving/gunicorn_conf.py). Returns what was loaded; failures are logged and skipped."""
    from django.urls import get_resolver

    from serving.registry import alias_targets

    get_resolver().url_patterns  # noqa: B018 - imports every view (torch, the scorer) now, not on a request
    loaded = []
    for model, alias in alias_targets(aliases):
        try:
            get_cache().get(model, alias=alias)
            loaded.append(f"{model}@{alias}")
        except Exception:  # one broken model must not keep the worker from serving the rest
            log.exception("serving: warm-up of %s@%s failed", model, alias)
    return loaded

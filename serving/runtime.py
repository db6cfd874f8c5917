"""The process-wide model cache, built from settings on first use."""

from __future__ import annotations

import threading

from django.conf import settings

from serving.cache import ModelCache

_cache: ModelCache | None = None
_lock = threading.Lock()


def get_cache() -> ModelCache:
    global _cache
    if _cache is None:
        with _lock:
            if _cache is None:
                from serving import metrics
                from serving.loading import load_version
                from serving.registry import resolve_alias, resolve_version

                def load(ref):  # counted, so /metrics shows loads and their duration
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
                    on_evict=lambda _loaded: metrics.LOADED.dec(),
                )
    return _cache


def reset_cache() -> None:
    """Forget every loaded version (tests)."""
    global _cache
    with _lock:
        if _cache is not None:
            _cache.wait_idle()
        _cache = None


def warm_up(aliases: tuple[str, ...] = ("production",)) -> list[str]:
    """Load what these aliases point to for every model, before a worker takes its first request
    (called from serving/gunicorn_conf.py). Returns what was loaded; failures are logged and skipped."""
    import logging

    from django.urls import get_resolver

    from serving.registry import alias_targets

    log = logging.getLogger(__name__)
    get_resolver().url_patterns  # noqa: B018 - imports every view (torch, the scorer) now, not on a request
    loaded = []
    for model, alias in alias_targets(aliases):
        try:
            get_cache().get(model, alias=alias)
            loaded.append(f"{model}@{alias}")
        except Exception:  # one broken model must not keep the worker from serving the rest
            log.exception("serving: warm-up of %s@%s failed", model, alias)
    return loaded

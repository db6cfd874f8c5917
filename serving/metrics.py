"""Prometheus metrics for serving, exposed at /metrics.

Under gunicorn every worker is its own process; prometheus-client then needs a shared directory
named by the environment variable PROMETHEUS_MULTIPROC_DIR, set before the workers start (see
serving/gunicorn_conf.py, which puts it under DATA_DIR/prometheus and empties it at start-up).
Without it, /metrics shows the one process that answers the scrape.

Label values are bounded: the model label is a registered model's name (requests for an unknown
name count under "_unknown"), the version label its number.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

REQUESTS = Counter(
    "steward_serving_requests",
    "Scoring requests answered, by model version, endpoint and HTTP status.",
    ["model", "version", "endpoint", "status"],
)
ERRORS = Counter(
    "steward_serving_errors",
    "Scoring requests that failed (4xx or 5xx), by model version and error code.",
    ["model", "version", "endpoint", "code"],
)
LATENCY = Histogram(
    "steward_serving_latency_seconds",
    "Time to answer a scoring request, by model version and endpoint.",
    ["model", "version", "endpoint"],
    buckets=LATENCY_BUCKETS,
)
CANDIDATES = Counter(
    "steward_serving_candidates",
    "Candidates (rank) or pairs (score) scored, by model version.",
    ["model", "version", "endpoint"],
)
LOADS = Counter(
    "steward_serving_model_loads",
    "Model versions loaded into a serving process, by outcome.",
    ["model", "version", "outcome"],
)
LOAD_SECONDS = Histogram(
    "steward_serving_model_load_seconds",
    "Time to load a model version into a serving process.",
    ["model"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
LOADED = Gauge(
    "steward_serving_loaded_versions",
    "Model versions loaded, summed over serving processes.",
    multiprocess_mode="livesum",
)


def observe(
    *, model: str, version: str, endpoint: str, status: int, seconds: float, code: str = "", candidates: int = 0
) -> None:
    REQUESTS.labels(model, version, endpoint, str(status)).inc()
    LATENCY.labels(model, version, endpoint).observe(seconds)
    if status >= 400:
        ERRORS.labels(model, version, endpoint, code or str(status)).inc()
    elif candidates:
        CANDIDATES.labels(model, version, endpoint).inc(candidates)


def exposition() -> tuple[bytes, str]:
    """The text exposition of every metric, across processes when multi-process mode is on."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST

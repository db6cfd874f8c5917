"""Reads for the monitoring page: traffic per minute, latency percentiles, score drift (PSI) against
the test split's score distribution."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.db.models import QuerySet
from django.utils import timezone

from core.errors import NotFound
from serving.models import PredictionLog, ServingStat
from serving.stats import LATENCY_EDGES_MS, SCORE_BINS

# PSI reading, as commonly used for model monitoring.
PSI_STABLE = 0.1
PSI_SHIFT = 0.25


@dataclass
class Minute:
    minute: datetime
    requests: int = 0
    errors: int = 0
    latency_counts: np.ndarray = field(default_factory=lambda: np.zeros(len(LATENCY_EDGES_MS) + 1, np.int64))


@dataclass
class VersionTraffic:
    version: int
    requests: int = 0
    errors: int = 0
    latency_ms_sum: float = 0.0
    latency_counts: np.ndarray = field(default_factory=lambda: np.zeros(len(LATENCY_EDGES_MS) + 1, np.int64))
    score_counts: np.ndarray = field(default_factory=lambda: np.zeros(SCORE_BINS, np.int64))
    minutes: dict[datetime, Minute] = field(default_factory=dict)

    @property
    def mean_latency_ms(self) -> float | None:
        return self.latency_ms_sum / self.requests if self.requests else None

    def percentile(self, q: float) -> float | None:
        return latency_percentile(self.latency_counts, q)


def stats_since(model_name: str, since: datetime) -> QuerySet[ServingStat]:
    return ServingStat.objects.filter(model_name=model_name, minute__gte=since).order_by("minute")


def traffic(model_name: str, *, minutes: int = 60, now: datetime | None = None) -> dict[int, VersionTraffic]:
    """Per version: totals, latency and score histograms, and per-minute series over the window."""
    now = now or timezone.now()
    since = (now - timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    out: dict[int, VersionTraffic] = {}
    for row in stats_since(model_name, since).iterator():
        v = out.setdefault(row.version, VersionTraffic(row.version))
        v.requests += row.requests
        v.errors += row.errors
        v.latency_ms_sum += row.latency_ms_sum
        lat = _counts(row.latency_counts, len(LATENCY_EDGES_MS) + 1)
        v.latency_counts += lat
        v.score_counts += _counts(row.score_counts, SCORE_BINS)
        m = v.minutes.setdefault(row.minute, Minute(row.minute))
        m.requests += row.requests
        m.errors += row.errors
        m.latency_counts += lat
    return out


# The monitoring windows (page and API): name -> minutes.
WINDOWS = {"15m": 15, "1h": 60, "6h": 360, "24h": 1440}
LATENCY_QUANTILES = (50, 99)


def window_start(now: datetime, minutes: int) -> datetime:
    return (now - timedelta(minutes=minutes)).replace(second=0, microsecond=0)


def per_minute(
    minutes: dict[datetime, Minute], start: datetime, end: datetime, value: Any, *, quiet: float | None = None
) -> list[tuple[datetime, float | None]]:
    """One point per minute of the window; a minute without traffic gets `quiet` (0 requests, or no
    latency at all, which breaks the line)."""
    points = []
    t = start
    while t <= end:
        m = minutes.get(t)
        points.append((t, value(m) if m is not None else quiet))
        t += timedelta(minutes=1)
    return points


def latency_series(
    model_name: str, *, minutes: int, now: datetime | None = None, versions: set[int] | None = None
) -> dict[str, Any]:
    """Per-minute latency percentiles (p50, p99; ms, None in a minute without traffic) and request counts of every
    version that served in the window (or of `versions` only), newest version first; times are Unix seconds."""
    now = now or timezone.now()
    start = window_start(now, minutes)
    by_version = traffic(model_name, minutes=minutes, now=now)
    numbers = sorted((n for n in by_version if versions is None or n in versions), reverse=True)
    times = [t for t, _ in per_minute({}, start, now, None)]
    series = []
    for number in numbers:
        mins = by_version[number].minutes
        entry: dict[str, Any] = {
            "version": number,
            "requests": [v for _, v in per_minute(mins, start, now, lambda m: m.requests, quiet=0)],
        }
        for q in LATENCY_QUANTILES:
            entry[f"p{q}"] = [
                None if v is None else round(v, 3)
                for _, v in per_minute(mins, start, now, lambda m, q=q: latency_percentile(m.latency_counts, q))
            ]
        series.append(entry)
    return {"start": start, "end": now, "times": [int(t.timestamp()) for t in times], "versions": series}


def _counts(values: list[int] | None, size: int) -> np.ndarray:
    arr = np.zeros(size, np.int64)
    if values:
        arr[: min(size, len(values))] = values[:size]
    return arr


def latency_percentile(counts: np.ndarray, q: float) -> float | None:
    """The q-th percentile (0..100) in ms, interpolated linearly inside its histogram bucket."""
    total = int(counts.sum())
    if total == 0:
        return None
    target = q / 100 * total
    edges = (0.0, *map(float, LATENCY_EDGES_MS))
    cumulative = 0
    for i, c in enumerate(counts.tolist()):
        if c and cumulative + c >= target:
            if i >= len(LATENCY_EDGES_MS):
                return float(LATENCY_EDGES_MS[-1])  # slower than the last edge: report the edge
            lo, hi = edges[i], edges[i + 1]
            return lo + (hi - lo) * (target - cumulative) / c
        cumulative += c
    return float(LATENCY_EDGES_MS[-1])


def psi(reference: np.ndarray, live: np.ndarray, *, floor: float = 1e-4) -> float | None:
    """Population stability index of `live` against `reference` (counts over the same bins)."""
    if reference is None or reference.sum() == 0 or live.sum() == 0:
        return None
    expected = np.maximum(reference / reference.sum(), floor)
    actual = np.maximum(live / live.sum(), floor)
    value = float(np.sum((actual - expected) * np.log(actual / expected)))
    return value if math.isfinite(value) else None


def psi_reading(value: float | None) -> str:
    if value is None:
        return "not enough data"
    if value < PSI_STABLE:
        return "stable"
    if value < PSI_SHIFT:
        return "moderate shift"
    return "significant shift"


def recent_predictions(model_name: str, limit: int = 20) -> QuerySet[PredictionLog]:
    return PredictionLog.objects.filter(model_name=model_name).order_by("-created_at")[:limit]


def reference_counts(model_name: str, number: int) -> np.ndarray | None:
    """The test split's scores of a version per SCORE_BINS bin (the reference for PSI), if kept."""
    from serving import registry
    from serving.loader import read_reference

    try:
        ref = registry.resolve_version(model_name, number)
    except NotFound:
        return None
    return read_reference(ref.pk, registry.artifact_dir(ref))

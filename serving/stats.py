"""Per-minute traffic counters and the sampled prediction log, written off the request path.

A request only adds to in-memory counters (and, when sampled, appends one log row to a list); a
daemon thread per process writes them every STEWARD_SERVING_STATS_FLUSH_S seconds with one bulk
insert, so the database is never on a request's critical path. With background writes off
(tests), `flush()` writes on demand.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from django.conf import settings

log = logging.getLogger(__name__)

# Upper edges (ms) of the latency buckets; one more bucket counts everything slower.
LATENCY_EDGES_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
SCORE_BINS = 20  # equal-width bins on [0, 1]
LOG_MAX_ITEMS = 1000  # scores kept per logged request


def score_histogram(scores: np.ndarray) -> np.ndarray:
    """Counts per SCORE_BINS equal-width bin on [0, 1] (int64)."""
    if len(scores) == 0:
        return np.zeros(SCORE_BINS, dtype=np.int64)
    bins = np.clip((np.asarray(scores, dtype=np.float64) * SCORE_BINS).astype(np.int64), 0, SCORE_BINS - 1)
    return np.bincount(bins, minlength=SCORE_BINS).astype(np.int64)


@dataclass
class _Counter:
    requests: int = 0
    errors: int = 0
    latency_ms_sum: float = 0.0
    latency_counts: np.ndarray = field(default_factory=lambda: np.zeros(len(LATENCY_EDGES_MS) + 1, np.int64))
    score_counts: np.ndarray = field(default_factory=lambda: np.zeros(SCORE_BINS, np.int64))


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[tuple[str, int, str, datetime], _Counter] = {}
        self._logs: list[Any] = []
        self._pid = 0
        self._thread: threading.Thread | None = None
        self._edges = np.array(LATENCY_EDGES_MS, dtype=np.float64)

    def record(
        self,
        *,
        model: str,
        version: int,
        endpoint: str,
        latency_ms: float,
        error: bool,
        scores: np.ndarray | None = None,
    ) -> None:
        minute = datetime.now(UTC).replace(second=0, microsecond=0)
        bucket = int(np.searchsorted(self._edges, latency_ms, side="left"))
        hist = score_histogram(scores) if scores is not None and len(scores) else None
        with self._lock:
            counter = self._counters.get((model, version, endpoint, minute))
            if counter is None:
                counter = self._counters[(model, version, endpoint, minute)] = _Counter()
            counter.requests += 1
            counter.errors += int(error)
            counter.latency_ms_sum += latency_ms
            counter.latency_counts[bucket] += 1
            if hist is not None:
                counter.score_counts += hist
        self._after_record()

    def should_log(self) -> bool:
        rate = min(settings.STEWARD_PREDICTION_LOG_PER_MILLE, 1000)
        return rate > 0 and random.random() * 1000 < rate

    def log_prediction(self, **fields: Any) -> None:
        from serving.models import PredictionLog

        entry = PredictionLog(**fields)
        with self._lock:
            self._logs.append(entry)
        self._after_record()

    def _after_record(self) -> None:
        if not getattr(settings, "STEWARD_SERVING_BACKGROUND_WRITES", True):
            return
        pid = os.getpid()
        if self._pid != pid:  # first use in this process (gunicorn forks after import)
            with self._lock:
                if self._pid != pid:
                    self._pid = pid
                    self._thread = threading.Thread(target=self._loop, name="serving-stats", daemon=True)
                    self._thread.start()
                    atexit.register(self.flush)

    def _loop(self) -> None:
        from django.db import connection

        while True:
            time.sleep(settings.STEWARD_SERVING_STATS_FLUSH_S)
            try:
                self.flush()
            except Exception:  # keep counting; the next flush retries with whatever is new
                log.exception("serving: writing traffic counters failed")
            finally:
                connection.close()

    def flush(self) -> int:
        """Write what was counted since the last flush; returns the number of rows written."""
        from serving.models import ServingStat

        with self._lock:
            counters, self._counters = self._counters, {}
            logs, self._logs = self._logs, []
        pid = os.getpid()
        rows = [
            ServingStat(
                model_name=model,
                version=version,
                endpoint=endpoint,
                minute=minute,
                requests=c.requests,
                errors=c.errors,
                latency_ms_sum=c.latency_ms_sum,
                latency_counts=c.latency_counts.tolist(),
                score_counts=c.score_counts.tolist(),
                pid=pid,
            )
            for (model, version, endpoint, minute), c in counters.items()
        ]
        if rows:
            ServingStat.objects.bulk_create(rows)
        if logs:
            type(logs[0]).objects.bulk_create(logs)
        return len(rows) + len(logs)

    def reset(self) -> None:
        with self._lock:
            self._counters.clear()
            self._logs.clear()


recorder = Recorder()

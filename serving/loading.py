"""Loading one model version for serving: the artifact's predictor, the fast scorer, and the files
serving keeps beside it (DATA_DIR/serving/versions/<id>/): the user feature table and the test
split's score distribution, the reference for drift (PSI) on the monitoring page."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from django.conf import settings

from core.errors import ServiceError
from serving.cache import VersionRef
from serving.encoding import value_key
from serving.prepare import USERS_FILE, ensure_user_table
from serving.registry import artifact_dir
from serving.scorer import Scorer
from serving.stats import score_histogram

log = logging.getLogger(__name__)

# Names under which a test split's predictions may sit in the artifact (written at training) or
# in serving's own directory for the version (written by the reference job).
REFERENCE_FILES = ("test_predictions.npy", "reference_scores.npy")

_threads_lock = threading.Lock()
_threads_set = False


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

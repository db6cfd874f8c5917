"""A model version on disk, complete enough to load back with no database.

Layout of an artifact directory:
    manifest.json              format, version, file list
    encoder/  tokenizer/       the fine-tuned encoder and its tokenizer (save_pretrained)
    head.pt                    state dict of everything but the encoder
    head_config.json           the head's shape (vocabulary sizes, widths, dropout)
    feature_spec.json          columns by role, vocabularies (id 0 = unknown), numeric scalers
    metrics.json               test and valid metrics, AUC per segment
    history.json               loss and validation-AUC curves
    config.json                the run config (`run_config`: training params, base model path,
                               head shape, item columns, device, steps, timings, library and
                               code versions) plus what the caller adds (a job's split, ids)
    items.parquet              (with an item column) item id -> item-level feature values
    item_text_embeddings.npy   (with item-level text) pooled embeddings, rows as in items.parquet
    wide.json                  (with a wide part) its features: text columns, crosses, buckets,
                               which are item-side; the weights are in head.pt ("wide.weight")
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch

from training.ml.train import TrainResult

FORMAT = "steward-ctr"
FORMAT_VERSION = 1
_MAX_CACHED_ITEM_EMBEDDING_BYTES = 1 << 30


def save_artifact(
    result: TrainResult,
    path: str | os.PathLike,
    *,
    extra_config: dict[str, Any] | None = None,
    code_version: str | None = None,
) -> Path:
    """Write the artifact into `path` (which must not exist yet) in one rename, so readers never
    see a half-written version."""
    final = Path(path)
    if final.exists():
        raise FileExistsError(f"artifact directory {final} already exists")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.tmp-"))
    try:
        _write(result, tmp, extra_config or {}, code_version)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _write(result: TrainResult, out: Path, extra_config: dict[str, Any], code_version: str | None) -> None:
    model = result.model
    files = ["head.pt", "head_config.json", "feature_spec.json", "metrics.json", "history.json", "config.json"]
    if model.encoder is not None:
        model.encoder.save_pretrained(out / "encoder")
        result.tokenizer.save_pretrained(out / "tokenizer")
        files += ["encoder/", "tokenizer/"]
    head_state = {k: v.detach().to("cpu") for k, v in model.head_state_dict().items()}
    torch.save(head_state, out / "head.pt")
    _dump(out / "head_config.json", result.head_config.to_dict())
    _dump(out / "feature_spec.json", result.spec.to_dict())
    _dump(
        out / "metrics.json",
        {"test": result.metrics, "valid": result.valid_metrics, "segment_auc": result.segment_auc},
    )
    _dump(out / "history.json", result.history)
    if result.wide_spec is not None:
        _dump(out / "wide.json", result.wide_spec.to_dict())
        files.append("wide.json")
    if result.neighbours is not None:
        result.neighbours.save(out / "neighbours.npz")
        files.append("neighbours.npz")
    config = {
        **run_config(result, code_version=code_version),
        "created_at": datetime.now(UTC).isoformat(),
        **extra_config,
    }
    _dump(out / "config.json", config)

    if result.item_table is not None:
        pq.write_table(result.item_table, out / "items.parquet")
        files.append("items.parquet")
        from training.ml.predictor import Predictor

        # Item text embeddings from the final encoder, once per version, so serving never runs
        # the encoder for known items.
        predictor = Predictor.from_training(result)
        embeddings = predictor.compute_item_text_embeddings()
        if embeddings is not None and embeddings.nbytes <= _MAX_CACHED_ITEM_EMBEDDING_BYTES:
            np.save(out / "item_text_embeddings.npy", embeddings)
            files.append("item_text_embeddings.npy")
    _dump(
        out / "manifest.json",
        {"format": FORMAT, "format_version": FORMAT_VERSION, "files": sorted(files)},
    )


def load_artifact(path: str | os.PathLike, *, device: str | None = None):
    """A `Predictor` from an artifact directory alone (no database, no network)."""
    from training.ml.predictor import Predictor

    return Predictor.load(Path(path), device=device)


def run_config(result: TrainResult, *, code_version: str | None = None) -> dict[str, Any]:
    """How a model was trained, as the artifact's config.json (and so the registry) records it."""
    return {
        "params": result.params.to_dict(),
        "base_model_path": result.base_model,
        "head": result.head_config.to_dict(),
        "item_columns": result.item_columns,
        "device": result.device,
        "steps": result.steps,
        "best_step": result.best_step,
        "stopped_early": result.stopped_early,
        "resumed_from_step": result.resumed_from_step,
        "linear_blend": result.linear_blend,
        "refit": result.refit,
        "neighbours": result.neighbours_info,
        "timings": result.timings,
        "versions": library_versions(),
        "code_version": code_version or training_code_version(),
    }


def read_config(path: Path) -> dict[str, Any]:
    """The config.json of an artifact directory."""
    return json.loads((path / "config.json").read_text())


def read_manifest(path: Path) -> dict[str, Any]:
    manifest_file = path / "manifest.json"
    if not manifest_file.is_file():
        raise FileNotFoundError(f"{path} is not a model artifact (no manifest.json)")
    manifest = json.loads(manifest_file.read_text())
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported artifact format {manifest.get('format')!r}")
    return manifest


def library_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("torch", "transformers", "tokenizers", "numpy", "pyarrow", "scikit-learn"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    out["cuda"] = torch.version.cuda
    return out


def training_code_version() -> str:
    """The git commit when available, plus a hash of training/ml's sources (always available)."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for src in sorted(here.glob("*.py")):
        h.update(src.name.encode())
        h.update(src.read_bytes())
    version = f"training.ml:{h.hexdigest()[:16]}"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        if commit:
            version = f"git:{commit} {version}"
    except (OSError, subprocess.SubprocessError):
        pass
    return version


def _dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")

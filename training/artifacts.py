"""Model artifact directories in Steward's storage.

On local disk (the default) an artifact is a directory under MEDIA_ROOT and is moved there in one
rename. With remote storage (S3) each file is uploaded under the artifact's prefix, and a reader
gets a local copy in DATA_DIR/cache/artifacts, downloaded once (the artifact never changes).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from core.storage import download_to


def _local_root() -> Path | None:
    try:
        return Path(default_storage.path(""))
    except NotImplementedError:
        return None


def artifact_store(local_dir: Path, name: str) -> str:
    """Move (local disk) or upload (remote) the directory `local_dir`; returns the stored name."""
    root = _local_root()
    if root is not None:
        target = root / name
        if target.exists():
            raise FileExistsError(f"artifact {name} already exists")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(local_dir), target)
        return name
    for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(local_dir).as_posix()
        with path.open("rb") as fh:
            default_storage.save(f"{name}/{rel}", File(fh, name=path.name))
    shutil.rmtree(local_dir, ignore_errors=True)
    return name


def artifact_delete(name: str) -> None:
    root = _local_root()
    if root is not None:
        shutil.rmtree(root / name, ignore_errors=True)
        return
    _delete_remote(name)


def _delete_remote(prefix: str) -> None:
    dirs, files = default_storage.listdir(prefix)
    for f in files:
        default_storage.delete(f"{prefix}/{f}")
    for d in dirs:
        _delete_remote(f"{prefix}/{d}")


def artifact_local_path(name: str) -> Path:
    root = _local_root()
    if root is not None:
        return root / name
    cache = Path(settings.DATA_DIR) / "cache" / "artifacts" / name
    if cache.is_dir():
        return cache
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cache.parent, prefix=".download-"))
    try:
        _download(name, tmp)
        os.replace(tmp, cache)  # concurrent readers either see the whole copy or none
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not cache.is_dir():
            raise
    return cache


def _download(prefix: str, target: Path) -> None:
    dirs, files = default_storage.listdir(prefix)
    target.mkdir(parents=True, exist_ok=True)
    for f in files:
        download_to(f"{prefix}/{f}", target / f)  # in chunks, never whole in memory
    for d in dirs:
        _download(f"{prefix}/{d}", target / d)

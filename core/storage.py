"""File storage behind Django's storage API: local disk by default, S3-compatible with STEWARD_STORAGE=s3.

pyarrow needs a local path; `local_path` gives one (the file itself on disk, or a temporary download).
On S3 large objects stream both ways: uploads go up in multipart parts (boto3's transfer manager, 8 MiB parts),
downloads are written to disk part by part with ranged GETs, never held in memory whole.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage


def store_file(name: str, local: Path) -> str:
    """Copy a local file into storage under `name` (a unique name is chosen if taken); returns the stored name."""
    try:
        default_storage.path(name)
    except NotImplementedError:
        with local.open("rb") as fh:
            return default_storage.save(name, File(fh, name=Path(name).name))
    # On local disk a rename beats a copy for multi-GB files; the source lies on the same volume (var/tmp).
    stored = default_storage.get_available_name(name)
    target = Path(default_storage.path(stored))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(local), target)
    return stored


def delete_file(name: str) -> None:
    if name and default_storage.exists(name):
        default_storage.delete(name)


@contextlib.contextmanager
def local_path(name: str) -> Iterator[Path]:
    try:
        on_disk: Path | None = Path(default_storage.path(name))
    except NotImplementedError:
        on_disk = None
    if on_disk is not None:
        yield on_disk
        return
    with tempfile.TemporaryDirectory(dir=scratch_dir()) as tmp:
        target = Path(tmp) / Path(name).name
        download_to(name, target)
        yield target


def download_to(name: str, target: Path) -> None:
    """Copy the stored file `name` to the local file `target` in chunks (ranged GETs on S3)."""
    with target.open("wb") as dst:
        bucket = getattr(default_storage, "bucket", None)
        if bucket is not None:  # django-storages' S3Storage: boto3 writes the parts straight into the file
            from storages.utils import clean_name

            key = default_storage._normalize_name(clean_name(name))
            bucket.Object(key).download_fileobj(dst, Config=default_storage.transfer_config)
            return
        with default_storage.open(name, "rb") as src:
            shutil.copyfileobj(src, dst, 1024 * 1024)


class _RangedS3Reader(io.RawIOBase):
    """A seekable read-only view of one S3 object: each read is a ranged GET of just the bytes asked for, so
    pyarrow reads a Parquet footer or a few row groups without fetching the whole object."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj
        self._size = obj.content_length
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        body = self._obj.get(Range=f"bytes={self._pos}-{self._pos + want - 1}")["Body"]
        data = body.read()
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


def open_stored(name: str, buffer_size: int = 1024 * 1024) -> IO[bytes]:
    """The stored file `name` opened for reading, seekable: the file itself on disk, ranged GETs on S3 (only the
    bytes read are fetched; Django's S3File would download the whole object first)."""
    bucket = getattr(default_storage, "bucket", None)
    if bucket is None:
        return default_storage.open(name, "rb")
    from storages.utils import clean_name

    obj = bucket.Object(default_storage._normalize_name(clean_name(name)))
    return io.BufferedReader(_RangedS3Reader(obj), buffer_size=buffer_size)


def scratch_dir() -> Path:
    path = Path(settings.FILE_UPLOAD_TEMP_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path

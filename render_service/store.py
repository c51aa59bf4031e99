"""Where reel files live: one small interface, the local-disk default and an
S3-compatible object store (``REEL_BLOB_URL=s3://bucket/prefix``).

Object names are made by the service (``<key>.mp4``, ``.json``, ``.jpg``) and kept in
the ledger or job row; nothing a caller sends is ever joined into a path. The names
are the same on both backends: a file under the reel directory, or the object
``<prefix>/<name>`` in the bucket.
"""

from __future__ import annotations

import errno
import io
import mimetypes
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast
from urllib.parse import urlsplit

import boto3
import structlog
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

log = structlog.get_logger("store")

TMP_SUFFIX = ".tmp"


@dataclass(frozen=True)
class StoredObject:
    name: str
    size: int
    mtime: float  # seconds since the epoch

    @property
    def age_s(self) -> float:
        return max(0.0, time.time() - self.mtime)


class ReelStore(Protocol):
    def staging_path(self, name: str) -> Path:
        """A local path to write `name` to before `publish` (``*.tmp``)."""

    def publish(self, name: str, staged: Path) -> StoredObject:
        """Atomically make the staged file visible as `name`."""

    def open(self, name: str) -> BinaryIO:
        """Open for reading; raises FileNotFoundError. The open handle keeps reading
        even when the object is deleted meanwhile."""

    def read_range(self, name: str, offset: int, length: int, chunk: int) -> Iterator[bytes]:
        """Yield `length` bytes from `offset` (or to the end when length < 0)."""

    def stat(self, name: str) -> StoredObject | None: ...

    def delete(self, name: str) -> bool: ...

    def list(self) -> Iterator[StoredObject]:
        """Every object, temporaries included."""

    def free_bytes(self) -> int | None:
        """Free space where new reels go; None when unknown (object stores)."""


class LocalStore:
    """Reel files in one directory; publish is an `os.replace` of a finished file."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        return self.root / _check_name(name)

    def staging_path(self, name: str) -> Path:
        return self._path(name + TMP_SUFFIX)

    def publish(self, name: str, staged: Path) -> StoredObject:
        target = self._path(name)
        with open(staged, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(staged, target)
        _fsync_dir(self.root)
        st = target.stat()
        return StoredObject(name, st.st_size, st.st_mtime)

    def open(self, name: str) -> BinaryIO:
        return open(self._path(name), "rb")

    def read_range(self, name: str, offset: int, length: int, chunk: int) -> Iterator[bytes]:
        return _read_range(self.open(name), offset, length, chunk)

    def stat(self, name: str) -> StoredObject | None:
        try:
            st = self._path(name).stat()
        except (FileNotFoundError, ValueError):
            return None
        return StoredObject(name, st.st_size, st.st_mtime)

    def delete(self, name: str) -> bool:
        try:
            self._path(name).unlink()
            return True
        except FileNotFoundError:
            return False

    def list(self) -> Iterator[StoredObject]:
        with os.scandir(self.root) as it:
            for entry in it:
                if entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    yield StoredObject(entry.name, st.st_size, st.st_mtime)

    def free_bytes(self) -> int | None:
        st = os.statvfs(self.root)
        return st.f_bavail * st.f_frsize


def _check_name(name: str) -> str:
    # Names are service-made, but a bad one must never escape the root or prefix.
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"bad object name {name!r}")
    return name


def _read_range(fh: BinaryIO, offset: int, length: int, chunk: int) -> Iterator[bytes]:
    with fh:
        fh.seek(offset)
        remaining = length
        while remaining != 0:
            data = fh.read(chunk if remaining < 0 else min(chunk, remaining))
            if not data:
                return
            if remaining > 0:
                remaining -= len(data)
            yield data


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_store(blob_url: str, default_root: Path) -> ReelStore:
    """`REEL_BLOB_URL`: empty or ``file:///path`` for local disk."""
    if not blob_url:
        return LocalStore(default_root)
    if blob_url.startswith("file://"):
        return LocalStore(Path(blob_url[len("file://") :]))
    raise ValueError(f"REEL_BLOB_URL={blob_url!r}: unsupported scheme (use file:// or leave empty)")

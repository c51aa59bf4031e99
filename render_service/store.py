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
        even when the object is deleted meanwhile (on S3: when the bucket is
        versioned; see S3Store)."""

    def stat(self, name: str) -> StoredObject | None: ...

    def delete(self, name: str) -> bool: ...

    def list(self) -> Iterator[StoredObject]:
        """Every object, temporaries included."""

    def presigned_url(self, name: str, expires_s: int, content_type: str) -> str | None:
        """A URL a client can GET the object from for `expires_s` seconds without
        going through the service; None when the store has no such thing (local)."""
        ...

    def free_bytes(self) -> int | None:
        """Free space where new reels are written (for S3: the local staging
        directory); None when unknown."""


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

    def presigned_url(self, name: str, expires_s: int, content_type: str) -> str | None:
        return None


def _check_name(name: str) -> str:
    # Names are service-made, but a bad one must never escape the root or prefix.
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"bad object name {name!r}")
    return name


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- S3-compatible object store ------------------------------------------------

_MISSING_CODES = frozenset({"404", "NoSuchKey", "NoSuchVersion", "NotFound"})
_CHANGED_CODES = frozenset({"412", "PreconditionFailed"})


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _as_oserror(exc: Exception, what: str) -> OSError:
    """S3 failures reach callers as OSError, like disk failures do (retention and
    prune catch OSError per file and go on)."""
    detail = _error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
    return OSError(errno.EIO, f"{what}: {detail}")


class S3Reader(io.RawIOBase):
    """A read-only, seekable view of one S3 object version.

    Nothing is fetched until `read`: each `read(n)` is one ``Range: bytes=pos-(pos+n-1)``
    GET, so memory per reader is one read's worth whatever the object's size, and a
    slow client holds no connection between reads. The object is pinned at open:
    its VersionId when the bucket is versioned (the reader then survives a delete or
    an overwrite), else its ETag through ``If-Match`` (a delete or overwrite then makes
    the next read raise FileNotFoundError; bytes of two versions are never mixed).
    """

    _ATTEMPTS = 3  # a body cut mid-transfer is retried; botocore retries the request

    def __init__(self, client: Any, bucket: str, key: str, size: int, etag: str, version_id: str | None) -> None:
        super().__init__()
        self._client, self._bucket, self._key = client, bucket, key
        self.size, self.etag, self.version_id = size, etag, version_id
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._checkClosed()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._checkClosed()
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence {whence!r}")
        if base + offset < 0:
            raise OSError(errno.EINVAL, "negative seek position")
        self._pos = base + offset
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        self._checkClosed()
        end = self.size if size is None or size < 0 else min(self.size, self._pos + size)
        if end <= self._pos:
            return b""
        data = self._get(self._pos, end - 1)
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _get(self, first: int, last: int) -> bytes:
        args: dict[str, Any] = {"Bucket": self._bucket, "Key": self._key, "Range": f"bytes={first}-{last}"}
        if self.version_id:
            args["VersionId"] = self.version_id
        else:
            args["IfMatch"] = self.etag
        attempt = 1
        while True:
            try:
                body = self._client.get_object(**args)["Body"]
            except ClientError as exc:
                code = _error_code(exc)
                if code in _MISSING_CODES or code in _CHANGED_CODES:
                    raise FileNotFoundError(errno.ENOENT, "object deleted or replaced while open", self._key) from None
                raise _as_oserror(exc, f"s3 read {self._key}") from exc
            except BotoCoreError as exc:  # botocore has retried the request already
                raise _as_oserror(exc, f"s3 read {self._key}") from exc
            try:
                return cast(bytes, body.read())
            except BotoCoreError as exc:  # the body was cut mid-transfer: ask again
                if attempt == self._ATTEMPTS:
                    raise _as_oserror(exc, f"s3 read {self._key}") from exc
                attempt += 1
            finally:
                body.close()


class S3Store:
    """Reel objects under ``<prefix>/`` in one bucket of an S3-compatible store.

    - Rendering needs a local file, so `staging_path` is under a local staging
      directory and `publish` uploads it (multipart above 16 MiB) and then removes it.
      An S3 PUT, multipart included, becomes visible only once complete, so publish
      is atomic as on disk.
    - The staging directory's files (``*.tmp``, crashed-render ``*.part``) are part of
      `list`, `stat` and `delete`, so the cache sweeper cleans them on this backend
      too. Each replica has its own staging directory; its cruft goes when a
      retention pass runs there.
    - `free_bytes` is the staging directory's free space: rendering fills local disk
      before anything is uploaded, and that is what ``REEL_MIN_FREE_DISK_MB`` guards.
    - A stream opened before a delete finishes when the bucket is versioned (the
      reader is pinned to the version; give the bucket a lifecycle rule that expires
      noncurrent versions). On an unversioned bucket it ends with FileNotFoundError
      at its next read after the delete; `versioned` says which case applies.
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str,
        staging_dir: Path,
        transfer: TransferConfig | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.staging_dir = Path(staging_dir)
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        self.transfer = transfer or TransferConfig(
            multipart_threshold=16 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024, max_concurrency=4
        )
        self.versioned = False

    @classmethod
    def connect(cls, blob_url: str, endpoint_url: str, staging_dir: Path, max_pool_connections: int = 32) -> S3Store:
        """Check that ``s3://bucket/prefix`` is reachable and exists; ValueError (one
        line naming REEL_BLOB_URL) otherwise. Credentials and region come from the
        standard AWS variables and files."""
        parts = urlsplit(blob_url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"REEL_BLOB_URL={blob_url!r}: expected s3://bucket/prefix")
        config = Config(
            max_pool_connections=max_pool_connections,
            retries={"mode": "standard", "max_attempts": 5},
            connect_timeout=5,
            read_timeout=60,
            # MinIO, moto and most S3-compatible servers want path-style requests.
            s3={"addressing_style": "path"} if endpoint_url else None,
        )
        client = boto3.client("s3", endpoint_url=endpoint_url or None, config=config)
        store = cls(client, parts.netloc, parts.path, staging_dir)
        where = endpoint_url or "the default AWS endpoint"
        try:
            client.head_bucket(Bucket=store.bucket)
        except ClientError as exc:
            code = _error_code(exc)
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise ValueError(
                    f"REEL_BLOB_URL={blob_url!r}: bucket {store.bucket!r} does not exist at {where}"
                ) from None
            if code in ("403", "AccessDenied"):
                raise ValueError(
                    f"REEL_BLOB_URL={blob_url!r}: access to bucket {store.bucket!r} denied"
                    " (check the AWS_* credentials)"
                ) from None
            raise ValueError(f"REEL_BLOB_URL={blob_url!r}: bucket check failed at {where} ({code})") from None
        except NoCredentialsError:
            raise ValueError(
                f"REEL_BLOB_URL={blob_url!r}: no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
            ) from None
        except BotoCoreError as exc:
            raise ValueError(f"REEL_BLOB_URL={blob_url!r}: cannot reach {where} ({type(exc).__name__})") from None
        try:
            status = client.get_bucket_versioning(Bucket=store.bucket).get("Status", "")
            store.versioned = status == "Enabled"
        except (ClientError, BotoCoreError):
            status = "unknown"
        if not store.versioned:
            log.warning(
                "reel bucket is not versioned: a stream cut by a delete ends early",
                bucket=store.bucket,
                versioning=status or "off",
            )
        return store

    def _key(self, name: str) -> str:
        return self.prefix + _check_name(name)

    def _staged(self, name: str) -> Path | None:
        """The local staging file behind `name`, when there is one."""
        path = self.staging_dir / _check_name(name)
        return path if path.is_file() else None

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return cast(dict[str, Any], self.client.head_object(Bucket=self.bucket, Key=key))
        except ClientError as exc:
            if _error_code(exc) in _MISSING_CODES:
                return None
            raise _as_oserror(exc, f"s3 head {key}") from exc
        except BotoCoreError as exc:
            raise _as_oserror(exc, f"s3 head {key}") from exc

    def staging_path(self, name: str) -> Path:
        return self.staging_dir / (_check_name(name) + TMP_SUFFIX)

    def publish(self, name: str, staged: Path) -> StoredObject:
        key = self._key(name)
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        try:
            self.client.upload_file(
                str(staged), self.bucket, key, ExtraArgs={"ContentType": content_type}, Config=self.transfer
            )
        except (ClientError, BotoCoreError) as exc:
            raise _as_oserror(exc, f"s3 upload {key}") from exc
        Path(staged).unlink()
        head = self._head(key)
        if head is None:
            raise FileNotFoundError(errno.ENOENT, "object missing right after upload", key)
        return StoredObject(name, int(head["ContentLength"]), head["LastModified"].timestamp())

    def open(self, name: str) -> BinaryIO:
        key = self._key(name)
        head = self._head(key)
        if head is None:
            raise FileNotFoundError(errno.ENOENT, "no such object", key)
        version = head.get("VersionId")
        reader = S3Reader(
            self.client,
            self.bucket,
            key,
            int(head["ContentLength"]),
            head["ETag"],
            version if version and version != "null" else None,
        )
        return cast(BinaryIO, reader)

    def stat(self, name: str) -> StoredObject | None:
        try:
            staged = self._staged(name)
        except ValueError:
            return None
        if staged is not None:
            st = staged.stat()
            return StoredObject(name, st.st_size, st.st_mtime)
        head = self._head(self._key(name))
        if head is None:
            return None
        return StoredObject(name, int(head["ContentLength"]), head["LastModified"].timestamp())

    def delete(self, name: str) -> bool:
        staged = self._staged(name)
        if staged is not None:
            staged.unlink(missing_ok=True)
            return True
        key = self._key(name)
        # HEAD first: the answer says whether it existed, and a versioned bucket
        # gets no delete marker for an object that was never there.
        if self._head(key) is None:
            return False
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise _as_oserror(exc, f"s3 delete {key}") from exc
        return True

    def list(self) -> Iterator[StoredObject]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        try:
            for page in pages:
                for item in page.get("Contents", ()):
                    name = item["Key"][len(self.prefix) :]
                    if name and "/" not in name:
                        yield StoredObject(name, int(item["Size"]), item["LastModified"].timestamp())
        except (ClientError, BotoCoreError) as exc:
            raise _as_oserror(exc, f"s3 list {self.prefix or '/'}") from exc
        with os.scandir(self.staging_dir) as it:
            for entry in it:
                if entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    yield StoredObject(entry.name, st.st_size, st.st_mtime)

    def free_bytes(self) -> int | None:
        st = os.statvfs(self.staging_dir)
        return st.f_bavail * st.f_frsize

    def presigned_url(self, name: str, expires_s: int, content_type: str) -> str | None:
        """A presigned GET of the object (computed locally by botocore, no request:
        about 0.1-0.3 ms), valid `expires_s` seconds; the response carries
        `content_type`. Its scheme is the endpoint's (https on AWS)."""
        return cast(
            str,
            self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self._key(name), "ResponseContentType": content_type},
                ExpiresIn=expires_s,
            ),
        )


def open_store(
    blob_url: str, default_root: Path, s3_endpoint_url: str = "", staging_dir: Path | None = None
) -> ReelStore:
    """`REEL_BLOB_URL`: empty or ``file:///path`` for local disk, ``s3://bucket/prefix``
    for an S3-compatible store at `s3_endpoint_url` (empty: AWS). S3 renders are
    staged in `staging_dir` (default: ``staging`` beside `default_root`). Raises
    ValueError, naming REEL_BLOB_URL, for an unusable URL or a missing bucket."""
    if not blob_url:
        return LocalStore(default_root)
    if blob_url.startswith("file://"):
        return LocalStore(Path(blob_url[len("file://") :]))
    if blob_url.startswith("s3://"):
        staging = staging_dir if staging_dir is not None else Path(default_root).parent / "staging"
        return S3Store.connect(blob_url, s3_endpoint_url, staging)
    raise ValueError(f"REEL_BLOB_URL={blob_url!r}: unsupported scheme (use file://, s3:// or leave empty)")

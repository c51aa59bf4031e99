"""The store contract runs on every backend: local disk and S3 (moto on loopback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from render_service.store import LocalStore, ReelStore, S3Store, StoredObject, open_store
from tests.s3_fixtures import s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures, used by name)


def make_store(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> ReelStore:
    """`backend`: local, s3 (unversioned bucket) or s3-versioned."""
    if backend == "local":
        return LocalStore(tmp_path / "reels")
    bucket = request.getfixturevalue("s3_bucket")
    if backend == "s3-versioned":
        bucket.enable_versioning()
    store = open_store(bucket.url(), tmp_path / "reels", bucket.endpoint_url, tmp_path / "staging")
    assert isinstance(store, S3Store) and store.versioned == (backend == "s3-versioned")
    return store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ReelStore:
    return make_store(request, tmp_path, request.param)


def put(store: ReelStore, name: str, data: bytes) -> StoredObject:
    staged = store.staging_path(name)
    staged.write_bytes(data)
    return store.publish(name, staged)

"""What is particular to the S3 backend: choosing it from REEL_BLOB_URL, where its
objects go, and prune and the sweeper running on it."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from ledger import libraries as library_dao
from ledger import reels as reel_dao
from ledger.db import make_engine, migrate, session_scope
from render_service.loops.pregen import prune_scope
from render_service.loops.retention import RetentionPolicy, run_retention
from render_service.pipeline import PipelineDeps
from render_service.store import LocalStore, S3Store, open_store
from tests.store.conftest import put


def test_open_store_picks_the_backend_from_the_url(tmp_path, s3_bucket):
    assert isinstance(open_store("", tmp_path / "reels"), LocalStore)
    other = open_store(f"file://{tmp_path / 'elsewhere'}", tmp_path / "reels")
    assert isinstance(other, LocalStore) and other.root == tmp_path / "elsewhere"

    s3 = open_store(s3_bucket.url("a/b/"), tmp_path / "var" / "reels", s3_bucket.endpoint_url)

    assert isinstance(s3, S3Store)
    assert (s3.bucket, s3.prefix) == (s3_bucket.name, "a/b/")
    assert s3.staging_dir == tmp_path / "var" / "staging" and s3.staging_dir.is_dir()


@pytest.mark.parametrize("url", ["s3://", "s3:///reels", "ftp://host/x", "reels"])
def test_a_bad_blob_url_fails_at_start(tmp_path, url):
    with pytest.raises(ValueError, match="REEL_BLOB_URL"):
        open_store(url, tmp_path / "reels")


def test_a_missing_bucket_fails_at_start_with_one_line(tmp_path, s3_bucket):
    with pytest.raises(ValueError) as info:
        open_store("s3://no-such-reels/x", tmp_path / "reels", s3_bucket.endpoint_url)

    message = str(info.value)
    assert "REEL_BLOB_URL" in message and "'no-such-reels' does not exist" in message
    assert "\n" not in message
    assert not s3_bucket.client.list_buckets()["Buckets"][1:]  # nothing was created


def test_objects_are_named_as_on_disk_under_the_prefix(tmp_path, s3_bucket):
    store = open_store(s3_bucket.url("reels"), tmp_path / "reels", s3_bucket.endpoint_url, tmp_path / "staging")
    put(store, "k.mp4", b"video")
    put(store, "k.jpg", b"poster")
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key="reels/nested/x.mp4", Body=b"not ours")
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key="elsewhere.mp4", Body=b"not ours")

    assert sorted(s3_bucket.keys()) == ["elsewhere.mp4", "reels/k.jpg", "reels/k.mp4", "reels/nested/x.mp4"]
    head = s3_bucket.client.head_object(Bucket=s3_bucket.name, Key="reels/k.mp4")
    assert head["ContentType"] == "video/mp4"
    assert sorted(o.name for o in store.list()) == ["k.jpg", "k.mp4"]
    assert os.listdir(tmp_path / "staging") == []


def test_a_bucket_without_prefix(tmp_path, s3_bucket):
    store = open_store(s3_bucket.url(""), tmp_path / "reels", s3_bucket.endpoint_url)
    put(store, "k.json", b"{}")
    assert s3_bucket.keys() == ["k.json"]
    assert [o.name for o in store.list()] == ["k.json"]


def _deps(tmp_path, store) -> PipelineDeps:
    engine = make_engine(None, tmp_path / "db")
    migrate(engine)
    return PipelineDeps(
        engine=engine,
        store=store,
        scripter=None,  # type: ignore[arg-type]  # these tests render nothing
        libraries={},
        keep_per_scope=2,
    )


def test_prune_superseded_deletes_the_old_reels_objects(tmp_path, s3_bucket):
    store = open_store(s3_bucket.url(), tmp_path / "reels", s3_bucket.endpoint_url, tmp_path / "staging")
    deps = _deps(tmp_path, store)

    with session_scope(deps.engine) as session:
        library_dao.upsert_library(session, "home", str(tmp_path), "UTC")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for day in (1, 2, 3):
        key = f"home-day-recap-2026010{day}"
        for ext in ("mp4", "json", "jpg"):
            put(store, f"{key}.{ext}", f"{key}.{ext}".encode())
        with session_scope(deps.engine) as session:
            reel_dao.record_reel(
                session,
                key=key,
                library_key="home",
                span="DAY",
                kind="RECAP",
                anchor_date=dt.date(2026, 1, day),
                window_start=start,
                window_end=start,
                valid_until=start + dt.timedelta(days=60),
                video_path=f"{key}.mp4",
                sidecar_path=f"{key}.json",
                poster_path=f"{key}.jpg",
            )

    removed = prune_scope(deps, "home", "DAY", "RECAP")

    assert [r["key"] for r in removed] == ["home-day-recap-20260101"]
    assert removed[0]["files"] == {
        f"home-day-recap-20260101.{e}": len(f"home-day-recap-20260101.{e}") for e in ("mp4", "json", "jpg")
    }
    assert sorted(s3_bucket.keys()) == sorted(
        f"reels/home-day-recap-2026010{d}.{e}" for d in (2, 3) for e in ("mp4", "json", "jpg")
    )


def test_the_sweeper_cleans_the_bucket_and_the_local_staging_dir(tmp_path, s3_bucket):
    store = open_store(s3_bucket.url(), tmp_path / "reels", s3_bucket.endpoint_url, tmp_path / "staging")
    assert isinstance(store, S3Store)
    deps = _deps(tmp_path, store)
    cached, crashed = "home-day-recap-20260101-0000000a", "home-day-recap-20260101-0000000b"
    for ext in ("mp4", "json", "jpg"):
        put(store, f"{cached}.{ext}", b"x" * 10)
    put(store, "someone-elses.mp4", b"not ours")  # a shared prefix: never swept
    store.staging_path(f"{crashed}.mp4").write_bytes(b"half a video")
    store.staging_path(f"{crashed}.jpg").with_name(f"{crashed}.jpg.tmp.part").write_bytes(b"half a poster")

    keep_all = RetentionPolicy(cache_max_age_s=86400, tmp_grace_s=3600, job_retention_s=86400)
    _, plan = run_retention(deps, keep_all, dry_run=False)
    assert plan == []

    sweep_all = RetentionPolicy(cache_max_age_s=-1, tmp_grace_s=-1, job_retention_s=86400)
    result, plan = run_retention(deps, sweep_all, dry_run=False)

    assert sorted((d.path, d.reason) for d in plan) == [
        (f"{cached}.jpg", "CACHE_EXPIRED"),
        (f"{cached}.json", "CACHE_EXPIRED"),
        (f"{cached}.mp4", "CACHE_EXPIRED"),
        (f"{crashed}.jpg.tmp.part", "TMP_CRUFT"),
        (f"{crashed}.mp4.tmp", "TMP_CRUFT"),
    ]
    assert result.errors == []
    assert s3_bucket.keys() == ["reels/someone-elses.mp4"]
    assert os.listdir(store.staging_dir) == []

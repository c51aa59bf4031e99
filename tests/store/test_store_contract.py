"""One contract, every backend: what the pipeline, streaming, prune and the sweeper
rely on from a ReelStore."""

from __future__ import annotations

import hashlib
import io
import os
import time
import tracemalloc

import pytest

from render_service.catalog import StreamTarget
from render_service.store import TMP_SUFFIX, ReelStore
from render_service.streaming import stream_chunks
from tests.store.conftest import make_store, put

SIZE = 300_007  # several reads of each chunk size below, and an odd tail
DATA = os.urandom(SIZE)
MiB = 1024 * 1024


def test_publish_is_atomic_and_removes_the_staged_file(store: ReelStore):
    staged = store.staging_path("k1.mp4")
    assert staged.name == "k1.mp4" + TMP_SUFFIX
    staged.write_bytes(DATA[:1000])
    # Fully written but not published: no reader can see it under its name.
    assert store.stat("k1.mp4") is None
    with pytest.raises(FileNotFoundError):
        store.open("k1.mp4")
    assert "k1.mp4" not in {o.name for o in store.list()}

    before = time.time()
    obj = store.publish("k1.mp4", staged)

    assert (obj.name, obj.size) == ("k1.mp4", 1000)
    assert before - 2 <= obj.mtime <= time.time() + 2  # S3 times are whole seconds
    assert not staged.exists()
    assert store.stat("k1.mp4") == obj
    with store.open("k1.mp4") as fh:
        assert fh.read() == DATA[:1000]
    names = {o.name for o in store.list()}
    assert "k1.mp4" in names and "k1.mp4" + TMP_SUFFIX not in names


def test_open_seek_read_returns_exact_bytes(store: ReelStore):
    put(store, "o.mp4", DATA)
    with store.open("o.mp4") as fh:
        for offset, n in [(0, 1), (17, 4096), (200_000, 100_007), (SIZE - 3, 10), (SIZE, 5), (SIZE + 100, 5)]:
            assert fh.seek(offset) == offset
            assert fh.read(n) == DATA[offset : offset + n]
        fh.seek(1000)
        assert fh.read(10) == DATA[1000:1010]
        assert fh.tell() == 1010
        fh.seek(-7, io.SEEK_END)
        assert fh.read() == DATA[-7:]
        fh.seek(10)
        fh.seek(5, io.SEEK_CUR)
        assert fh.read(3) == DATA[15:18]
        with pytest.raises(OSError):
            fh.seek(-1)
        fh.seek(299_000)
        assert fh.read() == DATA[299_000:]
        assert fh.read(10) == b""


def test_an_empty_object_reads_as_empty(store: ReelStore):
    put(store, "e.json", b"")
    stat = store.stat("e.json")
    assert stat is not None and stat.size == 0
    with store.open("e.json") as fh:
        assert fh.read() == b"" and fh.read(10) == b""


def test_missing_objects(store: ReelStore):
    with pytest.raises(FileNotFoundError):
        store.open("nope.mp4")
    assert store.stat("nope.mp4") is None
    assert store.delete("nope.mp4") is False


def test_stat_and_delete(store: ReelStore):
    put(store, "d.mp4", DATA[:4321])
    put(store, "d.json", b"{}")

    stat = store.stat("d.mp4")
    assert stat is not None and stat.size == 4321
    assert store.delete("d.mp4") is True

    assert store.stat("d.mp4") is None
    with pytest.raises(FileNotFoundError):
        store.open("d.mp4")
    assert store.delete("d.mp4") is False
    assert [o.name for o in store.list()] == ["d.json"]


def test_list_has_objects_and_staged_temporaries_with_their_ages(store: ReelStore):
    put(store, "a.mp4", DATA[:10])
    put(store, "a.jpg", DATA[:20])
    store.staging_path("b.mp4").write_bytes(DATA[:30])  # a render that never finished
    part = store.staging_path("b.jpg").with_name("b.jpg.tmp.part")  # a crashed poster write
    part.write_bytes(DATA[:5])
    old = time.time() - 3 * 86400
    os.utime(store.staging_path("b.mp4"), (old, old))

    listed = {o.name: o for o in store.list()}

    assert {n: o.size for n, o in listed.items()} == {"a.mp4": 10, "a.jpg": 20, "b.mp4.tmp": 30, "b.jpg.tmp.part": 5}
    assert listed["a.mp4"].age_s < 60
    assert 3 * 86400 - 60 < listed["b.mp4.tmp"].age_s < 3 * 86400 + 60
    # What list() shows, stat() and delete() reach: that is how the sweeper cleans up.
    assert store.stat("b.mp4.tmp") == listed["b.mp4.tmp"]
    assert store.delete("b.mp4.tmp") and store.delete("b.jpg.tmp.part")
    assert not store.staging_path("b.mp4").exists() and not part.exists()
    assert {o.name for o in store.list()} == {"a.mp4", "a.jpg"}


@pytest.mark.parametrize("name", ["", "../x.mp4", "a/b.mp4", "a\\b.mp4", ".hidden"])
def test_names_that_could_escape_are_refused(store: ReelStore, name):
    with pytest.raises(ValueError):
        store.staging_path(name)
    with pytest.raises(ValueError):
        store.open(name)
    assert store.stat(name) is None


def test_free_bytes_is_the_local_space_renders_need(store: ReelStore):
    free = store.free_bytes()
    st = os.statvfs(store.staging_path("x.mp4").parent)
    assert free is not None and 0 < free <= st.f_blocks * st.f_frsize


def test_stream_chunks_reads_exact_ranges(store: ReelStore):
    put(store, "s.mp4", DATA)
    target = StreamTarget("s.mp4", SIZE, hashlib.sha256(DATA).hexdigest(), "video/mp4")

    for offset, limit in [(0, 0), (1000, 0), (70_000, 123_456), (SIZE - 1, 0), (SIZE, 0)]:
        items = list(stream_chunks(store, target, offset, limit, 65_536))
        end = SIZE if limit == 0 else offset + limit
        assert b"".join(d for d, _, _ in items) == DATA[offset:end]
        assert [o for _, o, _ in items][0] == offset and items[0][2] is True


def test_reading_a_large_object_keeps_memory_flat(store: ReelStore):
    block = os.urandom(MiB)
    staged = store.staging_path("big.mp4")
    digest = hashlib.sha256()
    with open(staged, "wb") as fh:
        for i in range(50):
            piece = i.to_bytes(4, "big") + block[4:]
            fh.write(piece)
            digest.update(piece)
    store.publish("big.mp4", staged)
    del block, piece

    got = hashlib.sha256()
    total = 0
    tracemalloc.start()
    try:
        with store.open("big.mp4") as fh:
            while data := fh.read(512 * 1024):
                got.update(data)
                total += len(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert total == 50 * MiB and got.digest() == digest.digest()
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB while reading 50 MiB"


@pytest.mark.parametrize(
    ("backend", "finishes"),
    [("local", True), ("s3-versioned", True), ("s3", False)],
)
def test_a_stream_opened_before_a_delete(request, tmp_path, backend, finishes):
    """On disk and on a versioned bucket the stream finishes; on an unversioned
    bucket the bytes already read are right and the next read says the object is
    gone (never short or wrong data)."""
    store = make_store(request, tmp_path, backend)
    put(store, "p.mp4", DATA)
    fh = store.open("p.mp4")
    head = fh.read(100_000)

    assert store.delete("p.mp4") is True
    assert store.stat("p.mp4") is None

    with fh:
        if finishes:
            assert head + fh.read() == DATA
        else:
            assert head == DATA[:100_000]
            with pytest.raises(FileNotFoundError):
                fh.read(100_000)


@pytest.mark.parametrize(
    ("backend", "finishes"),
    [("local", True), ("s3-versioned", True), ("s3", False)],
)
def test_a_stream_never_mixes_two_versions(request, tmp_path, backend, finishes):
    store = make_store(request, tmp_path, backend)
    put(store, "v.mp4", DATA)
    fh = store.open("v.mp4")
    head = fh.read(1000)

    put(store, "v.mp4", bytes(reversed(DATA)))  # republished under the same name

    with fh:
        if finishes:
            assert head + fh.read() == DATA
        else:
            with pytest.raises(FileNotFoundError):
                fh.read(1000)
    with store.open("v.mp4") as fresh:
        assert fresh.read(10) == bytes(reversed(DATA))[:10]

"""Libraries and the media index."""

from __future__ import annotations

import datetime as dt

import pytest

from ledger.db import session_scope
from ledger.libraries import (
    IndexChanges,
    count_media,
    get_library,
    list_libraries,
    media_in_range,
    replace_media_index,
    upsert_library,
)
from ledger.models import MAX_SKIPPED_LISTED

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def item(n: int, library: str = "fam", **overrides):
    row = {
        "id": f"{library}-{n}",
        "rel_path": f"2024/img_{n:04d}.jpg",
        "kind": "PHOTO",
        "taken_at_utc": T0 + dt.timedelta(hours=n),
        "size_bytes": 1000 + n,
        "mtime": 1_700_000_000.5 + n,
    }
    row.update(overrides)
    return row


def test_upsert_library_creates_then_updates_only_given_fields(engine):
    with session_scope(engine) as session:
        upsert_library(session, "fam", "/photos", "Europe/Paris", media_count=3)
    with session_scope(engine) as session:
        upsert_library(session, "fam", "/photos2")
    with session_scope(engine) as session:
        library = get_library(session, "fam")
        assert library is not None
        assert (library.root_path, library.timezone, library.media_count) == ("/photos2", "Europe/Paris", 3)


def test_skipped_list_is_capped_but_fully_counted(engine):
    skipped = [{"rel_path": f"bad_{i}.jpg", "reason": "UNREADABLE"} for i in range(MAX_SKIPPED_LISTED + 50)]
    with session_scope(engine) as session:
        upsert_library(session, "fam", "/photos", skipped=skipped)
    with session_scope(engine) as session:
        library = get_library(session, "fam")
        assert library is not None
        assert library.skipped_count == MAX_SKIPPED_LISTED + 50
        assert len(library.skipped_json) == MAX_SKIPPED_LISTED
        assert library.skipped_json[0] == {"rel_path": "bad_0.jpg", "reason": "UNREADABLE"}


def test_list_libraries_is_sorted_by_key(engine):
    with session_scope(engine) as session:
        for key in ("zoo", "alps", "mid"):
            upsert_library(session, key, f"/{key}")
    with session_scope(engine) as session:
        assert [lib.key for lib in list_libraries(session)] == ["alps", "mid", "zoo"]


def test_replace_media_index_inserts_updates_and_deletes(engine):
    with session_scope(engine) as session:
        upsert_library(session, "fam", "/photos")
        first = replace_media_index(session, "fam", [item(n) for n in range(5)])
    assert first == IndexChanges(inserted=5, updated=0, deleted=0, unchanged=0)

    second_scan = [item(0), item(1, size_bytes=42), item(3), item(4), item(9)]
    with session_scope(engine) as session:
        second = replace_media_index(session, "fam", second_scan)
    assert second == IndexChanges(inserted=1, updated=1, deleted=1, unchanged=3)

    with session_scope(engine) as session:
        rows = media_in_range(session, "fam", T0, T0 + dt.timedelta(days=1))
        assert [r.id for r in rows] == ["fam-0", "fam-1", "fam-3", "fam-4", "fam-9"]
        assert rows[1].size_bytes == 42
        library = get_library(session, "fam")
        assert library is not None and library.media_count == 5
        assert count_media(session, "fam") == 5


def test_replace_media_index_handles_moved_files_and_changed_ids(engine):
    with session_scope(engine) as session:
        upsert_library(session, "fam", "/photos")
        replace_media_index(session, "fam", [item(1), item(2)])
    moved = item(1, rel_path="moved/img_0001.jpg")
    new_id = item(2, id="fam-2-edited")
    with session_scope(engine) as session:
        changes = replace_media_index(session, "fam", [moved, new_id])
    assert changes.deleted == 1 and changes.inserted == 1 and changes.updated == 1
    with session_scope(engine) as session:
        rows = {r.id: r.rel_path for r in media_in_range(session, "fam", T0, T0 + dt.timedelta(days=1))}
        assert rows == {"fam-1": "moved/img_0001.jpg", "fam-2-edited": "2024/img_0002.jpg"}


def test_replace_media_index_is_per_library(engine):
    with session_scope(engine) as session:
        upsert_library(session, "fam", "/photos")
        upsert_library(session, "work", "/work")
        replace_media_index(session, "fam", [item(1), item(2)])
        replace_media_index(session, "work", [item(1, library="work")])
        replace_media_index(session, "work", [])
    with session_scope(engine) as session:
        assert count_media(session, "fam") == 2
        assert count_media(session, "work") == 0


def test_replace_media_index_stores_every_field(engine):
    video = item(
        7,
        kind="VIDEO",
        tz_offset_min=120,
        lat=48.85,
        lon=2.35,
        orientation=6,
        width=1920,
        height=1080,
        duration_s=12.5,
        taken_at_utc=dt.datetime(2024, 5, 1, 21, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    )
    with session_scope(engine) as session:
        upsert_library(session, "fam", "/photos")
        replace_media_index(session, "fam", [video])
    with session_scope(engine) as session:
        (row,) = media_in_range(session, "fam", T0, T0 + dt.timedelta(days=1))
        assert row.taken_at_utc == dt.datetime(2024, 5, 1, 19, 0, tzinfo=dt.UTC)
        assert (row.kind, row.tz_offset_min, row.lat, row.lon) == ("VIDEO", 120, 48.85, 2.35)
        assert (row.orientation, row.width, row.height, row.duration_s) == (6, 1920, 1080, 12.5)
        assert row.mtime == 1_700_000_007.5
    with session_scope(engine) as session:
        assert replace_media_index(session, "fam", [video]).unchanged == 1


def test_media_in_range_is_half_open_and_ordered(engine):
    with session_scope(engine) as session:
        upsert_library(session, "fam", "/photos")
        replace_media_index(session, "fam", [item(n) for n in (5, 1, 3, 2)])
    with session_scope(engine) as session:
        rows = media_in_range(session, "fam", T0 + dt.timedelta(hours=2), T0 + dt.timedelta(hours=5))
        assert [r.id for r in rows] == ["fam-2", "fam-3"]


def test_replace_media_index_rejects_bad_input(engine):
    with session_scope(engine) as session:
        with pytest.raises(LookupError):
            replace_media_index(session, "nope", [item(1)])
        upsert_library(session, "fam", "/photos")
        with pytest.raises(ValueError, match="duplicate rel_path"):
            replace_media_index(session, "fam", [item(1), item(2, rel_path=item(1)["rel_path"])])
        with pytest.raises(ValueError, match="timezone-aware"):
            replace_media_index(session, "fam", [item(1, taken_at_utc=dt.datetime(2024, 1, 1))])


def test_streamed_batches_replace_by_rel_path_and_stale_rows_go_after(engine):
    """The DAO side of a streamed scan: each batch replaces the rows of its rel_paths
    (an id changed in place too) and keeps media_count right; ``indexed_rows`` is
    what the next scan compares against; stale paths are deleted at the end."""
    from ledger.libraries import count_media_in_range, delete_media_paths, indexed_rows, write_media_rows

    with session_scope(engine) as session:
        upsert_library(session, "fam", "/photos/fam")
        replace_media_index(session, "fam", [item(n) for n in range(4)])
    with session_scope(engine) as session:
        write_media_rows(
            session, "fam", [item(1, id="fam-1b", verified=True), item(9, motion_rel_path="2024/img_0009.mov")]
        )
        assert get_library(session, "fam").media_count == 5  # type: ignore[union-attr]
    with session_scope(engine) as session:
        rows = indexed_rows(session, "fam")
        assert {p: (r.id, r.verified) for p, r in rows.items()} == {
            "2024/img_0000.jpg": ("fam-0", False),
            "2024/img_0001.jpg": ("fam-1b", True),
            "2024/img_0002.jpg": ("fam-2", False),
            "2024/img_0003.jpg": ("fam-3", False),
            "2024/img_0009.jpg": ("fam-9", False),
        }
        assert rows["2024/img_0009.jpg"].motion_rel_path == "2024/img_0009.mov"
        assert count_media_in_range(session, "fam", T0, T0 + dt.timedelta(hours=3)) == 3
    with session_scope(engine) as session:
        assert delete_media_paths(session, "fam", ["2024/img_0000.jpg", "2024/nope.jpg"]) == 1
        assert get_library(session, "fam").media_count == count_media(session, "fam") == 4  # type: ignore[union-attr]

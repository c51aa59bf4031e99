"""Hostile files in a library (issue 14, findings 5, 7 and 11): a clip whose header
claims 2^32-1 seconds, a link to a file outside the library, a name that is not
UTF-8. Each is skipped at scan with its reason, and the scan (and the ledger's
index) carries on."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from ledger import libraries as library_dao
from ledger.db import make_engine, migrate, read_scope
from reels_core.domain import MediaKind
from reels_core.libraries import LibraryConfig
from render_service.indexing import register_libraries, rescan
from render_service.media_index import DURATION_INVALID, NAME_NOT_UTF8, OUTSIDE_LIBRARY, scan_library
from render_service.render.frames import VideoSource
from render_service.render.types import MediaInput, RenderError
from tests.media_fixtures import write_absurd_duration_clip, write_clip, write_photo

TAKEN = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


def test_a_clip_claiming_2_pow_32_seconds_is_skipped_at_scan(tmp_path):
    write_absurd_duration_clip(tmp_path / "lib" / "endless.mp4", TAKEN)
    write_clip(tmp_path / "lib" / "fine.mp4", TAKEN, seconds=1.0, size="64x36")
    result = scan_library(tmp_path / "lib", "UTC")
    assert [m.rel_path for m in result.items] == ["fine.mp4"]
    assert result.skipped == [("endless.mp4", DURATION_INVALID)]


def test_the_renderer_drops_a_clip_claiming_an_absurd_duration(tmp_path):
    """An index made before the scan's guard may still hold one: the shot fails
    (and is dropped, tests/pipeline/test_bad_shots.py), the reel does not."""
    clip = write_absurd_duration_clip(tmp_path / "endless.mp4", TAKEN)
    item = MediaInput(media_id="m", path=clip, kind=MediaKind.VIDEO.value, orientation=1, duration_s=0.0)
    with pytest.raises(RenderError, match="implausible duration"):
        VideoSource(item, frames=30, width=64, height=36, fps=30)


def test_links_out_of_the_library_are_not_followed(tmp_path):
    outside = write_photo(tmp_path / "secret" / "private.jpg", TAKEN.replace(tzinfo=None), size=(64, 48))
    lib = tmp_path / "lib"
    write_photo(lib / "inside.jpg", TAKEN.replace(tzinfo=None), size=(64, 48), color=(10, 200, 10))
    (lib / "leak.jpg").symlink_to(outside)
    (lib / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    result = scan_library(lib, "UTC")
    assert [m.rel_path for m in result.items] == ["inside.jpg"]
    assert ("leak.jpg", OUTSIDE_LIBRARY) in result.skipped
    # a dangling link is not a file: ignored like any other non-file


def test_a_name_that_is_not_utf8_is_skipped_and_the_index_still_updates(tmp_path):
    """Finding 11: after such a file, every RescanLibrary (and ListLibraries) failed
    on the ledger's encoding of the name."""
    lib = tmp_path / "lib"
    write_photo(lib / "ok.jpg", TAKEN.replace(tzinfo=None), size=(64, 48))
    raw = os.fsencode(lib) + b"/caf\xe9.jpg"  # Latin-1 "café": not UTF-8
    with open(raw, "wb") as fh:
        fh.write((lib / "ok.jpg").read_bytes()[:-10] + b"different!")
    engine = make_engine(None, tmp_path / "data")
    migrate(engine)
    config = LibraryConfig("lib", lib, "UTC")
    register_libraries(engine, {"lib": config})
    for _ in range(2):  # and again: nothing left behind breaks the next scan
        outcome = rescan(engine, config)
        assert [s["reason"] for s in outcome.library.skipped_json] == [NAME_NOT_UTF8]
    with read_scope(engine) as session:
        rows = library_dao.media_in_range(
            session, "lib", dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
        )
    assert [r.rel_path for r in rows] == ["ok.jpg"]
    assert scan_library(lib, "UTC").skipped == [("caf\ufffd.jpg", NAME_NOT_UTF8)]


def test_scan_of_links_inside_the_library_still_indexes_them(tmp_path: Path):
    lib = tmp_path / "lib"
    write_photo(lib / "a" / "one.jpg", TAKEN.replace(tzinfo=None), size=(64, 48))
    (lib / "b").mkdir()
    (lib / "b" / "alias.jpg").symlink_to(lib / "a" / "one.jpg")
    result = scan_library(lib, "UTC")
    assert "b/alias.jpg" not in {path for path, reason in result.skipped if reason == OUTSIDE_LIBRARY}

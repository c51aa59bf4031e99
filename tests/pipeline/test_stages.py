"""The stages of `produce_reel`, each alone: select, script (the usable shots),
publish and record. The whole pipeline is exercised end to end in test_reel_e2e.py."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from ledger.db import session_scope
from ledger.libraries import replace_media_index, upsert_library
from ledger.models import MediaItem
from ledger.reels import get_reel_by_key
from reels_core.domain import Kind, Mode, Preferences, Script, Shot, Span
from reels_core.errors import FailedPrecondition
from reels_core.libraries import LibraryConfig
from reels_core.windows import local_midnight_utc, window_for
from render_service.pipeline import (
    ProducedReel,
    ReelNames,
    ReelSpec,
    Selection,
    VideoFile,
    media_fingerprint,
    publish_reel,
    record_precomputed,
    script_request,
    select_media,
    usable_shots,
)
from render_service.sidecar import DROP_NOT_A_CANDIDATE, DROP_UNREADABLE, Sidecar, load_sidecar
from render_service.store import TMP_SUFFIX, LocalStore
from tests import db_fixtures
from tests.media_fixtures import truncate, write_photo

# The ledger fixtures of tests/ledger: each test taking `engine` runs on SQLite and on PostgreSQL.
engine = db_fixtures.engine
pg_url = db_fixtures.pg_url
pg_migrated_url = db_fixtures.pg_migrated_url

ANCHOR = dt.date(2024, 6, 2)
TZ = "Europe/Paris"
SPEC = ReelSpec("fam", Span.DAY, Kind.RECAP, ANCHOR)
WINDOW = window_for(Span.DAY, Kind.RECAP, ANCHOR)  # 2024-06-01 in Paris


def _item(n: int, hour: int, rel_path: str) -> dict:
    taken = dt.datetime(2024, 6, 1, hour, tzinfo=dt.UTC)
    return {"id": f"fam-{n}", "rel_path": rel_path, "kind": "PHOTO", "taken_at_utc": taken}


def _row(n: int, rel_path: str, kind: str = "PHOTO") -> MediaItem:
    return MediaItem(
        id=f"fam-{n}",
        library_key="fam",
        rel_path=rel_path,
        kind=kind,
        taken_at_utc=dt.datetime(2024, 6, 1, 9 + n, tzinfo=dt.UTC),
    )


def _index(engine, lib: LibraryConfig, items: list[dict]) -> None:
    with session_scope(engine) as session:
        upsert_library(session, lib.key, str(lib.root), lib.timezone)
        replace_media_index(session, lib.key, items)


# --- select ---------------------------------------------------------------------------


def test_select_keeps_the_window_media_whose_file_is_still_there(engine, tmp_path: Path):
    lib = LibraryConfig("fam", tmp_path / "lib", TZ)
    for name in ("a.jpg", "c.jpg"):
        write_photo(lib.root / name, dt.datetime(2024, 6, 1, 12))
    _index(
        engine,
        lib,
        [
            _item(3, 15, "c.jpg"),
            _item(1, 8, "a.jpg"),
            _item(2, 10, "gone.jpg"),  # indexed, deleted since the scan
            _item(4, 23, "next-day.jpg"),  # 01:00 on June 2nd in Paris: outside the window
        ],
    )

    selection = select_media(engine, lib, SPEC)

    assert selection.window == WINDOW
    assert [r.rel_path for r in selection.rows] == ["a.jpg", "gone.jpg", "c.jpg"]  # oldest first
    assert [r.rel_path for r in selection.present] == ["a.jpg", "c.jpg"]
    assert selection.missing == 1
    assert set(selection.by_id) == {"fam-1", "fam-3"}
    # The fingerprint covers every row of the window, present or not.
    assert selection.fingerprint == media_fingerprint(list(selection.rows)) != media_fingerprint(selection.present)


def test_select_fails_with_no_media_in_window_when_no_file_is_left(engine, tmp_path: Path):
    lib = LibraryConfig("fam", tmp_path / "lib", TZ)
    _index(engine, lib, [_item(1, 8, "gone.jpg")])
    with pytest.raises(FailedPrecondition) as err:
        select_media(engine, lib, SPEC)
    assert err.value.reason == "NO_MEDIA_IN_WINDOW"


def test_select_uses_the_rows_it_is_given_without_reading_the_index(engine, tmp_path: Path):
    lib = LibraryConfig("fam", tmp_path / "lib", TZ)  # not in the ledger at all
    write_photo(lib.root / "a.jpg", dt.datetime(2024, 6, 1, 12))
    selection = select_media(engine, lib, SPEC, media_rows=[_row(1, "a.jpg")])
    assert [r.id for r in selection.present] == ["fam-1"]


# --- script ---------------------------------------------------------------------------


def _selection(root: Path, rows: list[MediaItem]) -> Selection:
    present = tuple(r for r in rows if (root / r.rel_path).is_file())
    return Selection(WINDOW, tuple(rows), present, media_fingerprint(rows))


def test_the_script_request_offers_every_present_medium(tmp_path: Path):
    lib = LibraryConfig("fam", tmp_path, TZ)
    write_photo(tmp_path / "a.jpg", dt.datetime(2024, 6, 1, 12))
    selection = _selection(tmp_path, [_row(1, "a.jpg"), _row(2, "gone.jpg")])
    prefs = Preferences(mood="calm")
    req = script_request(SPEC, lib, selection, prefs, target_duration_s=20.0, max_shots=5)
    assert [c.media_id for c in req.candidates] == ["fam-1"]
    assert req.candidates[0].taken_at.utcoffset() == dt.timedelta(hours=2)  # Paris summer time
    assert (req.preferences, req.target_duration_s, req.max_shots, req.timezone) == (prefs, 20.0, 5, TZ)
    assert req.seed == script_request(SPEC, lib, selection, prefs, target_duration_s=20.0, max_shots=5).seed


def test_unusable_shots_are_dropped_and_their_time_shared_out(tmp_path: Path):
    write_photo(tmp_path / "good.jpg", dt.datetime(2024, 6, 1, 12))
    truncate(write_photo(tmp_path / "broken.jpg", dt.datetime(2024, 6, 1, 13)), keep=0.3)
    selection = _selection(tmp_path, [_row(1, "good.jpg"), _row(2, "broken.jpg")])
    script = Script(
        "t", "", "calm", "piano", [Shot("fam-1", 4.0), Shot("fam-2", 3.0), Shot("elsewhere", 3.0)], mode_used=Mode.FAST
    )

    kept, dropped = usable_shots(script, selection, tmp_path)

    assert [(d.media_id, d.relative_path, d.reason) for d in dropped] == [
        ("elsewhere", "", DROP_NOT_A_CANDIDATE),
        ("fam-2", "broken.jpg", DROP_UNREADABLE),
    ]
    assert [s.media_id for s in kept.shots] == ["fam-1"]
    assert kept.duration_s == script.duration_s == 10.0
    assert usable_shots(kept, selection, tmp_path) == (kept, ())


# --- publish --------------------------------------------------------------------------


class RecordingStore(LocalStore):
    """A local store that notes the order of publications and can fail one."""

    def __init__(self, root: Path, fail_on: str = "") -> None:
        super().__init__(root)
        self.published: list[str] = []
        self.fail_on = fail_on

    def publish(self, name, staged):
        if name.endswith(self.fail_on) and self.fail_on:
            raise OSError("disk full")
        self.published.append(name)
        return super().publish(name, staged)


def _stage_video(store: LocalStore, names: ReelNames, data: bytes = b"\x00mp4" * 1000) -> bytes:
    store.staging_path(names.video).write_bytes(data)
    return data


def _leftovers(store: LocalStore) -> list[str]:
    return sorted(p.name for p in store.root.iterdir() if p.name.endswith(TMP_SUFFIX))


def test_publish_writes_poster_and_sidecar_then_the_video_last(tmp_path: Path):
    store = RecordingStore(tmp_path / "reels")
    names = ReelNames("fam-day-recap-20240602-0000abcd")
    data = _stage_video(store, names)
    seen: list[VideoFile] = []

    def describe(video: VideoFile) -> Sidecar:
        seen.append(video)
        return Sidecar(key=names.key, library="fam", span=Span.DAY, sha256=video.sha256, size_bytes=video.size_bytes)

    sidecar = publish_reel(store, names, lambda path: path.write_bytes(b"jpeg"), describe)

    assert seen == [VideoFile(hashlib.sha256(data).hexdigest(), len(data))]
    assert store.published == [names.poster, names.sidecar, names.video]
    video, poster = store.stat(names.video), store.stat(names.poster)
    assert video is not None and video.size == len(data)
    assert poster is not None and poster.size == 4
    assert load_sidecar(store, names.sidecar) == sidecar
    assert _leftovers(store) == []


@pytest.mark.parametrize("failing", ["poster", "describe"])
def test_a_failure_before_publishing_leaves_nothing_behind(tmp_path: Path, failing: str):
    store = RecordingStore(tmp_path / "reels")
    names = ReelNames("fam-day-recap-20240602-0000abcd")
    _stage_video(store, names)

    def write_poster(path: Path) -> None:
        path.write_bytes(b"half a jpeg")
        if failing == "poster":
            raise ValueError("cannot encode poster")

    def describe(video: VideoFile) -> Sidecar:
        raise RuntimeError("cannot describe")

    with pytest.raises((ValueError, RuntimeError)):
        publish_reel(store, names, write_poster, describe)
    assert store.published == []
    assert list(store.root.iterdir()) == []


def test_a_failed_video_publish_never_shows_the_video_and_cleans_the_staging(tmp_path: Path):
    store = RecordingStore(tmp_path / "reels", fail_on=".mp4")
    names = ReelNames("fam-day-recap-20240602-0000abcd")
    _stage_video(store, names)
    with pytest.raises(OSError):
        publish_reel(store, names, lambda path: path.write_bytes(b"jpeg"), lambda v: Sidecar(key=names.key))
    assert store.stat(names.video) is None
    assert store.published == [names.poster, names.sidecar]  # orphans for the retention sweep
    assert _leftovers(store) == []


# --- record ---------------------------------------------------------------------------


def _produced(key: str, valid_until: dt.datetime | None) -> ProducedReel:
    script = Script(
        "Saturday", "June 1", "calm", "piano", [Shot("fam-1", 10.0)], mode_used=Mode.AGENTIC, fallback_reason=""
    )
    names = ReelNames(key)
    return ProducedReel(
        key=key,
        video_name=names.video,
        sidecar_name=names.sidecar,
        poster_name=names.poster,
        size_bytes=1234,
        sha256="ab" * 32,
        duration_s=10.0,
        script=script,
        window=WINDOW,
        media_fingerprint="fp",
        valid_until=valid_until,
    )


def test_record_writes_the_ledger_row_of_a_pregenerated_reel(engine):
    until = dt.datetime(2024, 6, 3, 0, tzinfo=dt.UTC)
    record_precomputed(engine, SPEC, TZ, _produced("fam-day-recap-20240602-1", until))
    with session_scope(engine) as session:
        row = get_reel_by_key(session, "fam-day-recap-20240602-1")
    assert row is not None
    assert (row.library_key, row.span, row.kind, row.anchor_date) == ("fam", "DAY", "RECAP", ANCHOR)
    assert row.window_start == local_midnight_utc(WINDOW.start, TZ) == dt.datetime(2024, 5, 31, 22, tzinfo=dt.UTC)
    assert row.window_end == local_midnight_utc(ANCHOR, TZ)
    assert (row.title, row.mood, row.music_style, row.mode_used) == ("Saturday", "calm", "piano", "AGENTIC")
    assert (row.size_bytes, row.sha256, row.media_fingerprint, row.valid_until) == (1234, "ab" * 32, "fp", until)
    assert (row.video_path, row.sidecar_path, row.poster_path) == (
        "fam-day-recap-20240602-1.mp4",
        "fam-day-recap-20240602-1.json",
        "fam-day-recap-20240602-1.jpg",
    )


def test_record_refuses_a_reel_without_validity(engine):
    with pytest.raises(ValueError):
        record_precomputed(engine, SPEC, TZ, _produced("fam-day-recap-20240602-2", None))
    with session_scope(engine) as session:
        assert get_reel_by_key(session, "fam-day-recap-20240602-2") is None

"""The sidecar is written and read in one place, `render_service.sidecar`: a typed,
versioned record that still reads the sidecars written before it had a version."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pytest

from reels_core.domain import Kind, MediaKind, Mode, Preferences, Script, Shot, Span, StyleStat
from render_service.render import RenderParams, ShotRender
from render_service.sidecar import (
    SIDECAR_VERSION,
    DroppedMedia,
    RenderChoice,
    Sidecar,
    SidecarMedia,
    SidecarParams,
    SidecarStats,
    load_sidecar,
    script_from_dict,
    script_to_dict,
)
from render_service.store import LocalStore

TAKEN = dt.datetime(2024, 6, 1, 9, 30, tzinfo=dt.UTC)

# A sidecar exactly as the pipeline wrote it before the `version` field existed
# (trimmed render stats, same keys and value formats).
UNVERSIONED = {
    "key": "fam-day-recap-20240602-0a1b2c3d",
    "library": "fam",
    "span": "DAY",
    "kind": "RECAP",
    "anchor_date": "2024-06-02",
    "window": [["2024-06-01", "2024-06-02"]],
    "time_zone": "Europe/Paris",
    "precomputed": False,
    "job_id": "job-1",
    "created_at": "2024-06-02T08:00:00.123456+00:00",
    "valid_until": None,
    "content_type": "video/mp4",
    "size_bytes": 123456,
    "sha256": "ab" * 32,
    "video": "fam-day-recap-20240602-0a1b2c3d.mp4",
    "poster": "fam-day-recap-20240602-0a1b2c3d.jpg",
    "media_fingerprint": "f" * 32,
    "script": {
        "title": "Saturday",
        "subtitle": "June 1",
        "mood": "calm",
        "music_style": "piano",
        "shots": [
            {"media_id": "fam-1", "duration_s": 10.0, "caption": "", "motion": "zoom_in", "transition": "crossfade"}
        ],
        "narration": [],
        "grounding": [],
        "mode_used": "AGENTIC",
        "fallback_reason": "",
        "duration_s": 10.0,
    },
    "media": [{"media_id": "fam-1", "relative_path": "a.jpg", "kind": "PHOTO", "taken_at": TAKEN.isoformat()}],
    "params": {
        "choice": {
            "resolution": "1080p",
            "aspect": "9:16",
            "target_duration_s": 10.0,
            "mood": "",
            "music_style": "",
            "max_shots": 0,
        },
        "render": {"width": 1080, "height": 1920, "fps": 30, "crf": 23, "preset": "veryfast", "seed": 42},
        "mode": "AGENTIC",
        "preferences": {
            "mood": "",
            "music_style": "",
            "target_duration_s": 10.0,
            "favorite_moods": ["calm"],
            "disliked_music_styles": [],
            "preferred_duration_s": 0.0,
            "style_stats": [{"mood": "calm", "music_style": "piano", "good": 3, "bad": 1}],
        },
        "seed": 42,
    },
    "stats": {
        "wall_s": 4.2,
        "frames": 300,
        "width": 1080,
        "height": 1920,
        "fps": 30,
        "bytes": 123456,
        "duration_s": 10.0,
        "encoder": "libx264",
        "encoder_args": ["-crf", "23"],
        "stages": {"encode": 1.5},
        "peak_rss_mb": 200.5,
        "encoder_peak_rss_mb": None,
        "select_s": 0.01,
        "script_s": 0.2,
        "render_s": 3.9,
        "skipped_media": 1,
        "dropped_media": [
            {
                "media_id": "fam-2",
                "relative_path": "b.mp4",
                "reason": "SHOT_FAILED",
                "detail": "cannot prepare shot 1: ValueError",
            }
        ],
    },
}


def _full() -> Sidecar:
    return Sidecar.from_dict(UNVERSIONED | {"version": SIDECAR_VERSION})


def test_a_sidecar_written_before_versioning_reads_as_version_0():
    sidecar = Sidecar.from_json(json.dumps(UNVERSIONED))
    assert sidecar.version == 0
    assert (sidecar.span, sidecar.kind, sidecar.anchor_date) == (Span.DAY, Kind.RECAP, dt.date(2024, 6, 2))
    assert sidecar.window == ((dt.date(2024, 6, 1), dt.date(2024, 6, 2)),)
    assert sidecar.created_at == dt.datetime(2024, 6, 2, 8, 0, 0, 123456, tzinfo=dt.UTC)
    assert sidecar.valid_until is None
    assert sidecar.script == Script(
        "Saturday", "June 1", "calm", "piano", [Shot("fam-1", 10.0)], mode_used=Mode.AGENTIC
    )
    assert sidecar.media == (SidecarMedia("fam-1", "a.jpg", MediaKind.PHOTO, TAKEN),)
    assert sidecar.params == SidecarParams(
        choice=RenderChoice("1080p", "9:16", 10.0),
        render=RenderParams(width=1080, height=1920, seed=42),
        mode=Mode.AGENTIC,
        preferences=Preferences(
            target_duration_s=10.0, favorite_moods=("calm",), style_stats=(StyleStat("calm", "piano", 3, 1),)
        ),
        seed=42,
    )
    stats = sidecar.stats
    assert (stats.wall_s, stats.frames, stats.script_s, stats.render_s, stats.skipped_media) == (4.2, 300, 0.2, 3.9, 1)
    assert stats.dropped_media == (DroppedMedia("fam-2", "b.mp4", "SHOT_FAILED", "cannot prepare shot 1: ValueError"),)


def test_a_sidecar_round_trips_and_keeps_the_layout_it_always_had():
    sidecar = _full()
    text = sidecar.to_json()
    assert Sidecar.from_json(text) == sidecar
    data = json.loads(text)
    assert next(iter(data)) == "version" and data["version"] == SIDECAR_VERSION
    # Apart from the version and the fields added since (with defaults, so readers
    # of either layout agree), the JSON is the one the pipeline wrote before.
    assert [m.pop("date_source") for m in data["media"]] == [""]
    for m in data["media"]:  # why each shot was picked (issue 13), defaults here
        assert [m.pop(k) for k in ("pick_reason", "pick_detail", "moment", "moment_count")] == ["", "", -1, 0]
        assert (m.pop("pick_score"), m.pop("quality_flags"), m.pop("quality")["analysed"]) == (0.0, [], False)
    assert data["stats"].pop("shots") == []
    assert {k: v for k, v in data.items() if k != "version"} == UNVERSIONED


def test_shot_records_round_trip():
    shots = (
        ShotRender(0, "fam-1", "live_photo_motion", 0.5, 2.5, "live_photo"),
        ShotRender(1, "fam-2", "video", 5.0, 7.0, "loudest", clip_audio=True),
        ShotRender(2, "fam-3", "ken_burns", detail="motion_too_short"),
    )
    sidecar = replace(_full(), stats=replace(_full().stats, shots=shots))
    back = Sidecar.from_json(sidecar.to_json())
    assert back.stats.shots == shots
    assert json.loads(sidecar.to_json())["stats"]["shots"][1] == {
        "index": 1,
        "media_id": "fam-2",
        "treatment": "video",
        "segment_start_s": 5.0,
        "segment_end_s": 7.0,
        "segment_reason": "loudest",
        "clip_audio": True,
        "detail": "",
    }


def test_missing_null_and_unknown_fields_get_defaults():
    sidecar = Sidecar.from_dict(
        {
            "key": "k",
            "script": {"title": "Only a title"},
            "stats": {"frames": 3, "new_counter": 7},
            "media": [{"media_id": "m"}],
            "params": None,
            "from_a_newer_writer": {"x": 1},
        }
    )
    assert (sidecar.version, sidecar.key, sidecar.span, sidecar.job_id) == (0, "k", None, "")
    assert sidecar.script is not None and (sidecar.script.title, sidecar.script.shots) == ("Only a title", [])
    assert sidecar.stats == SidecarStats(frames=3)
    assert sidecar.media == (SidecarMedia("m"),)
    assert sidecar.params.choice == RenderChoice()  # what GetReel reports as the options
    assert Sidecar.from_dict({"script": {}}).script is None
    assert Sidecar.from_dict({}) == Sidecar(version=0)


@pytest.mark.parametrize(
    "text", ["not json", "[1, 2]", '{"size_bytes": "lots"}', '{"span": "DECADE"}', '{"script": "a string"}']
)
def test_what_is_not_a_sidecar_raises_value_error(text: str):
    with pytest.raises(ValueError):
        Sidecar.from_json(text)


def test_load_sidecar_serves_an_empty_record_when_the_file_is_missing_or_broken(tmp_path: Path):
    store = LocalStore(tmp_path)
    (tmp_path / "good.json").write_text(_full().to_json())
    (tmp_path / "broken.json").write_text('{"key": ')
    assert load_sidecar(store, "good.json") == _full()
    assert load_sidecar(store, "broken.json") == Sidecar()
    assert load_sidecar(store, "absent.json") == Sidecar()
    assert load_sidecar(store, "") == Sidecar()


def test_scripts_round_trip_through_their_dict():
    script = Script(
        "t", "s", "calm", "piano", [Shot("a", 2.5, caption="hi")], mode_used=Mode.AGENTIC, fallback_reason="LLM_TIMEOUT"
    )
    data = script_to_dict(script)
    assert (data["mode_used"], data["duration_s"]) == ("AGENTIC", 2.5)
    assert script_from_dict(data) == script
    assert script_from_dict({"shots": [{"media_id": "a", "duration_s": 1}]}).mode_used is Mode.FAST


def test_render_choice_reads_what_it_wrote_and_ignores_the_rest():
    choice = RenderChoice("1080p", "9:16", 20.0, "calm", "piano", 5)
    assert RenderChoice.from_dict(choice.to_dict() | {"mode": "AGENTIC"}) == choice
    assert RenderChoice.from_dict(None) == RenderChoice()

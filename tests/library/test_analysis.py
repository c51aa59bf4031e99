"""Index-time analysis (render_service/analysis.py) on pictures and clips made at
test time: what it finds, that it runs once per file version, and that a file it
cannot analyse stays usable with neutral scores and is counted."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image, ImageFilter
from sqlmodel import select

from ledger.db import session_scope
from ledger.models import MediaAnalysis
from reels_core import moments
from reels_core.domain import Kind, MediaKind, Preferences, Quality, Span
from reels_core.libraries import LibraryConfig
from render_service import analysis
from render_service.analysis import ERROR_FAILED, ERROR_UNREADABLE, analyse, analysis_counts
from render_service.indexing import rescan
from render_service.pipeline import ReelSpec, script_request, select_media
from tests import db_fixtures
from tests.labelled_library import face_photo, scene, screenshot
from tests.media_fixtures import cut_clip_after_header, write_clip

engine = db_fixtures.engine
pg_url = db_fixtures.pg_url
pg_migrated_url = db_fixtures.pg_migrated_url


def _save(path: Path, img: Image.Image, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kw)
    return path


def test_sharp_blurred_dark_and_screenshot_photos_score_apart(tmp_path: Path):
    sharp = analyse(_save(tmp_path / "sharp.jpg", scene(1), quality=90), MediaKind.PHOTO).quality
    blurred = analyse(
        _save(tmp_path / "blurred.jpg", scene(1).filter(ImageFilter.GaussianBlur(7)), quality=90), MediaKind.PHOTO
    ).quality
    dark = analyse(
        _save(tmp_path / "dark.jpg", Image.eval(scene(1), lambda v: v // 16), quality=90), MediaKind.PHOTO
    ).quality
    shot = analyse(_save(tmp_path / "Screenshot_1.png", screenshot(1)), MediaKind.PHOTO).quality

    assert sharp.analysed and sharp.sharpness > 0.6 and not moments.flags_of(sharp)
    assert blurred.sharpness < moments.BLURRED_BELOW and moments.FLAG_BLURRED in moments.flags_of(blurred)
    assert dark.mean_luma < moments.DARK_LUMA_BELOW and moments.FLAG_DARK in moments.flags_of(dark)
    assert shot.screenshot >= moments.SCREENSHOT_LIKELY and moments.FLAG_SCREENSHOT in moments.flags_of(shot)
    assert sharp.screenshot < moments.SCREENSHOT_LIKELY
    # Size-normalised: the same scene at four times the pixels scores about the same.
    big = scene(1).resize((1280, 960), Image.Resampling.BICUBIC)
    assert abs(analyse(_save(tmp_path / "big.jpg", big, quality=90), "PHOTO").quality.sharpness - sharp.sharpness) < 0.2


def test_perceptual_hash_is_close_for_a_re_save_and_far_for_another_scene(tmp_path: Path):
    a = analyse(_save(tmp_path / "a.jpg", scene(1), quality=92), "PHOTO").quality.phash
    again = analyse(_save(tmp_path / "a-small.jpg", scene(1).resize((320, 240)), quality=60), "PHOTO").quality.phash
    other = analyse(_save(tmp_path / "b.jpg", scene(2), quality=92), "PHOTO").quality.phash
    assert len(a) == 16
    near, far = moments.hamming(a, again), moments.hamming(a, other)
    assert near is not None and far is not None
    assert near <= moments.SAME_PICTURE_HAMMING < moments.NEAR_DUP_HAMMING < far


def test_an_off_centre_face_is_found_where_it_is(tmp_path: Path):
    path = _save(tmp_path / "face.jpg", face_photo(size=(800, 600), at=(0.25, 0.5)), quality=90)
    faces = analyse(path, "PHOTO").quality.faces
    assert len(faces) == 1
    face = faces[0]
    assert 0.12 < face.x + face.w / 2 < 0.38 and 0.3 < face.y + face.h / 2 < 0.7
    assert analyse(_save(tmp_path / "none.jpg", scene(3), quality=90), "PHOTO").quality.faces == ()


def test_orientation_is_applied_before_faces_are_placed(tmp_path: Path):
    # Stored turned a quarter (EXIF 6: display rotated 90° clockwise): the face is
    # found, and its box is in the upright picture (left third, as drawn).
    upright = face_photo(size=(800, 600), at=(0.25, 0.5))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = _save(tmp_path / "turned.jpg", upright.transpose(Image.Transpose.ROTATE_90), quality=90, exif=exif)
    faces = analyse(path, "PHOTO").quality.faces
    assert len(faces) == 1 and faces[0].x + faces[0].w / 2 < 0.4


def test_rating_comes_from_exif_or_xmp(tmp_path: Path):
    exif = Image.Exif()
    exif[0x4746] = 5
    rated = _save(tmp_path / "rated.jpg", scene(4), quality=90, exif=exif)
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description xmp:Rating="4"/></x:xmpmeta>'
    xmp_rated = _save(tmp_path / "xmp.jpg", scene(5), quality=90, xmp=xmp)
    plain = _save(tmp_path / "plain.jpg", scene(6), quality=90)
    assert [analyse(p, "PHOTO").quality.rating for p in (rated, xmp_rated, plain)] == [5, 4, 0]
    assert moments.is_favorite(analyse(rated, "PHOTO").quality)


def test_a_clip_gets_motion_and_loudness(tmp_path: Path):
    moving = write_clip(tmp_path / "moving.mp4", dt.datetime(2024, 6, 1, tzinfo=dt.UTC), seconds=2.0)
    loud = tmp_path / "still-with-tone.mp4"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-y", "-loglevel", "error",
            "-f", "lavfi", "-i", "color=c=gray:size=160x120:rate=15",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000",
            "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
            str(loud),
        ],
        check=True,
    )  # fmt: skip
    a = analyse(moving, "VIDEO").quality
    b = analyse(loud, "VIDEO").quality
    assert a.analysed and b.analysed
    assert a.motion > 0.002 > b.motion  # testsrc moves (its counter and sweep); a grey frame does not
    assert a.loudness_db is None  # no sound track
    assert b.loudness_db is not None and -40 < b.loudness_db < 0  # ffmpeg's sine source: -18 dBFS RMS
    assert len(a.phash) == 16


def test_a_file_that_cannot_be_analysed_gets_neutral_scores_and_an_error(tmp_path: Path):
    clip = write_clip(tmp_path / "cut.mp4", dt.datetime(2024, 6, 1, tzinfo=dt.UTC))
    cut_clip_after_header(clip)
    result = analyse(clip, "VIDEO")
    assert (result.quality, result.error) == (Quality(), ERROR_UNREADABLE)
    assert moments.flags_of(result.quality) == ()


def _library(tmp_path: Path) -> LibraryConfig:
    lib = LibraryConfig("fam", tmp_path / "lib", "UTC")
    for i in range(3):
        path = _save(lib.root / f"p{i}.jpg", scene(10 + i), quality=90)
        stamp = dt.datetime(2024, 6, 1, 9 + i, tzinfo=dt.UTC).timestamp()
        os.utime(path, (stamp, stamp))
    return lib


def test_media_are_analysed_once_per_version_of_their_file(engine, tmp_path: Path, monkeypatch):
    lib = _library(tmp_path)
    seen: list[str] = []
    real = analysis.analyse

    def counting(path: Path, kind):
        seen.append(path.name)
        return real(path, kind)

    monkeypatch.setattr(analysis, "analyse", counting)
    rescan(engine, lib)
    assert sorted(seen) == ["p0.jpg", "p1.jpg", "p2.jpg"]
    seen.clear()
    rescan(engine, lib)
    assert seen == []  # nothing changed: nothing analysed again
    _save(lib.root / "p1.jpg", scene(99), quality=80)  # changed in place
    stamp = dt.datetime(2024, 6, 1, 10, tzinfo=dt.UTC).timestamp()
    os.utime(lib.root / "p1.jpg", (stamp, stamp + 1))
    rescan(engine, lib)
    assert seen == ["p1.jpg"]
    assert analysis_counts(engine, lib.key) == {"analysed": 3, "errors": 0}


def test_a_failed_analysis_is_counted_and_the_item_stays_a_neutral_candidate(engine, tmp_path: Path, monkeypatch):
    lib = _library(tmp_path)
    real = analysis.analyse_photo

    def breaks_on_p1(path: Path) -> Quality:
        if path.name == "p1.jpg":
            raise RuntimeError("analyser bug")
        return real(path)

    monkeypatch.setattr(analysis, "analyse_photo", breaks_on_p1)
    rescan(engine, lib)
    assert analysis_counts(engine, lib.key) == {"analysed": 2, "errors": 1}
    with session_scope(engine) as session:
        errors = [r.error for r in session.exec(select(MediaAnalysis)) if r.error]
    assert errors == [ERROR_FAILED]

    spec = ReelSpec("fam", Span.DAY, Kind.RECAP, dt.date(2024, 6, 2))
    selection = select_media(engine, lib, spec)
    request = script_request(spec, lib, selection, Preferences(), target_duration_s=10, max_shots=5)
    by_path = {c.rel_path: c for c in request.candidates}
    assert by_path["p1.jpg"].quality == Quality()  # neutral, still offered
    assert by_path["p0.jpg"].quality.analysed
    assert by_path["p1.jpg"].media_id in moments.rank(request.candidates, dt.UTC, 5).media_ids


@pytest.mark.parametrize("kind", ["PHOTO", "VIDEO"])
def test_a_missing_file_is_an_error_not_an_exception(tmp_path: Path, kind: str):
    result = analyse(tmp_path / "gone.bin", kind)
    assert result.error == ERROR_UNREADABLE and result.quality == Quality()

import datetime as dt
import os
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import ExifTags, Image, ImageFile

from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels_core.windows import window_for
from render_service import media_index
from render_service.media_index import (
    EMPTY,
    TOO_LARGE,
    UNREADABLE,
    ScannedMedia,
    media_id_for,
    scan_library,
)
from tests.conftest import start_stack, stop_stack, wait_scanned
from tests.library.helpers import select_in_window
from tests.media_fixtures import write_photo

UTC = dt.UTC
MTIME = dt.datetime(2023, 5, 6, 7, 8, 9, tzinfo=UTC).timestamp()


def write_jpeg(path: Path, *, taken=None, offset=None, gps=None, orientation=None, size=(64, 48)):
    """A small JPEG with the EXIF fields asked for; mtime fixed to MTIME."""
    exif = Image.Exif()
    exif[0x0131] = "tests"  # Software: Pillow drops an EXIF block with no top-level tag
    if orientation is not None:
        exif[0x0112] = orientation
    if taken is not None or offset is not None:
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        if taken is not None:
            sub[0x9003] = taken
        if offset is not None:
            sub[0x9011] = offset
    if gps is not None:
        lat_ref, lat, lon_ref, lon = gps
        info = exif.get_ifd(ExifTags.IFD.GPSInfo)
        info[1], info[2], info[3], info[4] = lat_ref, lat, lon_ref, lon
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 140, 200)).save(path, "JPEG", exif=exif)
    os.utime(path, (MTIME, MTIME))
    if taken is not None:  # the fixture itself must hold what the test reads back
        with Image.open(path) as img:
            assert img.getexif().get_ifd(ExifTags.IFD.Exif)[0x9003] == taken


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lib")
    write_jpeg(
        root / "offset.jpg",
        taken="2024:06:10 00:30:00",
        offset="+02:00",
        gps=("S", (33.0, 51.0, 54.0), "W", (70.0, 39.0, 0.0)),
    )
    write_jpeg(
        root / "no_offset.jpg", taken="2024:06:10 00:30:00", gps=("N", (45.0, 45.0, 50.4), "E", (4.0, 50.0, 9.0))
    )
    write_jpeg(root / "no_exif.jpg")
    write_jpeg(root / "sub" / "portrait.jpg", taken="2024:06:11 12:00:00", orientation=6, size=(80, 60))
    write_jpeg(root / "sub" / "weird_orientation.JPG", taken="2024:06:11 12:00:00", orientation=42)
    write_jpeg(root / "zero_date.jpg", taken="0000:00:00 00:00:00")
    # A PNG with EXIF in an eXIf chunk, and one without: neither decodes pixels.
    png_exif = Image.Exif()
    png_exif[0x0131] = "tests"
    png_exif.get_ifd(ExifTags.IFD.Exif)[0x9003] = "2022:01:02 03:04:05"
    Image.new("RGB", (30, 20), "red").save(root / "with_exif.png", exif=png_exif)
    Image.new("RGB", (30, 20), "red").save(root / "plain.png")
    os.utime(root / "plain.png", (MTIME, MTIME))
    # A JPEG whose EXIF block is garbage: indexed, dated by mtime.
    Image.new("RGB", (16, 16)).save(root / "bad_exif.jpg", exif=b"Exif\x00\x00" + b"\x13\x37" * 40)
    os.utime(root / "bad_exif.jpg", (MTIME, MTIME))
    # Things to skip, with a reason...
    full = (root / "offset.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(full[:120])
    (root / "empty.jpg").write_bytes(b"")
    (root / "photo.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64)
    (root / "garbage.mp4").write_bytes(b"this is not a video at all" * 10)
    # ...and things to ignore silently.
    (root / "notes.txt").write_text("not media")
    write_jpeg(root / ".hidden.jpg", taken="2024:06:10 12:00:00")
    write_jpeg(root / ".reels-context" / "inside.jpg", taken="2024:06:10 12:00:00")
    write_jpeg(root / ".thumbnails" / "thumb.jpg", taken="2024:06:10 12:00:00")
    # A 1.2 s H.264 clip with a creation time.
    (root / "clips").mkdir()
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25",
            "-t",
            "1.2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-metadata",
            "creation_time=2024-06-12T08:09:10Z",
            str(root / "clips" / "clip.mp4"),
        ],
        check=True,
        capture_output=True,
    )
    return root


@pytest.fixture(scope="module")
def scanned(library):
    result = scan_library(library, "Europe/Paris")
    return {item.rel_path: item for item in result.items}, result


def test_scan_lists_media_and_ignores_hidden_and_non_media(scanned):
    items, result = scanned
    assert sorted(items) == [
        "bad_exif.jpg",
        "clips/clip.mp4",
        "no_exif.jpg",
        "no_offset.jpg",
        "offset.jpg",
        "plain.png",
        "sub/portrait.jpg",
        "sub/weird_orientation.JPG",
        "with_exif.png",
        "zero_date.jpg",
    ]
    assert [item.rel_path for item in result.items] == sorted(items)


def test_unreadable_files_are_skipped_with_a_reason(scanned):
    _, result = scanned
    assert dict(result.skipped) == {
        "truncated.jpg": UNREADABLE,
        "empty.jpg": EMPTY,
        "photo.heic": UNREADABLE,  # HEIC is read now: a broken one is unreadable
        "garbage.mp4": UNREADABLE,
    }
    assert result.skipped_counts == {UNREADABLE: 3, EMPTY: 1}


def test_exif_offset_is_used_when_present(scanned):
    item = scanned[0]["offset.jpg"]
    assert item.taken_at_utc == dt.datetime(2024, 6, 9, 22, 30, tzinfo=UTC)
    assert item.tz_offset_min == 120


def test_exif_time_without_offset_is_read_in_the_library_zone(scanned, library):
    item = scanned[0]["no_offset.jpg"]
    assert item.tz_offset_min is None
    assert item.taken_at_utc == dt.datetime(2024, 6, 9, 22, 30, tzinfo=UTC)  # 00:30 CEST
    in_utc = {m.rel_path: m for m in scan_library(library, "UTC").items}
    assert in_utc["no_offset.jpg"].taken_at_utc == dt.datetime(2024, 6, 10, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize("name", ["no_exif.jpg", "zero_date.jpg", "plain.png", "bad_exif.jpg"])
def test_without_a_usable_exif_date_the_mtime_is_used(scanned, name):
    item = scanned[0][name]
    assert item.taken_at_utc == dt.datetime.fromtimestamp(MTIME, UTC)
    assert item.tz_offset_min is None
    assert item.lat is None and item.lon is None


def test_png_exif_chunk_is_read(scanned):
    item = scanned[0]["with_exif.png"]
    assert item.taken_at_utc == dt.datetime(2022, 1, 2, 2, 4, 5, tzinfo=UTC)  # 03:04:05 CET
    assert (item.width, item.height) == (30, 20)


def test_gps_sign_follows_the_reference(scanned):
    south_west = scanned[0]["offset.jpg"]
    assert south_west.lat == pytest.approx(-(33 + 51 / 60 + 54 / 3600))
    assert south_west.lon == pytest.approx(-(70 + 39 / 60))
    north_east = scanned[0]["no_offset.jpg"]
    assert north_east.lat == pytest.approx(45 + 45 / 60 + 50.4 / 3600)
    assert north_east.lon == pytest.approx(4 + 50 / 60 + 9 / 3600)


def test_orientation_is_read_and_size_is_as_stored(scanned):
    portrait = scanned[0]["sub/portrait.jpg"]
    assert portrait.orientation == 6
    assert (portrait.width, portrait.height) == (80, 60)
    assert portrait.display_size == (60, 80)
    assert portrait.as_candidate().width == 60
    assert scanned[0]["sub/weird_orientation.JPG"].orientation == 1
    assert scanned[0]["offset.jpg"].orientation == 1


def test_video_duration_size_and_creation_time(scanned):
    clip = scanned[0]["clips/clip.mp4"]
    assert clip.kind == "VIDEO"
    assert clip.duration_s == pytest.approx(1.2, abs=0.1)
    assert (clip.width, clip.height) == (160, 120)
    assert clip.taken_at_utc == dt.datetime(2024, 6, 12, 8, 9, 10, tzinfo=UTC)
    assert scanned[0]["offset.jpg"].duration_s == 0


def test_media_id_is_stable_and_changes_with_the_file(scanned, library, tmp_path):
    item = scanned[0]["no_exif.jpg"]
    st = (library / "no_exif.jpg").stat()
    assert item.media_id == media_id_for("no_exif.jpg", st.st_size, st.st_mtime_ns)
    assert len(item.media_id) == 16 and int(item.media_id, 16) >= 0
    again = {m.rel_path: m.media_id for m in scan_library(library, "Europe/Paris").items}
    assert again["no_exif.jpg"] == item.media_id
    # The same bytes elsewhere, or touched, are another media item.
    copy = tmp_path / "no_exif.jpg"
    copy.write_bytes((library / "no_exif.jpg").read_bytes())
    os.utime(copy, (MTIME + 1, MTIME + 1))
    assert scan_library(tmp_path, "UTC").items[0].media_id != item.media_id


def test_as_row_has_plain_values(scanned):
    row = scanned[0]["offset.jpg"].as_row()
    assert set(row) == {
        "media_id",
        "rel_path",
        "kind",
        "taken_at_utc",
        "tz_offset_min",
        "lat",
        "lon",
        "orientation",
        "width",
        "height",
        "size_bytes",
        "mtime",
        "duration_s",
        "date_source",
        "motion_rel_path",
    }
    assert type(row["kind"]) is str and row["kind"] == "PHOTO"
    assert row["taken_at_utc"].tzinfo is not None
    assert isinstance(scanned[0]["offset.jpg"], ScannedMedia)


def test_a_photo_at_0030_local_belongs_to_that_local_day(scanned):
    photo = scanned[0]["no_offset.jpg"]  # 2024-06-10 00:30 in Paris, 06-09 in UTC
    window = window_for("DAY", "RECAP", dt.date(2024, 6, 11))
    assert select_in_window([photo], window, "Europe/Paris") == [photo]
    assert select_in_window([photo], window, "UTC") == []


def test_missing_root_raises(tmp_path):
    with pytest.raises(NotADirectoryError):
        scan_library(tmp_path / "nope", "UTC")


def test_unreadable_subfolder_is_skipped_not_fatal(tmp_path, monkeypatch):
    write_jpeg(tmp_path / "ok.jpg")
    write_jpeg(tmp_path / "locked" / "inside.jpg")
    real_scandir = os.scandir

    def scandir(path):  # what a folder without read permission does, even for root
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = scan_library(tmp_path, "UTC")
    assert [m.rel_path for m in result.items] == ["ok.jpg"]
    assert result.skipped == [("locked", UNREADABLE)]


# ---------------------------------------------------------------- pixel data

CAMERA_SIZE = (1600, 1200)  # 1.9 MP
TAKEN = "2024:06:10 09:15:00"


def camera_image(seed: int, size=CAMERA_SIZE) -> Image.Image:
    """Smooth gradients plus sensor-like noise: compresses like a photo, not like a flat fill."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([xx / w * 200, yy / h * 180 + 30, (xx + yy) / (w + h) * 150 + 60], axis=-1)
    noise = rng.normal(0, 18, (h, w, 3)).astype(np.float32)
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def camera_exif(taken: str = TAKEN) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    exif.get_ifd(ExifTags.IFD.Exif)[0x9003] = taken
    return exif


def write_camera_jpeg(path: Path, seed: int = 1, taken: str = TAKEN) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    camera_image(seed).save(path, "JPEG", quality=90, exif=camera_exif(taken))
    return path


def cut(path: Path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def png_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, data start, data end) of each complete-or-cut chunk of a PNG."""
    chunks, pos = [], 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        chunks.append((data[pos + 4 : pos + 8], pos + 8, pos + 8 + length))
        pos += 12 + length
    return chunks


def assert_header_intact(path: Path, taken: str | None = TAKEN) -> None:
    """What the header-only index read: the cut file still opens with its size and
    date, so only a pixel check can tell it is broken."""
    with Image.open(path) as img:
        assert img.size == CAMERA_SIZE
        if taken is not None:
            assert img.getexif().get_ifd(ExifTags.IFD.Exif)[0x9003] == taken


@pytest.fixture(scope="module")
def pixel_library(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pixels")
    write_camera_jpeg(root / "good.jpg", seed=1)
    camera_image(2).save(root / "good.png")
    camera_image(3).save(root / "good.webp", quality=90, exif=camera_exif())
    # A JPEG cut to 30% of its bytes: header and EXIF intact, most scan data gone.
    write_camera_jpeg(root / "truncated.jpg", seed=4)
    cut(root / "truncated.jpg", 0.3)
    assert_header_intact(root / "truncated.jpg")
    # A PNG cut inside its IDAT data.
    camera_image(5).save(root / "truncated_idat.png")
    data = (root / "truncated_idat.png").read_bytes()
    at = len(data) // 2
    assert any(cid == b"IDAT" and start < at < end for cid, start, end in png_chunks(data))
    (root / "truncated_idat.png").write_bytes(data[:at])
    assert_header_intact(root / "truncated_idat.png", taken=None)
    # A WebP cut in half (libwebp's demuxer refuses it at open).
    camera_image(6).save(root / "truncated.webp", quality=90)
    cut(root / "truncated.webp", 0.5)
    for path in root.iterdir():
        os.utime(path, (MTIME, MTIME))
    return root


PIXEL_SKIPS = {"truncated.jpg": UNREADABLE, "truncated_idat.png": UNREADABLE, "truncated.webp": UNREADABLE}


def test_truncated_photos_are_unreadable_and_good_ones_indexed(pixel_library):
    result = scan_library(pixel_library, "UTC")
    assert [m.rel_path for m in result.items] == ["good.jpg", "good.png", "good.webp"]
    assert dict(result.skipped) == PIXEL_SKIPS
    items = {m.rel_path: m for m in result.items}
    assert items["good.jpg"].taken_at_utc == dt.datetime(2024, 6, 10, 9, 15, tzinfo=UTC)
    assert items["good.webp"].taken_at_utc == dt.datetime(2024, 6, 10, 9, 15, tzinfo=UTC)
    assert all((m.width, m.height) == CAMERA_SIZE for m in result.items)  # as stored, not as decoded
    assert result.decoded == 6


def test_the_check_holds_when_pillow_is_told_to_load_truncated_images(pixel_library, monkeypatch):
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    scan_library(pixel_library, "UTC")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # the scan never sets it
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # as another module might
    with Image.open(pixel_library / "truncated.jpg") as img:
        img.load()  # with the switch on, Pillow alone pads the cut JPEG and says nothing
    result = scan_library(pixel_library, "UTC")
    assert [m.rel_path for m in result.items] == ["good.jpg", "good.png", "good.webp"]
    assert dict(result.skipped) == PIXEL_SKIPS
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # left as found


def test_a_decompression_bomb_stays_too_large(pixel_library, tmp_path, monkeypatch):
    (tmp_path / "big.jpg").write_bytes((pixel_library / "good.jpg").read_bytes())
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", CAMERA_SIZE[0] * CAMERA_SIZE[1] // 3)
    assert scan_library(tmp_path, "UTC").skipped == [("big.jpg", TOO_LARGE)]


@pytest.fixture
def count_decodes(monkeypatch) -> list[str]:
    """The names of the photos ``_decode_check`` is called on (it still runs)."""
    calls: list[str] = []
    real = media_index._decode_check

    def counting(img):
        calls.append(Path(img.filename).name)
        return real(img)

    monkeypatch.setattr(media_index, "_decode_check", counting)
    return calls


def test_known_photos_are_not_decoded_again(pixel_library, tmp_path, count_decodes):
    lib = tmp_path / "lib"
    lib.mkdir()
    for path in pixel_library.iterdir():
        (lib / path.name).write_bytes(path.read_bytes())
        os.utime(lib / path.name, (MTIME, MTIME))
    first = scan_library(lib, "UTC")
    # All but the cut WebP, which fails at open, before the check.
    assert sorted(count_decodes) == ["good.jpg", "good.png", "good.webp", "truncated.jpg", "truncated_idat.png"]
    known = {m.media_id for m in first.items}

    count_decodes.clear()
    again = scan_library(lib, "UTC", known=known)
    assert count_decodes == ["truncated.jpg", "truncated_idat.png"]  # only what is not indexed
    assert again.decoded == 3  # not known: the two above and the cut WebP
    assert again.items == first.items and again.skipped == first.skipped

    # Changed in place: cut (new size) and touched (new mtime). It is decoded again
    # and found broken, while the unchanged ones still are not decoded.
    cut(lib / "good.jpg", 0.3)
    os.utime(lib / "good.jpg", (MTIME + 60, MTIME + 60))
    count_decodes.clear()
    third = scan_library(lib, "UTC", known=known)
    assert sorted(count_decodes) == ["good.jpg", "truncated.jpg", "truncated_idat.png"]
    assert [m.rel_path for m in third.items] == ["good.png", "good.webp"]
    assert dict(third.skipped) == {**PIXEL_SKIPS, "good.jpg": UNREADABLE}


def test_known_skips_only_the_pixel_check_not_the_header(pixel_library, tmp_path, count_decodes):
    """``known`` is trusted: a cut JPEG whose id it holds (as if it had been indexed
    and verified whole, then broken behind the index's back with size and mtime
    kept) is indexed from its header, without a decode. A file whose header does
    not read is skipped, known or not."""
    (tmp_path / "a.jpg").write_bytes((pixel_library / "truncated.jpg").read_bytes())
    (tmp_path / "b.jpg").write_bytes(b"\x00" * 4096)
    for name in ("a.jpg", "b.jpg"):
        os.utime(tmp_path / name, (MTIME, MTIME))
    known = {media_id_for(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    assert dict(scan_library(tmp_path, "UTC").skipped) == {"a.jpg": UNREADABLE, "b.jpg": UNREADABLE}
    count_decodes.clear()
    trusted = scan_library(tmp_path, "UTC", known=known)
    assert count_decodes == [] and trusted.decoded == 0
    assert [m.rel_path for m in trusted.items] == ["a.jpg"]
    assert trusted.items[0].taken_at_utc == dt.datetime(2024, 6, 10, 9, 15, tzinfo=UTC)
    assert trusted.skipped == [("b.jpg", UNREADABLE)]


def test_rescan_library_lists_a_truncated_jpeg_as_unreadable(tmp_path, count_decodes):
    lib = tmp_path / "lib"
    write_photo(lib / "portrait.jpg", dt.datetime(2024, 6, 10, 9, 0), offset="+02:00", size=(1600, 1200), orientation=6)
    write_camera_jpeg(lib / "cut.jpg", seed=7)
    cut(lib / "cut.jpg", 0.3)
    assert_header_intact(lib / "cut.jpg")
    (lib / "empty.jpg").write_bytes(b"")
    stack = start_stack(tmp_path / "data", libraries=f"lib={lib}", with_scripter=False)
    try:
        wait_scanned(stack, "lib")
        assert sorted(count_decodes) == ["cut.jpg", "portrait.jpg"]  # the start-up scan checks both
        count_decodes.clear()
        resp = stack.admin.RescanLibrary(admin_pb2.RescanLibraryRequest(library="lib"), timeout=30)
        # The portrait is in the ledger (under its row id), so it is not decoded again,
        # nor opened at all; the cut file, skipped before, has no row and is read again.
        assert count_decodes == ["cut.jpg"]
        assert (resp.unchanged, resp.opened, resp.added, resp.updated, resp.removed) == (1, 1, 0, 0, 0)
        skipped = {s.relative_path: s.reason for s in resp.library.skipped}
        assert skipped == {"cut.jpg": UNREADABLE, "empty.jpg": EMPTY}
        assert resp.library.skipped_count == 2
        assert (resp.library.media_count, resp.library.photo_count) == (1, 1)
        listed = stack.admin.ListLibraries(admin_pb2.ListLibrariesRequest()).libraries
        assert {s.relative_path: s.reason for s in listed[0].skipped} == skipped
    finally:
        stop_stack(stack)

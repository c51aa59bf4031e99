"""HEIC/HEIF (pillow-heif) and AVIF are photos like JPEG; a file whose content is
another picture format than its name says is refused with FORMAT_MISMATCH, at scan
time and at render time. Inputs are written by the real encoders: pillow-heif
(libheif + x265), Pillow's libavif, its EPS and PNG writers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from reels_core.domain import MediaKind
from render_service.media_index import FORMAT_MISMATCH, UNREADABLE, scan_library
from render_service.photo_formats import FormatMismatch, open_photo
from render_service.render.photo import load_photo
from render_service.render.types import RenderError
from tests.media_fixtures import quadrants, write_heic

SIZE = (96, 64)  # landscape as stored


def corners(img: Image.Image) -> list[tuple[int, ...]]:
    """The colours near the four corners (TL, TR, BL, BR), rounded to the quadrant palette."""
    w, h = img.size
    picks = [(w // 8, h // 8), (w - 1 - w // 8, h // 8), (w // 8, h - 1 - h // 8), (w - 1 - w // 8, h - 1 - h // 8)]
    rgb = img.convert("RGB")
    return [tuple(round(c / 100) for c in rgb.getpixel(p)) for p in picks]  # type: ignore[union-attr]  # RGB pixels are tuples


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("formats")
    write_heic(root / "IMG_0001.HEIC", quadrants(SIZE), taken="2024:06:10 14:30:00", offset="+02:00", orientation=6)
    write_heic(root / "plain.heif", quadrants(SIZE))
    quadrants(SIZE).save(root / "pic.avif", quality=70)
    # Pictures under another format's name.
    quadrants(SIZE).save(root / "really_eps.jpg", format="EPS")
    quadrants(SIZE).save(root / "really_png.jpg", format="PNG")
    quadrants(SIZE).save(root / "really_jpeg.heic", format="JPEG")
    quadrants(SIZE).save(root / "really_tiff.png", format="TIFF")
    # Broken ones of the new formats.
    good = (root / "plain.heif").read_bytes()
    (root / "cut.heic").write_bytes(good[: len(good) // 2])
    (root / "noise.avif").write_bytes(b"\x00\x00\x00\x1cftypavif" + bytes(range(256)) * 4)
    return root


@pytest.fixture(scope="module")
def scanned(library):
    result = scan_library(library, "Europe/Paris")
    return {item.rel_path: item for item in result.items}, dict(result.skipped)


def test_heic_is_a_photo_dated_from_its_exif_and_upright(scanned):
    items, _ = scanned
    heic = items["IMG_0001.HEIC"]
    assert heic.kind == MediaKind.PHOTO
    assert heic.taken_at_utc == dt.datetime(2024, 6, 10, 12, 30, tzinfo=dt.UTC)
    assert heic.tz_offset_min == 120
    # The HEIF carries its rotation itself (irot): the index sees the upright size
    # and no EXIF rotation left to apply.
    assert (heic.width, heic.height) == (SIZE[1], SIZE[0])
    assert heic.orientation == 1


def test_avif_and_plain_heif_are_photos(scanned):
    items, _ = scanned
    assert items["pic.avif"].kind == MediaKind.PHOTO and (items["pic.avif"].width, items["pic.avif"].height) == SIZE
    assert items["plain.heif"].kind == MediaKind.PHOTO


def test_content_of_another_format_is_format_mismatch(scanned):
    items, skipped = scanned
    for name in ("really_eps.jpg", "really_png.jpg", "really_jpeg.heic", "really_tiff.png"):
        assert skipped.get(name) == FORMAT_MISMATCH, name
        assert name not in items


def test_broken_heic_and_avif_are_unreadable(scanned):
    _, skipped = scanned
    assert skipped["cut.heic"] == UNREADABLE
    assert skipped["noise.avif"] == UNREADABLE


def test_heic_renders_the_same_way_up_as_the_same_jpeg(library, tmp_path):
    # The same picture with EXIF orientation 6, as a JPEG: the reference for "upright".
    jpeg = tmp_path / "ref.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    quadrants(SIZE).save(jpeg, quality=95, exif=exif)
    want = corners(ImageOps.exif_transpose(Image.open(jpeg)))
    got_jpeg = load_photo(jpeg, 6, 32, 48, 360, 640)
    got_heic = load_photo(library / "IMG_0001.HEIC", 1, 32, 48, 360, 640)
    assert corners(got_jpeg) == want
    assert corners(got_heic) == want
    assert got_heic.size[0] < got_heic.size[1]  # portrait, as shot


def test_render_refuses_a_picture_under_another_formats_name(library):
    with pytest.raises(RenderError):
        load_photo(library / "really_eps.jpg", 1, 32, 18, 64, 36)
    with pytest.raises(FormatMismatch) as err:
        open_photo(library / "really_png.jpg", ".jpg")
    assert err.value.found == "PNG"

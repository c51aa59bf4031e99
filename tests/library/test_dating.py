"""Dates and places from beyond the header: XMP and Takeout sidecars, file names, mtime."""

import datetime as dt
import json
import os
import subprocess
import zlib
from pathlib import Path
from zoneinfo import ZoneInfo

import imageio_ffmpeg
import pytest
from PIL import Image
from structlog.testing import capture_logs

from render_service import dating
from render_service.media_index import scan_library
from tests.media_fixtures import write_photo

UTC = dt.UTC
PARIS = ZoneInfo("Europe/Paris")
MTIME = dt.datetime(2021, 4, 5, 6, 7, 8, tzinfo=UTC).timestamp()


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    """The UTC instant of a wall time in Paris."""
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=PARIS).astimezone(UTC)


# ---------------------------------------------------------------- file names


@pytest.mark.parametrize(
    ("name", "local"),
    [
        ("IMG_20230101_123456.jpg", (2023, 1, 1, 12, 34, 56)),
        ("IMG_20230101_123456_1.jpg", (2023, 1, 1, 12, 34, 56)),
        ("PXL_20230701_123456789.jpg", (2023, 7, 1, 12, 34, 56)),
        ("PXL_20230701_123456789.PORTRAIT.jpg", (2023, 7, 1, 12, 34, 56)),
        ("VID_20230101_000001.mp4", (2023, 1, 1, 0, 0, 1)),
        ("IMG-20230101-WA0001.jpg", (2023, 1, 1, 12, 0, 0)),  # date only: noon local
        ("VID-20230815-WA0012.mp4", (2023, 8, 15, 12, 0, 0)),
        ("Screenshot_20230101-123456.png", (2023, 1, 1, 12, 34, 56)),
        ("Screenshot_20230101_123456.png", (2023, 1, 1, 12, 34, 56)),
        ("Screenshot_2023-01-01-12-34-56.png", (2023, 1, 1, 12, 34, 56)),
        ("Screenshot_20230101-123456_Chrome.jpg", (2023, 1, 1, 12, 34, 56)),
        ("20230101_123456.jpg", (2023, 1, 1, 12, 34, 56)),
    ],
)
def test_file_name_patterns_give_local_wall_time(name, local):
    dated = dating.from_file_name(name, PARIS)
    assert dated == dating.Dated(paris(*local), None, dating.FILENAME)


@pytest.mark.parametrize(
    "name",
    [
        "IMG_20231301_123456.jpg",  # month 13
        "IMG_20230230_123456.jpg",  # February 30th
        "IMG_20230101_250000.jpg",  # hour 25
        "IMG_19891231_235959.jpg",  # before 1990
        "IMG_21010101_000000.jpg",  # after 2100
        "IMG-20231340-WA0001.jpg",
        "IMG_0001.jpg",
        "IMG_2023010_123456.jpg",  # seven digits
        "IMG_20230101_1234567.jpg",  # seven time digits: not PXL's nine
        "holiday 20230101_123456.jpg",  # patterns are anchored at the start
        "DSC_0042.JPG",
    ],
)
def test_file_names_without_a_possible_date_give_none(name):
    assert dating.from_file_name(name, PARIS) is None


def test_a_file_name_time_in_a_dst_gap_is_still_a_time():
    # 02:30 does not exist in Paris on 2023-03-26; zoneinfo reads it as the offset before.
    dated = dating.from_file_name("IMG_20230326_023000.jpg", PARIS)
    assert dated is not None and dated.taken_at_utc == dt.datetime(2023, 3, 26, 1, 30, tzinfo=UTC)


# ---------------------------------------------------------------- Takeout names


def test_takeout_names_for_a_short_name():
    names = dating.takeout_names("IMG_0001.JPG")
    assert names[:2] == ["img_0001.jpg.json", "img_0001.jpg.supplemental-metadata.json"]
    assert "img_0001.jpg.supplemental-metad.json" in names  # other exports cut it shorter


def test_takeout_cuts_the_whole_json_name_to_51_characters():
    names = dating.takeout_names("averyveryverylongfilenamethatkeepsgoingandg.jpg")  # 47 characters
    assert names[0] == "averyveryverylongfilenamethatkeepsgoingandg.jp.json"
    assert all(len(n) <= 51 for n in names)
    pxl = dating.takeout_names("PXL_20230218_123456789.jpg")
    assert pxl[1] == "pxl_20230218_123456789.jpg.supplemental-metada.json"


def test_takeout_moves_a_duplicates_counter_after_the_extension():
    names = dating.takeout_names("photo(1).jpg")
    assert names[0] == "photo(1).jpg.json"  # a plain name that happens to end in (1)
    assert "photo.jpg(1).json" in names
    assert "photo.jpg.supplemental-metadata(1).json" in names
    long = "x" * 50 + "(2).jpg"
    assert (("x" * 50 + ".jpg")[:43] + "(2).json") in dating.takeout_names(long)
    assert all(len(n) <= 51 for n in dating.takeout_names(long))


def test_xmp_names_cover_darktable_and_lightroom():
    assert dating.xmp_names("DSC_0001.JPG") == ["dsc_0001.jpg.xmp", "dsc_0001.xmp"]


def test_folder_sidecars_keeps_only_json_and_xmp_names():
    names = ["a.jpg", "a.jpg.json", "B.XMP", "notes.txt", "c.mp4"]
    assert dating.folder_sidecars(names) == {"a.jpg.json": "a.jpg.json", "b.xmp": "B.XMP"}


# ---------------------------------------------------------------- sidecar contents


def _read(tmp_path: Path, name: str, sidecar: str, content: bytes) -> dating.Sidecars:
    (tmp_path / sidecar).write_bytes(content)
    return dating.read_sidecars(str(tmp_path), name, dating.folder_sidecars(os.listdir(tmp_path)), PARIS)


def test_an_xmp_with_a_dtd_is_refused_not_expanded(tmp_path):
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&b;</x:xmpmeta>'
    )
    assert _read(tmp_path, "a.jpg", "a.jpg.xmp", laughs) == dating.Sidecars(errors=1)


def test_a_sidecar_over_1_mb_is_ignored_and_counted(tmp_path):
    stamp = json.dumps({"photoTakenTime": {"timestamp": "1600000000"}, "pad": "x" * (1 << 20)})
    assert _read(tmp_path, "a.jpg", "a.jpg.json", stamp.encode()) == dating.Sidecars(errors=1)


def test_takeout_json_of_another_shape_is_valid_but_says_nothing(tmp_path):
    side = _read(tmp_path, "a.jpg", "a.jpg.json", b'[{"photoTakenTime": 1}]')
    assert side == dating.Sidecars(takeout=dating.Reading())


@pytest.mark.parametrize(
    ("coordinate", "value"),
    [("51,30.5N", 51 + 30.5 / 60), ("0,7.5W", -7.5 / 60), ("33,52,12S", -(33 + 52 / 60 + 12 / 3600)), ("51.5N", None)],
)
def test_xmp_coordinates(coordinate, value):
    parsed = dating._xmp_coordinate(coordinate)
    assert parsed == (pytest.approx(value) if value is not None else None)


# ---------------------------------------------------------------- a scanned library

TAKEOUT_AT = dt.datetime(2019, 8, 1, 17, 0, 5, tzinfo=UTC)
CLIP_AT = dt.datetime(2022, 9, 3, 8, 30, 0, tzinfo=UTC)
LONG_NAME = "averyveryverylongfilenamethatkeepsgoingandgoing.jpg"


def plain_jpeg(path: Path) -> Path:
    """A JPEG with no EXIF at all (Pillow writes none unless asked), its colour from its
    name (identical files would be one item); mtime fixed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shade = zlib.crc32(path.name.encode())
    Image.new("RGB", (48, 32), (shade & 0xFF, (shade >> 8) & 0xFF, (shade >> 16) & 0xFF)).save(path, "JPEG")
    os.utime(path, (MTIME, MTIME))
    with Image.open(path) as img:
        assert not img.getexif()
    return path


def takeout_json(path: Path, taken: dt.datetime | None, lat: float = 0.0, lon: float = 0.0) -> None:
    doc: dict[str, object] = {"title": "a private caption", "geoData": {"latitude": lat, "longitude": lon}}
    if taken is not None:
        doc["photoTakenTime"] = {"timestamp": str(int(taken.timestamp())), "formatted": "..."}
    path.write_text(json.dumps(doc))


XMP_ATTRIBUTES = """<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
  xmlns:exif="http://ns.adobe.com/exif/1.0/"
  xmp:CreateDate="2018-05-06T07:08:09" exif:GPSLatitude="51,30.5N" exif:GPSLongitude="0,7.5W"/>
</rdf:RDF></x:xmpmeta><?xpacket end="w"?>"""

XMP_ELEMENTS = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/"
  xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">
<photoshop:DateCreated>2017-01-02</photoshop:DateCreated>
<exif:DateTimeOriginal>2017-03-04T05:06:07+09:00</exif:DateTimeOriginal>
</rdf:Description></rdf:RDF></x:xmpmeta>"""


def clip(path: Path, creation_time: dt.datetime | None, size: str) -> None:
    """A one-second H.264 mp4 from the shipped ffmpeg, with or without creation_time."""
    metadata = ["-metadata", f"creation_time={creation_time:%Y-%m-%dT%H:%M:%SZ}"] if creation_time else []
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi"]
        + ["-i", f"testsrc=size={size}:rate=10", "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p"]
        + [*metadata, str(path)],
        check=True,
    )
    os.utime(path, (MTIME, MTIME))


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dated")
    t = root / "takeout"
    plain_jpeg(t / "IMG_0001.jpg")
    takeout_json(t / "IMG_0001.jpg.json", TAKEOUT_AT, 48.8584, 2.2945)
    plain_jpeg(t / "IMG_0002.jpg")  # newer exports' name; geoData 0/0 means no place
    takeout_json(t / "IMG_0002.jpg.supplemental-metadata.json", TAKEOUT_AT + dt.timedelta(hours=1))
    plain_jpeg(t / LONG_NAME)
    takeout_json(t / (LONG_NAME[:46] + ".json"), TAKEOUT_AT + dt.timedelta(hours=2))
    plain_jpeg(t / "photo.jpg")
    takeout_json(t / "photo.jpg.json", TAKEOUT_AT + dt.timedelta(hours=3))
    plain_jpeg(t / "photo(1).jpg")
    takeout_json(t / "photo.jpg(1).json", TAKEOUT_AT + dt.timedelta(hours=4))
    write_photo(t / "exif_dated.jpg", dt.datetime(2020, 2, 3, 4, 5, 6), offset="+01:00")
    takeout_json(t / "exif_dated.jpg.json", TAKEOUT_AT, -33.8568, 151.2153)  # EXIF date wins, place from here
    clip(t / "clip.mp4", CLIP_AT, "64x48")
    takeout_json(t / "clip.mp4.json", None, 40.6892, -74.0445)  # a place, no date

    x = root / "xmp"
    plain_jpeg(x / "DSC_0001.jpg")
    (x / "DSC_0001.xmp").write_text(XMP_ATTRIBUTES)
    plain_jpeg(x / "DSC_0002.jpg")
    (x / "DSC_0002.jpg.xmp").write_text(XMP_ELEMENTS)

    w = root / "whatsapp"
    plain_jpeg(w / "IMG-20230101-WA0001.jpg")
    clip(w / "VID_20230702_030405.mp4", None, "80x48")

    b = root / "broken"
    plain_jpeg(b / "IMG_20230315_101500.jpg")
    (b / "IMG_20230315_101500.jpg.json").write_text('{"photoTakenTime": {"timestamp": "16')  # cut short
    plain_jpeg(b / "both.jpg")
    (b / "both.jpg.xmp").write_text("<x:xmpmeta><unclosed></x:xmpmeta>")
    takeout_json(b / "both.jpg.json", TAKEOUT_AT)
    plain_jpeg(b / "nothing.jpg")
    return root


@pytest.fixture(scope="module")
def scanned(library):
    with capture_logs() as logs:
        result = scan_library(library, "Europe/Paris")
    return {m.rel_path: m for m in result.items}, result, logs


@pytest.mark.parametrize(
    ("rel_path", "taken_at_utc", "offset", "source", "place"),
    [
        ("takeout/IMG_0001.jpg", TAKEOUT_AT, None, dating.TAKEOUT, (48.8584, 2.2945)),
        ("takeout/IMG_0002.jpg", TAKEOUT_AT + dt.timedelta(hours=1), None, dating.TAKEOUT, None),
        (f"takeout/{LONG_NAME}", TAKEOUT_AT + dt.timedelta(hours=2), None, dating.TAKEOUT, None),
        ("takeout/photo.jpg", TAKEOUT_AT + dt.timedelta(hours=3), None, dating.TAKEOUT, None),
        ("takeout/photo(1).jpg", TAKEOUT_AT + dt.timedelta(hours=4), None, dating.TAKEOUT, None),
        ("takeout/exif_dated.jpg", dt.datetime(2020, 2, 3, 3, 5, 6, tzinfo=UTC), 60, dating.EXIF, (-33.8568, 151.2153)),
        ("takeout/clip.mp4", CLIP_AT, None, dating.QUICKTIME, (40.6892, -74.0445)),
        ("xmp/DSC_0001.jpg", paris(2018, 5, 6, 7, 8, 9), None, dating.XMP, (51 + 30.5 / 60, -7.5 / 60)),
        ("xmp/DSC_0002.jpg", dt.datetime(2017, 3, 3, 20, 6, 7, tzinfo=UTC), 540, dating.XMP, None),
        ("whatsapp/IMG-20230101-WA0001.jpg", paris(2023, 1, 1, 12), None, dating.FILENAME, None),
        ("whatsapp/VID_20230702_030405.mp4", paris(2023, 7, 2, 3, 4, 5), None, dating.FILENAME, None),
        ("broken/IMG_20230315_101500.jpg", paris(2023, 3, 15, 10, 15), None, dating.FILENAME, None),
        ("broken/both.jpg", TAKEOUT_AT, None, dating.TAKEOUT, None),
        ("broken/nothing.jpg", dt.datetime.fromtimestamp(MTIME, UTC), None, dating.MTIME, None),
    ],
)
def test_each_item_is_dated_by_the_first_source_that_knows(scanned, rel_path, taken_at_utc, offset, source, place):
    item = scanned[0][rel_path]
    assert (item.taken_at_utc, item.tz_offset_min, item.date_source) == (taken_at_utc, offset, source)
    if place is None:
        assert (item.lat, item.lon) == (None, None)
    else:
        assert (item.lat, item.lon) == (pytest.approx(place[0]), pytest.approx(place[1]))


def test_sidecars_are_not_media_and_not_skipped(scanned):
    items, result, _ = scanned
    assert len(items) == 14
    assert result.skipped == []
    assert not any(p.endswith((".json", ".xmp")) for p in items)


def test_broken_sidecars_are_counted_and_logged_once_without_their_contents(scanned):
    _, result, logs = scanned
    assert result.sidecar_errors == 2  # the cut JSON and the unclosed XMP
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1 and warnings[0]["count"] == 2
    assert "photoTakenTime" not in str(warnings) and "unclosed" not in str(warnings)


def test_gps_from_exif_beats_the_sidecars(tmp_path):
    from tests.library.test_media_index import write_jpeg

    write_jpeg(tmp_path / "a.jpg", gps=("N", (10.0, 0.0, 0.0), "E", (20.0, 0.0, 0.0)))
    takeout_json(tmp_path / "a.jpg.json", TAKEOUT_AT, 48.8584, 2.2945)
    (item,) = scan_library(tmp_path, "UTC").items
    assert (item.lat, item.lon, item.date_source) == (10.0, 20.0, dating.TAKEOUT)


def test_as_row_carries_the_date_source_to_the_ledger(scanned):
    from ledger.models import MediaItem

    row = scanned[0]["takeout/IMG_0001.jpg"].as_row()
    assert row["date_source"] == dating.TAKEOUT and row["lat"] == pytest.approx(48.8584)
    assert set(row) - {"media_id"} <= set(MediaItem.model_fields)  # every key is a column

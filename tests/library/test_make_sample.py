import datetime as dt
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import gpxpy
import icalendar
import pytest
from PIL import Image, ImageOps

from reels_core import places
from reels_core.domain import Kind, Span
from reels_core.trips import GeoPoint, find_trips, latest_trip, learn_home
from reels_core.windows import is_supported, trip_lookback, window_for
from render_service.duplicates import DUPLICATE
from render_service.media_index import EMPTY, UNREADABLE, scan_library
from tests.library.helpers import select_in_window

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "make_sample.py"
TODAY = dt.date(2024, 2, 29)  # a leap day: ON_THIS_DAY falls back to 28 Feb


def load_script():
    if "make_sample_script" not in sys.modules:
        spec = importlib.util.spec_from_file_location("make_sample_script", SCRIPT)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules["make_sample_script"]


def run_cli(*args: str) -> str:
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("data")
    run_cli("--data-dir", str(data), "--today", TODAY.isoformat())
    return data


@pytest.fixture(scope="module")
def library(data_dir) -> Path:
    return data_dir / "sample-library"


@pytest.fixture(scope="module")
def scan(library):
    return scan_library(library, "Europe/Paris")


def assert_every_window_has_media(items, today: dt.date, tz: str) -> None:
    for span in Span:
        for kind in Kind:
            if kind is Kind.TRIP or not is_supported(span, kind):
                continue  # a trip's window comes from the trip: see test_trip_*
            window = window_for(span, kind, today)
            assert select_in_window(items, window, tz), f"no media for {span.value} {kind.value} on {today} in {tz}"


@pytest.mark.parametrize("tz", ["Europe/Paris", "UTC"])
def test_every_span_and_kind_has_media(library, tz):
    assert_every_window_has_media(scan_library(library, tz).items, TODAY, tz)


def test_recap_week_has_every_day_of_last_iso_week(scan):
    window = window_for(Span.WEEK, Kind.RECAP, TODAY)
    days = {m.taken_at_utc.astimezone(dt.UTC).date() for m in select_in_window(scan.items, window, "UTC")}
    start = window.ranges[0][0]
    assert days == {start + dt.timedelta(days=i) for i in range(7)}


def test_on_this_day_covers_several_earlier_years(scan):
    window = window_for(Span.DAY, Kind.ON_THIS_DAY, TODAY)
    years = {m.taken_at_utc.year for m in select_in_window(scan.items, window, "Europe/Paris")}
    assert len(years) >= 2


def latest_sample_trip(points: list[GeoPoint], today: dt.date, span: Span):
    home = learn_home([p for p in points if p.day < today])
    assert home is not None and places.place_name(home.lat, home.lon) == "Lyon"
    start, end = trip_lookback(span, today)
    return latest_trip(find_trips([p for p in points if p.day < today], home), start, end)


def test_trip_is_found_from_the_scanned_gps_and_named_after_its_place(scan):
    zone = ZoneInfo("Europe/Paris")
    points = [GeoPoint(m.taken_at_utc.astimezone(zone).date(), m.lat, m.lon) for m in scan.items if m.lat is not None]
    trip = latest_sample_trip(points, TODAY, Span.MONTH)
    plan = load_script().plan_library(TODAY)
    (avignon,) = [t for t in plan.trips if t.slug == "avignon"]
    assert trip is not None and (trip.first_day, trip.last_day) == (avignon.first, avignon.last)
    assert trip.nights == 2 and trip.max_km > 150
    assert places.place_name(trip.lat, trip.lon) == "Avignon"
    assert latest_sample_trip(points, TODAY, Span.DAY) is None  # it did not end yesterday


def test_year_recap_has_media_from_several_months_of_last_year(scan):
    window = window_for(Span.YEAR, Kind.RECAP, TODAY)
    months = {m.taken_at_utc.astimezone(dt.UTC).month for m in select_in_window(scan.items, window, "UTC")}
    assert window.ranges == ((dt.date(TODAY.year - 1, 1, 1), dt.date(TODAY.year, 1, 1)),)
    assert len(months) >= 4


def _camera(item) -> bool:
    """Not one of the phone/export files added for issue 12 (tested below)."""
    return not (item.rel_path.startswith(("Takeout/", "WhatsApp/", "Backup/")) or "_phone/" in item.rel_path)


def test_sample_size_kinds_and_skips(scan, library):
    photos = [m for m in scan.items if m.kind == "PHOTO" and _camera(m)]
    videos = [m for m in scan.items if m.kind == "VIDEO" and _camera(m)]
    assert 40 <= len(photos) <= 60
    assert len(videos) == 3
    assert all(2 <= v.duration_s <= 4 and (v.width, v.height) == (640, 360) for v in videos)
    assert sorted(reason for _, reason in scan.skipped) == [DUPLICATE, EMPTY, UNREADABLE]
    jpegs = [m for m in photos if m.rel_path.endswith(".jpg")]
    assert all((m.width, m.height) == (1280, 960) for m in jpegs)
    assert all(80_000 <= m.size_bytes <= 400_000 for m in jpegs)


def test_phone_and_export_files_of_yesterday(scan, library):
    """What phones and exports make (issue 12), all on the RECAP DAY: a HEIC with
    EXIF, a Live Photo, a portrait clip with a display matrix, an HEVC 10-bit HLG clip,
    a clip with speech-like sound, a Takeout photo, WhatsApp files and a duplicate."""
    import av

    yesterday = TODAY - dt.timedelta(days=1)
    folder = f"{yesterday.year}/{yesterday.isoformat()}_phone/"
    items = {m.rel_path: m for m in scan.items if not _camera(m)}
    heic = items[folder + "IMG_0101.HEIC"]
    assert (heic.date_source, heic.tz_offset_min, heic.lat is not None) == ("EXIF", 60, True)
    assert items[folder + "IMG_0102.HEIC"].motion_rel_path == folder + "IMG_0102.MOV"
    assert folder + "IMG_0102.MOV" not in items  # the Live Photo's clip is its still's motion
    takeout = items["Takeout/Google Photos/Photos from 2024/picnic_blanket.jpg"]
    assert takeout.date_source == "TAKEOUT" and takeout.lat is not None
    whatsapp = [m for p, m in items.items() if p.startswith("WhatsApp/")]
    assert len(whatsapp) == 2 and {m.date_source for m in whatsapp} == {"FILENAME"}
    assert ("Backup/" + folder + "IMG_0101.HEIC", DUPLICATE) in scan.skipped
    assert all(m.taken_at_utc.astimezone(ZoneInfo("Europe/Paris")).date() == yesterday for m in items.values())
    clips = {}
    for path, m in items.items():
        if m.kind == "VIDEO":
            with av.open(str(library / path)) as c:
                v = c.streams.video[0]
                rotation = next(c.decode(v)).rotation
                clips[path] = (v.codec_context.name, v.codec_context.pix_fmt, v.codec_context.color_trc,
                               len(c.streams.audio), round(m.duration_s), rotation)  # fmt: skip
    kinds = sorted(clips.values())
    assert ("hevc", "yuv420p10le", 18, 0, 2, 0) in kinds  # HLG (arib-std-b67), 10 bit
    assert ("h264", "yuv420p", 2, 1, 6, 0) in kinds  # the clip with a voice
    assert [k for k in kinds if k[5] in (90, -90, 270)], kinds  # the portrait clip's display matrix


def test_exif_metadata_reads_back(scan):
    photos = [m for m in scan.items if m.kind == "PHOTO"]
    with_offset = [m for m in photos if m.tz_offset_min is not None]
    without = [m for m in photos if m.tz_offset_min is None]
    assert with_offset and without
    assert {m.tz_offset_min for m in with_offset} >= {0, 60, 540}  # Lisbon, Paris in winter, Kyoto
    located = [m for m in photos if m.lat is not None]
    assert any(m.lon < 0 for m in located)  # Lisbon is west of Greenwich
    assert any(abs(m.lat - 45.76) < 0.05 and abs(m.lon - 4.83) < 0.05 for m in located)  # Lyon
    assert any(abs(m.lat - 35.0) < 0.1 and abs(m.lon - 135.75) < 0.1 for m in located)  # Kyoto
    apple_clip = [m for m in scan.items if m.rel_path.endswith(".mov") and _camera(m)]
    assert len(apple_clip) == 1 and apple_clip[0].tz_offset_min == 60


def test_portrait_photo_is_stored_landscape_with_orientation_6(scan, library):
    (portrait,) = [m for m in scan.items if m.orientation != 1]
    assert portrait.orientation == 6 and (portrait.width, portrait.height) == (1280, 960)
    with Image.open(library / portrait.rel_path) as img:
        upright = ImageOps.exif_transpose(img).convert("RGB")
    assert upright.size == (960, 1280)
    top = upright.crop((0, 0, 960, 200)).resize((1, 1)).getpixel((0, 0))
    bottom = upright.crop((0, 1080, 960, 1280)).resize((1, 1)).getpixel((0, 0))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)  # RGB pixels
    assert top[2] > top[0]  # sky on top once rotated...
    assert bottom[1] > bottom[2]  # ...and the lawn at the bottom


def test_context_pack(library, scan):
    context = library / ".reels-context"
    calendar = icalendar.Calendar.from_ical((context / "calendar.ics").read_bytes())
    events = list(calendar.walk("VEVENT"))
    uids = [str(e["UID"]) for e in events]
    assert len(uids) == len(set(uids)) >= 4
    assert any(str(e.get("RRULE", {}).get("FREQ", [""])[0]) == "WEEKLY" for e in events)
    yesterday = TODAY - dt.timedelta(days=1)
    birthdays = [e for e in events if "birthday" in str(e["SUMMARY"]).lower() and type(e.decoded("DTSTART")) is dt.date]
    assert birthdays
    start = birthdays[0].decoded("DTSTART")
    assert (start.month, start.day) == (yesterday.month, yesterday.day)
    assert any(m.taken_at_utc.date() == yesterday for m in scan.items)

    gpx = gpxpy.parse((context / "locations.gpx").read_text(encoding="utf-8"))
    points = [p for t in gpx.tracks for s in t.segments for p in s.points]
    assert points
    for photo in (m for m in scan.items if m.lat is not None):
        near = [
            p
            for p in points
            if abs(p.latitude - photo.lat) < 0.02
            and abs(p.longitude - photo.lon) < 0.02
            and abs((p.time - photo.taken_at_utc).total_seconds()) <= 1800
        ]
        assert near, f"no track point near {photo.rel_path}"

    messages = json.loads((context / "messages.json").read_text(encoding="utf-8"))
    assert len(messages) >= 5
    for message in messages:
        assert set(message) == {"ts", "from", "to", "text", "thread", "id"}
        assert isinstance(message["to"], list) and message["to"]
        assert dt.datetime.fromisoformat(message["ts"]).tzinfo is not None
    assert len({m["id"] for m in messages}) == len(messages)

    notes = sorted(p.suffix for p in (context / "notes").iterdir())
    assert len(notes) >= 2 and set(notes) <= {".md", ".txt"}


def test_second_run_for_the_same_day_changes_nothing(data_dir, library, scan):
    marker = library / ".sample.json"
    before = marker.stat().st_mtime_ns
    out = run_cli("--data-dir", str(data_dir), "--today", TODAY.isoformat())
    assert "up to date" in out
    assert marker.stat().st_mtime_ns == before
    assert [m.media_id for m in scan_library(library, "Europe/Paris").items] == [m.media_id for m in scan.items]


def test_another_day_rebuilds_in_place(tmp_path):
    make_sample = load_script()
    old = tmp_path / "sample-library"
    old.mkdir()
    (old / ".sample.json").write_text(
        json.dumps({"today": "2025-11-02", "generator_version": make_sample.GENERATOR_VERSION})
    )
    (old / "IMG_from_the_old_day.jpg").write_bytes(b"old")
    # Monday 5 Jan 2026: last ISO week straddles the new year, last month is December.
    today = dt.date(2026, 1, 5)
    assert make_sample.needs_rebuild(old, today)
    assert not make_sample.needs_rebuild(old, dt.date(2025, 11, 2))
    library, rebuilt = make_sample.build_sample(tmp_path, today)
    assert rebuilt and library == old
    assert json.loads((library / ".sample.json").read_text())["today"] == "2026-01-05"
    assert not (library / "IMG_from_the_old_day.jpg").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample-library"]  # no staging leftovers
    assert_every_window_has_media(scan_library(library, "UTC").items, today, "UTC")


def test_refuses_to_replace_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "sample-library").mkdir()
    (tmp_path / "sample-library" / "mine.jpg").write_bytes(b"precious")
    with pytest.raises(SystemExit):
        load_script().build_sample(tmp_path, TODAY)
    assert (tmp_path / "sample-library" / "mine.jpg").read_bytes() == b"precious"


@pytest.mark.parametrize("tz", ["UTC", "Europe/Paris"])
def test_plan_covers_every_window_for_every_day_of_a_leap_year(tz):
    """The layout, without painting: every anchor day of 2024 (and the turn of the
    year) gets media in all six windows, with filenames that never collide."""
    from types import SimpleNamespace

    make_sample = load_script()
    zone = ZoneInfo(tz)

    def as_scanned(photo):  # what scan_library will read back from this photo
        if photo.camera == "compact" and not photo.png:  # no offset: read in the library zone
            return photo.local.replace(tzinfo=None).replace(tzinfo=zone).astimezone(dt.UTC)
        return photo.utc

    day = dt.date(2023, 12, 25)
    while day <= dt.date(2025, 1, 8):
        plan = make_sample.plan_library(day)
        items = [SimpleNamespace(taken_at_utc=as_scanned(p)) for p in plan.photos]
        items += [SimpleNamespace(taken_at_utc=v.utc) for v in plan.videos]
        assert_every_window_has_media(items, day, tz)
        # A trip of 2+ nights ends in the month before every anchor day (TRIP x MONTH).
        located = [p for p in plan.photos if p.camera == "phone" and not p.png]
        points = [
            GeoPoint(
                as_scanned(p).astimezone(zone).date(),
                make_sample.PLACES[p.place].spots[p.spot].lat,
                make_sample.PLACES[p.place].spots[p.spot].lon,
            )
            for p in located
        ]
        trip = latest_sample_trip(points, day, Span.MONTH)
        assert trip is not None and trip.nights >= 2, day
        names = [make_sample._photo_rel_path(p) for p in plan.photos]
        assert len(names) == len(set(names)), day
        day += dt.timedelta(days=1)

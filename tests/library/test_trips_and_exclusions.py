"""Home, trips and exclusions as pure functions (reels_core/trips.py,
reels_core/exclusions.py), and trips found from a context pack's locations.gpx
(render_service/trips.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import gpxpy.gpx
import pytest
from sqlalchemy.engine import Engine

from ledger.db import make_engine, migrate
from reels_core.domain import Kind, Span
from reels_core.errors import FailedPrecondition
from reels_core.exclusions import ExclusionSet, MediaRef, normalize_folder, reel_holds_hidden
from reels_core.libraries import CONTEXT_DIR, LibraryConfig
from reels_core.trips import GeoPoint, Home, find_trips, latest_trip, learn_home
from render_service.trips import find_trip

LYON = (45.76, 4.84)
LYON_EDGE = (45.74, 4.76)  # another 0.25-degree cell, the same town
NICE = (43.70, 7.27)  # ~300 km from Lyon
AVIGNON = (43.95, 4.81)  # ~200 km
D = dt.date


def at(day: dt.date, where: tuple[float, float], n: int = 1) -> list[GeoPoint]:
    return [GeoPoint(day, *where)] * n


def days(first: dt.date, count: int) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range(count)]


def test_home_is_the_place_seen_on_the_most_days_not_the_most_photos():
    points = [p for d in days(D(2025, 1, 1), 6) for p in at(d, LYON if d.day % 2 else LYON_EDGE)]
    points += at(D(2025, 2, 1), NICE, 500)  # one big day away
    home = learn_home(points)
    assert home is not None and abs(home.lat - 45.75) < 0.05 and home.days == 6
    assert learn_home(reversed(points)) == home  # the order of the points does not matter
    assert learn_home([GeoPoint(D(2025, 1, 1), 0.0, 0.0)]) is None  # Null Island is no fix


def test_a_trip_is_two_nights_or_more_away_and_gaps_without_fixes_do_not_end_it():
    home = Home(*LYON, days=10)
    points = at(D(2025, 3, 1), LYON)
    points += at(D(2025, 3, 7), NICE) + at(D(2025, 3, 9), NICE, 3)  # Fri, (no photo Sat), Sun: 2 nights
    points += at(D(2025, 3, 10), LYON)
    points += at(D(2025, 3, 20), AVIGNON) + at(D(2025, 3, 21), AVIGNON)  # 1 night: not a trip
    points += at(D(2025, 4, 1), AVIGNON) + at(D(2025, 4, 2), LYON, 2) + at(D(2025, 4, 3), AVIGNON)  # home between
    (trip,) = find_trips(points, home)
    assert (trip.first_day, trip.last_day, trip.nights) == (D(2025, 3, 7), D(2025, 3, 9), 2)
    assert 250 < trip.max_km < 350 and abs(trip.lat - NICE[0]) < 0.01
    assert find_trips(points, home, min_km=400) == []
    assert find_trips(points, home, min_nights=1)[-1].first_day == D(2025, 3, 20)


def test_a_day_mostly_at_home_is_home_and_long_gaps_split_runs():
    home = Home(*LYON, days=10)
    mixed = at(D(2025, 5, 1), NICE) + at(D(2025, 5, 2), NICE) + at(D(2025, 5, 2), LYON, 2) + at(D(2025, 5, 3), NICE)
    assert find_trips(mixed, home) == []
    gap = at(D(2025, 6, 1), NICE) + at(D(2025, 6, 5), NICE)  # three days without a fix
    assert find_trips(gap, home) == []


def test_latest_trip_is_the_one_that_ended_last_within_the_lookback():
    home = Home(*LYON, days=10)
    points = [p for d in days(D(2025, 1, 10), 3) for p in at(d, NICE)]
    points += [p for d in days(D(2025, 2, 10), 4) for p in at(d, AVIGNON)]
    trips = find_trips(points, home)
    assert [t.first_day for t in trips] == [D(2025, 1, 10), D(2025, 2, 10)]
    assert latest_trip(trips, D(2025, 1, 1), D(2025, 3, 1)) == trips[1]
    assert latest_trip(trips, D(2025, 1, 1), D(2025, 2, 13)) == trips[0]  # Avignon ends on the 13th
    assert latest_trip(trips, D(2025, 2, 14), D(2025, 3, 1)) is None


def test_exclusions_hide_by_id_path_folder_and_instant():
    t = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)
    ex = ExclusionSet(
        "lib",
        3,
        media_ids=frozenset({"id-1"}),
        paths=frozenset({"2025/a.jpg"}),
        folders=("2024/work",),
        ranges_utc=((t, t + dt.timedelta(days=1)),),
    )
    assert ex.hides(MediaRef("id-1", "x.jpg", t - dt.timedelta(days=9)))
    assert ex.hides(MediaRef("edited-new-id", "2025/a.jpg", t - dt.timedelta(days=9)))  # same path
    assert ex.hides(MediaRef("z", "2024/work/b.jpg", t - dt.timedelta(days=9)))
    assert not ex.hides(MediaRef("z", "2024/workshop/b.jpg", t - dt.timedelta(days=9)))
    assert ex.hides(MediaRef("z", "c.jpg", t)) and not ex.hides(MediaRef("z", "c.jpg", t + dt.timedelta(days=1)))
    assert reel_holds_hidden([MediaRef("q", "q.jpg", t - dt.timedelta(days=9)), MediaRef("id-1", "", t)], ex)
    assert not reel_holds_hidden([MediaRef("id-1", "", t)], ExclusionSet("lib"))


@pytest.mark.parametrize(
    "raw, folder",
    [
        ("2024/work", "2024/work"),
        ("./2024//work/", "2024/work"),
        ("2024\\work", "2024/work"),
        ("../x", None),
        ("a/../../b", None),
        ("/etc", None),
        ("", None),
        (".", None),
    ],
)
def test_folders_are_normalised_and_never_climb(raw, folder):
    assert normalize_folder(raw) == folder


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(None, tmp_path / "data")
    migrate(engine)
    return engine


def test_trip_found_from_the_context_pack_gpx_alone(tmp_path, engine):
    lib = LibraryConfig("gpx", tmp_path / "library", "Europe/Paris")
    (lib.root / CONTEXT_DIR).mkdir(parents=True)
    gpx = gpxpy.gpx.GPX()
    track = gpxpy.gpx.GPXTrack()
    segment = gpxpy.gpx.GPXTrackSegment()
    for day in days(D(2025, 5, 1), 10):  # ten days at home, then Friday to Sunday in Avignon
        segment.points.append(gpxpy.gpx.GPXTrackPoint(*LYON, time=dt.datetime.combine(day, dt.time(12), dt.UTC)))
    for day in days(D(2025, 5, 16), 3):
        segment.points.append(gpxpy.gpx.GPXTrackPoint(*AVIGNON, time=dt.datetime.combine(day, dt.time(12), dt.UTC)))
    track.segments.append(segment)
    gpx.tracks.append(track)
    (lib.root / CONTEXT_DIR / "locations.gpx").write_text(gpx.to_xml(), encoding="utf-8")

    found = find_trip(engine, lib, Span.MONTH, D(2025, 6, 1))
    assert (found.window.kind, found.window.ranges) == (Kind.TRIP, ((D(2025, 5, 16), D(2025, 5, 19)),))
    assert found.place == "Avignon, France"
    with pytest.raises(FailedPrecondition) as none:
        find_trip(engine, lib, Span.WEEK, D(2025, 6, 1))
    assert none.value.reason == "NO_TRIP"
    (lib.root / CONTEXT_DIR / "locations.gpx").write_text("not xml", encoding="utf-8")
    with pytest.raises(FailedPrecondition) as no_home:
        find_trip(engine, lib, Span.MONTH, D(2025, 6, 1))
    assert no_home.value.reason == "NO_HOME"

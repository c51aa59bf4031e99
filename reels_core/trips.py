"""Trips: where home is, and the stays far from it, from GPS points alone (pure).

A point is one GPS fix on a local date (a geotagged photo or video, or a track point
of the context pack's ``locations.gpx``). Everything here is a function of the
points, so the same library always gives the same home and the same trips.

**Home** is the place seen on the most *distinct days* (not the most points: one
party of 300 photos does not make a home). Points fall into cells of
``HOME_CELL_DEG`` (about 28 km); a cell scores the days seen in it and its eight
neighbours (so a town cut by a cell edge still counts as one place), and home is
the mean of the points of the best cell. Ties go to the cell with more points, then
to the smallest cell index, so the answer never depends on the order of the points.

**A trip** is a run of *away* days: a day whose fixes are mostly at least
``min_km`` from home. A day with no fix at all does not end a run if it is at most
``MAX_GAP_DAYS`` long (nobody photographs every day of a holiday); a day at home
does. A run is a trip when it spans at least ``min_nights`` nights
(``last - first >= min_nights`` days): Friday to Sunday is two nights.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reels_core.places import distance_km

DEFAULT_TRIP_MIN_KM = 100.0
MIN_NIGHTS = 2
MAX_GAP_DAYS = 2
HOME_CELL_DEG = 0.25


@dataclass(frozen=True)
class GeoPoint:
    day: dt.date  # local date, in the library's time zone
    lat: float
    lon: float


@dataclass(frozen=True)
class Home:
    lat: float
    lon: float
    days: int  # distinct days seen in and around its cell


@dataclass(frozen=True)
class Trip:
    first_day: dt.date
    last_day: dt.date  # inclusive
    lat: float  # the away fix nearest the trip's centre: where to name it after
    lon: float
    max_km: float  # farthest from home

    @property
    def nights(self) -> int:
        return (self.last_day - self.first_day).days


def _valid(p: GeoPoint) -> bool:
    return (
        math.isfinite(p.lat)
        and math.isfinite(p.lon)
        and -90 <= p.lat <= 90
        and -180 <= p.lon <= 180
        and not (p.lat == 0 and p.lon == 0)  # "Null Island": a missing fix written as zeros
    )


def _cell(p: GeoPoint) -> tuple[int, int]:
    return math.floor(p.lat / HOME_CELL_DEG), math.floor(p.lon / HOME_CELL_DEG)


def learn_home(points: Iterable[GeoPoint]) -> Home | None:
    """The place seen on the most distinct days (see the module docstring); None
    without any valid point."""
    days: dict[tuple[int, int], set[dt.date]] = defaultdict(set)
    members: dict[tuple[int, int], list[GeoPoint]] = defaultdict(list)
    for p in points:
        if _valid(p):
            cell = _cell(p)
            days[cell].add(p.day)
            members[cell].append(p)
    if not days:
        return None

    def score(cell: tuple[int, int]) -> tuple[int, int, tuple[int, int]]:
        around: set[dt.date] = set()
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                around |= days.get((cell[0] + dy, cell[1] + dx), set())
        return len(around), len(members[cell]), (-cell[0], -cell[1])

    best = max(days, key=score)
    pts = members[best]
    return Home(lat=sum(p.lat for p in pts) / len(pts), lon=sum(p.lon for p in pts) / len(pts), days=score(best)[0])


def find_trips(
    points: Iterable[GeoPoint],
    home: Home,
    min_km: float = DEFAULT_TRIP_MIN_KM,
    min_nights: int = MIN_NIGHTS,
) -> list[Trip]:
    """Every stay at least ``min_km`` from ``home`` for at least ``min_nights``
    nights, oldest first."""
    by_day: dict[dt.date, list[tuple[GeoPoint, float]]] = defaultdict(list)
    for p in points:
        if _valid(p):
            by_day[p.day].append((p, distance_km(home.lat, home.lon, p.lat, p.lon)))
    away_days: dict[dt.date, bool] = {}
    for day, fixes in by_day.items():
        far = sum(1 for _, km in fixes if km >= min_km)
        away_days[day] = far * 2 > len(fixes)  # mostly away; a tie counts as home

    trips: list[Trip] = []
    run: list[dt.date] = []
    for day in sorted(away_days):
        if not away_days[day]:
            _close(run, by_day, min_km, min_nights, trips)
            run = []
            continue
        if run and (day - run[-1]).days - 1 > MAX_GAP_DAYS:
            _close(run, by_day, min_km, min_nights, trips)
            run = []
        run.append(day)
    _close(run, by_day, min_km, min_nights, trips)
    return trips


def _close(
    run: Sequence[dt.date],
    by_day: dict[dt.date, list[tuple[GeoPoint, float]]],
    min_km: float,
    min_nights: int,
    trips: list[Trip],
) -> None:
    if not run or (run[-1] - run[0]).days < min_nights:
        return
    away = [(p, km) for day in run for p, km in by_day[day] if km >= min_km]
    lat = sum(p.lat for p, _ in away) / len(away)
    lon = sum(p.lon for p, _ in away) / len(away)
    centre = min(away, key=lambda f: (distance_km(lat, lon, f[0].lat, f[0].lon), f[0].lat, f[0].lon))[0]
    trips.append(Trip(run[0], run[-1], centre.lat, centre.lon, max(km for _, km in away)))


def latest_trip(trips: Iterable[Trip], start: dt.date, end: dt.date) -> Trip | None:
    """The trip whose last day is the latest within ``[start, end)``, if any."""
    inside = [t for t in trips if start <= t.last_day < end]
    return max(inside, key=lambda t: (t.last_day, t.first_day)) if inside else None

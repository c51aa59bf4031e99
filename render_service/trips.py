"""Finding the trip a TRIP reel shows: GPS points from the index and the context
pack, home and trips from ``reels_core.trips``, and the window of the most recent
trip whose last day falls in the span's lookback (``reels_core.windows``).

Points are the library's geotagged media (hidden ones left out, so hiding a trip
hides it from TRIP reels too) and the track, route and waypoint points of
``.reels-context/locations.gpx`` (read with gpxpy, cached on the file's size and
mtime). Their local date is taken in the library's time zone, as windows are.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import gpxpy
import sqlalchemy as sa
import structlog
from gpxpy.gpx import GPXRoutePoint, GPXTrackPoint, GPXWaypoint
from sqlalchemy.engine import Engine
from sqlmodel import col

from ledger.models import MediaItem
from ledger.readonly import read_session
from reels_core import places
from reels_core.domain import Span, Window
from reels_core.errors import FailedPrecondition
from reels_core.exclusions import ExclusionSet, MediaRef
from reels_core.libraries import LibraryConfig
from reels_core.trips import DEFAULT_TRIP_MIN_KM, GeoPoint, Home, Trip, find_trips, latest_trip, learn_home
from reels_core.windows import TRIP_LOOKBACK_DAYS, trip_lookback, trip_window

log = structlog.get_logger("trips")

GPX_NAME = "locations.gpx"


@dataclass(frozen=True)
class FoundTrip:
    trip: Trip
    home: Home
    window: Window
    place: str  # "Marseille, France", or "" when the spot has no name


def _media_points(engine: Engine, lib: LibraryConfig, exclusions: ExclusionSet | None) -> list[GeoPoint]:
    zone = ZoneInfo(lib.timezone)
    stmt = sa.select(
        col(MediaItem.id), col(MediaItem.rel_path), col(MediaItem.taken_at_utc), col(MediaItem.lat), col(MediaItem.lon)
    ).where(col(MediaItem.library_key) == lib.key, col(MediaItem.lat).is_not(None), col(MediaItem.lon).is_not(None))
    with read_session(engine) as session:
        rows = session.execute(stmt).all()
    out = []
    for media_id, rel_path, taken, lat, lon in rows:
        taken = taken if taken.tzinfo else taken.replace(tzinfo=dt.UTC)
        if exclusions and exclusions.hides(MediaRef(media_id, rel_path, taken)):
            continue
        out.append(GeoPoint(taken.astimezone(zone).date(), float(lat), float(lon)))
    return out


_gpx_lock = threading.Lock()
_gpx_cache: dict[Path, tuple[tuple[int, int], list[tuple[dt.datetime, float, float]]]] = {}


def _gpx_fixes(path: Path) -> list[tuple[dt.datetime, float, float]]:
    """(aware UTC time, lat, lon) of every timed point of a GPX file; [] when the file
    is missing or unreadable (a context pack is optional and never fatal)."""
    try:
        st = path.stat()
    except OSError:
        return []
    stamp = (st.st_size, st.st_mtime_ns)
    with _gpx_lock:
        cached = _gpx_cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    fixes: list[tuple[dt.datetime, float, float]] = []
    try:
        gpx = gpxpy.parse(path.read_text(encoding="utf-8"))
        points: list[GPXTrackPoint | GPXRoutePoint | GPXWaypoint] = [
            p for t in gpx.tracks for s in t.segments for p in s.points
        ]
        points += [p for r in gpx.routes for p in r.points]
        points += gpx.waypoints
        for p in points:
            if p.time is None:
                continue
            at = p.time if p.time.tzinfo else p.time.replace(tzinfo=dt.UTC)
            fixes.append((at.astimezone(dt.UTC), float(p.latitude), float(p.longitude)))
    except Exception as exc:  # noqa: BLE001  # a broken optional file means no track points
        log.warning("locations.gpx unreadable", error=type(exc).__name__)
        fixes = []
    with _gpx_lock:
        _gpx_cache[path] = (stamp, fixes)
    return fixes


def _context_points(lib: LibraryConfig, exclusions: ExclusionSet | None) -> list[GeoPoint]:
    zone = ZoneInfo(lib.timezone)
    out = []
    for at, lat, lon in _gpx_fixes(lib.context_dir / GPX_NAME):
        if exclusions and exclusions.hides(MediaRef("", "", at)):  # only a date range can hide a track point
            continue
        out.append(GeoPoint(at.astimezone(zone).date(), lat, lon))
    return out


def library_points(engine: Engine, lib: LibraryConfig, exclusions: ExclusionSet | None = None) -> list[GeoPoint]:
    return _media_points(engine, lib, exclusions) + _context_points(lib, exclusions)


def find_trip(
    engine: Engine,
    lib: LibraryConfig,
    span: Span,
    anchor: dt.date,
    *,
    min_km: float = DEFAULT_TRIP_MIN_KM,
    exclusions: ExclusionSet | None = None,
) -> FoundTrip:
    """The most recent trip whose last day is in the ``span``'s lookback before
    ``anchor``; FAILED_PRECONDITION ``NO_HOME`` without any GPS, ``NO_TRIP`` when no
    trip ended in the lookback."""
    points = [p for p in library_points(engine, lib, exclusions) if p.day < anchor]
    home = learn_home(points)
    if home is None:
        raise FailedPrecondition("NO_HOME", f"library {lib.key!r} has no GPS fix to learn home from")
    start, end = trip_lookback(span, anchor)
    trip = latest_trip(find_trips(points, home, min_km), start, end)
    if trip is None:
        raise FailedPrecondition(
            "NO_TRIP",
            f"no stay of 2 nights or more at least {min_km:g} km from home ended in the "
            f"{TRIP_LOOKBACK_DAYS[span]} days before {anchor}",
        )
    return FoundTrip(
        trip=trip,
        home=home,
        window=trip_window(span, anchor, trip.first_day, trip.last_day),
        place=places.place_label(trip.lat, trip.lon) or "",
    )

"""Where the person was: ``locations.gpx`` or ``locations.json`` (read-only).

``locations.gpx`` is read with gpxpy (track, route and waypoint points that carry a
time). ``locations.json`` is a list of ``{"ts", "lat", "lon"}`` (``ts`` ISO-8601
or epoch seconds), or an object with such a list under ``"points"``. When both
exist the GPX file wins.

Points become **stays**: runs of consecutive points within STAY_RADIUS_KM of the
run's centre, with arrival and departure times and an offline place name. **Home**
is the place seen on the most distinct local days over the whole file (ties: most
points), so each stay is labelled ``home`` or ``trip`` (``unknown`` without a place).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gpxpy
from gpxpy.gpx import GPXRoutePoint, GPXTrackPoint, GPXWaypoint

from reels_core import places
from scripter_service.tools.common import file_fingerprint, parse_time, read_context_file, to_local

GPX_NAME = "locations.gpx"
JSON_NAME = "locations.json"
STAY_RADIUS_KM = 2.0


@dataclass(frozen=True)
class Point:
    ts: dt.datetime  # aware, library time zone
    lat: float
    lon: float


@dataclass
class Stay:
    lat: float
    lon: float
    arrival: dt.datetime
    departure: dt.datetime
    points: int
    place: places.Place | None = None
    label: str = "unknown"

    def as_dict(self) -> dict[str, Any]:
        return {
            "place": self.place.city if self.place else "",
            "country": self.place.country if self.place else "",
            "lat": round(self.lat, 4),
            "lon": round(self.lon, 4),
            "arrival": self.arrival.isoformat(),
            "departure": self.departure.isoformat(),
            "points": self.points,
            "label": self.label,
        }


class LocationsProvider:
    """Points and stays of a context pack; missing files mean no locations."""

    def __init__(self, context_dir: str | Path, tz: dt.tzinfo) -> None:
        self.context_dir = Path(context_dir)
        self.tz = tz
        self._lock = threading.Lock()
        self._key: object = None
        self._points: list[Point] = []
        self._stays: list[Stay] = []
        self._home: places.Place | None = None

    def points(self, start: dt.datetime, end: dt.datetime) -> list[Point]:
        self._load()
        start, end = to_local(start, self.tz), to_local(end, self.tz)
        return [p for p in self._points if start <= p.ts < end]

    def stays(self, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
        """Stays overlapping ``[start, end)``, oldest first."""
        self._load()
        start, end = to_local(start, self.tz), to_local(end, self.tz)
        return [s.as_dict() for s in self._stays if s.arrival < end and s.departure >= start]

    def home(self) -> str:
        """'Nice, France', or '' when no point has a place."""
        self._load()
        return self._home.label if self._home else ""

    # ------------------------------------------------------------------ loading

    def _load(self) -> None:
        gpx_path, json_path = self.context_dir / GPX_NAME, self.context_dir / JSON_NAME
        key = (file_fingerprint(gpx_path), file_fingerprint(json_path))
        with self._lock:
            if key == self._key:
                return
            if key[0] is not None:
                pts = _read_gpx(gpx_path, self.tz)
            elif key[1] is not None:
                pts = _read_json(json_path, self.tz)
            else:
                pts = []
            pts.sort(key=lambda p: p.ts)
            self._points = pts
            self._stays, self._home = _stays_and_home(pts)
            self._key = key


def _read_gpx(path: Path, tz: dt.tzinfo) -> list[Point]:
    data = read_context_file(path, path.parent)
    if data is None:
        return []
    gpx = gpxpy.parse(data.decode("utf-8", errors="replace"))
    raw: list[GPXTrackPoint | GPXRoutePoint | GPXWaypoint]
    raw = [p for track in gpx.tracks for seg in track.segments for p in seg.points]
    raw += [p for route in gpx.routes for p in route.points]
    raw += list(gpx.waypoints)
    out = []
    for p in raw:
        if p.time is None:
            continue
        ts = p.time if p.time.tzinfo else p.time.replace(tzinfo=dt.UTC)  # GPX times are UTC
        out.append(Point(ts.astimezone(tz), float(p.latitude), float(p.longitude)))
    return out


def _read_json(path: Path, tz: dt.tzinfo) -> list[Point]:
    raw = read_context_file(path, path.parent)
    if raw is None:
        return []
    data = json.loads(raw.decode("utf-8"))
    if isinstance(data, dict):
        data = data.get("points", [])
    out = []
    for row in data if isinstance(data, list) else []:
        try:
            out.append(Point(parse_time(row["ts"], tz), float(row["lat"]), float(row["lon"])))
        except (KeyError, TypeError, ValueError):
            continue  # a malformed point is skipped, never fatal
    return out


def _stays_and_home(points: list[Point]) -> tuple[list[Stay], places.Place | None]:
    stays: list[Stay] = []
    for p in points:
        current = stays[-1] if stays else None
        if current and places.distance_km(current.lat, current.lon, p.lat, p.lon) <= STAY_RADIUS_KM:
            n = current.points
            current.lat = (current.lat * n + p.lat) / (n + 1)
            current.lon = (current.lon * n + p.lon) / (n + 1)
            current.points = n + 1
            current.departure = p.ts
        else:
            stays.append(Stay(p.lat, p.lon, p.ts, p.ts, 1))

    point_places = places.places([(p.lat, p.lon) for p in points])
    days: dict[places.Place, set[dt.date]] = {}
    counts: Counter[places.Place] = Counter()
    for p, found in zip(points, point_places, strict=True):
        if found is not None:
            days.setdefault(found, set()).add(p.ts.date())
            counts[found] += 1
    home = max(days, key=lambda pl: (len(days[pl]), counts[pl]), default=None)

    for stay, found in zip(stays, places.places([(s.lat, s.lon) for s in stays]), strict=True):
        stay.place = found
        stay.label = "unknown" if found is None else ("home" if found == home else "trip")
    return stays, home

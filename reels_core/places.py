"""Offline place names from GPS coordinates.

Backed by the ``reverse-geocode`` package (the GeoNames "cities1000" set shipped in
its wheel, no network). The nearest town is returned, unless it is farther than
``MAX_DISTANCE_KM`` (open sea, polar ice), in which case there is no name.

Lookups are cached on coordinates rounded to ~100 m, so the many photos taken at one
spot cost one KD-tree query. The data set loads once per process (~1 s) on first use.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

MAX_DISTANCE_KM = 100.0
_ROUND_DIGITS = 3  # ~110 m of latitude: finer than any city, coarse enough to cache
_load_lock = threading.Lock()


@dataclass(frozen=True)
class Place:
    city: str
    country: str
    country_code: str

    @property
    def label(self) -> str:
        """'Nice, France' (the city alone when the country is unknown)."""
        return f"{self.city}, {self.country}" if self.country else self.city


def place(lat: float | None, lon: float | None) -> Place | None:
    """The town nearest to (lat, lon), or None for missing/invalid/remote points."""
    key = _key(lat, lon)
    return None if key is None else _lookup(*key)


def place_name(lat: float | None, lon: float | None) -> str | None:
    """The short name used in titles and captions: the city, e.g. 'Nice'."""
    found = place(lat, lon)
    return found.city if found else None


def place_label(lat: float | None, lon: float | None) -> str | None:
    """City and country, e.g. 'Nice, France'."""
    found = place(lat, lon)
    return found.label if found else None


def places(coords: Iterable[tuple[float | None, float | None]]) -> list[Place | None]:
    """Batch form of :func:`place`; uncached points are looked up in one query."""
    keys = [_key(lat, lon) for lat, lon in coords]
    missing = sorted({k for k in keys if k is not None and k not in _cache})
    if missing:
        for k, found in zip(missing, _query(missing), strict=True):
            _remember(k, found)
    return [None if k is None else _lookup(*k) for k in keys]


def _key(lat: float | None, lon: float | None) -> tuple[float, float] | None:
    if lat is None or lon is None:
        return None
    try:
        lat_f, lon_f = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lat_f) and math.isfinite(lon_f)):
        return None
    if not (-90.0 <= lat_f <= 90.0 and -180.0 <= lon_f <= 180.0):
        return None
    if lat_f == 0.0 and lon_f == 0.0:  # "Null Island": a missing fix written as zeros
        return None
    return round(lat_f, _ROUND_DIGITS), round(lon_f, _ROUND_DIGITS)


_cache: dict[tuple[float, float], Place | None] = {}
_CACHE_MAX = 100_000


def _remember(key: tuple[float, float], found: Place | None) -> None:
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[key] = found


def _lookup(lat: float, lon: float) -> Place | None:
    key = (lat, lon)
    if key not in _cache:
        _remember(key, _query([key])[0])
    return _cache[key]


# GeoNames names city districts "Lyon 06", "Paris 01", "Marseille 08": a caption
# wants the city.
_DISTRICT = re.compile(r"\s+\d{1,2}$")


def _city(name: str) -> str:
    return _DISTRICT.sub("", name)


def _query(keys: list[tuple[float, float]]) -> list[Place | None]:
    data = _geocoder()
    results = data.query(keys)
    out: list[Place | None] = []
    for (lat, lon), row in zip(keys, results, strict=True):
        if distance_km(lat, lon, row["latitude"], row["longitude"]) > MAX_DISTANCE_KM:
            out.append(None)
            continue
        out.append(
            Place(
                city=_city(str(row.get("city") or "")),
                country=str(row.get("country") or ""),
                country_code=str(row.get("country_code") or ""),
            )
        )
    return out


class _Geocoder(Protocol):
    """What is used of ``reverse_geocode.GeocodeData`` (the package ships no types)."""

    def query(self, coordinates: Sequence[tuple[float, float]]) -> list[dict[str, Any]]: ...


@lru_cache(maxsize=1)
def _geocoder() -> _Geocoder:
    with _load_lock:
        import reverse_geocode

        data: _Geocoder = reverse_geocode.GeocodeData()
        return data


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, a)))

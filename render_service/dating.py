"""When and where a media file was taken, from the sources beyond its own header.

``media_index`` reads the header (EXIF for photos, QuickTime ``creation_time`` /
``com.apple.quicktime.creationdate`` for videos) and hands the result to
``resolve``, which takes the first source that knows, in this order:

1. ``EXIF`` ``DateTimeOriginal`` + ``OffsetTimeOriginal`` (photos, read by the caller);
2. ``XMP``: a sidecar ``photo.jpg.xmp`` or ``photo.xmp`` (``exif:DateTimeOriginal``,
   ``xmp:CreateDate``, ``photoshop:DateCreated``; ``exif:GPSLatitude``/``GPSLongitude``);
3. ``TAKEOUT``: a Google Takeout JSON sidecar (``photoTakenTime.timestamp``,
   ``geoData``), found under Takeout's own names (see ``takeout_names``);
4. ``QUICKTIME``: the video container's creation time (read by the caller);
5. ``FILENAME``: camera and messenger names (``IMG_20230101_123456``,
   ``IMG-20230101-WA0001``...), as wall time in the library zone;
6. ``MTIME``: the file's modification time.

GPS comes from EXIF, then XMP, then Takeout. A sidecar that is larger than
``MAX_SIDECAR_BYTES``, unreadable or not valid JSON/XML is ignored and counted
(``Sidecars.errors``); nothing read from it is ever logged. Pure: file reads and
no service, ledger or logging dependencies.

Sidecars are looked up in the names of the folder being walked (``folder_sidecars``,
built once per folder), so a folder without any costs one suffix test per entry and
no ``stat`` per media file.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import xml.etree.ElementTree as ET  # DTDs are refused before parsing; expat >= 2.4.1 bounds entity expansion
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

# Where a date came from (stable strings: ``ScannedMedia.date_source``).
EXIF = "EXIF"
XMP = "XMP"
TAKEOUT = "TAKEOUT"
QUICKTIME = "QUICKTIME"
FILENAME = "FILENAME"
MTIME = "MTIME"

MAX_SIDECAR_BYTES = 1 << 20  # a real XMP or Takeout sidecar is a few kB
_TAKEOUT_MAX_NAME = 51  # Takeout cuts a sidecar's whole name, ".json" included, to this
_SUPPLEMENTAL = ".supplemental-metadata"
_SIDECAR_SUFFIXES = (".json", ".xmp")

_FILENAME_MIN_YEAR, _FILENAME_MAX_YEAR = 1990, 2100
_SIDECAR_MIN_YEAR, _SIDECAR_MAX_YEAR = 1971, 2100  # 1970 is an unset clock


@dataclass(frozen=True)
class Dated:
    taken_at_utc: dt.datetime  # aware, UTC
    tz_offset_min: int | None  # the local offset when the source says it
    source: str


@dataclass(frozen=True)
class Reading:
    """What one sidecar says; either part may be missing."""

    taken: Dated | None = None
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class Sidecars:
    xmp: Reading | None = None
    takeout: Reading | None = None
    errors: int = 0  # sidecars present but ignored (too large, unreadable, invalid)


@dataclass(frozen=True)
class Resolved:
    taken: Dated
    lat: float | None
    lon: float | None


def folder_sidecars(names: Iterable[str]) -> dict[str, str]:
    """Lower-cased name -> real name of the sidecar candidates among a folder's entries."""
    return {low: name for name in names if (low := name.lower()).endswith(_SIDECAR_SUFFIXES)}


def xmp_names(media_name: str) -> list[str]:
    """Lower-cased names an XMP sidecar of ``media_name`` may have (darktable's, then Lightroom's)."""
    name = media_name.lower()
    return [name + ".xmp", os.path.splitext(name)[0] + ".xmp"]


def takeout_names(media_name: str) -> list[str]:
    """Lower-cased names Google Takeout may have given the JSON sidecar of ``media_name``,
    most likely first.

    Takeout writes ``photo.jpg.json`` (newer exports ``photo.jpg.supplemental-metadata.json``),
    cuts the whole name to 51 characters by shortening the part before ``.json``, and
    moves a duplicate's counter to the end: ``photo(1).jpg`` has ``photo.jpg(1).json``."""
    name = media_name.lower()
    stem, ext = os.path.splitext(name)
    forms = [(name, "")]
    match = re.fullmatch(r"(.*)(\(\d+\))", stem)
    if match:  # the duplicate's form second: "photo(1).jpg" may also be a plain name
        forms.append((match.group(1) + ext, match.group(2)))
    out = []
    for base, counter in forms:
        keep = _TAKEOUT_MAX_NAME - len(counter) - len(".json")
        # Longest first; every cut of ".supplemental-metadata" is tried, as exports
        # differ in where they cut it.
        for full in (base, *(base + _SUPPLEMENTAL[:k] for k in range(len(_SUPPLEMENTAL), 1, -1))):
            candidate = full[:keep] + counter + ".json"
            if candidate not in out:
                out.append(candidate)
    return out


def read_sidecars(folder: str, media_name: str, sidecars: Mapping[str, str], zone: ZoneInfo) -> Sidecars:
    """The XMP and Takeout sidecars of ``media_name`` in ``folder`` (whose sidecar names
    are ``sidecars``, from ``folder_sidecars``); only the first of each kind found is read."""
    if not sidecars:
        return Sidecars()
    errors = 0
    found: dict[str, Reading | None] = {}
    for kind, names, parse in (("xmp", xmp_names, _parse_xmp), ("takeout", takeout_names, _parse_takeout)):
        real = next((sidecars[n] for n in names(media_name) if n in sidecars), None)
        if real is None:
            continue
        data = _read_bounded(os.path.join(folder, real))
        try:
            if data is None:
                raise ValueError("sidecar too large or unreadable")
            found[kind] = parse(data, zone)
        except ValueError:  # json.JSONDecodeError, ET.ParseError (via _parse_xmp), bad encoding
            errors += 1
    return Sidecars(xmp=found.get("xmp"), takeout=found.get("takeout"), errors=errors)


def resolve(
    media_name: str,
    zone: ZoneInfo,
    mtime: float,
    sidecars: Sidecars,
    *,
    exif: Dated | None = None,
    exif_lat: float | None = None,
    exif_lon: float | None = None,
    quicktime: Dated | None = None,
) -> Resolved:
    """Capture time and place from the first source that has each (module docstring)."""
    readings = [r for r in (sidecars.xmp, sidecars.takeout) if r is not None]
    taken = exif or next((r.taken for r in readings if r.taken is not None), None) or quicktime
    taken = taken or from_file_name(media_name, zone) or from_mtime(mtime)
    lat, lon = exif_lat, exif_lon
    if lat is None or lon is None:
        lat, lon = next(((r.lat, r.lon) for r in readings if r.lat is not None and r.lon is not None), (None, None))
    return Resolved(taken, lat, lon)


def from_mtime(mtime: float) -> Dated:
    return Dated(dt.datetime.fromtimestamp(mtime, tz=dt.UTC), None, MTIME)


# ---------------------------------------------------------------- file names

# Each pattern is matched at the start of the name; groups: year, month, day, then
# hour, minute, second when the name carries a time (else noon local is used).
_NAME_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"(?:IMG|VID|PXL|MVIMG)_(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})(?:\d{3})?(?!\d)",  # PXL: + ms
        r"(?:IMG|VID)-(\d{4})(\d{2})(\d{2})-WA\d+",
        r"Screenshot_(\d{4})(\d{2})(\d{2})[-_](\d{2})(\d{2})(\d{2})(?!\d)",
        r"Screenshot_(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})(?!\d)",
        r"(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})(?!\d)",
    )
]


def from_file_name(media_name: str, zone: ZoneInfo) -> Dated | None:
    """The wall time a camera or messenger wrote into the file name, read in ``zone``;
    None when no pattern matches or the date is impossible (month 13, before 1990...)."""
    for pattern in _NAME_PATTERNS:
        match = pattern.match(media_name)
        if match is None:
            continue
        parts = [int(g) for g in match.groups()]
        if len(parts) == 3:
            parts += [12, 0, 0]  # a date without time: noon, so the local day survives any offset
        if not _FILENAME_MIN_YEAR <= parts[0] <= _FILENAME_MAX_YEAR:
            return None
        try:
            naive = dt.datetime(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5])
        except ValueError:
            return None
        return Dated(naive.replace(tzinfo=zone).astimezone(dt.UTC), None, FILENAME)
    return None


# ---------------------------------------------------------------- sidecars


def _read_bounded(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SIDECAR_BYTES + 1)
    except OSError:
        return None
    return data if len(data) <= MAX_SIDECAR_BYTES else None


def _parse_takeout(data: bytes, zone: ZoneInfo) -> Reading:
    doc = json.loads(data)  # raises ValueError (JSONDecodeError, UnicodeDecodeError)
    if not isinstance(doc, dict):
        return Reading()
    taken = None
    stamp = _dig(doc, "photoTakenTime", "timestamp")
    if isinstance(stamp, str | int) and not isinstance(stamp, bool):
        try:
            when = dt.datetime.fromtimestamp(int(stamp), tz=dt.UTC)
        except (ValueError, OverflowError, OSError):
            when = None
        if when is not None and _SIDECAR_MIN_YEAR <= when.year <= _SIDECAR_MAX_YEAR:
            taken = Dated(when, None, TAKEOUT)
    lat, lon = _place(_dig(doc, "geoData", "latitude"), _dig(doc, "geoData", "longitude"))
    return Reading(taken, lat, lon)


def _dig(doc: dict[str, object], key: str, sub: str) -> object:
    inner = doc.get(key)
    return inner.get(sub) if isinstance(inner, dict) else None


_NS_EXIF = "http://ns.adobe.com/exif/1.0/"
_XMP_DATES = [
    f"{{{_NS_EXIF}}}DateTimeOriginal",
    "{http://ns.adobe.com/xap/1.0/}CreateDate",
    "{http://ns.adobe.com/photoshop/1.0/}DateCreated",
]
_XMP_LAT, _XMP_LON = f"{{{_NS_EXIF}}}GPSLatitude", f"{{{_NS_EXIF}}}GPSLongitude"
_XMP_COORD = re.compile(r"(\d{1,3}),(\d{1,2}(?:\.\d+)?)(?:,(\d{1,2}(?:\.\d+)?))?([NSEW])", re.IGNORECASE)


def _parse_xmp(data: bytes, zone: ZoneInfo) -> Reading:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:  # XMP has no DTD: refuse entity tricks outright
        raise ValueError("XMP with a DTD")
    try:
        root = ET.fromstring(data)  # bounded size, no DTD (above)
    except ET.ParseError as exc:
        raise ValueError("invalid XMP") from exc
    values: dict[str, str] = {}
    for element in root.iter():  # a property is an attribute of rdf:Description or a child element
        for key, value in element.attrib.items():
            values.setdefault(key, value)
        if element.text and element.text.strip():
            values.setdefault(str(element.tag), element.text)
    taken = next((d for d in (_xmp_date(values.get(k), zone) for k in _XMP_DATES) if d is not None), None)
    lat, lon = _place(_xmp_coordinate(values.get(_XMP_LAT)), _xmp_coordinate(values.get(_XMP_LON)))
    return Reading(taken, lat, lon)


def _xmp_date(text: str | None, zone: ZoneInfo) -> Dated | None:
    """An XMP date ("2023-01-01T12:34:56+02:00", without offset, or a bare date)."""
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if not _SIDECAR_MIN_YEAR <= value.year <= _SIDECAR_MAX_YEAR:
        return None
    if len(text.strip()) == 10:  # a date only: noon local, as for WhatsApp names
        value = value.replace(hour=12)
    offset = value.utcoffset()
    if offset is None:
        return Dated(value.replace(tzinfo=zone).astimezone(dt.UTC), None, XMP)
    return Dated(value.astimezone(dt.UTC), int(offset.total_seconds() // 60), XMP)


def _xmp_coordinate(text: str | None) -> float | None:
    """XMP's GPSCoordinate: "51,30.5N" (degrees, decimal minutes) or "51,30,30N"."""
    match = _XMP_COORD.fullmatch(text.strip()) if text else None
    if match is None:
        return None
    degrees, minutes, seconds, ref = match.groups()
    value = int(degrees) + float(minutes) / 60 + float(seconds or 0) / 3600
    return -value if ref.upper() in "SW" else value


def _place(lat: object, lon: object) -> tuple[float | None, float | None]:
    """(lat, lon) when both are finite numbers in range and not (0, 0), Takeout's 'none'."""
    if not isinstance(lat, int | float) or not isinstance(lon, int | float) or isinstance(lat, bool):
        return None, None
    y, x = float(lat), float(lon)
    if not (math.isfinite(y) and math.isfinite(x)) or abs(y) > 90 or abs(x) > 180:
        return None, None
    if y == 0.0 and x == 0.0:
        return None, None
    return y, x

"""The media index: what a library folder holds, read from file headers plus a
cheap check that each photo's pixels are all there.

``index_library`` walks a library and hands each new or changed item to a
callback, folder by folder (``indexing.rescan`` streams them into the ledger in
batches); ``scan_library`` collects them in memory, for tools and tests. Files the
index already holds unchanged (same rel_path, size and mtime) are not opened.
``scan_file`` is the one place a file is read: for a photo its EXIF (taken-at with
offset, GPS, orientation) and size from the header, then a check that the pixel
data is complete at the lowest cost the format allows (``_decode_check``: a JPEG
is decoded at 1/8 scale, HEIF/AVIF are checked by their box sizes); for a video
its container, opened with PyAV for duration, size and creation time. A file that
cannot be read, or whose pixel data is truncated, is reported as skipped with a
reason; one bad file never aborts the scan. Photos whose media id the caller
already indexed and verified (``known``) are not decoded again.

Taken-at, in order of preference:

* photos: EXIF ``DateTimeOriginal`` (then ``DateTimeDigitized``, then ``DateTime``)
  with its matching ``OffsetTime*`` tag when present; a time without offset is
  read in the library time zone (``default_tz``);
* videos: ``com.apple.quicktime.creationdate`` (carries an offset), then
  ``creation_time`` (UTC);
* otherwise (and for GPS missing from EXIF) ``dating.resolve``: XMP and Google
  Takeout sidecars, then the file name, then the file's modification time.
  ``ScannedMedia.date_source`` says which source it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Container, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import av
import structlog
from PIL import ExifTags, Image, ImageFile, JpegImagePlugin, UnidentifiedImageError

from reels_core.domain import Candidate, MediaKind
from render_service import dating
from render_service.duplicates import DUPLICATE, duplicate_paths
from render_service.live_photos import pair_live_photos
from render_service.photo_formats import PHOTO_SUFFIXES, FormatMismatch, check_riff_size, open_photo

log = structlog.get_logger("media_index")

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".webm", ".mkv"})

# Reasons a file is skipped (stable strings: they reach logs and RPC responses).
EMPTY = "EMPTY"  # zero bytes
UNREADABLE = "UNREADABLE"  # corrupt, truncated (header or pixel data), or no permission
UNSUPPORTED = "UNSUPPORTED"  # a format we cannot open (a video with no video stream)
FORMAT_MISMATCH = "FORMAT_MISMATCH"  # a picture, but not the format its name says (a PSD named .jpg)
TOO_LARGE = "TOO_LARGE"  # beyond Pillow's decompression-bomb limit
DURATION_INVALID = "DURATION_INVALID"  # a video whose header claims an absurd duration or frame size
OUTSIDE_LIBRARY = "OUTSIDE_LIBRARY"  # a symbolic link to a file outside the library: never followed
NAME_NOT_UTF8 = "NAME_NOT_UTF8"  # a file name the ledger cannot store (not valid UTF-8)
# A clip longer than a day, or wider or taller than 16K, is a broken or hostile
# header (one claimed 2^32-1 s); the render would try to decode all of it.
MAX_VIDEO_S = 24 * 3600.0
MAX_VIDEO_SIDE = 16384

# EXIF tags (numbers from the EXIF 2.32 spec).
_ORIENTATION = 0x0112
_DATETIME = 0x0132
_DATETIME_ORIGINAL = 0x9003
_DATETIME_DIGITIZED = 0x9004
_OFFSET_TIME = 0x9010
_OFFSET_TIME_ORIGINAL = 0x9011
_OFFSET_TIME_DIGITIZED = 0x9012
_SUBSEC_TIME = 0x9290
_SUBSEC_TIME_ORIGINAL = 0x9291
_SUBSEC_TIME_DIGITIZED = 0x9292
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4

_EXIF_DATE = re.compile(r"(\d{4})[:\-/](\d{2})[:\-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")
_MAX_OFFSET_MIN = 14 * 60
_OLDEST_PLAUSIBLE_YEAR = 1826  # the first photograph; QuickTime's "unset" is 1904


@dataclass
class ScannedMedia:
    """One indexed photo or video. ``width``/``height`` are as stored, before
    applying ``orientation`` (see ``display_size``)."""

    media_id: str
    rel_path: str
    kind: MediaKind
    taken_at_utc: dt.datetime
    tz_offset_min: int | None
    lat: float | None
    lon: float | None
    orientation: int
    width: int
    height: int
    size_bytes: int
    mtime: float
    date_source: str  # which source dated it: dating.EXIF, XMP, TAKEOUT, QUICKTIME, FILENAME, MTIME
    duration_s: float = 0.0
    motion_rel_path: str | None = None  # a Live Photo's clip (render_service.live_photos)

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) once EXIF orientation is applied (5-8 swap the axes)."""
        if self.orientation in (5, 6, 7, 8):
            return self.height, self.width
        return self.width, self.height

    def as_row(self) -> dict[str, Any]:
        """Plain values for the ledger: ``kind`` is a string, ``taken_at_utc`` aware UTC."""
        row = asdict(self)
        row["kind"] = self.kind.value
        return row

    def as_candidate(self) -> Candidate:
        """The scripter's view of this item, with displayed (oriented) size."""
        width, height = self.display_size
        return Candidate(
            media_id=self.media_id,
            kind=self.kind,
            taken_at=self.taken_at_utc,
            width=width,
            height=height,
            lat=self.lat,
            lon=self.lon,
            duration_s=self.duration_s,
            rel_path=self.rel_path,
        )


@dataclass
class ScanResult:
    items: list[ScannedMedia] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (rel_path, reason)
    decoded: int = 0  # photos not in ``known``: pixels checked (or failed before, at the header)
    sidecar_errors: int = 0  # XMP/JSON sidecars ignored: too large, unreadable or not valid

    @property
    def skipped_counts(self) -> dict[str, int]:
        return dict(Counter(reason for _, reason in self.skipped))


class Indexed(Protocol):
    """What the index already holds for one rel_path: the id it is stored under
    (``row_id(media_id)``), whether its content was checked when it was indexed, and
    a Live Photo's clip (``ledger.libraries.IndexedRow`` is one)."""

    @property
    def id(self) -> str: ...
    @property
    def verified(self) -> bool: ...
    @property
    def motion_rel_path(self) -> str | None: ...


@dataclass
class ScanReport:
    """What ``index_library`` did. Items themselves go to its ``emit`` callback."""

    skipped: list[tuple[str, str]] = field(default_factory=list)  # (rel_path, reason), sorted
    files: int = 0  # media files listed (photo and video suffixes, hidden ones left out)
    unchanged: int = 0  # files the index holds as they are (same rel_path, size, mtime): not opened
    probed: int = 0  # files opened to read their header or container: new, changed, or not indexed before
    decoded: int = 0  # probed photos whose pixels were checked (not already verified)
    hashed: int = 0  # files read in full to tell same-size files apart (duplicates)
    emitted: int = 0  # items handed to ``emit``
    sidecar_errors: int = 0  # XMP/JSON sidecars ignored: too large, unreadable or not valid
    stale: list[str] = field(default_factory=list)  # rel_paths of the index that are no item any more

    @property
    def skipped_counts(self) -> dict[str, int]:
        return dict(Counter(reason for _, reason in self.skipped))


class _Skip(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def media_id_for(rel_path: str, size_bytes: int, mtime_ns: int) -> str:
    """Stable id: changes when the file is moved, resized or touched."""
    digest = hashlib.sha1(f"{rel_path}\x00{size_bytes}\x00{mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _same_id(media_id: str) -> str:
    return media_id


def scan_library(root: Path, default_tz: str, known: Container[str] | None = None) -> ScanResult:
    """Index every photo and video under ``root``, in memory (``index_library``
    with nothing indexed yet, its items collected): for tools and tests; the service
    streams through ``indexing.rescan`` instead.

    Hidden files and folders (``.reels-context`` among them) are ignored, and so
    are files whose extension is not a known photo or video one. Items and
    skipped entries come sorted by ``rel_path``. Raises only when ``root`` is not
    a directory (NotADirectoryError) or ``default_tz`` is not a known zone.

    ``known`` holds media ids (``media_id_for``) already indexed and verified, as
    anything that answers ``media_id in known`` (a set, a mapping keyed by media
    id...). A photo whose id is in it is not decoded again; since the id covers
    rel_path, size and mtime, a file changed in place gets a new id and is.
    """
    result = ScanResult()
    report = index_library(root, default_tz, {}, result.items.append, known=known)
    result.items.sort(key=lambda m: m.rel_path)
    result.skipped = report.skipped
    result.decoded = report.decoded
    result.sidecar_errors = report.sidecar_errors
    return result


def index_library(
    root: Path,
    default_tz: str,
    index: Mapping[str, Indexed],
    emit: Callable[[ScannedMedia], None],
    *,
    known: Container[str] | None = None,
    row_id: Callable[[str], str] = _same_id,
) -> ScanReport:
    """Walk ``root`` and hand every new or changed item to ``emit``, one folder at a
    time, without holding the library's items in memory.

    ``index`` maps rel_path to what the index holds (``Indexed``; its ``id`` is
    ``row_id(media_id)``). A file whose id is unchanged (same rel_path, size and
    mtime: ``media_id_for``) and whose content was verified is not opened at all,
    and neither is the Live Photo clip such a still names; every other file is read
    by ``scan_file``. The inode is not compared: the mtime is kept to the
    nanosecond, and inode numbers change when a network or FUSE share is mounted
    again, which would make every file of such a library look new. Live Photos
    pair by name stem in a folder, so a file sharing its stem with a new or changed
    one is read again too. What the index holds that is no item any more (gone,
    changed into a skipped file, a clip now folded into its still) is listed in
    ``ScanReport.stale``, for the caller to remove once the walk is complete.

    Not noticed until the file itself changes: an edited sidecar (XMP, Takeout
    JSON) of an unchanged photo, and a changed Live Photo clip of an unchanged
    still. A skipped file (unreadable, a duplicate) has no row, so it is read at
    every scan.

    Two passes: the first lists the tree (names and ``stat``, which the duplicate
    rule needs for the whole library: ``_Duplicates``), the second reads the files
    folder by folder. ``known`` (media ids) are photos whose pixels need no
    check, as in ``scan_library``."""
    root = Path(root)
    zone = ZoneInfo(default_tz)
    if not root.is_dir():
        raise NotADirectoryError(f"library folder not found: {root}")
    known = known if known is not None else frozenset()
    report = ScanReport()
    folders = _list_tree(root, report)
    clean = _clean_paths(folders, index, row_id)
    duplicates = _Duplicates(root, folders, report)
    kept: set[str] = set()
    for folder in folders:
        _index_folder(root, folder, zone, index, clean, duplicates, known, row_id, report, kept, emit)
    report.stale = [rel_path for rel_path in index if rel_path not in kept]
    report.skipped.sort()
    if report.sidecar_errors:  # once per scan, and never a file's contents
        log.warning("sidecars ignored: too large, unreadable or not valid JSON/XML", count=report.sidecar_errors)
    return report


@dataclass(slots=True)
class _Listed:
    """A media file found by the walk: 100-odd bytes each, so that a 100k-file tree
    lists in about 20 MB."""

    rel_path: str
    st: os.stat_result
    kind: MediaKind

    @property
    def size_bytes(self) -> int:
        return self.st.st_size


@dataclass(slots=True)
class _Folder:
    path: str
    files: list[_Listed]
    sidecars: dict[str, str]  # dating.folder_sidecars


def _list_tree(root: Path, report: ScanReport) -> list[_Folder]:
    """Every folder holding media, depth first, each with its media files (sorted by
    name) and its sidecar names (``dating.folder_sidecars``: read once per folder, no
    stat per file). Empty files, and entries that cannot be listed or stat'ed, go to
    ``report.skipped``."""
    folders: list[_Folder] = []
    pending = [(str(root), "")]
    while pending:
        path, prefix = pending.pop()
        try:
            with os.scandir(path) as listing:
                entries = sorted(listing, key=lambda e: e.name)
            sidecars = dating.folder_sidecars(e.name for e in entries)
        except OSError:
            report.skipped.append((prefix.rstrip("/") or ".", UNREADABLE))
            continue
        subfolders = []
        files: list[_Listed] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel_path = prefix + entry.name
            if not _utf8(rel_path):
                report.skipped.append(
                    (rel_path.encode("utf-8", "surrogateescape").decode("utf-8", "replace"), NAME_NOT_UTF8)
                )
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    subfolders.append((entry.path, rel_path + "/"))
                    continue
                dot = entry.name.rfind(".")  # os.path.splitext at about half its cost (100k names)
                suffix = entry.name[dot:].lower() if dot > 0 else ""
                if suffix in VIDEO_SUFFIXES:
                    kind = MediaKind.VIDEO
                elif suffix in PHOTO_SUFFIXES:
                    kind = MediaKind.PHOTO
                else:
                    continue
                if not entry.is_file():
                    continue
                if entry.is_symlink() and not _inside(root, entry.path):
                    report.skipped.append((rel_path, OUTSIDE_LIBRARY))
                    continue
                st = entry.stat()
            except OSError:
                report.skipped.append((rel_path, UNREADABLE))
                continue
            report.files += 1
            if st.st_size == 0:
                report.skipped.append((rel_path, EMPTY))
                continue
            files.append(_Listed(rel_path, st, kind))
        if files:
            folders.append(_Folder(path, files, sidecars))
        pending.extend(reversed(subfolders))
    return folders


def _clean_paths(folders: list[_Folder], index: Mapping[str, Indexed], row_id: Callable[[str], str]) -> set[str]:
    """rel_paths the index holds as they are and verified: their files need not be opened."""
    clean: set[str] = set()
    if not index:
        return clean
    for folder in folders:
        for f in folder.files:
            held = index.get(f.rel_path)
            if held is not None and held.verified and held.id == row_id(_media_id(f)):
                clean.add(f.rel_path)
    return clean


def _media_id(f: _Listed) -> str:
    return media_id_for(f.rel_path, f.st.st_size, f.st.st_mtime_ns)


class _Duplicates:
    """The duplicate rule (``duplicates.duplicate_paths``: of identical files, the one
    with the first rel_path is the item), decided per group of same-kind, same-size
    files, and only when a file of the group was read and is an item: a group of
    files all indexed as they are was told apart when they were indexed, and a file
    that cannot be read (a truncated copy) is no item to compare. Each decided group
    is read in full once."""

    def __init__(self, root: Path, folders: list[_Folder], report: ScanReport) -> None:
        groups: dict[tuple[MediaKind, int], list[_Listed]] = defaultdict(list)
        for folder in folders:
            for f in folder.files:
                groups[(f.kind, f.st.st_size)].append(f)
        self.groups = {key: group for key, group in groups.items() if len(group) > 1}
        self.decided: dict[tuple[MediaKind, int], set[str]] = {}
        self.root, self.report = root, report

    def known_copy(self, f: _Listed) -> bool:
        """``f`` is a copy in a group already decided."""
        dups = self.decided.get((f.kind, f.st.st_size))
        return dups is not None and f.rel_path in dups

    def is_copy(self, f: _Listed, kept: set[str]) -> bool:
        """Decide ``f``'s group (once) and say whether ``f`` is a copy. A copy that
        was already kept as unchanged (a new file with the same bytes sorts before
        it) is taken back out of ``kept`` and listed as a DUPLICATE."""
        key = (f.kind, f.st.st_size)
        group = self.groups.get(key)
        if group is None:
            return False
        dups = self.decided.get(key)
        if dups is None:
            dups = self.decided[key] = duplicate_paths(self.root, group)
            self.report.hashed += len(group)
            for rel_path in dups & kept:
                kept.discard(rel_path)
                self.report.skipped.append((rel_path, DUPLICATE))
        return f.rel_path in dups


def _stem_key(rel_path: str) -> tuple[str, str]:
    stem = os.path.splitext(rel_path)[0]
    head, _, tail = stem.rpartition("/")
    return head, tail.casefold()


def _index_folder(
    root: Path,
    folder: _Folder,
    zone: ZoneInfo,
    index: Mapping[str, Indexed],
    clean: set[str],
    duplicates: _Duplicates,
    known: Container[str],
    row_id: Callable[[str], str],
    report: ScanReport,
    kept: set[str],
    emit: Callable[[ScannedMedia], None],
) -> None:
    files = []
    for f in folder.files:
        if duplicates.known_copy(f):
            report.skipped.append((f.rel_path, DUPLICATE))
        else:
            files.append(f)
    # Clips that a still indexed as it is names as its Live Photo motion: not items.
    clips = {m for f in files if f.rel_path in clean and (m := index[f.rel_path].motion_rel_path)}
    fresh = [f for f in files if f.rel_path not in clean and f.rel_path not in clips]
    fresh_stems = {_stem_key(f.rel_path) for f in fresh}
    if fresh_stems:  # Live Photos pair by stem: read the whole stem again
        fresh = [
            f
            for f in files
            if (f.rel_path not in clean and f.rel_path not in clips) or _stem_key(f.rel_path) in fresh_stems
        ]
    reread = {f.rel_path for f in fresh}
    for f in files:
        if f.rel_path not in reread:
            report.unchanged += 1
            if f.rel_path in clean:
                kept.add(f.rel_path)
    items: list[ScannedMedia] = []
    for f in fresh:
        media_id = _media_id(f)
        held = index.get(f.rel_path)
        check = not (held is not None and held.verified and held.id == row_id(media_id)) and media_id not in known
        report.probed += 1
        report.decoded += check and f.kind == MediaKind.PHOTO
        try:
            item, sidecar_errors = scan_file(
                root / f.rel_path, f.rel_path, f.st, zone, folder.sidecars, check_pixels=check
            )
        except _Skip as skip:
            report.skipped.append((f.rel_path, skip.reason))
            continue
        except Exception:  # noqa: BLE001  # any other failure on one file: count it, go on
            report.skipped.append((f.rel_path, UNREADABLE))
            continue
        report.sidecar_errors += sidecar_errors
        if duplicates.is_copy(f, kept):
            report.skipped.append((f.rel_path, DUPLICATE))
            continue
        items.append(item)
    for item in pair_live_photos(items):
        kept.add(item.rel_path)
        report.emitted += 1
        emit(item)


def scan_file(
    path: Path,
    rel_path: str,
    st: os.stat_result,
    zone: ZoneInfo,
    sidecars: Mapping[str, str],
    *,
    check_pixels: bool = True,
) -> tuple[ScannedMedia, int]:
    """The one place a new or changed file is read: its index entry, and how many of
    its sidecars were ignored as invalid. Raises ``_Skip`` with the reason when it
    is no usable item (any other exception: the caller counts it UNREADABLE)."""
    suffix = os.path.splitext(rel_path)[1].lower()
    if suffix in VIDEO_SUFFIXES:
        return _scan_video(path, rel_path, st, zone, sidecars)
    return _scan_photo(path, rel_path, st, zone, suffix, sidecars, check_pixels=check_pixels)


def _utf8(name: str) -> bool:
    """False for a name with bytes that are not UTF-8 (Python keeps them as lone
    surrogates, which no database accepts)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _inside(root: Path, path: str) -> bool:
    """Whether ``path`` (a link) resolves to a file under ``root`` itself."""
    try:
        return Path(path).resolve(strict=True).is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a dangling link or a loop
        return False


# ---------------------------------------------------------------- photos


def _scan_photo(
    path: Path,
    rel_path: str,
    st: os.stat_result,
    zone: ZoneInfo,
    suffix: str,
    sidecars: Mapping[str, str],
    *,
    check_pixels: bool = True,
) -> tuple[ScannedMedia, int]:
    """The photo's index entry, and how many of its sidecars were ignored as invalid."""
    try:
        with open_photo(path, suffix) as img:  # lazy: reads the header, not the pixels
            width, height = img.size
            exif = _read_exif(img)
            if check_pixels:  # last: it may shrink (draft) or consume (verify) ``img``
                _decode_check(img)
    except Image.DecompressionBombError:
        raise _Skip(TOO_LARGE) from None
    except FormatMismatch:
        raise _Skip(FORMAT_MISMATCH) from None
    except UnidentifiedImageError:
        raise _Skip(UNREADABLE) from None
    except Exception:  # noqa: BLE001  # Pillow's decoders raise many types on a broken file
        raise _Skip(UNREADABLE) from None

    exif_ifd = _sub_ifd(exif, ExifTags.IFD.Exif)
    taken = _exif_taken_at(exif, exif_ifd, zone)
    lat, lon = _exif_gps(_sub_ifd(exif, ExifTags.IFD.GPSInfo))
    side = dating.Sidecars()
    if taken is None or lat is None:  # sidecars are read only when EXIF leaves the date or the place unknown
        side = dating.read_sidecars(str(path.parent), path.name, sidecars, zone)
    exif_dated = None if taken is None else dating.Dated(taken[0], taken[1], dating.EXIF)
    dated = dating.resolve(path.name, zone, st.st_mtime, side, exif=exif_dated, exif_lat=lat, exif_lon=lon)
    orientation = exif.get(_ORIENTATION)
    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        orientation = 1
    item = ScannedMedia(
        media_id=media_id_for(rel_path, st.st_size, st.st_mtime_ns),
        rel_path=rel_path,
        kind=MediaKind.PHOTO,
        taken_at_utc=dated.taken.taken_at_utc,
        tz_offset_min=dated.taken.tz_offset_min,
        lat=dated.lat,
        lon=dated.lon,
        orientation=orientation,
        width=int(width),
        height=int(height),
        size_bytes=st.st_size,
        mtime=st.st_mtime,
        date_source=dated.taken.source,
        duration_s=0.0,
    )
    return item, side.errors


def _decode_check(img: Image.Image) -> None:
    """Raise unless the pixel data of ``img`` (just opened, header read) is all there
    and decodes, at the lowest cost its format allows. Figures for one camera-like
    12 MP photo (4000x3000, the bench_render.py scene), best of 5, 2-core AMD EPYC,
    Pillow 13.0 (libjpeg-turbo 3.2, libwebp 1.6, zlib 1.2.13), page cache warm:

    * JPEG (and MPO, a JPEG with more pictures after it), 1.8 MB at q90: decoded
      at 1/8 scale (``draft`` + ``load``, the DCT scales down inside libjpeg): 22 ms,
      against 70 ms for a full decode and 0.1 ms for the header;
    * PNG, 10 MB: ``verify()`` reads every chunk after the header and checks its
      CRC (truncation anywhere in IDAT, and bit errors in it): 6.6 ms; a full
      decode costs 290 ms, and ``reduce``/``thumbnail`` decode in full first (310,
      340 ms): PNG has no reduced decode;
    * WebP, 1.0 MB at q90: ``Image.open`` already hands the whole file to libwebp's
      demuxer, which refuses one shorter than its RIFF/chunk sizes say (0.2 ms);
      the RIFF size is checked here too, so this does not rest on how Pillow opens
      it. A decode (there is no reduced one; ``thumbnail`` decodes in full) would
      cost 244 ms, 11x the JPEG check, for the rarer case of a complete-length file
      with bad bits in the VP8 data: left to render time;
    * HEIF and AVIF (ISO base media files): every top-level box (``ftyp``,
      ``meta``, ``mdat``...) must fit in the file, so a file cut anywhere after its
      header fails (the usual way a copy breaks): 0.03 ms. A full decode cost
      1,560 ms for a 12 MP HEIC (pillow-heif 1.8.1, libheif) and 470 ms for the
      same picture as AVIF, both noisy 11 and 5 MB files on a loaded machine; there
      is no reduced decode of the main picture (the thumbnail is another item,
      and its data says nothing of the main one's). A full-length file with bad
      bits inside ``mdat`` is left to render time, as for WebP. A box whose size
      is 0 ("to the end of the file", which libheif never writes) is not
      measurable, and the file is decoded in full instead.

    Pillow's ``ImageFile.LOAD_TRUNCATED_IMAGES`` (a process-wide switch this module
    never sets) makes ``load`` pad a cut JPEG instead of raising. The JPEG path
    reads through its own ``load_read``, which gives Pillow no fake end marker and
    raises when the data runs out, so a truncated JPEG fails with the switch on as
    well as off. PNG's ``verify`` raises on a short read either way."""
    if isinstance(img, JpegImagePlugin.JpegImageFile):
        _decode_jpeg_reduced(img)
    elif img.format == "PNG":
        img.verify()
    elif img.format == "WEBP" and isinstance(img, ImageFile.ImageFile):
        check_riff_size(img)
    elif img.format in ("HEIF", "AVIF") and isinstance(img, ImageFile.ImageFile) and _boxes_fit(img):
        pass
    else:
        img.load()


def _decode_jpeg_reduced(img: JpegImagePlugin.JpegImageFile) -> None:
    img.draft("RGB", (max(1, img.width // 8), max(1, img.height // 8)))
    fp = img.fp
    assert fp is not None

    def load_read(size: int) -> bytes:
        # A complete JPEG ends decoding (at its last scan line or EOI) before the
        # file does; needing bytes past the end means the scan data is cut short.
        data = fp.read(size)
        if not data:
            raise OSError("image file is truncated")
        return data

    # On this instance only: shadows JpegImageFile.load_read (mypy refuses any method assignment).
    img.load_read = load_read  # type: ignore[method-assign,assignment]  # per-instance override of a method
    img.load()


def _boxes_fit(img: ImageFile.ImageFile) -> bool:
    """True when the top-level ISO BMFF boxes of ``img``'s file tile it exactly;
    False when the last one runs "to the end of the file" (size 0: not checkable).
    Raises OSError when a box runs past the end (a truncated file) or the sizes do
    not add up. Hand-written (a dozen lines): neither pillow-heif nor Pillow's AVIF
    plugin says whether the item data is all there without decoding it."""
    fp = img.fp
    assert fp is not None
    end = fp.seek(0, os.SEEK_END)
    offset = 0
    while offset < end:
        fp.seek(offset)
        head = fp.read(16)
        if len(head) < 8:
            raise OSError("truncated box header")
        size = int.from_bytes(head[:4], "big")
        if size == 1:  # a 64-bit size follows the type
            if len(head) < 16:
                raise OSError("truncated box header")
            size = int.from_bytes(head[8:16], "big")
        elif size == 0:
            return False
        if size < 8 or offset + size > end:
            raise OSError("truncated ISO BMFF file")
        offset += size
    return True


def _read_exif(img: Image.Image) -> Image.Exif:
    # PNG's getexif() decodes the whole image looking for a late eXIf chunk; an
    # eXIf chunk before the pixels is already in img.info, which is enough here.
    if img.format == "PNG" and "exif" not in img.info:
        return Image.Exif()
    try:
        return img.getexif()
    except Exception:  # noqa: BLE001  # a broken EXIF block: keep the photo, lose the metadata
        return Image.Exif()


def _sub_ifd(exif: Image.Exif, tag: int) -> dict:
    try:
        return exif.get_ifd(tag)
    except Exception:  # noqa: BLE001  # a broken sub-IFD: keep the photo, lose that metadata
        return {}


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return None
    return value.strip("\x00 \t\r\n") or None


def _exif_taken_at(ifd0: Image.Exif, exif_ifd: dict, zone: ZoneInfo) -> tuple[dt.datetime, int | None] | None:
    """(aware UTC datetime, offset minutes or None) from the first usable date tag."""
    candidates = (
        (exif_ifd.get(_DATETIME_ORIGINAL), exif_ifd.get(_OFFSET_TIME_ORIGINAL), exif_ifd.get(_SUBSEC_TIME_ORIGINAL)),
        (exif_ifd.get(_DATETIME_DIGITIZED), exif_ifd.get(_OFFSET_TIME_DIGITIZED), exif_ifd.get(_SUBSEC_TIME_DIGITIZED)),
        (ifd0.get(_DATETIME), exif_ifd.get(_OFFSET_TIME), exif_ifd.get(_SUBSEC_TIME)),
    )
    for raw_date, raw_offset, raw_subsec in candidates:
        naive = _parse_exif_datetime(_text(raw_date), _text(raw_subsec))
        if naive is None:
            continue
        offset_min = _parse_offset(_text(raw_offset))
        if offset_min is None:
            local = naive.replace(tzinfo=zone)
        else:
            local = naive.replace(tzinfo=dt.timezone(dt.timedelta(minutes=offset_min)))
        return local.astimezone(dt.UTC), offset_min
    return None


def _parse_exif_datetime(text: str | None, subsec: str | None) -> dt.datetime | None:
    if not text:
        return None
    match = _EXIF_DATE.match(text)
    if not match:
        return None
    try:
        year, month, day, hour, minute, second = (int(g) for g in match.groups())
        value = dt.datetime(year, month, day, hour, minute, second)
    except ValueError:  # "0000:00:00 00:00:00" and friends
        return None
    if value.year < _OLDEST_PLAUSIBLE_YEAR:
        return None
    if subsec and subsec.isdigit():
        value = value.replace(microsecond=int(subsec[:6].ljust(6, "0")))
    return value


def _parse_offset(text: str | None) -> int | None:
    if not text:
        return None
    if text in ("Z", "z"):
        return 0
    match = _EXIF_OFFSET.fullmatch(text)
    if not match:
        return None
    sign, hours, minutes = match.groups()
    total = int(hours) * 60 + int(minutes)
    if total > _MAX_OFFSET_MIN or int(minutes) >= 60:
        return None
    return -total if sign == "-" else total


def _exif_gps(gps: dict) -> tuple[float | None, float | None]:
    lat = _gps_coordinate(gps.get(_GPS_LAT), gps.get(_GPS_LAT_REF), "S", 90.0)
    lon = _gps_coordinate(gps.get(_GPS_LON), gps.get(_GPS_LON_REF), "W", 180.0)
    if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
        return None, None  # (0, 0) is what cameras write when they have no fix
    return lat, lon


def _gps_coordinate(value: Any, ref: Any, negative_ref: str, limit: float) -> float | None:
    if not isinstance(value, tuple) or not value:
        return None
    try:
        parts = [float(part) for part in value[:3]]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    degrees = sum(part / 60**i for i, part in enumerate(parts))
    if not math.isfinite(degrees) or abs(degrees) > limit:
        return None
    if (_text(ref) or "").upper().startswith(negative_ref):
        degrees = -abs(degrees)
    return degrees


# ---------------------------------------------------------------- videos


def _scan_video(
    path: Path, rel_path: str, st: os.stat_result, zone: ZoneInfo, sidecars: Mapping[str, str]
) -> tuple[ScannedMedia, int]:
    """The clip's index entry, and how many of its sidecars were ignored as invalid."""
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except Exception:  # noqa: BLE001  # PyAV/FFmpeg raise many types on a file that is not a video
        raise _Skip(UNREADABLE) from None
    with container:
        if not container.streams.video:
            raise _Skip(UNSUPPORTED)
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        duration_s = _video_duration(container, stream)
        metadata = {**stream.metadata, **container.metadata}
    if not width or not height:
        raise _Skip(UNREADABLE)
    if not 0 <= duration_s <= MAX_VIDEO_S or max(width, height) > MAX_VIDEO_SIDE:
        raise _Skip(DURATION_INVALID)
    taken = _video_taken_at(metadata, zone)
    quicktime = None if taken is None else dating.Dated(taken[0], taken[1], dating.QUICKTIME)
    side = dating.read_sidecars(str(path.parent), path.name, sidecars, zone)
    dated = dating.resolve(path.name, zone, st.st_mtime, side, quicktime=quicktime)
    item = ScannedMedia(
        media_id=media_id_for(rel_path, st.st_size, st.st_mtime_ns),
        rel_path=rel_path,
        kind=MediaKind.VIDEO,
        taken_at_utc=dated.taken.taken_at_utc,
        tz_offset_min=dated.taken.tz_offset_min,
        lat=dated.lat,
        lon=dated.lon,
        orientation=1,
        width=int(width),
        height=int(height),
        size_bytes=st.st_size,
        mtime=st.st_mtime,
        date_source=dated.taken.source,
        duration_s=duration_s,
    )
    return item, side.errors


def _video_duration(container: Any, stream: Any) -> float:
    if container.duration:  # in av.time_base units (microseconds)
        return round(container.duration / av.time_base, 3)
    if stream.duration and stream.time_base:
        return round(float(stream.duration * stream.time_base), 3)
    return 0.0


def _video_taken_at(metadata: dict[str, str], zone: ZoneInfo) -> tuple[dt.datetime, int | None] | None:
    apple = _parse_iso(metadata.get("com.apple.quicktime.creationdate"))
    if apple is not None:  # local time, normally with its offset
        offset = apple.utcoffset()
        if offset is None:
            return apple.replace(tzinfo=zone).astimezone(dt.UTC), None
        return apple.astimezone(dt.UTC), int(offset.total_seconds() // 60)
    created = _parse_iso(metadata.get("creation_time"))
    if created is None:
        return None
    if created.tzinfo is None:  # QuickTime/Matroska creation times are UTC
        created = created.replace(tzinfo=dt.UTC)
    return created.astimezone(dt.UTC), None


def _parse_iso(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if value.year <= 1970:  # 1904/1970: an unset clock, not a date
        return None
    return value

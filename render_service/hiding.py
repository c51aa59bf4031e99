""" "Never show me this": hiding and unhiding media, folders and date ranges of a
library, and the checks every reel path makes. No gRPC here.

- ``visible(rows, exclusions)``: what ``select_media`` (and the pregen fingerprint,
  hence dedup) sees, so hidden media never reach a new reel, and hiding or unhiding
  an item of a window makes the next pass render that scope again.
- ``reel_is_hidden(engine, key, library)``: GetPrecomputedReel skips a reel that
  shows hidden media (falling back to an older one, else NOT_FOUND
  ``HIDDEN_MEDIA``); StreamReelVideo refuses it (FAILED_PRECONDITION
  ``HIDDEN_MEDIA``).

Both read ``exclusions_for(engine, library)``: the library's ``ExclusionSet``,
rebuilt only when its version (one primary-key read) has moved, and the reel's media
(``reel_media`` rows, immutable per key, so kept in a bounded per-process map; a reel
made before those rows existed is read from its sidecar). The verdict per reel is
remembered per exclusions version (``holds_hidden``). With no exclusion in a library
the check costs that one version read (about a tenth of the lookup:
docs/BENCHMARKS.md, bench:hiding).

A cache of GetPrecomputedReel answers can re-check a cached reel with
``holds_hidden(engine, key, exclusions_for(engine, library))``, or key itself on
``exclusions_for(...).version``.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from ledger import exclusions as exclusion_dao
from ledger.db import session_scope
from ledger.models import Exclusion, ExclusionTarget, MediaItem
from ledger.pagination import InvalidPageToken
from ledger.readonly import read_session
from reels_core.errors import InvalidArgument, NotFound, Unavailable
from reels_core.exclusions import ExclusionSet, MediaRef, normalize_folder, reel_holds_hidden
from reels_core.libraries import LibraryConfig
from reels_core.windows import local_range_to_utc
from render_service.sidecar import load_sidecar
from render_service.store import ReelStore

REEL_MEDIA_CACHE_MAX = 4096  # reels whose media are kept in memory (about 1 KB each)


@dataclass
class _Cache:
    lock: threading.Lock
    sets: dict[str, ExclusionSet]
    reels: dict[str, tuple[MediaRef, ...]]
    # reel key -> ((library, exclusions version), verdict): the check once per version
    verdicts: dict[str, tuple[tuple[str, int], bool]]


_CACHES: weakref.WeakKeyDictionary[Engine, _Cache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def _cache(engine: Engine) -> _Cache:
    cache = _CACHES.get(engine)
    if cache is None:
        with _CACHES_LOCK:
            cache = _CACHES.setdefault(engine, _Cache(threading.Lock(), {}, {}, {}))
    return cache


def exclusion_set(library: str, version: int, rows: Iterable[Exclusion]) -> ExclusionSet:
    """The ``ExclusionSet`` of a library's active exclusion rows (pure)."""
    media_ids: set[str] = set()
    paths: set[str] = set()
    folders: list[str] = []
    ranges: list[tuple[dt.datetime, dt.datetime]] = []
    for row in rows:
        if row.target == ExclusionTarget.MEDIA:
            if row.media_id:
                media_ids.add(row.media_id)
            if row.rel_path:
                paths.add(row.rel_path)
        elif row.target == ExclusionTarget.FOLDER and row.rel_path:
            folders.append(row.rel_path)
        elif row.target == ExclusionTarget.DATES and row.start_utc and row.end_utc:
            ranges.append((row.start_utc, row.end_utc))
    return ExclusionSet(library, version, frozenset(media_ids), frozenset(paths), tuple(folders), tuple(ranges))


def exclusions_for(engine: Engine, library: str) -> ExclusionSet:
    """The library's active exclusions, re-read only when their version moved."""
    cache = _cache(engine)
    version = exclusion_dao.exclusion_version(engine, library)
    cached = cache.sets.get(library)
    if cached is not None and cached.version == version:
        return cached
    if version == 0:
        fresh = ExclusionSet(library, 0)
    else:
        with read_session(engine) as session:
            fresh = exclusion_set(library, version, exclusion_dao.active_exclusions(session, library))
    with cache.lock:
        current = cache.sets.get(library)
        if current is None or current.version <= fresh.version:
            cache.sets[library] = fresh
    return fresh


def media_ref(row: MediaItem) -> MediaRef:
    return MediaRef(row.id, row.rel_path, row.taken_at_utc)


def visible(rows: Sequence[MediaItem], exclusions: ExclusionSet) -> list[MediaItem]:
    """``rows`` without the hidden ones (the same list when nothing is hidden)."""
    if not exclusions:
        return list(rows)
    return [r for r in rows if not exclusions.hides(media_ref(r))]


@dataclass(frozen=True)
class SidecarSource:
    """Where the media of a reel made before ``reel_media`` rows existed are read."""

    store: ReelStore
    sidecar_name: str


def _from_sidecar(source: SidecarSource | None) -> tuple[MediaRef, ...]:
    if source is None or not source.sidecar_name:
        return ()
    media = load_sidecar(source.store, source.sidecar_name).media
    return tuple(MediaRef(m.media_id, m.relative_path, m.taken_at) for m in media if m.taken_at is not None)


def reel_media_refs(engine: Engine, reel_key: str, legacy: SidecarSource | None = None) -> tuple[MediaRef, ...]:
    """The reel's media as recorded when it was made (immutable per key, cached);
    for a reel without ``reel_media`` rows (made before migration 0006), its
    sidecar's media list when ``legacy`` says where it is."""
    cache = _cache(engine)
    refs = cache.reels.get(reel_key)
    if refs is None:
        refs = tuple(MediaRef(m, p, t) for m, p, t in exclusion_dao.reel_media(engine, reel_key))
        refs = refs or _from_sidecar(legacy)
        if refs:  # an unknown key may be recorded later: not cached
            with cache.lock:
                if len(cache.reels) >= REEL_MEDIA_CACHE_MAX:
                    cache.reels.clear()
                cache.reels[reel_key] = refs
    return refs


def holds_hidden(engine: Engine, reel_key: str, exclusions: ExclusionSet, legacy: SidecarSource | None = None) -> bool:
    """``reel_holds_hidden`` of the reel's recorded media, remembered per exclusions
    version (a reel's media never change, so the verdict only moves with them)."""
    if not exclusions:
        return False
    cache = _cache(engine)
    stamp = (exclusions.library, exclusions.version)
    memo = cache.verdicts.get(reel_key)
    if memo is not None and memo[0] == stamp:
        return memo[1]
    refs = reel_media_refs(engine, reel_key, legacy)
    verdict = reel_holds_hidden(refs, exclusions)
    if refs:
        with cache.lock:
            if len(cache.verdicts) >= REEL_MEDIA_CACHE_MAX:
                cache.verdicts.clear()
            cache.verdicts[reel_key] = (stamp, verdict)
    return verdict


def reel_is_hidden(engine: Engine, reel_key: str, library: str, legacy: SidecarSource | None = None) -> bool:
    """True when the reel shows media the library's exclusions hide."""
    return holds_hidden(engine, reel_key, exclusions_for(engine, library), legacy)


def record_reel_media(engine: Engine, reel_key: str, media: Sequence[MediaItem]) -> None:
    """What the hidden-media check of this reel reads; written before it is served."""
    with session_scope(engine) as session:
        exclusion_dao.record_reel_media(session, reel_key, [(m.id, m.rel_path, m.taken_at_utc) for m in media])


# --- hiding and unhiding ----------------------------------------------------------


@dataclass(frozen=True)
class HideRequest:
    """Exactly one of media_id, folder or (start, end) local dates, end exclusive."""

    media_id: str = ""
    folder: str = ""
    start: dt.date | None = None
    end: dt.date | None = None


MAX_ID_LEN = 128


def _folder(lib: LibraryConfig, raw: str) -> str:
    text = raw.strip()
    root = lib.root.resolve()
    if Path(text).is_absolute():  # an absolute path is accepted inside the library only
        if ".." in Path(text).parts:
            raise InvalidArgument("FOLDER_INVALID", "folder must not contain '..'")
        try:
            text = Path(text).resolve().relative_to(root).as_posix()
        except ValueError:
            raise InvalidArgument("FOLDER_OUTSIDE_LIBRARY", "folder is outside the library") from None
        if text == ".":
            raise InvalidArgument("FOLDER_INVALID", "hiding the whole library is not a folder exclusion")
    folder = normalize_folder(text)
    if folder is None:
        raise InvalidArgument(
            "FOLDER_INVALID", "folder must be a path relative to the library, without '..' (e.g. 2024/paris)"
        )
    target = (root / folder).resolve()
    if not target.is_relative_to(root):  # a symlink that leads out of the library
        raise InvalidArgument("FOLDER_OUTSIDE_LIBRARY", "folder is outside the library")
    if not target.is_dir():
        raise NotFound("FOLDER_NOT_FOUND", f"no folder {folder!r} in library {lib.key!r}")
    return folder


def _new_exclusion(engine: Engine, lib: LibraryConfig, req: HideRequest, indexed: bool) -> exclusion_dao.NewExclusion:
    given = [bool(req.media_id), bool(req.folder), req.start is not None or req.end is not None]
    if sum(given) != 1:
        raise InvalidArgument("EXCLUSION_TARGET_INVALID", "set exactly one of media_id, folder or date_range")
    if req.media_id:
        if len(req.media_id) > MAX_ID_LEN:
            raise InvalidArgument("MEDIA_ID_INVALID", f"media_id is at most {MAX_ID_LEN} characters")
        with read_session(engine) as session:
            item = exclusion_dao.media_item(session, lib.key, req.media_id)
        if item is None:
            if not indexed:
                raise Unavailable(
                    "LIBRARY_SCANNING", f"library {lib.key!r} is being indexed for the first time; retry shortly"
                )
            raise NotFound("MEDIA_NOT_FOUND", f"no media {req.media_id!r} in library {lib.key!r}")
        return exclusion_dao.NewExclusion(ExclusionTarget.MEDIA, media_id=item.id, rel_path=item.rel_path)
    if req.folder:
        return exclusion_dao.NewExclusion(ExclusionTarget.FOLDER, rel_path=_folder(lib, req.folder))
    if req.start is None or req.end is None:
        raise InvalidArgument("DATE_RANGE_INVALID", "date_range needs a start_date and an end_date")
    if req.end <= req.start:
        raise InvalidArgument(
            "DATE_RANGE_INVALID", "date_range is empty or inverted: end_date (exclusive) must be after start_date"
        )
    start_utc, end_utc = local_range_to_utc(req.start, req.end, lib.timezone)
    return exclusion_dao.NewExclusion(
        ExclusionTarget.DATES, start_date=req.start, end_date=req.end, start_utc=start_utc, end_utc=end_utc
    )


def hide(
    engine: Engine, lib: LibraryConfig, req: HideRequest, request_id: str = "", indexed: bool = True
) -> tuple[Exclusion, bool]:
    """Hide a media item, folder or date range of ``lib``; (exclusion, created).
    Idempotent on ``request_id`` and on what is hidden."""
    if len(request_id) > MAX_ID_LEN:
        raise InvalidArgument("REQUEST_ID_INVALID", f"request_id is at most {MAX_ID_LEN} characters")
    new = _new_exclusion(engine, lib, req, indexed)
    with session_scope(engine) as session:
        return exclusion_dao.create_exclusion(session, lib.key, new, request_id or None)


def parse_exclusion_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidArgument("EXCLUSION_ID_INVALID", "exclusion_id is the number CreateExclusion returned")
    return int(raw)


def unhide(engine: Engine, library: str, exclusion_id: int, request_id: str = "") -> Exclusion:
    """Delete (soft) an exclusion of ``library``; NOT_FOUND (EXCLUSION_NOT_FOUND)
    when there is no such active one (a retry with the same request_id succeeds)."""
    with session_scope(engine) as session:
        row = exclusion_dao.get_exclusion(session, exclusion_id)
        if row is not None and row.library_key == library:
            row = exclusion_dao.delete_exclusion(session, exclusion_id, request_id or None)
        else:
            row = None
    if row is None:
        raise NotFound("EXCLUSION_NOT_FOUND", f"no exclusion {exclusion_id} in library {library!r}")
    return row


def list_hidden(engine: Engine, library: str, page_size: int, page_token: str) -> tuple[list[Exclusion], str]:
    try:
        with read_session(engine) as session:
            return exclusion_dao.list_exclusions(session, library, page_size, page_token or None)
    except InvalidPageToken as exc:
        raise InvalidArgument("PAGE_TOKEN_INVALID", str(exc)) from None

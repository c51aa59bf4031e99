"""The read side of the render service: reels by key or scope from the ledger
(pre-generated reels) and the job table (on-demand reels), the validity gate, and
the pages of ListReels, ListLibraries and ListMaintenanceRuns. No gRPC here; the
queries are ``ledger`` functions.

A key is only ever looked up; the file names come from the row that matches it.
Every lookup here only reads, through `ledger.readonly`: a WAL snapshot that neither
takes nor waits for SQLite's write lock, and for the two hot lookups (by key, by
scope) no ORM (see docs/BENCHMARKS.md, bench:precomputed).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from ledger import libraries as library_dao
from ledger import maintenance as maintenance_dao
from ledger import readonly
from ledger import reels as reel_dao
from ledger.db import utcnow
from ledger.models import JobState, Library, MaintenanceRun, PrecomputedReel, ReelJob, ReelStatus, RunKind
from ledger.pagination import InvalidPageToken
from ledger.readonly import ReelRow, read_session
from reels_core.domain import Kind, Span
from reels_core.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from reels_core.exclusions import ExclusionSet
from render_service.hiding import SidecarSource, exclusions_for, holds_hidden, reel_is_hidden
from render_service.sidecar import CONTENT_TYPE
from render_service.store import ReelStore, StoredObject

POSTER_SUFFIX = ".jpg"
POSTER_CONTENT_TYPE = "image/jpeg"
_KEY_RE = re.compile(r"^[a-z0-9_-]{1,160}(\.jpg)?$")


@dataclass
class ReelInfo:
    key: str
    library: str
    span: str
    kind: str
    anchor_date: dt.date
    title: str
    duration_s: float
    size_bytes: int
    sha256: str
    video_name: str
    sidecar_name: str
    poster_name: str
    created_at: dt.datetime | None
    valid_until: dt.datetime | None
    precomputed: bool
    mood: str = ""
    music_style: str = ""
    mode_used: str = "FAST"
    fallback_reason: str = ""
    job_id: str = ""
    # The window's UTC bounds (pre-generated reels): a TRIP window is the trip's days.
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None


@dataclass(frozen=True)
class StreamTarget:
    """What StreamReelVideo needs: the object and what to announce before byte 0."""

    name: str
    size_bytes: int
    sha256: str
    content_type: str


def check_key(key: str) -> str:
    if not key or not _KEY_RE.match(key):
        raise InvalidArgument("REEL_KEY_INVALID", "key must look like a reel key (lowercase letters, digits, '-')")
    return key


def _from_row(row: PrecomputedReel | ReelRow) -> ReelInfo:
    return ReelInfo(
        key=row.key,
        library=row.library_key,
        span=row.span,
        kind=row.kind,
        anchor_date=row.anchor_date,
        title=row.title,
        duration_s=row.duration_s,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        video_name=row.video_path,
        sidecar_name=row.sidecar_path,
        poster_name=row.poster_path,
        created_at=row.created_at,
        valid_until=row.valid_until,
        precomputed=True,
        mood=row.mood,
        music_style=row.music_style,
        mode_used=row.mode_used or "FAST",
        fallback_reason=row.fallback_reason,
        window_start=row.window_start,
        window_end=row.window_end,
    )


def _from_job(job: ReelJob) -> ReelInfo | None:
    result = job.result_json or {}
    if job.state != JobState.SUCCEEDED or not result.get("video"):
        return None
    return ReelInfo(
        key=job.reel_key or "",
        library=job.library_key,
        span=job.span,
        kind=job.kind,
        anchor_date=job.anchor_date,
        title=result.get("title", ""),
        duration_s=float(result.get("duration_s", 0.0)),
        size_bytes=int(result.get("size_bytes", 0)),
        sha256=result.get("sha256", ""),
        video_name=result["video"],
        sidecar_name=result.get("sidecar", ""),
        poster_name=result.get("poster", ""),
        created_at=job.finished_at,
        valid_until=None,
        precomputed=False,
        job_id=job.id,
        fallback_reason=job.reason or "",
    )


def find_reel(engine: Engine, key: str) -> ReelInfo:
    """The reel with this key, from the ledger or else the job table; NOT_FOUND
    (REEL_NOT_FOUND) otherwise."""
    check_key(key)
    row = readonly.reel_by_key(engine, key)
    if row is not None:
        return _from_row(row)
    with read_session(engine) as session:
        job = reel_dao.get_job_by_reel_key(session, key)
        info = _from_job(job) if job is not None else None
    if info is None:
        raise NotFound("REEL_NOT_FOUND", f"no reel with key {key!r}")
    return info


def _refuse_hidden(engine: Engine, store: ReelStore, info: ReelInfo) -> None:
    if reel_is_hidden(engine, info.key, info.library, SidecarSource(store, info.sidecar_name)):
        raise FailedPrecondition("HIDDEN_MEDIA", "this reel shows media hidden from memories")


def stream_target(engine: Engine, store: ReelStore, key: str) -> StreamTarget:
    """The object behind a reel key (or its poster key, `<key>.jpg`);
    FAILED_PRECONDITION (HIDDEN_MEDIA) for a reel that shows hidden media."""
    check_key(key)
    if key.endswith(POSTER_SUFFIX):
        info = find_reel(engine, key[: -len(POSTER_SUFFIX)])
        _refuse_hidden(engine, store, info)
        stat = _stat(store, info.poster_name)
        if stat is None:
            raise NotFound("FILE_MISSING", "the reel's poster file is gone")
        return StreamTarget(info.poster_name, stat.size, "", POSTER_CONTENT_TYPE)
    info = find_reel(engine, key)
    _refuse_hidden(engine, store, info)
    stat = _stat(store, info.video_name)
    if stat is None or stat.size != info.size_bytes:
        raise NotFound("FILE_MISSING", "the reel's video file is gone")
    return StreamTarget(info.video_name, info.size_bytes, info.sha256, CONTENT_TYPE)


# A further gate on a candidate row: "" to serve it, or the NOT_FOUND reason to
# skip it with (e.g. a reel holding hidden media). The row is a ledger.readonly.ReelRow.
ReelCheck = Callable[[ReelRow], str]


def precomputed_reel(
    engine: Engine, store: ReelStore, library: str, span: Span, kind: Kind, check: ReelCheck | None = None
) -> ReelInfo:
    """The newest-anchored reel of the scope that passes the validity gate: READY,
    the file exists with the recorded size, now < valid_until, it shows no media the
    library's exclusions hide, and `check` (when given) has no objection. NOT_FOUND
    with NO_REEL, EXPIRED, FILE_MISSING, HIDDEN_MEDIA or the check's reason (that of
    the newest row) otherwise."""
    now = utcnow()
    first_reason = ""
    exclusions: ExclusionSet | None = None  # read once, for the first row that needs it
    with readonly.scan_newest_for_scope(engine, library, span.value, kind.value, limit=8) as rows:
        for row in rows:
            if row.status != ReelStatus.READY or now >= row.valid_until:
                first_reason = first_reason or "EXPIRED"
                continue
            objection = check(row) if check is not None else ""
            if not objection:
                if exclusions is None:
                    exclusions = exclusions_for(engine, library)
                if holds_hidden(engine, row.key, exclusions, SidecarSource(store, row.sidecar_path)):
                    objection = "HIDDEN_MEDIA"
            if objection:
                first_reason = first_reason or objection
                continue
            stat = _stat(store, row.video_path)
            if stat is None or stat.size != row.size_bytes:
                first_reason = first_reason or "FILE_MISSING"
                continue
            return _from_row(row)
    if not first_reason:
        raise NotFound("NO_REEL", f"no pre-generated {span.value} {kind.value} reel for {library}")
    message = {
        "EXPIRED": "the newest reel of this scope has expired",
        "FILE_MISSING": "the newest reel of this scope has lost its file",
        "HIDDEN_MEDIA": "the reels of this scope show media hidden from memories",
    }.get(first_reason, "the newest reel of this scope cannot be served")
    raise NotFound(first_reason, message)


@contextmanager
def _page_token_checked() -> Iterator[None]:
    """INVALID_ARGUMENT (PAGE_TOKEN_INVALID) for a token this service did not issue
    for these filters."""
    try:
        yield
    except InvalidPageToken as exc:
        raise InvalidArgument("PAGE_TOKEN_INVALID", str(exc)) from None


def list_reels(
    engine: Engine, library: str | None, span: Span | None, kind: Kind | None, page_size: int, page_token: str
) -> tuple[list[ReelInfo], str]:
    with _page_token_checked(), read_session(engine) as session:
        rows, token = reel_dao.list_reels(
            session,
            library_key=library,
            span=span.value if span else None,
            kind=kind.value if kind else None,
            page_size=page_size,
            page_token=page_token or None,
        )
    return [_from_row(r) for r in rows], token


def list_libraries(engine: Engine, keys: Collection[str], page_size: int, page_token: str) -> tuple[list[Library], str]:
    """One page of the configured libraries (``keys``) the ledger knows, by key."""
    with _page_token_checked(), read_session(engine) as session:
        return library_dao.list_libraries_page(session, keys=keys, page_size=page_size, page_token=page_token or None)


def list_maintenance_runs(
    engine: Engine, kind: RunKind | None, page_size: int, page_token: str
) -> tuple[list[MaintenanceRun], str]:
    """One page of maintenance runs (of ``kind``, or all), newest first."""
    with _page_token_checked(), read_session(engine) as session:
        return maintenance_dao.list_runs(session, page_size, page_token or None, kind=kind)


def _stat(store: ReelStore, name: str) -> StoredObject | None:
    """``store.stat``, with a failing store (S3 unreachable after botocore's
    retries) answered UNAVAILABLE (STORE_UNAVAILABLE): the caller should retry."""
    try:
        return store.stat(name)
    except OSError:
        raise Unavailable("STORE_UNAVAILABLE", "the reel store cannot be reached; retry") from None

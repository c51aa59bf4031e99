"""`produce_reel`: the one reel pipeline, shared by CreateReel jobs, the nightly
pre-generation and the CLI. It knows nothing of gRPC.

`produce_reel` runs five stages, each a function with explicit inputs and outputs
that can be tested alone:

    select_media        the window's index rows whose files are still there
    script_reel         ScripterService (the client falls back to the fast script),
                        then the shots whose media is usable
    render_media        the staged mp4; a shot that cannot be decoded is dropped and
                        the reel rendered again
    publish_reel        poster + sidecar beside it, then all three published (mp4 last)
    record_precomputed  (pre-generated reels) the ledger row
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.engine import Engine

from ledger import analysis as analysis_dao
from ledger import libraries as library_dao
from ledger import prefs as prefs_dao
from ledger import reels as reel_dao
from ledger.db import session_scope, utcnow
from ledger.models import MediaItem
from ledger.readonly import read_session
from reels_core import clock, moments
from reels_core.domain import (
    Candidate,
    Kind,
    MediaKind,
    Mode,
    Preferences,
    Quality,
    Script,
    ScriptRequest,
    Span,
    StyleStat,
    Window,
)
from reels_core.errors import (
    Cancelled,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)
from reels_core.fast_script import ranking, target_duration_s
from reels_core.libraries import LibraryConfig
from reels_core.trips import DEFAULT_TRIP_MIN_KM
from reels_core.windows import (
    DEFAULT_VALIDITY_HOURS,
    TRIP_VALIDITY_HOURS,
    local_midnight_utc,
    trip_valid_until,
    valid_until,
    window_for,
    window_to_utc,
)
from render_service import hiding
from render_service.photo_formats import quick_check
from render_service.render import (
    MediaInput,
    RenderCancelled,
    RenderError,
    RenderParams,
    RenderStats,
    ShotFailed,
    make_poster,
    params_for,
    render_reel,
)
from render_service.scans import LibraryScans
from render_service.scripter_client import ScripterClient
from render_service.sidecar import (
    CONTENT_TYPE,
    DROP_NOT_A_CANDIDATE,
    DROP_SHOT_FAILED,
    DROP_UNREADABLE,
    DroppedMedia,
    Sidecar,
    SidecarMedia,
    SidecarParams,
    SidecarStats,
)
from render_service.sidecar import RenderChoice as RenderChoice  # re-exported: jobs and loops import it from here
from render_service.store import ReelStore
from render_service.trips import find_trip
from service_kit import metrics, tracing

log = structlog.get_logger("pipeline")

Progress = Callable[[str, float, str], None]


def _no_progress(_stage: str, _fraction: float, _message: str) -> None:
    pass


@dataclass(frozen=True)
class ReelSpec:
    library: str
    span: Span
    kind: Kind
    anchor: dt.date
    mode: Mode = Mode.FAST
    choice: RenderChoice = RenderChoice()
    precomputed: bool = False
    job_id: str = ""
    reel_key: str = ""  # chosen when the job starts (recorded on its row); "" = a new one


@dataclass
class ProducedReel:
    key: str
    video_name: str
    sidecar_name: str
    poster_name: str
    size_bytes: int
    sha256: str
    duration_s: float
    script: Script
    window: Window
    media_fingerprint: str
    stats: SidecarStats = field(default_factory=SidecarStats)
    valid_until: dt.datetime | None = None


@dataclass
class PipelineDeps:
    engine: Engine
    store: ReelStore
    scripter: ScripterClient
    libraries: dict[str, LibraryConfig]
    max_shots: int = 20
    target_duration_s: float = 30.0
    valid_hours: Mapping[Span, float] = field(default_factory=lambda: dict(DEFAULT_VALIDITY_HOURS))
    keep_per_scope: int = 2
    scans: LibraryScans | None = None  # None: every index counts as complete (tests, tools)
    trip_min_km: float = DEFAULT_TRIP_MIN_KM
    trip_valid_hours: float = TRIP_VALIDITY_HOURS

    def indexed(self, library: str) -> bool:
        """The library's index is complete: its first scan in this process is over."""
        return self.scans is None or self.scans.indexed(library)


@dataclass(frozen=True)
class ReelNames:
    """The store names of a reel's three files."""

    key: str

    @property
    def video(self) -> str:
        return f"{self.key}.mp4"

    @property
    def sidecar(self) -> str:
        return f"{self.key}.json"

    @property
    def poster(self) -> str:
        return f"{self.key}.jpg"


def library_today(tz: str) -> dt.date:
    """Today in the library's zone, on the domain clock (``reels_core.clock``)."""
    return clock.today(tz)


def check_anchor(anchor: dt.date | None, tz: str) -> dt.date:
    """Today in the library's zone when unset; INVALID_ARGUMENT when in the future."""
    today = library_today(tz)
    if anchor is None:
        return today
    if anchor > today:
        raise InvalidArgument("ANCHOR_IN_FUTURE", f"anchor_date {anchor} is after today ({today}) in {tz}")
    return anchor


def new_reel_key(spec: ReelSpec) -> str:
    kind = spec.kind.value.lower().replace("_", "")
    return f"{spec.library}-{spec.span.value.lower()}-{kind}-{spec.anchor:%Y%m%d}-{secrets.token_hex(4)}"


# Every file name the service writes in the reel store: a reel key (library, span,
# kind, anchor, 8 random hex digits) with its extension, and while it is being made
# the staging suffix (``.tmp``) and the encoder's ``.part``. The sweeper deletes
# nothing else, so a shared directory or bucket keeps everyone else's files.
REEL_FILE_NAME = re.compile(
    r"(?P<key>[a-z0-9_-]{1,64}-[a-z]+-[a-z]+-\d{8}-[0-9a-f]{8})\.(?P<ext>mp4|json|jpg)(?P<tmp>\.tmp(\.part)?)?"
)


def reel_file_key(name: str) -> str | None:
    """The reel key of a file name the service writes, or None for any other name."""
    match = REEL_FILE_NAME.fullmatch(name)
    return match["key"] if match else None


def window_media(engine: Engine, lib: LibraryConfig, window: Window) -> list[MediaItem]:
    """Index rows of the window, oldest first, in the library's time zone, without
    the media the library's exclusions hide (render_service/hiding.py)."""
    rows: list[MediaItem] = []
    with session_scope(engine) as session:
        for start_utc, end_utc in window_to_utc(window, lib.timezone):
            rows.extend(library_dao.media_in_range(session, lib.key, start_utc, end_utc))
    return hiding.visible(rows, hiding.exclusions_for(engine, lib.key))


def reel_window(deps: PipelineDeps, lib: LibraryConfig, span: Span, kind: Kind, anchor: dt.date) -> Window:
    """The window of a scope: fixed dates (``window_for``), or for TRIP the days of
    the most recent trip in the span's lookback (FAILED_PRECONDITION ``NO_TRIP`` or
    ``NO_HOME`` when there is none)."""
    if kind is Kind.TRIP:
        exclusions = hiding.exclusions_for(deps.engine, lib.key)
        return find_trip(deps.engine, lib, span, anchor, min_km=deps.trip_min_km, exclusions=exclusions).window
    return window_for(span, kind, anchor)


def reel_valid_until(deps: PipelineDeps, spec: ReelSpec, window: Window, tz: str) -> dt.datetime:
    """A trip reel: 32 days after the trip ends; any other: from its anchor's midnight."""
    if spec.kind is Kind.TRIP:
        return trip_valid_until(window, tz, deps.trip_valid_hours)
    return valid_until(spec.anchor, spec.span, tz, deps.valid_hours)


def window_media_count(engine: Engine, lib: LibraryConfig, window: Window) -> int:
    """How many visible index rows the window holds (a COUNT, no row loaded, unless
    the library hides something: then the rows are read and filtered)."""
    if hiding.exclusions_for(engine, lib.key):
        return len(window_media(engine, lib, window))
    with read_session(engine) as session:
        return sum(
            library_dao.count_media_in_range(session, lib.key, start_utc, end_utc)
            for start_utc, end_utc in window_to_utc(window, lib.timezone)
        )


def _no_media(spec: ReelSpec, window: Window) -> FailedPrecondition:
    return FailedPrecondition(
        "NO_MEDIA_IN_WINDOW",
        f"no media in {spec.library} between {window.start} and {window.end} ({spec.span.value} {spec.kind.value})",
    )


def require_media(deps: PipelineDeps, spec: ReelSpec, wait_s: float = 0.0) -> int:
    """FAILED_PRECONDITION (NO_MEDIA_IN_WINDOW) when the window holds no media, so an
    on-demand request fails at once instead of as a queued job. An empty answer
    before the library's first scan is over is not believed: wait up to ``wait_s``
    for the scan, else UNAVAILABLE (LIBRARY_SCANNING)."""
    lib = deps.libraries[spec.library]
    try:
        window = reel_window(deps, lib, spec.span, spec.kind, spec.anchor)
    except FailedPrecondition:  # TRIP: no trip (yet?) in an index that may be incomplete
        if deps.indexed(lib.key):
            raise
        assert deps.scans is not None
        if not deps.scans.wait_indexed(lib.key, wait_s):
            raise Unavailable(
                "LIBRARY_SCANNING", f"library {lib.key!r} is being indexed for the first time; retry shortly"
            ) from None
        window = reel_window(deps, lib, spec.span, spec.kind, spec.anchor)
    count = window_media_count(deps.engine, lib, window)
    if count == 0 and not deps.indexed(lib.key):
        assert deps.scans is not None
        if not deps.scans.wait_indexed(lib.key, wait_s):
            raise Unavailable(
                "LIBRARY_SCANNING", f"library {lib.key!r} is being indexed for the first time; retry shortly"
            )
        count = window_media_count(deps.engine, lib, window)
    if count == 0:
        raise _no_media(spec, window)
    return count


def media_fingerprint(rows: Sequence[MediaItem]) -> str:
    """Changes when media of the window are added, removed or edited (the media id
    covers path, size and mtime)."""
    digest = hashlib.sha256()
    for media_id in sorted(r.id for r in rows):
        digest.update(media_id.encode())
        digest.update(b"\n")
    return digest.hexdigest()[:32]


def load_preferences(engine: Engine, library: str, choice: RenderChoice) -> Preferences:
    """Explicit choices plus the library's distillate (never the raw feedback)."""
    with session_scope(engine) as session:
        distillate = prefs_dao.get_distillate(session, library)
    return Preferences(
        mood=choice.mood,
        music_style=choice.music_style,
        target_duration_s=choice.target_duration_s,
        favorite_moods=distillate.favorite_moods,
        disliked_music_styles=distillate.disliked_music_styles,
        preferred_duration_s=distillate.preferred_duration_s,
        style_stats=tuple(StyleStat(s.mood, s.music_style, s.good, s.bad) for s in distillate.style_stats),
    )


def seed_for(spec: ReelSpec, extra: str = "") -> int:
    raw = f"{spec.library}|{spec.span.value}|{spec.kind.value}|{spec.anchor}|{spec.job_id}|{extra}"
    return int.from_bytes(hashlib.sha256(raw.encode()).digest()[:6], "big")


def resolve_library(deps: PipelineDeps, spec: ReelSpec) -> LibraryConfig:
    """The spec's library; NOT_FOUND (LIBRARY_NOT_FOUND), or INVALID_ARGUMENT when
    the anchor is in the library's future."""
    lib = deps.libraries.get(spec.library)
    if lib is None:
        raise NotFound("LIBRARY_NOT_FOUND", f"no library {spec.library!r}")
    check_anchor(spec.anchor, lib.timezone)
    return lib


# --- select -------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """The window and its media."""

    window: Window
    rows: tuple[MediaItem, ...]  # every index row of the window (what the fingerprint covers)
    present: tuple[MediaItem, ...]  # those whose file is still in the library
    fingerprint: str
    quality: Mapping[str, Quality] = field(default_factory=dict)  # index-time analysis, by media id

    @property
    def missing(self) -> int:
        """Rows whose file went away since the scan."""
        return len(self.rows) - len(self.present)

    @cached_property
    def by_id(self) -> dict[str, MediaItem]:
        return {r.id: r for r in self.present}


@tracing.traced("reel.select")
def select_media(
    engine: Engine,
    lib: LibraryConfig,
    spec: ReelSpec,
    media_rows: Sequence[MediaItem] | None = None,
    window: Window | None = None,
) -> Selection:
    """The window's index rows (``media_rows`` when the caller has read them already)
    and those whose file is still there; FAILED_PRECONDITION (NO_MEDIA_IN_WINDOW)
    when none is. ``window`` is needed for TRIP (``reel_window``)."""
    window = window or window_for(spec.span, spec.kind, spec.anchor)
    rows = tuple(media_rows if media_rows is not None else window_media(engine, lib, window))
    root = str(lib.root)  # os.path, not pathlib: about half the cost for a window of 5,000 rows
    present = tuple(r for r in rows if os.path.isfile(os.path.join(root, r.rel_path)))
    if not present:
        raise _no_media(spec, window)
    with session_scope(engine) as session:
        quality = analysis_dao.qualities(session, [r.id for r in present])
    return Selection(window, rows, present, media_fingerprint(rows), quality)


# --- script -------------------------------------------------------------------


@dataclass(frozen=True)
class Scripted:
    request: ScriptRequest
    script: Script  # only shots whose media is usable
    dropped: tuple[DroppedMedia, ...]  # the shots left out, and why
    picks: Mapping[str, moments.Pick] = field(default_factory=dict)  # why each shot is there, by media id


def _candidate(row: MediaItem, tz: ZoneInfo, quality: Quality | None = None) -> Candidate:
    taken = row.taken_at_utc
    if row.tz_offset_min is not None:  # the offset the camera recorded wins over the library's zone
        local = taken.astimezone(dt.timezone(dt.timedelta(minutes=row.tz_offset_min)))
    else:
        local = taken.astimezone(tz)
    return Candidate(
        media_id=row.id,
        kind=MediaKind(row.kind),
        taken_at=local,
        # Displayed size: EXIF orientations 5-8 swap the axes.
        width=(row.height if row.orientation in (5, 6, 7, 8) else row.width) or 0,
        height=(row.width if row.orientation in (5, 6, 7, 8) else row.height) or 0,
        lat=row.lat,
        lon=row.lon,
        duration_s=row.duration_s or 0.0,
        rel_path=row.rel_path,
        quality=quality or Quality(),
    )


MAX_CANDIDATES = 400


def spread_candidates(rows: Sequence[MediaItem], limit: int = MAX_CANDIDATES) -> list[MediaItem]:
    """At most ``limit`` of ``rows`` (oldest first), evenly spaced in that order, the
    first and the last kept: what the scripter is offered. A month of 5,000 photos
    otherwise sends 5,000 candidates (a 0.3 MB request, each converted twice and
    spread over by the fast script in O(n * shots)), for a reel of 20 shots; the
    cap keeps CreateReel's cost the same for any window (bench_scan.py,
    bench:scan-scale). Dense hours keep more candidates than quiet ones, as they
    hold more moments."""
    n = len(rows)
    if n <= limit:
        return list(rows)
    if limit <= 1:
        return list(rows[:limit])
    return [rows[round(i * (n - 1) / (limit - 1))] for i in range(limit)]


def offered_candidates(selection: Selection, limit: int = MAX_CANDIDATES) -> list[MediaItem]:
    """The present media, capped at ``limit``: every favourite (``moments.is_favorite``)
    is offered, the rest spread over the window (``spread_candidates``), oldest first.
    A favourite must never be lost to the even spread: the ranking prefers it."""
    present = selection.present
    if len(present) <= limit:
        return list(present)
    favourites = {r.id for r in present if (q := selection.quality.get(r.id)) is not None and moments.is_favorite(q)}
    kept = [r for r in present if r.id in favourites][:limit]
    rest = spread_candidates([r for r in present if r.id not in favourites], limit - len(kept))
    return sorted([*kept, *rest], key=lambda r: (r.taken_at_utc, r.id))


def script_request(
    spec: ReelSpec,
    lib: LibraryConfig,
    selection: Selection,
    preferences: Preferences,
    *,
    target_duration_s: float,
    max_shots: int,
) -> ScriptRequest:
    """What the scripter is asked: the present media as candidates, at most
    ``MAX_CANDIDATES`` of them spread over the window (``spread_candidates``)."""
    tz = ZoneInfo(lib.timezone)
    return ScriptRequest(
        library=spec.library,
        window=selection.window,
        timezone=lib.timezone,
        mode=spec.mode,
        candidates=tuple(_candidate(r, tz, selection.quality.get(r.id)) for r in offered_candidates(selection)),
        preferences=preferences,
        target_duration_s=target_duration_s,
        max_shots=max_shots,
        seed=seed_for(spec),
    )


def _photo_decodes(path: Path) -> bool:
    """Cheap check that a photo is still whole, reading no pixels (the render
    decodes each photo once): a file can break after the scan, and one bad photo
    must not fail the reel."""
    try:
        quick_check(path)
        return True
    except Exception:  # noqa: BLE001  # any decoder error means "skip this photo"
        return False


def _drop_shots(script: Script, bad: set[str]) -> Script:
    """Remove unusable shots and stretch the others so the length stays the same."""
    kept = [s for s in script.shots if s.media_id not in bad]
    if not kept:
        return replace(script, shots=[])
    kept_s = sum(s.duration_s for s in kept)
    if kept_s <= 0:  # never from a checked script; no division by zero either way
        return replace(script, shots=[])
    scale = script.duration_s / kept_s
    shots = [replace(s, duration_s=round(s.duration_s * scale, 3)) for s in kept]
    drift = round(script.duration_s - sum(s.duration_s for s in shots), 3)
    shots[-1] = replace(shots[-1], duration_s=round(shots[-1].duration_s + drift, 3))
    return replace(script, shots=shots)


def usable_shots(script: Script, selection: Selection, root: Path) -> tuple[Script, tuple[DroppedMedia, ...]]:
    """The script without shots of media the window does not hold or photos that no
    longer decode (their time shared out to the others), and those dropped."""
    by_id = selection.by_id
    dropped = [DroppedMedia(s.media_id, "", DROP_NOT_A_CANDIDATE) for s in script.shots if s.media_id not in by_id]
    dropped += [
        DroppedMedia(s.media_id, row.rel_path, DROP_UNREADABLE)
        for s in script.shots
        if (row := by_id.get(s.media_id)) is not None
        and row.kind == MediaKind.PHOTO
        and not _photo_decodes(root / row.rel_path)
    ]
    if dropped:
        script = _drop_shots(script, {d.media_id for d in dropped})
    return script, tuple(dropped)


@tracing.traced("reel.script")
def script_reel(deps: PipelineDeps, spec: ReelSpec, lib: LibraryConfig, selection: Selection) -> Scripted:
    """Ask the scripter (its client falls back to the fast script) and keep the
    usable shots; FAILED_PRECONDITION (NO_USABLE_MEDIA) when none is left."""
    request = script_request(
        spec,
        lib,
        selection,
        load_preferences(deps.engine, spec.library, spec.choice),
        target_duration_s=deps.target_duration_s,
        max_shots=spec.choice.max_shots or deps.max_shots,
    )
    script, dropped = usable_shots(deps.scripter.generate(request), selection, lib.root)
    if not script.shots:
        raise FailedPrecondition("NO_USABLE_MEDIA", "none of the window's media could be decoded")
    return Scripted(request, script, dropped, explain_picks(request, script))


def explain_picks(request: ScriptRequest, script: Script) -> dict[str, moments.Pick]:
    """Why each shot is in the reel: its ``Pick`` in the ranked list FAST and AGENTIC
    both choose from (``reels_core.moments``), or CHOSEN_BY_SCRIPTER for a shot the
    ranking did not pick."""
    tz = ZoneInfo(request.timezone)
    ranked = ranking(request.candidates, request.window, tz, request.max_shots, target_duration_s(request))
    by_id = {c.media_id: c for c in request.candidates}
    out: dict[str, moments.Pick] = {}
    for shot in script.shots:
        pick = ranked.pick(shot.media_id)
        cand = by_id.get(shot.media_id)
        if pick is None and cand is not None:
            pick = moments.Pick(
                shot.media_id,
                moments.PICK_BY_SCRIPTER,
                moment=-1,
                moments=ranked.moments,
                round=0,
                score=moments.score(cand),
                scene_size=1,
                flags=moments.flags(cand),
            )
        if pick is not None:
            out[shot.media_id] = pick
    return out


# --- render -------------------------------------------------------------------


def focus_box(quality: Quality | None) -> tuple[float, float, float, float] | None:
    """(x0, y0, x1, y1), fractions of the upright picture: the box around its faces,
    or None (the centre) when it has none."""
    if quality is None or not quality.faces:
        return None
    x0 = min(f.x for f in quality.faces)
    y0 = min(f.y for f in quality.faces)
    x1 = max(f.x + f.w for f in quality.faces)
    y1 = max(f.y + f.h for f in quality.faces)
    return (max(0.0, x0), max(0.0, y0), min(1.0, x1), min(1.0, y1))


@dataclass(frozen=True)
class Rendered:
    script: Script  # the shots the video holds
    stats: RenderStats
    params: RenderParams
    media: dict[str, MediaInput]  # the scripted shots' media, by id
    dropped: tuple[DroppedMedia, ...]  # left out before and during the render
    video: Path  # the staged mp4


def render_inputs(script: Script, selection: Selection, root: Path) -> dict[str, MediaInput]:
    """The renderer's view of each shot's media; photos with faces carry the box
    their motion and crop aim at (``focus``, fractions of the upright picture)."""
    used = {s.media_id for s in script.shots}
    return {
        mid: MediaInput(
            media_id=mid,
            path=root / row.rel_path,
            kind=row.kind,
            orientation=row.orientation or 1,
            duration_s=row.duration_s or 0.0,
            focus=focus_box(selection.quality.get(mid)),
            motion_path=root / row.motion_rel_path if row.motion_rel_path else None,
        )
        for mid, row in selection.by_id.items()
        if mid in used
    }


@tracing.traced("reel.render")
def render_media(
    store: ReelStore,
    names: ReelNames,
    choice: RenderChoice,
    root: Path,
    selection: Selection,
    scripted: Scripted,
    report: Progress,
    cancel: threading.Event,
) -> Rendered:
    """Render the script to the staging path of ``names.video``, reporting progress
    from 0.15 to 0.95; Cancelled when ``cancel`` is set meanwhile."""
    params = replace(params_for(choice.resolution or "720p", choice.aspect or "16:9"), seed=scripted.request.seed)
    media = render_inputs(scripted.script, selection, root)
    staged = store.staging_path(names.video)
    report("render", 0.15, f"rendering {len(scripted.script.shots)} shots")

    def render_progress(fraction: float, message: str) -> None:
        report("render", 0.15 + 0.8 * max(0.0, min(1.0, fraction)), message)

    dropped = list(scripted.dropped)
    script, stats = _render_dropping_bad_shots(
        scripted.script, media, staged, params, render_progress, cancel, selection.by_id, dropped
    )
    return Rendered(script, stats, params, media, tuple(dropped), staged)


def _render_dropping_bad_shots(
    script: Script,
    media: dict[str, MediaInput],
    staged: Path,
    params: RenderParams,
    progress: Callable[[float, str], None],
    cancel: threading.Event,
    by_id: Mapping[str, MediaItem],
    dropped: list[DroppedMedia],
) -> tuple[Script, RenderStats]:
    """Render; when one shot cannot be prepared, drop its media (recorded in
    ``dropped``), share its time out to the others and render again. Only when no
    shot is left does the reel fail, with NO_USABLE_MEDIA.

    A retry starts the encode over: the failing shot is found only when the frame
    loop reaches it (shots are prepared two ahead), and it is rare, so a second
    pass costs less than checking every shot up front on every reel."""
    while True:
        try:
            return script, render_reel(script, media, staged, params, progress, cancel)
        except RenderCancelled:
            staged.unlink(missing_ok=True)
            raise Cancelled("CANCELLED", "cancelled during render") from None
        except ShotFailed as exc:
            staged.unlink(missing_ok=True)
            row = by_id.get(exc.media_id)
            dropped.append(DroppedMedia(exc.media_id, row.rel_path if row else "", DROP_SHOT_FAILED, str(exc)))
            log.warning("shot dropped", media_id=exc.media_id, shot=exc.index, detail=exc.detail)
            script = _drop_shots(script, {exc.media_id})
            if not script.shots:
                raise FailedPrecondition("NO_USABLE_MEDIA", "none of the window's media could be rendered") from exc
        except RenderError as exc:
            staged.unlink(missing_ok=True)
            if disk_full(exc):
                raise ResourceExhausted("LOW_DISK", "the disk filled up during the render") from exc
            raise Internal("RENDER_FAILED", f"render failed: {exc}") from exc


def disk_full(exc: BaseException) -> bool:
    """Whether a failure came from a full disk: an ENOSPC anywhere in the chain, or
    ffmpeg saying so on its stderr (carried in a RenderError's text)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if "No space left on device" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# --- publish ------------------------------------------------------------------


@dataclass(frozen=True)
class VideoFile:
    """What the sidecar says about the rendered mp4."""

    sha256: str
    size_bytes: int


def describe_reel(
    spec: ReelSpec,
    timezone: str,
    names: ReelNames,
    selection: Selection,
    scripted: Scripted,
    rendered: Rendered,
    video: VideoFile,
    stats: SidecarStats,
    *,
    created: dt.datetime,
    until: dt.datetime | None,
) -> Sidecar:
    """The sidecar of a rendered reel (pure)."""
    by_id = selection.by_id
    return Sidecar(
        key=names.key,
        library=spec.library,
        span=spec.span,
        kind=spec.kind,
        anchor_date=spec.anchor,
        window=selection.window.ranges,
        time_zone=timezone,
        precomputed=spec.precomputed,
        job_id=spec.job_id,
        created_at=created,
        valid_until=until,
        content_type=CONTENT_TYPE,
        size_bytes=video.size_bytes,
        sha256=video.sha256,
        video=names.video,
        poster=names.poster,
        media_fingerprint=selection.fingerprint,
        script=rendered.script,
        media=tuple(
            _sidecar_media(by_id[s.media_id], scripted.picks.get(s.media_id), selection.quality.get(s.media_id))
            for s in rendered.script.shots
        ),
        # What the script request carried: explicit choices and the distillate.
        params=SidecarParams(
            choice=spec.choice,
            render=rendered.params,
            mode=spec.mode,
            preferences=scripted.request.preferences,
            seed=scripted.request.seed,
        ),
        stats=stats,
    )


def _sidecar_media(row: MediaItem, pick: moments.Pick | None, quality: Quality | None) -> SidecarMedia:
    media = SidecarMedia(row.id, row.rel_path, MediaKind(row.kind), row.taken_at_utc, row.date_source)
    if pick is None:
        return replace(media, quality=quality or Quality())
    return replace(
        media,
        pick_reason=pick.reason,
        pick_detail=pick.detail,
        moment=pick.moment,
        moment_count=pick.moments,
        pick_score=pick.score,
        quality_flags=pick.flags,
        quality=quality or Quality(),
    )


@tracing.traced("reel.publish")
def publish_reel(
    store: ReelStore,
    names: ReelNames,
    write_poster: Callable[[Path], object],
    describe: Callable[[VideoFile], Sidecar],
) -> Sidecar:
    """Stage the poster and the sidecar (``describe`` of the staged mp4) beside the
    staged ``names.video``, then publish poster, sidecar and video, in that order
    for crash safety: a visible video always has its poster and sidecar beside it.
    On any failure the three staged files are removed and the error re-raised."""
    video = store.staging_path(names.video)
    poster = store.staging_path(names.poster)
    sidecar_path = store.staging_path(names.sidecar)
    try:
        write_poster(poster)
        sha256, size = _sha256_of(video)
        sidecar = describe(VideoFile(sha256, size))
        sidecar_path.write_text(sidecar.to_json())
        store.publish(names.poster, poster)
        store.publish(names.sidecar, sidecar_path)
        store.publish(names.video, video)
    except BaseException:
        for path in (video, poster, sidecar_path):
            path.unlink(missing_ok=True)
        raise
    return sidecar


def _sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# --- record -------------------------------------------------------------------


@tracing.traced("reel.record")
def record_precomputed(engine: Engine, spec: ReelSpec, timezone: str, reel: ProducedReel) -> None:
    """The ledger row of a pre-generated reel (GetPrecomputedReel serves it)."""
    if reel.valid_until is None:
        raise ValueError("a pre-generated reel has a valid_until")
    with session_scope(engine) as session:
        reel_dao.record_reel(
            session,
            key=reel.key,
            library_key=spec.library,
            span=spec.span.value,
            kind=spec.kind.value,
            anchor_date=spec.anchor,
            window_start=local_midnight_utc(reel.window.start, timezone),
            window_end=local_midnight_utc(reel.window.end, timezone),
            title=reel.script.title,
            duration_s=reel.duration_s,
            size_bytes=reel.size_bytes,
            sha256=reel.sha256,
            media_fingerprint=reel.media_fingerprint,
            mood=reel.script.mood,
            music_style=reel.script.music_style,
            mode_used=reel.script.mode_used.value,
            fallback_reason=reel.script.fallback_reason,
            video_path=reel.video_name,
            sidecar_path=reel.sidecar_name,
            poster_path=reel.poster_name,
            valid_until=reel.valid_until,
        )


# --- the pipeline -------------------------------------------------------------


def _raise_if_cancelled(cancel: threading.Event) -> None:
    if cancel.is_set():
        raise Cancelled("CANCELLED", "cancelled")


def _produced(names: ReelNames, selection: Selection, rendered: Rendered, sidecar: Sidecar) -> ProducedReel:
    return ProducedReel(
        key=names.key,
        video_name=names.video,
        sidecar_name=names.sidecar,
        poster_name=names.poster,
        size_bytes=sidecar.size_bytes,
        sha256=sidecar.sha256,
        duration_s=rendered.script.duration_s,
        script=rendered.script,
        window=selection.window,
        media_fingerprint=selection.fingerprint,
        stats=sidecar.stats,
        valid_until=sidecar.valid_until,
    )


def produce_reel(
    deps: PipelineDeps,
    spec: ReelSpec,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    media_rows: Sequence[MediaItem] | None = None,
) -> ProducedReel:
    """Make one reel end to end; raises ReelError subclasses on bad input or when
    there is nothing to render, Cancelled when `cancel` is set."""
    report = progress or _no_progress
    cancel = cancel or threading.Event()
    lib = resolve_library(deps, spec)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    report("select", 0.01, "selecting media")
    window = reel_window(deps, lib, spec.span, spec.kind, spec.anchor)
    selection = select_media(deps.engine, lib, spec, media_rows, window)
    timings["select_s"] = time.perf_counter() - t0

    _raise_if_cancelled(cancel)
    report("script", 0.05, f"scripting {len(selection.present)} media")
    t1 = time.perf_counter()
    scripted = script_reel(deps, spec, lib, selection)
    timings["script_s"] = time.perf_counter() - t1

    _raise_if_cancelled(cancel)
    names = ReelNames(spec.reel_key or new_reel_key(spec))
    t2 = time.perf_counter()
    rendered = render_media(deps.store, names, spec.choice, lib.root, selection, scripted, report, cancel)
    timings["render_s"] = time.perf_counter() - t2
    metrics.reel_rendered(timings["render_s"], rendered.stats.frames, spec.choice.resolution or "720p")

    def describe(video: VideoFile) -> Sidecar:
        until = reel_valid_until(deps, spec, selection.window, lib.timezone) if spec.precomputed else None
        stats = SidecarStats.of(
            rendered.stats,
            timings=timings,
            missing=selection.missing,
            dropped=rendered.dropped,
            wall_s=time.perf_counter() - t0,
        )
        return describe_reel(
            spec, lib.timezone, names, selection, scripted, rendered, video, stats, created=utcnow(), until=until
        )

    # The hidden-media check reads these: written before the reel can be served.
    hiding.record_reel_media(deps.engine, names.key, [selection.by_id[s.media_id] for s in rendered.script.shots])
    report("publish", 0.96, "writing poster and sidecar")
    try:
        sidecar = publish_reel(
            deps.store,
            names,
            lambda path: make_poster(rendered.script, rendered.media, path, rendered.params),
            describe,
        )
    except (OSError, RenderError) as exc:  # publish_reel removed what it staged
        if disk_full(exc):
            raise ResourceExhausted("LOW_DISK", "the disk filled up while publishing the reel") from exc
        if isinstance(exc, OSError):  # the store (S3, after botocore's retries); the video is published last
            raise Unavailable("STORE_UNAVAILABLE", "the reel store could not be written") from exc
        raise
    produced = _produced(names, selection, rendered, sidecar)
    if spec.precomputed:
        record_precomputed(deps.engine, spec, lib.timezone, produced)
    report("published", 0.99, "reel published")
    metrics.script_fallback(rendered.script.fallback_reason)
    log.info(
        "reel produced",
        key=names.key,
        shots=len(rendered.script.shots),
        bytes=produced.size_bytes,
        wall_s=produced.stats.wall_s,
        mode_used=rendered.script.mode_used.value,
        fallback_reason=rendered.script.fallback_reason,
    )
    return produced

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
import hashlib
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

from ledger import libraries as library_dao
from ledger import prefs as prefs_dao
from ledger import reels as reel_dao
from ledger.db import session_scope, utcnow
from ledger.models import MediaItem
from reels_core import clock
from reels_core.domain import (
    Candidate,
    Kind,
    MediaKind,
    Mode,
    Preferences,
    Script,
    ScriptRequest,
    Span,
    StyleStat,
    Window,
)
from reels_core.errors import Cancelled, FailedPrecondition, Internal, InvalidArgument, NotFound, Unavailable
from reels_core.libraries import LibraryConfig
from reels_core.windows import DEFAULT_VALIDITY_HOURS, local_midnight_utc, valid_until, window_for, window_to_utc
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


def window_media(engine: Engine, lib: LibraryConfig, window: Window) -> list[MediaItem]:
    """Index rows of the window, oldest first, in the library's time zone."""
    rows: list[MediaItem] = []
    with session_scope(engine) as session:
        for start_utc, end_utc in window_to_utc(window, lib.timezone):
            rows.extend(library_dao.media_in_range(session, lib.key, start_utc, end_utc))
    return rows


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
    window = window_for(spec.span, spec.kind, spec.anchor)
    count = len(window_media(deps.engine, lib, window))
    if count == 0 and not deps.indexed(lib.key):
        assert deps.scans is not None
        if not deps.scans.wait_indexed(lib.key, wait_s):
            raise Unavailable(
                "LIBRARY_SCANNING", f"library {lib.key!r} is being indexed for the first time; retry shortly"
            )
        count = len(window_media(deps.engine, lib, window))
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

    @property
    def missing(self) -> int:
        """Rows whose file went away since the scan."""
        return len(self.rows) - len(self.present)

    @cached_property
    def by_id(self) -> dict[str, MediaItem]:
        return {r.id: r for r in self.present}


def select_media(
    engine: Engine, lib: LibraryConfig, spec: ReelSpec, media_rows: Sequence[MediaItem] | None = None
) -> Selection:
    """The window's index rows (``media_rows`` when the caller has read them already)
    and those whose file is still there; FAILED_PRECONDITION (NO_MEDIA_IN_WINDOW)
    when none is."""
    window = window_for(spec.span, spec.kind, spec.anchor)
    rows = tuple(media_rows if media_rows is not None else window_media(engine, lib, window))
    present = tuple(r for r in rows if (lib.root / r.rel_path).is_file())
    if not present:
        raise _no_media(spec, window)
    return Selection(window, rows, present, media_fingerprint(rows))


# --- script -------------------------------------------------------------------


@dataclass(frozen=True)
class Scripted:
    request: ScriptRequest
    script: Script  # only shots whose media is usable
    dropped: tuple[DroppedMedia, ...]  # the shots left out, and why


def _candidate(row: MediaItem, tz: ZoneInfo) -> Candidate:
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
    )


def script_request(
    spec: ReelSpec,
    lib: LibraryConfig,
    selection: Selection,
    preferences: Preferences,
    *,
    target_duration_s: float,
    max_shots: int,
) -> ScriptRequest:
    """What the scripter is asked: every present medium as a candidate."""
    tz = ZoneInfo(lib.timezone)
    return ScriptRequest(
        library=spec.library,
        window=selection.window,
        timezone=lib.timezone,
        mode=spec.mode,
        candidates=tuple(_candidate(r, tz) for r in selection.present),
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
    scale = script.duration_s / sum(s.duration_s for s in kept)
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
    return Scripted(request, script, dropped)


# --- render -------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    script: Script  # the shots the video holds
    stats: RenderStats
    params: RenderParams
    media: dict[str, MediaInput]  # the scripted shots' media, by id
    dropped: tuple[DroppedMedia, ...]  # left out before and during the render
    video: Path  # the staged mp4


def render_inputs(script: Script, selection: Selection, root: Path) -> dict[str, MediaInput]:
    used = {s.media_id for s in script.shots}
    return {
        mid: MediaInput(
            media_id=mid,
            path=root / row.rel_path,
            kind=row.kind,
            orientation=row.orientation or 1,
            duration_s=row.duration_s or 0.0,
        )
        for mid, row in selection.by_id.items()
        if mid in used
    }


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
            raise Internal("RENDER_FAILED", f"render failed: {exc}") from exc


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
            SidecarMedia(row.id, row.rel_path, MediaKind(row.kind), row.taken_at_utc, row.date_source)
            for row in (by_id[s.media_id] for s in rendered.script.shots)
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
    selection = select_media(deps.engine, lib, spec, media_rows)
    timings["select_s"] = time.perf_counter() - t0

    _raise_if_cancelled(cancel)
    report("script", 0.05, f"scripting {len(selection.present)} media")
    t1 = time.perf_counter()
    scripted = script_reel(deps, spec, lib, selection)
    timings["script_s"] = time.perf_counter() - t1

    _raise_if_cancelled(cancel)
    names = ReelNames(new_reel_key(spec))
    t2 = time.perf_counter()
    rendered = render_media(deps.store, names, spec.choice, lib.root, selection, scripted, report, cancel)
    timings["render_s"] = time.perf_counter() - t2

    def describe(video: VideoFile) -> Sidecar:
        until = valid_until(spec.anchor, spec.span, lib.timezone, deps.valid_hours) if spec.precomputed else None
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

    report("publish", 0.96, "writing poster and sidecar")
    sidecar = publish_reel(
        deps.store, names, lambda path: make_poster(rendered.script, rendered.media, path, rendered.params), describe
    )
    produced = _produced(names, selection, rendered, sidecar)
    if spec.precomputed:
        record_precomputed(deps.engine, spec, lib.timezone, produced)
    report("published", 0.99, "reel published")
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

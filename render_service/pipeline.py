"""`produce_reel`: the one reel pipeline, shared by CreateReel jobs, the nightly
pre-generation and the CLI. It knows nothing of gRPC.

select the window's media -> script (ScripterService, fast fallback) -> render ->
poster + sidecar -> publish atomically -> (pre-generated reels) record in the ledger.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from PIL import Image
from sqlalchemy.engine import Engine

from ledger import libraries as library_dao
from ledger import prefs as prefs_dao
from ledger import reels as reel_dao
from ledger.db import session_scope, utcnow
from reels_core import clock
from reels_core.libraries import LibraryConfig
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
from reels_core.windows import DEFAULT_VALIDITY_HOURS, local_midnight_utc, valid_until, window_for, window_to_utc
from render_service.store import ReelStore
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

log = structlog.get_logger("pipeline")

CONTENT_TYPE = "video/mp4"
Progress = Callable[[str, float, str], None]


@dataclass(frozen=True)
class RenderChoice:
    """What a caller may choose about a reel (CreateReel options, replayed nightly)."""

    resolution: str = "720p"
    aspect: str = "16:9"
    target_duration_s: float = 0.0
    mood: str = ""
    music_style: str = ""
    max_shots: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "RenderChoice":
        data = data or {}
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


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


# Why a scripted shot was left out of the reel (stable strings: GetReel shows them).
DROP_UNREADABLE = "UNREADABLE"  # the photo no longer decodes (checked before the render)
DROP_SHOT_FAILED = "SHOT_FAILED"  # the renderer could not prepare or decode it
DROP_NOT_A_CANDIDATE = "NOT_A_CANDIDATE"  # the script named media the window does not hold


@dataclass(frozen=True)
class DroppedMedia:
    media_id: str
    relative_path: str
    reason: str
    detail: str = ""  # the error's kind ("cannot prepare shot 2: ValueError"), never file content


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
    stats: dict[str, Any] = field(default_factory=dict)
    valid_until: dt.datetime | None = None


@dataclass
class PipelineDeps:
    engine: Engine
    store: ReelStore
    scripter: ScripterClient
    libraries: dict[str, LibraryConfig]
    max_shots: int = 20
    target_duration_s: float = 30.0
    valid_hours: Mapping[Span | str, float] = field(default_factory=lambda: dict(DEFAULT_VALIDITY_HOURS))
    keep_per_scope: int = 2
    scans: LibraryScans | None = None  # None: every index counts as complete (tests, tools)

    def indexed(self, library: str) -> bool:
        """The library's index is complete: its first scan in this process is over."""
        return self.scans is None or self.scans.indexed(library)


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
    return f"{spec.library}-{spec.span.value.lower()}-{spec.kind.value.lower().replace('_', '')}-{spec.anchor:%Y%m%d}-{secrets.token_hex(4)}"


def window_media(engine: Engine, lib: LibraryConfig, window: Window) -> list[Any]:
    """Index rows of the window, oldest first, in the library's time zone."""
    rows: list[Any] = []
    with session_scope(engine) as session:
        for start_utc, end_utc in window_to_utc(window, lib.timezone):
            rows.extend(library_dao.media_in_range(session, lib.key, start_utc, end_utc))
    return rows


def require_media(deps: "PipelineDeps", spec: "ReelSpec", wait_s: float = 0.0) -> int:
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
            raise Unavailable("LIBRARY_SCANNING", f"library {lib.key!r} is being indexed for the first time; retry shortly")
        count = len(window_media(deps.engine, lib, window))
    if count == 0:
        raise FailedPrecondition(
            "NO_MEDIA_IN_WINDOW",
            f"no media in {spec.library} between {window.start} and {window.end} ({spec.span.value} {spec.kind.value})",
        )
    return count


def media_fingerprint(rows: list[Any]) -> str:
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
        stored = prefs_dao.get_library_preferences(session, library)
    data = dict(stored.prefs_json) if stored is not None else {}
    stats = tuple(
        StyleStat(s.get("mood", ""), s.get("music_style", ""), int(s.get("good", 0)), int(s.get("bad", 0)))
        for s in data.get("style_stats", [])
    )
    return Preferences(
        mood=choice.mood,
        music_style=choice.music_style,
        target_duration_s=choice.target_duration_s,
        favorite_moods=tuple(data.get("favorite_moods", ())),
        disliked_music_styles=tuple(data.get("disliked_music_styles", ())),
        preferred_duration_s=float(data.get("preferred_duration_s", 0.0) or 0.0),
        style_stats=stats,
    )


def _candidate(row: Any, tz: ZoneInfo) -> Candidate:
    taken = row.taken_at_utc
    local = taken.astimezone(dt.timezone(dt.timedelta(minutes=row.tz_offset_min))) if row.tz_offset_min is not None else taken.astimezone(tz)
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


def _photo_decodes(path: Path) -> bool:
    """Cheap check that a photo decodes (JPEG at 1/8 scale): a file can break after
    the scan, and one bad photo must not fail the reel."""
    try:
        with Image.open(path) as img:
            img.draft("RGB", (img.width // 8 or 1, img.height // 8 or 1))
            img.load()
        return True
    except Exception:  # any decoder error means "skip this photo"
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


def seed_for(spec: ReelSpec, extra: str = "") -> int:
    raw = f"{spec.library}|{spec.span.value}|{spec.kind.value}|{spec.anchor}|{spec.job_id}|{extra}"
    return int.from_bytes(hashlib.sha256(raw.encode()).digest()[:6], "big")


def produce_reel(
    deps: PipelineDeps,
    spec: ReelSpec,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    media_rows: list[Any] | None = None,
) -> ProducedReel:
    """Make one reel end to end; raises ReelError subclasses on bad input or when
    there is nothing to render, Cancelled when `cancel` is set."""
    report: Progress = progress or (lambda _stage, _p, _msg: None)
    cancel = cancel or threading.Event()
    lib = deps.libraries.get(spec.library)
    if lib is None:
        raise NotFound("LIBRARY_NOT_FOUND", f"no library {spec.library!r}")
    tz = ZoneInfo(lib.timezone)
    check_anchor(spec.anchor, lib.timezone)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    report("select", 0.01, "selecting media")
    window = window_for(spec.span, spec.kind, spec.anchor)
    rows = media_rows if media_rows is not None else window_media(deps.engine, lib, window)
    present = [r for r in rows if (lib.root / r.rel_path).is_file()]
    missing = len(rows) - len(present)
    if not present:
        raise FailedPrecondition(
            "NO_MEDIA_IN_WINDOW",
            f"no media in {spec.library} between {window.start} and {window.end} ({spec.span.value} {spec.kind.value})",
        )
    fingerprint = media_fingerprint(rows)
    timings["select_s"] = time.perf_counter() - t0

    if cancel.is_set():
        raise Cancelled("CANCELLED", "cancelled")
    report("script", 0.05, f"scripting {len(present)} media")
    t1 = time.perf_counter()
    choice = spec.choice
    req = ScriptRequest(
        library=spec.library,
        window=window,
        timezone=lib.timezone,
        mode=spec.mode,
        candidates=tuple(_candidate(r, tz) for r in present),
        preferences=load_preferences(deps.engine, spec.library, choice),
        target_duration_s=deps.target_duration_s,
        max_shots=choice.max_shots or deps.max_shots,
        seed=seed_for(spec),
    )
    script = deps.scripter.generate(req)
    by_id = {r.id: r for r in present}
    dropped = [DroppedMedia(s.media_id, "", DROP_NOT_A_CANDIDATE) for s in script.shots if s.media_id not in by_id]
    dropped += [
        DroppedMedia(s.media_id, by_id[s.media_id].rel_path, DROP_UNREADABLE)
        for s in script.shots
        if s.media_id in by_id and by_id[s.media_id].kind == "PHOTO" and not _photo_decodes(lib.root / by_id[s.media_id].rel_path)
    ]
    script = _drop_shots(script, {d.media_id for d in dropped}) if dropped else script
    if not script.shots:
        raise FailedPrecondition("NO_USABLE_MEDIA", "none of the window's media could be decoded")
    timings["script_s"] = time.perf_counter() - t1

    if cancel.is_set():
        raise Cancelled("CANCELLED", "cancelled")
    key = new_reel_key(spec)
    names = {"video": f"{key}.mp4", "sidecar": f"{key}.json", "poster": f"{key}.jpg"}
    params = params_for(choice.resolution or "720p", choice.aspect or "16:9")
    params = replace(params, seed=req.seed)
    media = {
        mid: MediaInput(
            media_id=mid,
            path=lib.root / row.rel_path,
            kind=row.kind,
            orientation=row.orientation or 1,
            duration_s=row.duration_s or 0.0,
        )
        for mid, row in by_id.items()
        if any(s.media_id == mid for s in script.shots)
    }
    staged = deps.store.staging_path(names["video"])
    t2 = time.perf_counter()
    report("render", 0.15, f"rendering {len(script.shots)} shots")

    def render_progress(fraction: float, message: str) -> None:
        report("render", 0.15 + 0.8 * max(0.0, min(1.0, fraction)), message)

    script, stats = _render_dropping_bad_shots(script, media, staged, params, render_progress, cancel, by_id, dropped)
    timings["render_s"] = time.perf_counter() - t2

    report("publish", 0.96, "writing poster and sidecar")
    poster_staged = deps.store.staging_path(names["poster"])
    sidecar_staged = deps.store.staging_path(names["sidecar"])
    try:
        make_poster(script, media, poster_staged, params)
        sha256, size = _sha256_of(staged)
        created = utcnow()
        until = valid_until(spec.anchor, spec.span, lib.timezone, deps.valid_hours) if spec.precomputed else None
        stats_dict = _stats_dict(stats)
        stats_dict.update({k: round(v, 3) for k, v in timings.items()}, skipped_media=missing + len(dropped),
                          dropped_media=[asdict(d) for d in dropped], wall_s=round(time.perf_counter() - t0, 3))
        sidecar = {
            "key": key,
            "library": spec.library,
            "span": spec.span.value,
            "kind": spec.kind.value,
            "anchor_date": spec.anchor.isoformat(),
            "window": [[a.isoformat(), b.isoformat()] for a, b in window.ranges],
            "time_zone": lib.timezone,
            "precomputed": spec.precomputed,
            "job_id": spec.job_id,
            "created_at": created.isoformat(),
            "valid_until": until.isoformat() if until else None,
            "content_type": CONTENT_TYPE,
            "size_bytes": size,
            "sha256": sha256,
            "video": names["video"],
            "poster": names["poster"],
            "media_fingerprint": fingerprint,
            "script": script_to_dict(script),
            "media": [
                {
                    "media_id": s.media_id,
                    "relative_path": by_id[s.media_id].rel_path,
                    "kind": by_id[s.media_id].kind,
                    "taken_at": by_id[s.media_id].taken_at_utc.isoformat(),
                }
                for s in script.shots
            ],
            # What the script request carried: explicit choices and the distillate.
            "params": {"choice": choice.to_dict(), "render": asdict(params), "mode": spec.mode.value,
                       "preferences": asdict(req.preferences), "seed": req.seed},
            "stats": stats_dict,
        }
        sidecar_staged.write_text(json.dumps(sidecar, indent=2, ensure_ascii=False))
        # Order matters for crash safety: the mp4 appears last, so a visible video
        # always has its poster and sidecar beside it.
        deps.store.publish(names["poster"], poster_staged)
        deps.store.publish(names["sidecar"], sidecar_staged)
        deps.store.publish(names["video"], staged)
    except BaseException:
        for path in (staged, poster_staged, sidecar_staged):
            path.unlink(missing_ok=True)
        raise
    produced = ProducedReel(
        key=key,
        video_name=names["video"],
        sidecar_name=names["sidecar"],
        poster_name=names["poster"],
        size_bytes=size,
        sha256=sha256,
        duration_s=script.duration_s,
        script=script,
        window=window,
        media_fingerprint=fingerprint,
        stats=stats_dict,
        valid_until=until,
    )
    if spec.precomputed:
        record_precomputed(deps, spec, lib, produced)
    report("published", 0.99, "reel published")
    log.info("reel produced", key=key, shots=len(script.shots), bytes=size, wall_s=stats_dict["wall_s"],
             mode_used=script.mode_used.value, fallback_reason=script.fallback_reason)
    return produced


def _render_dropping_bad_shots(
    script: Script,
    media: dict[str, MediaInput],
    staged: Path,
    params: RenderParams,
    progress: Callable[[float, str], None],
    cancel: threading.Event,
    by_id: dict[str, Any],
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


def record_precomputed(deps: PipelineDeps, spec: ReelSpec, lib: LibraryConfig, reel: ProducedReel) -> None:
    start_utc = local_midnight_utc(reel.window.start, lib.timezone)
    end_utc = local_midnight_utc(reel.window.end, lib.timezone)
    with session_scope(deps.engine) as session:
        reel_dao.record_reel(
            session,
            key=reel.key,
            library_key=spec.library,
            span=spec.span.value,
            kind=spec.kind.value,
            anchor_date=spec.anchor,
            window_start=start_utc,
            window_end=end_utc,
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


def _sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _stats_dict(stats: Any) -> dict[str, Any]:
    if hasattr(stats, "__dataclass_fields__"):
        out = asdict(stats)
    else:
        out = dict(stats or {})
    return {k: v for k, v in out.items() if isinstance(v, (int, float, str, bool, list, dict)) or v is None}


def script_to_dict(script: Script) -> dict[str, Any]:
    data = asdict(script)
    data["mode_used"] = script.mode_used.value
    data["duration_s"] = script.duration_s
    return data


def script_from_dict(data: dict[str, Any]) -> Script:
    from reels_core.domain import GroundingSource, NarrationLine, Shot

    return Script(
        title=data.get("title", ""),
        subtitle=data.get("subtitle", ""),
        mood=data.get("mood", ""),
        music_style=data.get("music_style", ""),
        shots=[Shot(**s) for s in data.get("shots", [])],
        narration=[NarrationLine(**n) for n in data.get("narration", [])],
        grounding=[GroundingSource(**g) for g in data.get("grounding", [])],
        mode_used=Mode(data.get("mode_used", "FAST")),
        fallback_reason=data.get("fallback_reason", ""),
    )

"""The sidecar: the JSON record written next to each reel (``<key>.json``).

It says what the reel is (scope, window, files, checksum), what it was made from
(the caller's choice, the preferences the script request carried, the render
parameters, the media of each shot) and how it went (timings, dropped media). The
pipeline writes it once; GetReel and RateReel read it back. Both go through
``Sidecar.to_json`` / ``Sidecar.from_json`` here, and nowhere else.

Versions: ``version`` is written first. A sidecar without one was written before
the field existed and has the layout of version 1 (it reads as version 0). Readers
accept every version up to ``SIDECAR_VERSION`` and a newer one best-effort: unknown
fields are ignored and missing or null fields get their default. Bump the version
when a field changes meaning or goes, and teach ``from_dict`` to read the old form.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import structlog
from pydantic import TypeAdapter

from reels_core.domain import Kind, MediaKind, Mode, Preferences, Quality, Script, Span
from render_service.render import RenderParams, RenderStats, ShotRender
from render_service.store import ReelStore

log = structlog.get_logger("sidecar")

SIDECAR_VERSION = 1
CONTENT_TYPE = "video/mp4"

# Why a scripted shot was left out of the reel (stable strings: GetReel shows them).
DROP_UNREADABLE = "UNREADABLE"  # the photo no longer decodes (checked before the render)
DROP_SHOT_FAILED = "SHOT_FAILED"  # the renderer could not prepare or decode it
DROP_NOT_A_CANDIDATE = "NOT_A_CANDIDATE"  # the script named media the window does not hold


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
    def from_dict(cls, data: Mapping[str, Any] | None) -> RenderChoice:
        data = data or {}
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class DroppedMedia:
    media_id: str
    relative_path: str = ""
    reason: str = ""
    detail: str = ""  # the error's kind ("cannot prepare shot 2: ValueError"), never file content


@dataclass(frozen=True)
class SidecarMedia:
    """The media of one shot, in shot order."""

    media_id: str = ""
    relative_path: str = ""
    kind: MediaKind = MediaKind.PHOTO
    taken_at: dt.datetime | None = None
    date_source: str = ""  # see ledger.models.MediaItem.date_source
    # Why the shot was picked (reels_core.moments.Pick); empty in sidecars written before.
    pick_reason: str = ""
    pick_detail: str = ""
    moment: int = -1
    moment_count: int = 0
    pick_score: float = 0.0
    quality_flags: tuple[str, ...] = ()
    quality: Quality = Quality()  # the index-time analysis (neutral when none)


@dataclass(frozen=True)
class SidecarParams:
    """What the script request and the render were given."""

    choice: RenderChoice = RenderChoice()
    render: RenderParams = field(default_factory=RenderParams)
    mode: Mode = Mode.FAST
    preferences: Preferences = Preferences()  # explicit choices and the distillate
    seed: int = 0


@dataclass(frozen=True)
class SidecarStats:
    """The renderer's ``RenderStats`` (``wall_s`` is the whole pipeline's) and the
    pipeline's own timings and losses."""

    wall_s: float = 0.0
    frames: int = 0
    width: int = 0
    height: int = 0
    fps: int = 0
    bytes: int = 0
    duration_s: float = 0.0
    encoder: str = ""
    encoder_args: tuple[str, ...] = ()
    stages: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float | None = None
    encoder_peak_rss_mb: float | None = None
    select_s: float = 0.0
    script_s: float = 0.0
    render_s: float = 0.0
    skipped_media: int = 0  # gone from disk since the scan, plus dropped_media
    dropped_media: tuple[DroppedMedia, ...] = ()
    # How each shot was drawn: ken_burns, live_photo_motion or video, with the part of
    # a clip played and why (an added field with a default: version unchanged)
    shots: tuple[ShotRender, ...] = ()

    @classmethod
    def of(
        cls,
        render: RenderStats,
        *,
        timings: Mapping[str, float],
        missing: int,
        dropped: tuple[DroppedMedia, ...],
        wall_s: float,
    ) -> SidecarStats:
        """The stats of a reel: the render's, the stage ``timings`` (select_s,
        script_s, render_s), ``missing`` files and ``dropped`` shots."""
        return cls(
            wall_s=round(wall_s, 3),
            frames=render.frames,
            width=render.width,
            height=render.height,
            fps=render.fps,
            bytes=render.bytes,
            duration_s=render.duration_s,
            encoder=render.encoder,
            encoder_args=tuple(render.encoder_args),
            stages=dict(render.stages),
            peak_rss_mb=render.peak_rss_mb,
            encoder_peak_rss_mb=render.encoder_peak_rss_mb,
            select_s=round(timings.get("select_s", 0.0), 3),
            script_s=round(timings.get("script_s", 0.0), 3),
            render_s=round(timings.get("render_s", 0.0), 3),
            skipped_media=missing + len(dropped),
            dropped_media=dropped,
            shots=tuple(render.shots),
        )


@dataclass(frozen=True)
class Sidecar:
    version: int = SIDECAR_VERSION
    key: str = ""
    library: str = ""
    span: Span | None = None
    kind: Kind | None = None
    anchor_date: dt.date | None = None
    window: tuple[tuple[dt.date, dt.date], ...] = ()  # the window's [start, end) local dates
    time_zone: str = ""
    precomputed: bool = False
    job_id: str = ""
    created_at: dt.datetime | None = None
    valid_until: dt.datetime | None = None  # pre-generated reels only
    content_type: str = CONTENT_TYPE
    size_bytes: int = 0
    sha256: str = ""
    video: str = ""
    poster: str = ""
    media_fingerprint: str = ""
    script: Script | None = None
    media: tuple[SidecarMedia, ...] = ()
    params: SidecarParams = field(default_factory=SidecarParams)
    stats: SidecarStats = field(default_factory=SidecarStats)

    def to_json(self) -> str:
        data = asdict(self)
        data["script"] = script_to_dict(self.script) if self.script is not None else None
        # Enums are str subclasses and encode as their value; dates as ISO 8601.
        return json.dumps(data, indent=2, ensure_ascii=False, default=_isoformat)

    @classmethod
    def from_json(cls, text: str | bytes) -> Sidecar:
        """Raises ``ValueError`` when ``text`` is not a sidecar (not JSON, not an
        object, or a field of the wrong type)."""
        data = json.loads(text)
        if not isinstance(data, Mapping):
            raise ValueError("a sidecar is a JSON object")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Sidecar:
        present = {k: v for k, v in data.items() if v is not None}
        present.setdefault("version", 0)  # written before sidecars had a version
        script = present.pop("script", None)
        if isinstance(script, Mapping):  # anything else is left for pydantic to refuse
            script = _script_fields(script) if script else None
        present["script"] = script
        # pydantic does the dict -> nested dataclass conversion (enums, dates,
        # defaults for missing fields, unknown fields ignored) that would otherwise
        # be written out field by field; its ValidationError is a ValueError.
        return _SIDECAR.validate_python(present)


def script_to_dict(script: Script) -> dict[str, Any]:
    data = asdict(script)
    data["mode_used"] = script.mode_used.value
    data["duration_s"] = script.duration_s
    return data


def script_from_dict(data: Mapping[str, Any]) -> Script:
    """A script written by ``script_to_dict``; missing fields get defaults."""
    return _SCRIPT.validate_python(_script_fields(data))


def load_sidecar(store: ReelStore, name: str) -> Sidecar:
    """The sidecar stored as ``name``; an empty ``Sidecar()`` when there is none or
    it cannot be read (a reel is still served without its sidecar)."""
    if not name:
        return Sidecar()
    try:
        with store.open(name) as fh:
            return Sidecar.from_json(fh.read())
    except FileNotFoundError:
        return Sidecar()
    except ValueError as exc:
        log.warning("sidecar unreadable", name=name, error=type(exc).__name__)
        return Sidecar()


_SCRIPT_DEFAULTS: dict[str, Any] = {"title": "", "subtitle": "", "mood": "", "music_style": "", "shots": []}


def _script_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {**_SCRIPT_DEFAULTS, **{k: v for k, v in data.items() if v is not None}}


def _isoformat(value: object) -> str:
    if isinstance(value, dt.date):  # datetimes are dates too
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_SIDECAR: TypeAdapter[Sidecar] = TypeAdapter(Sidecar)
_SCRIPT: TypeAdapter[Script] = TypeAdapter(Script)

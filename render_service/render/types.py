"""Plain data types of the renderer: parameters, inputs, statistics and errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

_RESOLUTIONS = {"360p": (640, 360), "720p": (1280, 720), "1080p": (1920, 1080)}
_ASPECTS = ("16:9", "9:16")
RESOLUTIONS = tuple(_RESOLUTIONS)


class RenderError(Exception):
    """The reel could not be rendered; any partial output has been removed."""


class ShotFailed(RenderError):
    """One shot could not be prepared or decoded (a broken file, a decoder or
    geometry error). The output is removed like for any RenderError; the caller
    may drop ``media_id`` and render the rest."""

    def __init__(self, index: int, media_id: str, detail: str) -> None:
        super().__init__(f"cannot prepare shot {index}: {detail}")
        self.index = index
        self.media_id = media_id
        self.detail = detail


class RenderCancelled(RenderError):
    """The caller's cancel event was set; the encoder was stopped and the
    partial output and every temporary removed."""


@dataclass
class RenderParams:
    width: int = 1280
    height: int = 720
    fps: int = 30
    crf: int = 23
    preset: str = "veryfast"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.width < 16 or self.height < 16 or self.width % 2 or self.height % 2:
            raise ValueError("width and height must be even and at least 16")
        if not 1 <= self.fps <= 120:
            raise ValueError("fps must be in 1..120")


def params_for(resolution: str, aspect: str, **overrides) -> RenderParams:
    """RenderParams for ``'720p'|'1080p'`` and ``'16:9'|'9:16'`` (portrait swaps
    width and height); other fields may be overridden by keyword."""
    try:
        long_side, short_side = _RESOLUTIONS[resolution.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown resolution {resolution!r}; expected one of {sorted(_RESOLUTIONS)}") from None
    aspect = aspect.strip()
    if aspect not in _ASPECTS:
        raise ValueError(f"unknown aspect {aspect!r}; expected one of {_ASPECTS}")
    if aspect == "9:16":
        long_side, short_side = short_side, long_side
    return RenderParams(width=long_side, height=short_side, **overrides)


@dataclass
class MediaInput:
    media_id: str
    path: Path
    kind: str  # 'PHOTO' | 'VIDEO'
    orientation: int = 1  # EXIF 1-8; the file's own EXIF tag wins when present
    duration_s: float = 0.0  # videos; 0 means "probe the file"
    # Photos: (x0, y0, x1, y1) of what to keep in frame (faces), as fractions of the
    # upright picture; None: the centre.
    focus: tuple[float, float, float, float] | None = None
    motion_path: Path | None = None  # a Live Photo's own clip (the still is ``path``)


@dataclass(frozen=True)
class ShotRender:
    """How one shot of the reel was drawn (render stats)."""

    index: int
    media_id: str
    treatment: str  # KEN_BURNS | LIVE_PHOTO_MOTION | VIDEO
    segment_start_s: float = 0.0  # clips: the part played
    segment_end_s: float = 0.0
    segment_reason: str = ""
    clip_audio: bool = False  # the clip's own sound is in the soundtrack (music ducked under it)
    detail: str = ""  # e.g. why a Live Photo's motion was not used


@dataclass
class RenderStats:
    wall_s: float
    frames: int
    width: int
    height: int
    fps: int
    bytes: int
    duration_s: float
    encoder: str
    encoder_args: list[str]
    stages: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float | None = None  # this process, lifetime peak (getrusage)
    encoder_peak_rss_mb: float | None = None  # the ffmpeg child (wait4)
    shots: list[ShotRender] = field(default_factory=list)  # how each shot was drawn, in shot order

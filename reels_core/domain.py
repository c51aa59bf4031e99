"""Domain types of a reel script, free of gRPC and protobuf.

The scripter builds these, the render service renders them (and computes the fast
one in-process when the scripter is unreachable), and ``convert.py`` maps them to
and from the ``reels.v1`` messages at the wire boundary.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum


class Span(str, Enum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    YEAR = "YEAR"


class Kind(str, Enum):
    ON_THIS_DAY = "ON_THIS_DAY"
    RECAP = "RECAP"
    TRIP = "TRIP"


class Mode(str, Enum):
    FAST = "FAST"
    AGENTIC = "AGENTIC"


class MediaKind(str, Enum):
    PHOTO = "PHOTO"
    VIDEO = "VIDEO"


# The closed vocabularies the renderer knows how to draw and score.
MOODS: tuple[str, ...] = ("uplifting", "calm", "nostalgic", "energetic", "cinematic")
MUSIC_STYLES: tuple[str, ...] = ("piano", "ambient", "acoustic", "electronic", "orchestral")
MOTIONS: tuple[str, ...] = ("zoom_in", "zoom_out", "pan_left", "pan_right", "static")
TRANSITIONS: tuple[str, ...] = ("crossfade", "cut", "fade_black")

DEFAULT_MOOD = "nostalgic"
DEFAULT_MUSIC_STYLE = "piano"
CAPTION_MAX_CHARS = 80

# A reel's target duration, in seconds: what callers may ask for, and the default.
MIN_TARGET_S = 10.0
MAX_TARGET_S = 120.0
DEFAULT_TARGET_S = 30.0


@dataclass(frozen=True)
class Window:
    """The local-date ranges a reel covers: ``[start, end)`` pairs, oldest first.

    RECAP and TRIP have one range; ON_THIS_DAY has one per earlier year.
    """

    span: Span
    kind: Kind
    anchor: dt.date
    ranges: tuple[tuple[dt.date, dt.date], ...]

    @property
    def start(self) -> dt.date:
        return self.ranges[0][0]

    @property
    def end(self) -> dt.date:
        return self.ranges[-1][1]


@dataclass(frozen=True)
class FaceBox:
    """A face in the upright picture, as fractions of its width and height."""

    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class Quality:
    """What the index-time analysis found (``render_service/analysis.py``). The
    defaults are the neutral scores of an item not (or not successfully) analysed:
    such an item is never treated as blurred, dark or a screenshot."""

    analysed: bool = False
    sharpness: float = 0.5  # 0 (mush) .. 1 (crisp), size-normalised Laplacian variance
    dark_share: float = 0.0  # share of pixels near black
    bright_share: float = 0.0  # share of pixels blown out
    mean_luma: float = 0.5  # 0..1
    phash: str = ""  # 64-bit perceptual hash, 16 hex digits ("" unknown)
    screenshot: float = 0.0  # 0..1 likelihood of a screenshot or document
    faces: tuple[FaceBox, ...] = ()
    rating: int = 0  # EXIF/XMP Rating, 0 unrated .. 5; 4 and up is a favourite
    motion: float = 0.0  # videos: mean frame-to-frame change, 0..1
    loudness_db: float | None = None  # videos: RMS level of the sound track, dBFS


@dataclass(frozen=True)
class Candidate:
    """One media item offered to the scripter."""

    media_id: str
    kind: MediaKind
    taken_at: dt.datetime  # timezone-aware
    width: int = 0
    height: int = 0
    lat: float | None = None
    lon: float | None = None
    duration_s: float = 0.0  # videos only
    rel_path: str = ""
    quality: Quality = Quality()


@dataclass(frozen=True)
class StyleStat:
    """Learned outcome of one (mood, music style) pair."""

    mood: str
    music_style: str
    good: int = 0
    bad: int = 0


@dataclass(frozen=True)
class Preferences:
    """What a script request carries about taste: explicit choices win over the
    learned distillate (favourites, dislikes and per-style success counts)."""

    mood: str = ""  # explicit: always wins
    music_style: str = ""  # explicit: always wins
    target_duration_s: float = 0.0  # explicit; 0 = use learned or default
    favorite_moods: tuple[str, ...] = ()
    disliked_music_styles: tuple[str, ...] = ()
    preferred_duration_s: float = 0.0
    style_stats: tuple[StyleStat, ...] = ()


@dataclass(frozen=True)
class ScriptRequest:
    library: str
    window: Window
    timezone: str
    mode: Mode
    candidates: tuple[Candidate, ...]
    preferences: Preferences = Preferences()
    target_duration_s: float = 30.0
    max_shots: int = 20
    seed: int = 0


@dataclass
class Shot:
    media_id: str
    duration_s: float
    caption: str = ""
    motion: str = "zoom_in"
    transition: str = "crossfade"


@dataclass
class NarrationLine:
    text: str
    start_s: float
    end_s: float
    source_ids: list[str] = field(default_factory=list)


@dataclass
class GroundingSource:
    """A piece of context the script used: kind is event, place, message or note."""

    kind: str
    source_id: str
    label: str = ""
    supports_shots: list[int] = field(default_factory=list)


@dataclass
class Script:
    title: str
    subtitle: str
    mood: str
    music_style: str
    shots: list[Shot]
    narration: list[NarrationLine] = field(default_factory=list)
    grounding: list[GroundingSource] = field(default_factory=list)
    mode_used: Mode = Mode.FAST
    fallback_reason: str = ""

    @property
    def duration_s(self) -> float:
        return round(sum(s.duration_s for s in self.shots), 3)

import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.type import date_pb2 as _date_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Span(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SPAN_UNSPECIFIED: _ClassVar[Span]
    SPAN_DAY: _ClassVar[Span]
    SPAN_WEEK: _ClassVar[Span]
    SPAN_MONTH: _ClassVar[Span]
    SPAN_YEAR: _ClassVar[Span]

class ReelKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REEL_KIND_UNSPECIFIED: _ClassVar[ReelKind]
    REEL_KIND_ON_THIS_DAY: _ClassVar[ReelKind]
    REEL_KIND_RECAP: _ClassVar[ReelKind]
    REEL_KIND_TRIP: _ClassVar[ReelKind]

class ScriptMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCRIPT_MODE_UNSPECIFIED: _ClassVar[ScriptMode]
    SCRIPT_MODE_FAST: _ClassVar[ScriptMode]
    SCRIPT_MODE_AGENTIC: _ClassVar[ScriptMode]

class MediaKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEDIA_KIND_UNSPECIFIED: _ClassVar[MediaKind]
    MEDIA_KIND_PHOTO: _ClassVar[MediaKind]
    MEDIA_KIND_VIDEO: _ClassVar[MediaKind]
SPAN_UNSPECIFIED: Span
SPAN_DAY: Span
SPAN_WEEK: Span
SPAN_MONTH: Span
SPAN_YEAR: Span
REEL_KIND_UNSPECIFIED: ReelKind
REEL_KIND_ON_THIS_DAY: ReelKind
REEL_KIND_RECAP: ReelKind
REEL_KIND_TRIP: ReelKind
SCRIPT_MODE_UNSPECIFIED: ScriptMode
SCRIPT_MODE_FAST: ScriptMode
SCRIPT_MODE_AGENTIC: ScriptMode
MEDIA_KIND_UNSPECIFIED: MediaKind
MEDIA_KIND_PHOTO: MediaKind
MEDIA_KIND_VIDEO: MediaKind

class Window(_message.Message):
    __slots__ = ("anchor_date", "ranges")
    ANCHOR_DATE_FIELD_NUMBER: _ClassVar[int]
    RANGES_FIELD_NUMBER: _ClassVar[int]
    anchor_date: _date_pb2.Date
    ranges: _containers.RepeatedCompositeFieldContainer[DateRange]
    def __init__(self, anchor_date: _Optional[_Union[_date_pb2.Date, _Mapping]] = ..., ranges: _Optional[_Iterable[_Union[DateRange, _Mapping]]] = ...) -> None: ...

class DateRange(_message.Message):
    __slots__ = ("start_date", "end_date")
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    start_date: _date_pb2.Date
    end_date: _date_pb2.Date
    def __init__(self, start_date: _Optional[_Union[_date_pb2.Date, _Mapping]] = ..., end_date: _Optional[_Union[_date_pb2.Date, _Mapping]] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ("media_id", "kind", "taken_at", "utc_offset_minutes", "has_location", "latitude", "longitude", "width", "height", "duration_seconds", "relative_path", "quality")
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TAKEN_AT_FIELD_NUMBER: _ClassVar[int]
    UTC_OFFSET_MINUTES_FIELD_NUMBER: _ClassVar[int]
    HAS_LOCATION_FIELD_NUMBER: _ClassVar[int]
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_PATH_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    media_id: str
    kind: MediaKind
    taken_at: _timestamp_pb2.Timestamp
    utc_offset_minutes: int
    has_location: bool
    latitude: float
    longitude: float
    width: int
    height: int
    duration_seconds: float
    relative_path: str
    quality: MediaQuality
    def __init__(self, media_id: _Optional[str] = ..., kind: _Optional[_Union[MediaKind, str]] = ..., taken_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., utc_offset_minutes: _Optional[int] = ..., has_location: _Optional[bool] = ..., latitude: _Optional[float] = ..., longitude: _Optional[float] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., duration_seconds: _Optional[float] = ..., relative_path: _Optional[str] = ..., quality: _Optional[_Union[MediaQuality, _Mapping]] = ...) -> None: ...

class FaceBox(_message.Message):
    __slots__ = ("x", "y", "width", "height")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    width: float
    height: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ..., width: _Optional[float] = ..., height: _Optional[float] = ...) -> None: ...

class MediaQuality(_message.Message):
    __slots__ = ("analysed", "sharpness", "dark_share", "bright_share", "mean_luma", "perceptual_hash", "screenshot_likelihood", "faces", "rating", "motion", "has_loudness", "loudness_db")
    ANALYSED_FIELD_NUMBER: _ClassVar[int]
    SHARPNESS_FIELD_NUMBER: _ClassVar[int]
    DARK_SHARE_FIELD_NUMBER: _ClassVar[int]
    BRIGHT_SHARE_FIELD_NUMBER: _ClassVar[int]
    MEAN_LUMA_FIELD_NUMBER: _ClassVar[int]
    PERCEPTUAL_HASH_FIELD_NUMBER: _ClassVar[int]
    SCREENSHOT_LIKELIHOOD_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    RATING_FIELD_NUMBER: _ClassVar[int]
    MOTION_FIELD_NUMBER: _ClassVar[int]
    HAS_LOUDNESS_FIELD_NUMBER: _ClassVar[int]
    LOUDNESS_DB_FIELD_NUMBER: _ClassVar[int]
    analysed: bool
    sharpness: float
    dark_share: float
    bright_share: float
    mean_luma: float
    perceptual_hash: str
    screenshot_likelihood: float
    faces: _containers.RepeatedCompositeFieldContainer[FaceBox]
    rating: int
    motion: float
    has_loudness: bool
    loudness_db: float
    def __init__(self, analysed: _Optional[bool] = ..., sharpness: _Optional[float] = ..., dark_share: _Optional[float] = ..., bright_share: _Optional[float] = ..., mean_luma: _Optional[float] = ..., perceptual_hash: _Optional[str] = ..., screenshot_likelihood: _Optional[float] = ..., faces: _Optional[_Iterable[_Union[FaceBox, _Mapping]]] = ..., rating: _Optional[int] = ..., motion: _Optional[float] = ..., has_loudness: _Optional[bool] = ..., loudness_db: _Optional[float] = ...) -> None: ...

class StyleStat(_message.Message):
    __slots__ = ("mood", "music_style", "good_count", "bad_count", "success_rate")
    MOOD_FIELD_NUMBER: _ClassVar[int]
    MUSIC_STYLE_FIELD_NUMBER: _ClassVar[int]
    GOOD_COUNT_FIELD_NUMBER: _ClassVar[int]
    BAD_COUNT_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    mood: str
    music_style: str
    good_count: int
    bad_count: int
    success_rate: float
    def __init__(self, mood: _Optional[str] = ..., music_style: _Optional[str] = ..., good_count: _Optional[int] = ..., bad_count: _Optional[int] = ..., success_rate: _Optional[float] = ...) -> None: ...

class Preferences(_message.Message):
    __slots__ = ("mood", "music_style", "target_duration_seconds", "favorite_moods", "disliked_music_styles", "preferred_duration_seconds", "style_stats")
    MOOD_FIELD_NUMBER: _ClassVar[int]
    MUSIC_STYLE_FIELD_NUMBER: _ClassVar[int]
    TARGET_DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FAVORITE_MOODS_FIELD_NUMBER: _ClassVar[int]
    DISLIKED_MUSIC_STYLES_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    STYLE_STATS_FIELD_NUMBER: _ClassVar[int]
    mood: str
    music_style: str
    target_duration_seconds: float
    favorite_moods: _containers.RepeatedScalarFieldContainer[str]
    disliked_music_styles: _containers.RepeatedScalarFieldContainer[str]
    preferred_duration_seconds: float
    style_stats: _containers.RepeatedCompositeFieldContainer[StyleStat]
    def __init__(self, mood: _Optional[str] = ..., music_style: _Optional[str] = ..., target_duration_seconds: _Optional[float] = ..., favorite_moods: _Optional[_Iterable[str]] = ..., disliked_music_styles: _Optional[_Iterable[str]] = ..., preferred_duration_seconds: _Optional[float] = ..., style_stats: _Optional[_Iterable[_Union[StyleStat, _Mapping]]] = ...) -> None: ...

class Shot(_message.Message):
    __slots__ = ("media_id", "duration_seconds", "caption", "motion", "transition")
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    MOTION_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_FIELD_NUMBER: _ClassVar[int]
    media_id: str
    duration_seconds: float
    caption: str
    motion: str
    transition: str
    def __init__(self, media_id: _Optional[str] = ..., duration_seconds: _Optional[float] = ..., caption: _Optional[str] = ..., motion: _Optional[str] = ..., transition: _Optional[str] = ...) -> None: ...

class NarrationLine(_message.Message):
    __slots__ = ("text", "start_seconds", "end_seconds", "source_ids")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    START_SECONDS_FIELD_NUMBER: _ClassVar[int]
    END_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    text: str
    start_seconds: float
    end_seconds: float
    source_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, text: _Optional[str] = ..., start_seconds: _Optional[float] = ..., end_seconds: _Optional[float] = ..., source_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GroundingSource(_message.Message):
    __slots__ = ("kind", "source_id", "label", "supports_shots")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_SHOTS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    source_id: str
    label: str
    supports_shots: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, kind: _Optional[str] = ..., source_id: _Optional[str] = ..., label: _Optional[str] = ..., supports_shots: _Optional[_Iterable[int]] = ...) -> None: ...

class Script(_message.Message):
    __slots__ = ("title", "subtitle", "mood", "music_style", "shots", "narration", "grounding", "mode_used", "fallback_reason", "duration_seconds")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SUBTITLE_FIELD_NUMBER: _ClassVar[int]
    MOOD_FIELD_NUMBER: _ClassVar[int]
    MUSIC_STYLE_FIELD_NUMBER: _ClassVar[int]
    SHOTS_FIELD_NUMBER: _ClassVar[int]
    NARRATION_FIELD_NUMBER: _ClassVar[int]
    GROUNDING_FIELD_NUMBER: _ClassVar[int]
    MODE_USED_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_REASON_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    title: str
    subtitle: str
    mood: str
    music_style: str
    shots: _containers.RepeatedCompositeFieldContainer[Shot]
    narration: _containers.RepeatedCompositeFieldContainer[NarrationLine]
    grounding: _containers.RepeatedCompositeFieldContainer[GroundingSource]
    mode_used: ScriptMode
    fallback_reason: str
    duration_seconds: float
    def __init__(self, title: _Optional[str] = ..., subtitle: _Optional[str] = ..., mood: _Optional[str] = ..., music_style: _Optional[str] = ..., shots: _Optional[_Iterable[_Union[Shot, _Mapping]]] = ..., narration: _Optional[_Iterable[_Union[NarrationLine, _Mapping]]] = ..., grounding: _Optional[_Iterable[_Union[GroundingSource, _Mapping]]] = ..., mode_used: _Optional[_Union[ScriptMode, str]] = ..., fallback_reason: _Optional[str] = ..., duration_seconds: _Optional[float] = ...) -> None: ...

class RenderOptions(_message.Message):
    __slots__ = ("resolution", "aspect", "target_duration_seconds", "mood", "music_style", "max_shots")
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    ASPECT_FIELD_NUMBER: _ClassVar[int]
    TARGET_DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MOOD_FIELD_NUMBER: _ClassVar[int]
    MUSIC_STYLE_FIELD_NUMBER: _ClassVar[int]
    MAX_SHOTS_FIELD_NUMBER: _ClassVar[int]
    resolution: str
    aspect: str
    target_duration_seconds: float
    mood: str
    music_style: str
    max_shots: int
    def __init__(self, resolution: _Optional[str] = ..., aspect: _Optional[str] = ..., target_duration_seconds: _Optional[float] = ..., mood: _Optional[str] = ..., music_style: _Optional[str] = ..., max_shots: _Optional[int] = ...) -> None: ...

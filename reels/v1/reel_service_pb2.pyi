import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.type import date_pb2 as _date_pb2
from reels.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]

class Rating(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RATING_UNSPECIFIED: _ClassVar[Rating]
    RATING_GOOD: _ClassVar[Rating]
    RATING_BAD: _ClassVar[Rating]
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState
RATING_UNSPECIFIED: Rating
RATING_GOOD: Rating
RATING_BAD: Rating

class CreateReelRequest(_message.Message):
    __slots__ = ("library", "span", "kind", "anchor_date", "mode", "options", "request_id")
    LIBRARY_FIELD_NUMBER: _ClassVar[int]
    SPAN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_DATE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    library: str
    span: _common_pb2.Span
    kind: _common_pb2.ReelKind
    anchor_date: _date_pb2.Date
    mode: _common_pb2.ScriptMode
    options: _common_pb2.RenderOptions
    request_id: str
    def __init__(self, library: _Optional[str] = ..., span: _Optional[_Union[_common_pb2.Span, str]] = ..., kind: _Optional[_Union[_common_pb2.ReelKind, str]] = ..., anchor_date: _Optional[_Union[_date_pb2.Date, _Mapping]] = ..., mode: _Optional[_Union[_common_pb2.ScriptMode, str]] = ..., options: _Optional[_Union[_common_pb2.RenderOptions, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateReelResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: ReelJob
    def __init__(self, job: _Optional[_Union[ReelJob, _Mapping]] = ...) -> None: ...

class ReelJob(_message.Message):
    __slots__ = ("job_id", "request_id", "library", "span", "kind", "anchor_date", "mode", "state", "reason", "message", "progress", "reel_key", "create_time", "update_time")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LIBRARY_FIELD_NUMBER: _ClassVar[int]
    SPAN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_DATE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    REEL_KEY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    request_id: str
    library: str
    span: _common_pb2.Span
    kind: _common_pb2.ReelKind
    anchor_date: _date_pb2.Date
    mode: _common_pb2.ScriptMode
    state: JobState
    reason: str
    message: str
    progress: float
    reel_key: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, job_id: _Optional[str] = ..., request_id: _Optional[str] = ..., library: _Optional[str] = ..., span: _Optional[_Union[_common_pb2.Span, str]] = ..., kind: _Optional[_Union[_common_pb2.ReelKind, str]] = ..., anchor_date: _Optional[_Union[_date_pb2.Date, _Mapping]] = ..., mode: _Optional[_Union[_common_pb2.ScriptMode, str]] = ..., state: _Optional[_Union[JobState, str]] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., progress: _Optional[float] = ..., reel_key: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetReelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetReelJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: ReelJob
    def __init__(self, job: _Optional[_Union[ReelJob, _Mapping]] = ...) -> None: ...

class WatchReelJobRequest(_message.Message):
    __slots__ = ("job_id", "after_sequence")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    after_sequence: int
    def __init__(self, job_id: _Optional[str] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("sequence", "event_time", "stage", "progress", "message", "state")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    event_time: _timestamp_pb2.Timestamp
    stage: str
    progress: float
    message: str
    state: JobState
    def __init__(self, sequence: _Optional[int] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stage: _Optional[str] = ..., progress: _Optional[float] = ..., message: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ...) -> None: ...

class WatchReelJobResponse(_message.Message):
    __slots__ = ("event", "job")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    event: JobEvent
    job: ReelJob
    def __init__(self, event: _Optional[_Union[JobEvent, _Mapping]] = ..., job: _Optional[_Union[ReelJob, _Mapping]] = ...) -> None: ...

class CancelReelJobRequest(_message.Message):
    __slots__ = ("job_id", "request_id")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    request_id: str
    def __init__(self, job_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class CancelReelJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: ReelJob
    def __init__(self, job: _Optional[_Union[ReelJob, _Mapping]] = ...) -> None: ...

class GetPrecomputedReelRequest(_message.Message):
    __slots__ = ("library", "span", "kind")
    LIBRARY_FIELD_NUMBER: _ClassVar[int]
    SPAN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    library: str
    span: _common_pb2.Span
    kind: _common_pb2.ReelKind
    def __init__(self, library: _Optional[str] = ..., span: _Optional[_Union[_common_pb2.Span, str]] = ..., kind: _Optional[_Union[_common_pb2.ReelKind, str]] = ...) -> None: ...

class ReelSummary(_message.Message):
    __slots__ = ("key", "library", "span", "kind", "window", "title", "subtitle", "duration_seconds", "size_bytes", "sha256", "content_type", "poster_key", "create_time", "valid_until", "precomputed", "mood", "music_style", "mode_used", "fallback_reason", "video_url", "poster_url", "url_expire_time")
    KEY_FIELD_NUMBER: _ClassVar[int]
    LIBRARY_FIELD_NUMBER: _ClassVar[int]
    SPAN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SUBTITLE_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    POSTER_KEY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    PRECOMPUTED_FIELD_NUMBER: _ClassVar[int]
    MOOD_FIELD_NUMBER: _ClassVar[int]
    MUSIC_STYLE_FIELD_NUMBER: _ClassVar[int]
    MODE_USED_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_REASON_FIELD_NUMBER: _ClassVar[int]
    VIDEO_URL_FIELD_NUMBER: _ClassVar[int]
    POSTER_URL_FIELD_NUMBER: _ClassVar[int]
    URL_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    key: str
    library: str
    span: _common_pb2.Span
    kind: _common_pb2.ReelKind
    window: _common_pb2.Window
    title: str
    subtitle: str
    duration_seconds: float
    size_bytes: int
    sha256: str
    content_type: str
    poster_key: str
    create_time: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    precomputed: bool
    mood: str
    music_style: str
    mode_used: _common_pb2.ScriptMode
    fallback_reason: str
    video_url: str
    poster_url: str
    url_expire_time: _timestamp_pb2.Timestamp
    def __init__(self, key: _Optional[str] = ..., library: _Optional[str] = ..., span: _Optional[_Union[_common_pb2.Span, str]] = ..., kind: _Optional[_Union[_common_pb2.ReelKind, str]] = ..., window: _Optional[_Union[_common_pb2.Window, _Mapping]] = ..., title: _Optional[str] = ..., subtitle: _Optional[str] = ..., duration_seconds: _Optional[float] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., content_type: _Optional[str] = ..., poster_key: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., precomputed: _Optional[bool] = ..., mood: _Optional[str] = ..., music_style: _Optional[str] = ..., mode_used: _Optional[_Union[_common_pb2.ScriptMode, str]] = ..., fallback_reason: _Optional[str] = ..., video_url: _Optional[str] = ..., poster_url: _Optional[str] = ..., url_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetPrecomputedReelResponse(_message.Message):
    __slots__ = ("reel",)
    REEL_FIELD_NUMBER: _ClassVar[int]
    reel: ReelSummary
    def __init__(self, reel: _Optional[_Union[ReelSummary, _Mapping]] = ...) -> None: ...

class StreamReelVideoRequest(_message.Message):
    __slots__ = ("key", "read_offset", "read_limit")
    KEY_FIELD_NUMBER: _ClassVar[int]
    READ_OFFSET_FIELD_NUMBER: _ClassVar[int]
    READ_LIMIT_FIELD_NUMBER: _ClassVar[int]
    key: str
    read_offset: int
    read_limit: int
    def __init__(self, key: _Optional[str] = ..., read_offset: _Optional[int] = ..., read_limit: _Optional[int] = ...) -> None: ...

class StreamReelVideoResponse(_message.Message):
    __slots__ = ("data", "offset", "size_bytes", "sha256", "content_type")
    DATA_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    offset: int
    size_bytes: int
    sha256: str
    content_type: str
    def __init__(self, data: _Optional[bytes] = ..., offset: _Optional[int] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., content_type: _Optional[str] = ...) -> None: ...

class GetReelRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class ReelMedia(_message.Message):
    __slots__ = ("media_id", "relative_path", "kind", "taken_at", "date_source", "date_from_mtime", "pick_reason", "pick_detail", "moment", "moment_count", "pick_score", "quality_flags", "quality")
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_PATH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TAKEN_AT_FIELD_NUMBER: _ClassVar[int]
    DATE_SOURCE_FIELD_NUMBER: _ClassVar[int]
    DATE_FROM_MTIME_FIELD_NUMBER: _ClassVar[int]
    PICK_REASON_FIELD_NUMBER: _ClassVar[int]
    PICK_DETAIL_FIELD_NUMBER: _ClassVar[int]
    MOMENT_FIELD_NUMBER: _ClassVar[int]
    MOMENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    PICK_SCORE_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FLAGS_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    media_id: str
    relative_path: str
    kind: _common_pb2.MediaKind
    taken_at: _timestamp_pb2.Timestamp
    date_source: str
    date_from_mtime: bool
    pick_reason: str
    pick_detail: str
    moment: int
    moment_count: int
    pick_score: float
    quality_flags: _containers.RepeatedScalarFieldContainer[str]
    quality: _common_pb2.MediaQuality
    def __init__(self, media_id: _Optional[str] = ..., relative_path: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.MediaKind, str]] = ..., taken_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., date_source: _Optional[str] = ..., date_from_mtime: _Optional[bool] = ..., pick_reason: _Optional[str] = ..., pick_detail: _Optional[str] = ..., moment: _Optional[int] = ..., moment_count: _Optional[int] = ..., pick_score: _Optional[float] = ..., quality_flags: _Optional[_Iterable[str]] = ..., quality: _Optional[_Union[_common_pb2.MediaQuality, _Mapping]] = ...) -> None: ...

class RenderStats(_message.Message):
    __slots__ = ("wall_seconds", "frames", "width", "height", "fps", "script_seconds", "render_seconds", "skipped_media", "dropped_media", "shots")
    WALL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    SCRIPT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RENDER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_MEDIA_FIELD_NUMBER: _ClassVar[int]
    DROPPED_MEDIA_FIELD_NUMBER: _ClassVar[int]
    SHOTS_FIELD_NUMBER: _ClassVar[int]
    wall_seconds: float
    frames: int
    width: int
    height: int
    fps: int
    script_seconds: float
    render_seconds: float
    skipped_media: int
    dropped_media: _containers.RepeatedCompositeFieldContainer[DroppedMedia]
    shots: _containers.RepeatedCompositeFieldContainer[RenderedShot]
    def __init__(self, wall_seconds: _Optional[float] = ..., frames: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., fps: _Optional[int] = ..., script_seconds: _Optional[float] = ..., render_seconds: _Optional[float] = ..., skipped_media: _Optional[int] = ..., dropped_media: _Optional[_Iterable[_Union[DroppedMedia, _Mapping]]] = ..., shots: _Optional[_Iterable[_Union[RenderedShot, _Mapping]]] = ...) -> None: ...

class RenderedShot(_message.Message):
    __slots__ = ("index", "media_id", "treatment", "segment_start_seconds", "segment_end_seconds", "segment_reason", "clip_audio", "detail")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    TREATMENT_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_START_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_END_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_REASON_FIELD_NUMBER: _ClassVar[int]
    CLIP_AUDIO_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    index: int
    media_id: str
    treatment: str
    segment_start_seconds: float
    segment_end_seconds: float
    segment_reason: str
    clip_audio: bool
    detail: str
    def __init__(self, index: _Optional[int] = ..., media_id: _Optional[str] = ..., treatment: _Optional[str] = ..., segment_start_seconds: _Optional[float] = ..., segment_end_seconds: _Optional[float] = ..., segment_reason: _Optional[str] = ..., clip_audio: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...

class DroppedMedia(_message.Message):
    __slots__ = ("media_id", "relative_path", "reason", "detail")
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_PATH_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    media_id: str
    relative_path: str
    reason: str
    detail: str
    def __init__(self, media_id: _Optional[str] = ..., relative_path: _Optional[str] = ..., reason: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class GetReelResponse(_message.Message):
    __slots__ = ("reel", "script", "media", "options", "stats", "job_id")
    REEL_FIELD_NUMBER: _ClassVar[int]
    SCRIPT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    reel: ReelSummary
    script: _common_pb2.Script
    media: _containers.RepeatedCompositeFieldContainer[ReelMedia]
    options: _common_pb2.RenderOptions
    stats: RenderStats
    job_id: str
    def __init__(self, reel: _Optional[_Union[ReelSummary, _Mapping]] = ..., script: _Optional[_Union[_common_pb2.Script, _Mapping]] = ..., media: _Optional[_Iterable[_Union[ReelMedia, _Mapping]]] = ..., options: _Optional[_Union[_common_pb2.RenderOptions, _Mapping]] = ..., stats: _Optional[_Union[RenderStats, _Mapping]] = ..., job_id: _Optional[str] = ...) -> None: ...

class ListReelsRequest(_message.Message):
    __slots__ = ("library", "span", "kind", "page_size", "page_token")
    LIBRARY_FIELD_NUMBER: _ClassVar[int]
    SPAN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    library: str
    span: _common_pb2.Span
    kind: _common_pb2.ReelKind
    page_size: int
    page_token: str
    def __init__(self, library: _Optional[str] = ..., span: _Optional[_Union[_common_pb2.Span, str]] = ..., kind: _Optional[_Union[_common_pb2.ReelKind, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListReelsResponse(_message.Message):
    __slots__ = ("reels", "next_page_token")
    REELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    reels: _containers.RepeatedCompositeFieldContainer[ReelSummary]
    next_page_token: str
    def __init__(self, reels: _Optional[_Iterable[_Union[ReelSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RateReelRequest(_message.Message):
    __slots__ = ("key", "rating", "reasons", "comment", "rater", "request_id")
    KEY_FIELD_NUMBER: _ClassVar[int]
    RATING_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    RATER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    key: str
    rating: Rating
    reasons: _containers.RepeatedScalarFieldContainer[str]
    comment: str
    rater: str
    request_id: str
    def __init__(self, key: _Optional[str] = ..., rating: _Optional[_Union[Rating, str]] = ..., reasons: _Optional[_Iterable[str]] = ..., comment: _Optional[str] = ..., rater: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class RateReelResponse(_message.Message):
    __slots__ = ("replaced",)
    REPLACED_FIELD_NUMBER: _ClassVar[int]
    replaced: bool
    def __init__(self, replaced: _Optional[bool] = ...) -> None: ...

class GetPreferencesRequest(_message.Message):
    __slots__ = ("library",)
    LIBRARY_FIELD_NUMBER: _ClassVar[int]
    library: str
    def __init__(self, library: _Optional[str] = ...) -> None: ...

class GetPreferencesResponse(_message.Message):
    __slots__ = ("library", "preferences", "feedback_count", "update_time", "captured_options")
    LIBRARY_FIELD_NUMBER: _ClassVar[int]
    PREFERENCES_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_COUNT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    library: str
    preferences: _common_pb2.Preferences
    feedback_count: int
    update_time: _timestamp_pb2.Timestamp
    captured_options: _common_pb2.RenderOptions
    def __init__(self, library: _Optional[str] = ..., preferences: _Optional[_Union[_common_pb2.Preferences, _Mapping]] = ..., feedback_count: _Optional[int] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., captured_options: _Optional[_Union[_common_pb2.RenderOptions, _Mapping]] = ...) -> None: ...

class Exclusion(_message.Message):
    __slots__ = ("exclusion_id", "library", "media_id", "folder", "date_range", "relative_path", "create_time", "delete_time")
    EXCLUSION_ID_FIELD_NUMBER: _ClassVar[int]
    LIBRARY_FIELD_NUMBER: _ClassVar[int]
    MEDIA_ID_FIELD_NUMBER: _ClassVar[int]
    FOLDER_FIELD_NUMBER: _ClassVar[int]
    DATE_RANGE_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_PATH_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DELETE_TIME_FIELD_NUMBER: _ClassVar[int]
    exclusion_id: str
    library: str
    media_id: str
    folder: str
    date_range: _common_pb2.DateRange
    relative_path: str
    create_time: _timestamp_pb2.Timestamp
    delete_time: _timestamp_pb2.Timestamp
    def __init__(self, exclusion_id: _Optional[str] = ..., library: _Optional[str] = ..., media_id: _Optional[str] = ..., folder: _Optional[str] = ..., date_range: _Optional[_Union[_common_pb2.DateRange, _Mapping]] = ..., relative_path: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., delete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateExclusionRequest(_message.Message):
    __slots__ = ("library", "exclusion", "request_id")
    LIBRARY_FIELD_NUMBER: _ClassVar[int]
    EXCLUSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    library: str
    exclusion: Exclusion
    request_id: str
    def __init__(self, library: _Optional[str] = ..., exclusion: _Optional[_Union[Exclusion, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateExclusionResponse(_message.Message):
    __slots__ = ("exclusion", "created")
    EXCLUSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    exclusion: Exclusion
    created: bool
    def __init__(self, exclusion: _Optional[_Union[Exclusion, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class ListExclusionsRequest(_message.Message):
    __slots__ = ("library", "page_size", "page_token")
    LIBRARY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    library: str
    page_size: int
    page_token: str
    def __init__(self, library: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListExclusionsResponse(_message.Message):
    __slots__ = ("exclusions", "next_page_token")
    EXCLUSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    exclusions: _containers.RepeatedCompositeFieldContainer[Exclusion]
    next_page_token: str
    def __init__(self, exclusions: _Optional[_Iterable[_Union[Exclusion, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteExclusionRequest(_message.Message):
    __slots__ = ("library", "exclusion_id", "request_id")
    LIBRARY_FIELD_NUMBER: _ClassVar[int]
    EXCLUSION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    library: str
    exclusion_id: str
    request_id: str
    def __init__(self, library: _Optional[str] = ..., exclusion_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class DeleteExclusionResponse(_message.Message):
    __slots__ = ("exclusion",)
    EXCLUSION_FIELD_NUMBER: _ClassVar[int]
    exclusion: Exclusion
    def __init__(self, exclusion: _Optional[_Union[Exclusion, _Mapping]] = ...) -> None: ...

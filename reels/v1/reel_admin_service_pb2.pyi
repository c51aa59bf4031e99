import datetime

from google.protobuf import struct_pb2 as _struct_pb2
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

class MaintenanceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MAINTENANCE_KIND_UNSPECIFIED: _ClassVar[MaintenanceKind]
    MAINTENANCE_KIND_PREGEN: _ClassVar[MaintenanceKind]
    MAINTENANCE_KIND_RETENTION: _ClassVar[MaintenanceKind]
    MAINTENANCE_KIND_CONSOLIDATION: _ClassVar[MaintenanceKind]
MAINTENANCE_KIND_UNSPECIFIED: MaintenanceKind
MAINTENANCE_KIND_PREGEN: MaintenanceKind
MAINTENANCE_KIND_RETENTION: MaintenanceKind
MAINTENANCE_KIND_CONSOLIDATION: MaintenanceKind

class RunPregenNowRequest(_message.Message):
    __slots__ = ("anchor_date", "libraries", "spans", "kinds", "dry_run", "request_id")
    ANCHOR_DATE_FIELD_NUMBER: _ClassVar[int]
    LIBRARIES_FIELD_NUMBER: _ClassVar[int]
    SPANS_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    anchor_date: _date_pb2.Date
    libraries: _containers.RepeatedScalarFieldContainer[str]
    spans: _containers.RepeatedScalarFieldContainer[_common_pb2.Span]
    kinds: _containers.RepeatedScalarFieldContainer[_common_pb2.ReelKind]
    dry_run: bool
    request_id: str
    def __init__(self, anchor_date: _Optional[_Union[_date_pb2.Date, _Mapping]] = ..., libraries: _Optional[_Iterable[str]] = ..., spans: _Optional[_Iterable[_Union[_common_pb2.Span, str]]] = ..., kinds: _Optional[_Iterable[_Union[_common_pb2.ReelKind, str]]] = ..., dry_run: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class ScopeOutcome(_message.Message):
    __slots__ = ("library", "span", "kind", "outcome", "reason", "reel_key", "message")
    LIBRARY_FIELD_NUMBER: _ClassVar[int]
    SPAN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REEL_KEY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    library: str
    span: _common_pb2.Span
    kind: _common_pb2.ReelKind
    outcome: str
    reason: str
    reel_key: str
    message: str
    def __init__(self, library: _Optional[str] = ..., span: _Optional[_Union[_common_pb2.Span, str]] = ..., kind: _Optional[_Union[_common_pb2.ReelKind, str]] = ..., outcome: _Optional[str] = ..., reason: _Optional[str] = ..., reel_key: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class RunPregenNowResponse(_message.Message):
    __slots__ = ("run", "outcomes")
    RUN_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    run: MaintenanceRun
    outcomes: _containers.RepeatedCompositeFieldContainer[ScopeOutcome]
    def __init__(self, run: _Optional[_Union[MaintenanceRun, _Mapping]] = ..., outcomes: _Optional[_Iterable[_Union[ScopeOutcome, _Mapping]]] = ...) -> None: ...

class RunRetentionNowRequest(_message.Message):
    __slots__ = ("dry_run", "request_id")
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    request_id: str
    def __init__(self, dry_run: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class DeletedItem(_message.Message):
    __slots__ = ("type", "path", "size_bytes", "reason")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    type: str
    path: str
    size_bytes: int
    reason: str
    def __init__(self, type: _Optional[str] = ..., path: _Optional[str] = ..., size_bytes: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class RunRetentionNowResponse(_message.Message):
    __slots__ = ("run", "deleted", "bytes_freed", "dry_run")
    RUN_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    BYTES_FREED_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    run: MaintenanceRun
    deleted: _containers.RepeatedCompositeFieldContainer[DeletedItem]
    bytes_freed: int
    dry_run: bool
    def __init__(self, run: _Optional[_Union[MaintenanceRun, _Mapping]] = ..., deleted: _Optional[_Iterable[_Union[DeletedItem, _Mapping]]] = ..., bytes_freed: _Optional[int] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class RunConsolidationNowRequest(_message.Message):
    __slots__ = ("dry_run", "request_id")
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    request_id: str
    def __init__(self, dry_run: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class RunConsolidationNowResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: MaintenanceRun
    def __init__(self, run: _Optional[_Union[MaintenanceRun, _Mapping]] = ...) -> None: ...

class MaintenanceRun(_message.Message):
    __slots__ = ("run_id", "kind", "owner_id", "trigger", "dry_run", "start_time", "end_time", "status", "report", "errors")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    run_id: int
    kind: MaintenanceKind
    owner_id: str
    trigger: str
    dry_run: bool
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    status: str
    report: _struct_pb2.Struct
    errors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, run_id: _Optional[int] = ..., kind: _Optional[_Union[MaintenanceKind, str]] = ..., owner_id: _Optional[str] = ..., trigger: _Optional[str] = ..., dry_run: _Optional[bool] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[str] = ..., report: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., errors: _Optional[_Iterable[str]] = ...) -> None: ...

class ListMaintenanceRunsRequest(_message.Message):
    __slots__ = ("kind", "page_size", "page_token")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    kind: MaintenanceKind
    page_size: int
    page_token: str
    def __init__(self, kind: _Optional[_Union[MaintenanceKind, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMaintenanceRunsResponse(_message.Message):
    __slots__ = ("runs", "next_page_token")
    RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[MaintenanceRun]
    next_page_token: str
    def __init__(self, runs: _Optional[_Iterable[_Union[MaintenanceRun, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetLedgerStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ScopeStats(_message.Message):
    __slots__ = ("library", "span", "kind", "reel_count", "total_bytes")
    LIBRARY_FIELD_NUMBER: _ClassVar[int]
    SPAN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REEL_COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    library: str
    span: _common_pb2.Span
    kind: _common_pb2.ReelKind
    reel_count: int
    total_bytes: int
    def __init__(self, library: _Optional[str] = ..., span: _Optional[_Union[_common_pb2.Span, str]] = ..., kind: _Optional[_Union[_common_pb2.ReelKind, str]] = ..., reel_count: _Optional[int] = ..., total_bytes: _Optional[int] = ...) -> None: ...

class LockHolder(_message.Message):
    __slots__ = ("lock_id", "owner_id", "acquire_time", "expire_time")
    LOCK_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    ACQUIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    lock_id: str
    owner_id: str
    acquire_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, lock_id: _Optional[str] = ..., owner_id: _Optional[str] = ..., acquire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetLedgerStatsResponse(_message.Message):
    __slots__ = ("scopes", "ledger_bytes", "cache_bytes", "cache_files", "locks", "last_runs", "job_count")
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    LEDGER_BYTES_FIELD_NUMBER: _ClassVar[int]
    CACHE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CACHE_FILES_FIELD_NUMBER: _ClassVar[int]
    LOCKS_FIELD_NUMBER: _ClassVar[int]
    LAST_RUNS_FIELD_NUMBER: _ClassVar[int]
    JOB_COUNT_FIELD_NUMBER: _ClassVar[int]
    scopes: _containers.RepeatedCompositeFieldContainer[ScopeStats]
    ledger_bytes: int
    cache_bytes: int
    cache_files: int
    locks: _containers.RepeatedCompositeFieldContainer[LockHolder]
    last_runs: _containers.RepeatedCompositeFieldContainer[MaintenanceRun]
    job_count: int
    def __init__(self, scopes: _Optional[_Iterable[_Union[ScopeStats, _Mapping]]] = ..., ledger_bytes: _Optional[int] = ..., cache_bytes: _Optional[int] = ..., cache_files: _Optional[int] = ..., locks: _Optional[_Iterable[_Union[LockHolder, _Mapping]]] = ..., last_runs: _Optional[_Iterable[_Union[MaintenanceRun, _Mapping]]] = ..., job_count: _Optional[int] = ...) -> None: ...

class ListLibrariesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class SkippedFile(_message.Message):
    __slots__ = ("relative_path", "reason")
    RELATIVE_PATH_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    relative_path: str
    reason: str
    def __init__(self, relative_path: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Library(_message.Message):
    __slots__ = ("key", "root_path", "time_zone", "media_count", "photo_count", "video_count", "skipped_count", "skipped", "last_scan_time", "has_context_pack", "scanning", "indexed", "date_sources", "analysed_count", "analysis_errors")
    class DateSourcesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    KEY_FIELD_NUMBER: _ClassVar[int]
    ROOT_PATH_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    MEDIA_COUNT_FIELD_NUMBER: _ClassVar[int]
    PHOTO_COUNT_FIELD_NUMBER: _ClassVar[int]
    VIDEO_COUNT_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_COUNT_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    LAST_SCAN_TIME_FIELD_NUMBER: _ClassVar[int]
    HAS_CONTEXT_PACK_FIELD_NUMBER: _ClassVar[int]
    SCANNING_FIELD_NUMBER: _ClassVar[int]
    INDEXED_FIELD_NUMBER: _ClassVar[int]
    DATE_SOURCES_FIELD_NUMBER: _ClassVar[int]
    ANALYSED_COUNT_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_ERRORS_FIELD_NUMBER: _ClassVar[int]
    key: str
    root_path: str
    time_zone: str
    media_count: int
    photo_count: int
    video_count: int
    skipped_count: int
    skipped: _containers.RepeatedCompositeFieldContainer[SkippedFile]
    last_scan_time: _timestamp_pb2.Timestamp
    has_context_pack: bool
    scanning: bool
    indexed: bool
    date_sources: _containers.ScalarMap[str, int]
    analysed_count: int
    analysis_errors: int
    def __init__(self, key: _Optional[str] = ..., root_path: _Optional[str] = ..., time_zone: _Optional[str] = ..., media_count: _Optional[int] = ..., photo_count: _Optional[int] = ..., video_count: _Optional[int] = ..., skipped_count: _Optional[int] = ..., skipped: _Optional[_Iterable[_Union[SkippedFile, _Mapping]]] = ..., last_scan_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., has_context_pack: _Optional[bool] = ..., scanning: _Optional[bool] = ..., indexed: _Optional[bool] = ..., date_sources: _Optional[_Mapping[str, int]] = ..., analysed_count: _Optional[int] = ..., analysis_errors: _Optional[int] = ...) -> None: ...

class ListLibrariesResponse(_message.Message):
    __slots__ = ("libraries", "next_page_token")
    LIBRARIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    libraries: _containers.RepeatedCompositeFieldContainer[Library]
    next_page_token: str
    def __init__(self, libraries: _Optional[_Iterable[_Union[Library, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RescanLibraryRequest(_message.Message):
    __slots__ = ("library", "request_id")
    LIBRARY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    library: str
    request_id: str
    def __init__(self, library: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class RescanLibraryResponse(_message.Message):
    __slots__ = ("library", "added", "removed", "scan_seconds", "updated", "unchanged", "opened")
    LIBRARY_FIELD_NUMBER: _ClassVar[int]
    ADDED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    SCAN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    OPENED_FIELD_NUMBER: _ClassVar[int]
    library: Library
    added: int
    removed: int
    scan_seconds: float
    updated: int
    unchanged: int
    opened: int
    def __init__(self, library: _Optional[_Union[Library, _Mapping]] = ..., added: _Optional[int] = ..., removed: _Optional[int] = ..., scan_seconds: _Optional[float] = ..., updated: _Optional[int] = ..., unchanged: _Optional[int] = ..., opened: _Optional[int] = ...) -> None: ...

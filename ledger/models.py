"""The ledger tables (SQLModel). The schema itself is created by the alembic
migrations in ``ledger/migrations``; a test keeps the two in step.

Conventions: datetimes are ``UTCDateTime`` (aware UTC in, aware UTC out); columns
named ``*_json`` hold JSON documents (dicts or lists; assign a new value to change
one, in-place mutation is not tracked); short vocabularies are strings and accept
``str`` Enum members. Constraint and index names are explicit so migrations can
refer to them on both SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ledger.db import Label, UTCDateTime, utcnow

MAX_SKIPPED_LISTED = 200  # libraries.skipped_json keeps at most this many entries
MAX_EVENTS_PER_JOB = 200  # job_events keeps the newest this many per job


class JobState(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


TERMINAL_JOB_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


class ReelStatus(enum.StrEnum):
    READY = "READY"


class Rating(enum.StrEnum):
    GOOD = "GOOD"
    BAD = "BAD"


class RunKind(enum.StrEnum):
    PREGEN = "PREGEN"
    RETENTION = "RETENTION"
    CONSOLIDATION = "CONSOLIDATION"


class RunTrigger(enum.StrEnum):
    SCHEDULED = "SCHEDULED"
    MANUAL = "MANUAL"


class RunStatus(enum.StrEnum):
    OK = "OK"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


def _check_in(column: str, values: type[enum.Enum] | tuple[str, ...], name: str) -> sa.CheckConstraint:
    allowed = [v.value for v in values] if isinstance(values, type) else list(values)
    quoted = ", ".join(f"'{v}'" for v in allowed)
    return sa.CheckConstraint(f"{column} IN ({quoted})", name=name)


def _new_uuid() -> str:
    return str(uuid.uuid4())


class Library(SQLModel, table=True):
    __tablename__ = "libraries"

    key: str = Field(primary_key=True, sa_type=sa.String(64))
    root_path: str
    timezone: str = Field(default="UTC", sa_type=sa.String(64))
    media_count: int = 0
    skipped_count: int = 0
    # [{"rel_path": ..., "reason": ...}], at most MAX_SKIPPED_LISTED entries
    skipped_json: list[dict[str, str]] = Field(default_factory=list, sa_type=sa.JSON)
    last_scan_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class MediaItem(SQLModel, table=True):
    __tablename__ = "media_items"
    __table_args__ = (
        sa.UniqueConstraint("library_key", "rel_path", name="uq_media_items_library_key_rel_path"),
        sa.ForeignKeyConstraint(
            ["library_key"], ["libraries.key"], ondelete="CASCADE", name="fk_media_items_library_key"
        ),
        sa.Index("ix_media_items_library_key_taken_at_utc", "library_key", "taken_at_utc"),
        _check_in("kind", ("PHOTO", "VIDEO"), "ck_media_items_kind"),
    )

    id: str = Field(primary_key=True, sa_type=sa.String(128))  # stable id chosen by the indexer
    library_key: str = Field(sa_type=sa.String(64))  # indexed by the two composites above
    rel_path: str
    kind: str = Field(sa_type=Label(8))  # PHOTO | VIDEO
    taken_at_utc: dt.datetime = Field(sa_type=UTCDateTime, index=True)
    tz_offset_min: int | None = None  # the offset the camera recorded, when known
    lat: float | None = None
    lon: float | None = None
    orientation: int = 1  # EXIF orientation
    width: int | None = None
    height: int | None = None
    size_bytes: int = Field(default=0, sa_type=sa.BigInteger)
    mtime: float = 0.0  # POSIX seconds, as os.stat() reports them
    duration_s: float | None = None  # videos only
    # Where taken_at_utc came from: EXIF, XMP, TAKEOUT, QUICKTIME, FILENAME or MTIME
    # ("" for rows indexed before the source was recorded).
    date_source: str = Field(default="", sa_type=sa.String(16), sa_column_kwargs={"server_default": sa.text("''")})
    motion_rel_path: str | None = None  # a Live Photo's clip, beside the still
    # The content was checked when indexed (a photo's pixels at reduced size, a
    # video's container); False for rows from before the check: re-read at the next scan.
    verified: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


class MediaAnalysis(SQLModel, table=True):
    """What the index-time analysis found in one media item (render_service/
    analysis.py). Keyed by the media id, which changes when the file does, so an
    item is analysed again only when its file changes (or ``version`` is older
    than the analyser's); the row goes with its media item (ON DELETE CASCADE)."""

    __tablename__ = "media_analysis"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["media_id"], ["media_items.id"], ondelete="CASCADE", name="fk_media_analysis_media_id"
        ),
        sa.Index("ix_media_analysis_library_key_error", "library_key", "error"),
    )

    media_id: str = Field(primary_key=True, sa_type=sa.String(128))
    library_key: str = Field(sa_type=sa.String(64))
    version: int = 1
    sharpness: float = 0.5
    dark_share: float = 0.0
    bright_share: float = 0.0
    mean_luma: float = 0.5
    phash: str = Field(default="", sa_type=sa.String(32))
    screenshot: float = 0.0
    face_count: int = 0
    # [[x, y, w, h], ...] as fractions of the upright picture
    faces_json: list[list[float]] = Field(default_factory=list, sa_type=sa.JSON)
    rating: int = 0
    motion: float = 0.0
    loudness_db: float | None = None
    error: str = Field(default="", sa_type=sa.String(32))  # "" analysed; else why not (neutral scores)
    analysed_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReelJob(SQLModel, table=True):
    __tablename__ = "reel_jobs"
    __table_args__ = (
        sa.UniqueConstraint("request_id", name="uq_reel_jobs_request_id"),
        sa.Index("ix_reel_jobs_state_created_at", "state", "created_at"),
        sa.Index("ix_reel_jobs_reel_key", "reel_key"),
        _check_in("state", JobState, "ck_reel_jobs_state"),
    )

    id: str = Field(default_factory=_new_uuid, primary_key=True, sa_type=sa.String(36))
    request_id: str | None = Field(default=None, sa_type=sa.String(128))
    library_key: str = Field(sa_type=sa.String(64), index=True)
    span: str = Field(sa_type=Label(16))
    kind: str = Field(sa_type=Label(16))
    anchor_date: dt.date
    mode: str = Field(sa_type=Label(16))
    params_json: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    state: str = Field(default=JobState.QUEUED, sa_type=Label(16))
    reason: str = ""  # UPPER_SNAKE reason for FAILED/CANCELLED (e.g. INTERRUPTED)
    message: str = ""
    progress: float = 0.0  # 0..1
    reel_key: str | None = Field(default=None, sa_type=sa.String(128))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, sa_type=sa.String(128))
    lease_until: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    precomputed: bool = False
    # What the job produced (file names, size, sha256, ...): an on-demand reel has
    # no precomputed_reels row, so this is how it is found and streamed by key.
    result_json: dict[str, Any] = Field(
        default_factory=dict, sa_type=sa.JSON, sa_column_kwargs={"server_default": sa.text("'{}'")}
    )
    # Claims so far: a job whose replica died is requeued a bounded number of times.
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": sa.text("0")})
    # The trace context of the request that queued the job (W3C traceparent headers;
    # empty with tracing off): the worker's spans continue that trace.
    trace_context_json: dict[str, str] = Field(
        default_factory=dict, sa_type=sa.JSON, sa_column_kwargs={"server_default": sa.text("'{}'")}
    )

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_JOB_STATES


class JobEvent(SQLModel, table=True):
    __tablename__ = "job_events"
    __table_args__ = (
        sa.Index("ix_job_events_job_id_seq", "job_id", "seq", unique=True),
        sa.ForeignKeyConstraint(["job_id"], ["reel_jobs.id"], ondelete="CASCADE", name="fk_job_events_job_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(sa_type=sa.String(36))
    seq: int  # 1, 2, 3, ... per job
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    stage: str = Field(default="", sa_type=sa.String(64))
    progress: float = 0.0
    message: str = ""
    state: str = Field(sa_type=Label(16))


class PrecomputedReel(SQLModel, table=True):
    __tablename__ = "precomputed_reels"
    __table_args__ = (
        sa.UniqueConstraint("key", name="uq_precomputed_reels_key"),
        sa.Index("ix_precomputed_reels_scope_anchor", "library_key", "span", "kind", "anchor_date"),
        _check_in("status", ReelStatus, "ck_precomputed_reels_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_type=sa.String(128))
    library_key: str = Field(sa_type=sa.String(64))
    span: str = Field(sa_type=Label(16))
    kind: str = Field(sa_type=Label(16))
    anchor_date: dt.date
    window_start: dt.datetime = Field(sa_type=UTCDateTime)  # inclusive
    window_end: dt.datetime = Field(sa_type=UTCDateTime)  # exclusive
    title: str = ""
    duration_s: float = 0.0
    size_bytes: int = Field(default=0, sa_type=sa.BigInteger)
    sha256: str = Field(default="", sa_type=sa.String(64))
    media_fingerprint: str = Field(default="", sa_type=sa.String(128))  # hash of media ids/sizes
    mood: str = Field(default="", sa_type=sa.String(32))
    music_style: str = Field(default="", sa_type=sa.String(32))
    mode_used: str = Field(default="", sa_type=Label(16))
    fallback_reason: str = Field(default="", sa_type=sa.String(64))
    # Paths relative to the reel store, independent of any library's location.
    video_path: str
    sidecar_path: str
    poster_path: str
    status: str = Field(default=ReelStatus.READY, sa_type=Label(16))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    valid_until: dt.datetime = Field(sa_type=UTCDateTime)


class UserAiPrefs(SQLModel, table=True):
    """The parameters of a library's last CreateReel, replayed by pre-generation."""

    __tablename__ = "user_ai_prefs"

    library_key: str = Field(primary_key=True, sa_type=sa.String(64))
    params_json: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    source_request_id: str | None = Field(default=None, sa_type=sa.String(128))


class Feedback(SQLModel, table=True):
    """One rater's GOOD/BAD rating of one reel (a later rating replaces it)."""

    __tablename__ = "feedback"
    __table_args__ = (
        sa.UniqueConstraint("reel_key", "rater", name="uq_feedback_reel_key_rater"),
        _check_in("rating", Rating, "ck_feedback_rating"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reel_key: str = Field(sa_type=sa.String(128), index=True)
    # Not in the original sketch: recorded at rating time so that ratings stay
    # attributable after the reel row is pruned (ratings are permanent, reels are not).
    library_key: str | None = Field(default=None, sa_type=sa.String(64), index=True)
    rater: str = Field(default="", sa_type=sa.String(128))
    rating: str = Field(sa_type=Label(8))
    reasons_json: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    comment: str = ""  # personal text: never log it
    mood: str = Field(default="", sa_type=sa.String(32))
    music_style: str = Field(default="", sa_type=sa.String(32))
    duration_s: float = 0.0
    mode: str = Field(default="", sa_type=Label(16))
    span: str = Field(default="", sa_type=Label(16))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LibraryPreferences(SQLModel, table=True):
    """The distillate of a library's feedback: all the next script request sees."""

    __tablename__ = "library_preferences"

    library_key: str = Field(primary_key=True, sa_type=sa.String(64))
    prefs_json: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    source_feedback_count: int = 0


class MaintenanceLock(SQLModel, table=True):
    __tablename__ = "maintenance_locks"

    lock_id: str = Field(primary_key=True, sa_type=sa.String(64))
    owner_id: str = Field(sa_type=sa.String(128))
    acquired_at: dt.datetime = Field(sa_type=UTCDateTime)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime)


class MaintenanceRun(SQLModel, table=True):
    __tablename__ = "maintenance_runs"
    __table_args__ = (
        sa.Index("ix_maintenance_runs_kind_id", "kind", "id"),
        sa.UniqueConstraint("request_id", name="uq_maintenance_runs_request_id"),
        _check_in("kind", RunKind, "ck_maintenance_runs_kind"),
        _check_in("trigger", RunTrigger, "ck_maintenance_runs_trigger"),
        _check_in("status", RunStatus, "ck_maintenance_runs_status"),  # NULL passes
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=Label(16))
    owner_id: str = Field(sa_type=sa.String(128))
    trigger: str = Field(sa_type=Label(16))
    dry_run: bool = False
    started_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str | None = Field(default=None, sa_type=Label(16))  # None while running
    report_json: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    errors_json: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    request_id: str | None = Field(default=None, sa_type=sa.String(128))  # manual passes: AIP-155


class ExclusionTarget(enum.StrEnum):
    MEDIA = "MEDIA"
    FOLDER = "FOLDER"
    DATES = "DATES"


class Exclusion(SQLModel, table=True):
    """ "Never show me this": one media item, folder or date range of a library hidden
    from memories. Deleting one (unhide) sets ``deleted_at``: the row stays, so that a
    retried delete with the same ``delete_request_id`` answers the same."""

    __tablename__ = "exclusions"
    __table_args__ = (
        sa.UniqueConstraint("request_id", name="uq_exclusions_request_id"),
        sa.UniqueConstraint("delete_request_id", name="uq_exclusions_delete_request_id"),
        sa.Index("ix_exclusions_library_key_id", "library_key", "id"),
        _check_in("target", ExclusionTarget, "ck_exclusions_target"),
    )

    id: int | None = Field(default=None, primary_key=True)
    library_key: str = Field(sa_type=sa.String(64))
    target: str = Field(sa_type=Label(8))  # MEDIA | FOLDER | DATES
    media_id: str | None = Field(default=None, sa_type=sa.String(128))  # MEDIA
    rel_path: str | None = None  # MEDIA: the file when hidden; FOLDER: the folder
    start_date: dt.date | None = None  # DATES: local dates [start, end)
    end_date: dt.date | None = None
    # DATES: the same range as UTC instants, in the library's zone when it was made.
    start_utc: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    end_utc: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    request_id: str | None = Field(default=None, sa_type=sa.String(128))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    deleted_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    delete_request_id: str | None = Field(default=None, sa_type=sa.String(128))


class ExclusionVersion(SQLModel, table=True):
    """A counter per library, bumped by every change to its exclusions: a reader
    (or a cache of GetPrecomputedReel answers) re-reads them only when it moves."""

    __tablename__ = "exclusion_versions"

    library_key: str = Field(primary_key=True, sa_type=sa.String(64))
    version: int = 0
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReelMediaRow(SQLModel, table=True):
    """The media a reel shows, in order: what the hidden-media check reads. Written
    for every reel (pre-generated and on-demand) before the reel is served."""

    __tablename__ = "reel_media"

    reel_key: str = Field(primary_key=True, sa_type=sa.String(128))
    position: int = Field(primary_key=True)
    media_id: str = Field(sa_type=sa.String(128))
    rel_path: str
    taken_at_utc: dt.datetime = Field(sa_type=UTCDateTime)

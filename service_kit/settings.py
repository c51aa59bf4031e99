"""Every knob of both services, read from the environment in one place.

Each field is an environment variable (its alias) with a default; `.env.example`
lists them with a one-line comment. `load_settings()` validates everything at start
and raises `SettingsError` with one line naming the variable at fault.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
import re
import socket
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from reels_core.domain import Kind, Span
from reels_core.trips import DEFAULT_TRIP_MIN_KM
from reels_core.windows import DEFAULT_VALIDITY_HOURS, TRIP_VALIDITY_HOURS


class SettingsError(Exception):
    """A knob has a bad value; the message is one line naming the variable."""


def _csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip().upper() for part in value.split(",") if part.strip()]
    return value


def _members(value: object, vocabulary: type[enum.Enum]) -> object:
    """A non-empty comma list of `vocabulary`'s values (str enums: a member equals
    its value); pydantic then turns each into its member. Checked here rather than
    by pydantic for the one-line message."""
    allowed = [member.value for member in vocabulary]
    items = _csv(value)
    if isinstance(items, (list, tuple)) and (not items or any(item not in allowed for item in items)):
        raise ValueError(f"expected a comma list of {', '.join(allowed)}")
    return items


def _host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("expected HOST:PORT")
    return value


class Settings(BaseModel):
    # pydantic does the parsing and validation; the environment is read by hand in
    # load_settings so that comma lists stay plain strings in the environment.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    # --- storage --------------------------------------------------------------
    data_dir: Path = Field(Path("./var"), alias="REEL_DATA_DIR")
    database_url: str = Field("", alias="REEL_DATABASE_URL")
    blob_url: str = Field("", alias="REEL_BLOB_URL")
    s3_endpoint_url: str = Field("", alias="REEL_S3_ENDPOINT_URL")

    # --- libraries ------------------------------------------------------------
    libraries: str = Field("", alias="REEL_LIBRARIES")
    timezone: str = Field("UTC", alias="REEL_TIMEZONE")
    # Pins the domain clock's date (tests, demos, backfills): see reels_core/clock.py.
    today: dt.date | None = Field(None, alias="REEL_TODAY")
    # A fixed clock shift in seconds; wins over REEL_TODAY (the test suite sets it).
    clock_shift_s: int | None = Field(None, alias="REEL_CLOCK_SHIFT_S")

    # --- network, access ------------------------------------------------------
    scripter_addr: str = Field("127.0.0.1:50061", alias="REEL_SCRIPTER_ADDR")
    render_addr: str = Field("127.0.0.1:50062", alias="REEL_RENDER_ADDR")
    scripter_timeout_s: float = Field(20.0, gt=0, le=600, alias="REEL_SCRIPTER_TIMEOUT_S")
    auth_token: str = Field("", alias="REEL_AUTH_TOKEN")
    # The render service's token for the scripter (never the client-facing one).
    scripter_token: str = Field("", alias="REEL_SCRIPTER_TOKEN")
    # PEM file of the CA that signs the scripter's certificate (private CA); set, or
    # with REEL_SCRIPTER_TLS, the render service dials the scripter over TLS.
    scripter_ca_file: str = Field("", alias="REEL_SCRIPTER_CA_FILE")
    scripter_tls: bool = Field(False, alias="REEL_SCRIPTER_TLS")
    admin_token: str = Field("", alias="REEL_ADMIN_TOKEN")
    tls_cert: str = Field("", alias="REEL_TLS_CERT")
    tls_key: str = Field("", alias="REEL_TLS_KEY")
    grace_s: float = Field(10.0, ge=0, le=300, alias="REEL_SHUTDOWN_GRACE_S")
    log_format: Literal["auto", "json", "console"] = Field("auto", alias="REEL_LOG_FORMAT")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", alias="REEL_LOG_LEVEL")
    replica_id: str = Field("", alias="REEL_REPLICA_ID")

    # --- metrics, traces (off by default) ---------------------------------------
    # HOST:PORT of the render service's Prometheus /metrics endpoint (empty: off).
    metrics_addr: str = Field("", alias="REEL_METRICS_ADDR")
    # HOST:PORT of the scripter's /metrics endpoint (empty: off).
    scripter_metrics_addr: str = Field("", alias="REEL_SCRIPTER_METRICS_ADDR")
    # Set: traces are exported by OTLP/gRPC there (the OpenTelemetry exporter also
    # reads the other OTEL_EXPORTER_OTLP_* variables itself).
    otlp_endpoint: str = Field("", alias="OTEL_EXPORTER_OTLP_ENDPOINT")

    # --- scripting ------------------------------------------------------------
    llm_base_url: str = Field("", alias="REEL_LLM_BASE_URL")
    llm_model: str = Field("", alias="REEL_LLM_MODEL")
    llm_api_key: str = Field("", alias="REEL_LLM_API_KEY")
    llm_timeout_s: float = Field(30.0, gt=0, le=600, alias="REEL_LLM_TIMEOUT_S")
    llm_max_steps: int = Field(8, ge=1, le=32, alias="REEL_LLM_MAX_STEPS")
    tool_margin_h: float = Field(24.0, ge=0, le=24 * 31, alias="REEL_TOOL_MARGIN_H")
    max_shots: int = Field(20, ge=1, le=100, alias="REEL_MAX_SHOTS")
    # Index-time analysis of new and changed media (sharpness, faces, ...: issue 13);
    # off, every item keeps neutral scores and reels fall back to the time spread.
    analysis_enabled: bool = Field(True, alias="REEL_ANALYSIS_ENABLED")
    target_duration_s: float = Field(30.0, ge=10, le=120, alias="REEL_TARGET_DURATION_S")

    # --- rendering, streaming -------------------------------------------------
    render_workers: int = Field(1, ge=1, le=32, alias="REEL_RENDER_WORKERS")
    stream_chunk_kib: int = Field(256, ge=16, le=4096, alias="REEL_STREAM_CHUNK_KIB")
    job_lease_s: float = Field(60.0, ge=5, le=3600, alias="REEL_JOB_LEASE_S")
    grpc_max_workers: int = Field(64, ge=8, le=4096, alias="REEL_GRPC_MAX_WORKERS")

    # --- serving many viewers (render service, grpc.aio) ----------------------
    stream_read_ahead: int = Field(1, ge=0, le=8, alias="REEL_STREAM_READ_AHEAD")
    max_streams: int = Field(4096, ge=1, alias="REEL_MAX_STREAMS")
    max_streams_per_peer: int = Field(1024, ge=1, alias="REEL_MAX_STREAMS_PER_PEER")
    max_watches: int = Field(4096, ge=1, alias="REEL_MAX_WATCHES")
    max_watches_per_peer: int = Field(256, ge=1, alias="REEL_MAX_WATCHES_PER_PEER")
    stream_idle_timeout_s: float = Field(60.0, ge=0, alias="REEL_STREAM_IDLE_TIMEOUT_S")
    keepalive_time_s: float = Field(60.0, gt=0, alias="REEL_KEEPALIVE_TIME_S")
    keepalive_timeout_s: float = Field(20.0, gt=0, alias="REEL_KEEPALIVE_TIMEOUT_S")
    keepalive_min_client_ping_s: float = Field(10.0, ge=0, alias="REEL_KEEPALIVE_MIN_CLIENT_PING_S")
    max_connection_age_s: float = Field(1800.0, ge=0, alias="REEL_MAX_CONNECTION_AGE_S")
    max_connection_age_grace_s: float = Field(300.0, ge=0, alias="REEL_MAX_CONNECTION_AGE_GRACE_S")
    max_connection_idle_s: float = Field(0.0, ge=0, alias="REEL_MAX_CONNECTION_IDLE_S")
    max_concurrent_rpcs: int = Field(20000, ge=0, alias="REEL_MAX_CONCURRENT_RPCS")
    lookup_cache_s: float = Field(2.0, ge=0, le=3600, alias="REEL_LOOKUP_CACHE_S")
    signed_url_s: int = Field(0, ge=0, le=7 * 86400, alias="REEL_SIGNED_URL_S")
    max_queued_jobs: int = Field(1000, ge=1, le=1_000_000, alias="REEL_MAX_QUEUED_JOBS")
    max_queued_jobs_per_peer: int = Field(50, ge=1, le=1_000_000, alias="REEL_MAX_QUEUED_JOBS_PER_PEER")
    health_check_s: float = Field(5.0, gt=0, le=600, alias="REEL_HEALTH_CHECK_S")

    # --- nightly pre-generation -----------------------------------------------
    pregen_enabled: bool = Field(False, alias="REEL_PREGEN_ENABLED")
    pregen_hour: int = Field(3, ge=0, le=23, alias="REEL_PREGEN_HOUR")
    # YEAR and TRIP are made only when listed (the defaults are the original three x two).
    pregen_spans: list[Span] = Field([Span.DAY, Span.WEEK, Span.MONTH], alias="REEL_PREGEN_SPANS")
    pregen_kinds: list[Kind] = Field([Kind.ON_THIS_DAY, Kind.RECAP], alias="REEL_PREGEN_KINDS")
    min_free_disk_mb: int = Field(500, ge=0, alias="REEL_MIN_FREE_DISK_MB")
    keep_per_scope: int = Field(
        2, ge=1, le=100, validation_alias=AliasChoices("PREGEN_KEEP_PER_SCOPE", "REEL_PREGEN_KEEP_PER_SCOPE")
    )
    valid_hours_day: float = Field(DEFAULT_VALIDITY_HOURS[Span.DAY], gt=0, alias="REEL_VALID_HOURS_DAY")
    valid_hours_week: float = Field(DEFAULT_VALIDITY_HOURS[Span.WEEK], gt=0, alias="REEL_VALID_HOURS_WEEK")
    valid_hours_month: float = Field(DEFAULT_VALIDITY_HOURS[Span.MONTH], gt=0, alias="REEL_VALID_HOURS_MONTH")
    valid_hours_year: float = Field(DEFAULT_VALIDITY_HOURS[Span.YEAR], gt=0, alias="REEL_VALID_HOURS_YEAR")
    valid_hours_trip: float = Field(TRIP_VALIDITY_HOURS, gt=0, alias="REEL_VALID_HOURS_TRIP")
    trip_min_km: float = Field(DEFAULT_TRIP_MIN_KM, gt=0, le=20_000, alias="REEL_TRIP_MIN_KM")

    # --- retention, consolidation ---------------------------------------------
    cache_sweep_enabled: bool = Field(True, alias="REEL_CACHE_SWEEP_ENABLED")
    cache_sweep_interval_h: float = Field(24, gt=0, alias="REEL_CACHE_SWEEP_INTERVAL_H")
    cache_max_age_days: float = Field(7, ge=0, alias="REEL_CACHE_MAX_AGE_DAYS")
    cache_tmp_grace_min: float = Field(60, ge=0, alias="REEL_CACHE_TMP_GRACE_MIN")
    job_retention_days: float = Field(30, ge=0, alias="REEL_JOB_RETENTION_DAYS")
    consolidate_interval_h: float = Field(6, gt=0, alias="REEL_CONSOLIDATE_INTERVAL_H")
    lock_ttl_s: float = Field(300, ge=5, alias="REEL_LOCK_TTL_S")

    @field_validator("pregen_spans", mode="before")
    @classmethod
    def _spans(cls, value: object) -> object:
        return _members(value, Span)

    @field_validator("pregen_kinds", mode="before")
    @classmethod
    def _kinds(cls, value: object) -> object:
        return _members(value, Kind)

    @field_validator("clock_shift_s", mode="before")
    @classmethod
    def _shift(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("today", mode="before")
    @classmethod
    def _today(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            raise ValueError("expected a date as YYYY-MM-DD")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not an IANA time zone (e.g. Europe/Paris)") from None
        return value

    @field_validator("scripter_addr", "render_addr")
    @classmethod
    def _addr(cls, value: str) -> str:
        return _host_port(value)

    @field_validator("metrics_addr", "scripter_metrics_addr")
    @classmethod
    def _optional_addr(cls, value: str) -> str:
        return _host_port(value) if value else value

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'ledger.db'}"

    @cached_property
    def reel_dir(self) -> Path:
        return self.data_dir / "reels"

    @cached_property
    def cache_dir(self) -> Path:
        """Derived, rebuildable indexes (never inside a library)."""
        return self.data_dir / "cache"

    @cached_property
    def owner_id(self) -> str:
        return self.replica_id or f"{socket.gethostname()}-{os.getpid()}"

    @property
    def tls_enabled(self) -> bool:
        return bool(self.tls_cert and self.tls_key)

    def valid_hours(self) -> dict[Span, float]:
        return {
            Span.DAY: self.valid_hours_day,
            Span.WEEK: self.valid_hours_week,
            Span.MONTH: self.valid_hours_month,
            Span.YEAR: self.valid_hours_year,
        }


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read and validate every knob; `env` replaces os.environ (tests)."""
    source = dict(os.environ if env is None else env)
    names = {f.alias for f in Settings.model_fields.values() if f.alias}
    names |= {"PREGEN_KEEP_PER_SCOPE", "REEL_PREGEN_KEEP_PER_SCOPE"}
    values = {k: v for k, v in source.items() if k in names}
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = err["loc"][0] if err["loc"] else "?"
        info = Settings.model_fields.get(str(field))
        var = info.alias if info and info.alias else str(field)
        if info and info.validation_alias is not None and not info.alias:
            var = "PREGEN_KEEP_PER_SCOPE"
        got = source.get(str(var), err.get("input"))
        raise SettingsError(f"{var}={got!r}: {err['msg']}") from None
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise SettingsError("REEL_TLS_CERT and REEL_TLS_KEY must be set together")
    for var, path in (
        ("REEL_TLS_CERT", settings.tls_cert),
        ("REEL_TLS_KEY", settings.tls_key),
        ("REEL_SCRIPTER_CA_FILE", settings.scripter_ca_file),
    ):
        if path and not Path(path).is_file():
            raise SettingsError(f"{var}={path!r}: file not found")
    return settings

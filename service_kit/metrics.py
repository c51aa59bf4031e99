"""Prometheus metrics of both services: the definitions and one recording function
per event, called from the code where the event happens with one-line hooks.

Off unless an address is set: `REEL_METRICS_ADDR` (render service) and
`REEL_SCRIPTER_METRICS_ADDR` (scripter), served by prometheus-client's own HTTP
server at `/metrics`. The recording functions always run, so the code has no "if
metrics" branch: the RPC hook costs about a tenth of the JSON log line the
interceptor writes for every call anyway (6 us against 57 us per call, timeit on the
2-core dev machine), once the label children are cached (`labels()` on every call
made it 3x slower).

The RPC metrics carry the names and labels of go-grpc-prometheus and
py-grpc-prometheus (`grpc_server_started_total`, `grpc_server_handled_total`,
`grpc_server_handling_seconds`; `grpc_type`, `grpc_service`, `grpc_method`,
`grpc_code` with Go's code names), so the usual gRPC dashboards work unchanged.
They are recorded by our one interceptor (two lines there) rather than by
py-grpc-prometheus's interceptor: that one has no grpc.aio variant, and ours already
knows each call's final code (including a client's cancel).

The ledger, job and disk gauges are read when Prometheus scrapes (from the data of
GetLedgerStats, one read-only ledger snapshot and one store listing per scrape), so
they are right across replicas and restarts; every replica exports the same values.
Every name is listed in README.md (Observability) and docs/OPERATIONS.md.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from prometheus_client import REGISTRY, Counter, Histogram, disable_created_metrics, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = structlog.get_logger("metrics")

# No `*_created` series beside each counter and histogram: the gRPC exporters of
# other languages send none, and they double the lines of a scrape.
disable_created_metrics()

# --- RPCs (go-grpc-prometheus names) -------------------------------------------
_RPC_LABELS = ("grpc_type", "grpc_service", "grpc_method")
RPC_STARTED = Counter("grpc_server_started_total", "RPCs started on the server.", _RPC_LABELS)
RPC_HANDLED = Counter(
    "grpc_server_handled_total", "RPCs completed on the server, whatever their status.", (*_RPC_LABELS, "grpc_code")
)
RPC_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "Time from the start of an RPC to its status (streams: until the last message).",
    _RPC_LABELS,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
# The code names go-grpc-prometheus exports (Go's codes.Code.String()).
_GO_CODE = {
    "OK": "OK",
    "CANCELLED": "Canceled",
    "UNKNOWN": "Unknown",
    "INVALID_ARGUMENT": "InvalidArgument",
    "DEADLINE_EXCEEDED": "DeadlineExceeded",
    "NOT_FOUND": "NotFound",
    "ALREADY_EXISTS": "AlreadyExists",
    "PERMISSION_DENIED": "PermissionDenied",
    "RESOURCE_EXHAUSTED": "ResourceExhausted",
    "FAILED_PRECONDITION": "FailedPrecondition",
    "ABORTED": "Aborted",
    "OUT_OF_RANGE": "OutOfRange",
    "UNIMPLEMENTED": "Unimplemented",
    "INTERNAL": "Internal",
    "UNAVAILABLE": "Unavailable",
    "DATA_LOSS": "DataLoss",
    "UNAUTHENTICATED": "Unauthenticated",
}

# --- rendering, streaming, scripts ----------------------------------------------
RENDER_SECONDS = Histogram(
    "reels_render_seconds",
    "Wall time of one reel's render stage (frames and encode).",
    ("resolution",),
    buckets=(1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600),
)
RENDER_FPS = Histogram(
    "reels_render_fps",
    "Frames rendered per second of render stage, per reel.",
    ("resolution",),
    buckets=(1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 360),
)
STREAM_BYTES = Counter("reels_stream_bytes_total", "Reel bytes sent by StreamReelVideo.")
SCRIPT_FALLBACKS = Counter(
    "reels_script_fallbacks_total",
    "Reels whose script is not the mode asked for, by fallback reason (render side: "
    "the scripter's own reasons and the render service's SCRIPTER_* ones).",
    ("reason",),
)
SCRIPTER_FALLBACKS = Counter(
    "reels_scripter_fallbacks_total",
    "Scripts the scripter answered with the fast script instead of the mode asked for, by reason.",
    ("reason",),
)

# --- maintenance passes --------------------------------------------------------
MAINTENANCE_PASSES = Counter(
    "reels_maintenance_passes_total", "Maintenance passes run, by kind and status.", ("kind", "status")
)
MAINTENANCE_SECONDS = Histogram(
    "reels_maintenance_pass_seconds",
    "Duration of a maintenance pass, lock taken to run recorded.",
    ("kind", "status"),
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
)


def rpc_type(handler: Any) -> str:
    """go-grpc-prometheus's `grpc_type` of a grpc.RpcMethodHandler."""
    if handler.unary_unary:
        return "unary"
    if handler.unary_stream:
        return "server_stream"
    if handler.stream_unary:
        return "client_stream"
    return "bidi_stream"


@functools.cache
def _rpc_children(full_method: str, grpc_type: str) -> tuple[Any, Any, dict[str, Any]]:
    """The started counter and latency histogram of one method, and its handled
    counters by code: looked up once, not on every call (prometheus-client's
    `labels()` takes a lock and builds a key each time)."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    labels = (grpc_type, service, method)
    return RPC_STARTED.labels(*labels), RPC_SECONDS.labels(*labels), {}


def rpc_started(full_method: str, grpc_type: str) -> Callable[[str, float], None]:
    """Count a call as started; returns what records its end: `(code, seconds)`,
    with the code's UPPER_SNAKE name."""
    started, seconds, handled_by_code = _rpc_children(full_method, grpc_type)
    started.inc()

    def handled(code: str, elapsed: float) -> None:
        counter = handled_by_code.get(code)
        if counter is None:
            service, _, method = full_method.lstrip("/").rpartition("/")
            counter = handled_by_code.setdefault(
                code, RPC_HANDLED.labels(grpc_type, service, method, _GO_CODE.get(code, code))
            )
        counter.inc()
        seconds.observe(elapsed)

    return handled


def reel_rendered(seconds: float, frames: int, resolution: str) -> None:
    RENDER_SECONDS.labels(resolution).observe(seconds)
    if seconds > 0:
        RENDER_FPS.labels(resolution).observe(frames / seconds)


def bytes_streamed(count: int) -> None:
    STREAM_BYTES.inc(count)


def script_fallback(reason: str) -> None:
    """Render side: a produced reel's script fell back (no-op for an empty reason)."""
    if reason:
        SCRIPT_FALLBACKS.labels(reason).inc()


def scripter_fallback(reason: str) -> None:
    """Scripter side: a script answered with the fast one (no-op for an empty reason)."""
    if reason:
        SCRIPTER_FALLBACKS.labels(reason).inc()


def maintenance_pass(kind: str, status: str, seconds: float) -> None:
    MAINTENANCE_PASSES.labels(kind, status).inc()
    MAINTENANCE_SECONDS.labels(kind, status).observe(seconds)


# --- gauges read at scrape time -------------------------------------------------


@dataclass(frozen=True)
class ScopeGauge:
    library: str
    span: str
    kind: str
    reels: int
    bytes: int


@dataclass(frozen=True)
class LockGauge:
    lock_id: str
    owner: str
    expire_ts: float  # Unix seconds


@dataclass(frozen=True)
class RunGauge:
    kind: str
    status: str
    end_ts: float  # Unix seconds; 0 while running


@dataclass(frozen=True)
class LedgerGauges:
    """What the render service reports at each scrape (from GetLedgerStats' data)."""

    scopes: Sequence[ScopeGauge] = ()
    ledger_bytes: int = 0
    cache_bytes: int = 0
    cache_files: int = 0
    jobs_by_state: Mapping[str, int] = field(default_factory=dict)
    locks: Sequence[LockGauge] = ()
    last_runs: Sequence[RunGauge] = ()
    disk_free_bytes: int = 0
    disk_total_bytes: int = 0


JOB_STATES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")


class _LedgerCollector(Collector):
    """Gauges from the source the render service registers (`watch_ledger`); one
    collector per process, whose source the newest App replaces (tests build many)."""

    def __init__(self) -> None:
        self.source: Callable[[], LedgerGauges] | None = None
        self._lock = threading.Lock()

    def describe(self) -> list[Any]:
        return []  # unchecked collector: the families depend on the ledger's contents

    def collect(self) -> Iterator[GaugeMetricFamily]:
        source = self.source
        if source is None:
            return
        up = GaugeMetricFamily("reels_ledger_up", "1 when the last scrape read the ledger, else 0.")
        try:
            with self._lock:  # concurrent scrapes read the ledger once each, in turn
                g = source()
        except Exception:  # a scrape reports the ledger down, it never fails
            log.exception("ledger gauges failed")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        reels = GaugeMetricFamily("reels_ledger_reels", "Pre-generated reels in the ledger.", labels=_SCOPE)
        reel_bytes = GaugeMetricFamily("reels_ledger_reel_bytes", "Bytes of those reels' videos.", labels=_SCOPE)
        for s in g.scopes:
            reels.add_metric([s.library, s.span, s.kind], s.reels)
            reel_bytes.add_metric([s.library, s.span, s.kind], s.bytes)
        yield reels
        yield reel_bytes
        yield _gauge("reels_ledger_bytes", "Bytes of stored files the ledger references.", g.ledger_bytes)
        yield _gauge("reels_cache_bytes", "Bytes of stored files no ledger row references.", g.cache_bytes)
        yield _gauge("reels_cache_files", "Stored files no ledger row references.", g.cache_files)
        jobs = GaugeMetricFamily("reels_jobs", "Job rows in the ledger, by state.", labels=["state"])
        for state in sorted({*JOB_STATES, *g.jobs_by_state}):
            jobs.add_metric([state], g.jobs_by_state.get(state, 0))
        yield jobs
        yield _gauge("reels_job_queue_depth", "Jobs waiting for a worker (QUEUED).", g.jobs_by_state.get("QUEUED", 0))
        locks = GaugeMetricFamily(
            "reels_maintenance_lock_expiry_timestamp_seconds",
            "When each held maintenance lock expires (Unix time), by lock and owner.",
            labels=["lock_id", "owner"],
        )
        for lock in g.locks:
            locks.add_metric([lock.lock_id, lock.owner], lock.expire_ts)
        yield locks
        runs = GaugeMetricFamily(
            "reels_maintenance_last_run_timestamp_seconds",
            "When the newest run of each kind of pass ended (Unix time), with its status.",
            labels=["kind", "status"],
        )
        for run in g.last_runs:
            runs.add_metric([run.kind, run.status], run.end_ts)
        yield runs
        yield _gauge("reels_disk_free_bytes", "Free bytes on the file system of REEL_DATA_DIR.", g.disk_free_bytes)
        yield _gauge("reels_disk_total_bytes", "Size of the file system of REEL_DATA_DIR.", g.disk_total_bytes)


_SCOPE = ["library", "span", "kind"]


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


_LEDGER = _LedgerCollector()
REGISTRY.register(_LEDGER)


def watch_ledger(source: Callable[[], LedgerGauges] | None) -> None:
    """Read the ledger and disk gauges from `source` at each scrape (None: stop)."""
    _LEDGER.source = source


@dataclass
class MetricsServer:
    """The /metrics HTTP endpoint; `port` is the one bound (an address may ask for 0)."""

    port: int
    _server: Any
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve(address: str, service: str) -> MetricsServer | None:
    """Serve /metrics at HOST:PORT (empty: metrics are off, returns None)."""
    if not address:
        return None
    host, _, port = address.rpartition(":")
    server, thread = start_http_server(int(port), addr=host.strip("[]"))
    bound = int(server.server_port)
    log.info("metrics serving", service=service, address=f"{host}:{bound}")
    return MetricsServer(bound, server, thread)

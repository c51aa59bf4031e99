"""Server wiring shared by both services: interceptor, health, reflection, TLS,
a graceful stop on SIGTERM/SIGINT, and the allocator tuning that streaming needs."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from service_kit.interceptor import ServerInterceptor
from service_kit.settings import Settings

log = structlog.get_logger("server")


@dataclass
class Service:
    """One gRPC service to mount: its full name, the generated `add_*_to_server`
    function and the servicer instance."""

    full_name: str
    add: Callable[[object, grpc.Server], None]
    servicer: object


@dataclass
class RunningServer:
    server: grpc.Server
    port: int
    health: health.HealthServicer
    service_names: list[str]
    on_stop: list[Callable[[], None]] = field(default_factory=list)
    _stopped: threading.Event = field(default_factory=threading.Event)

    def stop(self, grace: float) -> None:
        """Health goes NOT_SERVING, in-flight calls get `grace` seconds, then the
        background work registered in `on_stop` is stopped."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        for fn in self.on_stop:
            fn()

    def wait(self) -> None:
        self.server.wait_for_termination()

    def set_serving(self, serving: bool) -> None:
        """Health of every service (and the server, "") SERVING or NOT_SERVING, from
        the application's own checks (ledger reachable, a job worker alive); no-op
        once stopping."""
        if self._stopped.is_set():
            return
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ["", *self.service_names]:
            self.health.set(name, status)


# glibc mallopt() parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MALLOC_ENV = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")


def tune_malloc_for_chunks(chunk_bytes: int) -> bool:
    """Keep chunk-sized buffers in glibc's arenas instead of handing them back to the
    kernel after every message.

    Each StreamReelVideo message allocates and frees a few chunk-sized buffers (the
    read, the protobuf copy, the serialized message, gRPC's copy). With glibc's
    defaults the freed space at the top of a thread's arena is trimmed
    (``madvise(MADV_DONTNEED)``) after every message and faulted in again for the
    next: that tripled the server's CPU per streamed byte at 512 KiB chunks
    (docs/BENCHMARKS.md, bench:stream). Raising the trim threshold to 8 chunks and
    the mmap threshold above 2 chunks keeps the pages; memory still goes back once
    more than 8 chunks are free in an arena. Does nothing (returns False) off glibc
    or when the operator set ``MALLOC_TRIM_THRESHOLD_``/``MALLOC_MMAP_THRESHOLD_``."""
    if any(name in os.environ for name in _MALLOC_ENV):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mmap_threshold = min(32 << 20, max(1 << 20, 2 * chunk_bytes + (64 << 10)))
    trim_threshold = max(4 << 20, 8 * chunk_bytes)
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold))


def build_server(settings: Settings, address: str, services: Sequence[Service], max_workers: int = 64) -> RunningServer:
    tune_malloc_for_chunks(settings.stream_chunk_kib * 1024)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="rpc"),
        interceptors=[ServerInterceptor(settings.auth_token, settings.admin_token)],
        options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 16 * 1024 * 1024)],
    )
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [svc.full_name for svc in services]
    for svc in services:
        svc.add(svc.servicer, server)
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    if settings.tls_enabled:
        creds = grpc.ssl_server_credentials(
            [(Path(settings.tls_key).read_bytes(), Path(settings.tls_cert).read_bytes())]
        )
        port = server.add_secure_port(address, creds)
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"cannot listen on {address}")
    for name in ["", *names]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server=server, port=port, health=health_servicer, service_names=names)


def serve_until_signal(
    running: RunningServer, grace: float, name: str, on_started: Callable[[], None] | None = None
) -> int:
    """Start, log the address, and on SIGTERM/SIGINT stop gracefully; returns 0."""
    stop_requested = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        log.info("stopping", signal=signal.Signals(signum).name, grace_s=grace)
        stop_requested.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    running.server.start()
    if on_started is not None:
        on_started()
    log.info("serving", service=name, port=running.port)
    stop_requested.wait()
    running.stop(grace)
    log.info("stopped", service=name)
    return 0

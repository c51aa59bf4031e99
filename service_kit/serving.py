"""Server wiring shared by both services: interceptor, health, reflection, TLS,
a graceful stop on SIGTERM/SIGINT, and the allocator tuning that streaming needs.

The render service serves on `grpc.aio` (`build_aio_server`): its event loop runs in
a thread of its own, so the rest of the process (job workers, loops, tests, the
CLI's in-process calls) stays plain threads and calls `start`/`stop` as before. The
scripter keeps the thread-pool server (`build_server`): its one RPC is a short CPU
or LLM call, never a long stream (docs/BENCHMARKS.md)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import ctypes.util
import os
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import structlog
from google.protobuf import descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from service_kit import tracing
from service_kit.interceptor import AioServerInterceptor, CallHook, ServerInterceptor, log_hook, metrics_hook
from service_kit.limits import ConcurrencyLimits, Limit
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

    def start(self) -> None:
        self.server.start()

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
        interceptors=[*tracing.server_interceptors(), ServerInterceptor(settings.auth_token, settings.admin_token)],
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
    running: RunningServer | AioRunningServer, grace: float, name: str, on_started: Callable[[], None] | None = None
) -> int:
    """Start, log the address, and on SIGTERM/SIGINT stop gracefully; returns 0."""
    stop_requested = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        log.info("stopping", signal=signal.Signals(signum).name, grace_s=grace)
        stop_requested.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    running.start()
    if on_started is not None:
        on_started()
    log.info("serving", service=name, port=running.port)
    stop_requested.wait()
    running.stop(grace)
    log.info("stopped", service=name)
    return 0


# --- grpc.aio -------------------------------------------------------------------------


def server_options(settings: Settings) -> list[tuple[str, int]]:
    """Channel arguments of the aio server: keepalive enforcement and connection age.

    The server pings an idle connection every REEL_KEEPALIVE_TIME_S and closes it
    when no answer comes within REEL_KEEPALIVE_TIMEOUT_S (a reader that vanished
    without a FIN frees its streams); clients may ping no more often than
    REEL_KEEPALIVE_MIN_CLIENT_PING_S (more, twice, and the connection is closed with
    GOAWAY "too_many_pings"). A connection older than REEL_MAX_CONNECTION_AGE_S gets
    a GOAWAY (clients reconnect, so load spreads over new replicas) and its calls
    REEL_MAX_CONNECTION_AGE_GRACE_S to finish; REEL_MAX_CONNECTION_IDLE_S closes a
    connection with no call."""
    options = [
        ("grpc.so_reuseport", 0),
        ("grpc.max_receive_message_length", 16 * 1024 * 1024),
        ("grpc.keepalive_time_ms", int(settings.keepalive_time_s * 1000)),
        ("grpc.keepalive_timeout_ms", int(settings.keepalive_timeout_s * 1000)),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", int(settings.keepalive_min_client_ping_s * 1000)),
        ("grpc.http2.max_ping_strikes", 2),
    ]
    if settings.max_connection_age_s:
        options += [
            ("grpc.max_connection_age_ms", int(settings.max_connection_age_s * 1000)),
            ("grpc.max_connection_age_grace_ms", int(settings.max_connection_age_grace_s * 1000)),
        ]
    if settings.max_connection_idle_s:
        options.append(("grpc.max_connection_idle_ms", int(settings.max_connection_idle_s * 1000)))
    return options


@dataclass
class AioRunningServer:
    """A `grpc.aio` server on its own event-loop thread, driven from plain threads:
    `start`, `stop(grace)`, `set_health`, `call` (run a coroutine on the loop)."""

    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    service_names: list[str]
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    limits: ConcurrencyLimits
    on_stop: list[Callable[[], None]] = field(default_factory=list)
    _stopped: threading.Event = field(default_factory=threading.Event)
    _done: threading.Event = field(default_factory=threading.Event)

    def call(self, coro: Any, timeout: float | None = None) -> Any:
        """Run `coro` on the server's loop from another thread and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        self.call(self.server.start())

    def set_health(self, service: str, status: health_pb2.HealthCheckResponse.ServingStatus) -> None:
        """Thread-safe: set the health status of `service` ("" = overall)."""
        if not self._stopped.is_set():
            self.call(self.health.set(service, status))

    def set_serving(self, serving: bool) -> None:
        """Health of every service (and the server, "") SERVING or NOT_SERVING, from
        the application's own checks (ledger reachable, a job worker alive); no-op
        once stopping. Thread-safe."""
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ["", *self.service_names]:
            self.set_health(name, status)

    def stop(self, grace: float) -> None:
        """Health goes NOT_SERVING, in-flight calls get `grace` seconds (then they
        are cancelled), then the background work registered in `on_stop` is stopped
        (the job runner requeues the job it was rendering) and the loop ends."""
        if self._stopped.is_set():
            self._done.wait()
            return
        self._stopped.set()
        try:
            self.call(self.health.enter_graceful_shutdown())
            self.call(self.server.stop(grace))
            for fn in self.on_stop:
                fn()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self._done.set()

    def wait(self) -> None:
        self._done.wait()


def _loop_thread(name: str) -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    ready.wait()
    return loop, thread


def _server_streaming_methods(services: Sequence[Service]) -> list[str]:
    """Full names (`/pkg.Service/Method`) of the services' server-streaming RPCs."""
    pool = descriptor_pool.Default()
    return [
        f"/{svc.full_name}/{m.name}"
        for svc in services
        for m in pool.FindServiceByName(svc.full_name).methods
        if m.server_streaming
    ]


def build_aio_server(
    settings: Settings,
    address: str,
    services: Sequence[Service],
    *,
    limited: dict[str, str] | None = None,
    hooks: Sequence[CallHook] = (log_hook, metrics_hook),
    interceptors_before: Sequence[grpc.aio.ServerInterceptor] = (),
) -> AioRunningServer:
    """The aio server with health (grpc's aio servicer: a Watch is a coroutine
    waiting on a condition, no thread), reflection, TLS, the limits of
    `limited` methods (full name -> "streams" or "watches"), and the interceptor.
    `interceptors_before` run first (e.g. a tracing interceptor)."""
    tune_malloc_for_chunks(settings.stream_chunk_kib * 1024)
    limits = ConcurrencyLimits(
        {
            "streams": Limit(settings.max_streams, settings.max_streams_per_peer),
            "watches": Limit(settings.max_watches, settings.max_watches_per_peer),
        }
    )
    loop, thread = _loop_thread("grpc-aio")

    async def build() -> tuple[grpc.aio.Server, health.aio.HealthServicer, int]:
        interceptor = AioServerInterceptor(
            settings.auth_token,
            settings.admin_token,
            limits=limits,
            limited={"/grpc.health.v1.Health/Watch": "watches", **(limited or {})},
            idle_timeout_s=settings.stream_idle_timeout_s,
            hooks=hooks,
        )
        outer, inner = tracing.aio_server_interceptors(_server_streaming_methods(services))
        server = grpc.aio.server(
            interceptors=[*outer, *interceptors_before, interceptor, *inner],
            options=server_options(settings),
            # A backstop past our own limits; over it gRPC answers RESOURCE_EXHAUSTED
            # without a reason.
            maximum_concurrent_rpcs=settings.max_concurrent_rpcs or None,
        )
        health_servicer = health.aio.HealthServicer()
        # The generated add_* functions and grpc_health's are typed for grpc.Server;
        # they only call add_generic_rpc_handlers, which the aio server has.
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        for svc in services:
            svc.add(svc.servicer, server)  # type: ignore[arg-type]
        names = [svc.full_name for svc in services]
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
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        return server, health_servicer, port

    try:
        server, health_servicer, port = asyncio.run_coroutine_threadsafe(build(), loop).result()
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        raise
    return AioRunningServer(
        server=server,
        port=port,
        health=health_servicer,
        service_names=[svc.full_name for svc in services],
        loop=loop,
        thread=thread,
        limits=limits,
    )


def blocking_pool(max_workers: int) -> concurrent.futures.ThreadPoolExecutor:
    """The threads that run blocking work for aio handlers (ledger reads and writes,
    scans, passes, file reads). Rendering has its own worker threads."""
    return concurrent.futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="rpc-blocking")

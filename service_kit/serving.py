"""Server wiring shared by both services: interceptor, health, reflection, TLS,
and a graceful stop on SIGTERM/SIGINT."""

from __future__ import annotations

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


def build_server(settings: Settings, address: str, services: Sequence[Service], max_workers: int = 64) -> RunningServer:
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

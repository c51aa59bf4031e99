"""Wiring of the render service: the App, its two servicers on a `grpc.aio` server
(its own event-loop thread), the blocking pool, interceptor, limits, health and
reflection."""

from __future__ import annotations

from dataclasses import dataclass

from reels.v1 import reel_admin_service_pb2, reel_admin_service_pb2_grpc, reel_service_pb2, reel_service_pb2_grpc
from render_service.aio_servicers import AioReel, aio_servicers
from render_service.app import App
from render_service.stats import ledger_gauges
from service_kit import metrics, tracing
from service_kit.serving import AioRunningServer, Service, blocking_pool, build_aio_server
from service_kit.settings import Settings

REEL_SERVICE = reel_service_pb2.DESCRIPTOR.services_by_name["ReelService"].full_name
ADMIN_SERVICE = reel_admin_service_pb2.DESCRIPTOR.services_by_name["ReelAdminService"].full_name


@dataclass
class RenderServer:
    """The render service as it runs: the gRPC server and the App behind it. Stopping
    the server (`stop`, or a signal through `serve_until_signal`) stops the App."""

    running: AioRunningServer
    app: App
    native: AioReel

    @property
    def port(self) -> int:
        return self.running.port

    def start(self) -> None:
        """Serve, then start the App's workers and loops (which never wait)."""
        self.running.start()
        self.app.start()
        self.app.watch_health(self.running.set_serving)

    def stop(self, grace: float) -> None:
        self.running.stop(grace)


def create_server(settings: Settings, address: str | None = None, app: App | None = None) -> tuple[RenderServer, int]:
    """Build the server and its App (ledger migrated, libraries registered); the
    caller starts it with `start_server`. Bind port 0 in tests."""
    app = app or App.build(settings)
    tracing.setup_tracing("render_service", settings)
    executor = blocking_pool(settings.grpc_max_workers)
    native = AioReel(app, executor)
    reel, admin = aio_servicers(app, executor, native)
    running = build_aio_server(
        settings,
        address or settings.render_addr,
        [
            Service(REEL_SERVICE, reel_service_pb2_grpc.add_ReelServiceServicer_to_server, reel),
            Service(ADMIN_SERVICE, reel_admin_service_pb2_grpc.add_ReelAdminServiceServicer_to_server, admin),
        ],
        limited={
            f"/{REEL_SERVICE}/StreamReelVideo": "streams",
            f"/{REEL_SERVICE}/WatchReelJob": "watches",
        },
    )
    running.on_stop.append(app.stop)
    metrics.watch_ledger(lambda: ledger_gauges(app.engine, app.store, settings.data_dir))
    if (metrics_server := metrics.serve(settings.metrics_addr, "render")) is not None:
        running.on_stop.append(metrics_server.stop)
    running.on_stop.append(tracing.shutdown)
    running.on_stop.append(lambda: executor.shutdown(wait=False, cancel_futures=True))
    return RenderServer(running, app, native), running.port


def start_server(server: RenderServer) -> None:
    server.start()

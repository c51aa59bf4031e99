"""Wiring of the render service: the App, its two servicers, interceptor, health and
reflection."""

from __future__ import annotations

from dataclasses import dataclass

from reels.v1 import reel_admin_service_pb2, reel_admin_service_pb2_grpc, reel_service_pb2, reel_service_pb2_grpc
from render_service.app import App
from render_service.servicers import ReelAdminServicer, ReelServicer
from service_kit.serving import RunningServer, Service, build_server
from service_kit.settings import Settings

REEL_SERVICE = reel_service_pb2.DESCRIPTOR.services_by_name["ReelService"].full_name
ADMIN_SERVICE = reel_admin_service_pb2.DESCRIPTOR.services_by_name["ReelAdminService"].full_name


@dataclass
class RenderServer:
    """The render service as it runs: the gRPC server and the App behind it. Stopping
    the server (`stop`, or a signal through `serve_until_signal`) stops the App."""

    running: RunningServer
    app: App

    @property
    def port(self) -> int:
        return self.running.port

    def start(self) -> None:
        """Serve, then start the App's workers and loops (which never wait)."""
        self.running.server.start()
        self.app.start()
        self.app.watch_health(self.running.set_serving)

    def stop(self, grace: float) -> None:
        self.running.stop(grace)


def create_server(settings: Settings, address: str | None = None, app: App | None = None) -> tuple[RenderServer, int]:
    """Build the server and its App (ledger migrated, libraries registered); the
    caller starts it with `start_server`. Bind port 0 in tests."""
    app = app or App.build(settings)
    running = build_server(
        settings,
        address or settings.render_addr,
        [
            Service(REEL_SERVICE, reel_service_pb2_grpc.add_ReelServiceServicer_to_server, ReelServicer(app)),
            Service(
                ADMIN_SERVICE,
                reel_admin_service_pb2_grpc.add_ReelAdminServiceServicer_to_server,
                ReelAdminServicer(app),
            ),
        ],
        # Each open stream or job watch holds a thread.
        max_workers=settings.grpc_max_workers,
    )
    running.on_stop.append(app.stop)
    return RenderServer(running, app), running.port


def start_server(server: RenderServer) -> None:
    server.start()

"""Wiring of the scripter service: servicer, interceptor, health, reflection."""

from __future__ import annotations

import grpc
import structlog

from reels.v1 import scripter_service_pb2, scripter_service_pb2_grpc
from reels_core import wire
from scripter_service.generate import ScriptGenerator
from service_kit import metrics, tracing
from service_kit.serving import RunningServer, Service, build_server
from service_kit.settings import Settings

log = structlog.get_logger("scripter")

SERVICE_NAME = scripter_service_pb2.DESCRIPTOR.services_by_name["ScripterService"].full_name


class ScripterServicer(scripter_service_pb2_grpc.ScripterServiceServicer):
    def __init__(self, generator: ScriptGenerator) -> None:
        self._generator = generator

    def GenerateScript(self, request, context: grpc.ServicerContext):  # noqa: N802 (gRPC name)
        req = wire.script_request_from_pb(request)
        remaining = context.time_remaining()
        script = self._generator.generate(req, deadline_s=remaining)
        metrics.scripter_fallback(script.fallback_reason)
        return scripter_service_pb2.GenerateScriptResponse(script=wire.script_to_pb(script))


def create_server(settings: Settings, address: str | None = None) -> tuple[RunningServer, int]:
    """Build (not start) the scripter server; bind port 0 in tests."""
    servicer = ScripterServicer(ScriptGenerator.from_settings(settings))
    tracing.setup_tracing("scripter_service", settings)
    if settings.scripter_token:  # the inter-service token, not the clients' one
        settings = settings.model_copy(update={"auth_token": settings.scripter_token})
    running = build_server(
        settings,
        address or settings.scripter_addr,
        [Service(SERVICE_NAME, scripter_service_pb2_grpc.add_ScripterServiceServicer_to_server, servicer)],
    )
    if (metrics_server := metrics.serve(settings.scripter_metrics_addr, "scripter")) is not None:
        running.on_stop.append(metrics_server.stop)
    running.on_stop.append(tracing.shutdown)
    return running, running.port

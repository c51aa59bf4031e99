"""The render service's side of ScripterService: one call with a deadline, and the
fast script computed in-process when the scripter is down or late."""

from __future__ import annotations

import threading
from dataclasses import replace

import grpc
import structlog

from reels.v1 import scripter_service_pb2_grpc
from reels_core import wire
from reels_core.domain import Script, ScriptRequest
from reels_core.fast_script import fast_script
from service_kit import tracing

log = structlog.get_logger("scripter_client")


class ScripterClient:
    def __init__(self, address: str, timeout_s: float, auth_token: str = "", tls: bool = False) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self._metadata = (("authorization", f"Bearer {auth_token}"),) if auth_token else ()
        self._tls = tls
        self._lock = threading.Lock()
        self._channel: grpc.Channel | None = None
        self._stub: scripter_service_pb2_grpc.ScripterServiceStub | None = None

    def _get_stub(self) -> scripter_service_pb2_grpc.ScripterServiceStub:
        with self._lock:
            if self._stub is None:
                if self._tls:
                    self._channel = grpc.secure_channel(self.address, grpc.ssl_channel_credentials())
                else:
                    self._channel = grpc.insecure_channel(self.address)
                self._stub = scripter_service_pb2_grpc.ScripterServiceStub(tracing.traced_channel(self._channel))
            return self._stub

    def generate(self, req: ScriptRequest, timeout_s: float | None = None) -> Script:
        """The scripter's script, or the fast one with `fallback_reason`
        SCRIPTER_UNAVAILABLE / SCRIPTER_TIMEOUT / SCRIPTER_ERROR."""
        try:
            response = self._get_stub().GenerateScript(
                wire.script_request_to_pb(req),
                timeout=timeout_s or self.timeout_s,
                metadata=self._metadata,
            )
            return wire.script_from_pb(response.script)
        except grpc.RpcError as err:
            code = err.code() if hasattr(err, "code") else None
            reasons: dict[grpc.StatusCode | None, str] = {
                grpc.StatusCode.UNAVAILABLE: "SCRIPTER_UNAVAILABLE",
                grpc.StatusCode.DEADLINE_EXCEEDED: "SCRIPTER_TIMEOUT",
            }
            reason = reasons.get(code, "SCRIPTER_ERROR")
            log.warning("scripter fallback", reason=reason, code=getattr(code, "name", str(code)))
            return replace(fast_script(req), fallback_reason=reason)

    def close(self) -> None:
        with self._lock:
            if self._channel is not None:
                self._channel.close()
            self._channel = self._stub = None

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
from reels_core.script_limits import ScriptLimits, script_problem
from service_kit import tracing

log = structlog.get_logger("scripter_client")


class ScripterClient:
    def __init__(
        self,
        address: str,
        timeout_s: float,
        token: str = "",
        tls: bool = False,
        ca_pem: bytes | None = None,
        limits: ScriptLimits | None = None,
    ) -> None:
        """``token`` is the inter-service token (REEL_SCRIPTER_TOKEN), never the
        client-facing one; ``ca_pem`` the CA that signs the scripter's certificate
        (a private CA), which turns TLS on; ``limits`` what a script from the peer
        may hold (the scripter's own limits)."""
        self.address = address
        self.timeout_s = timeout_s
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._tls = tls or ca_pem is not None
        self._ca_pem = ca_pem
        self.limits = limits or ScriptLimits()
        self._lock = threading.Lock()
        self._channel: grpc.Channel | None = None
        self._stub: scripter_service_pb2_grpc.ScripterServiceStub | None = None

    def _get_stub(self) -> scripter_service_pb2_grpc.ScripterServiceStub:
        with self._lock:
            if self._stub is None:
                if self._tls:
                    self._channel = grpc.secure_channel(
                        self.address, grpc.ssl_channel_credentials(root_certificates=self._ca_pem)
                    )
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
            script = wire.script_from_pb(response.script)
        except grpc.RpcError as err:
            code = err.code() if hasattr(err, "code") else None
            reasons: dict[grpc.StatusCode | None, str] = {
                grpc.StatusCode.UNAVAILABLE: "SCRIPTER_UNAVAILABLE",
                grpc.StatusCode.DEADLINE_EXCEEDED: "SCRIPTER_TIMEOUT",
            }
            reason = reasons.get(code, "SCRIPTER_ERROR")
            log.warning("scripter fallback", reason=reason, code=getattr(code, "name", str(code)))
            return replace(fast_script(req), fallback_reason=reason)
        except (ValueError, KeyError):  # a script the wire mapping refuses
            log.warning("scripter fallback", reason="SCRIPT_INVALID", problem="unreadable script")
            return replace(fast_script(req), fallback_reason="SCRIPT_INVALID")
        problem = script_problem(script, req, self.limits)
        if problem:
            # The render side trusts no peer: a 1e6 s shot would make the music
            # allocate hundreds of GB, a zero duration divides by zero.
            log.warning("scripter fallback", reason="SCRIPT_INVALID", problem=problem)
            return replace(fast_script(req), fallback_reason="SCRIPT_INVALID")
        return script

    def close(self) -> None:
        with self._lock:
            if self._channel is not None:
                self._channel.close()
            self._channel = self._stub = None

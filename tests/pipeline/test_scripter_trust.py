"""The render service trusts no scripter (issue 14, finding 9): every script is
checked against the scripter's own limits (else the fast script, SCRIPT_INVALID),
the peer gets the inter-service token (never the client-facing one), and a private
CA can sign the scripter's certificate."""

from __future__ import annotations

import datetime as dt
from concurrent import futures
from dataclasses import replace
from pathlib import Path

import grpc
import pytest

from reels.v1 import scripter_service_pb2, scripter_service_pb2_grpc
from reels_core import wire
from reels_core.domain import Candidate, Kind, MediaKind, Mode, Script, ScriptRequest, Shot, Span
from reels_core.fast_script import fast_script
from reels_core.script_limits import script_problem
from reels_core.windows import window_for
from render_service.scripter_client import ScripterClient
from tests.foundation.test_access import _self_signed

ANCHOR = dt.date(2026, 11, 28)


def request() -> ScriptRequest:
    taken = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
    candidates = tuple(Candidate(f"m{i}", MediaKind.PHOTO, taken + dt.timedelta(minutes=i), 640, 480) for i in range(4))
    return ScriptRequest("lib", window_for(Span.DAY, Kind.RECAP, ANCHOR), "UTC", Mode.FAST, candidates)


def with_shots(script: Script, **changes) -> Script:
    return replace(script, shots=[replace(script.shots[0], **changes), *script.shots[1:]])


@pytest.mark.parametrize(
    "change",
    [
        {"duration_s": 1e6},  # the music synthesiser would allocate hundreds of GB
        {"duration_s": 0.0},  # divided by zero when a bad shot's time was shared out
        {"duration_s": float("nan")},
        {"caption": "x" * 81},
        {"media_id": "not-a-candidate"},
    ],
)
def test_a_script_beyond_the_limits_is_refused(change) -> None:
    good = fast_script(request())
    assert script_problem(good, request()) == ""
    assert script_problem(with_shots(good, **change), request()) != ""


def test_too_many_shots_are_refused() -> None:
    good = fast_script(request())
    many = replace(good, shots=[Shot("m0", 1.0)] * 21)
    assert "at most 20" in script_problem(many, request())


class _Scripter(scripter_service_pb2_grpc.ScripterServiceServicer):
    def __init__(self, script: Script | None = None) -> None:
        self.script = script
        self.metadata: list[dict[str, str]] = []

    def GenerateScript(self, request, context):  # noqa: N802 (gRPC name)
        self.metadata.append(dict(context.invocation_metadata()))
        req = wire.script_request_from_pb(request)
        script = self.script or replace(fast_script(req), title="from the scripter")
        return scripter_service_pb2.GenerateScriptResponse(script=wire.script_to_pb(script))


def serve(servicer, creds: grpc.ServerCredentials | None = None) -> tuple[grpc.Server, int]:
    server = grpc.server(futures.ThreadPoolExecutor(2))
    scripter_service_pb2_grpc.add_ScripterServiceServicer_to_server(servicer, server)
    address = "localhost:0" if creds else "127.0.0.1:0"
    port = server.add_secure_port(address, creds) if creds else server.add_insecure_port(address)
    server.start()
    return server, port


def test_an_oversized_script_from_the_peer_falls_back_to_the_fast_script() -> None:
    hostile = with_shots(fast_script(request()), duration_s=1e6)
    server, port = serve(_Scripter(hostile))
    client = ScripterClient(f"127.0.0.1:{port}", 5.0)
    try:
        script = client.generate(request())
    finally:
        client.close()
        server.stop(0)
    assert script.fallback_reason == "SCRIPT_INVALID"
    assert max(s.duration_s for s in script.shots) < 60


def test_the_scripter_gets_the_inter_service_token() -> None:
    scripter = _Scripter()
    server, port = serve(scripter)
    client = ScripterClient(f"127.0.0.1:{port}", 5.0, token="inter-service")
    try:
        script = client.generate(request())
    finally:
        client.close()
        server.stop(0)
    assert script.title == "from the scripter" and script.fallback_reason == ""
    assert scripter.metadata[0]["authorization"] == "Bearer inter-service"


def test_a_private_ca_signs_the_scripter(tmp_path: Path) -> None:
    """Without the CA, every call silently fell back to FAST (public CAs only)."""
    cert, key = _self_signed(tmp_path)  # its own CA: a private one
    creds = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    server, port = serve(_Scripter(), creds)
    trusted = ScripterClient(f"localhost:{port}", 5.0, ca_pem=cert.read_bytes())
    public_only = ScripterClient(f"localhost:{port}", 5.0, tls=True)
    try:
        assert trusted.generate(request()).title == "from the scripter"
        assert public_only.generate(request()).fallback_reason == "SCRIPTER_UNAVAILABLE"
    finally:
        trusted.close()
        public_only.close()
        server.stop(0)

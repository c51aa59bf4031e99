"""ScripterService.GenerateScript in process (grpc_testing, no sockets): every
INVALID_ARGUMENT reason of the request mapping, with the ErrorInfo a caller sees,
and a valid request answered. The agentic script over a real server is in
test_agentic_grpc.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import grpc
import pytest

from reels.v1 import common_pb2, scripter_service_pb2
from reels_core import wire
from reels_core.domain import MAX_TARGET_S, MIN_TARGET_S, Candidate, Kind, MediaKind, Mode, ScriptRequest, Span, Window
from scripter_service.generate import ScriptGenerator
from scripter_service.server import ScripterServicer
from tests.conftest import error_reason, make_settings
from tests.inprocess import InProcessStub, serve_in_process

SERVICE = scripter_service_pb2.DESCRIPTOR.services_by_name["ScripterService"]
ANCHOR = dt.date(2024, 6, 2)
NOON = dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def scripter(tmp_path_factory: pytest.TempPathFactory) -> InProcessStub:
    settings = make_settings(tmp_path_factory.mktemp("scripter") / "data")
    servicer = ScripterServicer(ScriptGenerator.from_settings(settings))
    return InProcessStub(serve_in_process({SERVICE: servicer}), SERVICE)


def valid_request() -> scripter_service_pb2.GenerateScriptRequest:
    """A FAST request over three photos of the day before the anchor."""
    candidates = tuple(
        Candidate(f"m{i}", MediaKind.PHOTO, NOON + dt.timedelta(hours=i), 1920, 1080, rel_path=f"p{i}.jpg")
        for i in range(3)
    )
    window = Window(Span.DAY, Kind.RECAP, ANCHOR, ((ANCHOR - dt.timedelta(days=1), ANCHOR),))
    request = ScriptRequest("sample", window, "UTC", Mode.FAST, candidates, target_duration_s=12.0, max_shots=3)
    return wire.script_request_to_pb(request)


def test_a_valid_request_gets_a_fast_script(scripter):
    request = valid_request()
    script = scripter.GenerateScript(request).script
    assert script.mode_used == common_pb2.SCRIPT_MODE_FAST and script.fallback_reason == ""
    assert 0 < len(script.shots) <= 3 and {s.media_id for s in script.shots} <= {c.media_id for c in request.candidates}


def _set(name: str, value: object) -> Callable[[scripter_service_pb2.GenerateScriptRequest], None]:
    return lambda r: setattr(r, name, value)


def _swap_range(r: scripter_service_pb2.GenerateScriptRequest) -> None:
    rng = r.window.ranges[0]
    start = type(rng.start_date)()
    start.CopyFrom(rng.start_date)
    rng.start_date.CopyFrom(rng.end_date)
    rng.end_date.CopyFrom(start)


@pytest.mark.parametrize(
    "change, reason",
    [
        pytest.param(_set("span", common_pb2.SPAN_UNSPECIFIED), "SPAN_INVALID", id="span-unspecified"),
        pytest.param(_set("kind", common_pb2.REEL_KIND_UNSPECIFIED), "KIND_INVALID", id="kind-unspecified"),
        pytest.param(_set("mode", 99), "MODE_INVALID", id="mode-unknown"),
        pytest.param(lambda r: r.ClearField("candidates"), "NO_CANDIDATES", id="no-candidates"),
        pytest.param(lambda r: setattr(r.candidates[1], "media_id", ""), "CANDIDATE_INVALID", id="no-media-id"),
        pytest.param(_set("target_duration_seconds", MIN_TARGET_S - 0.5), "DURATION_OUT_OF_RANGE", id="too-short"),
        pytest.param(_set("target_duration_seconds", MAX_TARGET_S + 0.5), "DURATION_OUT_OF_RANGE", id="too-long"),
        pytest.param(_set("max_shots", -1), "MAX_SHOTS_INVALID", id="max-shots-negative"),
        pytest.param(lambda r: r.window.ClearField("ranges"), "WINDOW_INVALID", id="no-ranges"),
        pytest.param(lambda r: r.window.ClearField("anchor_date"), "WINDOW_INVALID", id="no-anchor"),
        pytest.param(_swap_range, "WINDOW_INVALID", id="range-reversed"),
        pytest.param(lambda r: setattr(r.window.ranges[0].start_date, "month", 13), "DATE_INVALID", id="month-13"),
        pytest.param(lambda r: setattr(r.window.anchor_date, "day", 31), "DATE_INVALID", id="june-31"),
    ],
)
def test_generate_script_validation(scripter, change, reason):
    request = valid_request()
    change(request)
    with pytest.raises(grpc.RpcError) as err:
        scripter.GenerateScript(request)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(err.value) == reason


def test_unset_duration_and_shots_take_the_defaults(scripter):
    request = valid_request()
    request.target_duration_seconds = 0
    request.max_shots = 0
    assert scripter.GenerateScript(request).script.shots

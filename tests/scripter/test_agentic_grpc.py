"""End to end: the real scripter server on port 0, called over gRPC in AGENTIC mode,
with the sample library's candidates and context pack and a scripted LLM."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc

from reels.v1 import common_pb2, scripter_service_pb2_grpc
from reels_core import wire
from scripter_service.agentic import LLM_NOT_CONFIGURED
from scripter_service.server import create_server
from tests.conftest import make_settings
from tests.scripter.agentic_helpers import PICNIC_UID, birthday_request, cite_event_and_place, day_range
from tests.scripter.fake_llm import FakeLLM, tool_calls


@contextmanager
def scripter(data_dir: Path, **env: str) -> Iterator[scripter_service_pb2_grpc.ScripterServiceStub]:
    running, port = create_server(make_settings(data_dir, **env), "127.0.0.1:0")
    running.server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield scripter_service_pb2_grpc.ScripterServiceStub(channel)
    finally:
        channel.close()
        running.stop(1)


def test_agentic_script_over_grpc_is_grounded(sample_library_src: Path, tmp_path: Path) -> None:
    req = birthday_request(sample_library_src)
    with (
        FakeLLM(
            [
                tool_calls(("calendar_events", day_range(req)), ("locations", day_range(req))),
                cite_event_and_place(req),
            ]
        ) as fake,
        scripter(
            tmp_path / "data",
            REEL_LLM_BASE_URL=fake.base_url,
            REEL_LLM_MODEL="fake-model",
            REEL_LIBRARIES=f"sample={sample_library_src}",
        ) as stub,
    ):
        response = stub.GenerateScript(wire.script_request_to_pb(req), timeout=20)

    script = response.script
    assert script.mode_used == common_pb2.SCRIPT_MODE_AGENTIC and script.fallback_reason == ""
    assert script.shots[0].caption == "Birthday picnic in the park"
    assert {s.media_id for s in script.shots} <= {c.media_id for c in req.candidates}
    grounding = {g.source_id: g for g in script.grounding}
    picnic = grounding[PICNIC_UID]
    assert (picnic.kind, picnic.label, list(picnic.supports_shots)) == ("event", "Birthday picnic", [0])
    assert any(g.kind == "place" and g.label.startswith("Lyon") for g in script.grounding)
    assert PICNIC_UID in script.narration[0].source_ids
    assert len(fake.requests) == 2
    # The notes index (and any other derived file) lives under the data dir, never in the library.
    assert not (sample_library_src / ".reels-context" / "notes-index").exists()


def test_without_an_llm_the_fast_script_says_why(sample_library_src: Path, tmp_path: Path) -> None:
    req = birthday_request(sample_library_src)
    with scripter(tmp_path / "data", REEL_LIBRARIES=f"sample={sample_library_src}") as stub:
        response = stub.GenerateScript(wire.script_request_to_pb(req), timeout=20)
    script = response.script
    assert script.mode_used == common_pb2.SCRIPT_MODE_FAST
    assert script.fallback_reason == LLM_NOT_CONFIGURED
    assert len(script.shots) > 0 and not any(g.kind == "event" for g in script.grounding)

"""The agentic scripter against a scripted OpenAI-compatible server on loopback.

Every test runs the real ``openai`` client over HTTP to ``FakeLLM`` and the real
tools over the sample library's context pack (``scripts/make_sample.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from reels_core.domain import CAPTION_MAX_CHARS, Mode
from reels_core.fast_script import fast_script
from scripter_service.agentic import (
    FINAL_TURN,
    INVALID_SCRIPT,
    LLM_NOT_CONFIGURED,
    LLM_TIMEOUT,
    LLM_UNAVAILABLE,
    TOOL_BUDGET_EXCEEDED,
)
from scripter_service.generate import ScriptGenerator
from scripter_service.llm import LLMConfig
from scripter_service.tools.registry import TOOL_NOT_ALLOWED, Tool, default_registry
from tests.conftest import free_port
from tests.scripter.agentic_helpers import (
    PARIS,
    PICNIC_UID,
    birthday_request,
    candidate_place_id,
    cite_event_and_place,
    day_range,
    grounded_answer,
    place_answer,
)
from tests.scripter.fake_llm import FakeLLM, answer, garbage, hang, http_error, tool_calls, tool_results

READ_ONLY_TOOLS = {"calendar_events", "locations", "messages", "search_notes", "media_details"}


def generator(
    library: Path, tmp_path: Path, base_url: str, timeout_s: float = 5.0, max_steps: int = 8
) -> ScriptGenerator:
    return ScriptGenerator(
        llm_config=LLMConfig(base_url=base_url, model="fake-model", api_key="sk-test", timeout_s=timeout_s),
        libraries={"sample": library},
        cache_dir=tmp_path / "cache" / "notes-index",
        max_steps=max_steps,
    )


@pytest.fixture
def library(sample_library_src: Path) -> Path:
    return sample_library_src


# --------------------------------------------------------------------------- the good run


def test_calendar_and_location_tools_ground_the_captions(library: Path, tmp_path: Path) -> None:
    req = birthday_request(library)
    with FakeLLM(
        [
            tool_calls(("calendar_events", day_range(req)), ("locations", day_range(req))),
            cite_event_and_place(req),
        ]
    ) as fake:
        script = generator(library, tmp_path, fake.base_url).generate(req, deadline_s=20)

    assert script.mode_used is Mode.AGENTIC and script.fallback_reason == ""
    assert script.shots[0].caption == "Birthday picnic in the park"
    assert script.title == "Birthday picnic in Lyon"
    by_id = {g.source_id: g for g in script.grounding}
    assert by_id[PICNIC_UID].kind == "event" and by_id[PICNIC_UID].label == "Birthday picnic"
    assert by_id[PICNIC_UID].supports_shots == [0]
    (place,) = [g for g in script.grounding if g.kind == "place"]
    assert place.source_id.startswith("place:lyon") and place.label.startswith("Lyon") and place.supports_shots == [0]
    assert script.narration[0].source_ids == [PICNIC_UID]
    assert (script.mood, script.music_style) == ("uplifting", "acoustic")
    assert abs(script.duration_s - 20.0) <= 2.0

    # Two requests: both tools in one turn, then the answer.
    assert len(fake.requests) == 2
    first = fake.requests[0]
    assert first["model"] == "fake-model"
    assert {t["function"]["name"] for t in first["tools"]} == READ_ONLY_TOOLS
    assert fake.headers[0].get("authorization") == "Bearer sk-test"
    user = first["messages"][1]["content"]
    assert all(c.media_id in user for c in req.candidates)
    assert "France" in user and candidate_place_id(req) in user
    results = tool_results(fake.requests[1])
    assert len(results) == 2
    assert any(e.get("uid") == PICNIC_UID for e in results[0]["results"])
    assert results[1]["results"] and all(s["label"] in ("home", "trip") for s in results[1]["results"])


def test_tool_arguments_are_clamped_to_the_window(library: Path, tmp_path: Path) -> None:
    req = birthday_request(library)
    decades = {"start": "1900-01-01T00:00:00+01:00", "end": "2200-01-01T00:00:00+01:00"}  # around any window
    place_only = place_answer(req)
    with FakeLLM([tool_calls(("messages", decades)), answer(place_only)]) as fake:
        script = generator(library, tmp_path, fake.base_url).generate(req, deadline_s=20)
    assert script.mode_used is Mode.AGENTIC
    result = tool_results(fake.requests[1])[0]
    assert result["clamped"] is True
    day_before = req.window.start - dt.timedelta(days=1)  # the window less the 24 h tool margin
    assert result["range"]["start"] == dt.datetime.combine(day_before, dt.time(), tzinfo=PARIS).isoformat()
    texts = [m["text"] for m in result["results"]]
    assert any("picnic" in t.lower() for t in texts)  # the birthday's messages ...
    assert not any("Kyoto" in t or "Fushimi" in t or "Nice" in t for t in texts)  # ... and no other trip's
    assert all(m["source_id"] == m["id"] for m in result["results"])


# --------------------------------------------------------------------------- the gate


def test_a_tool_outside_the_gate_is_refused_and_the_loop_goes_on(library: Path, tmp_path: Path) -> None:
    req = birthday_request(library)
    written: list[dict] = []
    gen = generator(library, tmp_path, "http://unused")
    registry = default_registry(library / ".reels-context", "Europe/Paris", tmp_path / "cache")
    registry.register(
        Tool(
            "write_note", "Write a note.", {"type": "object", "properties": {}}, False, lambda a, ctx: written.append(a)
        )
    )
    gen._registries[(str(library / ".reels-context"), req.timezone)] = registry
    with FakeLLM(
        [
            tool_calls(
                ("write_note", {"text": "x"}),
                ("delete_everything", {}),
                ("calendar_events", day_range(req)),
                ("locations", day_range(req)),
            ),
            cite_event_and_place(req),
        ]
    ) as fake:
        gen.llm_config = LLMConfig(fake.base_url, "fake-model", "", 5.0)
        script = gen.generate(req, deadline_s=20)

    assert script.mode_used is Mode.AGENTIC
    assert written == []  # the write tool never ran
    assert "write_note" not in {t["function"]["name"] for t in fake.requests[0]["tools"]}
    results = tool_results(fake.requests[1])
    assert results[0] == {"error": TOOL_NOT_ALLOWED} and results[1] == {"error": TOOL_NOT_ALLOWED}
    assert "results" in results[2] and "results" in results[3]
    # Every tool call got its answer, matched by id.
    tool_msgs = [m for m in fake.requests[1]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_msgs] == ["call_0", "call_1", "call_2", "call_3"]


def test_nothing_is_written_into_the_library(library: Path, tmp_path: Path) -> None:
    def tree() -> dict[str, tuple[int, int]]:
        return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in library.rglob("*")}

    before = tree()
    req = birthday_request(library)
    with FakeLLM(
        [
            tool_calls(
                ("search_notes", {"query": "picnic birthday"}),
                ("messages", day_range(req)),
                ("calendar_events", day_range(req)),
                ("locations", day_range(req)),
            ),
            cite_event_and_place(req),
        ]
    ) as fake:
        script = generator(library, tmp_path, fake.base_url).generate(req, deadline_s=20)
    assert script.mode_used is Mode.AGENTIC
    assert tree() == before
    assert list((tmp_path / "cache" / "notes-index").glob("notes-*.sqlite"))  # the index went to the cache


# --------------------------------------------------------------------------- failure modes


def test_not_configured_gives_the_fast_script(library: Path, tmp_path: Path) -> None:
    req = birthday_request(library)
    script = ScriptGenerator(libraries={"sample": library}).generate(req, deadline_s=5)
    assert (script.mode_used, script.fallback_reason) == (Mode.FAST, LLM_NOT_CONFIGURED)
    assert [s.media_id for s in script.shots] == [s.media_id for s in fast_script(req).shots]


def test_http_error_is_unavailable_without_retries(library: Path, tmp_path: Path) -> None:
    req = birthday_request(library)
    with FakeLLM([http_error(500)]) as fake:
        script = generator(library, tmp_path, fake.base_url).generate(req, deadline_s=20)
    assert (script.mode_used, script.fallback_reason) == (Mode.FAST, LLM_UNAVAILABLE)
    assert len(fake.requests) == 1  # max_retries=0


def test_garbage_body_is_unavailable(library: Path, tmp_path: Path) -> None:
    req = birthday_request(library)
    with FakeLLM([garbage()]) as fake:
        script = generator(library, tmp_path, fake.base_url).generate(req, deadline_s=20)
    assert script.fallback_reason == LLM_UNAVAILABLE and len(fake.requests) == 1


def test_connection_refused_is_unavailable(library: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    script = generator(library, tmp_path, url).generate(birthday_request(library), deadline_s=20)
    assert script.fallback_reason == LLM_UNAVAILABLE


def test_a_hung_llm_times_out_per_call(library: Path, tmp_path: Path) -> None:
    req = birthday_request(library)
    with FakeLLM([hang()]) as fake:
        began = time.monotonic()
        script = generator(library, tmp_path, fake.base_url, timeout_s=0.3).generate(req, deadline_s=20)
        elapsed = time.monotonic() - began
    assert (script.mode_used, script.fallback_reason) == (Mode.FAST, LLM_TIMEOUT)
    assert elapsed < 3.0 and len(fake.requests) == 1


def test_the_grpc_deadline_bounds_the_whole_run(library: Path, tmp_path: Path) -> None:
    req = birthday_request(library)
    with FakeLLM([hang()]) as fake:
        began = time.monotonic()
        script = generator(library, tmp_path, fake.base_url, timeout_s=30).generate(req, deadline_s=1.6)
        elapsed = time.monotonic() - began
    assert script.fallback_reason == LLM_TIMEOUT
    assert elapsed < 1.6  # the fallback answered before the caller's deadline


def test_no_time_left_skips_the_llm(library: Path, tmp_path: Path) -> None:
    with FakeLLM([hang()]) as fake:
        script = generator(library, tmp_path, fake.base_url).generate(birthday_request(library), deadline_s=0.5)
    assert script.fallback_reason == LLM_TIMEOUT and fake.requests == []


def test_the_step_budget_is_never_exceeded(library: Path, tmp_path: Path) -> None:
    req = birthday_request(library)
    with FakeLLM([tool_calls(("calendar_events", day_range(req)))]) as fake:  # tools, for ever
        script = generator(library, tmp_path, fake.base_url, max_steps=3).generate(req, deadline_s=20)
    assert (script.mode_used, script.fallback_reason) == (Mode.FAST, TOOL_BUDGET_EXCEEDED)
    assert len(fake.requests) == 3
    last = fake.requests[-1]
    assert last.get("tool_choice") == "none" and last["messages"][-1]["content"] == FINAL_TURN
    assert all(r.get("tool_choice") is None for r in fake.requests[:-1])


def _long_caption(req):
    a = place_answer(req)
    a["shots"][1]["caption"] = "x" * (CAPTION_MAX_CHARS + 1)
    return a


def _unknown_media(req):
    a = place_answer(req)
    a["shots"][0]["media_id"] = "not-a-candidate"
    return a


def _durations_off(req):
    a = place_answer(req)
    for shot in a["shots"]:
        shot["duration_s"] *= 1.2
    return a


def _invented_source(req):
    return grounded_answer(req, {"summary": "Picnic", "source_id": "msg-9999"}, candidate_place_id(req))


@pytest.mark.parametrize(
    "make",
    [
        lambda req: "Here is a lovely reel about your day!",
        _long_caption,
        _unknown_media,
        _durations_off,
        _invented_source,
    ],
    ids=["not-json", "caption-too-long", "unknown-media", "durations-off-target", "invented-source"],
)
def test_an_invalid_script_gets_one_repair_then_falls_back(library: Path, tmp_path: Path, make) -> None:
    req = birthday_request(library)
    with FakeLLM([answer(make(req))]) as fake:
        script = generator(library, tmp_path, fake.base_url).generate(req, deadline_s=20)
    assert (script.mode_used, script.fallback_reason) == (Mode.FAST, INVALID_SCRIPT)
    assert len(fake.requests) == 2  # the answer, one repair
    assert fake.requests[1]["messages"][-1]["role"] == "user"  # the reason, for the model


def test_a_repaired_script_is_taken(library: Path, tmp_path: Path) -> None:
    req = birthday_request(library)
    with FakeLLM(
        [
            tool_calls(("calendar_events", day_range(req)), ("locations", day_range(req))),
            answer(_durations_off(req)),
            cite_event_and_place(req),
        ]
    ) as fake:
        script = generator(library, tmp_path, fake.base_url).generate(req, deadline_s=20)
    assert script.mode_used is Mode.AGENTIC and len(fake.requests) == 3
    assert "must add up to 20" in fake.requests[2]["messages"][-1]["content"]


def test_fenced_json_and_out_of_vocabulary_style(library: Path, tmp_path: Path) -> None:
    req = birthday_request(library)
    draft = fast_script(req)
    body = place_answer(req, mood="melancholic", music_style="Piano")
    with FakeLLM([answer("```json\n" + json.dumps(body) + "\n```")]) as fake:
        script = generator(library, tmp_path, fake.base_url).generate(req, deadline_s=20)
    assert script.mode_used is Mode.AGENTIC
    assert script.mood == draft.mood  # not a MOODS word: the fast choice
    assert script.music_style == "piano"

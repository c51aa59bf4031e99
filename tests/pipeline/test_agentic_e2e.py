"""AGENTIC reels through the whole stack: CreateReel -> render service -> scripter
-> a scripted OpenAI-compatible server on loopback -> rendered reel whose sidecar
(GetReel) carries the grounded captions and their sources; a broken LLM still gives
a rendered reel with the fast script and the reason."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from reels.v1 import common_pb2
from reels.v1 import reel_service_pb2 as pb2
from reels_core import clock
from tests.conftest import start_stack, stop_stack, wait_scanned
from tests.pipeline.conftest import create_and_wait
from tests.scripter.fake_llm import FakeLLM, Reply, answer, http_error, tool_calls, tool_results

PICNIC_UID = "picnic-park@sample.reels"
TZ = "Europe/Paris"


def _day_range() -> dict[str, str]:
    from zoneinfo import ZoneInfo

    today = clock.today(TZ)
    start = dt.datetime.combine(today - dt.timedelta(days=1), dt.time(), tzinfo=ZoneInfo(TZ))
    return {"start": start.isoformat(), "end": (start + dt.timedelta(days=1)).isoformat()}


def _grounded_reply(body: dict[str, Any], _fake: FakeLLM) -> Reply:
    """Answer from what the tools returned: the picnic event, a place, the media."""
    results = tool_results(body)
    items = [item for r in results for item in r.get("results", [])]
    event = next(i for i in items if i.get("summary") == "Birthday picnic")
    place = next(i for i in items if str(i.get("source_id", "")).startswith("place:"))
    media = [i for i in items if "media_id" in i and i.get("kind") == "PHOTO"][:4]
    per = round(10.0 / len(media), 3)
    shots = [
        {
            "media_id": m["media_id"],
            "duration_s": per,
            "caption": f"Moment {n + 1}",
            "motion": "zoom_in",
            "transition": "crossfade",
            "source_ids": [],
        }
        for n, m in enumerate(media)
    ]
    shots[-1]["duration_s"] = round(10.0 - per * (len(media) - 1), 3)
    shots[0]["caption"] = "Léa's birthday picnic in the park"
    shots[0]["source_ids"] = [event["source_id"], place["source_id"]]
    return answer(
        {
            "title": "Léa's birthday picnic",
            "subtitle": "A day in Lyon",
            "mood": "uplifting",
            "music_style": "acoustic",
            "shots": shots,
            "narration": [
                {"text": "A picnic for Léa", "start_s": 0.5, "end_s": 4.0, "source_ids": [event["source_id"]]}
            ],
        }
    )


@pytest.fixture
def agentic_stack(tmp_path, sample_library):
    def start(script):
        fake = FakeLLM(script).__enter__()
        stack = start_stack(
            tmp_path / "d",
            libraries=f"sample={sample_library}",
            REEL_TIMEZONE=TZ,
            REEL_LLM_BASE_URL=fake.base_url,
            REEL_LLM_MODEL="fake-model",
        )
        wait_scanned(stack, "sample")
        started.append((fake, stack))
        return fake, stack

    started: list = []
    # Paris is an hour or two ahead of UTC: pin the clock at noon of the sample's own
    # day there, so that "yesterday" is the picnic whatever the hour of the run.
    from zoneinfo import ZoneInfo

    from tests.scripter.agentic_helpers import sample_today

    with clock.pinned(dt.datetime.combine(sample_today(sample_library), dt.time(12), tzinfo=ZoneInfo(TZ))):
        yield start
        for fake, stack in started:
            stop_stack(stack)
            fake.__exit__(None, None, None)


def test_grounded_captions_reach_the_rendered_reel(agentic_stack, capsys):
    fake, stack = agentic_stack(
        [
            tool_calls(("calendar_events", _day_range()), ("locations", _day_range()), ("media_details", {})),
            _grounded_reply,
        ]
    )
    job = create_and_wait(
        stack,
        library="sample",
        span=common_pb2.SPAN_DAY,
        kind=common_pb2.REEL_KIND_RECAP,
        mode=common_pb2.SCRIPT_MODE_AGENTIC,
    )
    assert job.state == pb2.JOB_STATE_SUCCEEDED and job.reason == ""
    reel = stack.reels.GetReel(pb2.GetReelRequest(key=job.reel_key))
    assert reel.script.mode_used == common_pb2.SCRIPT_MODE_AGENTIC
    assert reel.script.shots[0].caption == "Léa's birthday picnic in the park"
    picnic = next(g for g in reel.script.grounding if g.source_id == PICNIC_UID)
    assert picnic.kind == "event" and list(picnic.supports_shots) == [0]
    assert PICNIC_UID in reel.script.narration[0].source_ids
    assert [m.media_id for m in reel.media] == [s.media_id for s in reel.script.shots]
    assert len(fake.requests) == 2
    logs = capsys.readouterr()
    assert "Léa" not in logs.out + logs.err and "picnic" not in (logs.out + logs.err).lower()


def test_broken_llm_still_renders_the_fast_script(agentic_stack):
    _fake, stack = agentic_stack([http_error(500)])
    job = create_and_wait(
        stack,
        library="sample",
        span=common_pb2.SPAN_DAY,
        kind=common_pb2.REEL_KIND_RECAP,
        mode=common_pb2.SCRIPT_MODE_AGENTIC,
    )
    assert job.state == pb2.JOB_STATE_SUCCEEDED and job.reason == "LLM_UNAVAILABLE"
    reel = stack.reels.GetReel(pb2.GetReelRequest(key=job.reel_key))
    assert reel.script.mode_used == common_pb2.SCRIPT_MODE_FAST and reel.script.fallback_reason == "LLM_UNAVAILABLE"
    assert reel.stats.frames > 0

"""Shared set-up of the agentic tests: a request over the sample library's birthday
(yesterday, RECAP DAY) and a model answer built from the fast draft."""

from __future__ import annotations

import datetime as dt
import functools
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reels_core import places
from reels_core.domain import Candidate, Kind, Mode, ScriptRequest, Span, Window
from reels_core.fast_script import fast_script
from render_service.media_index import scan_library
from scripter_service.prompt import place_source_id
from tests.scripter.fake_llm import FakeLLM, Reply, answer, tool_results

TZ_NAME = "Europe/Paris"
PARIS = ZoneInfo(TZ_NAME)
PICNIC_UID = "picnic-park@sample.reels"  # scripts/make_sample.py: the birthday picnic


def sample_today(library: Path) -> dt.date:
    """The anchor the sample library was built for (its marker file)."""
    return dt.date.fromisoformat(json.loads((library / ".sample.json").read_text())["today"])


@functools.lru_cache(maxsize=4)
def birthday_candidates(library: Path) -> tuple[Candidate, ...]:
    """Every item of the sample library taken yesterday (library time zone)."""
    yesterday = sample_today(library) - dt.timedelta(days=1)
    items = [m.as_candidate() for m in scan_library(library, TZ_NAME).items]
    return tuple(c for c in items if c.taken_at.astimezone(PARIS).date() == yesterday)


def birthday_request(library: Path, mode: Mode = Mode.AGENTIC, **kw: Any) -> ScriptRequest:
    today = sample_today(library)
    window = Window(Span.DAY, Kind.RECAP, today, ((today - dt.timedelta(days=1), today),))
    defaults: dict[str, Any] = {
        "library": "sample",
        "window": window,
        "timezone": TZ_NAME,
        "mode": mode,
        "candidates": birthday_candidates(library),
        "target_duration_s": 20.0,
        "max_shots": 6,
        "seed": 7,
    }
    return ScriptRequest(**{**defaults, **kw})


def candidate_place_id(req: ScriptRequest) -> str:
    """The place source id of the first candidate with GPS (one the model may cite)."""
    c = next(c for c in req.candidates if c.lat is not None)
    found = places.place(c.lat, c.lon)
    assert found is not None
    return place_source_id(found)


def day_range(req: ScriptRequest) -> dict[str, str]:
    start, end = req.window.ranges[0]
    return {
        "start": dt.datetime.combine(start, dt.time(), tzinfo=PARIS).isoformat(),
        "end": dt.datetime.combine(end, dt.time(), tzinfo=PARIS).isoformat(),
    }


def grounded_answer(req: ScriptRequest, event: dict[str, Any], place_id: str, **overrides: Any) -> dict[str, Any]:
    """The fast draft's shots and durations, the first caption naming ``event`` and
    citing it (and ``place_id``), and a narration line citing the event."""
    draft = fast_script(req)
    shots = [
        {
            "media_id": s.media_id,
            "duration_s": s.duration_s,
            "caption": s.caption,
            "motion": s.motion,
            "transition": s.transition,
            "source_ids": [],
        }
        for s in draft.shots
    ]
    shots[0]["caption"] = f"{event['summary']} in the park"
    shots[0]["source_ids"] = [event["source_id"], place_id]
    body = {
        "title": f"{event['summary']} in Lyon",
        "subtitle": "A day to remember",
        "mood": "uplifting",
        "music_style": "acoustic",
        "shots": shots,
        "narration": [
            {
                "text": f"{event['summary']}, all afternoon",
                "start_s": 0.2,
                "end_s": 5.0,
                "source_ids": [event["source_id"]],
            }
        ],
    }
    body.update(overrides)
    return body


def place_answer(req: ScriptRequest, **overrides: Any) -> dict[str, Any]:
    """A valid answer that cites only a candidate's place (no tool needed)."""
    place = candidate_place_id(req)
    return grounded_answer(req, {"summary": "Picnic", "source_id": place}, place, **overrides)


def cite_event_and_place(req, summary: str = "Birthday picnic", **overrides: Any):
    """A reply that finds the event and the Lyon stay in the tool results the loop
    sent, and answers with a script citing them."""

    def reply(body: dict[str, Any], _fake: FakeLLM) -> Reply:
        results = tool_results(body)
        event = next(e for r in results for e in r.get("results", []) if e.get("summary") == summary)
        stay = next(s for r in results for s in r.get("results", []) if s.get("source_id", "").startswith("place:"))
        return answer(grounded_answer(req, event, stay["source_id"], **overrides))

    return reply

"""The pieces of the agentic scripter on their own: prompt, answer parsing, wiring."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest

from reels_core import places
from reels_core.domain import (
    MOODS,
    Candidate,
    MediaKind,
    Mode,
    Preferences,
    StyleStat,
)
from reels_core.fast_script import fast_script, target_duration_s
from scripter_service.agentic import AnswerRejected, LoopLimits, SourceBook, parse_script
from scripter_service.generate import ScriptGenerator, agentic_budget_s, library_roots
from scripter_service.llm import LLMConfig, OpenAIChat
from scripter_service.prompt import MAX_PROMPT_CANDIDATES, build_messages, place_source_id
from scripter_service.tools.registry import default_registry
from tests.conftest import make_settings
from tests.scripter.agentic_helpers import (
    PARIS,
    birthday_request,
    candidate_place_id,
    grounded_answer,
    place_answer,
)
from tests.scripter.fake_llm import FakeLLM, answer, tool_calls, tool_results


@pytest.fixture
def req(sample_library_src: Path):
    return birthday_request(sample_library_src)


def book_for(req) -> SourceBook:
    book = SourceBook()
    book.add_places([(c.lat, c.lon) for c in req.candidates])
    return book


# --------------------------------------------------------------------------- prompt


def test_place_ids_match_the_fast_scripts_grounding(req) -> None:
    fast_ids = {g.source_id for g in fast_script(req).grounding if g.kind == "place"}
    ours = {place_source_id(p) for p in places.places([(c.lat, c.lon) for c in req.candidates]) if p}
    assert fast_ids and fast_ids == ours


def test_the_prompt_has_window_candidates_taste_tools_and_schema(req, tmp_path: Path, sample_library_src: Path) -> None:
    req = dataclasses.replace(
        req,
        preferences=Preferences(
            favorite_moods=("calm",),
            disliked_music_styles=("electronic",),
            style_stats=(StyleStat("calm", "piano", 4, 1),),
        ),
    )
    tools = default_registry(sample_library_src / ".reels-context", PARIS, tmp_path).readonly_tools()
    system, user = build_messages(req, fast_script(req), tools, 20.0)
    assert system["role"] == "system" and user["role"] == "user"
    for name in ("calendar_events", "locations", "messages", "search_notes", "media_details"):
        assert f"- {name}:" in system["content"]
    assert all(m in system["content"] for m in MOODS)
    schema = json.loads(system["content"].split("JSON schema:\n", 1)[1].split("\n", 1)[0])
    assert schema["properties"]["shots"]["items"]["properties"]["caption"]["maxLength"] == 80
    text = user["content"]
    start, end = req.window.ranges[0]
    assert f"{start.isoformat()} to {end.isoformat()}" in text and "Europe/Paris" in text
    assert "Target length: 20 s" in text
    midnight = [dt.datetime.combine(d, dt.time(), tzinfo=PARIS).isoformat() for d in (start, end)]
    assert f'start "{midnight[0]}", end "{midnight[1]}"' in text
    assert "favourite moods: calm" in text and "disliked music styles: electronic" in text
    assert "calm+piano 4 good/1 bad" in text
    rows = [json.loads(line) for line in text.splitlines() if line.startswith('{"media_id"')]
    assert {r["media_id"] for r in rows} == {c.media_id for c in req.candidates}
    gps = next(c for c in req.candidates if c.lat is not None)
    row = next(r for r in rows if r["media_id"] == gps.media_id)
    assert row["local_time"] == gps.taken_at.astimezone(PARIS).isoformat(timespec="minutes")
    assert row["place"].endswith("France") and row["place_source_id"] == candidate_place_id(req)


def test_many_candidates_are_thinned_but_the_drafts_stay(req) -> None:
    base = req.candidates[0]
    many = tuple(
        Candidate(f"m{i:04d}", MediaKind.PHOTO, base.taken_at + dt.timedelta(seconds=60 * i)) for i in range(300)
    )
    big = dataclasses.replace(req, candidates=many)
    draft = fast_script(big)
    system, user = build_messages(big, draft, [], 20.0)
    rows = [json.loads(line) for line in user["content"].splitlines() if line.startswith('{"media_id"')]
    assert len(rows) == MAX_PROMPT_CANDIDATES
    assert {s.media_id for s in draft.shots} <= {r["media_id"] for r in rows}


# --------------------------------------------------------------------------- the answer


def test_explicit_preferences_win_and_videos_stay_static(req) -> None:
    req = dataclasses.replace(req, preferences=Preferences(mood="calm"), max_shots=10)  # every candidate
    draft = fast_script(req)
    body = place_answer(req, mood="energetic", music_style="orchestral")
    video = next(c.media_id for c in req.candidates if c.kind is MediaKind.VIDEO)
    for shot in body["shots"]:
        shot["motion"] = "pan_left" if shot["media_id"] == video else "sideways"
    script = parse_script(json.dumps(body), req, draft, book_for(req), target_duration_s(req))
    assert script.mode_used is Mode.AGENTIC
    assert (script.mood, script.music_style) == ("calm", "orchestral")
    by_id = {s.media_id: s for s in script.shots}
    draft_by_id = {s.media_id: s for s in draft.shots}
    assert by_id[video].motion == "static"
    assert all(by_id[m].motion == draft_by_id[m].motion for m in by_id if m != video)


def test_narration_is_clipped_to_the_reel_and_titles_to_their_limit(req) -> None:
    draft = fast_script(req)
    place = candidate_place_id(req)
    body = grounded_answer(req, {"summary": "Picnic", "source_id": place}, place, title="T" * 200)
    body["narration"] = [
        {"text": "Late line", "start_s": 15.0, "end_s": 99.0, "source_ids": [place]},
        {"text": "After the end", "start_s": 50.0, "end_s": 60.0},
        {"text": "Early line", "start_s": -3.0, "end_s": 4.0},
    ]
    script = parse_script(json.dumps(body), req, draft, book_for(req), 20.0)
    assert [(n.text, n.start_s, n.end_s) for n in script.narration] == [
        ("Early line", 0.0, 4.0),
        ("Late line", 15.0, round(script.duration_s, 2)),
    ]
    assert len(script.title) == 60 and script.title.endswith("…")


@pytest.mark.parametrize(
    "mutate, code",
    [
        (lambda b: b["shots"][1].update(media_id=b["shots"][0]["media_id"]), "DUPLICATE_MEDIA"),
        (lambda b: b["shots"][0].update(duration_s="3"), "DURATION_INVALID"),
        (lambda b: b["shots"][0].update(source_ids="place:x"), "SOURCES_INVALID"),
        (lambda b: b.update(shots=[]), "NO_SHOTS"),
        (lambda b: b["narration"][0].update(text="n" * 81), "CAPTION_TOO_LONG"),
    ],
)
def test_rejections_name_the_rule(req, mutate, code) -> None:
    place = candidate_place_id(req)
    body = grounded_answer(req, {"summary": "Picnic", "source_id": place}, place)
    mutate(body)
    with pytest.raises(AnswerRejected) as err:
        parse_script(json.dumps(body), req, fast_script(req), book_for(req), 20.0)
    assert err.value.code == code


# --------------------------------------------------------------------------- wiring


def test_generator_from_settings(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "data",
        REEL_LLM_BASE_URL="http://127.0.0.1:11434/v1",
        REEL_LLM_MODEL="qwen2.5:7b",
        REEL_LLM_TIMEOUT_S="12",
        REEL_LLM_MAX_STEPS="5",
        REEL_TOOL_MARGIN_H="6",
        REEL_LIBRARIES="Family=/photos/family, trips=/photos/trips",
    )
    gen = ScriptGenerator.from_settings(settings)
    assert gen.llm_configured and gen.llm_config == LLMConfig("http://127.0.0.1:11434/v1", "qwen2.5:7b", "", 12.0)
    assert (gen.max_steps, gen.tool_margin_h) == (5, 6.0)
    assert gen.cache_dir == tmp_path / "data" / "cache" / "notes-index"
    assert gen.context_dir(" FAMILY ") == Path("/photos/family/.reels-context")
    assert gen.context_dir("nope") is None and gen.context_dir("bad key!") is None
    assert set(gen.registry_for("nope", "UTC").tools) == {"media_details"}

    client = OpenAIChat(gen.llm_config)._client
    assert client.max_retries == 0 and client.timeout == 12.0

    unconfigured = ScriptGenerator.from_settings(make_settings(tmp_path / "d2"))
    assert not unconfigured.llm_configured
    assert library_roots(make_settings(tmp_path / "d2")) == {"sample": tmp_path / "d2" / "sample-library"}


def test_budget_keeps_a_margin_for_the_fallback() -> None:
    assert agentic_budget_s(20.0, 30.0, 8) == pytest.approx(18.0)
    assert agentic_budget_s(5.0, 30.0, 8) == pytest.approx(4.0)
    assert agentic_budget_s(0.8, 30.0, 8) == 0.0
    assert agentic_budget_s(None, 30.0, 8) == 240.0


def test_fast_mode_never_calls_the_llm(req, tmp_path: Path, sample_library_src: Path) -> None:
    with FakeLLM([answer("{}")]) as fake:
        gen = ScriptGenerator(LLMConfig(fake.base_url, "m"), {"sample": sample_library_src}, tmp_path / "c")
        script = gen.generate(dataclasses.replace(req, mode=Mode.FAST), deadline_s=10)
    assert script.mode_used is Mode.FAST and script.fallback_reason == "" and fake.requests == []


def test_too_many_calls_in_one_turn_get_an_error_each(req, tmp_path: Path, sample_library_src: Path) -> None:
    cap = LoopLimits().max_tool_calls_per_step
    # Twice the cap, whatever number of media the sample's window holds on this date.
    ids = [req.candidates[n % len(req.candidates)].media_id for n in range(2 * cap)]
    calls = [("media_details", {"media_ids": [media_id]}) for media_id in ids]
    with FakeLLM([tool_calls(*calls), answer(place_answer(req))]) as fake:
        gen = ScriptGenerator(LLMConfig(fake.base_url, "m"), {"sample": sample_library_src}, tmp_path / "c")
        script = gen.generate(req, deadline_s=10)
    assert script.mode_used is Mode.AGENTIC
    results = tool_results(fake.requests[1])
    assert len(results) == 2 * cap
    assert all("results" in r for r in results[:cap])
    assert all(r == {"error": "TOO_MANY_TOOL_CALLS"} for r in results[cap:])

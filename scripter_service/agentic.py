"""AGENTIC mode: an LLM reads the day's context through read-only tools and writes a
grounded script; any failure gives the FAST script and the reason.

``run_readonly_tool_loop`` is the tool loop. Each step is one chat-completions
request; the model may ask for several tools in one turn. The loop

- offers the registry's read-only tools only, and answers any other name with a
  ``TOOL_NOT_ALLOWED`` tool result (the model is told, the loop goes on);
- runs every call through ``ToolRegistry.call``, which checks and clamps the
  arguments and never raises;
- stops at ``limits.max_steps`` requests (``TOOL_BUDGET_EXCEEDED``: the model still
  wanted tools), gives every request ``min(call timeout, time left)`` and never
  starts one past the deadline (``LLM_TIMEOUT``);
- hands the final text to ``accept``; a rejected answer gets one more turn with the
  reason (``limits.max_repairs``), then ``INVALID_SCRIPT``.

``parse_script`` turns the final JSON into a ``Script`` and validates it: candidate
media ids only, durations summing to the target within 10 %, captions within
CAPTION_MAX_CHARS, and every cited source id one the tools (or the candidates'
places) actually produced. The cited sources become the script's grounding.

``agentic_script`` ties it together and never raises. Logs carry counts, durations
and reason codes only: no message, note, caption or source id.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import structlog

from reels_core import places
from reels_core.domain import (
    CAPTION_MAX_CHARS,
    MOODS,
    MOTIONS,
    MUSIC_STYLES,
    TRANSITIONS,
    GroundingSource,
    MediaKind,
    Mode,
    NarrationLine,
    Script,
    ScriptRequest,
    Shot,
)
from reels_core.fast_script import MAX_NARRATION_LINES, MIN_SHOT_S, fast_script, target_duration_s
from scripter_service.llm import ChatModel, LLMTimeout, LLMUnavailable
from scripter_service.prompt import (
    DURATION_TOLERANCE,
    SUBTITLE_MAX_CHARS,
    TITLE_MAX_CHARS,
    build_messages,
    max_shots,
    place_source_id,
    ranked_candidates,
)
from scripter_service.tools.registry import TOOL_NOT_ALLOWED, ToolContext, ToolRegistry, context_for_request

log = structlog.get_logger(__name__)

# Fallback reasons (Script.fallback_reason).
LLM_NOT_CONFIGURED = "LLM_NOT_CONFIGURED"
LLM_UNAVAILABLE = "LLM_UNAVAILABLE"
LLM_TIMEOUT = "LLM_TIMEOUT"
INVALID_SCRIPT = "INVALID_SCRIPT"
TOOL_BUDGET_EXCEEDED = "TOOL_BUDGET_EXCEEDED"
AGENTIC_FAILED = "AGENTIC_FAILED"  # a bug on our side: still answered with the fast script

TOO_MANY_TOOL_CALLS = "TOO_MANY_TOOL_CALLS"
INVALID_ARGUMENTS = "INVALID_ARGUMENTS"
MIN_CALL_S = 0.05  # no request is started with less time than this left
MIN_AGENTIC_SHOT_S = 0.5
VIDEO_MOTION = "static"
FINAL_TURN = (
    "This is your last turn: no more tool calls. Answer now with the JSON script, citing only the sources you have."
)

T = TypeVar("T")


class AgenticFailure(Exception):
    """The loop gave up; ``reason`` is the fallback reason."""

    def __init__(self, reason: str, stats: LoopStats | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stats = stats or LoopStats()


class AnswerRejected(Exception):
    """The final answer is not a valid script. ``feedback`` is for the model only
    (it may quote ids the model wrote); it is never logged."""

    def __init__(self, code: str, feedback: str) -> None:
        super().__init__(code)
        self.code = code
        self.feedback = feedback


@dataclass
class LoopLimits:
    max_steps: int = 8  # chat-completions requests, repairs included
    call_timeout_s: float = 30.0
    deadline: float | None = None  # time.monotonic() value; None: no total limit
    max_tool_calls_per_step: int = 8
    max_repairs: int = 1

    def time_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def next_call_timeout(self) -> float | None:
        """The timeout of the next request, or None when there is no time for one."""
        left = self.time_left()
        if left is None:
            return self.call_timeout_s
        return min(self.call_timeout_s, left) if left >= MIN_CALL_S else None


@dataclass
class LoopStats:
    steps: int = 0
    tool_calls: int = 0
    refused: int = 0
    repairs: int = 0
    rejected: list[str] = field(default_factory=list)  # AnswerRejected codes


@dataclass
class LoopResult(Generic[T]):
    answer: T
    stats: LoopStats


@dataclass(frozen=True)
class Source:
    kind: str  # event, place, message or note
    source_id: str
    label: str = ""


class SourceBook:
    """Every source the model was shown, by id: what it may cite."""

    def __init__(self) -> None:
        self._by_id: dict[str, Source] = {}

    def add(self, kind: str, source_id: str, label: str = "") -> str:
        if source_id and source_id not in self._by_id:
            self._by_id[source_id] = Source(kind, source_id, label)
        return source_id

    def get(self, source_id: str) -> Source | None:
        return self._by_id.get(source_id)

    def __contains__(self, source_id: object) -> bool:
        return source_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def add_places(self, coords: list[tuple[float | None, float | None]]) -> None:
        for found in places.places(coords):
            if found is not None:
                self.add("place", place_source_id(found), found.label)

    def note_result(self, tool: str, result: dict[str, Any]) -> dict[str, Any]:
        """Record the sources in a tool result; returns it with a ``source_id`` on
        each item the model may cite."""
        items = result.get("results")
        if not isinstance(items, list):
            return result
        annotated = []
        if tool == "locations":
            found = places.places([(i.get("lat"), i.get("lon")) for i in items if isinstance(i, dict)])
            found_iter = iter(found)
        for item in items:
            if not isinstance(item, dict):
                annotated.append(item)
                continue
            source_id = ""
            if tool == "calendar_events":
                source_id = self.add("event", str(item.get("uid") or ""), str(item.get("summary") or ""))
            elif tool == "messages":
                label = f"Message from {item.get('from') or 'someone'}, {str(item.get('ts') or '')[:10]}"
                source_id = self.add("message", str(item.get("id") or ""), label)
            elif tool == "search_notes":
                source_id = self.add("note", str(item.get("path") or ""), str(item.get("title") or ""))
            elif tool == "locations":
                place = next(found_iter)
                if place is not None:
                    source_id = self.add("place", place_source_id(place), place.label)
            annotated.append({"source_id": source_id, **item} if source_id else item)
        return {**result, "results": annotated}


# --------------------------------------------------------------------------- the loop


def run_readonly_tool_loop(
    llm: ChatModel,
    tools: ToolRegistry,
    messages: list[dict[str, Any]],
    limits: LoopLimits,
    *,
    ctx: ToolContext,
    accept: Callable[[str], T],
    sources: SourceBook | None = None,
) -> LoopResult[T]:
    """Run the model with read-only tools until it gives an answer ``accept`` takes.

    ``messages`` is extended in place with the conversation. ``accept`` parses the
    final text or raises AnswerRejected. Raises AgenticFailure with the reason.
    """
    stats = LoopStats()
    book = sources if sources is not None else SourceBook()
    specs = tools.openai_tool_specs()
    offered = {spec["function"]["name"] for spec in specs}
    while True:
        if stats.steps >= limits.max_steps:
            raise AgenticFailure(TOOL_BUDGET_EXCEEDED, stats)
        timeout = limits.next_call_timeout()
        if timeout is None:
            raise AgenticFailure(LLM_TIMEOUT, stats)
        last = stats.steps == limits.max_steps - 1
        if last and stats.steps > 0 and messages[-1].get("role") == "tool":
            messages.append({"role": "user", "content": FINAL_TURN})
        stats.steps += 1
        try:
            turn = llm.complete(messages, specs, timeout_s=timeout, tool_choice="none" if last else None)
        except LLMTimeout:
            raise AgenticFailure(LLM_TIMEOUT, stats) from None
        except LLMUnavailable:
            raise AgenticFailure(LLM_UNAVAILABLE, stats) from None
        messages.append(turn.as_message())

        if turn.tool_calls:
            if last:  # no request left to show it the results
                raise AgenticFailure(TOOL_BUDGET_EXCEEDED, stats)
            for n, call in enumerate(turn.tool_calls):
                left = limits.time_left()
                if left is not None and left <= 0:  # the deadline binds tool calls too
                    raise AgenticFailure(LLM_TIMEOUT, stats)
                if n >= limits.max_tool_calls_per_step:
                    result: dict[str, Any] = {"error": TOO_MANY_TOOL_CALLS}
                elif call.name not in offered:
                    stats.refused += 1
                    result = {"error": TOOL_NOT_ALLOWED}
                else:
                    stats.tool_calls += 1
                    result = _run_tool(tools, call.name, call.arguments, ctx, book)
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call.id,
                        "content": json.dumps(result, ensure_ascii=False, default=str),
                    }
                )
            continue

        try:
            return LoopResult(accept(turn.content or ""), stats)
        except AnswerRejected as rejected:
            stats.rejected.append(rejected.code)
            if stats.repairs >= limits.max_repairs or stats.steps >= limits.max_steps:
                raise AgenticFailure(INVALID_SCRIPT, stats) from None
            stats.repairs += 1
            messages.append({"role": "user", "content": rejected.feedback})


def _run_tool(tools: ToolRegistry, name: str, arguments: str, ctx: ToolContext, book: SourceBook) -> dict[str, Any]:
    try:
        args = json.loads(arguments) if arguments and arguments.strip() else {}
    except ValueError:
        args = None
    if not isinstance(args, dict):
        return {"error": INVALID_ARGUMENTS, "detail": "arguments must be a JSON object"}
    return book.note_result(name, tools.call(name, args, ctx))


# --------------------------------------------------------------------------- the answer


def parse_script(content: str, req: ScriptRequest, draft: Script, book: SourceBook, target_s: float) -> Script:
    """The model's final text as a validated AGENTIC Script; raises AnswerRejected."""
    data = _json_object(content)
    candidates = {c.media_id: c for c in req.candidates}
    draft_shots = {s.media_id: s for s in draft.shots}
    eligible = {c.media_id for c in ranked_candidates(req)} | set(draft_shots)
    limit = max_shots(req, draft)

    raw_shots = data.get("shots")
    if not isinstance(raw_shots, list) or not raw_shots:
        raise AnswerRejected("NO_SHOTS", '"shots" must be a non-empty array.')
    if len(raw_shots) > limit:
        raise AnswerRejected("TOO_MANY_SHOTS", f"At most {limit} shots, you gave {len(raw_shots)}.")
    shots: list[Shot] = []
    shot_sources: list[list[str]] = []
    for i, raw in enumerate(raw_shots):
        if not isinstance(raw, dict):
            raise AnswerRejected("SHOT_INVALID", f"shots[{i}] must be an object.")
        media_id = raw.get("media_id")
        if not isinstance(media_id, str) or media_id not in candidates:
            raise AnswerRejected("UNKNOWN_MEDIA", f"shots[{i}].media_id is not a candidate media id.")
        if media_id not in eligible:
            raise AnswerRejected(
                "MEDIA_NOT_RANKED",
                f"shots[{i}].media_id is a near-duplicate, screenshot, blurred or dark shot; pick a listed one.",
            )
        if any(s.media_id == media_id for s in shots):
            raise AnswerRejected("DUPLICATE_MEDIA", f"shots[{i}] repeats media id {media_id}.")
        duration = _number(raw.get("duration_s"))
        if duration is None or duration < MIN_AGENTIC_SHOT_S:
            raise AnswerRejected(
                "DURATION_INVALID", f"shots[{i}].duration_s must be a number of seconds, at least {MIN_SHOT_S}."
            )
        caption = _text(raw.get("caption", ""), f"shots[{i}].caption")
        if len(caption) > CAPTION_MAX_CHARS:
            raise AnswerRejected(
                "CAPTION_TOO_LONG",
                f"shots[{i}].caption has {len(caption)} characters, the limit is {CAPTION_MAX_CHARS}.",
            )
        base = draft_shots.get(media_id)
        if candidates[media_id].kind == MediaKind.VIDEO:
            motion = VIDEO_MOTION
        else:
            motion = _choice(raw.get("motion"), MOTIONS) or (base.motion if base else MOTIONS[0])
        transition = _choice(raw.get("transition"), TRANSITIONS) or (base.transition if base else TRANSITIONS[0])
        shot_sources.append(_cited(raw.get("source_ids"), book, f"shots[{i}]"))
        shots.append(Shot(media_id, round(duration, 2), caption, motion, transition))

    total = sum(s.duration_s for s in shots)
    if abs(total - target_s) > DURATION_TOLERANCE * target_s:
        raise AnswerRejected(
            "DURATION_MISMATCH",
            f"The shot durations add up to {total:.2f} s; they must add up to {target_s:g} s (within 10 %).",
        )
    narration = _narration(data.get("narration"), total, book)

    grounding: dict[str, GroundingSource] = {}
    for i, cited in enumerate(shot_sources):
        for source_id in cited:
            _grounding(grounding, book, source_id).supports_shots.append(i)
    for line in narration:
        for source_id in line.source_ids:
            _grounding(grounding, book, source_id)

    explicit = req.preferences
    mood = draft.mood if _choice(explicit.mood, MOODS) else (_choice(data.get("mood"), MOODS) or draft.mood)
    music_style = (
        draft.music_style
        if _choice(explicit.music_style, MUSIC_STYLES)
        else (_choice(data.get("music_style"), MUSIC_STYLES) or draft.music_style)
    )
    return Script(
        title=_clip(_text(data.get("title", ""), "title"), TITLE_MAX_CHARS) or draft.title,
        subtitle=_clip(_text(data.get("subtitle", ""), "subtitle"), SUBTITLE_MAX_CHARS) or draft.subtitle,
        mood=mood,
        music_style=music_style,
        shots=shots,
        narration=narration,
        grounding=list(grounding.values()),
        mode_used=Mode.AGENTIC,
        fallback_reason="",
    )


def _json_object(content: str) -> dict[str, Any]:
    """The one JSON object in the answer; a code fence or prose around it is tolerated."""
    text = (content or "").strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise AnswerRejected("NOT_JSON", "Answer with one JSON object matching the schema, and nothing else.")
    try:
        data = json.loads(text[start : end + 1])
    except ValueError:
        raise AnswerRejected("NOT_JSON", "Your answer is not valid JSON. Answer with one JSON object only.") from None
    if not isinstance(data, dict):
        raise AnswerRejected("NOT_JSON", "Answer with one JSON object matching the schema.")
    return data


def _narration(raw: Any, total: float, book: SourceBook) -> list[NarrationLine]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise AnswerRejected("NARRATION_INVALID", '"narration" must be an array.')
    lines = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise AnswerRejected("NARRATION_INVALID", f"narration[{i}] must be an object.")
        text = _text(item.get("text", ""), f"narration[{i}].text")
        if len(text) > CAPTION_MAX_CHARS:
            raise AnswerRejected(
                "CAPTION_TOO_LONG",
                f"narration[{i}].text has {len(text)} characters, the limit is {CAPTION_MAX_CHARS}.",
            )
        start, end = _number(item.get("start_s")), _number(item.get("end_s"))
        if start is None or end is None:
            raise AnswerRejected("NARRATION_INVALID", f"narration[{i}] needs numeric start_s and end_s.")
        cited = _cited(item.get("source_ids"), book, f"narration[{i}]")
        start, end = max(0.0, start), min(end, total)
        if not text or end <= start:
            continue  # empty or outside the reel: dropped, not fatal
        lines.append(NarrationLine(text, round(start, 2), round(end, 2), cited))
    lines.sort(key=lambda line: line.start_s)
    return lines[:MAX_NARRATION_LINES]


def _cited(raw: Any, book: SourceBook, where: str) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise AnswerRejected("SOURCES_INVALID", f"{where}.source_ids must be an array of strings.")
    unknown = [x for x in raw if x not in book]
    if unknown:
        raise AnswerRejected(
            "UNKNOWN_SOURCE",
            f"{where}.source_ids cites {unknown[0]!r}, which no tool result or candidate gave you. "
            "Cite only source_id values you were given.",
        )
    return list(dict.fromkeys(raw))


def _grounding(grounding: dict[str, GroundingSource], book: SourceBook, source_id: str) -> GroundingSource:
    if source_id not in grounding:
        src = book.get(source_id)
        assert src is not None  # _cited checked it
        grounding[source_id] = GroundingSource(kind=src.kind, source_id=source_id, label=src.label)
    return grounding[source_id]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise AnswerRejected("TEXT_INVALID", f"{where} must be a string.")
    return " ".join(value.split())


def _choice(value: Any, vocabulary: tuple[str, ...]) -> str:
    folded = value.strip().lower() if isinstance(value, str) else ""
    return folded if folded in vocabulary else ""


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --------------------------------------------------------------------------- entry point


def agentic_script(
    req: ScriptRequest,
    llm: ChatModel,
    tools: ToolRegistry,
    limits: LoopLimits,
    *,
    tool_margin: dt.timedelta = dt.timedelta(hours=24),
    draft: Script | None = None,
) -> Script:
    """The AGENTIC script for ``req``, or ``draft`` (the FAST script) with the
    fallback reason. Never raises."""
    began = time.perf_counter()
    draft = draft if draft is not None else fast_script(req)
    stats = LoopStats()
    try:
        target = target_duration_s(req)
        ctx = context_for_request(req, margin=tool_margin)
        book = SourceBook()
        book.add_places([(c.lat, c.lon) for c in req.candidates])
        messages = build_messages(req, draft, tools.readonly_tools(), target)
        result = run_readonly_tool_loop(
            llm,
            tools,
            messages,
            limits,
            ctx=ctx,
            sources=book,
            accept=lambda content: parse_script(content, req, draft, book, target),
        )
    except AgenticFailure as failure:
        reason, stats = failure.reason, failure.stats
    except Exception as exc:  # noqa: BLE001 - never worse than the fast path
        reason = AGENTIC_FAILED
        log.error("agentic_script_error", error=type(exc).__name__)
    else:
        script = result.answer
        _log_outcome("agentic", "", result.stats, began, script)
        return script
    _log_outcome("fallback", reason, stats, began, draft)
    return dataclasses.replace(draft, mode_used=Mode.FAST, fallback_reason=reason)


def _log_outcome(outcome: str, reason: str, stats: LoopStats, began: float, script: Script) -> None:
    log.info(
        "agentic_script",
        outcome=outcome,
        reason=reason,
        steps=stats.steps,
        tool_calls=stats.tool_calls,
        refused=stats.refused,
        repairs=stats.repairs,
        rejected=stats.rejected,
        shots=len(script.shots),
        grounding=len(script.grounding),
        ms=round((time.perf_counter() - began) * 1000, 1),
    )

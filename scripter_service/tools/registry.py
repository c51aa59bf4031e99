"""The tools the agentic scripter may call, read-only by construction.

A ``Tool`` is a name, a description, a JSON-schema of its parameters, a
``read_only`` flag and a function ``fn(args, ctx)``. ``ToolRegistry.call`` is the
only way the LLM loop reaches a tool, and it:

- refuses any name that is not registered as read-only (``TOOL_NOT_ALLOWED``);
- checks the arguments against the schema (``INVALID_ARGUMENTS``), dropping unknown
  ones;
- parses ``start``/``end`` and clamps them to the request window plus
  ``ctx.margin`` (for ON_THIS_DAY, to the one year's range they overlap most);
- caps the results at ``ctx.max_results`` items and ``ctx.max_chars`` characters of
  JSON, saying ``truncated``;
- turns any provider exception into ``{"error": "TOOL_FAILED"}``.

Only counts and names are logged, never arguments or results.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from reels_core import places
from reels_core.domain import Candidate, Kind, ScriptRequest
from reels_core.fast_script import zone
from scripter_service.tools.calendar import CalendarProvider
from scripter_service.tools.common import parse_time, to_local
from scripter_service.tools.locations import LocationsProvider
from scripter_service.tools.messages import MessagesProvider
from scripter_service.tools.notes import NotesIndex

log = structlog.get_logger(__name__)

TOOL_NOT_ALLOWED = "TOOL_NOT_ALLOWED"
INVALID_ARGUMENTS = "INVALID_ARGUMENTS"
TOOL_FAILED = "TOOL_FAILED"
RESULT_TOO_LARGE = "RESULT_TOO_LARGE"

TIME_ARGS = ("start", "end")


@dataclass
class ToolContext:
    """What one script request allows its tools to see."""

    window_start: dt.datetime  # aware
    window_end: dt.datetime  # aware, exclusive
    margin: dt.timedelta = dt.timedelta(days=1)
    max_results: int = 20
    max_chars: int = 8000
    candidates: tuple[Candidate, ...] = ()
    tz: dt.tzinfo = dt.UTC
    # ON_THIS_DAY: one (start, end) per year; a time range is clamped to one of them.
    ranges: tuple[tuple[dt.datetime, dt.datetime], ...] = ()


def context_for_request(req: ScriptRequest, **overrides: Any) -> ToolContext:
    """A ToolContext for ``req``: its window in the library time zone and candidates."""
    tz = zone(req.timezone)
    ranges = tuple(
        (dt.datetime.combine(a, dt.time(), tzinfo=tz), dt.datetime.combine(b, dt.time(), tzinfo=tz))
        for a, b in req.window.ranges
    )
    return ToolContext(
        window_start=ranges[0][0],
        window_end=ranges[-1][1],
        candidates=req.candidates,
        tz=tz,
        ranges=ranges if req.window.kind == Kind.ON_THIS_DAY else (),
        **overrides,
    )


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    params: dict[str, Any]  # JSON schema of the arguments (an "object")
    read_only: bool
    fn: Callable[[dict[str, Any], ToolContext], Any]


@dataclass
class ToolRegistry:
    tools: dict[str, Tool] = field(default_factory=dict)

    def register(self, tool: Tool) -> Tool:
        if tool.name in self.tools:
            raise ValueError(f"tool {tool.name!r} is already registered")
        self.tools[tool.name] = tool
        return tool

    def readonly_tools(self) -> list[Tool]:
        return [t for t in self.tools.values() if t.read_only]

    def openai_tool_specs(self) -> list[dict[str, Any]]:
        """The chat-completions ``tools`` array: read-only tools only."""
        return [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.params},
            }
            for t in self.readonly_tools()
        ]

    def call(self, name: str, args: dict[str, Any] | None, ctx: ToolContext) -> dict[str, Any]:
        """Run a read-only tool; always returns a JSON-able dict, never raises."""
        began = time.perf_counter()
        tool = self.tools.get(name)
        if tool is None or not tool.read_only:
            result: dict[str, Any] = {"error": TOOL_NOT_ALLOWED}
        else:
            result = self._call(tool, args, ctx)
        log.info(
            "tool_call",
            tool=name if tool is not None else "<unknown>",
            error=result.get("error", ""),
            results=len(result.get("results", [])) if isinstance(result.get("results"), list) else 0,
            truncated=bool(result.get("truncated")),
            ms=round((time.perf_counter() - began) * 1000, 1),
        )
        return result

    def _call(self, tool: Tool, args: dict[str, Any] | None, ctx: ToolContext) -> dict[str, Any]:
        try:
            clean = _validate(tool.params, args or {})
        except ValueError as exc:
            return {"error": INVALID_ARGUMENTS, "detail": str(exc)}
        extra: dict[str, Any] = {}
        if any(k in tool.params.get("properties", {}) for k in TIME_ARGS):
            try:
                start, end, clamped = clamp_range(clean.get("start"), clean.get("end"), ctx)
            except ValueError:
                return {"error": INVALID_ARGUMENTS, "detail": "start/end: expected ISO-8601 times"}
            clean["start"], clean["end"] = start, end
            extra = {"range": {"start": start.isoformat(), "end": end.isoformat()}, "clamped": clamped}
            if end <= start:
                return {"results": [], "truncated": False, **extra}
        try:
            raw = tool.fn(clean, ctx)
        except Exception as exc:  # noqa: BLE001 - a provider failure is a tool result
            return {"error": TOOL_FAILED, "detail": type(exc).__name__}
        return _cap({**_as_result(raw), **extra}, ctx)


def clamp_range(start: object, end: object, ctx: ToolContext) -> tuple[dt.datetime, dt.datetime, bool]:
    """Parse and clamp a requested ``[start, end)`` to the allowed window.

    The window is ``[ctx.window_start - margin, ctx.window_end + margin)``; with
    ``ctx.ranges`` it is the range (plus margin) the request overlaps most, or the
    nearest one. A missing bound is the window's.
    """
    tz = ctx.tz
    windows = ctx.ranges or ((ctx.window_start, ctx.window_end),)
    allowed = [(to_local(a, tz) - ctx.margin, to_local(b, tz) + ctx.margin) for a, b in windows]
    req_start = parse_time(start, tz) if start not in (None, "") else None
    req_end = parse_time(end, tz) if end not in (None, "") else None
    probe_start = req_start or allowed[0][0]
    probe_end = req_end or allowed[-1][1]

    def fit(win: tuple[dt.datetime, dt.datetime]) -> tuple[float, float]:
        overlap = (min(probe_end, win[1]) - max(probe_start, win[0])).total_seconds()
        gap = min(abs((probe_start - win[0]).total_seconds()), abs((probe_end - win[1]).total_seconds()))
        return (overlap, -gap)

    lo, hi = max(allowed, key=fit)
    new_start = max(req_start, lo) if req_start else lo
    new_end = min(req_end, hi) if req_end else hi
    clamped = (req_start is None or new_start != req_start) or (req_end is None or new_end != req_end)
    return new_start, new_end, clamped


# --------------------------------------------------------------------------- default tools


def default_registry(context_dir: str | Path, tz: str | dt.tzinfo, cache_dir: str | Path) -> ToolRegistry:
    """The five read-only tools over ``context_dir`` (a library's ``.reels-context``).

    ``cache_dir`` holds the notes index; it must lie outside the library.
    """
    tzinfo = zone(tz) if isinstance(tz, str) else tz
    calendar = CalendarProvider(context_dir, tzinfo)
    locations = LocationsProvider(context_dir, tzinfo)
    messages = MessagesProvider(context_dir, tzinfo)
    notes = NotesIndex(Path(context_dir) / "notes", cache_dir)
    time_range = {
        "start": {"type": "string", "description": "ISO-8601 start (inclusive), e.g. 2026-11-28T00:00:00+01:00"},
        "end": {"type": "string", "description": "ISO-8601 end (exclusive)"},
    }
    reg = ToolRegistry()
    reg.register(
        Tool(
            "calendar_events",
            "Calendar events overlapping a time range (recurring events expanded), "
            "in the library time zone: uid, summary, start, end, all_day, location.",
            _object(time_range, required=["start", "end"]),
            True,
            lambda a, ctx: calendar.events(a["start"], a["end"]),
        )
    )
    reg.register(
        Tool(
            "locations",
            "Where the person stayed during a time range: stays with place, arrival, "
            "departure and a home/trip label, plus the home place.",
            _object(time_range, required=["start", "end"]),
            True,
            lambda a, ctx: {"home": locations.home(), "results": locations.stays(a["start"], a["end"])},
        )
    )
    reg.register(
        Tool(
            "messages",
            "Messages sent or received during a time range, oldest first, optionally "
            "only those containing every word of a query.",
            _object({**time_range, "query": {"type": "string"}}, required=["start", "end"]),
            True,
            lambda a, ctx: messages.query(a["start"], a["end"], text=a.get("query"), limit=ctx.max_results + 1),
        )
    )
    reg.register(
        Tool(
            "search_notes",
            "Full-text search of the person's notes, best match first: path, title, snippet, score.",
            _object(
                {"query": {"type": "string"}, "limit": {"type": "integer", "minimum": 1, "maximum": 20}},
                required=["query"],
            ),
            True,
            lambda a, ctx: notes.search_notes(a["query"], min(int(a.get("limit") or 5), ctx.max_results + 1)),
        )
    )
    reg.register(
        Tool(
            "media_details",
            "Details of the candidate photos and videos (all, or the given ids): kind, "
            "local time, place, size, video duration.",
            _object({"media_ids": {"type": "array", "items": {"type": "string"}}}, required=[]),
            True,
            _media_details,
        )
    )
    return reg


def _media_details(args: dict[str, Any], ctx: ToolContext) -> list[dict[str, Any]]:
    by_id = {c.media_id: c for c in ctx.candidates}
    wanted = args.get("media_ids")
    chosen = [by_id[i] for i in dict.fromkeys(wanted) if i in by_id] if wanted else list(ctx.candidates)
    chosen = chosen[: ctx.max_results + 1]
    names = places.places([(c.lat, c.lon) for c in chosen])
    return [
        {
            "media_id": c.media_id,
            "kind": c.kind.value,
            "taken_at": to_local(c.taken_at, ctx.tz).isoformat(),
            "place": found.label if found else "",
            "width": c.width,
            "height": c.height,
            "duration_s": c.duration_s,
        }
        for c, found in zip(chosen, names, strict=True)
    ]


# --------------------------------------------------------------------------- helpers


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _validate(schema: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """The known arguments, type-checked (top level; arrays of strings); raises
    ValueError naming the parameter at fault (never its value)."""
    if not isinstance(args, dict):
        raise ValueError("arguments must be an object")
    props: dict[str, Any] = schema.get("properties", {})
    for name in schema.get("required", []):
        if args.get(name) in (None, ""):
            raise ValueError(f"{name}: required")
    clean: dict[str, Any] = {}
    for name, value in args.items():
        spec = props.get(name)
        if spec is None or value is None:
            continue
        kind = spec.get("type")
        if kind == "integer" and isinstance(value, float) and value.is_integer():
            value = int(value)
        if kind in _JSON_TYPES and not _JSON_TYPES[kind](value):
            raise ValueError(f"{name}: expected {kind}")
        items = spec.get("items", {}).get("type")
        if kind == "array" and items in _JSON_TYPES and not all(_JSON_TYPES[items](v) for v in value):
            raise ValueError(f"{name}: expected array of {items}")
        if kind == "integer":
            value = max(spec.get("minimum", value), min(spec.get("maximum", value), value))
        clean[name] = value
    return clean


def _as_result(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return dict(raw)
    return {"results": list(raw)}


def _cap(result: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    items = result.get("results")
    if isinstance(items, list):
        truncated = len(items) > ctx.max_results
        items = items[: ctx.max_results]
        while items and _size({**result, "results": items, "truncated": True}) > ctx.max_chars:
            items = items[:-1]
            truncated = True
        result = {**result, "results": items, "truncated": truncated}
    if _size(result) > ctx.max_chars:
        return {"error": RESULT_TOO_LARGE}
    return result


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, default=str))

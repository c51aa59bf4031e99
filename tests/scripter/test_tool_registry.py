"""The tool registry: read-only only, clamped ranges, capped results, no exceptions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from reels_core.domain import Candidate, Kind, MediaKind, Mode, ScriptRequest, Span, Window
from scripter_service.tools.registry import (
    TOOL_NOT_ALLOWED,
    Tool,
    ToolContext,
    ToolRegistry,
    context_for_request,
    default_registry,
)

PARIS = ZoneInfo("Europe/Paris")
SAT = dt.datetime(2026, 11, 28, tzinfo=PARIS)

ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//reels tests//EN
BEGIN:VEVENT
UID:daily@test
SUMMARY:Standup
DTSTART;TZID=Europe/Paris:20261101T090000
DTEND;TZID=Europe/Paris:20261101T091500
RRULE:FREQ=DAILY
END:VEVENT
END:VCALENDAR
"""


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    ctx = tmp_path / "library" / ".reels-context"
    (ctx / "notes").mkdir(parents=True)
    (ctx / "calendar.ics").write_text(ICS, encoding="utf-8")
    msgs = [
        {
            "ts": (SAT + dt.timedelta(hours=h)).isoformat(),
            "from": "Ana",
            "to": ["me"],
            "text": f"hello {h} " + "x" * 200,
            "thread": "t",
        }
        for h in range(-72, 96, 6)
    ]
    (ctx / "messages.json").write_text(json.dumps(msgs), encoding="utf-8")
    (ctx / "locations.json").write_text(
        json.dumps(
            [{"ts": (SAT + dt.timedelta(hours=h)).isoformat(), "lat": 43.7031, "lon": 7.2661} for h in range(0, 24, 3)]
        ),
        encoding="utf-8",
    )
    (ctx / "notes" / "trip.md").write_text("# Trip\nSocca in Nice\n", encoding="utf-8")
    return ctx


def ctx_for_saturday(**kw) -> ToolContext:
    defaults = {
        "window_start": SAT,
        "window_end": SAT + dt.timedelta(days=1),
        "margin": dt.timedelta(hours=6),
        "tz": PARIS,
    }
    return ToolContext(**{**defaults, **kw})


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")}


def test_unknown_and_writing_tools_are_refused_and_never_run():
    calls = []
    reg = ToolRegistry()
    reg.register(
        Tool("delete_photos", "writes", {"type": "object", "properties": {}}, False, lambda a, c: calls.append(a))
    )
    reg.register(Tool("peek", "reads", {"type": "object", "properties": {}}, True, lambda a, c: ["ok"]))
    ctx = ctx_for_saturday()
    assert reg.call("delete_photos", {}, ctx) == {"error": TOOL_NOT_ALLOWED}
    assert reg.call("rm_rf", {}, ctx) == {"error": TOOL_NOT_ALLOWED}
    assert calls == []
    assert reg.call("peek", {}, ctx)["results"] == ["ok"]
    assert [s["function"]["name"] for s in reg.openai_tool_specs()] == ["peek"]
    assert [t.name for t in reg.readonly_tools()] == ["peek"]
    with pytest.raises(ValueError):
        reg.register(Tool("peek", "again", {}, True, lambda a, c: []))


def test_default_registry_exposes_five_read_only_tools(pack, tmp_path):
    reg = default_registry(pack, "Europe/Paris", tmp_path / "cache")
    specs = reg.openai_tool_specs()
    assert [s["function"]["name"] for s in specs] == [
        "calendar_events", "locations", "messages", "search_notes", "media_details",
    ]  # fmt: skip
    assert all(s["type"] == "function" and s["function"]["parameters"]["type"] == "object" for s in specs)


def test_time_ranges_are_clamped_to_the_window_plus_margin(pack, tmp_path):
    reg = default_registry(pack, "Europe/Paris", tmp_path / "cache")
    ctx = ctx_for_saturday()
    out = reg.call("calendar_events", {"start": "2026-11-01", "end": "2026-12-31"}, ctx)
    assert out["clamped"] is True
    assert out["range"] == {"start": "2026-11-27T18:00:00+01:00", "end": "2026-11-29T06:00:00+01:00"}
    assert [e["start"] for e in out["results"]] == ["2026-11-28T09:00:00+01:00"]
    inside = reg.call(
        "calendar_events", {"start": "2026-11-28T08:00:00+01:00", "end": "2026-11-28T12:00:00+01:00"}, ctx
    )
    assert inside["clamped"] is False and len(inside["results"]) == 1
    outside = reg.call("messages", {"start": "2025-01-01T00:00:00Z", "end": "2025-02-01T00:00:00Z"}, ctx)
    assert outside["results"] == []
    msgs = reg.call("messages", {"start": "2020-01-01", "end": "2030-01-01"}, ctx)
    stamps = [dt.datetime.fromisoformat(m["ts"]) for m in msgs["results"]]
    assert stamps and min(stamps) >= SAT - dt.timedelta(hours=6) and max(stamps) < SAT + dt.timedelta(hours=30)


def test_on_this_day_ranges_clamp_to_one_year():
    ranges = tuple((dt.date(y, 11, 28), dt.date(y, 11, 29)) for y in (2022, 2023, 2024))
    window = Window(Span.DAY, Kind.ON_THIS_DAY, dt.date(2025, 11, 28), ranges)
    req = ScriptRequest("lib", window, "Europe/Paris", Mode.AGENTIC, ())
    ctx = context_for_request(req, margin=dt.timedelta(0))
    seen = {}
    reg = ToolRegistry()
    schema = {"type": "object", "properties": {"start": {"type": "string"}, "end": {"type": "string"}}}
    reg.register(Tool("probe", "", schema, True, lambda a, c: seen.update(a) or []))
    reg.call("probe", {"start": "2023-06-01", "end": "2023-12-31"}, ctx)
    assert seen["start"] == dt.datetime(2023, 11, 28, tzinfo=PARIS)
    assert seen["end"] == dt.datetime(2023, 11, 29, tzinfo=PARIS)
    reg.call("probe", {"start": "2021-01-01", "end": "2026-01-01"}, ctx)  # spanning all years
    assert seen["end"] - seen["start"] == dt.timedelta(days=1)


def test_results_are_capped_by_count_and_size(pack, tmp_path):
    reg = default_registry(pack, "Europe/Paris", tmp_path / "cache")
    wide = ctx_for_saturday(margin=dt.timedelta(days=3), max_results=5)
    out = reg.call("messages", {"start": "2026-11-20", "end": "2026-12-05"}, wide)
    assert len(out["results"]) == 5 and out["truncated"] is True
    small = ctx_for_saturday(margin=dt.timedelta(days=3), max_results=50, max_chars=1200)
    out = reg.call("messages", {"start": "2026-11-20", "end": "2026-12-05"}, small)
    assert 0 < len(out["results"]) < 5 and out["truncated"] is True
    assert len(json.dumps(out, ensure_ascii=False)) <= 1200


def test_bad_arguments_and_provider_failures_become_error_results(pack, tmp_path):
    reg = default_registry(pack, "Europe/Paris", tmp_path / "cache")
    ctx = ctx_for_saturday()
    assert reg.call("calendar_events", {"start": "2026-11-28"}, ctx)["error"] == "INVALID_ARGUMENTS"
    assert reg.call("calendar_events", {"start": "yesterday", "end": "today"}, ctx)["error"] == "INVALID_ARGUMENTS"
    assert reg.call("search_notes", {"query": 42}, ctx)["error"] == "INVALID_ARGUMENTS"
    (pack / "messages.json").write_text("{not json", encoding="utf-8")
    failed = reg.call("messages", {"start": "2026-11-28", "end": "2026-11-29"}, ctx)
    assert failed == {"error": "TOOL_FAILED", "detail": "JSONDecodeError"}


def test_every_tool_answers_and_nothing_is_written(pack, tmp_path):
    before = snapshot(pack.parent)
    reg = default_registry(pack, "Europe/Paris", tmp_path / "cache")
    t0 = SAT.astimezone(dt.UTC)
    cands = (
        Candidate("p1", MediaKind.PHOTO, t0 + dt.timedelta(hours=10), 4000, 3000, 43.7031, 7.2661),
        Candidate("v1", MediaKind.VIDEO, t0 + dt.timedelta(hours=11), 1920, 1080, duration_s=4.5),
    )
    ctx = ctx_for_saturday(candidates=cands)
    span = {"start": "2026-11-28", "end": "2026-11-29"}
    assert len(reg.call("calendar_events", span, ctx)["results"]) == 1
    loc = reg.call("locations", span, ctx)
    assert loc["home"] == "Nice, France" and loc["results"][0]["label"] == "home"
    assert len(reg.call("messages", {**span, "query": "hello 6"}, ctx)["results"]) == 1
    assert reg.call("search_notes", {"query": "socca"}, ctx)["results"][0]["path"] == "trip.md"
    details = reg.call("media_details", {"media_ids": ["v1", "nope"]}, ctx)["results"]
    assert details == [
        {"media_id": "v1", "kind": "VIDEO", "taken_at": "2026-11-28T11:00:00+01:00", "place": "",
         "width": 1920, "height": 1080, "duration_s": 4.5}
    ]  # fmt: skip
    assert reg.call("media_details", {}, ctx)["results"][0]["place"] == "Nice, France"
    assert snapshot(pack.parent) == before
    assert any((tmp_path / "cache").iterdir())  # the notes index went to the cache

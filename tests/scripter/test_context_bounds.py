"""Context packs have bounds (issue 14, findings 6 and 7): files over the size limit
are ignored whole, links out of the pack are not followed, a dense recurrence is
dropped before any expansion, the agentic deadline binds tool calls, and the tool
registry cache is keyed by the zone a name resolves to and bounded."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from reels_core.domain import Mode
from reels_core.fast_script import fast_script
from scripter_service import generate as generate_mod
from scripter_service.agentic import LLM_TIMEOUT
from scripter_service.generate import ScriptGenerator
from scripter_service.llm import LLMConfig
from scripter_service.tools import common
from scripter_service.tools.calendar import CalendarProvider
from scripter_service.tools.messages import MessagesProvider
from scripter_service.tools.notes import NotesIndex
from scripter_service.tools.registry import Tool, default_registry
from tests.scripter.agentic_helpers import birthday_request, day_range
from tests.scripter.fake_llm import FakeLLM, answer, tool_calls

PARIS = ZoneInfo("Europe/Paris")
DAY = (dt.datetime(2026, 11, 28, tzinfo=PARIS), dt.datetime(2026, 11, 29, tzinfo=PARIS))


def messages_json(*texts: str) -> str:
    return json.dumps([{"ts": "2026-11-28T12:00:00+01:00", "from": "Ann", "text": t} for t in texts])


def test_a_note_linked_from_outside_the_pack_is_never_read(tmp_path: Path) -> None:
    """Finding 7: a planted link to a secret file sent it to the LLM provider."""
    secret = tmp_path / "home" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("the vault code is swordfish")
    notes = tmp_path / "lib" / ".reels-context" / "notes"
    notes.mkdir(parents=True)
    (notes / "trip.md").write_text("a picnic by the lake")
    (notes / "planted.md").symlink_to(secret)
    index = NotesIndex(notes, tmp_path / "cache")
    assert index.search_notes("swordfish") == []
    assert [hit["title"] for hit in index.search_notes("picnic")]


def test_context_files_linked_out_of_the_pack_are_ignored(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.json"
    outside.write_text(messages_json("private words"))
    pack = tmp_path / "lib" / ".reels-context"
    pack.mkdir(parents=True)
    (pack / "messages.json").symlink_to(outside)
    assert MessagesProvider(pack, PARIS).query(*DAY) == []


def test_context_files_over_the_size_limit_are_ignored_whole(tmp_path: Path, monkeypatch) -> None:
    """Finding 6: messages.json, calendar.ics and the GPX files were read whole."""
    pack = tmp_path / ".reels-context"
    pack.mkdir()
    (pack / "messages.json").write_text(messages_json("hello"))
    assert [m["text"] for m in MessagesProvider(pack, PARIS).query(*DAY)] == ["hello"]
    size = (pack / "messages.json").stat().st_size
    monkeypatch.setattr(common, "MAX_CONTEXT_FILE_BYTES", size - 1)
    monkeypatch.setattr(common.read_context_file, "__defaults__", (size - 1,))
    (pack / "messages.json").write_text(messages_json("hello!"))  # changed: read again
    assert MessagesProvider(pack, PARIS).query(*DAY) == []


DENSE = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//reels tests//EN
BEGIN:VEVENT
UID:tick@test
SUMMARY:Tick
DTSTART;TZID=Europe/Paris:20200101T000000
DURATION:PT1S
RRULE:FREQ=SECONDLY
END:VEVENT
BEGIN:VEVENT
UID:birthday@test
SUMMARY:Birthday
DTSTART;VALUE=DATE:20261128
DTEND;VALUE=DATE:20261129
END:VEVENT
END:VCALENDAR
"""


def test_a_secondly_recurrence_is_dropped_before_expansion(tmp_path: Path) -> None:
    """Finding 6: FREQ=SECONDLY over the query's range was expanded in full (about
    345,600 occurrences for a day and its margins) before any cap."""
    pack = tmp_path / ".reels-context"
    pack.mkdir()
    (pack / "calendar.ics").write_text(DENSE)
    events = CalendarProvider(pack, PARIS).events(*DAY)
    assert [e["uid"] for e in events] == ["birthday@test"]


def test_the_registry_cache_is_keyed_by_the_resolved_zone_and_bounded(tmp_path: Path, monkeypatch) -> None:
    """Finding 6: the cache grew with every distinct time_zone string, each entry a
    parsed copy of the pack."""
    pack = tmp_path / "lib"
    (pack / ".reels-context").mkdir(parents=True)
    gen = ScriptGenerator(libraries={"lib": pack}, cache_dir=tmp_path / "cache")
    first = gen.registry_for("lib", "Not/AZone")
    assert gen.registry_for("lib", "Also/Not/AZone") is first  # both are UTC
    assert gen.registry_for("lib", "UTC") is first
    monkeypatch.setattr(generate_mod, "MAX_REGISTRIES", 3)
    for zone in ("Europe/Paris", "Asia/Tokyo", "America/Lima", "Africa/Dakar"):
        gen.registry_for("lib", zone)
    assert len(gen._registries) == 3


def test_the_deadline_binds_tool_calls_too(sample_library_src: Path, tmp_path: Path) -> None:
    """Finding 6: the agentic deadline was checked only between LLM calls, so every
    tool call of a turn ran even when the first used up the time."""
    req = birthday_request(sample_library_src)
    fast_script(req)  # warm the place index, so the deadline below is the loop's
    ran: list[str] = []

    def slow(args, ctx):
        ran.append("slow")
        time.sleep(2.5)  # a slow tool (the work being bounded), not a synchronisation
        return {"results": []}

    registry = default_registry(sample_library_src / ".reels-context", req.timezone, tmp_path / "cache")
    registry.register(Tool("slow_lookup", "Slow.", {"type": "object", "properties": {}}, True, slow))
    original = registry.tools["calendar_events"]

    def calendar(args, ctx):
        ran.append("calendar")
        return original.fn(args, ctx)

    registry.tools["calendar_events"] = Tool("calendar_events", original.description, original.params, True, calendar)
    gen = ScriptGenerator(libraries={"sample": sample_library_src}, cache_dir=tmp_path / "cache", max_steps=4)
    gen._registries[(str(sample_library_src / ".reels-context"), req.timezone)] = registry
    with FakeLLM(
        [tool_calls(("slow_lookup", {}), ("calendar_events", day_range(req))), answer({"title": "late"})]
    ) as fake:
        gen.llm_config = LLMConfig(fake.base_url, "fake-model", "", 5.0)
        script = gen.generate(req, deadline_s=3.0)
    assert ran == ["slow"] and len(fake.requests) == 1
    assert (script.mode_used, script.fallback_reason) == (Mode.FAST, LLM_TIMEOUT)

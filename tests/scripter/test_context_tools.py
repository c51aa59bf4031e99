"""Context providers over a small crafted `.reels-context` pack, each on its own."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scripter_service.tools.calendar import CalendarProvider
from scripter_service.tools.locations import LocationsProvider
from scripter_service.tools.messages import MessagesProvider, stable_id
from scripter_service.tools.notes import NotesIndex

PARIS = ZoneInfo("Europe/Paris")
TOKYO = ZoneInfo("Asia/Tokyo")

CALENDAR = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//reels tests//EN
BEGIN:VEVENT
UID:yoga@test
SUMMARY:Yoga
DTSTART;TZID=Europe/Paris:20261005T183000
DTEND;TZID=Europe/Paris:20261005T193000
RRULE:FREQ=WEEKLY;BYDAY=MO
EXDATE;TZID=Europe/Paris:20261116T183000
LOCATION:Studio
END:VEVENT
BEGIN:VEVENT
UID:birthday@test
SUMMARY:Birthday
DTSTART;VALUE=DATE:20261128
DTEND;VALUE=DATE:20261129
END:VEVENT
BEGIN:VEVENT
UID:call@test
SUMMARY:Late call
DTSTART:20261127T233000Z
DTEND:20261128T000000Z
END:VEVENT
BEGIN:VEVENT
UID:old@test
SUMMARY:Long ago
DTSTART:20200101T100000Z
DTEND:20200101T110000Z
END:VEVENT
END:VCALENDAR
"""


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    ctx = tmp_path / "library" / ".reels-context"
    ctx.mkdir(parents=True)
    (ctx / "calendar.ics").write_text(CALENDAR.replace("\n", "\r\n"), encoding="utf-8")
    return ctx


def local(y, m, d, h=0, mi=0, tz=PARIS) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=tz)


# --------------------------------------------------------------------------- calendar


def test_recurring_event_is_expanded_inside_the_window_only(pack):
    cal = CalendarProvider(pack, PARIS)
    events = cal.events(local(2026, 11, 9), local(2026, 11, 24))
    yoga = [e for e in events if e["uid"] == "yoga@test"]
    # Mondays 9, 16 (excluded by EXDATE) and 23 November.
    assert [e["start"] for e in yoga] == ["2026-11-09T18:30:00+01:00", "2026-11-23T18:30:00+01:00"]
    assert yoga[0]["end"] == "2026-11-09T19:30:00+01:00"
    assert yoga[0] == {**yoga[0], "summary": "Yoga", "location": "Studio", "all_day": False}
    assert all(e["uid"] != "old@test" for e in events)


def test_all_day_and_utc_events_are_placed_in_the_library_time_zone(pack):
    saturday = CalendarProvider(pack, PARIS).events(local(2026, 11, 28), local(2026, 11, 29))
    assert [(e["uid"], e["all_day"]) for e in saturday] == [("birthday@test", True), ("call@test", False)]
    assert (saturday[0]["start"], saturday[0]["end"]) == ("2026-11-28", "2026-11-29")
    assert saturday[1]["start"] == "2026-11-28T00:30:00+01:00"  # 23:30Z Friday
    sunday = CalendarProvider(pack, PARIS).events(local(2026, 11, 29), local(2026, 11, 30))
    assert sunday == []  # the all-day event's end is exclusive
    # In Tokyo the UTC call falls on Saturday morning; the birthday stays on Saturday.
    tokyo = CalendarProvider(pack, TOKYO).events(local(2026, 11, 28, tz=TOKYO), local(2026, 11, 29, tz=TOKYO))
    assert {e["uid"] for e in tokyo} == {"call@test", "birthday@test"}
    friday_paris = CalendarProvider(pack, PARIS).events(local(2026, 11, 27), local(2026, 11, 28))
    assert friday_paris == []


def test_calendar_missing_file_means_no_events(tmp_path):
    assert CalendarProvider(tmp_path, PARIS).events(local(2026, 1, 1), local(2027, 1, 1)) == []


# --------------------------------------------------------------------------- locations


def _points(start: dt.datetime, hours: int, lat: float, lon: float, step_h: int = 2):
    return [
        {"ts": (start + dt.timedelta(hours=h)).isoformat(), "lat": lat + 0.001 * (h % 3), "lon": lon}
        for h in range(0, hours, step_h)
    ]


def test_stays_are_labelled_home_or_trip(pack):
    nice, cannes = (43.7031, 7.2661), (43.5513, 7.0128)
    pts = (
        _points(local(2026, 11, 20, 8), 24 * 5, *nice)  # five days at home
        + _points(local(2026, 11, 25, 9), 10, *cannes)  # a day trip
        + _points(local(2026, 11, 25, 20), 30, *nice)
    )
    (pack / "locations.json").write_text(json.dumps(pts), encoding="utf-8")
    loc = LocationsProvider(pack, PARIS)
    assert loc.home() == "Nice, France"
    stays = loc.stays(local(2026, 11, 25), local(2026, 11, 26))
    assert [(s["place"], s["label"]) for s in stays] == [("Nice", "home"), ("Cannes", "trip"), ("Nice", "home")]
    trip = stays[1]
    assert trip["arrival"] == "2026-11-25T09:00:00+01:00"
    assert trip["departure"] == "2026-11-25T17:00:00+01:00"
    assert trip["points"] == 5
    assert len(loc.points(local(2026, 11, 25, 9), local(2026, 11, 25, 12))) == 2


def test_gpx_track_is_read_and_wins_over_json(pack):
    (pack / "locations.json").write_text("[]", encoding="utf-8")
    (pack / "locations.gpx").write_text(
        """<?xml version="1.0"?>
<gpx version="1.1" creator="tests" xmlns="http://www.topografix.com/GPX/1/1">
 <trk><trkseg>
  <trkpt lat="48.8534" lon="2.3488"><time>2026-11-28T09:00:00Z</time></trkpt>
  <trkpt lat="48.8540" lon="2.3490"><time>2026-11-28T10:00:00Z</time></trkpt>
  <trkpt lat="48.8550" lon="2.3500"/>
 </trkseg></trk>
</gpx>""",
        encoding="utf-8",
    )
    loc = LocationsProvider(pack, PARIS)
    stays = loc.stays(local(2026, 11, 28), local(2026, 11, 29))
    assert len(stays) == 1
    assert stays[0]["place"] == "Paris" and stays[0]["label"] == "home" and stays[0]["points"] == 2
    assert stays[0]["arrival"] == "2026-11-28T10:00:00+01:00"


# --------------------------------------------------------------------------- messages


MESSAGES: list[dict[str, Any]] = [
    {
        "id": "a1",
        "ts": "2026-11-27T23:59:00+01:00",
        "from": "Ana",
        "to": ["me"],
        "text": "see you tomorrow",
        "thread": "t1",
    },
    {"ts": "2026-11-28T10:00:00+01:00", "from": "me", "to": ["Ana"], "text": "At the beach in Nice!", "thread": "t1"},
    {"ts": "2026-11-28T09:30:00Z", "from": "Bo", "to": "me", "text": "Happy birthday", "thread": "t2"},
    {"ts": "2026-11-29T00:00:00+01:00", "from": "Ana", "to": ["me"], "text": "beach again?", "thread": "t1"},
    {"ts": "not a time", "from": "x", "text": "skipped"},
]


def test_messages_by_range_and_text(pack):
    (pack / "messages.json").write_text(json.dumps(MESSAGES), encoding="utf-8")
    msgs = MessagesProvider(pack, PARIS)
    saturday = msgs.query(local(2026, 11, 28), local(2026, 11, 29))
    assert [m["text"] for m in saturday] == ["At the beach in Nice!", "Happy birthday"]
    assert saturday[1]["ts"] == "2026-11-28T10:30:00+01:00" and saturday[1]["to"] == ["me"]
    assert [m["text"] for m in msgs.query(local(2026, 11, 27), local(2026, 11, 30), text="BEACH")] == [
        "At the beach in Nice!",
        "beach again?",
    ]
    assert msgs.query(local(2026, 11, 27), local(2026, 11, 30), text="beach nice")[0]["thread"] == "t1"
    assert len(msgs.query(local(2026, 11, 1), local(2026, 12, 1), limit=2)) == 2


def test_message_ids_default_to_a_stable_hash(pack):
    (pack / "messages.json").write_text(json.dumps(MESSAGES), encoding="utf-8")
    first = MessagesProvider(pack, PARIS).query(local(2026, 11, 27), local(2026, 11, 30))
    again = MessagesProvider(pack, PARIS).query(local(2026, 11, 27), local(2026, 11, 30))
    assert first[0]["id"] == "a1"
    assert [m["id"] for m in first] == [m["id"] for m in again]
    assert first[1]["id"] == stable_id(MESSAGES[1]) and first[1]["id"].startswith("m_")
    assert len({m["id"] for m in first}) == len(first)


# --------------------------------------------------------------------------- notes


def _write_notes(pack: Path) -> Path:
    notes = pack / "notes"
    (notes / "trips").mkdir(parents=True)
    (notes / "trips" / "nice.md").write_text(
        "# Weekend in Nice\n\nWe walked the Promenade des Anglais and swam at the beach.\n", encoding="utf-8"
    )
    (notes / "groceries.txt").write_text("Groceries\nmilk, bread, beach towel\n", encoding="utf-8")
    (notes / "recipes.md").write_text("# Recipes\n\nSocca from Nice: chickpea flour, olive oil.\n", encoding="utf-8")
    (notes / "image.png").write_bytes(b"\x89PNG not a note")
    return notes


def test_fts_search_ranks_the_right_note_and_keeps_the_library_untouched(pack, tmp_path):
    notes = _write_notes(pack)
    before = sorted(p.relative_to(pack) for p in pack.rglob("*"))
    index = NotesIndex(notes, tmp_path / "cache")
    hits = index.search_notes("promenade swimming", limit=5)
    assert hits[0]["path"] == "trips/nice.md"
    assert hits[0]["title"] == "Weekend in Nice"
    assert "[Promenade]" in hits[0]["snippet"]
    assert hits[0]["score"] > 0
    nice_hits = index.search_notes("nice", limit=5)
    assert [h["path"] for h in nice_hits][0] == "trips/nice.md"  # title match outweighs body
    assert {h["path"] for h in nice_hits} == {"trips/nice.md", "recipes.md"}
    assert index.search_notes('"); DROP TABLE notes; --') == []  # FTS syntax is neutralised
    assert sorted(p.relative_to(pack) for p in pack.rglob("*")) == before
    assert index.db_path.parent == tmp_path / "cache"


def test_notes_index_is_rebuilt_when_a_file_changes(pack, tmp_path):
    notes = _write_notes(pack)
    index = NotesIndex(notes, tmp_path / "cache")
    assert index.search_notes("kayak") == []
    assert index.rebuilds == 1
    index.search_notes("beach")
    assert index.rebuilds == 1  # unchanged folder: no rebuild
    target = notes / "groceries.txt"
    target.write_text("Groceries\nkayak rental, sunscreen\n", encoding="utf-8")
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert [h["path"] for h in index.search_notes("kayak")] == ["groceries.txt"]
    assert index.rebuilds == 2
    (notes / "recipes.md").unlink()
    assert index.search_notes("socca") == []
    # A second index object over the same cache reuses the built index.
    other = NotesIndex(notes, tmp_path / "cache")
    other.search_notes("kayak")
    assert other.rebuilds == 0


def test_notes_index_refuses_a_cache_inside_the_library(pack):
    with pytest.raises(ValueError):
        NotesIndex(pack / "notes", pack.parent / "cache")

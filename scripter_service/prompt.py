"""The agentic scripter's prompt: what the model is asked, and the shape of its answer.

``build_messages`` writes a system message (the task, the rules of grounding, the
closed vocabularies, the tools, the answer's JSON schema) and a user message (the
window, the target length, the taste distillate, each candidate with its local time
and place name from its GPS, and the fast script as a draft to improve). Personal
text (messages, notes, event titles) reaches the model only through tool results,
never through this module, and nothing here is logged.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from reels_core import moments, places
from reels_core.domain import (
    CAPTION_MAX_CHARS,
    MOODS,
    MOTIONS,
    MUSIC_STYLES,
    TRANSITIONS,
    Candidate,
    Kind,
    Script,
    ScriptRequest,
)
from reels_core.fast_script import MIN_SHOT_S, WEEKDAYS, ranking, target_duration_s, zone
from reels_core.script_limits import SUBTITLE_MAX_CHARS, TITLE_MAX_CHARS  # the limits the render side checks
from scripter_service.tools.registry import Tool

DURATION_TOLERANCE = 0.10  # the shots' total may differ from the target by this fraction
MAX_PROMPT_CANDIDATES = 80  # a month can hold hundreds; the draft's picks always go in
MAX_LEARNED_STYLES = 5
SOURCE_KINDS = ("event", "place", "message", "note")

SYSTEM_PROMPT = """\
You write the script of a "memory reel": a short video montage of a person's photos \
and videos from one period of their life, with a title, a caption on each shot and a \
few narration lines.

You are given the period, the candidate photos and videos (local time, place), the \
person's taste, and a draft script built from dates and places only. Make it \
personal: call the read-only tools to learn what happened (calendar events, where \
the person was, messages, notes), then name the occasion, the people and the places \
in the title, captions and narration. "Grandma's 90th birthday by the sea" is better \
than "June 14, Nice". Call several tools in one turn when you can; you have few turns.

Rules:
1. Shots use only media ids from the candidate list, in the order they should play. \
The list is already ranked: near-duplicates, screenshots, blurred and dark shots are \
left out; prefer "favorite" ones, then those with "faces", then a higher "quality"; \
cover every part of the period before giving one part a second shot. \
Keep the draft's shots and durations unless you have a reason to change them. \
Durations are in seconds and must add up to the target length; no shot shorter \
than {min_shot_s} s.
2. A caption is at most {caption_max} characters, a narration line too; the title at \
most {title_max}, the subtitle at most {subtitle_max}.
3. Ground every fact. Each item a tool returns has a "source_id"; each candidate's \
place has one too. A shot or narration line that uses an item lists its source_id in \
"source_ids". Never cite an id you were not given, never invent a fact. A caption \
that uses no tool result keeps the draft's wording or an empty "source_ids".
4. "mood" is one of: {moods}. "music_style" is one of: {music_styles}. "motion" is \
one of: {motions}. "transition" is one of: {transitions}.
5. When you are done, answer with one JSON object and nothing else (no prose, no \
code fence), matching this JSON schema:
{schema}

Tools (read-only; time ranges outside the period are clamped to it):
{tools}"""


def build_messages(req: ScriptRequest, draft: Script, tools: list[Tool], target_s: float) -> list[dict[str, Any]]:
    """The opening chat messages for ``req``: a system and a user message."""
    system = SYSTEM_PROMPT.format(
        min_shot_s=MIN_SHOT_S,
        caption_max=CAPTION_MAX_CHARS,
        title_max=TITLE_MAX_CHARS,
        subtitle_max=SUBTITLE_MAX_CHARS,
        moods=", ".join(MOODS),
        music_styles=", ".join(MUSIC_STYLES),
        motions=", ".join(MOTIONS),
        transitions=", ".join(TRANSITIONS),
        schema=json.dumps(output_schema(max_shots(req, draft)), separators=(",", ":")),
        tools="\n".join(f"- {t.name}: {t.description}" for t in tools) or "- (none)",
    )
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": user_message(req, draft, target_s)},
    ]


def user_message(req: ScriptRequest, draft: Script, target_s: float) -> str:
    tz = zone(req.timezone)
    window = req.window
    ranges = "; ".join(f"{a.isoformat()} to {b.isoformat()}" for a, b in window.ranges)
    if window.kind == Kind.ON_THIS_DAY:
        span = window.span.value.lower()
        what = f"ON THIS DAY: the same {span} in earlier years (anchor {window.anchor.isoformat()})"
    else:
        what = f"RECAP of one {window.span.value.lower()}"
    lines = [
        f"Reel: {what}.",
        f"Period (local dates, end exclusive): {ranges}. Time zone: {req.timezone or 'UTC'}.",
        "Tool time ranges for it: "
        + "; ".join(f'start "{_midnight(a, tz)}", end "{_midnight(b, tz)}"' for a, b in window.ranges)
        + ".",
        f"Target length: {target_s:g} s, at most {max_shots(req, draft)} shots.",
        f"Taste: {taste(req)}",
        "",
        "Candidates (one JSON object per line):",
        *(json.dumps(c, ensure_ascii=False) for c in candidate_rows(req, draft, tz)),
        "",
        "Draft script (dates and places only):",
        json.dumps(draft_summary(draft), ensure_ascii=False),
    ]
    return "\n".join(lines)


def _midnight(day: dt.date, tz: dt.tzinfo) -> str:
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).isoformat()


def ranked_candidates(req: ScriptRequest) -> list[Candidate]:
    """The candidates worth a shot, best first: the same ranked list the FAST script
    picks from (``reels_core.moments``: near-duplicates collapsed to their best
    frame; screenshots, blurred and dark shots out when something else covers their
    moment)."""
    tz = zone(req.timezone)
    ranked = ranking(req.candidates, req.window, tz, req.max_shots, target_duration_s(req))
    by_id = {c.media_id: c for c in req.candidates}
    return [by_id[mid] for mid in ranked.eligible]


def candidate_rows(req: ScriptRequest, draft: Script, tz: dt.tzinfo) -> list[dict[str, Any]]:
    """The ranked candidates with local time, place and what the analysis found; at
    most MAX_PROMPT_CANDIDATES, the draft's picks first kept, then the best ranked,
    in time order."""
    eligible = ranked_candidates(req)
    in_draft = {s.media_id for s in draft.shots}
    keep = [c for c in eligible if c.media_id in in_draft]
    keep += [c for c in eligible if c.media_id not in in_draft][: max(0, MAX_PROMPT_CANDIDATES - len(keep))]
    ordered = sorted(keep, key=lambda c: (c.taken_at, c.media_id))
    found = places.places([(c.lat, c.lon) for c in ordered])
    rows = []
    for c, p in zip(ordered, found, strict=True):
        local = c.taken_at.astimezone(tz) if c.taken_at.tzinfo else c.taken_at.replace(tzinfo=tz)
        row: dict[str, Any] = {
            "media_id": c.media_id,
            "kind": c.kind.value.lower(),
            "local_time": local.isoformat(timespec="minutes"),
            "weekday": WEEKDAYS[local.weekday()],
        }
        if p is not None:
            row["place"] = p.label
            row["place_source_id"] = place_source_id(p)
        if c.duration_s:
            row["clip_s"] = round(c.duration_s, 2)
        if c.quality.analysed:
            row["quality"] = round(moments.score(c), 2)
            if c.quality.faces:
                row["faces"] = len(c.quality.faces)
            if moments.is_favorite(c.quality):
                row["favorite"] = True
        rows.append(row)
    return rows


def draft_summary(draft: Script) -> dict[str, Any]:
    return {
        "title": draft.title,
        "subtitle": draft.subtitle,
        "mood": draft.mood,
        "music_style": draft.music_style,
        "shots": [
            {
                "media_id": s.media_id,
                "duration_s": s.duration_s,
                "caption": s.caption,
                "motion": s.motion,
                "transition": s.transition,
            }
            for s in draft.shots
        ],
    }


def taste(req: ScriptRequest) -> str:
    """The preferences distillate in one line."""
    prefs = req.preferences
    parts = []
    if prefs.mood:
        parts.append(f'mood must be "{prefs.mood}"')
    if prefs.music_style:
        parts.append(f'music_style must be "{prefs.music_style}"')
    if prefs.favorite_moods:
        parts.append("favourite moods: " + ", ".join(prefs.favorite_moods))
    if prefs.disliked_music_styles:
        parts.append("disliked music styles: " + ", ".join(prefs.disliked_music_styles))
    rated = sorted(prefs.style_stats, key=lambda s: (-(s.good - s.bad), -(s.good + s.bad), s.mood, s.music_style))
    if rated:
        parts.append(
            "past ratings: "
            + ", ".join(f"{s.mood}+{s.music_style} {s.good} good/{s.bad} bad" for s in rated[:MAX_LEARNED_STYLES])
        )
    return "; ".join(parts) + "." if parts else "no preference known; the draft's mood and music are a fine default."


def max_shots(req: ScriptRequest, draft: Script) -> int:
    return max(req.max_shots or 20, len(draft.shots), 1)


def place_source_id(place: places.Place) -> str:
    """'place:nice-fr': the id FAST grounding gives the same place."""
    return "place:" + "-".join(
        "".join(ch if ch.isalnum() else "_" for ch in part.lower()) for part in (place.city, place.country_code) if part
    )


def output_schema(shot_limit: int) -> dict[str, Any]:
    """JSON schema of the model's final answer."""
    ids = {"type": "array", "items": {"type": "string"}}
    return {
        "type": "object",
        "required": ["title", "subtitle", "mood", "music_style", "shots"],
        "properties": {
            "title": {"type": "string", "maxLength": TITLE_MAX_CHARS},
            "subtitle": {"type": "string", "maxLength": SUBTITLE_MAX_CHARS},
            "mood": {"enum": list(MOODS)},
            "music_style": {"enum": list(MUSIC_STYLES)},
            "shots": {
                "type": "array",
                "minItems": 1,
                "maxItems": shot_limit,
                "items": {
                    "type": "object",
                    "required": ["media_id", "duration_s", "caption"],
                    "properties": {
                        "media_id": {"type": "string"},
                        "duration_s": {"type": "number"},
                        "caption": {"type": "string", "maxLength": CAPTION_MAX_CHARS},
                        "motion": {"enum": list(MOTIONS)},
                        "transition": {"enum": list(TRANSITIONS)},
                        "source_ids": ids,
                    },
                },
            },
            "narration": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["text", "start_s", "end_s"],
                    "properties": {
                        "text": {"type": "string", "maxLength": CAPTION_MAX_CHARS},
                        "start_s": {"type": "number"},
                        "end_s": {"type": "number"},
                        "source_ids": ids,
                    },
                },
            },
        },
    }

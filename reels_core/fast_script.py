"""FAST mode: a deterministic script from media metadata alone.

``fast_script(req)`` is a pure function of the request: the same request (seed
included) always yields the same script. It is what the scripter answers in FAST
mode, what AGENTIC falls back to, and what the render service computes in-process
when the scripter is unreachable.

Steps:
1. pick at most ``max_shots`` candidates with ``moments.rank`` (every moment of the
   window once before any twice, near-duplicates collapsed, screenshots, blurred
   and dark shots left out when an alternative exists; no shot under MIN_SHOT_S),
   in time order;
2. share the target length among the shots to the centisecond, a video never longer
   than its clip;
3. title, subtitle, captions and narration from local dates (library time zone) and
   offline place names;
4. mood and music style: explicit preferences win, else Thompson sampling over the
   learned (mood, music style) outcomes, seeded by ``req.seed``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog

from reels_core import moments, places
from reels_core.domain import (
    CAPTION_MAX_CHARS,
    DEFAULT_TARGET_S,
    MAX_TARGET_S,
    MIN_TARGET_S,
    MOODS,
    MOTIONS,
    MUSIC_STYLES,
    Candidate,
    GroundingSource,
    Kind,
    MediaKind,
    Mode,
    NarrationLine,
    Preferences,
    Script,
    ScriptRequest,
    Shot,
    Span,
    Window,
)

log = structlog.get_logger(__name__)

DEFAULT_MAX_SHOTS = 20  # when the request says 0
MIN_SHOT_S = 1.2
MAX_NARRATION_LINES = 6
NARRATION_INSET_S = 0.25  # a line starts a little after its first shot and ends before its last

# Style choice (see choose_style).
FAVORITE_MOOD_WEIGHT = 2.0  # taste weight of a pair with a favourite mood
DISLIKED_STYLE_WEIGHT = 0.25  # taste weight of a pair with a disliked music style
REVISIT_PROBABILITY = 0.05  # chance of re-trying a rated pair, whatever its record

PHOTO_MOTIONS = tuple(m for m in MOTIONS if m != "static")
VIDEO_MOTION = "static"

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


# --------------------------------------------------------------------------- public


def fast_script(req: ScriptRequest) -> Script:
    """The FAST script for ``req``; deterministic for the same request."""
    tz = zone(req.timezone)
    target = target_duration_s(req)
    media = select_media(req.candidates, req.window, tz, req.max_shots, target)
    durations = allocate_durations(media, target)
    local = [_local(c.taken_at, tz) for c in media]
    found = places.places([(c.lat, c.lon) for c in media])
    names = [p.city if p else None for p in found]

    rng = random.Random(req.seed)
    motion_offset = rng.randrange(len(PHOTO_MOTIONS))
    shots: list[Shot] = []
    photo_no = 0
    for i, cand in enumerate(media):
        if cand.kind == MediaKind.VIDEO:
            motion = VIDEO_MOTION
        else:
            motion = PHOTO_MOTIONS[(motion_offset + photo_no) % len(PHOTO_MOTIONS)]
            photo_no += 1
        # Transition into this shot: a dip to black where a new day (or year) starts.
        new_chapter = i > 0 and _chapter(req.window, local[i]) != _chapter(req.window, local[i - 1])
        shots.append(
            Shot(
                media_id=cand.media_id,
                duration_s=durations[i],
                caption=caption(req.window, local[i], names[i]),
                motion=motion,
                transition="fade_black" if new_chapter else "crossfade",
            )
        )

    grounding, place_ids = _place_grounding(found)
    title, subtitle = title_and_subtitle(req.window, local, names)
    mood, music_style = choose_style(req.preferences, req.seed)
    narration = _narration(req.window, shots, local, names, place_ids)
    script = Script(
        title=title,
        subtitle=subtitle,
        mood=mood,
        music_style=music_style,
        shots=shots,
        narration=narration,
        grounding=grounding,
        mode_used=Mode.FAST,
    )
    log.debug(
        "fast_script",
        candidates=len(req.candidates),
        shots=len(shots),
        duration_s=round(script.duration_s, 2),
        mood=mood,
        music_style=music_style,
    )
    return script


def target_duration_s(req: ScriptRequest) -> float:
    """Explicit preference, else learned preference, else the request's; 10..120 s."""
    prefs = req.preferences
    for value in (prefs.target_duration_s, prefs.preferred_duration_s, req.target_duration_s):
        if value and value > 0:
            return round(min(MAX_TARGET_S, max(MIN_TARGET_S, float(value))), 2)
    return DEFAULT_TARGET_S


def zone(name: str) -> dt.tzinfo:
    """The library time zone; UTC when the name is empty or unknown."""
    try:
        return ZoneInfo(name) if name else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def select_media(
    candidates: tuple[Candidate, ...] | list[Candidate],
    window: Window,
    tz: dt.tzinfo,
    max_shots: int,
    target_s: float,
) -> list[Candidate]:
    """The shots, in time order: ``moments.rank``'s picks, at most ``max_shots``
    (0: DEFAULT_MAX_SHOTS) and few enough that each lasts at least MIN_SHOT_S.

    Every moment of the window is covered once (by its best frame) before any
    gets a second shot; near-duplicates collapse to their best frame; screenshots,
    blurred and dark shots are left out when something else covers their moment;
    clips shorter than MIN_SHOT_S are left out unless there is nothing else.
    """
    by_id = {c.media_id: c for c in candidates}
    return [by_id[mid] for mid in ranking(candidates, window, tz, max_shots, target_s).media_ids]


def ranking(
    candidates: tuple[Candidate, ...] | list[Candidate], window: Window, tz: dt.tzinfo, max_shots: int, target_s: float
) -> moments.Ranking:
    """The ranked picks behind ``select_media`` (with why each was picked)."""
    wanted = int(max_shots) if max_shots > 0 else DEFAULT_MAX_SHOTS
    limit = max(1, min(wanted, int(round(target_s * 100)) // int(round(MIN_SHOT_S * 100))))
    return moments.rank(candidates, tz, limit, position=lambda local: _window_position(window, local))


def allocate_durations(media: list[Candidate], target_s: float) -> list[float]:
    """Shot lengths summing to ``target_s`` to the centisecond.

    Equal shares, except that a video never gets more than its clip: the rest goes
    to the other shots (water-filling). If every shot is a video and the clips are
    too short, the total is the sum of the clips.
    """
    if not media:
        return []
    total = int(round(target_s * 100))
    caps = [int(c.duration_s * 100) if c.kind == MediaKind.VIDEO and c.duration_s > 0 else None for c in media]
    alloc = [0] * len(media)
    remaining = total
    open_idx = list(range(len(media)))
    while open_idx:
        share = remaining / len(open_idx)
        capped = {i: cap for i in open_idx if (cap := caps[i]) is not None and cap < share}
        if not capped:
            break
        for i, cap in capped.items():
            alloc[i] = cap
            remaining -= cap
        open_idx = [i for i in open_idx if i not in capped]
    if open_idx:
        base, extra = divmod(remaining, len(open_idx))
        for n, i in enumerate(open_idx):
            alloc[i] = base + (1 if n < extra else 0)
    return [cs / 100 for cs in alloc]


def choose_style(prefs: Preferences, seed: int) -> tuple[str, str]:
    """(mood, music style): explicit preferences win, else Thompson sampling.

    Every pair of MOODS x MUSIC_STYLES has a Beta(good + 1, bad + 1) posterior from
    the learned ``style_stats`` (an untried pair: Beta(1, 1)). One value is drawn per
    rated pair, multiplied by the pair's taste weight (FAVORITE_MOOD_WEIGHT for a
    favourite mood, DISLIKED_STYLE_WEIGHT for a disliked music style), and the
    highest wins.

    Two rules keep exploring without drowning what has been learned:
    - the untried pairs compete as one arm: one of them is picked (in proportion to
      its taste weight) and gets one weighted Beta(1, 1) draw. A draw for each of
      them would let 20-odd untried pairs outvote a pair with a strong record most
      of the time;
    - with REVISIT_PROBABILITY a rated pair is re-tried whatever its record, so that
      a pair with a bad record still comes back now and then.

    An explicit mood (or style) restricts the pairs to it. Randomness comes only from
    a ``random.Random`` seeded with ``seed`` (its own stream, independent of the one
    that picks motions): the same preferences and seed give the same choice.
    """
    mood = _vocab(prefs.mood, MOODS)
    style = _vocab(prefs.music_style, MUSIC_STYLES)
    if mood and style:
        return mood, style
    pairs = [(m, s) for m in ((mood,) if mood else MOODS) for s in ((style,) if style else MUSIC_STYLES)]
    good: Counter[tuple[str, str]] = Counter()
    bad: Counter[tuple[str, str]] = Counter()
    for stat in prefs.style_stats:
        key = (_vocab(stat.mood, MOODS), _vocab(stat.music_style, MUSIC_STYLES))
        good[key] += max(0, int(stat.good))
        bad[key] += max(0, int(stat.bad))
    favorites = {_vocab(m, MOODS) for m in prefs.favorite_moods} - {""}
    disliked = {_vocab(s, MUSIC_STYLES) for s in prefs.disliked_music_styles} - {""}

    def weight(pair: tuple[str, str]) -> float:
        return (FAVORITE_MOOD_WEIGHT if pair[0] in favorites else 1.0) * (
            DISLIKED_STYLE_WEIGHT if pair[1] in disliked else 1.0
        )

    rated = [p for p in pairs if good[p] or bad[p]]
    untried = [p for p in pairs if not (good[p] or bad[p])]
    rng = random.Random(f"style:{seed}")
    if rated and rng.random() < REVISIT_PROBABILITY:
        return rng.choices(rated, weights=[weight(p) for p in rated])[0]
    best, best_score = pairs[0], -1.0
    for pair in rated:
        score = rng.betavariate(good[pair] + 1, bad[pair] + 1) * weight(pair)
        if score > best_score:
            best, best_score = pair, score
    if untried:
        pick = rng.choices(untried, weights=[weight(p) for p in untried])[0]
        if rng.betavariate(1, 1) * weight(pick) > best_score:
            best = pick
    return best


def years_ago(anchor: dt.date, year: int) -> str:
    """'1 year ago', '3 years ago' (counted in calendar years from the anchor's)."""
    n = anchor.year - year
    return "1 year ago" if n == 1 else f"{n} years ago"


def caption(window: Window, local: dt.datetime, place: str | None) -> str:
    """'Sat 14:05 · Nice' (DAY/WEEK recap), 'Sat 14 Nov 14:05 · Nice' (MONTH and
    YEAR recap, TRIP), '3 years ago · Sat 30 Nov 2023 · Nice' (ON_THIS_DAY); at most
    CAPTION_MAX_CHARS."""
    day = WEEKDAYS[local.weekday()][:3]
    clock = f"{local.hour:02d}:{local.minute:02d}"
    month = MONTHS[local.month - 1][:3]
    if window.kind == Kind.ON_THIS_DAY:
        when = f"{years_ago(window.anchor, local.year)} · {day} {local.day} {month} {local.year}"
    elif window.span in (Span.MONTH, Span.YEAR) or window.kind == Kind.TRIP:
        when = f"{day} {local.day} {month} {clock}"
    else:
        when = f"{day} {clock}"
    if not place:
        return when[:CAPTION_MAX_CHARS]
    return _fit(f"{when} · ", place)


def title_and_subtitle(window: Window, local: list[dt.datetime], names: list[str | None]) -> tuple[str, str]:
    """Title and subtitle from the window's dates and the shots' places."""
    top = _top_places(names)
    where = ", ".join(top)
    first_day = window.start
    last_day = window.end - dt.timedelta(days=1)
    if window.kind == Kind.TRIP:
        title = f"Trip to {top[0]}" if top else "Your trip"
        nights = (window.end - window.start).days - 1
        return title, _join(_date_range(first_day, last_day), f"{nights} nights")
    if window.kind == Kind.RECAP and window.span == Span.YEAR:
        return f"Your {first_day.year}", where or "A year of memories"
    if window.kind == Kind.RECAP:
        if window.span == Span.DAY:
            weekday = WEEKDAYS[first_day.weekday()]
            title = f"{weekday} in {top[0]}" if top else f"Your {weekday}"
            return title, _date(first_day)
        if window.span == Span.WEEK:
            return "Your week", _join(_date_range(first_day, last_day), where)
        return f"{MONTHS[first_day.month - 1]} {first_day.year}", where or "Your month"
    # ON_THIS_DAY: one range per earlier year.
    years = sorted({d.year for d in local}) or sorted({r[0].year for r in window.ranges})
    year_text = _years(years)
    start, end = window.ranges[-1] if window.ranges else (first_day, window.end)
    month = MONTHS[start.month - 1]
    if window.span == Span.DAY:
        return "On this day", _join(f"{start.day} {month}", year_text)
    if window.span == Span.WEEK:
        days = _date_range(start, end - dt.timedelta(days=1), with_year=False)
        return "This week, years ago", _join(days, year_text)
    return f"{month} through the years", _join(year_text, where)


# --------------------------------------------------------------------------- helpers


def _vocab(value: str, vocabulary: tuple[str, ...]) -> str:
    folded = (value or "").strip().lower()
    return folded if folded in vocabulary else ""


def _local(ts: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    return ts.replace(tzinfo=tz) if ts.tzinfo is None else ts.astimezone(tz)


def _utc(ts: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    return _local(ts, tz).astimezone(dt.UTC)


def _window_position(window: Window, local: dt.datetime) -> float:
    """Seconds into the window counting only its ranges, so that the years between
    the ranges of an ON_THIS_DAY window take no room. Monotone in ``local``."""
    naive = local.replace(tzinfo=None)
    offset = 0.0
    for i, (start, end) in enumerate(window.ranges):
        begin = dt.datetime.combine(start, dt.time())
        finish = dt.datetime.combine(end, dt.time())
        if naive < finish or i == len(window.ranges) - 1:
            into = (naive - begin).total_seconds()
            return offset + (into if i == 0 else max(0.0, into))  # a gap counts as the next start
        offset += (finish - begin).total_seconds()
    return (naive - dt.datetime(1970, 1, 1)).total_seconds()


def _chapter(window: Window, local: dt.datetime) -> object:
    if window.kind == Kind.ON_THIS_DAY:
        return local.year
    if window.span == Span.YEAR and window.kind == Kind.RECAP:
        return local.month
    return local.date()


def _fit(prefix: str, name: str) -> str:
    room = CAPTION_MAX_CHARS - len(prefix)
    if len(name) > room:
        name = name[: max(0, room - 1)] + "…"
    return (prefix + name)[:CAPTION_MAX_CHARS]


def _top_places(names: list[str | None], limit: int = 3) -> list[str]:
    counts = Counter(n for n in names if n)
    first_seen = {n: i for i, n in reversed(list(enumerate(names))) if n}
    return sorted(counts, key=lambda n: (-counts[n], first_seen[n]))[:limit]


def _join(*parts: str) -> str:
    return " · ".join(p for p in parts if p)


def _date(day: dt.date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def _date_range(first: dt.date, last: dt.date, with_year: bool = True) -> str:
    """'23–29 November 2026', '30 November – 6 December 2026', across years in full."""
    year = f" {last.year}" if with_year else ""
    if first == last:
        return f"{first.day} {MONTHS[first.month - 1]}{year}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{last.day} {MONTHS[last.month - 1]}{year}"
    if first.year == last.year or not with_year:
        return f"{first.day} {MONTHS[first.month - 1]} – {last.day} {MONTHS[last.month - 1]}{year}"
    return f"{_date(first)} – {_date(last)}"


def _years(years: list[int]) -> str:
    if len(years) > 5:
        return f"{years[0]}–{years[-1]}"
    return ", ".join(str(y) for y in years)


def _place_grounding(found: list[places.Place | None]) -> tuple[list[GroundingSource], list[str | None]]:
    """One 'place' grounding source per distinct place, with the shots it supports."""
    sources: dict[str, GroundingSource] = {}
    ids: list[str | None] = []
    for i, p in enumerate(found):
        if p is None:
            ids.append(None)
            continue
        source_id = "place:" + "-".join(
            "".join(ch if ch.isalnum() else "_" for ch in part.lower()) for part in (p.city, p.country_code) if part
        )
        src = sources.setdefault(source_id, GroundingSource(kind="place", source_id=source_id, label=p.label))
        src.supports_shots.append(i)
        ids.append(source_id)
    return list(sources.values()), ids


def _part_of_day(local: dt.datetime) -> str:
    hour = local.hour
    if 5 <= hour < 12:
        return "Morning"
    if 12 <= hour < 18:
        return "Afternoon"
    if 18 <= hour < 23:
        return "Evening"
    return "Night"


def _group_key_fn(window: Window) -> Callable[[dt.datetime, str | None], object]:
    if window.kind == Kind.ON_THIS_DAY:
        return lambda local, place: local.year
    if window.span == Span.YEAR and window.kind == Kind.RECAP:
        return lambda local, place: local.month
    if window.span == Span.DAY and window.kind != Kind.TRIP:
        return lambda local, place: (_part_of_day(local), place)
    return lambda local, place: local.date()


def _narration(
    window: Window,
    shots: list[Shot],
    local: list[dt.datetime],
    names: list[str | None],
    place_ids: list[str | None],
) -> list[NarrationLine]:
    """One line per chapter (part of day and place, day, or year), at most
    MAX_NARRATION_LINES, each shown inside the time of its shots."""
    if not shots:
        return []
    key_fn = _group_key_fn(window)
    groups: list[list[int]] = []  # shot indexes per chapter
    last_key: object = object()
    for i in range(len(shots)):
        key = key_fn(local[i], names[i])
        if window.span == Span.DAY and window.kind == Kind.RECAP and names[i] is None and groups:
            key = last_key  # a shot without a place stays in the current chapter
        if key != last_key:
            groups.append([])
            last_key = key
        groups[-1].append(i)
    while len(groups) > MAX_NARRATION_LINES:  # merge the smallest neighbours
        j = min(range(len(groups) - 1), key=lambda g: len(groups[g]) + len(groups[g + 1]))
        groups[j : j + 2] = [groups[j] + groups[j + 1]]

    starts: list[float] = []
    clock = 0.0
    for shot in shots:
        starts.append(clock)
        clock += shot.duration_s
    lines: list[NarrationLine] = []
    for group in groups:
        first, last = group[0], group[-1]
        begin = starts[first]
        end = starts[last] + shots[last].duration_s
        if end - begin > 2 * NARRATION_INSET_S + 1.0:
            begin, end = begin + NARRATION_INSET_S, end - NARRATION_INSET_S
        group_names = [names[i] for i in group]
        sources = list(dict.fromkeys(pid for i in group if (pid := place_ids[i])))
        lines.append(
            NarrationLine(
                text=_line_text(window, local[first], local[last], _top_places(group_names, 2)),
                start_s=round(begin, 2),
                end_s=round(min(end, clock), 2),
                source_ids=sources,
            )
        )
    return lines


def _line_text(window: Window, first: dt.datetime, last: dt.datetime, where: list[str]) -> str:
    if window.kind == Kind.ON_THIS_DAY:
        when = years_ago(window.anchor, first.year) if first.year == last.year else f"{first.year} to {last.year}"
    elif window.kind == Kind.TRIP:
        day_a, day_b = (first.date() - window.start).days + 1, (last.date() - window.start).days + 1
        when = f"Day {day_a}" if day_a == day_b else f"Days {day_a} to {day_b}"
    elif window.span == Span.YEAR:
        month_a, month_b = MONTHS[first.month - 1], MONTHS[last.month - 1]
        when = month_a if month_a == month_b else f"{month_a} to {month_b}"
    elif window.span == Span.DAY:
        a, b = _part_of_day(first), _part_of_day(last)
        when = a if a == b else f"{a} to {b.lower()}"
    elif window.span == Span.WEEK:
        a, b = WEEKDAYS[first.weekday()], WEEKDAYS[last.weekday()]
        when = a if first.date() == last.date() else f"{a} to {b}"
    else:
        when = _date_range(first.date(), last.date(), with_year=False)
    if not where:
        return when[:CAPTION_MAX_CHARS]
    return _fit(f"{when} in ", " and ".join(where))

"""Mapping between the script domain types and the reels.v1 messages.

Used at the wire boundary only: by the scripter's servicer, and by the render
service's scripter client and `GetReel`.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, overload

from google.protobuf import timestamp_pb2
from google.type import date_pb2

from reels.v1 import common_pb2, scripter_service_pb2
from reels_core.domain import (
    DEFAULT_TARGET_S,
    MAX_TARGET_S,
    MIN_TARGET_S,
    Candidate,
    FaceBox,
    GroundingSource,
    Kind,
    MediaKind,
    Mode,
    NarrationLine,
    Preferences,
    Quality,
    Script,
    ScriptRequest,
    Shot,
    Span,
    StyleStat,
    Window,
)
from reels_core.errors import InvalidArgument

SPAN_TO_PB = {
    Span.DAY: common_pb2.SPAN_DAY,
    Span.WEEK: common_pb2.SPAN_WEEK,
    Span.MONTH: common_pb2.SPAN_MONTH,
    Span.YEAR: common_pb2.SPAN_YEAR,
}
SPAN_FROM_PB: dict[int, Span] = {v: k for k, v in SPAN_TO_PB.items()}
KIND_TO_PB = {
    Kind.ON_THIS_DAY: common_pb2.REEL_KIND_ON_THIS_DAY,
    Kind.RECAP: common_pb2.REEL_KIND_RECAP,
    Kind.TRIP: common_pb2.REEL_KIND_TRIP,
}
KIND_FROM_PB: dict[int, Kind] = {v: k for k, v in KIND_TO_PB.items()}
MODE_TO_PB = {Mode.FAST: common_pb2.SCRIPT_MODE_FAST, Mode.AGENTIC: common_pb2.SCRIPT_MODE_AGENTIC}
MODE_FROM_PB: dict[int, Mode] = {v: k for k, v in MODE_TO_PB.items()}
MEDIA_KIND_TO_PB = {MediaKind.PHOTO: common_pb2.MEDIA_KIND_PHOTO, MediaKind.VIDEO: common_pb2.MEDIA_KIND_VIDEO}
MEDIA_KIND_FROM_PB: dict[int, MediaKind] = {v: k for k, v in MEDIA_KIND_TO_PB.items()}


@overload
def span_from_pb(value: int, *, required: Literal[True] = True) -> Span: ...
@overload
def span_from_pb(value: int, *, required: bool) -> Span | None: ...
def span_from_pb(value: int, *, required: bool = True) -> Span | None:
    if value in SPAN_FROM_PB:
        return SPAN_FROM_PB[value]
    if value == common_pb2.SPAN_UNSPECIFIED and not required:
        return None
    raise InvalidArgument("SPAN_INVALID", "span is required: SPAN_DAY, SPAN_WEEK, SPAN_MONTH or SPAN_YEAR")


@overload
def kind_from_pb(value: int, *, required: Literal[True] = True) -> Kind: ...
@overload
def kind_from_pb(value: int, *, required: bool) -> Kind | None: ...
def kind_from_pb(value: int, *, required: bool = True) -> Kind | None:
    if value in KIND_FROM_PB:
        return KIND_FROM_PB[value]
    if value == common_pb2.REEL_KIND_UNSPECIFIED and not required:
        return None
    raise InvalidArgument("KIND_INVALID", "kind is required: REEL_KIND_ON_THIS_DAY, REEL_KIND_RECAP or REEL_KIND_TRIP")


def mode_from_pb(value: int) -> Mode:
    """UNSPECIFIED means FAST, the safe default."""
    if value == common_pb2.SCRIPT_MODE_UNSPECIFIED:
        return Mode.FAST
    if value in MODE_FROM_PB:
        return MODE_FROM_PB[value]
    raise InvalidArgument("MODE_INVALID", "mode must be SCRIPT_MODE_FAST or SCRIPT_MODE_AGENTIC")


def date_to_pb(value: dt.date) -> date_pb2.Date:
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


def date_from_pb(value: date_pb2.Date, field: str = "anchor_date") -> dt.date | None:
    """None when unset (all zero)."""
    if value.year == 0 and value.month == 0 and value.day == 0:
        return None
    try:
        date = dt.date(value.year, value.month, value.day)
    except ValueError:
        raise InvalidArgument("DATE_INVALID", f"{field} is not a valid calendar date") from None
    if not MIN_YEAR <= date.year <= MAX_YEAR:  # 0001-01-01 minus a window overflows
        raise InvalidArgument("DATE_OUT_OF_RANGE", f"{field} must be in the years {MIN_YEAR}-{MAX_YEAR}")
    return date


# Dates a request may carry: photographs exist since 1826, and windows and margins
# computed from a date near 1 or 9999 overflow Python's calendar.
MIN_YEAR, MAX_YEAR = 1800, 9000
REQUEST_ID_MAX_CHARS = 128  # the ledger's column width


def request_id_from_pb(raw: str) -> str:
    """A mutating request's idempotency key (AIP-155): "" (none) or at most
    REQUEST_ID_MAX_CHARS characters; INVALID_ARGUMENT (REQUEST_ID_TOO_LONG) beyond."""
    if len(raw) > REQUEST_ID_MAX_CHARS:
        raise InvalidArgument("REQUEST_ID_TOO_LONG", f"request_id is limited to {REQUEST_ID_MAX_CHARS} characters")
    return raw


@overload
def ts_to_pb(value: dt.datetime) -> timestamp_pb2.Timestamp: ...
@overload
def ts_to_pb(value: None) -> None: ...
@overload
def ts_to_pb(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None: ...
def ts_to_pb(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC))
    return ts


def window_to_pb(window: Window) -> common_pb2.Window:
    return common_pb2.Window(
        anchor_date=date_to_pb(window.anchor),
        ranges=[common_pb2.DateRange(start_date=date_to_pb(a), end_date=date_to_pb(b)) for a, b in window.ranges],
    )


def window_from_pb(span: Span, kind: Kind, window: common_pb2.Window) -> Window:
    anchor = date_from_pb(window.anchor_date)
    ranges = []
    for r in window.ranges:
        start, end = date_from_pb(r.start_date, "window start"), date_from_pb(r.end_date, "window end")
        if start is None or end is None or end <= start:
            raise InvalidArgument("WINDOW_INVALID", "each window range needs start < end")
        ranges.append((start, end))
    if anchor is None or not ranges:
        raise InvalidArgument("WINDOW_INVALID", "window needs an anchor_date and at least one range")
    return Window(span=span, kind=kind, anchor=anchor, ranges=tuple(ranges))


def candidate_to_pb(c: Candidate) -> common_pb2.Candidate:
    offset = c.taken_at.utcoffset()
    return common_pb2.Candidate(
        media_id=c.media_id,
        kind=MEDIA_KIND_TO_PB[c.kind],
        taken_at=ts_to_pb(c.taken_at),
        utc_offset_minutes=int(offset.total_seconds() // 60) if offset else 0,
        has_location=c.lat is not None and c.lon is not None,
        latitude=c.lat or 0.0,
        longitude=c.lon or 0.0,
        width=c.width,
        height=c.height,
        duration_seconds=c.duration_s,
        relative_path=c.rel_path,
        quality=quality_to_pb(c.quality),
    )


def quality_to_pb(q: Quality) -> common_pb2.MediaQuality:
    if not q.analysed:
        return common_pb2.MediaQuality()
    return common_pb2.MediaQuality(
        analysed=True,
        sharpness=q.sharpness,
        dark_share=q.dark_share,
        bright_share=q.bright_share,
        mean_luma=q.mean_luma,
        perceptual_hash=q.phash,
        screenshot_likelihood=q.screenshot,
        faces=[common_pb2.FaceBox(x=f.x, y=f.y, width=f.w, height=f.h) for f in q.faces],
        rating=q.rating,
        motion=q.motion,
        has_loudness=q.loudness_db is not None,
        loudness_db=q.loudness_db or 0.0,
    )


def quality_from_pb(m: common_pb2.MediaQuality) -> Quality:
    """Neutral scores unless ``analysed``; values clamped to their ranges."""
    if not m.analysed:
        return Quality()

    def unit(value: float) -> float:
        return min(1.0, max(0.0, value)) if value == value else 0.0  # NaN -> 0

    return Quality(
        analysed=True,
        sharpness=unit(m.sharpness),
        dark_share=unit(m.dark_share),
        bright_share=unit(m.bright_share),
        mean_luma=unit(m.mean_luma),
        phash=m.perceptual_hash[:32],
        screenshot=unit(m.screenshot_likelihood),
        faces=tuple(FaceBox(unit(f.x), unit(f.y), unit(f.width), unit(f.height)) for f in m.faces[:16]),
        rating=min(5, max(0, m.rating)),
        motion=unit(m.motion),
        loudness_db=m.loudness_db if m.has_loudness else None,
    )


MAX_UTC_OFFSET_MIN = 18 * 60  # ISO 8601's widest offset; Python refuses 24 h and more


def candidate_from_pb(c: common_pb2.Candidate) -> Candidate:
    if not c.media_id:
        raise InvalidArgument("CANDIDATE_INVALID", "every candidate needs a media_id")
    kind = MEDIA_KIND_FROM_PB.get(c.kind, MediaKind.PHOTO)
    if not -MAX_UTC_OFFSET_MIN <= c.utc_offset_minutes <= MAX_UTC_OFFSET_MIN:
        raise InvalidArgument("UTC_OFFSET_INVALID", f"utc_offset_minutes must be within ±{MAX_UTC_OFFSET_MIN}")
    tz = dt.timezone(dt.timedelta(minutes=c.utc_offset_minutes))
    return Candidate(
        media_id=c.media_id,
        kind=kind,
        taken_at=c.taken_at.ToDatetime(tzinfo=dt.UTC).astimezone(tz),
        width=c.width,
        height=c.height,
        lat=c.latitude if c.has_location else None,
        lon=c.longitude if c.has_location else None,
        duration_s=c.duration_seconds,
        rel_path=c.relative_path,
        quality=quality_from_pb(c.quality),
    )


def preferences_to_pb(p: Preferences) -> common_pb2.Preferences:
    return common_pb2.Preferences(
        mood=p.mood,
        music_style=p.music_style,
        target_duration_seconds=p.target_duration_s,
        favorite_moods=list(p.favorite_moods),
        disliked_music_styles=list(p.disliked_music_styles),
        preferred_duration_seconds=p.preferred_duration_s,
        style_stats=[
            common_pb2.StyleStat(
                mood=s.mood,
                music_style=s.music_style,
                good_count=s.good,
                bad_count=s.bad,
                success_rate=(s.good / (s.good + s.bad)) if (s.good + s.bad) else 0.0,
            )
            for s in p.style_stats
        ],
    )


def preferences_from_pb(p: common_pb2.Preferences) -> Preferences:
    return Preferences(
        mood=p.mood,
        music_style=p.music_style,
        target_duration_s=p.target_duration_seconds,
        favorite_moods=tuple(p.favorite_moods),
        disliked_music_styles=tuple(p.disliked_music_styles),
        preferred_duration_s=p.preferred_duration_seconds,
        style_stats=tuple(StyleStat(s.mood, s.music_style, s.good_count, s.bad_count) for s in p.style_stats),
    )


def script_request_to_pb(req: ScriptRequest) -> scripter_service_pb2.GenerateScriptRequest:
    return scripter_service_pb2.GenerateScriptRequest(
        library=req.library,
        span=SPAN_TO_PB[req.window.span],
        kind=KIND_TO_PB[req.window.kind],
        window=window_to_pb(req.window),
        time_zone=req.timezone,
        mode=MODE_TO_PB[req.mode],
        candidates=[candidate_to_pb(c) for c in req.candidates],
        preferences=preferences_to_pb(req.preferences),
        target_duration_seconds=req.target_duration_s,
        max_shots=req.max_shots,
        seed=req.seed,
    )


def script_request_from_pb(msg: scripter_service_pb2.GenerateScriptRequest) -> ScriptRequest:
    span = span_from_pb(msg.span)
    kind = kind_from_pb(msg.kind)
    assert span is not None and kind is not None
    if not msg.candidates:
        raise InvalidArgument("NO_CANDIDATES", "at least one candidate is needed")
    target = msg.target_duration_seconds or DEFAULT_TARGET_S
    if not MIN_TARGET_S <= target <= MAX_TARGET_S:
        raise InvalidArgument(
            "DURATION_OUT_OF_RANGE", f"target_duration_seconds must be within {MIN_TARGET_S:g}-{MAX_TARGET_S:g}"
        )
    if msg.max_shots < 0:
        raise InvalidArgument("MAX_SHOTS_INVALID", "max_shots must not be negative")
    return ScriptRequest(
        library=msg.library,
        window=window_from_pb(span, kind, msg.window),
        timezone=msg.time_zone or "UTC",
        mode=mode_from_pb(msg.mode),
        candidates=tuple(candidate_from_pb(c) for c in msg.candidates),
        preferences=preferences_from_pb(msg.preferences),
        target_duration_s=target,
        max_shots=min(msg.max_shots or 20, 100),
        seed=msg.seed,
    )


def script_to_pb(s: Script) -> common_pb2.Script:
    return common_pb2.Script(
        title=s.title,
        subtitle=s.subtitle,
        mood=s.mood,
        music_style=s.music_style,
        shots=[
            common_pb2.Shot(
                media_id=sh.media_id,
                duration_seconds=sh.duration_s,
                caption=sh.caption,
                motion=sh.motion,
                transition=sh.transition,
            )
            for sh in s.shots
        ],
        narration=[
            common_pb2.NarrationLine(
                text=n.text, start_seconds=n.start_s, end_seconds=n.end_s, source_ids=list(n.source_ids)
            )
            for n in s.narration
        ],
        grounding=[
            common_pb2.GroundingSource(
                kind=g.kind, source_id=g.source_id, label=g.label, supports_shots=list(g.supports_shots)
            )
            for g in s.grounding
        ],
        mode_used=MODE_TO_PB[s.mode_used],
        fallback_reason=s.fallback_reason,
        duration_seconds=s.duration_s,
    )


def script_from_pb(m: common_pb2.Script) -> Script:
    return Script(
        title=m.title,
        subtitle=m.subtitle,
        mood=m.mood,
        music_style=m.music_style,
        shots=[Shot(x.media_id, x.duration_seconds, x.caption, x.motion, x.transition) for x in m.shots],
        narration=[NarrationLine(n.text, n.start_seconds, n.end_seconds, list(n.source_ids)) for n in m.narration],
        grounding=[GroundingSource(g.kind, g.source_id, g.label, list(g.supports_shots)) for g in m.grounding],
        mode_used=MODE_FROM_PB.get(m.mode_used, Mode.FAST),
        fallback_reason=m.fallback_reason,
    )

"""Choosing the shots of a reel: the window's moments, each covered by its best
frame, before any moment gets a second shot.

``rank(candidates, tz, limit)`` is a pure function of its inputs (the
same candidates in any order give the same picks). The FAST script takes its
shots from it, the AGENTIC prompt offers the model only its eligible list, and
the render service explains each shot of a reel with its ``Pick``: one ranked
list, whichever script was written.

Steps:
1. moments: candidates in time order, split where the gap exceeds MOMENT_GAP or
   the place moves more than MOMENT_MOVE_KM (when both ends have GPS);
2. near-duplicates: two items are one scene when their perceptual hashes are
   within BURST_HAMMING bits and BURST_S seconds, within NEAR_DUP_HAMMING bits and
   NEAR_DUP_WINDOW, or within SAME_PICTURE_HAMMING bits anywhere in the window;
   a scene keeps its best frame;
3. flags: screenshots and documents (left out whenever the window holds anything
   else), blurred and too-dark shots (left out unless nothing else covers their
   moment);
4. order of preference in a moment: unflagged first, then favourites (Rating 4 and
   up), then faces, then sharp and well-exposed (``score``);
5. coverage: every moment once (the best of each) before any moment gets a second
   shot; extra shots go, round by round, to the moments with the best next frame.
   When there are more moments than shots, the moments with a favourite are kept
   and the rest spread evenly over the window.

The thresholds were set on the labelled library of ``tests/labelled_library.py``
(640x480 JPEGs): its blurred shots (Gaussian radius 7) score 0.02 sharpness against
0.83-0.87 for their sharp alternatives (a radius of 1.5 already scores 0.31), its
dark shots a mean luma of 0.03 against 0.45-0.57; its screenshots 0.85-1.0
likelihood against 0-0.2 for camera photos. The sample library's photos score
0.59-0.84 sharpness.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reels_core.domain import Candidate, MediaKind, Quality

MOMENT_GAP = dt.timedelta(minutes=45)
MOMENT_MOVE_KM = 2.0
BURST_S = 10.0
BURST_HAMMING = 16  # bits of 64: frames of one burst (a subject that moves a little)
NEAR_DUP_WINDOW = dt.timedelta(minutes=10)
NEAR_DUP_HAMMING = 10  # the same scene shot again a few minutes later
SAME_PICTURE_HAMMING = 4  # the same picture anywhere (an edit, a re-save, a forward)
FAVORITE_RATING = 4
SCREENSHOT_LIKELY = 0.5
BLURRED_BELOW = 0.3  # sharpness
DARK_LUMA_BELOW = 0.12  # mean luma 0..1
DARK_SHARE_ABOVE = 0.8
MIN_CLIP_S = 1.2  # a shorter clip is left out unless there is nothing else (fast_script.MIN_SHOT_S)

# Reasons a shot was picked (stable strings: GetReel and `reels show --explain` show them).
PICK_FAVORITE = "FAVORITE"
PICK_FACES = "FACES"
PICK_BEST_OF_MOMENT = "BEST_OF_MOMENT"
PICK_ONLY_CHOICE = "ONLY_CHOICE"  # flagged (blurred, dark...), but nothing else covers its moment
PICK_EXTRA = "EXTRA_SHOT"  # a second (third...) shot of a moment, once every moment had one
PICK_BY_SCRIPTER = "CHOSEN_BY_SCRIPTER"  # the script named a shot the ranking did not pick

FLAG_SCREENSHOT = "SCREENSHOT"
FLAG_BLURRED = "BLURRED"
FLAG_DARK = "DARK"
FLAG_SHORT_CLIP = "SHORT_CLIP"


@dataclass(frozen=True)
class Pick:
    """Why one candidate is in the reel."""

    media_id: str
    reason: str  # PICK_*
    moment: int  # 0-based, in time order
    moments: int  # how many moments the window has
    round: int  # 1: the moment's first shot
    score: float
    scene_size: int  # frames of its scene (1 + near-duplicates collapsed into it)
    flags: tuple[str, ...] = ()

    @property
    def detail(self) -> str:
        """One line for a person: 'moment 2/6, best of a burst of 5; favourite'."""
        parts = [f"moment {self.moment + 1}/{self.moments}"]
        if self.scene_size > 1:
            parts.append(f"best of {self.scene_size} near-duplicates")
        if self.round > 1:
            parts.append(f"shot {self.round} of its moment")
        why = {
            PICK_FAVORITE: "favourite",
            PICK_FACES: "faces",
            PICK_BEST_OF_MOMENT: "sharpest, best exposed",
            PICK_ONLY_CHOICE: "nothing better covers this moment",
            PICK_EXTRA: "every moment already has a shot",
        }.get(self.reason, "")
        if why:
            parts.append(why)
        if self.flags:
            parts.append("flagged " + ", ".join(f.lower() for f in self.flags))
        parts.append(f"score {self.score:.2f}")
        return "; ".join(parts)


@dataclass(frozen=True)
class Ranking:
    picks: tuple[Pick, ...]  # in time order
    eligible: tuple[str, ...]  # media ids worth a shot, best first (the AGENTIC prompt's list)
    moments: int

    @property
    def media_ids(self) -> list[str]:
        return [p.media_id for p in self.picks]

    def pick(self, media_id: str) -> Pick | None:
        for p in self.picks:
            if p.media_id == media_id:
                return p
        return None


# --------------------------------------------------------------------------- scores


def is_favorite(q: Quality) -> bool:
    return q.rating >= FAVORITE_RATING


def flags(c: Candidate) -> tuple[str, ...]:
    """What is wrong with a candidate; an item never analysed has no quality flag."""
    short = c.kind == MediaKind.VIDEO and 0 < c.duration_s < MIN_CLIP_S
    return ((FLAG_SHORT_CLIP,) if short else ()) + flags_of(c.quality)


def flags_of(q: Quality) -> tuple[str, ...]:
    """SCREENSHOT, BLURRED, DARK: what the analysis says is wrong with a picture."""
    if not q.analysed:
        return ()
    out = []
    if q.screenshot >= SCREENSHOT_LIKELY:
        out.append(FLAG_SCREENSHOT)
    if q.sharpness < BLURRED_BELOW:
        out.append(FLAG_BLURRED)
    if q.mean_luma < DARK_LUMA_BELOW or q.dark_share > DARK_SHARE_ABOVE:
        out.append(FLAG_DARK)
    return tuple(out)


def score(c: Candidate) -> float:
    """Higher is better: favourites, then faces, then sharp and well exposed."""
    q = c.quality
    value = 0.6 * q.sharpness + 0.3 * (1.0 - min(1.0, q.bright_share + q.dark_share))
    if q.faces:
        value += 1.0 + 0.1 * min(len(q.faces) - 1, 4)
    if is_favorite(q):
        value += 3.0
    return round(value - 5.0 * len(flags(c)), 4)


def _preference(c: Candidate) -> tuple[bool, bool, bool, float]:
    q = c.quality
    return (not flags(c), is_favorite(q), bool(q.faces), score(c))


# --------------------------------------------------------------------------- public


def rank(
    candidates: Sequence[Candidate],
    tz: dt.tzinfo,
    limit: int,
    position: Callable[[dt.datetime], float] | None = None,
) -> Ranking:
    """At most ``limit`` picks covering the window's moments (see the module doc).
    ``position`` maps a local time to seconds into the window (ON_THIS_DAY skips the
    years between its ranges); by default the POSIX time."""
    if not candidates or limit <= 0:
        return Ranking((), (), 0)
    pos = position or (lambda local: local.timestamp())
    ordered = sorted(candidates, key=lambda c: (c.taken_at.astimezone(dt.UTC), c.media_id))
    only_screens = all(FLAG_SCREENSHOT in flags(c) for c in ordered)
    pool = ordered if only_screens else [c for c in ordered if FLAG_SCREENSHOT not in flags(c)]
    if any(FLAG_SHORT_CLIP not in flags(c) for c in pool):
        pool = [c for c in pool if FLAG_SHORT_CLIP not in flags(c)]
    groups = _moments(pool)
    scenes = [_scenes(g) for g in groups]
    # Per moment: its scenes' best frames, best first; flagged ones only when nothing else is.
    options: list[list[tuple[Candidate, int]]] = []
    for moment_scenes in scenes:
        best = sorted(
            ((max(scene, key=_preference), len(scene)) for scene in moment_scenes),
            key=lambda item: _preference(item[0]),
            reverse=True,
        )
        clean = [b for b in best if not flags(b[0])]
        options.append(clean or best[:1])
    chosen_moments = _choose_moments(options, limit, [pos(o[0][0].taken_at.astimezone(tz)) for o in options])
    counts = {m: 1 for m in chosen_moments}
    room = limit - len(chosen_moments)
    while room > 0:
        # Moments that still have frames, by the preference of their next one.
        open_moments = [m for m in chosen_moments if len(options[m]) > counts[m]]
        if not open_moments:
            break
        open_moments.sort(key=lambda m: (_preference(options[m][counts[m]][0]), len(options[m])), reverse=True)
        for m in open_moments[:room]:
            counts[m] += 1
            room -= 1
    picks: list[Pick] = []
    for m in chosen_moments:
        taken = _spread_within(options[m], counts[m], tz, pos)
        for i, (cand, scene_size) in enumerate(taken):
            picks.append(_pick(cand, scene_size, m, len(groups), i + 1))
    utc = {c.media_id: c.taken_at.astimezone(dt.UTC) for c in pool}
    picks.sort(key=lambda p: (utc[p.media_id], p.media_id))
    eligible = sorted((c for moment in options for c, _ in moment), key=lambda c: _preference(c), reverse=True)
    return Ranking(tuple(picks), tuple(c.media_id for c in eligible), len(groups))


# --------------------------------------------------------------------------- helpers


def _pick(c: Candidate, scene_size: int, moment: int, moments: int, round_no: int) -> Pick:
    f = flags(c)
    q = c.quality
    if round_no > 1:
        reason = PICK_EXTRA
    elif f:
        reason = PICK_ONLY_CHOICE
    elif is_favorite(q):
        reason = PICK_FAVORITE
    elif q.faces:
        reason = PICK_FACES
    else:
        reason = PICK_BEST_OF_MOMENT
    return Pick(c.media_id, reason, moment, moments, round_no, score(c), scene_size, f)


def _moments(ordered: Sequence[Candidate]) -> list[list[Candidate]]:
    groups: list[list[Candidate]] = []
    for c in ordered:
        if groups:
            prev = groups[-1][-1]
            gap = c.taken_at - prev.taken_at
            if gap <= MOMENT_GAP and not _moved(prev, c):
                groups[-1].append(c)
                continue
        groups.append([c])
    return groups


def _moved(a: Candidate, b: Candidate) -> bool:
    if a.lat is None or a.lon is None or b.lat is None or b.lon is None:
        return False
    return _km(a.lat, a.lon, b.lat, b.lon) > MOMENT_MOVE_KM


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(min(1.0, math.sqrt(a)))


def hamming(a: str, b: str) -> int | None:
    """Bits that differ between two hex hashes of the same length; None if unknown."""
    if not a or not b or len(a) != len(b):
        return None
    try:
        return (int(a, 16) ^ int(b, 16)).bit_count()
    except ValueError:
        return None


def _same_scene(a: Candidate, b: Candidate) -> bool:
    bits = hamming(a.quality.phash, b.quality.phash)
    if bits is None:
        return False
    gap = abs((a.taken_at - b.taken_at).total_seconds())
    return (
        bits <= SAME_PICTURE_HAMMING
        or (bits <= NEAR_DUP_HAMMING and gap <= NEAR_DUP_WINDOW.total_seconds())
        or (bits <= BURST_HAMMING and gap <= BURST_S)
    )


def _scenes(moment: Sequence[Candidate]) -> list[list[Candidate]]:
    """Near-duplicates of one moment joined (union-find over pairs, O(n²) per
    moment: a moment holds tens of items, not thousands)."""
    parent = list(range(len(moment)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(moment)):
        for j in range(i + 1, len(moment)):
            if _same_scene(moment[i], moment[j]):
                parent[find(j)] = find(i)
    scenes: dict[int, list[Candidate]] = {}
    for i, c in enumerate(moment):
        scenes.setdefault(find(i), []).append(c)
    return list(scenes.values())


def _choose_moments(options: list[list[tuple[Candidate, int]]], limit: int, positions: list[float]) -> list[int]:
    """Which moments get a shot: all when they fit; else those holding a favourite,
    then the others spread evenly in time."""
    n = len(options)
    if n <= limit:
        return list(range(n))
    favs = [m for m in range(n) if is_favorite(options[m][0][0].quality) and not flags(options[m][0][0])]
    if len(favs) >= limit:
        favs.sort(key=lambda m: _preference(options[m][0][0]), reverse=True)
        return sorted(favs[:limit])
    rest = [m for m in range(n) if m not in favs]
    k = limit - len(favs)
    chosen = [rest[i] for i in spread([positions[m] for m in rest], k)]
    return sorted(favs + chosen)


def _spread_within(
    items: list[tuple[Candidate, int]], k: int, tz: dt.tzinfo, pos: Callable[[dt.datetime], float]
) -> list[tuple[Candidate, int]]:
    """k of a moment's frames (best first): the best one, and the others from the
    best tier spread in time, so that a moment of equal frames is covered evenly."""
    if k >= len(items):
        return items
    if k == 1:
        return items[:1]
    top = _preference(items[0][0])[:3]
    tier = [it for it in items if _preference(it[0])[:3] == top]
    if len(tier) < k:
        return items[:k]
    by_time = sorted(tier, key=lambda it: (it[0].taken_at.astimezone(dt.UTC), it[0].media_id))
    picked = [by_time[i] for i in spread([pos(it[0].taken_at.astimezone(tz)) for it in by_time], k)]
    best = items[0]
    if best not in picked:  # the best frame always makes it
        picked[min(range(k), key=lambda i: _preference(picked[i][0]))] = best
    return sorted(picked, key=lambda it: _preference(it[0]), reverse=True)


def spread(positions: list[float], k: int) -> list[int]:
    """Indices (increasing) of the k positions closest to k evenly spaced targets.

    Dynamic programme over monotone assignments, O(n*k); the first and last are
    pinned. ``positions`` is sorted.
    """
    n = len(positions)
    if k >= n:
        return list(range(n))
    if k <= 0:
        return []
    if k == 1:
        return [0]
    lo, hi = positions[0], positions[-1]
    targets = [lo + (hi - lo) * j / (k - 1) for j in range(k)]
    inf = float("inf")
    cost = [[inf] * n for _ in range(k)]
    choice = [[-1] * n for _ in range(k)]
    cost[0][0] = 0.0
    for j in range(1, k):
        best, best_i = inf, -1
        prev = cost[j - 1]
        row, back = cost[j], choice[j]
        for i in range(j, n - (k - 1 - j)):
            if prev[i - 1] < best:
                best, best_i = prev[i - 1], i - 1
            if j == k - 1 and i != n - 1:
                continue
            row[i] = best + abs(positions[i] - targets[j])
            back[i] = best_i
    picked = [n - 1]
    for j in range(k - 1, 0, -1):
        picked.append(choice[j][picked[-1]])
    return picked[::-1]

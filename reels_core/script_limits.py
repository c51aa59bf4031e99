"""What a script may hold, checked by the render service on every script a peer
sends (it trusts no scripter), with the limits the scripter itself works to.

A shot of 1e6 s made the music synthesiser allocate hundreds of GB; a zero duration
divided by zero when a bad shot's time was shared out. ``script_problem`` names the
first broken limit (no caption or id in it: the text is logged), or returns "".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from reels_core.domain import CAPTION_MAX_CHARS, MAX_TARGET_S, Script, ScriptRequest

TITLE_MAX_CHARS = 60
SUBTITLE_MAX_CHARS = 80
DEFAULT_MAX_SHOTS = 20  # when the request says 0 (as the fast script)
MAX_NARRATION_LINES = 6
MIN_SHOT_S = 0.05  # a short video clip may be scripted below the fast script's 1.2 s
DURATION_TOLERANCE = 1.1  # the scripter keeps the total within 10 % of the target


@dataclass(frozen=True)
class ScriptLimits:
    max_total_s: float = MAX_TARGET_S * DURATION_TOLERANCE
    caption_max_chars: int = CAPTION_MAX_CHARS
    title_max_chars: int = TITLE_MAX_CHARS
    subtitle_max_chars: int = SUBTITLE_MAX_CHARS
    max_narration_lines: int = MAX_NARRATION_LINES


def script_problem(script: Script, req: ScriptRequest, limits: ScriptLimits = ScriptLimits()) -> str:
    """The first limit ``script`` breaks for ``req`` (a short phrase naming the
    field, never its text), or "" when it is within every limit."""
    max_shots = req.max_shots if req.max_shots > 0 else DEFAULT_MAX_SHOTS
    if not script.shots:
        return "no shots"
    if len(script.shots) > max_shots:
        return f"{len(script.shots)} shots, at most {max_shots}"
    ids = {c.media_id for c in req.candidates}
    total = 0.0
    for i, shot in enumerate(script.shots):
        if shot.media_id not in ids:
            return f"shots[{i}] is not one of the candidates"
        if not math.isfinite(shot.duration_s) or shot.duration_s < MIN_SHOT_S:
            return f"shots[{i}].duration_s is not a duration of at least {MIN_SHOT_S} s"
        if len(shot.caption) > limits.caption_max_chars:
            return f"shots[{i}].caption over {limits.caption_max_chars} characters"
        total += shot.duration_s
    if total > limits.max_total_s:
        return f"shots add up to {total:.0f} s, at most {limits.max_total_s:.0f} s"
    if len(script.title) > limits.title_max_chars or len(script.subtitle) > limits.subtitle_max_chars:
        return "title or subtitle too long"
    if len(script.narration) > limits.max_narration_lines:
        return f"{len(script.narration)} narration lines, at most {limits.max_narration_lines}"
    for i, line in enumerate(script.narration):
        if len(line.text) > limits.caption_max_chars:
            return f"narration[{i}].text over {limits.caption_max_chars} characters"
        if not (math.isfinite(line.start_s) and math.isfinite(line.end_s)) or not 0 <= line.start_s < line.end_s:
            return f"narration[{i}] times are not an interval"
        if line.end_s > total + 0.5:
            return f"narration[{i}] ends after the last shot"
    return ""

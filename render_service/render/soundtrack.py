"""The reel's soundtrack: the music bed, with each clip's own sound mixed under it
and the music ducked while a clip has sound.

- A clip shot's sound is the audio of the segment it shows, placed where the shot
  is in the reel, faded in and out over its transitions (at least ``EDGE_FADE_S``).
- A clip whose segment is silent (below ``SOUND_DBFS``) adds nothing and ducks
  nothing; a Live Photo's motion stays silent, as phones show it in memories.
- Ducking follows the clip's sound, not its shot: per ``WINDOW_S`` window, the
  music's gain goes to ``DUCK_GAIN`` (-12 dB) where the clip is above
  ``SOUND_DBFS``, with a fast attack, held through pauses shorter than ``HOLD_S``
  and released slowly, so the music does not pump between words.
- The sum is soft-limited (tanh above ``LIMIT``) instead of clipping.

A clip whose audio does not decode is left out of the mix; it never fails the reel.
"""

from __future__ import annotations

import math

import av
import numpy as np

from . import music
from .clips import VIDEO, ShotPlans, decode_audio
from .timeline import ShotSpan

DUCK_GAIN = 0.25  # -12 dB
SOUND_DBFS = -45.0
WINDOW_S = 0.02
ATTACK_S = 0.06
RELEASE_S = 0.4
HOLD_S = 0.6  # a pause shorter than this (between words) keeps the music down
EDGE_FADE_S = 0.12
LIMIT = 0.9


def build(mood: str, style: str, duration_s: float, seed: int, plans: ShotPlans | None = None) -> np.ndarray:
    """Stereo int16 samples at ``music.SAMPLE_RATE``, exactly as long as the reel."""
    bed = music.synthesize(mood, style, duration_s, seed)
    if plans is None:
        return bed
    clips = clip_track(plans, len(bed))
    if clips is None:
        return bed
    return mix(bed, clips)


def clip_track(plans: ShotPlans, length: int) -> np.ndarray | None:
    """The clips' own sound placed on the reel's timeline, float32 (n, 2), or None
    when no clip has any."""
    rate = music.SAMPLE_RATE
    track: np.ndarray | None = None
    for index, span in sorted(plans.spans.items()):
        item = plans.media[index]
        if item.kind != "VIDEO":
            continue
        try:
            plan = plans.plan(index)
        except Exception:  # noqa: BLE001  # the frame loop reports the shot; the sound just goes without it
            continue
        if plan.treatment != VIDEO:
            continue
        sound = _segment_sound(item.path, plan.segment_start_s, span.frames / plans.fps, rate)
        if sound is None or _dbfs(sound) < SOUND_DBFS:
            continue
        at = round(span.start / plans.fps * rate)
        n = min(len(sound), length - at)
        if n <= 0:
            continue
        sound = sound[:n].copy()
        fade_in = max(round(EDGE_FADE_S * rate), round(_fade_frames(span, "in") / plans.fps * rate))
        fade_out = max(round(EDGE_FADE_S * rate), round(_fade_frames(span, "out") / plans.fps * rate))
        _fade(sound, fade_in, fade_out)
        if track is None:
            track = np.zeros((length, 2), dtype=np.float32)
        track[at : at + n] += sound
        plans.mark_audio(index)
    return track


def mix(bed: np.ndarray, clips: np.ndarray) -> np.ndarray:
    """``bed`` (int16) ducked under ``clips`` (float) and summed, as int16."""
    rate = music.SAMPLE_RATE
    out = bed.astype(np.float32) * (1 / 32768)
    out *= duck_gain(clips, rate)[:, None]
    out += clips
    peak = np.abs(out)
    over = peak > LIMIT
    if over.any():  # soft knee above LIMIT, never past full scale
        out[over] = np.sign(out[over]) * (LIMIT + (1 - LIMIT) * np.tanh((peak[over] - LIMIT) / (1 - LIMIT)))
    return np.clip(np.rint(out * 32767), -32768, 32767).astype(np.int16)


def duck_gain(clips: np.ndarray, rate: int) -> np.ndarray:
    """The music's gain per sample: DUCK_GAIN where the clips have sound, 1 elsewhere."""
    win = max(1, round(WINDOW_S * rate))
    n = len(clips)
    count = math.ceil(n / win)
    padded = np.zeros((count * win, clips.shape[1]), dtype=np.float32)
    padded[:n] = clips
    power = np.mean(padded.reshape(count, win, -1) ** 2, axis=(1, 2))
    loud = 10 * np.log10(np.maximum(power, 1e-12)) >= SOUND_DBFS
    # held through the pauses between words, so the music does not pump back in
    steps = np.arange(count)
    last = np.maximum.accumulate(np.where(loud, steps, -(10**9)))
    loud = (steps - last <= round(HOLD_S / WINDOW_S)).astype(np.float32)
    attack = 1 - math.exp(-WINDOW_S / ATTACK_S)
    release = 1 - math.exp(-WINDOW_S / RELEASE_S)
    env = np.empty(count, dtype=np.float32)
    level = 0.0
    for i, target in enumerate(loud):  # one step per 20 ms window: a few thousand for a reel
        level += (target - level) * (attack if target > level else release)
        env[i] = level
    gain = 1 - (1 - DUCK_GAIN) * env
    centres = (np.arange(count) + 0.5) * win
    return np.interp(np.arange(n), centres, gain).astype(np.float32)


def _segment_sound(path, start_s: float, seconds: float, rate: int) -> np.ndarray | None:
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio or not container.streams.video:
                return None
            video = container.streams.video[0]
            audio = container.streams.audio[0]
            # segment times count from the video stream's start; the audio may start elsewhere
            v0 = float(video.start_time * video.time_base) if video.start_time is not None and video.time_base else 0
            a0 = float(audio.start_time * audio.time_base) if audio.start_time is not None and audio.time_base else 0
            return decode_audio(container, rate, "stereo", "flt", max(0.0, start_s + v0 - a0), seconds)
    except (av.FFmpegError, OSError, IndexError):
        return None


def _dbfs(sound: np.ndarray) -> float:
    return 10 * math.log10(max(float(np.mean(sound.astype(np.float64) ** 2)), 1e-12))


def _fade_frames(span: ShotSpan, side: str) -> int:
    """Frames over which the shot comes in (or goes out): its crossfade or fade."""
    if side == "in":
        return max(span.fade_in, span.base_start - span.start)
    return max(span.fade_out, span.end - span.base_end)


def _fade(sound: np.ndarray, fade_in: int, fade_out: int) -> None:
    n = len(sound)
    fade_in, fade_out = min(fade_in, n // 2), min(fade_out, n // 2)
    if fade_in:
        sound[:fade_in] *= np.linspace(0, 1, fade_in, dtype=np.float32)[:, None]
    if fade_out:
        sound[n - fade_out :] *= np.linspace(1, 0, fade_out, dtype=np.float32)[:, None]

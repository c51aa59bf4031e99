"""Which part of a clip a shot shows, and how each shot was drawn.

A clip longer than its shot contributes its best segment, not its first seconds:

- the loudest stretch, when the clip has sound that stands out (speech, laughter,
  a cheer): audio RMS over the shot's length, at least ``LOUD_MIN_DBFS`` and
  ``LOUD_MARGIN_DB`` above the clip's quiet stretches (20th percentile);
- else the stretch with the most motion, when some part moves clearly more than
  the rest: the compressed size of the inter-coded frames per second (what the
  encoder spent on motion and change). It is read from the container's index
  (the mp4 sample table), so nothing is decoded: 1.1 ms for a 2 s 1080p HEVC
  10-bit clip here (open included), where decoding it costs 18 ms a frame;
- else the middle, as before.

The renderer records one ``ShotRender`` per shot: ``ken_burns`` (a photo with
pan/zoom), ``live_photo_motion`` (a Live Photo's own clip played instead) or
``video``, with the segment played and why.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from .sched import set_batch_scheduling
from .types import RenderError, ShotRender

KEN_BURNS = "ken_burns"
LIVE_PHOTO_MOTION = "live_photo_motion"
VIDEO = "video"

WHOLE_CLIP = "whole_clip"  # the clip is no longer than its shot
LOUDEST = "loudest"
MOST_MOTION = "most_motion"
MIDDLE = "middle"  # nothing stands out
LIVE_PHOTO = "live_photo"  # a Live Photo's motion, around the still's moment

LOUD_MIN_DBFS = -45.0
LOUD_MARGIN_DB = 6.0
MOTION_MARGIN = 1.5  # the best stretch carries at least this many times the quiet stretches' bytes
BIN_S = 0.1
MAX_ANALYSED_S = 600.0  # longer clips: only their first ten minutes are searched


@dataclass(frozen=True)
class Segment:
    """Seconds from the start of the clip's video stream."""

    start_s: float
    end_s: float
    reason: str


def probe_duration(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return 0.0


def choose_segment(path: Path, need_s: float, duration_s: float = 0.0) -> Segment:
    """The part of the clip at ``path`` to show for ``need_s`` seconds. Raises
    RenderError when the file does not open as a video."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            duration = duration_s if duration_s > 0 else probe_duration(container, stream)
            if duration <= need_s + BIN_S / 2:
                return Segment(0.0, round(max(duration, 0.0), 3), WHOLE_CLIP)
            searched = min(duration, MAX_ANALYSED_S)
            bins = max(1, math.ceil(searched / BIN_S))
            span = max(1, round(need_s / BIN_S))
            loud = _audio_levels(container, bins) if container.streams.audio else None
            best = _best_window(loud, span, _loud_enough) if loud is not None else None
            if best is not None:
                return _segment(best, need_s, duration, LOUDEST)
            motion = _motion_bytes(path, bins)
            best = _best_window(motion, span, _moves_more) if motion is not None else None
            if best is not None:
                return _segment(best, need_s, duration, MOST_MOTION)
    except (av.FFmpegError, IndexError, OSError) as exc:
        raise RenderError(f"cannot open video {path.name}: {type(exc).__name__}") from exc
    return _segment_at((duration - need_s) / 2, need_s, MIDDLE)


def _segment(start_bin: int, need_s: float, duration: float, reason: str) -> Segment:
    start = min(start_bin * BIN_S, max(0.0, duration - need_s))
    return _segment_at(start, need_s, reason)


def _segment_at(start: float, need_s: float, reason: str) -> Segment:
    return Segment(round(start, 3), round(start + need_s, 3), reason)


def _best_window(per_bin: np.ndarray, span: int, good) -> int | None:
    """The start bin of the window of ``span`` bins with the largest sum, when
    ``good(best, quiet)`` says it stands out from the clip's quiet part (the 20th
    percentile of windows: a voice in the last third of a clip still stands out).
    When several windows hold the loud part whole, the middle one: it is centred."""
    if len(per_bin) <= span:
        return None
    sums = np.convolve(per_bin, np.ones(span), mode="valid")
    best = int(np.argmax(sums))
    if not good(float(sums[best]) / span, float(np.percentile(sums, 20)) / span):
        return None
    near = sums >= 0.95 * sums[best]
    first = last = best
    while first > 0 and near[first - 1]:
        first -= 1
    while last + 1 < len(sums) and near[last + 1]:
        last += 1
    return (first + last) // 2


def _db(power: float) -> float:
    return 10 * math.log10(max(power, 1e-12))


def _loud_enough(best: float, median: float) -> bool:
    return _db(best) >= LOUD_MIN_DBFS and _db(best) - _db(median) >= LOUD_MARGIN_DB


def _moves_more(best: float, median: float) -> bool:
    return best > 0 and best >= MOTION_MARGIN * max(median, 1e-9)


def _audio_levels(container: av.container.InputContainer, bins: int) -> np.ndarray | None:
    """Mean power (full scale = 1) of the first audio stream per BIN_S, from its
    start (resampled to 8 kHz mono: enough to tell speech from silence)."""
    rate = 8000
    per = round(BIN_S * rate)
    samples = decode_audio(container, rate, "mono", "flt", max_s=bins * BIN_S)
    if samples is None or not len(samples):
        return None
    mono = samples[:, 0]
    n = min(bins, math.ceil(len(mono) / per))
    padded = np.zeros(n * per, dtype=np.float32)
    padded[: len(mono)] = mono[: n * per]
    power = np.zeros(bins)
    power[:n] = np.mean(padded.reshape(n, per) ** 2, axis=1)
    return power


def decode_audio(
    container: av.container.InputContainer,
    rate: int,
    layout: str,
    fmt: str,
    start_s: float = 0.0,
    max_s: float = MAX_ANALYSED_S,
) -> np.ndarray | None:
    """The first audio stream from ``start_s`` (seconds from the stream's start) for
    up to ``max_s``, as (n, channels) samples of ``fmt`` ('flt' or 's16') at
    ``rate``; None when it has none or nothing decodes."""
    if not container.streams.audio:
        return None
    stream = container.streams.audio[0]
    base = float(stream.start_time * stream.time_base) if stream.start_time is not None and stream.time_base else 0.0
    if start_s > 0.5 and stream.time_base:
        try:
            container.seek(int((base + start_s) / stream.time_base), stream=stream, backward=True)
        except av.FFmpegError:
            container.seek(0)
    resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate)
    chunks: list[np.ndarray] = []
    first: float | None = None
    channels = 1 if layout == "mono" else 2
    total = 0
    want = round(max_s * rate)
    try:
        for frame in container.decode(stream):
            if first is None:
                first = (frame.time - base) if frame.time is not None else 0.0
            for out in resampler.resample(frame):
                arr = out.to_ndarray().reshape(-1, channels)
                chunks.append(arr)
                total += len(arr)
            if first + total / rate >= start_s + max_s:
                break
    except av.FFmpegError:
        pass  # a broken track: keep what decoded
    if not chunks or first is None:
        return None
    audio = np.concatenate(chunks)
    skip = round((start_s - first) * rate)
    if skip > 0:
        audio = audio[skip:]
    elif skip < 0:  # the track starts late: pad with silence
        audio = np.concatenate([np.zeros((-skip, channels), dtype=audio.dtype), audio])
    return audio[:want]


def _motion_bytes(path: Path, bins: int) -> np.ndarray | None:
    """Bytes of inter-coded video frames per BIN_S, from the container index (or,
    when the container has none, its packets: demuxed, not decoded)."""
    per_bin = np.zeros(bins)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = stream.time_base
        if tb is None:
            return None
        start = stream.start_time or 0
        entries = [(e.timestamp, e.size) for e in stream.index_entries if not e.is_keyframe]
        if len(entries) < 2:
            entries = [
                (p.pts, p.size) for p in container.demux(stream) if p.pts is not None and p.size and not p.is_keyframe
            ]
    if len(entries) < 2:
        return None
    for ts, size in entries:
        b = int(float((ts - start) * tb) / BIN_S)
        if 0 <= b < bins:
            per_bin[b] += size
    return per_bin


LIVE_MIN_COVER = 0.6  # a Live Photo's motion plays when it lasts at least this share of the shot


class ShotPlans:
    """The plan of every clip and Live Photo shot, made on one worker thread in shot
    order as soon as the render starts (the soundtrack needs the segments before the
    frames reach them). Photo shots are Ken Burns without asking."""

    def __init__(self, shots, media, spans, fps: int):
        self._renders: dict[int, ShotRender] = {}
        self._futures: dict[int, Future[ShotRender]] = {}
        self._audio: set[int] = set()
        self._lock = threading.Lock()
        self.spans = {s.index: s for s in spans}
        self.fps = fps
        self.media = {s.index: media[shots[s.index].media_id] for s in spans}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reel-clips")
        for span in sorted(spans, key=lambda s: s.index):
            item = self.media[span.index]
            if item.kind == "VIDEO" or item.motion_path is not None:
                self._futures[span.index] = self._executor.submit(self._plan, span.index, item, span.frames / fps)
            else:
                self._renders[span.index] = ShotRender(span.index, item.media_id, KEN_BURNS)

    def _plan(self, index: int, item, need_s: float) -> ShotRender:
        set_batch_scheduling()
        if item.kind == "VIDEO":
            seg = choose_segment(item.path, need_s, item.duration_s)
            return ShotRender(index, item.media_id, VIDEO, seg.start_s, seg.end_s, seg.reason)
        try:
            with av.open(str(item.motion_path)) as container:
                duration = probe_duration(container, container.streams.video[0])
        except (av.FFmpegError, IndexError, OSError):
            return ShotRender(index, item.media_id, KEN_BURNS, detail="motion_unreadable")
        if duration < LIVE_MIN_COVER * need_s:
            return ShotRender(index, item.media_id, KEN_BURNS, detail="motion_too_short")
        start = max(0.0, (duration - need_s) / 2)  # the still is the clip's middle moment
        end = min(duration, start + need_s)
        return ShotRender(index, item.media_id, LIVE_PHOTO_MOTION, round(start, 3), round(end, 3), LIVE_PHOTO)

    def plan(self, index: int) -> ShotRender:
        """Shot ``index``'s plan (waits for it); re-raises the planning error."""
        with self._lock:
            done = self._renders.get(index)
        if done is not None:
            return done
        render = self._futures[index].result()
        with self._lock:
            return self._renders.setdefault(index, render)

    def fall_back(self, index: int, detail: str) -> None:
        """Shot ``index`` is drawn as Ken Burns after all (its motion did not decode)."""
        with self._lock:
            old = self._renders.get(index)
            media_id = old.media_id if old else self.media[index].media_id
            self._renders[index] = ShotRender(index, media_id, KEN_BURNS, detail=detail)

    def mark_audio(self, index: int) -> None:
        with self._lock:
            self._audio.add(index)

    def renders(self) -> list[ShotRender]:
        """Every planned shot's record, in shot order."""
        out = []
        for index in sorted(self.spans):
            try:
                render = self.plan(index)
            except Exception:  # noqa: BLE001  # a shot whose plan failed has no record
                continue
            if index in self._audio:
                render = dataclasses.replace(render, clip_audio=True)
            out.append(render)
        return out

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

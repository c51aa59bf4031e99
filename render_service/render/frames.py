"""Frame generation: the script's timeline turned into yuv420p frames.

Per shot, one prepared canvas (decoded once, at reduced size, already converted
to BT.709 limited-range YUV planes); per frame only cheap work:

- static shots: the same crop every frame, computed once;
- pans: a crop of exactly the output size (a memory copy, no resampling);
- zooms: an integer crop box (whole-pixel steps, so motion is smooth) scaled to
  the output size by swscale (PyAV's reformatter, area filter, one thread:
  ~0.8 ms a frame, against ~6 ms for Pillow's resize of the three planes);
- videos: decoded frames scaled/cropped or padded to the frame;
- crossfades and fades through black: one integer blend over the buffer;
- text: blended into its own bounding box only.

Canvases are prepared on a worker thread a couple of shots ahead, and dropped as
soon as their shot is over, so memory stays bounded whatever the number of shots.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.plane import VideoPlane
from av.video.reformatter import VideoReformatter
from PIL import Image

from . import photo as photo_mod
from .clips import LIVE_PHOTO_MOTION, ShotPlans, probe_duration
from .hdr import HdrToneMapper, mapper_for, needs_tone_mapping
from .sched import set_batch_scheduling
from .text import Overlay, plan_text, render_item
from .timeline import Motion, ShotSpan, build_timeline, plan_motion
from .types import MediaInput, RenderCancelled, RenderError, RenderParams, ShotFailed, ShotRender

LOOKAHEAD_SHOTS = 2


def split_planes(buf: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, U and V planes of a packed yuv420p buffer."""
    ys = width * height
    cs = ys // 4
    return (
        buf[:ys].reshape(height, width),
        buf[ys : ys + cs].reshape(height // 2, width // 2),
        buf[ys + cs : ys + 2 * cs].reshape(height // 2, width // 2),
    )


def new_buffer(width: int, height: int) -> np.ndarray:
    return np.empty(width * height * 3 // 2, dtype=np.uint8)


def black_buffer(width: int, height: int) -> np.ndarray:
    buf = new_buffer(width, height)
    buf[: width * height] = 16
    buf[width * height :] = 128
    return buf


def rgb_to_planes(im: Image.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB image (even size) -> BT.709 limited-range Y, U, V planes (swscale)."""
    frame = av.VideoFrame.from_image(im).reformat(
        format="yuv420p",
        dst_colorspace="ITU709",
        dst_color_range="MPEG",
        interpolation="BICUBIC",
        threads=1,
    )
    y, u, v = frame.planes  # yuv420p: three planes
    return _plane_array(y), _plane_array(u), _plane_array(v)


def plane_view(plane: VideoPlane) -> np.ndarray:
    """A writable (height, line_size) uint8 view of one plane of a frame, padding included."""
    # through memoryview: numpy's stubs take only their own list of buffer types before 3.12
    return np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(plane.height, plane.line_size)


def _plane_array(plane: VideoPlane) -> np.ndarray:
    return np.ascontiguousarray(plane_view(plane)[:, : plane.width])


def _plane_array16(plane: VideoPlane) -> np.ndarray:
    """One plane of a 16-bit-per-sample frame (yuv420p10le) as (height, width) uint16."""
    rows = np.frombuffer(memoryview(plane), dtype="<u2").reshape(plane.height, plane.line_size // 2)
    return rows[:, : plane.width]


def _fill_frame_planes(frame: av.VideoFrame, planes, x0: int, y0: int, w: int, h: int) -> None:
    # both yuv420p: three planes each
    for i, (plane, src) in enumerate(zip(frame.planes, planes, strict=True)):
        dst = plane_view(plane)
        if i == 0:
            dst[:, :w] = src[y0 : y0 + h, x0 : x0 + w]
        else:
            cw, ch = (w + 1) // 2, (h + 1) // 2
            dst[:, :cw] = src[y0 // 2 : y0 // 2 + ch, x0 // 2 : x0 // 2 + cw]


def _copy_frame_to(frame: av.VideoFrame, dst_planes) -> None:
    for plane, dst in zip(frame.planes, dst_planes, strict=True):  # yuv420p and its three plane views
        src = plane_view(plane)
        dst[...] = src[: dst.shape[0], : dst.shape[1]]


class PhotoSource:
    """A photo shot: canvas planes plus its motion."""

    def __init__(self, planes, motion: Motion):
        self.planes = planes
        self.motion = motion
        w, h = motion.width, motion.height
        self.buf = new_buffer(w, h)
        self._views = split_planes(self.buf, w, h)
        self._key: tuple[int, int, int, int] | None = None
        self._scaler = VideoReformatter()

    def frame(self, k: int) -> np.ndarray:
        """Frame ``k`` in this source's own buffer (recomputed only when the box moves)."""
        box = self.motion.box(k)
        if box != self._key:
            self._draw(box, self._views)
            self._key = box
        return self.buf

    def render_into(self, k: int, dst: np.ndarray) -> None:
        """Frame ``k`` straight into ``dst``: one memory pass less than ``frame``."""
        if self.motion.kind == "static":
            np.copyto(dst, self.frame(k))
        else:
            self._draw(self.motion.box(k), split_planes(dst, self.motion.width, self.motion.height))

    def _draw(self, box: tuple[int, int, int, int], views) -> None:
        x0, y0, bw, bh = box
        w, h = self.motion.width, self.motion.height
        if (bw, bh) == (w, h):
            yv, uv, vv = views
            Y, U, V = self.planes
            yv[...] = Y[y0 : y0 + h, x0 : x0 + w]
            uv[...] = U[y0 // 2 : y0 // 2 + h // 2, x0 // 2 : x0 // 2 + w // 2]
            vv[...] = V[y0 // 2 : y0 // 2 + h // 2, x0 // 2 : x0 // 2 + w // 2]
        else:
            crop = av.VideoFrame(bw, bh, "yuv420p")
            _fill_frame_planes(crop, self.planes, x0, y0, bw, bh)
            scaled = self._scaler.reformat(crop, width=w, height=h, interpolation="AREA", threads=1)
            _copy_frame_to(scaled, views)

    def close(self) -> None:
        self.planes = None


MAX_CLIP_S = 24 * 3600.0  # longer is a broken or hostile header (the scan skips it too)


class VideoSource:
    """A video shot: ``frames`` output frames of the clip from ``start_s`` (seconds
    from the start of its video stream; by default the middle).

    Frames are picked by their timestamps, so variable-frame-rate clips play at
    their real speed. HDR frames (PQ/HLG, BT.2020) are tone-mapped to SDR BT.709
    (``hdr.py``). ``hold_on_error``: a decode error after the first frame holds the
    last good frame instead of failing the shot (a Live Photo's motion: the still
    is there to fall back on)."""

    def __init__(
        self,
        item: MediaInput,
        frames: int,
        width: int,
        height: int,
        fps: int,
        start_s: float | None = None,
        *,
        path: Path | None = None,
        hold_on_error: bool = False,
    ):
        self.width, self.height, self.fps = width, height, fps
        self.buf = black_buffer(width, height)
        self._views = split_planes(self.buf, width, height)
        path = path or item.path
        try:
            self.container = av.open(str(path))
            stream = self.container.streams.video[0]
        except (av.FFmpegError, IndexError, OSError) as exc:
            raise RenderError(f"cannot open video {path.name}: {type(exc).__name__}") from exc
        stream.thread_type = "AUTO"
        stream.thread_count = 1
        self.stream = stream
        duration = item.duration_s if path == item.path else 0.0
        if duration <= 0:
            duration = probe_duration(self.container, stream)
        if not 0 <= duration <= MAX_CLIP_S:  # a hostile header (2^32-1 s): drop the shot, not the reel
            self.container.close()
            raise RenderError(f"video {path.name} claims an implausible duration")
        base = float(stream.start_time * _time_base(stream)) if stream.start_time is not None else 0.0
        if start_s is None:
            start_s = max(0.0, (duration - frames / fps) / 2)
        self.start = base + start_s
        # A Live Photo's motion clip carries its own display matrix; the still's EXIF
        # orientation is not the clip's.
        self.orientation = item.orientation if path == item.path else 1
        self.hold_on_error = hold_on_error
        self._tone: HdrToneMapper | None = None
        if self.start > base + 0.05:
            try:
                self.container.seek(int(self.start / _time_base(stream)), stream=stream, backward=True)
            except av.FFmpegError:
                self.container.seek(0)
        self._decoder = self.container.decode(stream)
        self._current: av.VideoFrame | None = None
        self._next: av.VideoFrame | None = None
        self._shown: av.VideoFrame | None = None
        self._layout: tuple | None = None
        self._ended = False

    def _pull(self) -> av.VideoFrame | None:
        if self._ended:
            return None
        try:
            return next(self._decoder)
        except StopIteration:
            self._ended = True
            return None
        except av.FFmpegError as exc:
            if self.hold_on_error and self._current is not None:
                self._ended = True
                return None
            raise RenderError(f"cannot decode video: {type(exc).__name__}") from exc

    def frame(self, k: int) -> np.ndarray:
        t = self.start + k / self.fps + 0.5 / self.fps
        if self._current is None:
            self._current = self._pull()
            if self._current is None:
                raise RenderError("video has no frames")
            self._next = self._pull()
        while self._next is not None and self._next.time is not None and self._next.time <= t:
            self._current, self._next = self._next, self._pull()
        if self._current is not self._shown:
            self._draw(self._current)
            self._shown = self._current
        return self.buf

    def _draw(self, frame: av.VideoFrame) -> None:
        rot = {3: 180, 6: 270, 8: 90}.get(self.orientation, 0)
        if not rot:
            rot = int(getattr(frame, "rotation", 0) or 0) % 360
        swap = rot in (90, 270)
        uw, uh = (frame.height, frame.width) if swap else (frame.width, frame.height)
        W, H = self.width, self.height
        cover = photo_mod.is_cover(uw, uh, W, H)
        scale = max(W / uw, H / uh) if cover else min(W / uw, H / uh)
        sw, sh = max(2, 2 * round(uw * scale / 2)), max(2, 2 * round(uh * scale / 2))
        tw, th = (sh, sw) if swap else (sw, sh)
        planes = self._convert(frame, tw, th)
        if rot:
            turns = {90: 1, 180: 2, 270: 3}[rot]  # np.rot90 turns counter-clockwise
            planes = [np.rot90(p, turns) for p in planes]
        yv, uv, vv = self._views
        if cover:
            x0, y0 = (sw - W) // 2 & ~1, (sh - H) // 2 & ~1
            yv[...] = planes[0][y0 : y0 + H, x0 : x0 + W]
            uv[...] = planes[1][y0 // 2 : y0 // 2 + H // 2, x0 // 2 : x0 // 2 + W // 2]
            vv[...] = planes[2][y0 // 2 : y0 // 2 + H // 2, x0 // 2 : x0 // 2 + W // 2]
        else:
            x0, y0 = (W - sw) // 2 & ~1, (H - sh) // 2 & ~1
            yv[y0 : y0 + sh, x0 : x0 + sw] = planes[0]
            uv[y0 // 2 : y0 // 2 + sh // 2, x0 // 2 : x0 // 2 + sw // 2] = planes[1]
            vv[y0 // 2 : y0 // 2 + sh // 2, x0 // 2 : x0 // 2 + sw // 2] = planes[2]

    def _convert(self, frame: av.VideoFrame, tw: int, th: int) -> list[np.ndarray]:
        """The frame scaled to ``tw`` x ``th`` as BT.709 limited-range yuv420p planes;
        HDR and BT.2020 frames through the tone mapper."""
        if needs_tone_mapping(frame.color_trc, frame.color_primaries):
            if self._tone is None or self._tone.trc != frame.color_trc:
                self._tone = mapper_for(frame.color_trc)
            deep = frame.reformat(width=tw, height=th, format="yuv420p10le", interpolation="BICUBIC", threads=1)
            y, u, v = (_plane_array16(p) for p in deep.planes)
            return list(self._tone.convert(y, u, v))
        scaled = frame.reformat(
            width=tw,
            height=th,
            format="yuv420p",
            dst_colorspace="ITU709",
            dst_color_range="MPEG",
            interpolation="BICUBIC",
            threads=1,
        )
        return [_plane_array(p) for p in scaled.planes]

    def render_into(self, k: int, dst: np.ndarray) -> None:
        np.copyto(dst, self.frame(k))

    def close(self) -> None:
        try:
            self.container.close()
        except Exception:  # noqa: BLE001  # closing is best effort
            pass


def _time_base(stream: av.VideoStream) -> Fraction:
    """The stream's time base, needed to read its timestamps; a RenderError (the shot
    fails) when the demuxer set none."""
    if stream.time_base is None:
        raise RenderError("video stream has no time base")
    return stream.time_base


def prepare_source(
    item: MediaInput, motion_kind: str, frames: int, params: RenderParams, plan: ShotRender | None = None
) -> PhotoSource | VideoSource:
    """Build the shot's source (runs on the worker thread). ``plan`` says which part
    of a clip to play, and whether a Live Photo plays its motion."""
    W, H = params.width, params.height
    if item.kind == "VIDEO":
        start = plan.segment_start_s if plan is not None else None
        return VideoSource(item, frames, W, H, params.fps, start)
    if plan is not None and plan.treatment == LIVE_PHOTO_MOTION:
        source = VideoSource(
            item, frames, W, H, params.fps, plan.segment_start_s, path=item.motion_path, hold_on_error=True
        )
        try:
            source.frame(0)  # a motion clip that does not decode falls back to the still
        except RenderError:
            source.close()
            raise
        return source
    motion = plan_motion(motion_kind, frames, W, H)
    planes = photo_planes(item, motion.canvas_w, motion.canvas_h, W, H)
    if item.focus is not None:  # the motion ends on the faces (timeline.Motion)
        w, h = photo_mod.upright_size(item.path, item.orientation)
        motion = replace(motion, focus=photo_mod.canvas_focus(w, h, motion.canvas_w, motion.canvas_h, W, H, item.focus))
    return PhotoSource(planes, motion)


def photo_planes(item: MediaInput, canvas_w: int, canvas_h: int, frame_w: int, frame_h: int):
    """The photo's canvas as YUV planes. Cover-mode photos are cropped in place and
    scaled + converted by one swscale call; others go through the Pillow layout."""
    im = photo_mod.load_photo(item.path, item.orientation, canvas_w, canvas_h, frame_w, frame_h)
    w, h = im.size
    if not photo_mod.is_cover(w, h, frame_w, frame_h):
        return rgb_to_planes(photo_mod.compose_canvas(im, canvas_w, canvas_h, frame_w, frame_h))
    # Pillow's crop, then one copy into the frame: 3 ms for a 12 MP JPEG's 2000x1125
    # crop, where numpy's view, its contiguous copy and from_ndarray took 4-6 ms
    frame = av.VideoFrame.from_image(im.crop(photo_mod.cover_box(w, h, canvas_w, canvas_h, item.focus)))
    out = frame.reformat(
        width=canvas_w,
        height=canvas_h,
        format="yuv420p",
        dst_colorspace="ITU709",
        dst_color_range="MPEG",
        interpolation="BICUBIC",
        threads=1,
    )
    return tuple(_plane_array(p) for p in out.planes)


class FrameComposer:
    """Yields the reel's frames in order as packed yuv420p buffers."""

    def __init__(
        self, script, media: dict[str, MediaInput], params: RenderParams, cancel: threading.Event | None = None
    ):
        if not script.shots:
            raise RenderError("script has no shots")
        missing = [s.media_id for s in script.shots if s.media_id not in media]
        if missing:
            raise RenderError(f"{len(missing)} shot(s) reference media not given to the renderer")
        self.script = script
        self.media = media
        self.params = params
        self.cancel = cancel
        self.timeline = build_timeline(
            [s.duration_s for s in script.shots], [s.transition for s in script.shots], params.fps
        )
        if self.timeline.total_frames <= 0:
            raise RenderError("script duration is zero")
        self.text_items = plan_text(script, self.timeline, params.fps)
        self.width, self.height = params.width, params.height
        self.black = black_buffer(self.width, self.height)
        n = self.width * self.height * 3 // 2
        self._t1 = np.empty(n, dtype=np.uint16)
        self._t2 = np.empty(n, dtype=np.uint16)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reel-prep")
        self._futures: dict[int, Future[PhotoSource | VideoSource]] = {}
        self._sources: dict[int, PhotoSource | VideoSource] = {}
        self._overlays: dict[int, Overlay] = {}
        self.prepare_s = 0.0  # worker-thread time spent preparing shots
        self.wait_prepare_s = 0.0  # time the frame loop waited for a shot
        self._lock = threading.Lock()
        self.plans = ShotPlans(script.shots, media, self.timeline.spans, params.fps)

    def start(self) -> None:
        """Begin preparing the first shots (called before the encoder starts)."""
        self._housekeep(0)

    @property
    def total_frames(self) -> int:
        return self.timeline.total_frames

    # -- shot sources ----------------------------------------------------------------

    def _submit(self, span: ShotSpan) -> None:
        if span.index in self._futures or span.index in self._sources:
            return
        shot = self.script.shots[span.index]
        item = self.media[shot.media_id]

        def job():
            set_batch_scheduling()
            t0 = time.perf_counter()
            try:
                plan = self.plans.plan(span.index)
                try:
                    return prepare_source(item, shot.motion, span.frames, self.params, plan)
                except RenderError:
                    if plan.treatment != LIVE_PHOTO_MOTION:
                        raise
                    self.plans.fall_back(span.index, "motion_unreadable")
                    return prepare_source(item, shot.motion, span.frames, self.params, self.plans.plan(span.index))
            finally:
                with self._lock:
                    self.prepare_s += time.perf_counter() - t0

        self._futures[span.index] = self._executor.submit(job)

    def _source(self, span: ShotSpan) -> PhotoSource | VideoSource:
        src = self._sources.get(span.index)
        if src is not None:
            return src
        self._submit(span)
        t0 = time.perf_counter()
        try:
            src = self._futures.pop(span.index).result()
        except Exception as exc:
            raise self._shot_failed(span, exc) from exc
        self.wait_prepare_s += time.perf_counter() - t0
        self._sources[span.index] = src
        return src

    def _shot_failed(self, span: ShotSpan, exc: Exception) -> ShotFailed:
        detail = str(exc) if isinstance(exc, RenderError) else type(exc).__name__
        return ShotFailed(span.index, self.script.shots[span.index].media_id, detail)

    def _frame(self, span: ShotSpan, f: int, out: np.ndarray | None = None) -> np.ndarray:
        """Frame ``f`` of ``span``'s shot, in its source's buffer or drawn into ``out``."""
        try:
            source = self._source(span)
            if out is None:
                return source.frame(f - span.start)
            source.render_into(f - span.start, out)
            return out
        except ShotFailed:
            raise
        except Exception as exc:
            raise self._shot_failed(span, exc) from exc

    def _housekeep(self, f: int) -> None:
        spans = self.timeline.spans
        current = [s.index for s in spans if s.start <= f < s.end]
        last = max(current) if current else -1
        for s in spans:  # in order: what is on screen first, then the next few
            if s.end > f and s.index <= last + LOOKAHEAD_SHOTS:
                self._submit(s)
        for idx in [i for i in self._sources if spans_by_index(spans, i).end <= f]:
            self._sources.pop(idx).close()

    # -- frames ------------------------------------------------------------------------

    def frames(self, get_buffer: Callable[[], np.ndarray]) -> Iterator[np.ndarray]:
        """Fill buffers from ``get_buffer`` and yield them, one per frame."""
        tl = self.timeline
        for f in range(tl.total_frames):
            if self.cancel is not None and self.cancel.is_set():
                raise RenderCancelled("render cancelled")
            self._housekeep(f)
            out = get_buffer()
            layers = tl.layers(f)
            if len(layers) == 2:
                (a, wa), (b, wb) = layers
                self._blend(self._frame(a, f), self._frame(b, f), wb, out)
            elif layers:
                span, level = layers[0]
                if level >= 1.0:
                    self._frame(span, f, out)
                else:
                    self._blend(self.black, self._frame(span, f), level, out)
            else:
                np.copyto(out, self.black)
            self._draw_text(f, out)
            yield out

    def _blend(self, a: np.ndarray, b: np.ndarray, wb: float, out: np.ndarray) -> None:
        w = min(256, max(0, round(wb * 256)))
        np.multiply(a, 256 - w, out=self._t1, dtype=np.uint16)
        np.multiply(b, w, out=self._t2, dtype=np.uint16)
        np.add(self._t1, self._t2, out=self._t1)
        np.right_shift(self._t1, 8, out=out, casting="unsafe")

    def _draw_text(self, f: int, out: np.ndarray) -> None:
        tl = self.timeline
        fade = 1.0
        if tl.end_fade and f >= tl.total_frames - tl.end_fade:
            fade = (tl.total_frames - f) / (tl.end_fade + 1)
        planes = None
        for i, item in enumerate(self.text_items):
            if f >= item.end:
                self._overlays.pop(i, None)
                continue
            if f < item.start:
                continue
            ov = self._overlays.get(i)
            if ov is None:
                ov = self._overlays[i] = render_item(item, self.width, self.height)
            if planes is None:
                planes = split_planes(out, self.width, self.height)
            ov.blend(*planes, level=item.level(f) * fade)

    def close(self) -> None:
        self.plans.close()
        for fut in self._futures.values():
            fut.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)
        for fut in self._futures.values():
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                fut.result().close()
        self._futures.clear()
        for src in self._sources.values():
            src.close()
        self._sources.clear()
        self._overlays.clear()


def spans_by_index(spans, index: int) -> ShotSpan:
    for s in spans:
        if s.index == index:
            return s
    raise KeyError(index)

"""``render_reel`` and ``make_poster``: a Script plus media files to an MP4 and a JPEG."""

from __future__ import annotations

import contextlib
import os
import queue
import resource
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import music, soundtrack
from . import photo as photo_mod
from .encoder import FfmpegEncoder, audio_pipe, encoder_args
from .frames import FrameComposer, VideoSource, new_buffer, plane_view, split_planes
from .sched import batch_scheduling, set_batch_scheduling
from .text import title_panel
from .timeline import plan_motion
from .types import MediaInput, RenderCancelled, RenderError, RenderParams, RenderStats

Progress = Callable[[float, str], None]
FRAME_BUFFERS = 8  # frames in flight between the frame loop and the pipe writer (11 MB at 720p)


def render_reel(
    script,
    media: dict[str, MediaInput],
    out_tmp: Path,
    params: RenderParams | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> RenderStats:
    """Render ``script`` to ``out_tmp`` (an MP4 whatever its name; the caller renames it).

    Raises RenderCancelled when ``cancel`` is set and RenderError on any failure;
    in both cases ffmpeg is stopped and ``out_tmp`` removed.
    """
    params = params or RenderParams()
    out_tmp = Path(out_tmp)
    t_start = time.perf_counter()
    stages: dict[str, float] = {}
    report = progress or (lambda fraction, stage: None)
    composer: FrameComposer | None = None
    encoder: FfmpegEncoder | None = None
    audio_fds: tuple[int, int] | None = None
    audio: _Background | None = None
    try:
        report(0.0, "prepare")
        composer = FrameComposer(script, media, params, cancel)
        composer.start()
        total = composer.total_frames
        audio = _Background(
            "reel-music",
            soundtrack.build,
            script.mood,
            script.music_style,
            total / params.fps,
            params.seed,
            composer.plans,
        )
        _check(cancel)

        pool: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()
        for _ in range(FRAME_BUFFERS):
            pool.put(new_buffer(params.width, params.height))
        out_tmp.parent.mkdir(parents=True, exist_ok=True)
        audio_fds = audio_pipe()
        args = encoder_args(
            params.width,
            params.height,
            params.fps,
            params.crf,
            params.preset,
            audio_fds[0],
            music.SAMPLE_RATE,
            str(out_tmp),
        )
        read_fd, write_fd = audio_fds
        audio_fds = None  # the encoder owns both ends from here on
        encoder = FfmpegEncoder(args, audio, read_fd, write_fd, release=pool.put, queue_size=FRAME_BUFFERS)

        waited = [0.0]

        def get_buffer() -> np.ndarray:
            t = time.perf_counter()
            buf = pool.get()
            waited[0] += time.perf_counter() - t
            return buf

        t0 = time.perf_counter()
        step = max(1, total // 50)
        with batch_scheduling():
            for f, buf in enumerate(composer.frames(get_buffer)):
                encoder.submit(buf)
                if f % step == 0:
                    report(0.02 + 0.95 * f / total, "encode")
        stages["frames_s"] = time.perf_counter() - t0
        stages["encoder_wait_s"] = waited[0] + encoder.write_wait_s  # frame loop blocked on the encoder
        stages["writer_starved_s"] = encoder.starved_s  # pipe writer waiting for frames
        stages["prepare_shots_s"] = composer.prepare_s
        stages["wait_prepare_s"] = composer.wait_prepare_s
        _check(cancel)
        report(0.97, "finalize")
        t0 = time.perf_counter()
        encoder.finish()
        stages["finalize_s"] = time.perf_counter() - t0
        stages["music_s"] = audio.elapsed_s
        size = out_tmp.stat().st_size
        report(1.0, "done")
        return RenderStats(
            wall_s=time.perf_counter() - t_start,
            frames=total,
            width=params.width,
            height=params.height,
            fps=params.fps,
            bytes=size,
            duration_s=total / params.fps,
            encoder="ffmpeg-libx264",
            encoder_args=args,
            stages={k: round(v, 4) for k, v in stages.items()},
            peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            encoder_peak_rss_mb=encoder.peak_rss_mb,
            shots=composer.plans.renders(),
        )
    except BaseException as exc:
        if encoder is not None:
            encoder.abort()
        if audio_fds is not None:
            for fd in audio_fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            out_tmp.unlink()
        if isinstance(exc, RenderError) or not isinstance(exc, Exception):
            raise
        raise RenderError(f"render failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if composer is not None:
            composer.close()
        if audio is not None:
            audio.join()


class _Background:
    """Run ``fn(*args)`` on its own thread; ``result()`` waits for it."""

    def __init__(self, name: str, fn, *args):
        self._value = None
        self._error: BaseException | None = None
        self.elapsed_s = 0.0
        self._thread = threading.Thread(target=self._run, args=(fn, args), name=name, daemon=True)
        self._thread.start()

    def _run(self, fn, args) -> None:
        set_batch_scheduling()
        t0 = time.perf_counter()
        try:
            self._value = fn(*args)
        except BaseException as exc:  # noqa: BLE001  # re-raised by result()
            self._error = exc
        self.elapsed_s = time.perf_counter() - t0

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise RenderError(f"music synthesis failed: {self._error}") from self._error
        return self._value

    def join(self) -> None:
        self._thread.join()


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise RenderCancelled("render cancelled")


def _poster_frame(item: MediaInput, params: RenderParams):
    """One RGB image of the output size: a photo's canvas, or a clip's middle frame."""
    W, H = params.width, params.height
    if item.kind != "VIDEO":
        motion = plan_motion("static", 1, W, H)
        return photo_mod.photo_canvas(item.path, item.orientation, motion.canvas_w, motion.canvas_h, W, H, item.focus)
    source = VideoSource(item, 1, W, H, params.fps)
    try:
        buf = source.frame(0)
    finally:
        source.close()
    import av

    frame = av.VideoFrame(W, H, "yuv420p")
    for plane, src in zip(frame.planes, split_planes(buf, W, H), strict=True):  # yuv420p: three planes each
        dst = plane_view(plane)
        dst[:, : src.shape[1]] = src
    return frame.reformat(format="rgb24", src_colorspace="ITU709", src_color_range="MPEG").to_image()


def make_poster(script, media: dict[str, MediaInput], out_path: Path, params: RenderParams | None = None) -> Path:
    """Write a JPEG poster of the output size: the first photo shot (else the first
    video's middle frame) with the title card. Raises RenderError on failure."""
    params = params or RenderParams()
    out_path = Path(out_path)
    W, H = params.width, params.height
    if not script.shots:
        raise RenderError("script has no shots")
    shots = [s for s in script.shots if s.media_id in media]
    if not shots:
        raise RenderError("no media for the poster")
    # Photos first, then clips; the first that can be drawn (one broken file never
    # costs the reel its poster).
    ordered = [s for s in shots if media[s.media_id].kind != "VIDEO"] + [
        s for s in shots if media[s.media_id].kind == "VIDEO"
    ]
    image = None
    failure: Exception | None = None
    for shot in ordered:
        try:
            image = _poster_frame(media[shot.media_id], params)
            break
        except Exception as exc:  # noqa: BLE001  # try the next shot
            failure = exc
    if image is None:
        raise RenderError(f"no shot could be drawn for the poster: {type(failure).__name__}") from failure
    image = image.convert("RGBA")
    if script.title.strip() or script.subtitle.strip():
        panel, x, y = title_panel(script.title, script.subtitle, W, H)
        image.alpha_composite(panel, (x, y))
    tmp = out_path.with_name(out_path.name + ".part")
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        image.convert("RGB").save(tmp, format="JPEG", quality=88, optimize=True)
        os.replace(tmp, out_path)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise RenderError(f"cannot write poster: {type(exc).__name__}") from exc
    return out_path

"""In-process encoder: PyAV's libx264 (frame threads) and AAC, muxed to a
faststart MP4 by libavformat. Frames are queued to a dedicated encoder thread;
PyAV releases the GIL while x264 works, so frame generation overlaps encoding
without any pipe transfer."""

from __future__ import annotations

import queue
import threading
import time
from fractions import Fraction

import av
import numpy as np

from .types import RenderError

_STOP = object()


class PyavEncoder:
    def __init__(self, out: str, width: int, height: int, fps: int, crf: int, preset: str,
                 audio, sample_rate: int, pool_size: int = 4):
        self.width, self.height, self.fps = width, height, fps
        self.options = {"preset": preset, "crf": str(crf), "profile": "high"}
        self.args = [f"pyav libx264 {k}={v}" for k, v in self.options.items()] + ["aac 128k", "movflags=+faststart"]
        self.error: BaseException | None = None
        self.write_wait_s = 0.0
        self.peak_rss_mb = None
        try:
            self.container = av.open(out, "w", format="mp4", options={"movflags": "+faststart"})
            vs = self.container.add_stream("libx264", rate=fps, options=self.options)
            vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
            cc = vs.codec_context
            cc.thread_type = "FRAME"
            cc.thread_count = 0
            cc.color_range = 1  # MPEG (limited)
            cc.colorspace = 1  # BT.709
            cc.color_primaries = 1
            cc.color_trc = 1
            vs.time_base = Fraction(1, fps)
            self.video = vs
            self.audio_stream = None
            if audio is not None:
                ast = self.container.add_stream("aac", rate=sample_rate)
                ast.layout = "stereo"
                ast.bit_rate = 128_000
                self.audio_stream = ast
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise RenderError(f"cannot open encoder: {exc}") from exc
        self._audio_source = audio  # an array, or an object whose result() gives one
        self._audio: np.ndarray | None = None
        self._audio_pos = 0
        self._sample_rate = sample_rate
        self._pool: queue.SimpleQueue[av.VideoFrame] = queue.SimpleQueue()
        for _ in range(pool_size):
            self._pool.put(av.VideoFrame(width, height, "yuv420p"))
        self._queue: queue.Queue = queue.Queue(maxsize=pool_size)
        self._thread = threading.Thread(target=self._run, name="reel-encoder", daemon=True)
        self._frames = 0
        self._closed = False
        self._thread.start()

    # -- encoder thread ------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                if self.error is not None:
                    self._pool.put(item)
                    continue
                self._mux(self.video.encode(item))
                self._pool.put(item)
                self._encode_audio_until((item.pts + 1) / self.fps)
            if self.error is None:
                self._mux(self.video.encode(None))
                self._encode_audio_until(None)
                if self.audio_stream is not None:
                    self._mux(self.audio_stream.encode(None))
        except BaseException as exc:  # noqa: BLE001 - reported to the caller
            self.error = exc

    def _mux(self, packets) -> None:
        if packets:
            self.container.mux(packets)

    def _encode_audio_until(self, t: float | None) -> None:
        if self.audio_stream is None:
            return
        if self._audio is None:
            audio = self._audio_source
            audio = audio.result() if hasattr(audio, "result") else audio
            self._audio = audio.astype(np.float32) / 32768.0 if audio.dtype == np.int16 else audio
        total = len(self._audio)
        end = total if t is None else min(total, int(t * self._sample_rate))
        chunk = 1024 * 8
        while self._audio_pos < end:
            n = min(chunk, end - self._audio_pos)
            if t is not None and n < chunk:
                break
            block = self._audio[self._audio_pos:self._audio_pos + n]
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block.T), format="fltp", layout="stereo")
            frame.sample_rate = self._sample_rate
            frame.pts = self._audio_pos
            frame.time_base = Fraction(1, self._sample_rate)
            self._mux(self.audio_stream.encode(frame))
            self._audio_pos += n

    # -- caller side -----------------------------------------------------------------

    def submit(self, buf: np.ndarray) -> None:
        """Copy one packed yuv420p frame into a pooled AVFrame and queue it."""
        if self.error is not None:
            raise RenderError(f"encoder failed: {type(self.error).__name__}: {self.error}")
        t0 = time.perf_counter()
        frame = self._pool.get()
        self.write_wait_s += time.perf_counter() - t0
        frame.make_writable()
        w, h = self.width, self.height
        ys, cs = w * h, w * h // 4
        for plane, src, pw, ph in ((frame.planes[0], buf[:ys], w, h),
                                   (frame.planes[1], buf[ys:ys + cs], w // 2, h // 2),
                                   (frame.planes[2], buf[ys + cs:], w // 2, h // 2)):
            dst = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
            dst[:ph, :pw] = src.reshape(ph, pw)
        frame.pts = self._frames
        self._frames += 1
        t0 = time.perf_counter()
        self._queue.put(frame)
        self.write_wait_s += time.perf_counter() - t0

    def finish(self) -> None:
        self._queue.put(_STOP)
        self._thread.join()
        self._close()
        if self.error is not None:
            raise RenderError(f"encoder failed: {type(self.error).__name__}: {self.error}")

    def abort(self) -> None:
        self.error = self.error or RenderError("aborted")
        try:
            while True:
                item = self._queue.get_nowait()
                if item is not _STOP:
                    self._pool.put(item)
        except queue.Empty:
            pass
        self._queue.put(_STOP)
        self._thread.join()
        self._close()

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self.container.close()
            except Exception:  # noqa: BLE001 - the caller removes the file anyway
                if self.error is None:
                    raise

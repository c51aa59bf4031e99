"""Fixtures for the renderer tests: small synthetic photos and videos."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from reels_core.domain import NarrationLine, Script, Shot
from render_service.render import MediaInput, RenderParams

SMALL = RenderParams(width=320, height=180, fps=30)


def save_jpeg(path: Path, image: Image.Image, orientation: int | None = None) -> Path:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    image.save(path, format="JPEG", quality=90, exif=exif)
    return path


def gradient(w: int, h: int, seed: int = 0) -> Image.Image:
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx * 255 // max(1, w - 1), yy * 255 // max(1, h - 1), np.full_like(xx, (seed * 70) % 256)], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8))


@pytest.fixture
def photos(tmp_path: Path):
    """Factory: photos(n) -> dict of MediaInput for n landscape JPEGs."""

    def make(n: int = 3, size: tuple[int, int] = (640, 480)) -> dict[str, MediaInput]:
        media = {}
        for i in range(n):
            p = save_jpeg(tmp_path / f"photo{i}.jpg", gradient(*size, seed=i), orientation=1)
            media[f"p{i}"] = MediaInput(f"p{i}", p, "PHOTO", 1, 0.0)
        return media

    return make


def make_script(
    media_ids: list[str],
    durations: list[float] | None = None,
    *,
    motions=None,
    transitions=None,
    title: str = "A Day Out",
    subtitle: str = "June 2024",
    narration=None,
    captions=None,
) -> Script:
    durations = durations or [1.5] * len(media_ids)
    motions = motions or ["zoom_in", "pan_left", "zoom_out", "pan_right", "static"]
    transitions = transitions or ["crossfade"] * len(media_ids)
    captions = captions or [""] * len(media_ids)
    shots = [
        Shot(mid, d, captions[i], motions[i % len(motions)], transitions[i])
        for i, (mid, d) in enumerate(zip(media_ids, durations, strict=True))
    ]
    lines = [NarrationLine(t, s, e) for t, s, e in (narration or [])]
    return Script(title, subtitle, "calm", "piano", shots, lines)


def make_video(path: Path, seconds: float = 4.0, size: tuple[int, int] = (160, 120), fps: int = 30) -> Path:
    """A clip whose grey level rises linearly with time: 40 at 0 s, +50 per second."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        for i in range(round(seconds * fps)):
            level = int(min(255, 40 + 50 * i / fps))
            rgb = np.full((size[1], size[0], 3), level, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def decode_rgb(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def top_level_boxes(path: Path) -> list[str]:
    boxes = []
    with open(path, "rb") as fh:
        while True:
            head = fh.read(8)
            if len(head) < 8:
                break
            size = int.from_bytes(head[:4], "big")
            kind = head[4:].decode("latin-1")
            header = 8
            if size == 1:
                size = int.from_bytes(fh.read(8), "big")
                header = 16
            boxes.append(kind)
            if size == 0:
                break
            fh.seek(size - header, 1)
    return boxes

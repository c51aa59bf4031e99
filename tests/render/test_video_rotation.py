"""Phones record portrait video as landscape frames plus a display matrix. The
renderer turns the frames by the matrix (PyAV gives it on each decoded frame) so the
clip comes out the way every player shows it: the reference here is the shipped
ffmpeg's own auto-rotation of the same file, made by remuxing a real x264 clip with
``-display_rotation``, as a phone writes it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from render_service.render.frames import VideoSource, split_planes
from render_service.render.types import MediaInput
from tests.media_fixtures import quadrants

FF = imageio_ffmpeg.get_ffmpeg_exe()
ROTATIONS = {0: 1, 90: 8, -90: 6, 180: 3}  # display rotation (ccw degrees) -> orientation


def _run(*args: str) -> None:
    subprocess.run([FF, "-hide_banner", "-loglevel", "error", "-y", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("rotated")
    still = root / ".q.png"
    quadrants((320, 240)).save(still)
    plain = root / ".plain.mp4"
    _run("-loop", "1", "-i", str(still), "-t", "0.6", "-r", "25", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(plain))
    for rot in ROTATIONS:
        # Remuxed with the matrix set, frames untouched: what a phone writes.
        _run("-display_rotation", str(rot), "-i", str(plain), "-c", "copy", str(root / f"rot{rot}.mp4"))
    return root


def _corners_rgb(img: Image.Image) -> str:
    """The quadrant colours near the corners (TL, TR, BL, BR) as letters, e.g. "RGBW":
    coarse enough for video range and chroma subsampling, exact about orientation."""
    w, h = img.size
    rgb = np.asarray(img.convert("RGB")).astype(int)
    picks = [(w // 6, h // 6), (w - 1 - w // 6, h // 6), (w // 6, h - 1 - h // 6), (w - 1 - w // 6, h - 1 - h // 6)]
    out = ""
    for x, y in picks:
        px = rgb[y, x]
        out += "W" if px.min() > 150 else "RGB"[int(px.argmax())]
    return out


def _reference(clip: Path, tmp: Path) -> Image.Image:
    out = tmp / (clip.stem + ".png")
    _run("-i", str(clip), "-frames:v", "1", str(out))  # ffmpeg auto-rotates by default
    return Image.open(out)


def _rendered(clip: Path, orientation: int, width: int, height: int) -> Image.Image:
    src = VideoSource(MediaInput("m", clip, "VIDEO", orientation=orientation), 5, width, height, 25)
    try:
        buf = src.frame(0).copy()
    finally:
        src.close()
    y, u, v = split_planes(buf, width, height)
    yuv = np.dstack([y, u.repeat(2, 0).repeat(2, 1), v.repeat(2, 0).repeat(2, 1)])
    return Image.fromarray(yuv, "YCbCr")


@pytest.mark.parametrize("rot", list(ROTATIONS))
def test_rendered_frames_are_turned_like_players_turn_them(clips, tmp_path, rot):
    clip = clips / f"rot{rot}.mp4"
    ref = _reference(clip, tmp_path)
    portrait = ref.size[0] < ref.size[1]
    w, h = (240, 320) if portrait else (320, 240)  # an output of the clip's own shape: no crop
    want = _corners_rgb(ref)
    assert _corners_rgb(_rendered(clip, ROTATIONS[rot], w, h)) == want
    # What the index holds for a video (orientation 1): the frame's own matrix turns it.
    assert _corners_rgb(_rendered(clip, 1, w, h)) == want

"""render_reel through its public surface: decode what it wrote with a real decoder."""

from __future__ import annotations

import threading
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from render_service.render import MediaInput, RenderCancelled, RenderError, RenderParams, render_reel
from tests.render.conftest import SMALL, decode_rgb, make_script, make_video, save_jpeg, top_level_boxes


def test_output_is_h264_high_yuv420p_with_aac_and_exact_duration(photos, tmp_path: Path):
    media = photos(3)
    script = make_script(list(media), [1.4, 1.3, 1.6], transitions=["crossfade", "crossfade", "fade_black"])
    out = tmp_path / "reel.mp4.tmp"
    stages = []

    stats = render_reel(script, media, out, SMALL, progress=lambda f, s: stages.append((f, s)))

    with av.open(str(out)) as c:
        v = c.streams.video[0]
        a = c.streams.audio[0]
        assert v.codec_context.name == "h264"
        assert v.codec_context.profile == "High"
        assert v.codec_context.pix_fmt == "yuv420p"
        assert (v.codec_context.width, v.codec_context.height) == (320, 180)
        assert a.codec_context.name == "aac"
        assert c.duration is not None and v.duration is not None and v.time_base is not None
        assert abs(c.duration / 1e6 - script.duration_s) <= 0.1
        assert abs(float(v.duration * v.time_base) - script.duration_s) <= 0.1
        frames = sum(1 for _ in c.decode(video=0))
    assert frames == round(script.duration_s * 30) == stats.frames
    assert stats.bytes == out.stat().st_size > 0
    assert (stats.width, stats.height, stats.fps) == (320, 180, 30)
    assert stages[-1] == (1.0, "done")
    assert [f for f, _ in stages] == sorted(f for f, _ in stages)


def test_moov_comes_before_mdat(photos, tmp_path: Path):
    media = photos(2)
    out = tmp_path / "reel.mp4.tmp"
    render_reel(make_script(list(media), [1.0, 1.0]), media, out, SMALL)
    boxes = top_level_boxes(out)
    assert "moov" in boxes and "mdat" in boxes
    assert boxes.index("moov") < boxes.index("mdat")


def test_portrait_photo_with_orientation_6_is_upright_whole_and_fills_the_frame(tmp_path: Path):
    # As displayed: 300x400 portrait, top half red, bottom half blue. Stored
    # rotated 90 degrees counter-clockwise with EXIF orientation 6 ("rotate CW").
    upright = Image.new("RGB", (300, 400), (255, 0, 0))
    upright.paste((0, 0, 255), (0, 200, 300, 400))
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    assert stored.size == (400, 300)
    path = save_jpeg(tmp_path / "portrait.jpg", stored, orientation=6)
    media = {"p": MediaInput("p", path, "PHOTO", 1, 0.0)}
    script = make_script(["p"], [1.0], motions=["static"], title="", subtitle="")
    out = tmp_path / "reel.mp4.tmp"

    render_reel(script, media, out, SMALL)

    frame = decode_rgb(out)[5].astype(int)  # before the end fade
    red = (frame[..., 0] > 170) & (frame[..., 2] < 90)
    blue = (frame[..., 2] > 170) & (frame[..., 0] < 90)
    # upright: the centre column is red at the top and blue at the bottom
    assert red[40, 160] and blue[140, 160]
    # whole and undistorted: the sharp photo spans 180 * 3/4 = 135 columns
    width = int(red[45].sum())
    assert 120 <= width <= 150, width
    # the frame is filled: the sides are a dimmed blurred copy, not black
    assert frame[90, 10].sum() > 60 and frame[90, 310].sum() > 60
    assert not red[45, 10] and not red[45, 310]


def test_cancel_stops_the_encoder_and_removes_everything(photos, tmp_path: Path):
    media = photos(3)
    before = set(tmp_path.iterdir())
    out = tmp_path / "reel.mp4.tmp"
    cancel = threading.Event()

    def progress(fraction: float, stage: str) -> None:
        if stage == "encode" and fraction > 0.2:
            cancel.set()

    with pytest.raises(RenderCancelled):
        render_reel(make_script(list(media), [2.0, 2.0, 2.0]), media, out, SMALL, progress=progress, cancel=cancel)

    assert set(tmp_path.iterdir()) == before
    assert not [t for t in threading.enumerate() if t.name.startswith("reel-")]


def test_cancel_before_start_raises_without_output(photos, tmp_path: Path):
    media = photos(1)
    cancel = threading.Event()
    cancel.set()
    out = tmp_path / "reel.mp4.tmp"
    with pytest.raises(RenderCancelled):
        render_reel(make_script(list(media)), media, out, SMALL, cancel=cancel)
    assert not out.exists()


def test_corrupt_photo_raises_render_error_and_leaves_nothing(photos, tmp_path: Path):
    media = photos(2)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg" * 10)
    media["bad"] = MediaInput("bad", bad, "PHOTO", 1, 0.0)
    out = tmp_path / "reel.mp4.tmp"
    with pytest.raises(RenderError) as info:
        render_reel(make_script(["p0", "bad", "p1"], [1.0, 1.0, 1.0]), media, out, SMALL)
    assert not isinstance(info.value, RenderCancelled)
    assert not out.exists()
    assert not [t for t in threading.enumerate() if t.name.startswith("reel-")]


def test_missing_media_is_a_render_error(photos, tmp_path: Path):
    media = photos(1)
    with pytest.raises(RenderError):
        render_reel(make_script(["p0", "nope"]), media, tmp_path / "r.mp4.tmp", SMALL)


def test_title_and_captions_are_drawn_when_scheduled(tmp_path: Path):
    path = save_jpeg(tmp_path / "dark.jpg", Image.new("RGB", (640, 360), (20, 20, 20)))
    media = {"d": MediaInput("d", path, "PHOTO", 1, 0.0)}
    script = make_script(
        ["d", "d"],
        [3.0, 3.0],
        motions=["static"],
        captions=["", "Shot caption"],
        narration=[("A narration line", 0.5, 2.0)],
    )
    out = tmp_path / "reel.mp4.tmp"
    render_reel(script, media, out, SMALL)
    frames = decode_rgb(out)

    def white(frame: np.ndarray, rows: slice) -> int:
        return int((frame[rows].min(axis=-1) > 200).sum())

    centre, bottom = slice(50, 110), slice(130, 180)
    assert white(frames[30], centre) > 50  # title card at 1.0 s
    assert white(frames[100], centre) == 0  # gone at 3.3 s
    assert white(frames[30], bottom) > 20  # narration line at 1.0 s
    assert white(frames[70], bottom) == 0  # 2.3 s: no narration, shot 0 has no caption
    assert white(frames[120], bottom) > 20  # 4.0 s: shot 1's caption


def test_video_shot_takes_the_middle_of_the_clip(tmp_path: Path):
    clip = make_video(tmp_path / "clip.mp4", seconds=4.0)
    media = {"v": MediaInput("v", clip, "VIDEO", 1, 0.0)}
    script = make_script(["v"], [1.0], title="", subtitle="")
    out = tmp_path / "reel.mp4.tmp"
    render_reel(script, media, out, SMALL)
    frames = decode_rgb(out)
    assert len(frames) == 30
    # the middle second of 0..4 s: grey 40 + 50 * t, so about 115 at 1.5 s and 165 at 2.5 s
    first, mid = frames[0].mean(), frames[15].mean()
    assert 100 <= first <= 130, first
    assert 125 <= mid <= 155, mid
    assert frames[15][:, :20].mean() > 100  # 4:3 clip cropped to cover 16:9: no black bars


def test_portrait_output_size(photos, tmp_path: Path):
    media = photos(2)
    out = tmp_path / "reel.mp4.tmp"
    params = RenderParams(width=180, height=320, fps=24)
    stats = render_reel(make_script(list(media), [1.0, 1.0]), media, out, params)
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == (180, 320)
    assert stats.frames == 48


def test_the_callers_thread_gets_its_scheduling_policy_back(photos, tmp_path: Path):
    import os

    if not hasattr(os, "SCHED_BATCH"):
        pytest.skip("no SCHED_BATCH here")
    before = os.sched_getscheduler(0)
    media = photos(1)
    render_reel(make_script(list(media), [0.5]), media, tmp_path / "r.mp4.tmp", SMALL)
    assert os.sched_getscheduler(0) == before

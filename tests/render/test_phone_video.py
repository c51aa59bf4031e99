"""Video as phones record it, made by real encoders at test time: HEVC and H.264 at 8
and 10 bits, HDR (HLG and PQ, BT.2020) tone-mapped to SDR BT.709, variable frame
rate, the best segment of a long clip, its own sound under ducked music, and a Live
Photo's motion in place of Ken Burns. What the renderer drew is decoded with PyAV."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np
import pytest

from render_service.render import MediaInput, RenderParams, render_reel
from render_service.render.clips import KEN_BURNS, LIVE_PHOTO_MOTION, VIDEO, choose_segment
from render_service.render.frames import VideoSource, plane_view, split_planes
from tests.media_fixtures import (
    grey_at,
    hdr_signal_from_nits,
    sdr_to_hdr_signal,
    write_hdr_clip,
    write_timecoded_clip,
    write_vfr_clip,
)
from tests.render.conftest import make_script, save_jpeg

FF = imageio_ffmpeg.get_ffmpeg_exe()
PATCH = 32
SDR_PATCHES = np.array(
    [
        [(118, 118, 118), (180, 180, 180), (220, 150, 120), (90, 140, 200), (191, 40, 40), (60, 170, 60)],
        [(60, 60, 60), (210, 210, 210), (191, 191, 0), (40, 40, 191), (230, 140, 30), (140, 60, 160)],
    ],
    dtype=np.float64,
)
HIGHLIGHT_NITS = (100, 203, 400, 700, 1000, 2000)


def _hdr_chart(transfer: str) -> np.ndarray:
    """Two rows of SDR colour patches (as HDR, SDR white at 203 nits) over a row of
    grey highlights brighter than any SDR white."""
    rows = [sdr_to_hdr_signal(np.repeat(np.repeat(r[None], PATCH, 0), PATCH, 1), transfer) for r in SDR_PATCHES]
    nits = np.repeat(np.array(HIGHLIGHT_NITS, dtype=np.float64)[:, None], 3, 1)
    rows.append(hdr_signal_from_nits(np.repeat(np.repeat(nits[None], PATCH, 0), PATCH, 1), transfer))
    return np.concatenate(rows, axis=0)


def _to_rgb(buf: np.ndarray, w: int, h: int) -> np.ndarray:
    """A packed yuv420p (BT.709, limited range) buffer as RGB, the way players show it."""
    frame = av.VideoFrame(w, h, "yuv420p")
    for plane, src in zip(frame.planes, split_planes(buf, w, h), strict=True):
        plane_view(plane)[:, : src.shape[1]] = src
    return frame.reformat(format="rgb24", src_colorspace="ITU709", src_color_range="MPEG").to_ndarray()


def _drawn(path: Path, w: int, h: int, k: int = 0, fps: int = 30, start: float | None = 0.0, frames: int = 1):
    src = VideoSource(MediaInput("m", path, "VIDEO"), frames, w, h, fps, start)
    try:
        return _to_rgb(src.frame(k).copy(), w, h)
    finally:
        src.close()


def _patch(rgb: np.ndarray, row: int, col: int) -> np.ndarray:
    c = PATCH // 2
    return (
        rgb[row * PATCH + c - 4 : row * PATCH + c + 4, col * PATCH + c - 4 : col * PATCH + c + 4].reshape(-1, 3).mean(0)
    )


def _saturation(rgb) -> float:
    return float(np.max(rgb) - np.min(rgb))


@pytest.fixture(scope="module")
def hdr_clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hdr")
    return {t: write_hdr_clip(root / f"{t}.mov", [_hdr_chart(t)] * 3, t) for t in ("hlg", "pq")}


@pytest.mark.parametrize("transfer", ["hlg", "pq"])
def test_hdr_colours_come_back_to_their_sdr_values(hdr_clips, transfer):
    w, h = 6 * PATCH, 3 * PATCH
    rgb = _drawn(hdr_clips[transfer], w, h).astype(float)
    naive = _naive(hdr_clips[transfer], w, h).astype(float)
    naive_error = 0.0
    errors = []
    for row in range(2):
        for col in range(6):
            want = SDR_PATCHES[row, col]
            got = _patch(rgb, row, col)
            # within a few levels of the SDR original (x265, 4:2:0, the colour table's
            # 8-bit chroma bins); a channel near 0 of a saturated PQ colour moves most
            # (measured: PQ yellow's blue 0 -> 18, every other channel within 7)
            assert np.abs(got - want).max() <= 20, (row, col, got, want)
            errors.append(float(np.abs(got - want).mean()))
            if _saturation(want) > 60:  # not washed out: the colour is kept
                assert _saturation(got) >= 0.9 * _saturation(want), (row, col, got, want)
            naive_error = max(naive_error, float(np.abs(_patch(naive, row, col) - want).max()))
    assert np.mean(errors) <= 5, errors
    assert naive_error > 40  # the same clip read as SDR is far off: the test can tell


@pytest.mark.parametrize("transfer", ["hlg", "pq"])
def test_hdr_highlights_are_compressed_not_clipped(hdr_clips, transfer):
    w, h = 6 * PATCH, 3 * PATCH
    rgb = _drawn(hdr_clips[transfer], w, h).astype(float)
    levels = [float(_patch(rgb, 2, col).mean()) for col in range(6)]
    # 100, 203, 400, 700 nits: each clearly brighter than the last (a clip at SDR white
    # would make 203 nits and up one white), and 1000 and 2000 nits no darker
    assert all(b - a >= 5 for a, b in zip(levels[:3], levels[1:4], strict=True)), levels
    assert levels[3] <= levels[4] + 0.5 <= levels[5] + 1, levels
    assert levels[1] < 235, levels  # SDR white leaves room for brighter light
    assert all(np.ptp(_patch(rgb, 2, col)) <= 4 for col in range(6))  # grey stays grey


def _naive(path: Path, w: int, h: int) -> np.ndarray:
    """The clip read as if it were SDR BT.709: what the renderer did before."""
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        return frame.reformat(
            width=w, height=h, format="rgb24", src_colorspace="ITU709", src_color_range="MPEG"
        ).to_ndarray()


def _solid_clip(path: Path, codec: str, pix_fmt: str, colour: str = "0x5A8CC8") -> Path:
    extra = ["-x265-params", "log-level=error", "-tag:v", "hvc1"] if codec == "libx265" else []
    subprocess.run(
        [FF, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"color=c={colour}:s=128x96:r=30",
         "-t", "0.5", "-vf", "scale=out_color_matrix=bt709:out_range=tv", "-c:v", codec, "-preset", "ultrafast",
         "-pix_fmt", pix_fmt, "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
         *extra, str(path)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return path


@pytest.mark.parametrize(
    ("codec", "pix_fmt"),
    [("libx264", "yuv420p"), ("libx264", "yuv420p10le"), ("libx265", "yuv420p"), ("libx265", "yuv420p10le")],
)
def test_h264_and_hevc_at_8_and_10_bits_decode_to_their_colour(tmp_path, codec, pix_fmt):
    clip = _solid_clip(tmp_path / f"{codec}-{pix_fmt}.mp4", codec, pix_fmt)
    with av.open(str(clip)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == pix_fmt
    got = _drawn(clip, 128, 96)[48, 64].astype(int)
    assert np.abs(got - (0x5A, 0x8C, 0xC8)).max() <= 6, got


def test_variable_frame_rate_frames_are_shown_at_their_time(tmp_path):
    # 60 fps for a second, then 10 fps (a phone in low light): 60 + 20 frames over 3 s
    times = [i / 60 for i in range(60)] + [1 + i / 10 for i in range(20)]
    clip = write_vfr_clip(tmp_path / "vfr.mp4", times)
    fps, n = 30, 85
    src = VideoSource(MediaInput("m", clip, "VIDEO"), n, 128, 96, fps, 0.0)
    try:
        for k in range(0, n, 4):
            t = k / fps
            shown = max(x for x in times if x <= t + 0.5 / fps)  # the frame on screen at t
            level = _to_rgb(src.frame(k).copy(), 128, 96)[48, 64].astype(int).mean()
            assert abs(level - grey_at(shown)) <= 4, (k, t, level, grey_at(shown))
    finally:
        src.close()


@pytest.fixture(scope="module")
def long_clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("long")
    return {
        "speech": write_timecoded_clip(root / "speech.mp4", 8.0, speech=(5.0, 7.0)),
        "silent_speech": write_timecoded_clip(root / "silent.mp4", 8.0),
        "motion": write_timecoded_clip(root / "motion.mp4", 8.0, moving=(4.5, 6.5), audio=False),
        "still": write_timecoded_clip(root / "still.mp4", 8.0, audio=False),
    }


def test_a_long_clip_gives_its_loudest_or_most_moving_part(long_clips):
    loud = choose_segment(long_clips["speech"], 2.0)
    assert (loud.reason, loud.start_s) == ("loudest", pytest.approx(5.0, abs=0.3))
    moving = choose_segment(long_clips["motion"], 2.0)
    assert (moving.reason, moving.start_s) == ("most_motion", pytest.approx(4.5, abs=0.3))
    still = choose_segment(long_clips["still"], 2.0)
    assert (still.reason, still.start_s, still.end_s) == ("middle", 3.0, 5.0)
    whole = choose_segment(long_clips["still"], 9.0)
    assert (whole.reason, whole.start_s) == ("whole_clip", 0.0)


SR = 32_000
PARAMS = RenderParams(width=128, height=72, fps=30)


def _render_with_clip(tmp_path: Path, clip: Path, name: str):
    media = {
        "p0": MediaInput("p0", save_jpeg(tmp_path / "p0.jpg", _flat((40, 90, 160))), "PHOTO"),
        "v": MediaInput("v", clip, "VIDEO", duration_s=8.0),
        "p1": MediaInput("p1", save_jpeg(tmp_path / "p1.jpg", _flat((160, 90, 40))), "PHOTO"),
    }
    script = make_script(["p0", "v", "p1"], [2.0, 2.0, 2.0], transitions=["cut"] * 3, title="", subtitle="")
    out = tmp_path / f"{name}.mp4"
    stats = render_reel(script, media, out, PARAMS)
    return out, stats


def _flat(rgb):
    from PIL import Image

    return Image.new("RGB", (320, 180), rgb)


def _audio(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SR)
        chunks = [f.to_ndarray().reshape(-1) for frame in c.decode(audio=0) for f in resampler.resample(frame)]
    return np.concatenate(chunks)


def _band_rms(x: np.ndarray, lo: float, hi: float) -> float:
    spec = np.fft.rfft(x * np.hanning(len(x)))
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    band = spec[(freqs >= lo) & (freqs < hi)]
    return float(np.sqrt(np.sum(np.abs(band) ** 2)))


def test_clip_plays_its_loud_part_with_its_sound_over_ducked_music(tmp_path, long_clips):
    out, stats = _render_with_clip(tmp_path, long_clips["speech"], "speech")
    ref, ref_stats = _render_with_clip(tmp_path, long_clips["silent_speech"], "silent")

    shot = stats.shots[1]
    assert (shot.treatment, shot.segment_reason, shot.clip_audio) == (VIDEO, "loudest", True)
    assert shot.segment_start_s == pytest.approx(5.0, abs=0.3) and shot.segment_end_s - shot.segment_start_s == 2.0
    assert [s.treatment for s in stats.shots] == [KEN_BURNS, VIDEO, KEN_BURNS]
    assert (ref_stats.shots[1].segment_reason, ref_stats.shots[1].clip_audio) == ("middle", False)

    # the frames are the clip's 5-7 s (its grey level says the time), not its start
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    mid = frames[90][36, 64].astype(int).mean()
    assert abs(mid - grey_at(shot.segment_start_s + 1.0)) <= 8, mid

    a, r = _audio(out), _audio(ref)
    during = slice(int(2.3 * SR), int(3.7 * SR))  # inside the clip's shot
    before = slice(int(0.3 * SR), int(1.7 * SR))  # the first photo
    # the clip's voice is there (its top formant, 2.3-2.7 kHz) where the silent one has only music
    assert _band_rms(a[during], 2300, 2700) > 3 * _band_rms(r[during], 2300, 2700)
    # the music (its bass, below 150 Hz, where the voice has nothing) is ducked under it ...
    ducked = _band_rms(a[during], 30, 150) / _band_rms(r[during], 30, 150)
    assert ducked < 0.5, ducked
    # ... and only there
    untouched = _band_rms(a[before], 30, 150) / _band_rms(r[before], 30, 150)
    assert untouched == pytest.approx(1.0, abs=0.15)


def test_a_live_photo_plays_its_motion_instead_of_ken_burns(tmp_path, long_clips):
    motion = write_timecoded_clip(tmp_path / "IMG_0001.MOV", 3.0, audio=False, codec="libx265")
    still = save_jpeg(tmp_path / "IMG_0001.JPG", _flat((200, 40, 40)))
    broken = tmp_path / "IMG_0002.MOV"
    broken.write_bytes(b"\x00\x00\x00\x18ftypqt  " + b"\x00" * 64)
    short = write_timecoded_clip(tmp_path / "IMG_0003.MOV", 0.5, audio=False)
    media = {
        "live": MediaInput("live", still, "PHOTO", motion_path=motion),
        "broken": MediaInput(
            "broken", save_jpeg(tmp_path / "b.jpg", _flat((40, 200, 40))), "PHOTO", motion_path=broken
        ),
        "short": MediaInput("short", save_jpeg(tmp_path / "s.jpg", _flat((40, 40, 200))), "PHOTO", motion_path=short),
    }
    script = make_script(["live", "broken", "short"], [2.0, 1.0, 2.0], transitions=["cut"] * 3, title="", subtitle="")
    out = tmp_path / "live.mp4"

    stats = render_reel(script, media, out, PARAMS)

    live, bad, brief = stats.shots
    assert (live.treatment, live.segment_reason) == (LIVE_PHOTO_MOTION, "live_photo")
    assert (live.segment_start_s, live.segment_end_s) == (0.5, 2.5)  # the middle of the clip: the still's moment
    assert (bad.treatment, bad.detail) == (KEN_BURNS, "motion_unreadable")
    assert (brief.treatment, brief.detail) == (KEN_BURNS, "motion_too_short")
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24")[36, 64].astype(int) for f in c.decode(video=0)]
    # the first shot shows the clip moving in time (grey rising), not the red still
    early, late = frames[3], frames[50]
    assert np.ptp(early) <= 12 and np.ptp(late) <= 12, (early, late)
    assert late.mean() - early.mean() >= 20
    assert abs(early.mean() - grey_at(0.5 + 3 / 30)) <= 10
    # the others are their stills
    assert frames[70][1] > 150 and frames[70][0] < 100
    assert frames[110][2] > 150

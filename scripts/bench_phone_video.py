#!/usr/bin/env python
"""What the phone-video work costs, measured side by side in one run:

- per shown frame of an HDR clip: the plain swscale path an SDR clip takes (scale +
  convert to 8-bit BT.709) against the HDR path (scale at 10 bits + ``HdrToneMapper``);
- per second of clip: the soundtrack with one clip's sound mixed in and the music
  ducked, against the music bed alone;
- choosing a segment of a long clip (reading its audio and its index).

    python scripts/bench_phone_video.py [--size 1280x720] [--frames 60]

The clips are made first by the shipped ffmpeg (x265 10-bit HLG, 1080p; H.264 + AAC
with a voice). Figures are medians of per-frame / per-call times on this machine; the
ratio is what to compare across machines. The overall render ratio (whole reel vs
x264 encode-only) belongs to scripts/bench_render.py.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np

from render_service.render import music, soundtrack
from render_service.render.clips import choose_segment, decode_audio
from render_service.render.frames import _plane_array16
from render_service.render.hdr import HdrToneMapper

FF = imageio_ffmpeg.get_ffmpeg_exe()
VOICE = (
    "(sin(2*PI*650*t+147*sin(2*PI*1.7*t))+0.6*sin(2*PI*1150*t+130*sin(2*PI*2.3*t))"
    "+0.3*sin(2*PI*2500*t))*pow(0.5+0.5*sin(2*PI*4*t),2)*(0.55+0.45*sin(2*PI*170*t))*0.4"
)


def _ff(*args: str) -> None:
    subprocess.run([FF, "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_clips(root: Path, seconds: float) -> tuple[Path, Path]:
    hlg = root / "hlg.mov"
    _ff("-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30", "-t", str(seconds), "-c:v", "libx265",
        "-preset", "ultrafast", "-pix_fmt", "yuv420p10le",
        "-x265-params", "log-level=error:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc",
        "-tag:v", "hvc1", str(hlg))  # fmt: skip
    talk = root / "talk.mp4"
    _ff("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi",
        "-i", f"aevalsrc=exprs='{VOICE}':s=48000:c=stereo:d={seconds}", "-t", str(seconds),
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(talk))  # fmt: skip
    return hlg, talk


def bench_frames(hlg: Path, width: int, height: int, frames: int) -> dict[str, float]:
    with av.open(str(hlg)) as c:
        decoded = [f for _, f in zip(range(frames), c.decode(video=0), strict=False)]
    mapper = HdrToneMapper(decoded[0].color_trc)
    sdr, hdr, tone = [], [], []
    for f in decoded:
        t0 = time.perf_counter()
        f.reformat(width=width, height=height, format="yuv420p", dst_colorspace="ITU709",
                   dst_color_range="MPEG", interpolation="BICUBIC", threads=1)  # fmt: skip
        t1 = time.perf_counter()
        deep = f.reformat(width=width, height=height, format="yuv420p10le", interpolation="BICUBIC", threads=1)
        planes = [_plane_array16(p) for p in deep.planes]
        t2 = time.perf_counter()
        mapper.convert(*planes)
        t3 = time.perf_counter()
        sdr.append(t1 - t0)
        hdr.append(t3 - t1)
        tone.append(t3 - t2)
    return {
        "sdr_path_ms": 1000 * statistics.median(sdr),
        "hdr_path_ms": 1000 * statistics.median(hdr),
        "tone_map_ms": 1000 * statistics.median(tone),
    }


def bench_audio(talk: Path, seconds: float) -> dict[str, float]:
    rate = music.SAMPLE_RATE
    bed_t, mix_t = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        bed = music.synthesize("calm", "piano", seconds, 0)
        t1 = time.perf_counter()
        with av.open(str(talk)) as c:
            sound = decode_audio(c, rate, "stereo", "flt", 0.0, seconds)
        assert sound is not None
        track = np.zeros((len(bed), 2), dtype=np.float32)
        n = min(len(sound), len(bed))
        track[:n] = sound[:n]
        soundtrack.mix(bed, track)
        t2 = time.perf_counter()
        bed_t.append(t1 - t0)
        mix_t.append(t2 - t1)
    t0 = time.perf_counter()
    choose_segment(talk, 2.0)
    seg = time.perf_counter() - t0
    return {
        "music_ms_per_s": 1000 * statistics.median(bed_t) / seconds,
        "clip_mix_ms_per_s": 1000 * statistics.median(mix_t) / seconds,
        "segment_choice_ms": 1000 * seg,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        hlg, talk = make_clips(Path(tmp), max(args.seconds, args.frames / 30 + 0.5))
        frames = bench_frames(hlg, width, height, args.frames)
        audio = bench_audio(talk, args.seconds)
    print(f"1080p HLG -> {width}x{height}, median per shown frame:")
    print(f"  SDR path (swscale to 8-bit BT.709) {frames['sdr_path_ms']:7.2f} ms")
    ratio = frames["hdr_path_ms"] / frames["sdr_path_ms"]
    print(f"  HDR path (10-bit scale + tone map) {frames['hdr_path_ms']:7.2f} ms ({ratio:.2f}x)")
    print(f"    of which the tone map            {frames['tone_map_ms']:7.2f} ms")
    print("audio, per second of reel:")
    print(f"  music bed                          {audio['music_ms_per_s']:7.2f} ms")
    print(f"  + one clip's sound, ducking, mix   {audio['clip_mix_ms_per_s']:7.2f} ms "
          f"({audio['clip_mix_ms_per_s'] / audio['music_ms_per_s']:.2f}x the bed)")  # fmt: skip
    print(f"choosing the segment of a {args.seconds:.0f} s clip: {audio['segment_choice_ms']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark the renderer against the x264 floor and a plain ffmpeg reference.

    .venv/bin/python scripts/bench_render.py [--repeat 2] [--workdir var/bench/render] [--no-write]

In one run it:
 (a) makes 12 camera-like 4000x3000 (12 MP) JPEG photos, quality 90, with EXIF
     (sky gradient, clouds, sun, layered hills with haze, trees and a house drawn at
     full resolution, mid-frequency texture and fine sensor grain), cached in the
     work directory;
 (b) times ``render_reel`` on a 30 s 1280x720 30 fps reel of them (12 shots of
     2.5 s, crossfades, mixed zoom/pan/static, title, captions, narration, music),
     in a fresh worker process so that its peak RSS and its ffmpeg child's are
     its own;
 (c) times the reference: one ffmpeg command with one zoompan input per photo
     (each photo cover-scaled to 2x the frame first, so zoompan's whole-pixel steps
     are half-pixel steps in the output), an xfade chain with the same timing,
     drawtext for the same title and narration, the same music as AAC;
 (d) times the x264 encode-only floor: the very frames our renderer produced,
     pre-generated to a raw yuv420p file and piped into the same ffmpeg (``cat``
     from the page cache) with the same settings and no audio; and, for
     comparison, lavfi testsrc2 of the same size, rate and frame count;
 (e) prints a markdown table with the ratios and peak RSS and writes it to
     docs/BENCHMARKS.md between ``<!-- bench:render -->`` markers.

Every timed run is repeated ``--repeat`` times, interleaved, and the best wall
time is reported. Timings are never asserted in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(ROOT))

import bench_common
import numpy as np
from PIL import Image, ImageDraw

PHOTO_SIZE = (4000, 3000)
N_PHOTOS = 12
SHOT_S = 2.5
WIDTH, HEIGHT, FPS = 1280, 720, 30
MOTIONS = [
    "zoom_in",
    "pan_left",
    "zoom_out",
    "pan_right",
    "zoom_in",
    "static",
    "zoom_out",
    "pan_left",
    "zoom_in",
    "pan_right",
    "zoom_out",
    "static",
]
TITLE = "Summer by the Lake"
SUBTITLE = "June 2024"
NARRATION = [
    ("We started early, before the heat", 4.0, 8.5),
    ("The afternoon belonged to the water", 12.0, 17.0),
    ("And the evening to the hills", 21.0, 26.0),
]
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
PHOTO_VERSION = 3


# --- (a) photos ------------------------------------------------------------------


def make_photo(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    W, H = PHOTO_SIZE
    w, h = W // 4, H // 4
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    horizon = h * rng.uniform(0.42, 0.6)
    sky_top = np.array(rng.choice([[40, 90, 170], [70, 110, 190], [120, 80, 130], [30, 60, 120]]), np.float32)
    sky_low = np.array(rng.choice([[200, 215, 235], [250, 190, 140], [235, 200, 200]]), np.float32)
    tsky = np.clip(yy / horizon, 0, 1)[..., None]
    img = sky_top * (1 - tsky) + sky_low * tsky
    clouds = _smooth_noise(rng, h, w, 24) * 0.6 + _smooth_noise(rng, h, w, 60) * 0.4
    cloud_mask = np.clip((clouds - 0.55) * 3, 0, 1)[..., None] * (yy < horizon)[..., None]
    img = img * (1 - 0.7 * cloud_mask) + 245 * 0.7 * cloud_mask
    sx, sy, sr = rng.uniform(0.15, 0.85) * w, rng.uniform(0.1, 0.35) * h, rng.uniform(12, 30)
    d = np.hypot(xx - sx, yy - sy)
    img += (np.exp(-((d / (sr * 3)) ** 2)) * 90 + (d < sr) * 120)[..., None] * np.array([1.0, 0.9, 0.6], np.float32)
    ground = np.array(rng.choice([[60, 110, 50], [90, 120, 60], [120, 100, 70]]), np.float32)
    land = np.zeros((h, w, 1), dtype=bool)
    for layer in range(3):
        ridge = (
            horizon
            + layer * h * 0.08
            + sum(rng.uniform(8, 30) * np.sin(xx[0] / rng.uniform(30, 120) + rng.uniform(0, 6)) for _ in range(3))
        )
        haze = 0.55 - 0.22 * layer
        colour = ground * (1 - haze) + sky_low * haze * 0.9
        mask = (yy > ridge[None, :])[..., None]
        shade = 0.75 + 0.35 * _smooth_noise(rng, h, w, 16)[..., None]
        img = np.where(mask, colour * shade, img)
        land |= mask
    amount = np.where(land, 36.0, 10.0)  # grass/rock texture, faint in the sky
    img += (_smooth_noise(rng, h, w, 3) - 0.5)[..., None] * amount
    im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).resize((W, H), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(im)
    base_y = int(H * 0.75)
    for _ in range(int(rng.integers(6, 14))):  # trees
        x, y = int(rng.uniform(0, W)), int(base_y + rng.uniform(-200, 500))
        s = int(rng.uniform(120, 380))
        draw.rectangle((x - s // 12, y, x + s // 12, y + s // 2), fill=(80, 55, 35))
        green = tuple(int(v) for v in rng.integers(30, 110, 3) * np.array([0.6, 1.0, 0.5]))
        draw.polygon([(x, y - s * 1.5), (x - s // 2, y + s // 6), (x + s // 2, y + s // 6)], fill=green)
    hx, hy = int(rng.uniform(0.2, 0.7) * W), int(H * 0.7)
    draw.rectangle((hx, hy, hx + 520, hy + 360), fill=(200, 190, 170))
    draw.polygon([(hx - 40, hy), (hx + 260, hy - 240), (hx + 560, hy)], fill=(150, 60, 50))
    for wx in (hx + 60, hx + 330):
        draw.rectangle((wx, hy + 80, wx + 120, hy + 200), fill=(60, 80, 110))
    arr = np.asarray(im, dtype=np.int16)
    tile = (rng.standard_normal((512, 512, 3)) * 4).astype(np.int16)  # sensor grain
    arr = arr + np.tile(tile, (H // 512 + 1, W // 512 + 1, 1))[:H, :W]
    out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x010F] = "BenchCam"
    exif[0x0110] = "BC-12"
    exif[0x0112] = 1
    exif.get_ifd(0x8769)[0x9003] = f"2024:06:{1 + seed % 28:02d} 10:{seed % 60:02d}:00"
    out.save(path, format="JPEG", quality=90, exif=exif)


def _smooth_noise(rng, h: int, w: int, cell: int) -> np.ndarray:
    small = rng.random((max(2, h // cell), max(2, w // cell))).astype(np.float32)
    return np.asarray(Image.fromarray(small, mode="F").resize((w, h), Image.Resampling.BICUBIC))


def ensure_photos(workdir: Path) -> list[Path]:
    folder = workdir / f"photos_v{PHOTO_VERSION}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(N_PHOTOS):
        p = folder / f"IMG_{i:04d}.jpg"
        if not p.exists():
            tmp = p.with_suffix(".part")
            make_photo(tmp, seed=1000 + i)
            os.replace(tmp, p)
        paths.append(p)
    return paths


# --- the reel -------------------------------------------------------------------


def build_job(paths: list[Path]):
    from reels_core.domain import NarrationLine, Script, Shot
    from render_service.render import MediaInput, RenderParams

    media = {f"m{i}": MediaInput(f"m{i}", p, "PHOTO", 1, 0.0) for i, p in enumerate(paths)}
    shots = [
        Shot(f"m{i}", SHOT_S, f"Moment {i + 1}", MOTIONS[i % len(MOTIONS)], "crossfade") for i in range(len(paths))
    ]
    narration = [NarrationLine(t, s, e) for t, s, e in NARRATION]
    script = Script(TITLE, SUBTITLE, "nostalgic", "piano", shots, narration)
    return script, media, RenderParams(width=WIDTH, height=HEIGHT, fps=FPS, crf=23, preset="veryfast", seed=7)


def worker(workdir: Path) -> None:
    """Runs in a fresh process: render once, print JSON stats."""
    from render_service.render import render_reel

    script, media, params = build_job(ensure_photos(workdir))
    out = workdir / "ours.mp4.tmp"
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    stats = render_reel(script, media, out, params)
    wall = time.perf_counter() - t0
    out.unlink()
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    ru_self = resource.getrusage(resource.RUSAGE_SELF)
    ru_child = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = {
        "python_cpu_s": round(ru_self.ru_utime + ru_self.ru_stime - before.ru_utime - before.ru_stime, 2),
        "ffmpeg_cpu_s": round(ru_child.ru_utime + ru_child.ru_stime, 2),
    }
    print(
        json.dumps(
            {
                "wall_s": wall,
                "bytes": stats.bytes,
                "frames": stats.frames,
                "stages": stats.stages,
                **cpu,
                "self_rss_mb": self_rss,
                "child_rss_mb": child_rss,
                "encoder_rss_mb": stats.encoder_peak_rss_mb,
            }
        )
    )


def dump_raw(workdir: Path, raw: Path) -> int:
    """Our exact frames, written to a raw yuv420p file (for the floor)."""
    from render_service.render.frames import FrameComposer, new_buffer

    script, media, params = build_job(ensure_photos(workdir))
    composer = FrameComposer(script, media, params)
    buf = new_buffer(params.width, params.height)
    n = 0
    try:
        with open(raw, "wb") as fh:
            for frame in composer.frames(lambda: buf):
                fh.write(frame.data)
                n += 1
    finally:
        composer.close()
    return n


# --- (c) reference ----------------------------------------------------------------


def reference_args(paths: list[Path], wav: Path, out: Path) -> list[str]:
    from render_service.render.timeline import build_timeline

    tl = build_timeline([SHOT_S] * len(paths), ["crossfade"] * len(paths), FPS)
    args = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    for p in paths:
        args += ["-i", str(p)]
    args += ["-i", str(wav)]
    W2, H2 = 2 * WIDTH, 2 * HEIGHT
    chains = []
    for i, span in enumerate(tl.spans):
        n = span.frames
        motion = MOTIONS[i % len(MOTIONS)]
        zoom = {"zoom_in": f"1+0.15*on/{n}", "zoom_out": f"1.15-0.15*on/{n}"}.get(
            motion, "1.15" if "pan" in motion else "1"
        )
        x = {"pan_left": f"(iw-iw/zoom)*(1-on/{n})", "pan_right": f"(iw-iw/zoom)*on/{n}"}.get(
            motion, "iw/2-(iw/zoom/2)"
        )
        chains.append(
            f"[{i}:v]scale={W2}:{H2}:force_original_aspect_ratio=increase,crop={W2}:{H2},"
            f"zoompan=z='{zoom}':x='{x}':y='ih/2-(ih/zoom/2)':d={n}:s={WIDTH}x{HEIGHT}:fps={FPS},"
            f"setsar=1,format=yuv420p[v{i}]"
        )
    last = "v0"
    spans = tl.spans
    for i in range(1, len(spans)):
        overlap = (spans[i - 1].end - spans[i].start) / FPS
        offset = spans[i].start / FPS
        chains.append(f"[{last}][v{i}]xfade=transition=fade:duration={overlap:.4f}:offset={offset:.4f}[x{i}]")
        last = f"x{i}"
    texts = []
    if Path(FONT).exists():
        texts.append(
            f"drawtext=fontfile={FONT}:text='{TITLE}':fontsize=54:fontcolor=white:box=1:"
            f"boxcolor=black@0.4:x=(w-text_w)/2:y=h*0.4:enable='lt(t,2.5)'"
        )
        for text, s, e in NARRATION:
            texts.append(
                f"drawtext=fontfile={FONT}:text='{text}':fontsize=32:fontcolor=white:box=1:"
                f"boxcolor=black@0.5:x=(w-text_w)/2:y=h-text_h-43:enable='between(t,{s},{e})'"
            )
    chains.append(f"[{last}]" + (",".join(texts) if texts else "null") + "[vout]")
    args += [
        "-filter_complex",
        ";".join(chains),
        "-map",
        "[vout]",
        "-map",
        f"{len(paths)}:a",
        "-frames:v",
        str(tl.total_frames),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(out),
    ]
    return args


# --- timing helpers ---------------------------------------------------------------


def run_ffmpeg(args: list[str], stdin_file: Path | None = None) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MB, CPU seconds) of one ffmpeg run; with
    ``stdin_file``, that file is piped into ffmpeg's stdin by ``cat`` (whose CPU
    time is counted too)."""
    import imageio_ffmpeg

    t0 = time.perf_counter()
    feeder = None
    stdin: int | IO[bytes] | None = subprocess.DEVNULL
    if stdin_file is not None:
        feeder = subprocess.Popen(["cat", str(stdin_file)], stdout=subprocess.PIPE)
        stdin = feeder.stdout
    proc = subprocess.Popen([imageio_ffmpeg.get_ffmpeg_exe(), *args], stdin=stdin)
    if feeder is not None and feeder.stdout is not None:
        feeder.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    cpu = usage.ru_utime + usage.ru_stime
    proc.returncode = os.waitstatus_to_exitcode(status)
    if feeder is not None:
        _, _, fusage = os.wait4(feeder.pid, 0)
        feeder.returncode = 0
        cpu += fusage.ru_utime + fusage.ru_stime
    if proc.returncode != 0:
        raise SystemExit(f"ffmpeg failed ({proc.returncode}): {' '.join(args[:12])} ...")
    return wall, usage.ru_maxrss / 1024, cpu


def run_ours(workdir: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", "--workdir", str(workdir)], capture_output=True, text=True, cwd=ROOT
    )
    if proc.returncode != 0:
        raise SystemExit(f"worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cpu_idle_fraction(seconds: float = 1.0) -> float:
    """Share of the machine's CPU time that was idle over ``seconds`` (from /proc/stat)."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)

    try:
        idle0, total0 = sample()
        time.sleep(seconds)
        idle1, total1 = sample()
    except OSError:
        return 1.0
    return (idle1 - idle0) / max(1, total1 - total0)


def wait_idle(max_wait: float, threshold: float = 0.9) -> float:
    """This machine is shared: before a timed run, wait (at most ``max_wait`` s) for
    other work to stop. Returns the idle fraction seen last."""
    deadline = time.monotonic() + max_wait
    idle = cpu_idle_fraction()
    while idle < threshold and time.monotonic() < deadline:
        idle = cpu_idle_fraction()
    return idle


def warm(path: Path) -> None:
    with open(path, "rb") as fh:
        while fh.read(1 << 24):
            pass


def machine() -> str:
    import imageio_ffmpeg

    cpu = bench_common.cpu_model("unknown CPU")
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"ffmpeg {imageio_ffmpeg.get_ffmpeg_version()} (imageio-ffmpeg)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=ROOT / "var" / "bench" / "render")
    ap.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    ap.add_argument(
        "--max-wait",
        type=float,
        default=120.0,
        help="seconds to wait for an idle machine before each timed run (0: do not wait)",
    )
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ns = ap.parse_args()
    ns.workdir.mkdir(parents=True, exist_ok=True)
    if ns.worker:
        worker(ns.workdir)
        return

    t0 = time.perf_counter()
    paths = ensure_photos(ns.workdir)
    print(
        f"photos ready in {time.perf_counter() - t0:.1f}s: {N_PHOTOS} x "
        f"{PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG q90, {sum(p.stat().st_size for p in paths) / 1e6:.1f} MB",
        flush=True,
    )

    from render_service.render import music

    script, media, params = build_job(paths)
    frames = round(script.duration_s * FPS)
    with tempfile.TemporaryDirectory(dir=ns.workdir, prefix="run-") as tmpdir:
        tmp = Path(tmpdir)
        wav = tmp / "music.wav"
        import wave

        samples = music.synthesize(script.mood, script.music_style, frames / FPS, params.seed)
        with wave.open(str(wav), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(music.SAMPLE_RATE)
            w.writeframes(samples.tobytes())
        raw = tmp / "ours.yuv"
        n = dump_raw(ns.workdir, raw)
        assert n == frames, (n, frames)
        floor_args = [
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
            "-s",
            f"{WIDTH}x{HEIGHT}",
            "-framerate",
            str(FPS),
            "-i",
            "pipe:0",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "23",
            "-f",
            "mp4",
            str(tmp / "floor.mp4"),
        ]
        test_args = [
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=s={WIDTH}x{HEIGHT}:r={FPS}",
            "-frames:v",
            str(frames),
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "23",
            "-f",
            "mp4",
            str(tmp / "testsrc2.mp4"),
        ]
        ref_args = reference_args(paths, wav, tmp / "reference.mp4")

        results: dict[str, list] = {"ours": [], "floor": [], "testsrc2": [], "reference": []}
        idles: list[float] = []
        for r in range(ns.repeat):
            idles.append(wait_idle(ns.max_wait))
            ours = run_ours(ns.workdir)
            results["ours"].append(ours)
            print(
                f"[{r + 1}/{ns.repeat}] ours       {ours['wall_s']:.2f}s  cpu {ours['python_cpu_s']:.2f}+"
                f"{ours['ffmpeg_cpu_s']:.2f}s  idle before {idles[-1]:.0%}  stages {ours['stages']}",
                flush=True,
            )
            for name, args in (("floor", floor_args), ("testsrc2", test_args), ("reference", ref_args)):
                if name == "floor":
                    warm(raw)
                idles.append(wait_idle(ns.max_wait))
                results[name].append(run_ffmpeg(args, raw if name == "floor" else None))
                wall, _, cpu = results[name][-1]
                print(
                    f"[{r + 1}/{ns.repeat}] {name:<10} {wall:.2f}s  cpu {cpu:.2f}s  idle before {idles[-1]:.0%}",
                    flush=True,
                )
        sizes = {
            "floor": (tmp / "floor.mp4").stat().st_size,
            "testsrc2": (tmp / "testsrc2.mp4").stat().st_size,
            "reference": (tmp / "reference.mp4").stat().st_size,
        }

    best = min(results["ours"], key=lambda o: o["wall_s"])
    ours_wall = best["wall_s"]
    ours_cpu = best["python_cpu_s"] + best["ffmpeg_cpu_s"]
    ours_rss = max(o["self_rss_mb"] for o in results["ours"])
    ours_child = max((o["encoder_rss_mb"] or o["child_rss_mb"]) for o in results["ours"])
    floor_wall, floor_rss, floor_cpu = min(results["floor"])  # best wall (and that run's RSS and CPU)
    test_wall, test_rss, test_cpu = min(results["testsrc2"])
    ref_wall, ref_rss, ref_cpu = min(results["reference"])
    r_floor, r_ref, rss_total = ours_wall / floor_wall, ours_wall / ref_wall, ours_rss + ours_child

    def ok(cond: bool) -> str:
        return "met" if cond else "**missed**"

    cmd = "`.venv/bin/python scripts/bench_render.py" + (f" --repeat {ns.repeat}" if ns.repeat != 2 else "") + "`"
    md = f"""## Render

Command: {cmd} (best of {ns.repeat} interleaved runs each). Machine: {machine()}.

Job: a 30 s 1280x720 30 fps reel ({frames} frames) of {N_PHOTOS} synthetic camera-like 4000x3000 (12 MP)
JPEG q90 photos with EXIF: 12 shots of 2.5 s, 0.6 s crossfades, zoom/pan/static motion, title
card, narration and shot captions, piano music bed; libx264 `veryfast` CRF 23 everywhere.

| run | what it does | wall s | ours / this | CPU s | peak RSS MB | output MB |
| --- | --- | ---: | ---: | ---: | ---: | ---: |
| **ours** | `render_reel`: decode at reduced size, numpy/swscale frames piped to ffmpeg, AAC music | {ours_wall:.2f} | 1.00 | {ours_cpu:.1f} | {ours_rss:.0f} + {ours_child:.0f} (ffmpeg) = {rss_total:.0f} | {best["bytes"] / 1e6:.1f} |
| floor | x264 only: our exact {frames} frames, pre-generated raw yuv420p piped in (`cat` from the page cache), no audio | {floor_wall:.2f} | {r_floor:.2f} | {floor_cpu:.1f} | {floor_rss:.0f} | {sizes["floor"] / 1e6:.1f} |
| floor (testsrc2) | x264 only: lavfi testsrc2, same size/rate/frames, for comparison | {test_wall:.2f} | {ours_wall / test_wall:.2f} | {test_cpu:.1f} | {test_rss:.0f} | {sizes["testsrc2"] / 1e6:.1f} |
| reference | one ffmpeg: zoompan per photo (cover-scaled to 2x first) + xfade chain + drawtext + AAC | {ref_wall:.2f} | {r_ref:.2f} | {ref_cpu:.1f} | {ref_rss:.0f} | {sizes["reference"] / 1e6:.1f} |

Targets: ours/floor {r_floor:.2f} (<= 1.25: {ok(r_floor <= 1.25)}), ours/reference {r_ref:.2f}
(<= 0.75: {ok(r_ref <= 0.75)}), peak RSS {rss_total:.0f} MB incl. the ffmpeg child (< 500: {ok(rss_total < 500)}).
Our stages (best run, seconds): {", ".join(f"{k} {v:.2f}" for k, v in best["stages"].items())}.
Peak RSS: getrusage of a fresh worker process (self) plus wait4 of its ffmpeg child. CPU s: user+system
seconds of the best run, ours = Python + ffmpeg child. The machine is shared: before each run the script waits
(up to {ns.max_wait:.0f} s) for the CPUs to be >= 90 % idle; idle share seen before the runs: {min(idles):.0%} to {max(idles):.0%}.
"""  # noqa: E501  (a Markdown table row is one line)
    print()
    print(md)
    if not ns.no_write:
        bench_common.write_section("render", md)
        print("updated docs/BENCHMARKS.md")


if __name__ == "__main__":
    main()

"""Benchmark the media index's scan: at scale (100,000 files), the HEIC/AVIF check,
and header only against header + pixel check on camera photos.

    .venv/bin/python scripts/bench_scan.py [--files 100000] [--scale-only | --heif-only]
        [--photos 40] [--rounds 5] [--workdir var/bench/scan] [--no-write]

In one process it:
 (a) makes ``--photos`` camera-like 4000x3000 (12 MP) JPEGs, quality 90, with EXIF
     DateTimeOriginal (bench_render.py's scene: sky gradient, clouds, hills with
     haze, trees, a house, mid-frequency texture and sensor grain), cached in the
     work directory;
 (b) times ``scan_library`` over that folder, side by side:
     header only: every media id passed as ``known``, so no photo is decoded; this
       is exactly the path the index took before the pixel check (the reference);
     header + check: nothing known, every photo decoded at 1/8 scale;
 (c) times ``indexing.rescan`` on a fresh SQLite ledger (the first scan: every
     photo checked, every row inserted) and again on the same ledger (every file
     unchanged: none opened, nothing changes), i.e. the incremental rescan;
 (d) does every pass warm (files in the page cache) and cold (each file evicted
     with ``posix_fadvise(DONTNEED)`` first; nothing else on the machine is touched);
 (e) prints a markdown table and writes it to docs/BENCHMARKS.md between
     ``<!-- bench:scan -->`` markers.

Then (``--files``, 100,000 by default; ``bench_scan_scale.py``) the scan at scale,
and the HEIC/AVIF check against a full decode.

Passes are interleaved over ``--rounds`` rounds (their order alternating) and the
median is reported, with the best in brackets. Before each round the script waits
(up to ``--max-wait`` s) for the CPUs to be >= 90 % idle. Timings are never
asserted in the test suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(ROOT))

import bench_common
import bench_render
from PIL import Image, features

from render_service.media_index import scan_library

TZ = "Europe/Paris"
T = TypeVar("T")
PASSES = ("header", "check", "rescan_first", "rescan_again")
TITLES = {
    "header": (
        "`scan_library`, header only (reference)",
        "open + EXIF, no pixels: every id `known`, the path the index took before the check",
    ),
    "check": ("`scan_library`, header + check", "+ 1/8-scale decode of every photo (`draft` + `load`)"),
    "rescan_first": ("`rescan`, first scan", "empty SQLite ledger: ledger read, header + check, all rows inserted"),
    "rescan_again": ("`rescan`, again (incremental)", "same ledger: every file unchanged, none opened, no row changes"),
}


class _Everything:
    """``known`` for the reference pass: every media id, so nothing is decoded."""

    def __contains__(self, media_id: object) -> bool:
        return True


def ensure_library(workdir: Path, n: int) -> Path:
    """A library folder of ``n`` photos: hard links to the cached ones (made once)."""
    cache = workdir / f"photos_v{bench_render.PHOTO_VERSION}"
    cache.mkdir(parents=True, exist_ok=True)
    folder = workdir / "library"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for i in range(n):
        p = cache / f"IMG_{i:04d}.jpg"
        if not p.exists():
            tmp = p.with_suffix(".part")
            bench_render.make_photo(tmp, seed=1000 + i)
            os.replace(tmp, p)
        os.link(p, folder / p.name)
    return folder


def evict(folder: Path) -> None:
    """Drop this folder's files from the page cache (clean pages; no root needed)."""
    for p in folder.iterdir():
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def warm(folder: Path) -> None:
    for p in folder.iterdir():
        bench_render.warm(p)


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run_round(folder: Path, n: int, cold: bool, order: tuple[str, ...]) -> dict[str, float]:
    """Seconds of each pass, in ``order``; each result is checked."""
    from ledger.db import make_engine, migrate
    from reels_core.libraries import LibraryConfig
    from render_service.indexing import rescan

    prepare = evict if cold else warm
    lib = LibraryConfig("bench", folder, TZ)
    out: dict[str, float] = {}
    for name in order:
        if name in ("header", "check"):
            known = _Everything() if name == "header" else None
            prepare(folder)
            out[name], res = timed(partial(scan_library, folder, TZ, known=known))
            assert len(res.items) == n and not res.skipped, res.skipped
            assert res.decoded == (0 if name == "header" else n), res.decoded
        elif name == "rescan_first":
            with tempfile.TemporaryDirectory(prefix="ledger-", dir=folder.parent) as tmp:
                engine = make_engine(None, Path(tmp))
                migrate(engine)
                try:
                    prepare(folder)
                    out["rescan_first"], first = timed(partial(rescan, engine, lib))
                    prepare(folder)
                    out["rescan_again"], again = timed(partial(rescan, engine, lib))
                finally:
                    engine.dispose()
            assert (first.added, first.photos, first.library.skipped_count) == (n, n, 0), first
            assert (again.added, again.removed, again.photos) == (0, 0, n), again
    return out


def heif_section(workdir: Path, rounds: int) -> str:
    """The scan-time check of a camera-like 12 MP HEIC and AVIF (bench_render.py's
    scene, converted once and cached): header only, the check (box sizes), and the
    full decode the check replaced; warm, best and median of ``rounds``."""
    from PIL import ImageFile

    from render_service import media_index
    from render_service.photo_formats import open_photo

    jpeg = workdir / f"photos_v{bench_render.PHOTO_VERSION}" / "IMG_0000.jpg"
    if not jpeg.exists():
        jpeg.parent.mkdir(parents=True, exist_ok=True)
        bench_render.make_photo(jpeg, seed=1000)
    rows = []
    for fmt, suffix in (("HEIF", ".heic"), ("AVIF", ".avif")):
        path = workdir / f"camera_v{bench_render.PHOTO_VERSION}{suffix}"
        if not path.exists():
            with Image.open(jpeg) as img:
                img.save(path.with_suffix(".part"), format=fmt, quality=80)
            os.replace(path.with_suffix(".part"), path)

        def check(path: Path = path, suffix: str = suffix) -> None:
            with open_photo(path, suffix) as img:
                img.getexif()
                media_index._decode_check(img)

        def full(path: Path = path, suffix: str = suffix) -> None:
            with open_photo(path, suffix) as img:
                img.getexif()
                img.load()

        got: dict[str, list[float]] = {"check": [], "full": []}
        for _ in range(rounds):
            for name, fn in (("check", check), ("full", full)):
                bench_render.warm(path)
                c0 = time.process_time()
                fn()
                got[name].append((time.process_time() - c0) * 1000)
        med = {k: min(v) for k, v in got.items()}
        with open_photo(path, suffix) as opened:
            assert isinstance(opened, ImageFile.ImageFile) and media_index._boxes_fit(opened)
            c0 = time.process_time()
            for _ in range(1000):
                media_index._boxes_fit(opened)
            boxes_us = (time.process_time() - c0) * 1000
        rows.append(
            f"| {fmt} ({path.stat().st_size / 1e6:.1f} MB) | {boxes_us:.0f} µs | "
            f"{med['check']:.2f} | {med['full']:.0f} | {med['full'] / med['check']:.0f}x |"
        )
        print(rows[-1], flush=True)
    return "\n".join(
        [
            "## Scan-time check of HEIC and AVIF: box sizes instead of a full decode",
            "",
            f"Command: `.venv/bin/python scripts/bench_scan.py --files 0 --heif-only --rounds {rounds}` (CPU ms of "
            f"this process, best of {rounds}, "
            "warm page cache: the machine was shared, and CPU time is what the other jobs do not inflate).  ",
            f"Machine: {machine()}. One camera-like 4000x3000 photo (bench_render.py's scene) saved by "
            "pillow-heif (HEIF, x265) and Pillow (AVIF) at quality 80. The check walks the file's top-level "
            "ISO BMFF boxes and refuses one that runs past the end (a truncated copy); the full decode is "
            "what the scan did before.",
            "",
            "| file | box check alone (mean of 1,000) | open + EXIF + check | open + EXIF + full decode "
            "(before) | ratio |",
            "| --- | ---: | ---: | ---: | ---: |",
            *rows,
        ]
    )


def machine() -> str:
    cpu = bench_common.cpu_model("unknown CPU")
    return (
        f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, Python {platform.python_version()}, "
        f"Pillow {Image.__version__} (libjpeg-turbo {features.version('libjpeg_turbo')})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workdir", type=Path, default=ROOT / "var" / "bench" / "scan")
    ap.add_argument(
        "--max-wait",
        type=float,
        default=60.0,
        help="seconds to wait for an idle machine before each round (0: do not wait)",
    )
    ap.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    ap.add_argument("--files", type=int, default=100_000, help="size of the scale library (0: skip that part)")
    ap.add_argument("--reel-rounds", type=int, default=3, help="CreateReel runs per month in the scale part")
    ap.add_argument("--reel-seconds", type=float, default=10.0, help="reel length in the scale part")
    ap.add_argument("--scale-only", action="store_true", help="only the scale part (skip the 12 MP check part)")
    ap.add_argument("--heif-only", action="store_true", help="with --files 0: only the HEIC/AVIF check part")
    ns = ap.parse_args()
    ns.workdir.mkdir(parents=True, exist_ok=True)
    if ns.files:
        import bench_scan_scale

        md = bench_scan_scale.scale_section(ns.files, ns.workdir, ns.reel_rounds, ns.reel_seconds)
        print()
        print(md, flush=True)
        if not ns.no_write:
            bench_common.write_section("scan-scale", md)
            print(f"updated {bench_common.DOC.relative_to(bench_common.ROOT)} (bench:scan-scale)")
    if ns.scale_only:
        return
    md = heif_section(ns.workdir, ns.rounds)
    print()
    print(md, flush=True)
    if not ns.no_write:
        bench_common.write_section("scan-heif", md)
    if ns.heif_only:
        return

    from service_kit.logs import configure_logging

    configure_logging("json", "warning")  # rescan's "library scanned" line, once per pass
    t0 = time.perf_counter()
    folder = ensure_library(ns.workdir, ns.photos)
    sizes = [p.stat().st_size for p in folder.iterdir()]
    print(
        f"photos ready in {time.perf_counter() - t0:.1f}s: {ns.photos} x "
        f"{bench_render.PHOTO_SIZE[0]}x{bench_render.PHOTO_SIZE[1]} JPEG q90, {sum(sizes) / 1e6:.1f} MB",
        flush=True,
    )

    run_round(folder, ns.photos, cold=False, order=PASSES)  # warm-up: imports, code paths
    load_start = os.getloadavg()[0]
    secs: dict[tuple[str, str], list[float]] = {(c, p): [] for c in ("warm", "cold") for p in PASSES}
    idles: list[float] = []
    for r in range(ns.rounds):
        order = PASSES if r % 2 == 0 else ("rescan_first", "check", "header")
        for cache in ("warm", "cold") if r % 2 == 0 else ("cold", "warm"):
            idles.append(bench_render.wait_idle(ns.max_wait))
            got = run_round(folder, ns.photos, cold=cache == "cold", order=order)
            for name, s in got.items():
                secs[(cache, name)].append(s)
            print(
                f"[{r + 1}/{ns.rounds}] {cache}: "
                + "  ".join(f"{name} {got[name] / ns.photos * 1000:.2f} ms/photo" for name in PASSES),
                flush=True,
            )
    load_end = os.getloadavg()[0]

    per = {k: statistics.median(v) / ns.photos * 1000 for k, v in secs.items()}
    best = {k: min(v) / ns.photos * 1000 for k, v in secs.items()}

    def cell(cache: str, name: str) -> str:
        return f"{per[(cache, name)]:.2f} ({best[(cache, name)]:.2f})"

    def ratio(cache: str, name: str) -> str:
        return f"{per[(cache, name)] / per[(cache, 'header')]:.1f}x"

    cmd = "make bench  # or: .venv/bin/python scripts/bench_scan.py"
    extra = [f"--{k} {v}" for k, v, d in (("photos", ns.photos, 40), ("rounds", ns.rounds, 5)) if v != d]
    if extra:
        cmd = ".venv/bin/python scripts/bench_scan.py " + " ".join(extra)
    lines = [
        "## Media index scan: header only vs header + pixel check",
        "",
        f"Command: `{cmd}`  ",
        f"Machine: {machine()}; load average {load_start:.2f} at the start, {load_end:.2f} at the end; "
        f"CPU idle share before the rounds {min(idles):.0%} to {max(idles):.0%}.  ",
        f"Library: {ns.photos} camera-like 4000x3000 (12 MP) JPEGs, q90, EXIF DateTimeOriginal, "
        f"{statistics.mean(sizes) / 1e6:.2f} MB each on average (bench_render.py's scene), in one folder. "
        f"One process; every pass {ns.rounds} times, interleaved with the others (order alternating), median "
        "per photo reported, best in brackets. Warm: the files in the page cache; cold: each file evicted "
        "with `posix_fadvise(DONTNEED)` before the pass, so it is read again from the VM's virtio disk (which "
        "the host may cache: on a NAS or a spinning disk the check, which reads every file in full where the "
        "header needs its first few KB, costs more than here). `rescan` includes "
        "reading the library's row ids from the ledger and writing the index (SQLite, WAL).",
        "",
        "| pass | what it does | warm ms/photo | vs header only | cold ms/photo | vs header only |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for name in PASSES:
        title, what = TITLES[name]
        lines.append(
            f"| {title} | {what} | {cell('warm', name)} | {ratio('warm', name)} | "
            f"{cell('cold', name)} | {ratio('cold', name)} |"
        )
    check_cost = {c: per[(c, "check")] - per[(c, "header")] for c in ("warm", "cold")}
    incr = {c: per[(c, "rescan_first")] / per[(c, "rescan_again")] for c in ("warm", "cold")}
    total = {c: per[(c, "rescan_first")] * ns.photos / 1000 for c in ("warm", "cold")}
    lines += [
        "",
        f"The check alone: {check_cost['warm']:.1f} ms per 12 MP photo warm, {check_cost['cold']:.1f} ms cold "
        f"(header + check minus header only). A first scan of these {ns.photos} photos takes "
        f"{total['warm']:.2f} s warm, {total['cold']:.2f} s cold; the incremental rescan of the unchanged "
        f"folder is {incr['warm']:.0f}x faster warm, {incr['cold']:.0f}x cold: no file is opened (only files "
        "that are new, changed in place or skipped before are read and checked).",
    ]
    md = "\n".join(lines)
    print()
    print(md)
    if not ns.no_write:
        bench_common.write_section("scan", md)
        print(f"updated {bench_common.DOC.relative_to(bench_common.ROOT)} (bench:scan)")


if __name__ == "__main__":
    main()

"""The scan at scale: a generated library of ``--files`` (100,000) small files in
nested folders, scanned cold, rescanned unchanged and after 100 files changed, and
CreateReel for a MONTH of 5,000 candidates against one of 50.

    .venv/bin/python scripts/bench_scan.py --files 100000   # (this module is its second half)

Library (made once, cached in the work directory): tiny JPEGs (64x48, EXIF
DateTimeOriginal) written from a few encoded templates whose date bytes are patched
and which carry a comment segment of varying length and content, so no two are
alike and sizes spread as a real library's do; 1 % short H.264 clips (the shipped
ffmpeg) with a ``free`` box of varying length appended; Live Photo pairs; XMP and
Google Takeout sidecars; 10 empty and 10 truncated JPEGs; 10 byte-identical copies.
One month (2024-03) holds 5,000 photos, another (2024-06) 50; the rest spread over
2010-2023, 200 files per folder, three levels deep.

Each scan runs in a child process (its peak RSS is the child's ``ru_maxrss``),
after every file of the library has been evicted from the page cache with
``posix_fadvise(DONTNEED)`` (the directory entries and inodes stay cached: that
needs root). The reference is a bare ``os.scandir`` + ``stat`` walk of the same
tree, in a child process too, with the same eviction.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LIB_VERSION = 2
TZ = "UTC"
BIG_MONTH = (2024, 3, 5000)
SMALL_MONTH = (2024, 6, 50)
PER_FOLDER = 200


# --- the library ---------------------------------------------------------------


def _template_jpegs() -> list[bytes]:
    from PIL import Image

    out = []
    for seed in range(8):
        img = Image.effect_noise((64, 48), 30 + seed * 5).convert("RGB")
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = "2000:01:01 00:00:00"
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=85, exif=exif.tobytes())
        out.append(buf.getvalue())
    return out


def _clip(path: Path, seconds: float) -> bytes:
    import imageio_ffmpeg

    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc=size=64x36:rate=10", "-t", str(seconds), "-c:v", "libx264", "-pix_fmt", "yuv420p",
         "-movflags", "+faststart", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


def _date_of(i: int, n: int) -> dt.datetime:
    """5,000 files in 2024-03, 50 in 2024-06 (fewer in a small library), the rest over 2010-2023."""
    big = min(BIG_MONTH[2], n // 20)
    small = SMALL_MONTH[2]
    if i < big:
        return dt.datetime(BIG_MONTH[0], BIG_MONTH[1], 1 + i % 28, 8 + i % 12, i % 60)
    if i < big + small:
        return dt.datetime(SMALL_MONTH[0], SMALL_MONTH[1], 1 + i % 28, 10, i % 60)
    day = (i * 7919) % (14 * 365)
    return dt.datetime(2010, 1, 1, 9) + dt.timedelta(days=day, minutes=i % 600)


def _photo_bytes(templates: list[bytes], i: int, when: dt.datetime, salt: int = 0) -> bytes:
    base = templates[i % len(templates)]
    base = base.replace(b"2000:01:01 00:00:00", when.strftime("%Y:%m:%d %H:%M:%S").encode())
    # A COM segment after SOI: unique content, and a length that spreads the sizes.
    length = 16 + (i * 7919 + salt * 104729) % 20000
    payload = (f"{i:09d}-{salt:04d}-".encode() * (length // 15 + 1))[:length]
    return base[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + base[2:]


def _folder(i: int) -> str:
    k = i // PER_FOLDER
    return f"{k // 100:02d}/{(k // 10) % 10:02d}/{k % 10:02d}"


def _name(i: int) -> str:
    return f"IMG_{i:06d}.jpg"


def ensure_library(workdir: Path, n: int) -> Path:
    """The generated library (rebuilt when its version or size changes)."""
    folder = workdir / f"lib{n}_v{LIB_VERSION}"
    stamp = folder / ".complete"
    if stamp.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    templates = _template_jpegs()
    clips = [_clip(workdir / f"clip{s}.mp4", s) for s in (1.0, 2.0)]
    live = _clip(workdir / "live.mov", 2.0)
    made: set[str] = set()
    for i in range(n):
        sub = folder / _folder(i)
        if str(sub) not in made:
            sub.mkdir(parents=True, exist_ok=True)
            made.add(str(sub))
        when = _date_of(i, n)
        if i % 100 == 37:  # 1 % videos, each with its own free box
            data = clips[i % 2]
            pad = b"v%09d" % i * (1 + i % 50)
            (sub / f"VID_{i:06d}.mp4").write_bytes(data + (8 + len(pad)).to_bytes(4, "big") + b"free" + pad)
            continue
        (sub / _name(i)).write_bytes(_photo_bytes(templates, i, when))
        if i % 100 == 11:  # XMP sidecar
            (sub / (_name(i) + ".xmp")).write_text(
                '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                '<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
                'exif:GPSLatitude="48,51.5N" exif:GPSLongitude="2,21.0E"/></rdf:RDF></x:xmpmeta>'
            )
        elif i % 100 == 13:  # Takeout JSON sidecar
            stamp_s = str(int(when.replace(tzinfo=dt.UTC).timestamp()))
            takeout = {"photoTakenTime": {"timestamp": stamp_s}, "geoData": {"latitude": 43.7, "longitude": 7.26}}
            (sub / (_name(i) + ".json")).write_text(json.dumps(takeout))
        elif i % 500 == 17:  # a Live Photo: the still plus a short MOV with its stem
            (sub / f"IMG_{i:06d}.mov").write_bytes(live + (16).to_bytes(4, "big") + b"free" + b"%08d" % i)
    broken = folder / "broken"
    broken.mkdir()
    for k in range(10):
        (broken / f"empty_{k}.jpg").write_bytes(b"")
        data = _photo_bytes(templates, n + k, dt.datetime(2015, 1, 1))
        (broken / f"cut_{k}.jpg").write_bytes(data[: len(data) // 2])
    copies = folder / "zz_copies"
    copies.mkdir()
    for k in range(10):
        i = 1000 + k * 7
        src = folder / _folder(i) / _name(i)
        if src.exists():
            shutil.copyfile(src, copies / _name(i))
    stamp.write_text("ok")
    return folder


def changed_paths(folder: Path, n: int, count: int) -> list[Path]:
    """``count`` photos spread over the library (rewritten in place by ``change``)."""
    step = max(1, n // count)
    out: list[Path] = []
    i = 5
    while len(out) < count and i < n:
        p = folder / _folder(i) / _name(i)
        if p.exists() and i % 500 != 17:
            out.append(p)
        i += step
    return out


def change(paths: list[Path], n: int, salt: int) -> None:
    templates = _template_jpegs()
    for p in paths:
        i = int(p.stem.split("_")[1])
        p.write_bytes(_photo_bytes(templates, i, _date_of(i, n), salt=salt))


def evict(folder: Path) -> int:
    """Drop every file under ``folder`` from the page cache; how many."""
    count = 0
    for dirpath, _, names in os.walk(folder):
        for name in names:
            try:
                fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
            count += 1
    return count


# --- children --------------------------------------------------------------------


def child_walk(folder: Path) -> dict:
    """The reference: every entry listed with os.scandir and stat'ed, nothing opened."""
    t0, c0 = time.perf_counter(), time.process_time()
    pending, files = [str(folder)], 0
    while pending:
        with os.scandir(pending.pop()) as listing:
            for entry in listing:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                else:
                    entry.stat()
                    files += 1
    return {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0, "files": files}


def child_scan(folder: Path, data_dir: Path) -> dict:
    from ledger.db import make_engine, migrate
    from reels_core.libraries import LibraryConfig
    from render_service import indexing
    from service_kit.logs import configure_logging

    configure_logging("json", "warning")
    engine = make_engine(None, data_dir)
    migrate(engine)
    with __import__("ledger.db", fromlist=["session_scope"]).session_scope(engine) as session:
        from ledger import libraries as dao

        dao.upsert_library(session, "bench", str(folder), TZ)
    t0, c0 = time.perf_counter(), time.process_time()
    result = indexing.rescan(engine, LibraryConfig("bench", folder, TZ))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    engine.dispose()
    return {
        "seconds": seconds,
        "cpu": cpu,
        "added": result.added,
        "updated": result.updated,
        "removed": result.removed,
        "unchanged": result.unchanged,
        "probed": result.probed,
        "hashed": result.hashed,
        "batches": result.batches,
        "media": result.photos + result.videos,
        "skipped": result.library.skipped_count,
    }


def run_child(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child_main(argv: list[str]) -> None:
    what, folder = argv[0], Path(argv[1])
    res = child_walk(folder) if what == "walk" else child_scan(folder, Path(argv[2]))
    res["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(res))


# --- CreateReel: a month of 5,000 candidates against one of 50 ---------------------


def _proc_cpu(*pids: int) -> float:
    """CPU seconds used so far by ``pids`` and their waited-for children (/proc/PID/stat)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def create_reel_times(folder: Path, data_dir: Path, rounds: int, seconds: float) -> dict[str, list[float]]:
    """Seconds from CreateReel to the job's terminal state, through a real render
    service and scripter (subprocesses) on the scanned ledger, alternating the two months."""
    import bench_common
    import grpc

    from reels.v1 import common_pb2
    from reels.v1 import reel_admin_service_pb2 as admin_pb2
    from reels.v1 import reel_admin_service_pb2_grpc as admin_grpc
    from reels.v1 import reel_service_pb2 as pb2
    from reels.v1 import reel_service_pb2_grpc as reel_grpc

    env = bench_common.server_env(data_dir, folder, ["bench"], REEL_TIMEZONE=TZ, REEL_LOG_LEVEL="warning")
    env["REEL_LIBRARIES"] = f"bench={folder}"
    scripter_addr = env["REEL_SCRIPTER_ADDR"]
    log_dir = data_dir / "logs"
    log_dir.mkdir(exist_ok=True)
    scripter = subprocess.Popen(
        [sys.executable, "-m", "scripter_service"],
        cwd=ROOT,
        env=env,
        stdout=open(log_dir / "scripter.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    render = None
    try:
        render = bench_common.start_render(env, log_dir / "render.log", timeout_s=300)
        channel = grpc.insecure_channel(render.address)
        admin = admin_grpc.ReelAdminServiceStub(channel)
        reels = reel_grpc.ReelServiceStub(channel)
        grpc.channel_ready_future(grpc.insecure_channel(scripter_addr)).result(timeout=60)
        deadline = time.monotonic() + 600
        while not admin.ListLibraries(admin_pb2.ListLibrariesRequest()).libraries[0].indexed:
            if time.monotonic() > deadline:
                raise RuntimeError("the library was not indexed in 600 s")
            time.sleep(0.2)
        months = {"big": BIG_MONTH, "small": SMALL_MONTH}
        times: dict[str, list[float]] = {"big": [], "small": [], "big_cpu": [], "small_cpu": []}
        shots: dict[str, set[int]] = {"big": set(), "small": set()}
        for r in range(rounds + 1):  # the first round warms up
            for name in ("big", "small") if r % 2 == 0 else ("small", "big"):
                year, month, _ = months[name]
                request = pb2.CreateReelRequest(
                    library="bench",
                    span=common_pb2.SPAN_MONTH,
                    kind=common_pb2.REEL_KIND_RECAP,
                    anchor_date={"year": year, "month": month + 1, "day": 1},
                    options=common_pb2.RenderOptions(target_duration_seconds=seconds),
                )
                t0, c0 = time.perf_counter(), _proc_cpu(render.pid, scripter.pid)
                job = reels.CreateReel(request, timeout=120).job
                last = job
                for event in reels.WatchReelJob(pb2.WatchReelJobRequest(job_id=job.job_id), timeout=600):
                    last = event.job if event.HasField("job") else last
                elapsed, cpu = time.perf_counter() - t0, _proc_cpu(render.pid, scripter.pid) - c0
                final = reels.GetReelJob(pb2.GetReelJobRequest(job_id=job.job_id)).job
                if final.state != pb2.JOB_STATE_SUCCEEDED:
                    raise RuntimeError(f"{name} month: job ended {final.state} {final.reason}")
                reel = reels.GetReel(pb2.GetReelRequest(key=final.reel_key))
                shots[name].add(len(reel.media))
                if r:
                    times[name].append(elapsed)
                    times[name + "_cpu"].append(cpu)
                print(
                    f"  CreateReel {name} month: {elapsed:.2f} s, {cpu:.2f} CPU s, {len(reel.media)} shots", flush=True
                )
        channel.close()
        return times
    finally:
        if render is not None:
            render.stop()
        bench_common.stop_process(scripter)


def scale_section(n: int, workdir: Path, reel_rounds: int, reel_seconds: float, changes: int = 100) -> str:
    t0 = time.perf_counter()
    folder = ensure_library(workdir, n)
    print(f"library of {n} files ready in {time.perf_counter() - t0:.1f} s: {folder}", flush=True)
    data_dir = workdir / f"data{n}"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    evict(folder)
    walk = run_child("walk", str(folder))
    print(f"  walk: {walk}", flush=True)
    evict(folder)
    cold = run_child("scan", str(folder), str(data_dir))
    print(f"  cold: {cold}", flush=True)
    evict(folder)
    again = run_child("scan", str(folder), str(data_dir))
    print(f"  again: {again}", flush=True)
    paths = changed_paths(folder, n, changes)
    change(paths, n, salt=int(time.time()) % 9000 + 1)
    evict(folder)
    changed = run_child("scan", str(folder), str(data_dir))
    print(f"  changed: {changed}", flush=True)
    assert cold["added"] == cold["media"] and again["added"] == again["removed"] == again["updated"] == 0
    assert changed["updated"] == len(paths), changed
    times = create_reel_times(folder, data_dir, reel_rounds, reel_seconds)
    med = {k: statistics.median(v) for k, v in times.items()}
    files = walk["files"]

    def ms(res: dict, key: str, per: int) -> str:
        return f"{res[key] / per * 1000:.2f} ms"

    lines = [
        f"## Media index scan at scale: {n:,} files",
        "",
        f"Command: `.venv/bin/python scripts/bench_scan.py --files {n}`  ",
        f"Library: {files:,} files in nested folders ({PER_FOLDER} per folder; scripts/bench_scan_scale.py): "
        "64x48 JPEGs with EXIF, 1 % H.264 clips, Live Photo pairs, XMP and Takeout sidecars, 10 empty and 10 "
        "truncated JPEGs, 10 byte-identical copies. Each scan runs in its own process on the same SQLite ledger, "
        "after every file was evicted from the page cache (directory entries stay cached). The machine was "
        f"shared (load average {os.getloadavg()[0]:.1f} at the end), so wall time is shown with the process's "
        "CPU time, which the other jobs do not inflate.",
        "",
        "| pass | wall s | CPU s | CPU per file | files opened | rows written | peak RSS | goal |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        f"| bare `os.scandir` + `stat` walk (reference) | {walk['seconds']:.2f} | {walk['cpu']:.2f} | "
        f"{ms(walk, 'cpu', files)} | 0 | 0 | {walk['maxrss_mb']:.0f} MB | |",
        f"| cold scan, empty ledger | {cold['seconds']:.1f} | {cold['cpu']:.1f} | {ms(cold, 'cpu', files)} | "
        f"{cold['probed']:,} | {cold['added']:,} in {cold['batches']} batches | {cold['maxrss_mb']:.0f} MB | "
        "<= 2 ms per file, <= 300 MB |",
        f"| rescan, nothing changed | {again['seconds']:.2f} | {again['cpu']:.2f} | {ms(again, 'cpu', files)} | "
        f"{again['probed']:,} | 0 | {again['maxrss_mb']:.0f} MB | <= 5 s |",
        f"| rescan after {len(paths)} photos rewritten | {changed['seconds']:.2f} | {changed['cpu']:.2f} | "
        f"{ms(changed, 'cpu', files)} | {changed['probed']:,} | {changed['updated']:,} | "
        f"{changed['maxrss_mb']:.0f} MB | opens only those |",
        "",
        f"CPU: the cold scan costs {cold['cpu'] / walk['cpu']:.0f}x the bare walk, the unchanged rescan "
        f"{again['cpu'] / walk['cpu']:.1f}x. Files opened on the rescans are the new or changed ones plus the "
        "files skipped before (the 10 truncated JPEGs and the 10 copies: a skipped file has no row, so it is "
        "read again; the empty files are skipped from their size, unread); files "
        f"read in full to tell same-size files apart (the duplicate rule): {cold['hashed']:,} on the cold scan, "
        f"{again['hashed']} unchanged, {changed['hashed']} after the change. Pixel checks are included: on "
        "64x48 JPEGs they cost little; for camera photos see `bench:scan` (22 ms per 12 MP JPEG).",
        "",
        f"CreateReel, MONTH RECAP, a {reel_seconds:g} s reel at 720p, through the real services (render and "
        f"scripter processes on this ledger), median of {len(times['big'])} alternating runs, from the call to "
        "the job's terminal state; CPU: both processes (and the render's children):",
        "",
        "| window | candidates | wall s | ratio | CPU s | ratio | goal |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        f"| 2024-06 | {SMALL_MONTH[2]} | {med['small']:.2f} | 1.00x | {med['small_cpu']:.2f} | 1.00x | |",
        f"| 2024-03 | {min(BIG_MONTH[2], n // 20):,} | {med['big']:.2f} | {med['big'] / med['small']:.2f}x | "
        f"{med['big_cpu']:.2f} | {med['big_cpu'] / med['small_cpu']:.2f}x | <= 1.2x |",
    ]
    return "\n".join(lines)


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--child":
    _child_main(sys.argv[2:])

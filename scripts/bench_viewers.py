"""Benchmark 1,000 concurrent paced viewers of StreamReelVideo on one render_service.

    .venv/bin/python scripts/bench_viewers.py [--viewers 1000] [--ramp 10] [--rate 0.15]
                                              [--workdir var/bench/stream] [--no-write]

In one run it:
 (a) writes a 4 MB file of random bytes into the reel store of a bench data
     directory with its ledger row (bench_stream.py's fixtures, shared);
 (b) starts one ``python -m render_service`` (the default settings: grpc.aio, 256 KiB
     chunks, read-ahead 1);
 (c) starts 4 client processes, each an asyncio loop with its share of the viewers;
     each viewer has its own channel (its own connection, connected before its call),
     starts at a random moment of the ramp, and reads the reel at ``--rate`` MB/s
     (a little above the playback rate of a 30 s reel of 4 MB: 0.13 MB/s), sleeping
     between messages like a player whose buffer is full;
 (d) samples the server's VmRSS and thread count every 20 ms, and its CPU;
 (e) reports time to first chunk (call -> first message), errors, the most viewers
     open at once, RSS and threads, and writes the table to docs/BENCHMARKS.md
     between ``<!-- bench:viewers -->`` markers.

Nothing is asserted; the targets are reported as met or missed.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common as bc
import bench_stream as bs

TARGET_TTFC_MS, TARGET_RSS_MB = 50.0, 400.0
CLIENT_PROCS = 4
MB = 1e6


def _client(address: str, viewers: int, ramp_s: float, rate: float, start_at: float, seed: int, out: mp.Queue) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from reels.v1 import reel_service_pb2 as pb2
    from reels.v1 import reel_service_pb2_grpc

    async def viewer(delay: float) -> tuple[float, float, float, str, float]:
        await asyncio.sleep(max(0.0, start_at + delay - time.time()))
        async with grpc.aio.insecure_channel(address, options=bs.CHANNEL_OPTIONS) as channel:
            await channel.channel_ready()
            stub = reel_service_pb2_grpc.ReelServiceStub(channel)
            # The reference: a no-op call's round trip, from the same client at the
            # same moment (what the machine's load and the client add).
            t0 = time.perf_counter()
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
            check = time.perf_counter() - t0
            t0 = time.perf_counter()
            began = time.time()
            ttfc = -1.0
            total = 0
            try:
                async for msg in stub.StreamReelVideo(pb2.StreamReelVideoRequest(key=bs.SMALL_KEY)):
                    if ttfc < 0:
                        ttfc = time.perf_counter() - t0
                    total += len(msg.data)
                    ahead = t0 + total / rate - time.perf_counter()
                    if ahead > 0:
                        await asyncio.sleep(ahead)
            except grpc.RpcError as err:
                return began, time.time(), ttfc, f"{err.code().name}: {err.details()}"[:200], check
            if total != bs.SMALL_SIZE:
                return began, time.time(), ttfc, f"got {total} bytes", check
            return began, time.time(), ttfc, "", check

    async def main() -> list[tuple[float, float, float, str, float]]:
        rng = random.Random(seed)
        return await asyncio.gather(*(viewer(rng.uniform(0, ramp_s)) for _ in range(viewers)))

    out.put(asyncio.run(main()))


@dataclass
class Result:
    viewers: int
    errors: list[str]
    ttfc_p50_ms: float
    ttfc_p99_ms: float
    ttfc_max_ms: float
    check_p50_ms: float
    check_p99_ms: float
    stream_p50_s: float
    most_open: int
    rss_before_mb: float
    rss_peak_mb: float
    threads_before: int
    threads_peak: int
    server_cores: float
    busy: float
    wall_s: float


def _threads(pid: int) -> int:
    return bc.status_kib(pid, "Threads")


def run(address: str, pid: int, viewers: int, ramp_s: float, rate: float) -> Result:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    start_at = time.time() + 4.0  # spawned clients import grpc first
    per = [viewers // CLIENT_PROCS + (1 if i < viewers % CLIENT_PROCS else 0) for i in range(CLIENT_PROCS)]
    procs = [ctx.Process(target=_client, args=(address, n, ramp_s, rate, start_at, i, out)) for i, n in enumerate(per)]
    for p in procs:
        p.start()
    while time.time() < start_at - 0.05:
        time.sleep(0.01)
    rss_before, threads_before = bc.status_kib(pid, "VmRSS"), _threads(pid)
    peak_rss, peak_threads = rss_before, threads_before
    cpu0, ticks0 = bc.cpu_seconds(pid), bs._machine_ticks()
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_rss, peak_threads
        while not stop.is_set():
            peak_rss = max(peak_rss, bc.status_kib(pid, "VmRSS"))
            peak_threads = max(peak_threads, _threads(pid))
            stop.wait(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    results = [r for _ in procs for r in out.get(timeout=ramp_s + 4 * MB / rate + 300)]
    wall = time.time() - start_at
    cpu1, ticks1 = bc.cpu_seconds(pid), bs._machine_ticks()
    stop.set()
    sampler.join()
    for p in procs:
        p.join()
    ttfc = [r[2] * 1000 for r in results if r[2] >= 0] or [float("nan")]
    events = sorted([(r[0], 1) for r in results] + [(r[1], -1) for r in results])
    most = now = 0
    for _t, step in events:
        now += step
        most = max(most, now)
    return Result(
        viewers=len(results),
        errors=[r[3] for r in results if r[3]],
        ttfc_p50_ms=bc.percentile(ttfc, 50),
        ttfc_p99_ms=bc.percentile(ttfc, 99),
        ttfc_max_ms=max(ttfc),
        check_p50_ms=bc.percentile([r[4] * 1000 for r in results], 50),
        check_p99_ms=bc.percentile([r[4] * 1000 for r in results], 99),
        stream_p50_s=bc.percentile([r[1] - r[0] for r in results], 50),
        most_open=most,
        rss_before_mb=rss_before / 1024,
        rss_peak_mb=peak_rss / 1024,
        threads_before=threads_before,
        threads_peak=peak_threads,
        server_cores=(cpu1 - cpu0) / wall,
        busy=1 - (ticks1[1] - ticks0[1]) / max(1, ticks1[0] - ticks0[0]),
        wall_s=wall,
    )


NOTES = """\
### What bounds it

- **Threads and memory (met).** 1,000 streams open at once on one loop thread: the
  server's thread count stayed at 12-18 (the pool grows only for ledger reads) and
  its RSS grew by 34-38 MB in both runs (load 15 and 37). On loopback a client's
  HTTP/2 windows (several MB once gRPC's BDP probing grows them) take most of a
  4 MB reel at once, so the server's part of a stream is short. Over a slow network
  a stalled stream holds its message in flight (one chunk, plus gRPC core's copy):
  up to about 0.5 MB at 256 KiB, so 1,000 stalled readers could approach 500 MB;
  `REEL_STREAM_CHUNK_KIB=64` bounds that near 130 MB at some single-stream speed.
- **Time to first chunk (missed here, not judged).** The runs shared 2 cores with
  seven other jobs (load average 15-37): the server got 0.11-0.12 of a core and
  the client processes little more; a Health/Check on the same connections, just
  before each stream, took longer than the stream's first chunk. What the server
  adds cannot be told apart from the machine's queueing in these runs; to be re-run
  on a quiet machine. Earlier run (load 15): TTFC p50 1193 ms, p99 1900 ms, no
  errors, RSS 138 -> 172 MB.
"""


def _ok(good: bool) -> str:
    return "met" if good else "**missed**"


def report(cmd: str, r: Result, ramp_s: float, rate: float, load: tuple[str, str], chunk_kib: int) -> str:
    errors = len(r.errors)
    lines = [
        f"## {r.viewers:,} concurrent paced viewers",
        "",
        f"Command: `{cmd}`  ",
        f"Machine: {bc.machine()}; load average {load[0]} at the start, {load[1]} at the end "
        "(the machine was shared with other jobs).  ",
        f"One `python -m render_service` (grpc.aio, chunk {chunk_kib} KiB, read-ahead 1, default limits); the "
        f"{bs.SMALL_SIZE / MB:.0f} MB reel of bench:stream. {CLIENT_PROCS} client processes (grpc.aio), each viewer "
        f"with its own connection, arriving at a random moment within {ramp_s:g} s and reading at {rate / MB:.2f} "
        "MB/s (sleeping between messages like a player whose buffer is full), so a stream lasts about "
        f"{bs.SMALL_SIZE / rate:.0f} s and all are open together after the ramp. TTFC: call -> first message, "
        "in the client; each viewer first makes one Health/Check call on its connection, the round trip the "
        "machine and the client add to any call, as a reference. RSS and threads: the server's, sampled every 20 ms.",
        "",
        "| measure | value | target |",
        "| --- | ---: | --- |",
        f"| viewers completed (errors) | {r.viewers - errors} ({errors}) | zero errors: {_ok(errors == 0)} |",
        f"| most viewers streaming at once | {r.most_open} | |",
        f"| TTFC p50 | {r.ttfc_p50_ms:.1f} ms | |",
        f"| TTFC p99 | {r.ttfc_p99_ms:.1f} ms | <= {TARGET_TTFC_MS:.0f} ms: {_ok(r.ttfc_p99_ms <= TARGET_TTFC_MS)} |",
        f"| TTFC max | {r.ttfc_max_ms:.1f} ms | |",
        f"| reference: Health/Check round trip p50 / p99 (same clients, just before each stream) | "
        f"{r.check_p50_ms:.1f} / {r.check_p99_ms:.1f} ms | |",
        f"| whole stream p50 | {r.stream_p50_s:.1f} s | |",
        f"| server VmRSS before -> peak | {r.rss_before_mb:.0f} -> {r.rss_peak_mb:.0f} MB | "
        f"<= {TARGET_RSS_MB:.0f} MB: {_ok(r.rss_peak_mb <= TARGET_RSS_MB)} |",
        f"| server threads before -> peak | {r.threads_before} -> {r.threads_peak} | |",
        f"| server CPU / machine busy | {r.server_cores:.2f} cores / {r.busy:.0%} | |",
        "",
    ]
    if r.errors:
        lines += [f"First error: `{r.errors[0]}`", ""]
    lines.append(NOTES)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--viewers", type=int, default=1000)
    ap.add_argument("--ramp", type=float, default=10.0, help="seconds over which viewers arrive")
    ap.add_argument("--rate", type=float, default=0.15, help="MB/s per viewer")
    ap.add_argument("--workdir", type=Path, default=bc.ROOT / "var" / "bench" / "stream")
    ap.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    ns = ap.parse_args()
    from service_kit.settings import Settings

    load_start = bs._loadavg()
    data_dir = ns.workdir / "data"
    if not (data_dir / "reels" / f"{bs.SMALL_KEY}.mp4").exists():
        bs.make_fixtures(data_dir)
    env = bc.server_env(data_dir, ns.workdir / "library", [bs.LIBRARY])
    env.update(kv.split("=", 1) for kv in ns.server_env)
    server = bc.start_render(env, ns.workdir / "server-viewers.log")
    try:
        result = run(server.address, server.pid, ns.viewers, ns.ramp, ns.rate * MB)
    finally:
        server.stop()
    print(result)
    cmd = "make bench  # or: .venv/bin/python scripts/bench_viewers.py"
    if ns.server_env:
        cmd += " " + " ".join(f"--server-env {kv}" for kv in ns.server_env)
    md = report(cmd, result, ns.ramp, ns.rate * MB, (load_start, bs._loadavg()), Settings().stream_chunk_kib)
    print(md)
    if not ns.no_write:
        bc.write_section("viewers", md)
        print(f"updated {bc.DOC.relative_to(bc.ROOT)}")
    os._exit(0)


if __name__ == "__main__":
    main()

"""Benchmark GetPrecomputedReel against a no-op RPC on the same server, with 1k and
with 1M ledger rows.

    .venv/bin/python scripts/bench_precomputed.py [--callers 16] [--procs 4] [--phase-s 4]
                                                  [--rounds 2] [--workdir var/bench/precomputed] [--no-write]

In one run it:
 (a) builds two ledgers (cached in the work directory between runs): 1,000 and
     1,000,000 rows of pre-generated reels over 16 libraries x 3 spans x 2 kinds
     (96 scopes, about 10 and about 10,400 rows per scope, one anchor day apart);
     the newest row of each scope is valid and names a 4 KiB file in the reel
     store, older rows have expired. Rows are bulk-inserted (executemany), no
     rendering;
 (b) starts ``python -m render_service`` on each ledger (both at once) and checks
     that every scope answers with its newest reel;
 (c) runs 16 concurrent callers (``--procs`` client processes x threads, one channel
     each, a closed loop) for ``--phase-s`` seconds per phase, alternating the no-op
     (grpc.health.v1.Health/Check) and GetPrecomputedReel over the 96 scopes, on
     both servers, ``--rounds`` times; QPS and latency percentiles per RPC are the
     median over rounds;
 (d) prints a markdown table and writes it to docs/BENCHMARKS.md between
     ``<!-- bench:precomputed -->`` markers.

Nothing is asserted; the targets are reported as met or missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import shutil
import sqlite3
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common as bc  # noqa: E402

import grpc  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

from reels.v1 import common_pb2  # noqa: E402
from reels.v1 import reel_service_pb2 as pb2  # noqa: E402
from reels.v1 import reel_service_pb2_grpc  # noqa: E402

LIBRARIES = [f"bench{i:02d}" for i in range(16)]
SPANS = [("DAY", common_pb2.SPAN_DAY), ("WEEK", common_pb2.SPAN_WEEK), ("MONTH", common_pb2.SPAN_MONTH)]
KINDS = [("ON_THIS_DAY", common_pb2.REEL_KIND_ON_THIS_DAY), ("RECAP", common_pb2.REEL_KIND_RECAP)]
SCOPES = [(lib, s, k) for lib in LIBRARIES for s in SPANS for k in KINDS]
FILE_SIZE = 4096
FIXTURE_VERSION = 2
TARGET_RATIO, TARGET_P99_MS, TARGET_SCALE = 0.7, 10.0, 1.2
COLUMNS = ("key", "library_key", "span", "kind", "anchor_date", "window_start", "window_end", "title", "duration_s",
           "size_bytes", "sha256", "media_fingerprint", "mood", "music_style", "mode_used", "fallback_reason",
           "video_path", "sidecar_path", "poster_path", "status", "created_at", "valid_until")


# --- fixtures --------------------------------------------------------------------

def _sqlite_ts(value: dt.datetime) -> str:
    """How the ledger's UTCDateTime column stores a value in SQLite (naive UTC text,
    SQLAlchemy's format)."""
    return value.astimezone(dt.UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def newest_key(scope_index: int) -> str:
    return f"bench-{scope_index:02d}-{0:06d}"


def make_ledger(data_dir: Path, rows: int) -> float:
    """The ledger with `rows` rows (reused when a previous run built the same);
    returns the seconds spent building it (0 when reused)."""
    marker = data_dir / "bench-fixture.json"
    want = {"version": FIXTURE_VERSION, "rows": rows}
    if marker.exists() and json.loads(marker.read_text()) == want and (data_dir / "ledger.db").exists():
        return 0.0
    started = time.perf_counter()
    shutil.rmtree(data_dir, ignore_errors=True)
    from ledger.db import make_engine, migrate, utcnow

    engine = make_engine(None, data_dir)
    migrate(engine)
    engine.dispose()
    shas = [bc.write_random_file(data_dir / "reels" / f"bench-scope-{i:02d}.mp4", FILE_SIZE, seed=100 + i)
            for i in range(len(SCOPES))]
    now = utcnow()
    today = now.date()
    far = _sqlite_ts(now + dt.timedelta(days=3650))

    def generate():
        # Scope by scope, newest first: keys arrive in index order, which keeps a
        # million-row insert to seconds.
        for scope_index in range(len(SCOPES)):
            for depth in range(rows // len(SCOPES) + (scope_index < rows % len(SCOPES))):
                lib, (span, _), (kind, _) = SCOPES[scope_index]
                anchor = today - dt.timedelta(days=depth)
                midnight = dt.datetime.combine(anchor, dt.time(), dt.UTC)
                created = _sqlite_ts(midnight + dt.timedelta(hours=3))
                valid = far if depth == 0 else _sqlite_ts(midnight + dt.timedelta(hours=26))
                video = f"bench-scope-{scope_index:02d}.mp4"
                yield (f"bench-{scope_index:02d}-{depth:06d}", lib, span, kind, anchor.isoformat(),
                       _sqlite_ts(midnight - dt.timedelta(days=1)), _sqlite_ts(midnight), "Bench reel", 30.0, FILE_SIZE,
                       shas[scope_index], "bench", "calm", "piano", "FAST", "", video, video[:-4] + ".json",
                       video[:-4] + ".jpg", "READY", created, valid)

    conn = sqlite3.connect(data_dir / "ledger.db", isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = OFF")  # a fixture: rebuilt if a crash tears it
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO precomputed_reels ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                         generate())
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    marker.write_text(json.dumps(want))
    return time.perf_counter() - started


def check_answers(address: str) -> None:
    with grpc.insecure_channel(address) as channel:
        stub = reel_service_pb2_grpc.ReelServiceStub(channel)
        for i, (lib, (_, span), (_, kind)) in enumerate(SCOPES):
            reel = stub.GetPrecomputedReel(pb2.GetPrecomputedReelRequest(library=lib, span=span, kind=kind)).reel
            if reel.key != newest_key(i) or reel.size_bytes != FILE_SIZE:
                raise RuntimeError(f"scope {i}: got {reel.key!r} ({reel.size_bytes} bytes), expected {newest_key(i)!r}")


# --- clients ----------------------------------------------------------------------

def _client(worker: int, threads: int, addresses: list[str], commands: mp.Queue, results: mp.Queue) -> None:
    """One client process: `threads` callers per server, each with its own channel;
    runs the phases it is told to and reports every call's latency."""
    channels = {a: [grpc.insecure_channel(a) for _ in range(threads)] for a in addresses}
    for chans in channels.values():
        for ch in chans:
            grpc.channel_ready_future(ch).result(timeout=30)
    results.put(("ready", worker))
    while (cmd := commands.get()) is not None:
        address, rpc, start_at, duration = cmd
        end_at = start_at + duration
        lat: list[list[float]] = [[] for _ in range(threads)]
        errors: list[str] = []

        def call_loop(t: int) -> None:
            ch = channels[address][t]
            health = health_pb2_grpc.HealthStub(ch).Check
            reels = reel_service_pb2_grpc.ReelServiceStub(ch).GetPrecomputedReel
            noop_req = health_pb2.HealthCheckRequest()
            reqs = [pb2.GetPrecomputedReelRequest(library=lib, span=s, kind=k) for lib, (_, s), (_, k) in SCOPES]
            n = (worker * threads + t) * 7
            out = lat[t]
            while time.time() < start_at:
                time.sleep(0.001)
            while time.time() < end_at:
                t0 = time.perf_counter()
                try:
                    if rpc == "noop":
                        health(noop_req, timeout=10)
                    else:
                        reels(reqs[n % len(reqs)], timeout=10)
                except grpc.RpcError as exc:
                    errors.append(f"{exc.code().name}: {exc.details()}"[:200])
                    continue
                out.append(time.perf_counter() - t0)
                n += 1

        pool = [threading.Thread(target=call_loop, args=(t,)) for t in range(threads)]
        for th in pool:
            th.start()
        for th in pool:
            th.join()
        results.put(("done", worker, [x for per in lat for x in per], errors[:5], len(errors)))
    for chans in channels.values():
        for ch in chans:
            ch.close()


@dataclass
class Phase:
    qps: float
    p50_ms: float
    p99_ms: float
    server_cpu: float  # fraction of one core
    errors: int


class Clients:
    def __init__(self, addresses: list[str], callers: int, procs: int) -> None:
        if callers % procs:
            raise SystemExit("--callers must be a multiple of --procs")
        ctx = mp.get_context("spawn")
        self.commands = [ctx.Queue() for _ in range(procs)]
        self.results: mp.Queue = ctx.Queue()
        self.procs = [ctx.Process(target=_client, args=(w, callers // procs, addresses, self.commands[w], self.results))
                      for w in range(procs)]
        for p in self.procs:
            p.start()
        for _ in self.procs:
            self.results.get(timeout=120)

    def phase(self, server: bc.ServerProcess, rpc: str, duration: float) -> Phase:
        start_at = time.time() + 0.3
        for q in self.commands:
            q.put((server.address, rpc, start_at, duration))
        while time.time() < start_at:
            time.sleep(0.01)
        c0 = bc.cpu_seconds(server.pid)
        time.sleep(duration)
        c1 = bc.cpu_seconds(server.pid)
        got = [self.results.get(timeout=duration + 60) for _ in self.procs]
        lat = [x * 1000 for g in got for x in g[2]]
        errors = sum(g[4] for g in got)
        if errors:
            print(f"  {rpc}: {errors} errors, e.g. {[e for g in got for e in g[3]][:2]}")
        if not lat:
            return Phase(0.0, float("nan"), float("nan"), (c1 - c0) / duration, errors)
        return Phase(len(lat) / duration, bc.percentile(lat, 50), bc.percentile(lat, 99), (c1 - c0) / duration, errors)

    def close(self) -> None:
        for q in self.commands:
            q.put(None)
        for p in self.procs:
            p.join(timeout=30)


def median_phase(phases: list[Phase]) -> Phase:
    return Phase(statistics.median(p.qps for p in phases), statistics.median(p.p50_ms for p in phases),
                 statistics.median(p.p99_ms for p in phases), statistics.median(p.server_cpu for p in phases),
                 sum(p.errors for p in phases))


# --- report ------------------------------------------------------------------------

def _ok(good: bool) -> str:
    return "met" if good else "**missed**"


def report(cmd: str, ns: argparse.Namespace, res: dict[str, dict[str, Phase]], built: dict[str, float]) -> str:
    lines = [
        "## GetPrecomputedReel vs a no-op RPC",
        "",
        f"Command: `{cmd}`  ",
        f"Machine: {bc.machine()}.  ",
        f"{ns.callers} concurrent callers ({ns.procs} client processes x {ns.callers // ns.procs} threads, one channel "
        f"each, closed loop), {ns.phase_s:g} s per phase, phases alternated over {ns.rounds} rounds, median reported. "
        "No-op: `grpc.health.v1.Health/Check` on the same server (same interceptor, same log line per call). "
        "Ledger: 96 scopes (16 libraries x 3 spans x 2 kinds), newest row of each valid; calls cycle over the scopes. "
        "Server CPU is the render_service process, in cores (2 = both).",
        "",
        "| ledger rows | RPC | QPS | vs no-op | p50 ms | p99 ms | server CPU | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label in res:
        noop, pre = res[label]["noop"], res[label]["precomputed"]
        lines.append(f"| {label} | Health/Check (no-op) | {noop.qps:.0f} | 1.00x | {noop.p50_ms:.2f} | {noop.p99_ms:.2f} | "
                     f"{noop.server_cpu:.2f} | {noop.errors} |")
        lines.append(f"| {label} | GetPrecomputedReel | {pre.qps:.0f} | {pre.qps / noop.qps:.2f}x | {pre.p50_ms:.2f} | "
                     f"{pre.p99_ms:.2f} | {pre.server_cpu:.2f} | {pre.errors} |")
    lines += ["", "| target | measured | |", "| --- | ---: | --- |"]
    for label in res:
        noop, pre = res[label]["noop"], res[label]["precomputed"]
        ratio = pre.qps / noop.qps
        lines.append(f"| {label}: QPS >= {TARGET_RATIO}x no-op | {ratio:.2f}x | {_ok(ratio >= TARGET_RATIO)} |")
        lines.append(f"| {label}: p99 <= {TARGET_P99_MS:.0f} ms | {pre.p99_ms:.2f} ms | {_ok(pre.p99_ms <= TARGET_P99_MS)} |")
    if len(res) == 2:
        (small, a), (big, b) = res.items()
        qps_scale = a["precomputed"].qps / b["precomputed"].qps
        p99_scale = b["precomputed"].p99_ms / a["precomputed"].p99_ms
        lines.append(f"| {big} within {TARGET_SCALE}x of {small} (QPS {small}/{big}) | {qps_scale:.2f}x | "
                     f"{_ok(qps_scale <= TARGET_SCALE)} |")
        lines.append(f"| {big} within {TARGET_SCALE}x of {small} (p99 {big}/{small}) | {p99_scale:.2f}x | "
                     f"{_ok(p99_scale <= TARGET_SCALE)} |")
    lines.append("")
    if any(built.values()):
        lines.append("Ledger build time (bulk insert, cached afterwards): "
                     + ", ".join(f"{k}: {v:.0f} s" for k, v in built.items() if v) + ".")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--callers", type=int, default=16)
    ap.add_argument("--procs", type=int, default=4, help="client processes the callers are spread over")
    ap.add_argument("--phase-s", type=float, default=4.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--rows", default="1000,1000000", help="ledger sizes")
    ap.add_argument("--workdir", type=Path, default=bc.ROOT / "var" / "bench" / "precomputed")
    ap.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    ns = ap.parse_args()

    sizes = [int(r) for r in ns.rows.split(",")]
    labels = {n: (f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k" if n >= 1000 else str(n)) for n in sizes}
    built: dict[str, float] = {}
    servers: dict[str, bc.ServerProcess] = {}
    clients = None
    try:
        for n in sizes:
            data_dir = ns.workdir / f"data-{labels[n]}"
            built[labels[n]] = make_ledger(data_dir, n)
            print(f"ledger {labels[n]}: {'built in %.1f s' % built[labels[n]] if built[labels[n]] else 'reused'}")
            env = bc.server_env(data_dir, ns.workdir / "library", LIBRARIES)
            servers[labels[n]] = bc.start_render(env, ns.workdir / f"server-{labels[n]}.log")
            check_answers(servers[labels[n]].address)
        clients = Clients([s.address for s in servers.values()], ns.callers, ns.procs)
        for server in servers.values():  # warm-up: connections, caches, code paths
            clients.phase(server, "noop", 0.5)
            clients.phase(server, "precomputed", 0.5)
        runs: dict[str, dict[str, list[Phase]]] = {k: {"noop": [], "precomputed": []} for k in servers}
        for r in range(ns.rounds):
            for label, server in servers.items():
                for rpc in ("noop", "precomputed") if r % 2 == 0 else ("precomputed", "noop"):
                    ph = clients.phase(server, rpc, ns.phase_s)
                    runs[label][rpc].append(ph)
                    print(f"round {r} {label:>3} {rpc:<11} {ph.qps:7.0f} QPS  p50 {ph.p50_ms:6.2f} ms  "
                          f"p99 {ph.p99_ms:6.2f} ms  server CPU {ph.server_cpu:.2f}")
    finally:
        if clients:
            clients.close()
        for s in servers.values():
            s.stop()
    res = {label: {rpc: median_phase(v) for rpc, v in per.items()} for label, per in runs.items()}
    cmd = "make bench  # or: .venv/bin/python scripts/bench_precomputed.py"
    md = report(cmd, ns, res, built)
    print()
    print(md)
    if not ns.no_write:
        bc.write_section("precomputed", md)
        print(f"updated {bc.DOC.relative_to(bc.ROOT)}")


if __name__ == "__main__":
    main()

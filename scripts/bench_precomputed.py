"""Benchmark GetPrecomputedReel against a no-op RPC on the same server, with 1k and
with 1M ledger rows.

    .venv/bin/python scripts/bench_precomputed.py [--callers 16] [--procs 4] [--phase-s 4] [--rounds 2]
                                                  [--paced-fraction 0.25] [--workdir var/bench/precomputed]
                                                  [--no-write]

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
     each) for ``--phase-s`` seconds per phase, alternating the no-op
     (grpc.health.v1.Health/Check) and GetPrecomputedReel over the 96 scopes, on
     both servers, ``--rounds`` times: first in a closed loop (the most each RPC
     gives), then paced at ``--paced-fraction`` of the no-op's closed-loop QPS (the
     latency at a load the server carries); QPS and latency percentiles per RPC are
     the median over rounds;
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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common as bc  # noqa: E402

import grpc  # noqa: E402
import sqlalchemy as sa  # noqa: E402
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


def _pg_ts(value: dt.datetime) -> str:
    """A timestamptz literal for COPY (UTC)."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")


def fixture_rows(rows: int, shas: list[str], now: dt.datetime, ts) -> Iterator[tuple]:
    """The `rows` ledger rows in COLUMNS order, timestamps formatted by `ts`. Scope by
    scope, newest first: keys (and ids) arrive in index order, which keeps a
    million-row load to seconds."""
    today = now.date()
    far = ts(now + dt.timedelta(days=3650))
    for scope_index in range(len(SCOPES)):
        lib, (span, _), (kind, _) = SCOPES[scope_index]
        video = f"bench-scope-{scope_index:02d}.mp4"
        for depth in range(rows // len(SCOPES) + (scope_index < rows % len(SCOPES))):
            anchor = today - dt.timedelta(days=depth)
            midnight = dt.datetime.combine(anchor, dt.time(), dt.UTC)
            created = ts(midnight + dt.timedelta(hours=3))
            valid = far if depth == 0 else ts(midnight + dt.timedelta(hours=26))
            yield (f"bench-{scope_index:02d}-{depth:06d}", lib, span, kind, anchor.isoformat(),
                   ts(midnight - dt.timedelta(days=1)), ts(midnight), "Bench reel", 30.0, FILE_SIZE,
                   shas[scope_index], "bench", "calm", "piano", "FAST", "", video, video[:-4] + ".json",
                   video[:-4] + ".jpg", "READY", created, valid)


def reel_files(data_dir: Path) -> list[str]:
    """The 4 KiB file of each scope's newest row in the reel store; their sha256."""
    return [bc.write_random_file(data_dir / "reels" / f"bench-scope-{i:02d}.mp4", FILE_SIZE, seed=100 + i)
            for i in range(len(SCOPES))]


def make_ledger(data_dir: Path, rows: int) -> tuple[float, bool]:
    """The SQLite ledger with `rows` rows, reused when a previous run built the same;
    returns the seconds its build took (None if unknown) and whether it was reused."""
    marker = data_dir / "bench-fixture.json"
    want = {"version": FIXTURE_VERSION, "rows": rows}
    if marker.exists() and (data_dir / "ledger.db").exists():
        got = json.loads(marker.read_text())
        if {k: got.get(k) for k in want} == want:
            return got.get("built_s"), True
    started = time.perf_counter()
    shutil.rmtree(data_dir, ignore_errors=True)
    from ledger.db import make_engine, migrate, utcnow

    engine = make_engine(None, data_dir)
    migrate(engine)
    engine.dispose()
    shas = reel_files(data_dir)
    conn = sqlite3.connect(data_dir / "ledger.db", isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = OFF")  # a fixture: rebuilt if a crash tears it
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO precomputed_reels ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                         fixture_rows(rows, shas, utcnow(), _sqlite_ts))
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    built = time.perf_counter() - started
    marker.write_text(json.dumps(dict(want, built_s=round(built, 1))))
    return built, False


# --- PostgreSQL ----------------------------------------------------------------------

def pg_url(base_url: str, schema: str) -> str:
    """`base_url` with every table in `schema` (``search_path``, as
    tests/db_fixtures.url_with_search_path) and connections named after it
    (``application_name``, to find the server's back ends in pg_stat_activity)."""
    return sa.make_url(base_url).update_query_dict(
        {"options": f"-csearch_path={schema}", "application_name": schema}
    ).render_as_string(hide_password=False)


def _psycopg_conninfo(url: str) -> str:
    """The libpq form of a ``postgresql+psycopg://`` URL."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def make_pg_ledger(base_url: str, schema: str, data_dir: Path, rows: int) -> tuple[float, bool]:
    """The same ledger in PostgreSQL schema `schema` (migrated with ledger.db.migrate,
    rows loaded with COPY, then VACUUM ANALYZE), reused when the schema's
    ``bench_fixture`` marker says a previous run built the same; returns the seconds
    the build took and whether it was reused. The reel files go to `data_dir`."""
    import psycopg

    shas = reel_files(data_dir)
    url = pg_url(base_url, schema)
    with psycopg.connect(_psycopg_conninfo(base_url), autocommit=True) as conn:
        try:
            got = conn.execute(f'SELECT version, rows, built_s FROM "{schema}".bench_fixture').fetchone()
        except psycopg.errors.UndefinedTable:
            got = None
        if got and got[:2] == (FIXTURE_VERSION, rows):
            return got[2], True
        started = time.perf_counter()
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')
    from ledger.db import make_engine, migrate, utcnow

    engine = make_engine(url, data_dir)
    migrate(engine)
    engine.dispose()
    with psycopg.connect(_psycopg_conninfo(url)) as conn:
        with conn.cursor() as cur:
            cur.execute("SET synchronous_commit = off")  # a fixture: rebuilt if a crash loses it
            with cur.copy(f"COPY precomputed_reels ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                # Text format (no value holds a tab, newline or backslash), in ~1 MiB writes.
                batch: list[str] = []
                for row in fixture_rows(rows, shas, utcnow(), _pg_ts):
                    batch.append("\t".join(map(str, row)))
                    if len(batch) == 4096:
                        copy.write("\n".join(batch) + "\n")
                        batch.clear()
                if batch:
                    copy.write("\n".join(batch) + "\n")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE precomputed_reels")
        built = time.perf_counter() - started
        conn.execute("CREATE TABLE bench_fixture (version integer, rows bigint, built_s double precision)")
        conn.execute("INSERT INTO bench_fixture VALUES (%s, %s, %s)", (FIXTURE_VERSION, rows, round(built, 1)))
    return built, False


class PgBackendCpu:
    """CPU seconds of the PostgreSQL back ends serving one application_name (the
    server's pool), read from /proc: PostgreSQL runs on this machine. Connections
    closed in the middle of a phase take their CPU time with them, so this is a
    lower bound."""

    def __init__(self, base_url: str, application_name: str) -> None:
        self.engine = sa.create_engine(base_url, poolclass=sa.NullPool)
        self.application_name = application_name

    def snapshot(self) -> dict[int, float]:
        with self.engine.connect() as conn:
            pids = conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :a"),
                                {"a": self.application_name}).scalars().all()
        out = {}
        for pid in pids:
            try:
                out[pid] = bc.cpu_seconds(pid)
            except OSError:
                pass
        return out

    @staticmethod
    def delta(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())

    def connections(self) -> int:
        return len(self.snapshot())


def check_answers(address: str) -> None:
    with grpc.insecure_channel(address) as channel:
        stub = reel_service_pb2_grpc.ReelServiceStub(channel)
        for i, (lib, (_, span), (_, kind)) in enumerate(SCOPES):
            reel = stub.GetPrecomputedReel(pb2.GetPrecomputedReelRequest(library=lib, span=span, kind=kind)).reel
            if reel.key != newest_key(i) or reel.size_bytes != FILE_SIZE:
                raise RuntimeError(f"scope {i}: got {reel.key!r} ({reel.size_bytes} bytes), expected {newest_key(i)!r}")


# --- clients ----------------------------------------------------------------------

def _client(worker: int, threads: int, procs: int, addresses: list[str], commands: mp.Queue,
            results: mp.Queue) -> None:
    """One client process: `threads` callers per server, each with its own channel;
    runs the phases it is told to and reports every call's latency."""
    channels = {a: [grpc.insecure_channel(a) for _ in range(threads)] for a in addresses}
    for chans in channels.values():
        for ch in chans:
            grpc.channel_ready_future(ch).result(timeout=30)
    results.put(("ready", worker))
    while (cmd := commands.get()) is not None:
        address, rpc, start_at, duration, rate = cmd  # rate: calls/s per caller, None = closed loop
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
            interval = 1 / rate if rate else 0.0
            # Callers spread evenly over one interval, so that paced calls do not arrive in bursts.
            next_at = start_at + interval * (worker * threads + t) / (threads * procs) - interval
            while time.time() < start_at:
                time.sleep(0.001)
            while time.time() < end_at:
                if interval:
                    next_at += interval
                    wait = next_at - time.time()
                    if wait > 0:
                        time.sleep(wait)
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
    db_cpu: float | None = None  # PostgreSQL back ends of the server, cores (None: SQLite)


class Clients:
    def __init__(self, addresses: list[str], callers: int, procs: int) -> None:
        if callers % procs:
            raise SystemExit("--callers must be a multiple of --procs")
        ctx = mp.get_context("spawn")
        self.callers = callers
        self.commands = [ctx.Queue() for _ in range(procs)]
        self.results: mp.Queue = ctx.Queue()
        self.procs = [ctx.Process(target=_client, args=(w, callers // procs, procs, addresses, self.commands[w], self.results))
                      for w in range(procs)]
        for p in self.procs:
            p.start()
        for _ in self.procs:
            self.results.get(timeout=120)

    def phase(self, server: bc.ServerProcess, rpc: str, duration: float, total_rate: float | None = None,
              db: PgBackendCpu | None = None) -> Phase:
        """Closed loop (every caller calls again as soon as it has an answer) or, with
        `total_rate`, paced: each caller calls at total_rate / callers per second."""
        start_at = time.time() + 0.3
        per_caller = total_rate / self.callers if total_rate else None
        for q in self.commands:
            q.put((server.address, rpc, start_at, duration, per_caller))
        while time.time() < start_at:
            time.sleep(0.01)
        d0 = db.snapshot() if db else None
        c0 = bc.cpu_seconds(server.pid)
        time.sleep(duration)
        c1 = bc.cpu_seconds(server.pid)
        db_cpu = PgBackendCpu.delta(d0, db.snapshot()) / duration if db else None
        got = [self.results.get(timeout=duration + 60) for _ in self.procs]
        lat = [x * 1000 for g in got for x in g[2]]
        errors = sum(g[4] for g in got)
        if errors:
            print(f"  {rpc}: {errors} errors, e.g. {[e for g in got for e in g[3]][:2]}")
        if not lat:
            return Phase(0.0, float("nan"), float("nan"), (c1 - c0) / duration, errors, db_cpu)
        return Phase(len(lat) / duration, bc.percentile(lat, 50), bc.percentile(lat, 99), (c1 - c0) / duration, errors,
                     db_cpu)

    def close(self) -> None:
        for q in self.commands:
            q.put(None)
        for p in self.procs:
            p.join(timeout=30)


def _loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def median_phase(phases: list[Phase]) -> Phase:
    return Phase(statistics.median(p.qps for p in phases), statistics.median(p.p50_ms for p in phases),
                 statistics.median(p.p99_ms for p in phases), statistics.median(p.server_cpu for p in phases),
                 sum(p.errors for p in phases),
                 statistics.median(p.db_cpu for p in phases) if phases[0].db_cpu is not None else None)


# --- report ------------------------------------------------------------------------

NOTES = """\
### What holds GetPrecomputedReel back, and what was changed

Measured while building this benchmark on the machine above, which other jobs
shared (load average 2-14): p99 latencies move a lot between runs, the no-op's
included.

- **The write lock (changed).** `ledger/db.py` starts every SQLite transaction with
  `BEGIN IMMEDIATE`, so every lookup took the database's single write lock; readers
  queued behind each other and slept in SQLite's busy handler (1, 2, 5, 10 ... ms).
  Before the change, in this benchmark: 468 QPS (0.23x the no-op), p50 13 ms,
  p99 399 ms with 1k rows; 367 QPS (0.21x), p99 498 ms with 1M rows.
- **The new read path.** `render_service/catalog.py` now reads through
  `ledger/readonly.py`: `scan_newest_for_scope` and `reel_by_key` run one SELECT on
  plain `sqlite3` connections opened `PRAGMA query_only`, in autocommit (a WAL
  snapshot, no lock taken or waited for), decode only the rows the validity gate
  looks at (usually the first) and skip the ORM; `read_session` is the same idea for
  the ORM reads that stay (job table, ListReels). PostgreSQL and in-memory SQLite go
  through SQLAlchemy Core on the main engine. One uncontended `precomputed_reel`
  call went from about 600 us to about 40 us; QPS more than doubled and the p99
  fell from about 400 ms to a few tens of ms.
- **What is left (QPS ratio missed).** The server process runs at about one core
  (the GIL; see server CPU) and the clients share the other. Per call the no-op
  already costs about 0.45 ms of server CPU (gRPC Python, the interceptor, one JSON
  log line); GetPrecomputedReel adds about 0.15-0.35 ms: the ledger read and the file
  stat (about 40 us), building the answer in `servicers.summary_to_pb` (17 us for a
  RECAP, about 110 us for an ON_THIS_DAY reel whose window lists 30 yearly ranges,
  rebuilt on every call), a larger response (225-806 bytes against 2), and GIL
  hand-offs (the SQLite read and the stat release the GIL; with 16 busy threads,
  getting it back waits for another thread). Building ON_THIS_DAY windows once per
  (span, kind, anchor) would remove the largest piece; that code is outside this
  benchmark's files.
- **p99 <= 10 ms (missed in a closed loop, met paced).** In a closed loop the mean latency is callers / QPS
  (Little's law), 16 / 1,000 = 16 ms here, so a closed-loop p99 of 10 ms would need
  well over 1,600 QPS. Paced at a load the server carries (the paced table: a
  quarter of the no-op's closed-loop QPS, about half of GetPrecomputedReel's), the
  p99 was 3-10 ms, within a few ms of the no-op's; paced at half the no-op's QPS,
  which GetPrecomputedReel cannot carry, it was 30-110 ms.
- **1M vs 1k rows.** The scope query is an index search
  (`ix_precomputed_reels_scope_anchor`; SQLite sorts only the rows that tie on
  `anchor_date` for the `created_at, id` tie-break) and stops at the first valid
  row, so the table size does not show: closed-loop QPS within about 10 %.
"""



def _ok(good: bool) -> str:
    return "met" if good else "**missed**"


def report(cmd: str, ns: argparse.Namespace, res: dict[str, dict[str, Phase]], paced: dict[str, dict[str, Phase]],
           offered: float, built: dict[str, float], load: tuple[str, str]) -> str:
    lines = [
        "## GetPrecomputedReel vs a no-op RPC",
        "",
        f"Command: `{cmd}`  ",
        f"Machine: {bc.machine()}; load average {load[0]} at the start, {load[1]} at the end.  ",
        f"{ns.callers} concurrent callers ({ns.procs} client processes x {ns.callers // ns.procs} threads, one channel "
        f"each), {ns.phase_s:g} s per phase, phases alternated over {ns.rounds} rounds, median reported. "
        "No-op: `grpc.health.v1.Health/Check` on the same server (same interceptor, same log line per call). "
        "Ledger: 96 scopes (16 libraries x 3 spans x 2 kinds), about 10 (1k) or 10,400 (1M) rows per scope, the "
        "newest row of each valid; calls cycle over the scopes (half are ON_THIS_DAY, whose answer lists 30 "
        "yearly date ranges). Server CPU is the render_service process, in cores (2 = both); the clients share "
        "the same 2 cores.",
        "",
        "Closed loop (each caller calls again as soon as it has its answer: the most the server gives):",
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
    lines += [
        "",
        f"Paced (the same {ns.callers} callers offering {offered:.0f} calls/s in all, "
        f"{ns.paced_fraction:.0%} of the no-op's closed-loop QPS, evenly spread; latency at a load the server "
        "can carry):",
        "",
        "| ledger rows | RPC | achieved QPS | p50 ms | p99 ms | server CPU | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label in paced:
        for rpc, name in (("noop", "Health/Check (no-op)"), ("precomputed", "GetPrecomputedReel")):
            ph = paced[label][rpc]
            lines.append(f"| {label} | {name} | {ph.qps:.0f} | {ph.p50_ms:.2f} | {ph.p99_ms:.2f} | "
                         f"{ph.server_cpu:.2f} | {ph.errors} |")
    lines += ["", "| target | measured | |", "| --- | ---: | --- |"]
    for label in res:
        noop, pre = res[label]["noop"], res[label]["precomputed"]
        ratio = pre.qps / noop.qps
        lines.append(f"| {label}: QPS >= {TARGET_RATIO}x no-op (closed loop) | {ratio:.2f}x | {_ok(ratio >= TARGET_RATIO)} |")
        lines.append(f"| {label}: p99 <= {TARGET_P99_MS:.0f} ms (closed loop) | {pre.p99_ms:.2f} ms "
                     f"(no-op {noop.p99_ms:.2f} ms) | {_ok(pre.p99_ms <= TARGET_P99_MS)} |")
        pp, pn = paced[label]["precomputed"], paced[label]["noop"]
        lines.append(f"| {label}: p99 <= {TARGET_P99_MS:.0f} ms (paced, {offered:.0f}/s) | {pp.p99_ms:.2f} ms "
                     f"(no-op {pn.p99_ms:.2f} ms) | {_ok(pp.p99_ms <= TARGET_P99_MS)} |")
    if len(res) == 2:
        (small, a), (big, b) = res.items()
        qps_scale = a["precomputed"].qps / b["precomputed"].qps
        p99_scale = paced[big]["precomputed"].p99_ms / paced[small]["precomputed"].p99_ms
        lines.append(f"| {big} within {TARGET_SCALE}x of {small}: QPS {small}/{big} (closed loop) | {qps_scale:.2f}x | "
                     f"{_ok(qps_scale <= TARGET_SCALE)} |")
        lines.append(f"| {big} within {TARGET_SCALE}x of {small}: p99 {big}/{small} (paced) | {p99_scale:.2f}x | "
                     f"{_ok(p99_scale <= TARGET_SCALE)} |")
    lines.append("")
    if any(built.values()):
        lines.append("Ledger build time (bulk insert, cached afterwards): "
                     + ", ".join(f"{k}: {v:.0f} s" for k, v in built.items() if v) + ".")
        lines.append("")
    lines.append(NOTES)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--callers", type=int, default=16)
    ap.add_argument("--procs", type=int, default=4, help="client processes the callers are spread over")
    ap.add_argument("--phase-s", type=float, default=4.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--paced-fraction", type=float, default=0.25,
                    help="paced phases offer this fraction of the no-op's closed-loop QPS")
    ap.add_argument("--rows", default="1000,1000000", help="ledger sizes")
    ap.add_argument("--workdir", type=Path, default=bc.ROOT / "var" / "bench" / "precomputed")
    ap.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    ns = ap.parse_args()

    load_start = _loadavg()
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
        paced_runs: dict[str, dict[str, list[Phase]]] = {k: {"noop": [], "precomputed": []} for k in servers}
        for r in range(ns.rounds):
            for label, server in servers.items():
                for rpc in ("noop", "precomputed") if r % 2 == 0 else ("precomputed", "noop"):
                    ph = clients.phase(server, rpc, ns.phase_s)
                    runs[label][rpc].append(ph)
                    print(f"round {r} {label:>3} {rpc:<11} {ph.qps:7.0f} QPS  p50 {ph.p50_ms:6.2f} ms  "
                          f"p99 {ph.p99_ms:6.2f} ms  server CPU {ph.server_cpu:.2f}")
        offered = ns.paced_fraction * statistics.median(p.qps for per in runs.values() for p in per["noop"])
        for r in range(ns.rounds):
            for label, server in servers.items():
                for rpc in ("noop", "precomputed") if r % 2 == 0 else ("precomputed", "noop"):
                    ph = clients.phase(server, rpc, ns.phase_s, offered)
                    paced_runs[label][rpc].append(ph)
                    print(f"paced {offered:.0f}/s {label:>3} {rpc:<11} {ph.qps:7.0f} QPS  p50 {ph.p50_ms:6.2f} ms  "
                          f"p99 {ph.p99_ms:6.2f} ms  server CPU {ph.server_cpu:.2f}")
    finally:
        if clients:
            clients.close()
        for s in servers.values():
            s.stop()
    res = {label: {rpc: median_phase(v) for rpc, v in per.items()} for label, per in runs.items()}
    paced = {label: {rpc: median_phase(v) for rpc, v in per.items()} for label, per in paced_runs.items()}
    cmd = "make bench  # or: .venv/bin/python scripts/bench_precomputed.py"
    md = report(cmd, ns, res, paced, offered, built, (load_start, _loadavg()))
    print()
    print(md)
    if not ns.no_write:
        bc.write_section("precomputed", md)
        print(f"updated {bc.DOC.relative_to(bc.ROOT)}")


if __name__ == "__main__":
    main()

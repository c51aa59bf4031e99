"""Benchmark StreamReelVideo against nginx serving the same file, and 64 concurrent
streams.

    .venv/bin/python scripts/bench_stream.py [--repeat 5] [--chunks 64,256,512,1024,2048]
                                             [--workdir var/bench/stream] [--no-write]

In one run it:
 (a) writes a 100 MB and a 4 MB file of random bytes into the reel store of a bench
     data directory and records a ledger row for each (no rendering);
 (b) starts its own nginx (Debian package ``nginx``) on a free loopback port with a
     config in a temporary directory (sendfile on, one worker, access log off) and
     downloads the 100 MB file with a Python ``http.client`` reader (``readinto`` a
     1 MiB buffer) and with ``curl -o /dev/null``;
 (c) for each chunk size starts ``python -m render_service`` with
     REEL_STREAM_CHUNK_KIB set, and reads the 100 MB reel with the generated stub
     (iterating the stream, touching every chunk's bytes);
 (d) with the default chunk size, runs 64 concurrent streams of the 4 MB reel (4
     client processes x 16 threads, one channel each, 5 rounds) and reports time to
     first chunk and the server's RSS growth (VmRSS before, sampled peak during);
 (e) prints a markdown table and writes it to docs/BENCHMARKS.md between
     ``<!-- bench:stream -->`` markers.

Throughput is the median of ``--repeat`` downloads; client and server CPU time are
reported per run so that the cost of each client is visible. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common as bc  # noqa: E402

import grpc  # noqa: E402

from reels.v1 import reel_service_pb2 as pb2  # noqa: E402
from reels.v1 import reel_service_pb2_grpc  # noqa: E402

BIG_KEY, BIG_SIZE = "bench-stream-100m", 100 * 1000 * 1000
SMALL_KEY, SMALL_SIZE = "bench-stream-4m", 4 * 1000 * 1000
LIBRARY = "bench"
CONCURRENT, CLIENT_PROCS, ROUNDS = 64, 4, 5
TARGET_RATIO, TARGET_TTFC_MS, TARGET_RSS_MB = 0.8, 50.0, 100.0
MB = 1e6


# --- fixtures --------------------------------------------------------------------

def make_fixtures(data_dir: Path) -> None:
    import datetime as dt

    from ledger.db import make_engine, migrate, session_scope, utcnow
    from ledger.reels import record_reel

    reel_dir = data_dir / "reels"
    engine = make_engine(None, data_dir)
    migrate(engine)
    now = utcnow()
    with session_scope(engine) as session:
        for seed, (key, size) in enumerate([(BIG_KEY, BIG_SIZE), (SMALL_KEY, SMALL_SIZE)], start=1):
            sha = bc.write_random_file(reel_dir / f"{key}.mp4", size, seed)
            record_reel(session, **bc.row_fields(key, LIBRARY, "DAY", "RECAP", now.date(), f"{key}.mp4", size, sha,
                                                 now + dt.timedelta(days=3650), now))
    engine.dispose()


# --- nginx -------------------------------------------------------------------------

@dataclass
class Nginx:
    proc: subprocess.Popen
    port: int
    tmp: Path

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def start_nginx(root: Path) -> Nginx | None:
    exe = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if exe is None:
        print("nginx is not installed: the nginx comparison is skipped.\n"
              "  Install it with: sudo apt-get install -y nginx   (Debian/Ubuntu package `nginx`)")
        return None
    tmp = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    port = bc.free_port()
    temps = "\n".join(f"  {d}_temp_path {tmp}/{d};" for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the bench files
    (tmp / "nginx.conf").write_text(f"""{user}worker_processes 1;
daemon off;
master_process on;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  types {{ video/mp4 mp4; }}
{temps}
  server {{
    listen 127.0.0.1:{port};
    root {root};
  }}
}}
""")
    proc = subprocess.Popen([exe, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", str(tmp / "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            print(f"nginx exited ({proc.returncode}): {(tmp / 'error.log').read_text()[-500:]}")
            return None
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("HEAD", f"/{SMALL_KEY}.mp4")
            if conn.getresponse().status == 200:
                conn.close()
                return Nginx(proc, port, tmp)
        except OSError:
            time.sleep(0.05)
    proc.kill()
    return None


def http_download(port: int, path: str) -> int:
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    resp = conn.getresponse()
    total = 0
    while n := resp.readinto(view):
        total += n
    conn.close()
    return total


def curl_download(port: int, path: str) -> int:
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{size_download}", f"http://127.0.0.1:{port}{path}"],
                         check=True, capture_output=True, text=True)
    return int(float(out.stdout))


# --- gRPC --------------------------------------------------------------------------

CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 8 << 20)]


def grpc_download(stub: reel_service_pb2_grpc.ReelServiceStub, key: str) -> int:
    total = 0
    for msg in stub.StreamReelVideo(pb2.StreamReelVideoRequest(key=key)):
        total += len(msg.data)
    return total


@dataclass
class Run:
    mb_s: float
    client_cpu: float  # CPU seconds per 100 MB
    server_cpu: float


def measure(download, repeat: int, size: int, server_pid: int | None, child_cpu: bool = False) -> Run:
    """Median throughput of `repeat` downloads, and median CPU per download."""
    download()  # warm-up: page cache, connections, code paths
    speeds, ccpu, scpu = [], [], []
    for _ in range(repeat):
        c0 = _children_cpu() if child_cpu else time.process_time()
        s0 = bc.cpu_seconds(server_pid) if server_pid else 0.0
        t0 = time.perf_counter()
        got = download()
        wall = time.perf_counter() - t0
        c1 = _children_cpu() if child_cpu else time.process_time()
        s1 = bc.cpu_seconds(server_pid) if server_pid else 0.0
        if got != size:
            raise RuntimeError(f"downloaded {got} bytes, expected {size}")
        speeds.append(size / wall / MB)
        ccpu.append((c1 - c0) * 1e8 / size)
        scpu.append((s1 - s0) * 1e8 / size)
    return Run(statistics.median(speeds), statistics.median(ccpu), statistics.median(scpu))


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


# --- 64 concurrent streams -----------------------------------------------------------

def _concurrent_worker(address: str, threads: int, rounds: int, start_at: float, out: mp.Queue) -> None:
    channels = [grpc.insecure_channel(address, options=CHANNEL_OPTIONS) for _ in range(threads)]
    for ch in channels:
        grpc.channel_ready_future(ch).result(timeout=10)
    samples: list[tuple[float, float]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def one(channel: grpc.Channel) -> None:
        stub = reel_service_pb2_grpc.ReelServiceStub(channel)
        while time.time() < start_at:
            time.sleep(min(0.005, max(0.0, start_at - time.time())))
        for _ in range(rounds):
            try:
                t0 = time.perf_counter()
                it = stub.StreamReelVideo(pb2.StreamReelVideoRequest(key=SMALL_KEY))
                first = next(it)
                ttfc = time.perf_counter() - t0
                total = len(first.data) + sum(len(m.data) for m in it)
                done = time.perf_counter() - t0
                if total != SMALL_SIZE:
                    raise RuntimeError(f"got {total} bytes")
                with lock:
                    samples.append((ttfc, done))
            except Exception as exc:  # reported, not fatal
                with lock:
                    errors.append(repr(exc)[:200])

    pool = [threading.Thread(target=one, args=(ch,)) for ch in channels]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    for ch in channels:
        ch.close()
    out.put((samples, errors))


@dataclass
class Concurrency:
    streams: int
    ttfc_p50_ms: float
    ttfc_p99_ms: float
    ttfc_max_ms: float
    stream_p50_ms: float
    rss_before_mb: float
    rss_peak_mb: float
    hwm_mb: float
    wall_s: float
    errors: list[str]

    @property
    def growth_mb(self) -> float:
        return self.rss_peak_mb - self.rss_before_mb


def run_concurrent(server: bc.ServerProcess) -> Concurrency:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    per = CONCURRENT // CLIENT_PROCS
    before = bc.status_kib(server.pid, "VmRSS")
    start_at = time.time() + 3.0  # spawned clients import grpc and connect first
    procs = [ctx.Process(target=_concurrent_worker, args=(server.address, per, ROUNDS, start_at, out))
             for _ in range(CLIENT_PROCS)]
    for p in procs:
        p.start()
    peak = before
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, bc.status_kib(server.pid, "VmRSS"))
            stop.wait(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    results = [out.get(timeout=120) for _ in procs]
    wall = time.time() - start_at
    stop.set()
    sampler.join()
    for p in procs:
        p.join()
    samples = [s for r in results for s in r[0]]
    errors = [e for r in results for e in r[1]]
    ttfc = [s[0] * 1000 for s in samples]
    return Concurrency(
        streams=len(samples),
        ttfc_p50_ms=bc.percentile(ttfc, 50), ttfc_p99_ms=bc.percentile(ttfc, 99), ttfc_max_ms=max(ttfc),
        stream_p50_ms=bc.percentile([s[1] * 1000 for s in samples], 50),
        rss_before_mb=before / 1024, rss_peak_mb=peak / 1024, hwm_mb=bc.status_kib(server.pid, "VmHWM") / 1024,
        wall_s=wall, errors=errors,
    )


# --- report ------------------------------------------------------------------------

def _ok(good: bool) -> str:
    return "met" if good else "**missed**"


def report(cmd: str, nginx_py: Run | None, nginx_curl: Run | None, chunk_runs: dict[int, Run], default_kib: int,
           best_kib: int, conc: Concurrency, notes: list[str]) -> str:
    ref = nginx_py.mb_s if nginx_py else None
    lines = [
        "## StreamReelVideo vs nginx (loopback)",
        "",
        f"Command: `{cmd}`  ",
        f"Machine: {bc.machine()}, nginx {nginx_version() or 'not installed'}.  ",
        f"File: {BIG_SIZE / MB:.0f} MB of random bytes; median of the downloads; CPU = seconds per 100 MB "
        "(client: the bench process, or curl; server: render_service or nginx, from /proc).",
        "",
        "| what | chunk | MB/s | vs nginx (Python client) | client CPU s | server CPU s |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    if nginx_py:
        lines.append(f"| nginx, Python http.client readinto 1 MiB | - | {nginx_py.mb_s:.0f} | 1.00x | "
                     f"{nginx_py.client_cpu:.3f} | {nginx_py.server_cpu:.3f} |")
    if nginx_curl:
        lines.append(f"| nginx, curl -o /dev/null | - | {nginx_curl.mb_s:.0f} | {nginx_curl.mb_s / ref:.2f}x | "
                     f"{nginx_curl.client_cpu:.3f} | {nginx_curl.server_cpu:.3f} |")
    for kib, run in chunk_runs.items():
        mark = " (default)" if kib == default_kib else ""
        ratio = f"{run.mb_s / ref:.2f}x" if ref else "n/a"
        lines.append(f"| StreamReelVideo, Python stub{mark} | {kib} KiB | {run.mb_s:.0f} | {ratio} | "
                     f"{run.client_cpu:.3f} | {run.server_cpu:.3f} |")
    lines += ["", f"Fastest chunk size in this run: {best_kib} KiB; default (REEL_STREAM_CHUNK_KIB): {default_kib} KiB.", ""]
    if ref:
        got = chunk_runs[default_kib].mb_s / ref
        lines.append(f"Target >= {TARGET_RATIO}x nginx at the default chunk: {got:.2f}x, {_ok(got >= TARGET_RATIO)}"
                     + ("" if got >= TARGET_RATIO else f" (by {(TARGET_RATIO - got) / TARGET_RATIO:.0%})") + ".")
        lines.append("")
    lines += [
        f"## {CONCURRENT} concurrent streams of a {SMALL_SIZE / MB:.0f} MB reel",
        "",
        f"{CLIENT_PROCS} client processes x {CONCURRENT // CLIENT_PROCS} threads, one connected channel per thread, "
        f"{ROUNDS} streams back to back per thread, all starting together; chunk {default_kib} KiB. "
        "Time to first chunk (TTFC) runs from the call to the first message in the client.",
        "",
        "| measure | value | target | |",
        "| --- | ---: | ---: | --- |",
        f"| streams completed | {conc.streams} (errors: {len(conc.errors)}) | {CONCURRENT * ROUNDS} | |",
        f"| TTFC p50 | {conc.ttfc_p50_ms:.1f} ms | | |",
        f"| TTFC p99 | {conc.ttfc_p99_ms:.1f} ms | <= {TARGET_TTFC_MS:.0f} ms | {_ok(conc.ttfc_p99_ms <= TARGET_TTFC_MS)} |",
        f"| TTFC max | {conc.ttfc_max_ms:.1f} ms | | |",
        f"| whole stream p50 | {conc.stream_p50_ms:.0f} ms | | |",
        f"| aggregate throughput | {conc.streams * SMALL_SIZE / MB / conc.wall_s:.0f} MB/s | | |",
        f"| server VmRSS before -> sampled peak | {conc.rss_before_mb:.0f} -> {conc.rss_peak_mb:.0f} MB | | |",
        f"| server RSS growth | {conc.growth_mb:.0f} MB | < {TARGET_RSS_MB:.0f} MB | {_ok(conc.growth_mb < TARGET_RSS_MB)} |",
        f"| server VmHWM (lifetime peak) | {conc.hwm_mb:.0f} MB | | |",
        "",
    ]
    if conc.errors:
        lines += [f"First error: `{conc.errors[0]}`", ""]
    lines += notes
    return "\n".join(lines)


def nginx_version() -> str:
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    try:
        out = subprocess.run([exe, "-v"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return ""
    return out.stderr.strip().split("/")[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--chunks", default="64,256,512,1024,2048", help="chunk sizes in KiB")
    ap.add_argument("--workdir", type=Path, default=bc.ROOT / "var" / "bench" / "stream")
    ap.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    ns = ap.parse_args()
    from service_kit.settings import Settings

    default_kib = Settings().stream_chunk_kib
    chunks = [int(c) for c in ns.chunks.split(",")]
    if default_kib not in chunks:
        chunks.append(default_kib)
    data_dir = ns.workdir / "data"
    make_fixtures(data_dir)
    env = bc.server_env(data_dir, ns.workdir / "library", [LIBRARY])

    nginx_py = nginx_curl = None
    nginx = start_nginx(data_dir / "reels")
    if nginx:
        try:
            path = f"/{BIG_KEY}.mp4"
            npid = int((nginx.tmp / "nginx.pid").read_text()) if (nginx.tmp / "nginx.pid").exists() else None
            worker = _nginx_worker_pid(nginx.proc.pid)
            nginx_py = measure(lambda: http_download(nginx.port, path), ns.repeat, BIG_SIZE, worker or npid)
            print(f"nginx python : {nginx_py}")
            if shutil.which("curl"):
                nginx_curl = measure(lambda: curl_download(nginx.port, path), ns.repeat, BIG_SIZE, worker or npid,
                                     child_cpu=True)
                print(f"nginx curl   : {nginx_curl}")
        finally:
            nginx.stop()

    chunk_runs: dict[int, Run] = {}
    for kib in sorted(chunks):
        server = bc.start_render(dict(env, REEL_STREAM_CHUNK_KIB=str(kib)), ns.workdir / f"server-{kib}.log")
        try:
            with grpc.insecure_channel(server.address, options=CHANNEL_OPTIONS) as channel:
                stub = reel_service_pb2_grpc.ReelServiceStub(channel)
                chunk_runs[kib] = measure(lambda: grpc_download(stub, BIG_KEY), ns.repeat, BIG_SIZE, server.pid)
        finally:
            server.stop()
        print(f"grpc {kib:5d} KiB: {chunk_runs[kib]}")
    best_kib = max(chunk_runs, key=lambda k: chunk_runs[k].mb_s)

    server = bc.start_render(dict(env, REEL_STREAM_CHUNK_KIB=str(default_kib)), ns.workdir / "server-concurrent.log")
    try:
        conc = run_concurrent(server)
    finally:
        server.stop()
    print(conc)

    cmd = "make bench  # or: .venv/bin/python scripts/bench_stream.py"
    md = report(cmd, nginx_py, nginx_curl, chunk_runs, default_kib, best_kib, conc, [])
    print()
    print(md)
    if not ns.no_write:
        bc.write_section("stream", md)
        print(f"updated {bc.DOC.relative_to(bc.ROOT)}")


def _nginx_worker_pid(master: int) -> int | None:
    """nginx serves from its worker; its CPU is what we want."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


if __name__ == "__main__":
    main()

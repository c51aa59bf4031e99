"""Helpers shared by scripts/bench_stream.py and scripts/bench_precomputed.py.

The render service under test always runs as its own process (``python -m
render_service``) so that the benchmark's clients and the server never share a GIL;
its memory and CPU time are read from /proc.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import platform
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a plain script from anywhere
    sys.path.insert(0, str(ROOT))

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

DOC = ROOT / "docs" / "BENCHMARKS.md"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_model(default: str = platform.machine()) -> str:
    """The CPU's model name from /proc/cpuinfo, or `default`."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return default


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout`."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def machine() -> str:
    cpu = cpu_model()
    return (
        f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, "
        f"Python {platform.python_version()}, grpcio {grpc.__version__}"
    )


# --- /proc ---------------------------------------------------------------------


def status_kib(pid: int, field: str) -> int:
    """A ``VmRSS``/``VmHWM`` line of /proc/<pid>/status, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


# --- fixtures ------------------------------------------------------------------


def write_random_file(path: Path, size: int, seed: int = 1) -> str:
    """Write `size` pseudo-random bytes (incompressible, like video) and return the
    sha256; an existing file of the right size is reused."""
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    if not (path.exists() and path.stat().st_size == size):
        rng = np.random.default_rng(seed)
        tmp = path.with_suffix(path.suffix + ".tmp")
        with open(tmp, "wb") as fh:
            left = size
            while left:
                n = min(left, 8 << 20)
                fh.write(rng.bytes(n))
                left -= n
        os.replace(tmp, path)
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def row_fields(
    key: str,
    library: str,
    span: str,
    kind: str,
    anchor: dt.date,
    video: str,
    size: int,
    sha256: str,
    valid_until: dt.datetime,
    created_at: dt.datetime,
) -> dict:
    """The keyword arguments of ``ledger.reels.record_reel`` for a bench row."""
    start = dt.datetime.combine(anchor - dt.timedelta(days=1), dt.time(), dt.UTC)
    return dict(
        key=key,
        library_key=library,
        span=span,
        kind=kind,
        anchor_date=anchor,
        window_start=start,
        window_end=start + dt.timedelta(days=1),
        valid_until=valid_until,
        video_path=video,
        sidecar_path=video[:-4] + ".json",
        poster_path=video[:-4] + ".jpg",
        title="Bench reel",
        duration_s=30.0,
        size_bytes=size,
        sha256=sha256,
        media_fingerprint="bench",
        mood="calm",
        music_style="piano",
        mode_used="FAST",
        created_at=created_at,
    )


# --- the server under test -------------------------------------------------------


@dataclass
class ServerProcess:
    proc: subprocess.Popen
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_process(self.proc, timeout=15)


def server_env(data_dir: Path, library_dir: Path, libraries: list[str], **extra: str) -> dict[str, str]:
    library_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REEL_")}
    env.update(
        REEL_DATA_DIR=str(data_dir),
        REEL_LIBRARIES=",".join(f"{name}={library_dir}" for name in libraries),
        REEL_SCRIPTER_ADDR=f"127.0.0.1:{free_port()}",  # nothing listens: never dialled here
        REEL_CACHE_SWEEP_ENABLED="0",
        REEL_PREGEN_ENABLED="0",
        REEL_LOG_FORMAT="json",
        REEL_LOG_LEVEL="info",
        REEL_SHUTDOWN_GRACE_S="1",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def start_render(env: dict[str, str], log_path: Path, timeout_s: float = 60) -> ServerProcess:
    """``python -m render_service`` on a free loopback port; returns once its health
    check answers SERVING."""
    port = free_port()
    env = dict(env, REEL_RENDER_ADDR=f"127.0.0.1:{port}")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "render_service"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    server = ServerProcess(proc, port, log_path)
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(server.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"render_service exited ({proc.returncode}); see {log_path}")
            try:
                if (
                    stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                    == health_pb2.HealthCheckResponse.SERVING
                ):
                    return server
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"render_service did not become SERVING in {timeout_s} s; see {log_path}")
            time.sleep(0.05)


# --- docs/BENCHMARKS.md ------------------------------------------------------------


def write_section(name: str, markdown: str, doc: Path = DOC) -> None:
    """Replace (or append) the ``<!-- bench:NAME -->`` section, leaving the others."""
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{begin}\n{markdown.rstrip()}\n{end}\n"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)

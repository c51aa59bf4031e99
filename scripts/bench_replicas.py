"""Render throughput with one render_service replica and with two, side by side in
one run, on one PostgreSQL ledger and one shared reel store.

    python scripts/bench_replicas.py [--jobs 8] [--seconds 10]

Each replica is a real `python -m render_service` process with one render worker;
a scripter process serves both. The same batch of CreateReel jobs (sample library,
DAY RECAP, 720p) is queued once for one replica and once for two; the figure is
reels per hour. Writes the `bench:replicas` section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import grpc
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench_common

from reels.v1 import common_pb2, reel_admin_service_pb2_grpc, reel_service_pb2_grpc
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2

PG_URL = os.environ.get("REEL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def start(module: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", module], cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT
    )


def run_batch(replicas: int, jobs: int, seconds: float, base_env: dict[str, str], work: Path) -> float:
    """Seconds to render `jobs` reels with `replicas` render processes."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL, poolclass=sa.NullPool)
    with admin.begin() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    store = work / f"store-{replicas}"
    procs, channels = [], []
    try:
        env = {**base_env, "REEL_DATABASE_URL": url, "REEL_BLOB_URL": f"file://{store}"}
        ports = [bench_common.free_port() for _ in range(replicas)]
        for i, port in enumerate(ports):
            e = {
                **env,
                "REEL_RENDER_ADDR": f"127.0.0.1:{port}",
                "REEL_REPLICA_ID": f"r{i}",
                "REEL_DATA_DIR": str(work / f"data-{replicas}-{i}"),
            }
            procs.append(start("render_service", e, work / f"render-{replicas}-{i}.log"))
        for port in ports:
            ch = grpc.insecure_channel(f"127.0.0.1:{port}")
            channels.append(ch)
            reel_admin_service_pb2_grpc.ReelAdminServiceStub(ch).RescanLibrary(
                admin_pb2.RescanLibraryRequest(library="sample"), timeout=120, wait_for_ready=True
            )
        stubs = [reel_service_pb2_grpc.ReelServiceStub(ch) for ch in channels]
        t0 = time.perf_counter()
        ids = [
            stubs[i % replicas]
            .CreateReel(
                pb2.CreateReelRequest(
                    library="sample",
                    span=common_pb2.SPAN_WEEK,
                    kind=common_pb2.REEL_KIND_RECAP,
                    options=common_pb2.RenderOptions(target_duration_seconds=seconds),
                    request_id=f"b-{replicas}-{i}",
                )
            )
            .job.job_id
            for i in range(jobs)
        ]
        pending = set(ids)
        deadline = time.monotonic() + 3600
        while pending and time.monotonic() < deadline:
            for job_id in list(pending):
                job = stubs[0].GetReelJob(pb2.GetReelJobRequest(job_id=job_id)).job
                if job.state == pb2.JOB_STATE_SUCCEEDED:
                    pending.discard(job_id)
                elif job.state in (pb2.JOB_STATE_FAILED, pb2.JOB_STATE_CANCELLED):
                    raise SystemExit(f"job failed: {job.reason} {job.message}")
            time.sleep(0.25)
        return time.perf_counter() - t0
    finally:
        for ch in channels:
            ch.close()
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
        with admin.begin() as c:
            c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0, help="reel length")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-replicas-", dir=ROOT / "var" if (ROOT / "var").exists() else None))
    try:
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "make_sample.py"), "--data-dir", str(work)],
            check=True,
            capture_output=True,
        )
        scripter_port = bench_common.free_port()
        base = {k: v for k, v in os.environ.items() if not k.startswith("REEL_")}
        base.update(
            REEL_LIBRARIES=f"sample={work / 'sample-library'}",
            REEL_SCRIPTER_ADDR=f"127.0.0.1:{scripter_port}",
            REEL_CACHE_SWEEP_ENABLED="0",
            REEL_LOG_FORMAT="json",
            REEL_RENDER_WORKERS="1",
        )
        scripter = start("scripter_service", {**base, "REEL_DATA_DIR": str(work / "scripter")}, work / "scripter.log")
        try:
            one = run_batch(1, args.jobs, args.seconds, base, work)
            two = run_batch(2, args.jobs, args.seconds, base, work)
        finally:
            scripter.send_signal(signal.SIGTERM)
            scripter.wait(timeout=60)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cores = os.cpu_count() or 1
    rows = [
        ("1 replica", one, args.jobs / one * 3600),
        ("2 replicas", two, args.jobs / two * 3600),
    ]
    lines = [
        f"Render throughput, {args.jobs} reels of {args.seconds:.0f} s at 1280x720 (sample library, WEEK RECAP), "
        f"PostgreSQL ledger, one worker per replica, {cores} cores.",
        "",
        "Command: `python scripts/bench_replicas.py`" + (f" --jobs {args.jobs}" if args.jobs != 8 else ""),
        "",
        "| setup | wall s | reels/hour | reels/hour/core | speed-up |",
        "|---|---|---|---|---|",
    ]
    for name, wall, rate in rows:
        lines.append(f"| {name} | {wall:.1f} | {rate:.0f} | {rate / cores:.0f} | {one / wall:.2f}x |")
    text = "\n".join(lines)
    print(text)
    bench_common.write_section("replicas", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

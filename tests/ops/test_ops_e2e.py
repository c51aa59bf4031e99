"""Both services as an operator runs them (`python -m ...`, metrics and traces on):
a scrape while a reel renders shows every metric of README's list moving, one
CreateReel's trace reaches an OTLP collector with spans from both processes, and the
Node.js client fetches the day reel byte for byte, resuming a partial file."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from reels.v1 import common_pb2, reel_admin_service_pb2, reel_admin_service_pb2_grpc, reel_service_pb2_grpc
from reels.v1 import reel_service_pb2 as pb2
from tests.conftest import ROOT, free_port, subprocess_env
from tests.ops.helpers import NODE_CLIENT, require_node

pytestmark = pytest.mark.slow

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """A stand-in OTLP/gRPC collector: keeps every span it is sent, with the
    service.name of the process that sent it."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    def Export(self, request, context):  # noqa: N802 (gRPC name)
        with self._lock:
            for resource_spans in request.resource_spans:
                attrs = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    self.spans.extend((attrs.get("service.name", ""), span) for span in scope.spans)
        return trace_service_pb2.ExportTraceServiceResponse()

    def snapshot(self) -> list[tuple[str, Any]]:
        with self._lock:
            return list(self.spans)


@dataclass
class Pair:
    render_port: int
    scripter_port: int
    render_metrics: str
    scripter_metrics: str
    data_dir: Path
    reels: reel_service_pb2_grpc.ReelServiceStub
    admin: reel_admin_service_pb2_grpc.ReelAdminServiceStub
    collector: Collector


def _wait_serving(port: int, timeout: float = 60.0) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=timeout)
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5).status
        assert status == health_pb2.HealthCheckResponse.SERVING


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, sample_library_src: Path) -> Iterator[Pair]:
    tmp = tmp_path_factory.mktemp("ops-pair")
    library, other = tmp / "library", tmp / "other"
    shutil.copytree(sample_library_src, library)
    shutil.copytree(sample_library_src, other)  # for the Node client's on-demand path
    ports = [free_port() for _ in range(4)]
    collector = Collector()
    otlp = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, otlp)
    otlp_port = otlp.add_insecure_port("127.0.0.1:0")
    otlp.start()
    env = subprocess_env(
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{otlp_port}",
        OTEL_EXPORTER_OTLP_INSECURE="true",
        OTEL_BSP_SCHEDULE_DELAY="200",  # export every 0.2 s instead of 5 s
        REEL_DATA_DIR=str(tmp / "data"),
        REEL_LIBRARIES=f"sample={library},other={other}",
        REEL_SCRIPTER_ADDR=f"127.0.0.1:{ports[0]}",
        REEL_RENDER_ADDR=f"127.0.0.1:{ports[1]}",
        REEL_SCRIPTER_METRICS_ADDR=f"127.0.0.1:{ports[2]}",
        REEL_METRICS_ADDR=f"127.0.0.1:{ports[3]}",
        REEL_TARGET_DURATION_S="10",
        REEL_SHUTDOWN_GRACE_S="3",
        REEL_CACHE_SWEEP_ENABLED="0",
    )
    procs = []
    for module in ("scripter_service", "render_service"):
        with open(tmp / f"{module}.log", "w") as log:  # a pipe nobody reads would fill up
            procs.append(subprocess.Popen([sys.executable, "-m", module], cwd=ROOT, env=env, stdout=log, stderr=log))
    channel = grpc.insecure_channel(f"127.0.0.1:{ports[1]}")
    try:
        _wait_serving(ports[0])
        _wait_serving(ports[1])
        admin = reel_admin_service_pb2_grpc.ReelAdminServiceStub(channel)
        deadline = time.monotonic() + 60

        def scanned() -> set[str]:
            return {lib.key for lib in admin.ListLibraries(_LIBS).libraries if lib.HasField("last_scan_time")}

        while scanned() != {"sample", "other"}:
            assert time.monotonic() < deadline, "the libraries were not scanned"
            time.sleep(0.05)
        yield Pair(
            ports[1],
            ports[0],
            f"http://127.0.0.1:{ports[3]}/metrics",
            f"http://127.0.0.1:{ports[2]}/metrics",
            tmp / "data",
            reel_service_pb2_grpc.ReelServiceStub(channel),
            admin,
            collector,
        )
    finally:
        channel.close()
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        otlp.stop(0)  # last: the services export what they still hold as they stop


_LIBS = reel_admin_service_pb2.ListLibrariesRequest()


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=30) as resp:
        text = resp.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample with these labels (0 when absent, as Prometheus reads a missing counter)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


def _wait_job(pair: Pair, job_id: str, during: list[Samples], timeout: float = 180.0) -> pb2.ReelJob:
    """Poll the job to its end, scraping the render service meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = pair.reels.GetReelJob(pb2.GetReelJobRequest(job_id=job_id)).job
        if job.state in (pb2.JOB_STATE_SUCCEEDED, pb2.JOB_STATE_FAILED, pb2.JOB_STATE_CANCELLED):
            return job
        during.append(scrape(pair.render_metrics))
    raise AssertionError(f"job {job_id} did not finish in {timeout}s")


RPC = {"grpc_service": "reels.v1.ReelService", "grpc_type": "unary"}
ADMIN = {"grpc_service": "reels.v1.ReelAdminService", "grpc_type": "unary"}


def test_a_scrape_during_a_render_shows_every_metric_moving(pair: Pair) -> None:
    r0, s0 = scrape(pair.render_metrics), scrape(pair.scripter_metrics)

    with pytest.raises(grpc.RpcError) as missing:  # a NOT_FOUND, counted by its code
        pair.reels.GetPrecomputedReel(
            pb2.GetPrecomputedReelRequest(library="sample", span=common_pb2.SPAN_MONTH, kind=common_pb2.REEL_KIND_RECAP)
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    created = pair.reels.CreateReel(
        pb2.CreateReelRequest(
            library="sample",
            span=common_pb2.SPAN_WEEK,
            kind=common_pb2.REEL_KIND_RECAP,
            mode=common_pb2.SCRIPT_MODE_AGENTIC,  # no LLM configured: the fast script, LLM_NOT_CONFIGURED
            options=common_pb2.RenderOptions(resolution="360p"),
            request_id="metrics-1",
        )
    ).job
    during: list[Samples] = []
    job = _wait_job(pair, created.job_id, during)
    assert job.state == pb2.JOB_STATE_SUCCEEDED, job.reason
    assert during, "no scrape while the job ran"
    assert any(value(s, "reels_jobs", state="RUNNING") + value(s, "reels_job_queue_depth") >= 1 for s in during)

    streamed = b"".join(m.data for m in pair.reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=job.reel_key)))

    # A pre-generation pass (its lock scraped while it runs) and a retention dry run.
    pregen = pair.admin.RunPregenNow.future(
        reel_admin_service_pb2.RunPregenNowRequest(
            libraries=["sample"], spans=[common_pb2.SPAN_DAY], kinds=[common_pb2.REEL_KIND_ON_THIS_DAY]
        )
    )
    locks: list[Samples] = []
    while not pregen.done():
        locks.append(scrape(pair.render_metrics))
    assert [o.outcome for o in pregen.result().outcomes] == ["RENDERED"]
    pair.admin.RunRetentionNow(reel_admin_service_pb2.RunRetentionNowRequest())
    r1, s1 = scrape(pair.render_metrics), scrape(pair.scripter_metrics)

    def moved(name: str, /, **labels: str) -> float:  # on the render service
        return value(r1, name, **labels) - value(r0, name, **labels)

    def moved_scripter(name: str, /, **labels: str) -> float:
        return value(s1, name, **labels) - value(s0, name, **labels)

    # RPCs by method and code
    assert moved("grpc_server_started_total", grpc_method="CreateReel", **RPC) == 1
    assert moved("grpc_server_handled_total", grpc_method="CreateReel", grpc_code="OK", **RPC) == 1
    assert moved("grpc_server_handled_total", grpc_method="GetPrecomputedReel", grpc_code="NotFound", **RPC) == 1
    assert moved("grpc_server_handling_seconds_count", grpc_method="CreateReel", **RPC) == 1
    assert moved("grpc_server_handling_seconds_bucket", grpc_method="CreateReel", le="+Inf", **RPC) == 1
    stream = {"grpc_service": "reels.v1.ReelService", "grpc_type": "server_stream", "grpc_method": "StreamReelVideo"}
    assert moved("grpc_server_handled_total", grpc_code="OK", **stream) == 1
    assert moved("grpc_server_handled_total", grpc_method="RunPregenNow", grpc_code="OK", **ADMIN) == 1
    script = {"grpc_service": "reels.v1.ScripterService", "grpc_type": "unary", "grpc_method": "GenerateScript"}
    assert (
        moved_scripter("grpc_server_handled_total", grpc_code="OK", **script) == 2
    )  # the on-demand and the pregen reel
    # jobs by state, queue depth (seen above while the job ran)
    assert moved("reels_jobs", state="SUCCEEDED") == 1
    assert value(r1, "reels_job_queue_depth") == 0 and value(r1, "reels_jobs", state="RUNNING") == 0
    # render seconds and frames per second
    assert moved("reels_render_seconds_count", resolution="360p") == 2
    assert moved("reels_render_seconds_sum", resolution="360p") > 0
    assert moved("reels_render_fps_count", resolution="360p") == 2
    assert moved("reels_render_fps_sum", resolution="360p") > 0
    # bytes streamed
    assert moved("reels_stream_bytes_total") == len(streamed) > 0
    # maintenance passes by kind and status, with their duration; the pass's lock
    assert moved("reels_maintenance_passes_total", kind="PREGEN", status="OK") == 1
    assert moved("reels_maintenance_passes_total", kind="RETENTION", status="OK") == 1
    assert moved("reels_maintenance_pass_seconds_count", kind="PREGEN", status="OK") == 1
    assert moved("reels_maintenance_pass_seconds_sum", kind="PREGEN", status="OK") > 0
    assert value(r1, "reels_maintenance_last_run_timestamp_seconds", kind="RETENTION", status="OK") > 0
    assert any("reels_maintenance_lock_expiry_timestamp_seconds" in names(s) for s in locks)
    assert "reels_maintenance_lock_expiry_timestamp_seconds" not in names(r1)  # released
    # ledger and disk gauges (GetLedgerStats' data)
    scope = {"library": "sample", "span": "DAY", "kind": "ON_THIS_DAY"}
    assert moved("reels_ledger_reels", **scope) == 1
    assert moved("reels_ledger_reel_bytes", **scope) > 0
    assert moved("reels_ledger_bytes") > 0
    assert moved("reels_cache_bytes") > len(streamed)  # the on-demand reel: video, sidecar, poster
    assert moved("reels_cache_files") == 3
    assert value(r1, "reels_ledger_up") == 1
    assert 0 < value(r1, "reels_disk_free_bytes") <= value(r1, "reels_disk_total_bytes")
    # the scripter's fallbacks by reason, on both sides
    assert moved_scripter("reels_scripter_fallbacks_total", reason="LLM_NOT_CONFIGURED") == 2
    assert moved("reels_script_fallbacks_total", reason="LLM_NOT_CONFIGURED") == 2


def test_readme_lists_every_metric(pair: Pair) -> None:
    readme = (ROOT / "README.md").read_text()
    exported = {
        name.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
        for url in (pair.render_metrics, pair.scripter_metrics)
        for name in names(scrape(url))
        if name.startswith(("grpc_server_", "reels_"))
    }
    assert exported and not [name for name in exported if f"`{name}`" not in readme]


def test_one_create_reel_traces_through_both_processes_to_the_collector(pair: Pair) -> None:
    """The same CreateReel as the metrics test (idempotent on request_id): its trace,
    exported by OTLP, holds the render service's CreateReel, job and stage spans and
    the scripter's GenerateScript span."""
    created = pair.reels.CreateReel(
        pb2.CreateReelRequest(
            library="sample",
            span=common_pb2.SPAN_WEEK,
            kind=common_pb2.REEL_KIND_RECAP,
            mode=common_pb2.SCRIPT_MODE_AGENTIC,
            options=common_pb2.RenderOptions(resolution="360p"),
            request_id="metrics-1",
        )
    ).job
    assert _wait_job(pair, created.job_id, []).state == pb2.JOB_STATE_SUCCEEDED

    def trace_of_job() -> dict[str, set[str]]:
        spans = pair.collector.snapshot()
        job = [
            s
            for _, s in spans
            if s.name == "reel.job"
            and any(a.key == "job_id" and a.value.string_value == created.job_id for a in s.attributes)
        ]
        if not job:
            return {}
        trace_id = job[0].trace_id
        by_service: dict[str, set[str]] = {}
        for service, s in spans:
            if s.trace_id == trace_id:
                by_service.setdefault(service, set()).add(s.name)
        return by_service

    deadline = time.monotonic() + 30
    want_render = {"/reels.v1.ReelService/CreateReel", "reel.job", "reel.select", "reel.script", "reel.render"}
    want_scripter = {"/reels.v1.ScripterService/GenerateScript"}
    while True:
        found = trace_of_job()
        if want_render <= found.get("render_service", set()) and want_scripter <= found.get("scripter_service", set()):
            break
        assert time.monotonic() < deadline, f"the trace did not reach the collector: {found}"
        time.sleep(0.1)


def _node(node: str, pair: Pair, out: Path, *args: str) -> tuple[int, dict[str, object]]:
    proc = subprocess.run(
        [node, str(NODE_CLIENT / "fetch_reel.js"), "--addr", f"127.0.0.1:{pair.render_port}", "--out", str(out), *args],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout.strip() or proc.returncode == 0, proc.stderr
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1])


def test_node_client_fetches_the_day_reel_byte_for_byte_and_resumes(pair: Pair, tmp_path: Path) -> None:
    node = require_node()
    scope = pb2.GetPrecomputedReelRequest(library="sample", span=common_pb2.SPAN_DAY, kind=common_pb2.REEL_KIND_RECAP)
    with pytest.raises(grpc.RpcError):  # none yet: the client makes it
        pair.reels.GetPrecomputedReel(scope)

    out = tmp_path / "day.mp4"
    code, result = _node(node, pair, out)
    assert code == 0 and result["ok"] is True and result["created"] == "pregen"
    assert result["libraries"] == ["other", "sample"]
    reel = pair.reels.GetPrecomputedReel(scope).reel
    assert result["key"] == reel.key
    on_disk = (pair.data_dir / "reels" / f"{reel.key}.mp4").read_bytes()
    assert out.read_bytes() == on_disk and hashlib.sha256(on_disk).hexdigest() == reel.sha256

    # A partial file is resumed from its size, and comes out whole.
    cut = reel.size_bytes // 3
    out.write_bytes(on_disk[:cut])
    code, result = _node(node, pair, out)
    assert code == 0 and result["ok"] is True and result["resumed_from"] == cut and result["created"] == ""
    assert out.read_bytes() == on_disk

    # A partial file that is not this reel's prefix fails the sha256 check.
    out.write_bytes(on_disk[:100] + bytes([on_disk[100] ^ 0xFF]) + on_disk[101:cut])
    code, result = _node(node, pair, out)
    assert code == 3 and result["ok"] is False and result["sha256"] != reel.sha256


def test_node_client_makes_an_on_demand_reel_when_asked(pair: Pair, tmp_path: Path) -> None:
    """--create on-demand: CreateReel, then WatchReelJob streamed from Node to the
    end, then GetReel; the file matches the job's reel."""
    node = require_node()
    out = tmp_path / "other.mp4"
    code, result = _node(node, pair, out, "--library", "other", "--create", "on-demand", "--resolution", "360p")
    assert code == 0 and result["ok"] is True and result["created"] == "on-demand"
    reel = pair.reels.GetReel(pb2.GetReelRequest(key=str(result["key"])))
    assert not reel.reel.precomputed and reel.reel.library == "other"
    assert out.read_bytes() == (pair.data_dir / "reels" / f"{reel.reel.key}.mp4").read_bytes()
    assert reel.stats.height == 360

"""Shared fixtures: real servers on port 0, generated stubs, a sample library."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import grpc
import pytest

from reels.v1 import (
    common_pb2,
    reel_admin_service_pb2_grpc,
    reel_service_pb2_grpc,
    scripter_service_pb2_grpc,
)
from reels_core import clock
from service_kit.settings import Settings, load_settings

if TYPE_CHECKING:
    from render_service.app import App
    from render_service.server import RenderServer
    from service_kit.serving import RunningServer

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CACHE = ROOT / "var" / "test-sample-cache"


def pytest_configure(config: pytest.Config) -> None:
    """REEL_TODAY (empty: the real date) pins the date for the whole run: these
    tests (from collection on, as modules compute their dates at import), the sample
    builder and every service they start, in-process or not.

    The run starts at noon UTC of that day (one shift, ``REEL_CLOCK_SHIFT_S``, computed
    here once and inherited by every process the suite starts), so a run begun just
    before midnight does not change date between building the sample and using it."""
    settings = load_settings()
    if settings.clock_shift_s is None:
        day = settings.today or clock.real_now().date()
        os.environ["REEL_CLOCK_SHIFT_S"] = str(clock.shift_to_noon(day))
    clock.set_shift(int(os.environ["REEL_CLOCK_SHIFT_S"]))


@pytest.fixture(scope="session", autouse=True)
def _json_logs() -> None:
    """In-process servers log JSON lines, as they do when stdout is not a terminal."""
    from service_kit.logs import configure_logging

    configure_logging("json", "info")


_CLOCK_KEYS = ("REEL_TODAY", "REEL_CLOCK_SHIFT_S")


def base_env(data_dir: Path, **extra: str) -> dict[str, str]:
    # The sweeper would run a retention pass at start; tests that want it turn it on.
    env = {
        "REEL_DATA_DIR": str(data_dir),
        "REEL_LOG_FORMAT": "json",
        "REEL_SHUTDOWN_GRACE_S": "2",
        "REEL_CACHE_SWEEP_ENABLED": "0",
        # Index-time analysis costs ~1-2 s of CPU per scan of the sample library; the
        # tests of choosing moments turn it on (tests/pipeline/test_choosing_moments.py).
        "REEL_ANALYSIS_ENABLED": "0",
    }
    for key in _CLOCK_KEYS:  # the suite's one clock seam reaches every stack
        if os.environ.get(key):
            env[key] = os.environ[key]
    env.update(extra)
    return env


def make_settings(data_dir: Path, **extra: str) -> Settings:
    return load_settings(base_env(data_dir, **extra))


@pytest.fixture(scope="session")
def sample_library_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample library, written once per session (relative to today)."""
    out = tmp_path_factory.mktemp("sample")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "make_sample.py"),
            "--data-dir",
            str(out),
            "--today",
            today_utc().isoformat(),
        ],
        check=True,
        capture_output=True,
    )
    return out / "sample-library"


@pytest.fixture
def sample_library(sample_library_src: Path, tmp_path: Path) -> Path:
    """A private copy a test may change."""
    dst = tmp_path / "library"
    shutil.copytree(sample_library_src, dst)
    return dst


class ReelScope(TypedDict):
    """The scope of a CreateReelRequest, fixed once per module and splatted into
    it: ``pb2.CreateReelRequest(**WEEK, request_id=...)``."""

    library: str
    span: common_pb2.Span
    kind: common_pb2.ReelKind


class ReelRequest(ReelScope):
    """A scope and its render options."""

    options: common_pb2.RenderOptions


@dataclass
class Stack:
    """Both servers in this process, on port 0, with stubs dialled to them."""

    settings: Settings
    render_port: int
    scripter_port: int
    channel: grpc.Channel
    reels: reel_service_pb2_grpc.ReelServiceStub
    admin: reel_admin_service_pb2_grpc.ReelAdminServiceStub
    scripter: scripter_service_pb2_grpc.ScripterServiceStub
    render_server: RenderServer
    scripter_server: RunningServer | None

    @property
    def app(self) -> App:  # the render App, for white-box checks of the ledger
        return self.render_server.app


def start_stack(data_dir: Path, libraries: str = "", with_scripter: bool = True, **env: str) -> Stack:
    from render_service.server import create_server as create_render
    from render_service.server import start_server
    from scripter_service.server import create_server as create_scripter

    scripter_running = None
    scripter_port = _free_port()
    if libraries:
        env = {**env, "REEL_LIBRARIES": libraries}  # the scripter reads the context packs
    if with_scripter:
        scripter_running, scripter_port = create_scripter(make_settings(data_dir, **env), "127.0.0.1:0")
        scripter_running.server.start()
    extra = dict(env)
    extra.setdefault("REEL_SCRIPTER_ADDR", f"127.0.0.1:{scripter_port}")
    settings = make_settings(data_dir, **extra)
    render_running, render_port = create_render(settings, "127.0.0.1:0")
    start_server(render_running)
    channel = grpc.insecure_channel(f"127.0.0.1:{render_port}")
    scripter_channel = grpc.insecure_channel(f"127.0.0.1:{scripter_port}")
    return Stack(
        settings=settings,
        render_port=render_port,
        scripter_port=scripter_port,
        channel=channel,
        reels=reel_service_pb2_grpc.ReelServiceStub(channel),
        admin=reel_admin_service_pb2_grpc.ReelAdminServiceStub(channel),
        scripter=scripter_service_pb2_grpc.ScripterServiceStub(scripter_channel),
        render_server=render_running,
        scripter_server=scripter_running,
    )


def stop_stack(stack: Stack) -> None:
    stack.channel.close()
    stack.render_server.stop(1)
    if stack.scripter_server is not None:
        stack.scripter_server.stop(1)


@pytest.fixture
def stack(tmp_path: Path, sample_library: Path) -> Iterator[Stack]:
    s = start_stack(tmp_path / "data", libraries=f"sample={sample_library}")
    wait_scanned(s, "sample")
    yield s
    stop_stack(s)


class LedgerEnv(TypedDict, total=False):
    """The REEL_* variables of a ledger backend: none for SQLite in the data dir."""

    REEL_DATABASE_URL: str


@contextmanager
def ledger_env(backend: str) -> Iterator[LedgerEnv]:
    """Environment for a stack on `backend`: SQLite in the data dir, or a fresh
    PostgreSQL schema (skipped with a reason when PostgreSQL is absent outside CI,
    failed in CI)."""
    if backend == "sqlite":
        yield {}
        return
    from tests.db_fixtures import fresh_pg_schema, require_postgres

    with fresh_pg_schema(require_postgres()) as url:
        yield {"REEL_DATABASE_URL": url}


def wait_scanned(stack: Stack, library: str, timeout: float = 30.0) -> None:
    """Poll (with a deadline) until the start-up scan has indexed the library."""
    from reels.v1 import reel_admin_service_pb2 as admin_pb2

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        libs = stack.admin.ListLibraries(admin_pb2.ListLibrariesRequest()).libraries
        if any(lib.key == library and lib.HasField("last_scan_time") for lib in libs):
            return
        time.sleep(0.05)
    raise AssertionError(f"library {library} was not scanned within {timeout}s")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def error_reason(err: grpc.RpcError) -> str:
    """The ErrorInfo reason of a failed call."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(err)  # type: ignore[arg-type]  # a stub's RpcError is also its grpc.Call
    assert status is not None, f"no rich status on {err.code()}: {err.details()}"
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    raise AssertionError("no ErrorInfo in the status")


def free_port() -> int:
    return _free_port()


def today_utc() -> dt.date:
    """Today (UTC) on the services' clock: the real date, or REEL_TODAY's."""
    return clock.today("UTC")


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REEL_") or k in _CLOCK_KEYS}
    env.update(extra)
    return env

"""Helpers for the maintenance and learning tests: tiny libraries, RunPregenNow
calls, run history and the reel directory."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from google.type import date_pb2

from reels.v1 import common_pb2
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from tests.conftest import Stack, today_utc  # noqa: F401 - re-exported for the loop tests
from tests.media_fixtures import write_photo

T = TypeVar("T")

DAY, WEEK, MONTH = common_pb2.SPAN_DAY, common_pb2.SPAN_WEEK, common_pb2.SPAN_MONTH
RECAP, ON_THIS_DAY = common_pb2.REEL_KIND_RECAP, common_pb2.REEL_KIND_ON_THIS_DAY
PREGEN = admin_pb2.MAINTENANCE_KIND_PREGEN
RETENTION = admin_pb2.MAINTENANCE_KIND_RETENTION
CONSOLIDATION = admin_pb2.MAINTENANCE_KIND_CONSOLIDATION


def pb_date(day: dt.date) -> date_pb2.Date:
    return date_pb2.Date(year=day.year, month=day.month, day=day.day)


def add_photos(library: Path, days: Iterable[dt.date], prefix: str = "p", hour: int = 10) -> list[Path]:
    """One small photo at `hour`:00 (library-local wall time) on each day."""
    out = []
    for i, day in enumerate(days):
        name = f"{prefix}{i}-{day:%Y%m%d}.jpg"
        shade = (37 * (i + len(prefix))) % 200
        out.append(
            write_photo(
                library / name,
                dt.datetime.combine(day, dt.time(hour, 5 * i % 60)),
                size=(320, 240),
                color=(40 + shade, 120, 220 - shade),
            )
        )
    return out


def pregen(
    stack: Stack, anchor: dt.date, span: common_pb2.Span = DAY, kind: common_pb2.ReelKind = RECAP, **fields
) -> admin_pb2.RunPregenNowResponse:
    return stack.admin.RunPregenNow(
        admin_pb2.RunPregenNowRequest(anchor_date=pb_date(anchor), spans=[span], kinds=[kind], **fields)
    )


def runs(
    stack: Stack, kind: admin_pb2.MaintenanceKind = admin_pb2.MAINTENANCE_KIND_UNSPECIFIED
) -> list[admin_pb2.MaintenanceRun]:
    """The whole run history of `kind` (every kind when UNSPECIFIED, 0), newest first."""
    out, token = [], ""
    while True:
        resp = stack.admin.ListMaintenanceRuns(
            admin_pb2.ListMaintenanceRunsRequest(kind=kind, page_size=100, page_token=token)
        )
        out.extend(resp.runs)
        token = resp.next_page_token
        if not token:
            return out


def wait_until(predicate: Callable[[], T], timeout: float = 60.0, what: str = "condition", every: float = 0.05) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def reel_dir_listing(stack: Stack) -> dict[str, int]:
    """name -> size of every file in the reel directory."""
    d = stack.settings.reel_dir
    return {p.name: p.stat().st_size for p in d.iterdir() if p.is_file()} if d.exists() else {}


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def error_metadata(err) -> dict[str, str]:
    """The ErrorInfo metadata of a failed call."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(err)
    assert status is not None
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return dict(info.metadata)
    raise AssertionError("no ErrorInfo in the status")

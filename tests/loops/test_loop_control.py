"""How the background loops pace themselves, driven with a fake stop event that
records every wait (no real waiting): the interval counts from the last recorded
run, a pass that cannot even start backs off instead of spinning, and a pregen
batch stops at a lost lease."""

from __future__ import annotations

import datetime as dt
import threading
from typing import cast

import pytest

from ledger.models import RunKind, RunTrigger
from reels_core.domain import Kind, Span
from reels_core.libraries import LibraryConfig
from render_service.locks import Lease
from render_service.loops import RETRY_S, interval_loop
from render_service.loops.passes import PassResult, PassRunner
from render_service.loops.pregen import run_pregen_batch
from render_service.pipeline import PipelineDeps


class RecordingStop:
    """Stands in for the App's stop event: records each wait and stops after `stop_after`."""

    def __init__(self, stop_after: int) -> None:
        self.waits: list[float] = []
        self.stop_after = stop_after

    def is_set(self) -> bool:
        return len(self.waits) >= self.stop_after

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        return self.is_set()


def test_a_pass_that_cannot_start_backs_off(engine):
    stop = RecordingStop(stop_after=1)
    calls = []

    def broken() -> None:
        calls.append(1)
        if len(calls) > 3:  # without the back-off the loop would spin here
            stop.stop_after = 0
        raise RuntimeError("ledger unreachable")

    interval_loop(engine, stop, "sweeper", RunKind.RETENTION, 24 * 3600, broken, run_at_start=True)
    assert calls == [1]
    assert stop.waits == [RETRY_S]


def test_the_interval_counts_from_the_last_recorded_run(engine):
    stop = RecordingStop(stop_after=1)
    calls = []

    def sweep() -> None:
        calls.append(1)
        PassRunner(engine, "me", 60).run(RunKind.RETENTION, RunTrigger.SCHEDULED, False, lambda lease: PassResult())

    interval_loop(engine, stop, "sweeper", RunKind.RETENTION, 1800, sweep, run_at_start=True)
    assert calls == [1]  # ran at start, then waits for the next interval
    [wait] = stop.waits
    assert 1800 - 5 < wait <= 1800


def test_without_run_at_start_the_first_pass_waits_an_interval(engine):
    stop = RecordingStop(stop_after=1)

    def never() -> None:
        pytest.fail("ran too early")

    interval_loop(engine, stop, "consolidation", RunKind.CONSOLIDATION, 1800, never, run_at_start=False)
    [wait] = stop.waits
    assert 1800 - 5 < wait <= 1800


def test_a_pregen_batch_stops_at_a_lost_lease():
    lost = threading.Event()
    lost.set()
    # No folders and no deps: the batch must stop at the lost lease before using any.
    libs = [LibraryConfig("a", None, "UTC"), LibraryConfig("b", None, "UTC")]  # type: ignore[arg-type]  # no root
    no_deps = cast(PipelineDeps, None)
    result = run_pregen_batch(
        no_deps,
        libs,
        [Span.DAY],
        [Kind.RECAP],
        dt.date(2026, 1, 2),
        dry_run=False,
        min_free_mb=0,
        lease=Lease("pregen", "me", lost),
        rescan_first=True,
    )
    assert result.report["scopes"] == []
    assert result.errors == ["LOCK_LOST: stopped before the remaining scopes"]

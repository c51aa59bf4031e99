"""Background loops of the render service: nightly pre-generation, the cache
sweeper (retention) and consolidation. Each pass runs under a lease lock and writes
a run-history row (see passes.py); start-up never waits for one.

A scheduler library (APScheduler) could fire these. The loops stay hand-written
because each interval counts from the ledger's run history (shared by the replicas,
kept across restarts), which a scheduler's own job store would duplicate."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import structlog
from sqlalchemy.engine import Engine

from ledger.db import utcnow
from ledger.models import RunKind, RunTrigger
from reels_core.errors import Aborted
from render_service.loops.consolidation import ConsolidationPass
from render_service.loops.passes import last_run_start
from render_service.loops.pregen import PregenPass
from render_service.loops.retention import RetentionPass
from render_service.loops.scheduler import missed_night, next_run_at

log = structlog.get_logger("loops")


RETRY_S = 60.0  # after a pass that could not even record a run (e.g. ledger down)

Loop = Callable[[], None]  # a loop's thread target


class StopSignal(Protocol):
    """What a loop needs of its stop event (a `threading.Event`)."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float) -> bool: ...


def _guard(name: str, fn: Callable[[], object]) -> None:
    try:
        fn()
    except Aborted as exc:
        log.info("pass skipped", loop=name, reason=exc.reason)
    except Exception:  # a failed pass is recorded; the loop lives on
        log.exception("pass crashed", loop=name)


def _last_start(engine: Engine, kind: RunKind) -> tuple[bool, dt.datetime | None]:
    """(readable, start of the last real run of `kind`); a loop must survive a
    ledger that is briefly unreachable."""
    try:
        return True, last_run_start(engine, kind)
    except Exception:
        log.exception("cannot read the run history", kind=kind.value)
        return False, None


def interval_loop(
    engine: Engine,
    stop: StopSignal,
    name: str,
    kind: RunKind,
    interval_s: float,
    fn: Callable[[], object],
    run_at_start: bool,
) -> None:
    """Run `fn` every `interval_s`, counted from the last recorded run of `kind`
    (so a restart does not reset the clock), until `stop` is set."""
    retry_s = min(interval_s, RETRY_S)
    first = utcnow() if run_at_start else utcnow() + dt.timedelta(seconds=interval_s)
    while not stop.is_set():
        readable, last = _last_start(engine, kind)
        if not readable:
            if stop.wait(retry_s):
                return
            continue
        due = (last + dt.timedelta(seconds=interval_s)) if last else first
        wait = (due - utcnow()).total_seconds()
        if wait > 0:
            if stop.wait(min(wait, 3600)):
                return
            continue
        _guard(name, fn)
        # No new run row means the pass never started: back off instead of spinning.
        if _last_start(engine, kind) == (True, last) and stop.wait(retry_s):
            return


def nightly_loop(
    engine: Engine,
    stop: StopSignal,
    scanned: threading.Event,
    hour: int,
    tz: str,
    fn: Callable[[], object],
) -> None:
    """Run `fn` at `hour`:00 in `tz` every night, and once at start when the last
    scheduled night was missed (after the start-up scan, `scanned`)."""
    # The catch-up must see the library: wait for the start-up scan (never forever).
    while not scanned.wait(1.0):
        if stop.is_set():
            return
    readable, last = _last_start(engine, RunKind.PREGEN)
    if readable and missed_night(utcnow(), hour, tz, last):
        log.info("catching up a missed night")
        _guard("pregen", fn)
    while not stop.is_set():
        target = next_run_at(utcnow(), hour, tz)
        while (remaining := (target - utcnow()).total_seconds()) > 0:
            if stop.wait(min(remaining, 3600)):
                return
        _guard("pregen", fn)


@dataclass(frozen=True)
class Loops:
    """The loops the settings enable and the passes they run: `pregen` None when
    REEL_PREGEN_ENABLED is off, `retention` None when REEL_CACHE_SWEEP_ENABLED is."""

    engine: Engine
    pregen: PregenPass | None
    pregen_hour: int
    timezone: str
    retention: RetentionPass | None
    sweep_interval_s: float
    consolidation: ConsolidationPass
    consolidate_interval_s: float

    def start(self, stop: threading.Event, scanned: threading.Event) -> list[threading.Thread]:
        """Start the loops as daemon threads (`loop-<name>`); they end once `stop`
        is set."""
        engine, scheduled = self.engine, RunTrigger.SCHEDULED
        loops: dict[str, Loop] = {}  # in start order

        def every(name: str, kind: RunKind, interval_s: float, run: Callable[[], object], at_start: bool) -> None:
            loops[name] = lambda: interval_loop(engine, stop, name, kind, interval_s, run, at_start)

        if self.pregen is not None:
            nightly = partial(self.pregen.run, trigger=scheduled)
            loops["pregen"] = lambda: nightly_loop(engine, stop, scanned, self.pregen_hour, self.timezone, nightly)
        if self.retention is not None:
            sweep = partial(self.retention.run, dry_run=False, trigger=scheduled)
            every("sweeper", RunKind.RETENTION, self.sweep_interval_s, sweep, True)
        consolidate = partial(self.consolidation.run, dry_run=False, trigger=scheduled)
        every("consolidation", RunKind.CONSOLIDATION, self.consolidate_interval_s, consolidate, False)
        threads = []
        for name, target in loops.items():
            t = threading.Thread(target=target, name=f"loop-{name}", daemon=True)
            t.start()
            threads.append(t)
        return threads

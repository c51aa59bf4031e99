"""Background loops of the render service: nightly pre-generation, the cache
sweeper (retention) and consolidation. Each pass runs under a lease lock and writes
a run-history row (see passes.py); start-up never waits for one."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from ledger.db import utcnow
from reels_core.errors import Aborted

if TYPE_CHECKING:
    from render_service.app import App

log = structlog.get_logger("loops")


RETRY_S = 60.0  # after a pass that could not even record a run (e.g. ledger down)


def _guard(name: str, fn: Callable[[], object]) -> None:
    try:
        fn()
    except Aborted as exc:
        log.info("pass skipped", loop=name, reason=exc.reason)
    except Exception:  # a failed pass is recorded; the loop lives on
        log.exception("pass crashed", loop=name)


def _last_start(app: "App", kind: str) -> tuple[bool, dt.datetime | None]:
    """(readable, start of the last real run of `kind`); a loop must survive a
    ledger that is briefly unreachable."""
    from render_service.loops.passes import last_run_start

    try:
        return True, last_run_start(app.engine, kind)
    except Exception:
        log.exception("cannot read the run history", kind=kind)
        return False, None


def _interval_loop(
    app: "App", name: str, kind: str, interval_s: float, fn: Callable[[], object], run_at_start: bool
) -> None:
    """Run `fn` every `interval_s`, counted from the last recorded run of `kind`
    (so a restart does not reset the clock)."""
    stop = app.stopping
    retry_s = min(interval_s, RETRY_S)
    first = utcnow() if run_at_start else utcnow() + dt.timedelta(seconds=interval_s)
    while not stop.is_set():
        readable, last = _last_start(app, kind)
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
        if _last_start(app, kind) == (True, last) and stop.wait(retry_s):
            return


def _pregen_loop(app: "App") -> None:
    from render_service.loops.pregen import run_pregen_pass
    from render_service.loops.scheduler import missed_night, next_run_at

    s = app.settings
    stop = app.stopping
    # The catch-up must see the library: wait for the start-up scan (never forever).
    while not app.scanned.wait(1.0):
        if stop.is_set():
            return
    readable, last = _last_start(app, "PREGEN")
    if readable and missed_night(utcnow(), s.pregen_hour, s.timezone, last):
        log.info("catching up a missed night")
        _guard("pregen", lambda: run_pregen_pass(app, trigger="SCHEDULED"))
    while not stop.is_set():
        target = next_run_at(utcnow(), s.pregen_hour, s.timezone)
        while (remaining := (target - utcnow()).total_seconds()) > 0:
            if stop.wait(min(remaining, 3600)):
                return
        _guard("pregen", lambda: run_pregen_pass(app, trigger="SCHEDULED"))


def start_loops(app: "App") -> list[threading.Thread]:
    """Start the loops the settings enable, as daemon threads."""
    from render_service.loops.consolidation import run_consolidation_pass
    from render_service.loops.retention import run_retention_pass

    s = app.settings
    loops: list[tuple[str, Callable[[], None]]] = []
    if s.pregen_enabled:
        loops.append(("pregen", lambda: _pregen_loop(app)))
    if s.cache_sweep_enabled:
        loops.append(("sweeper", lambda: _interval_loop(
            app, "sweeper", "RETENTION", s.cache_sweep_interval_h * 3600,
            lambda: run_retention_pass(app, dry_run=False, trigger="SCHEDULED"), True)))
    loops.append(("consolidation", lambda: _interval_loop(
        app, "consolidation", "CONSOLIDATION", s.consolidate_interval_h * 3600,
        lambda: run_consolidation_pass(app, dry_run=False, trigger="SCHEDULED"), False)))
    threads = []
    for name, target in loops:
        t = threading.Thread(target=target, name=f"loop-{name}", daemon=True)
        t.start()
        threads.append(t)
    app._threads.extend(threads)  # so that what runs can be inspected (and joined)
    return threads

"""Scheduling hint for the renderer's own Python threads (Linux).

Frame generation and shot preparation run as SCHED_BATCH: the same fair share
of the CPU as before (so no slower when the machine is busy), but a batch
thread that wakes up does not preempt a running thread, so x264's threads in
the ffmpeg child are interrupted less. Measured on the render benchmark: about
4 % less wall time and about 3 % less total CPU. The pipe writer thread keeps the
normal policy so that it feeds ffmpeg as soon as the pipe has room.

Anything an unprivileged thread may do: switching to SCHED_BATCH, and back to
SCHED_OTHER at the same nice value. Elsewhere these are no-ops.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


def set_batch_scheduling() -> bool:
    """Switch the calling thread from SCHED_OTHER to SCHED_BATCH. Returns whether it did."""
    if not hasattr(os, "SCHED_BATCH"):
        return False
    try:
        if os.sched_getscheduler(0) != os.SCHED_OTHER:
            return False  # leave real-time or idle policies alone
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        return True
    except OSError:
        return False


@contextlib.contextmanager
def batch_scheduling() -> Iterator[None]:
    """SCHED_BATCH for the calling thread inside the block, SCHED_OTHER again after."""
    switched = set_batch_scheduling()
    try:
        yield
    finally:
        if switched:
            with contextlib.suppress(OSError):
                os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))

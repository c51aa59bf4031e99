"""Run scripter_service and render_service together (what `make run` calls).

Ctrl-C or SIGTERM stops both gracefully; if either exits, the other is stopped too
and the exit code is the first non-zero one.
"""

from __future__ import annotations

import signal
import subprocess
import sys


def main() -> int:
    procs = [
        subprocess.Popen([sys.executable, "-m", "scripter_service"]),
        subprocess.Popen([sys.executable, "-m", "render_service"]),
    ]
    stopping = False

    def stop(_signum: int = 0, _frame: object = None) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while all(p.poll() is None for p in procs):
        try:
            procs[0].wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
    stop()
    codes = [p.wait(timeout=60) for p in procs]
    # A Ctrl-C reaches the children too (same process group); both exit 0 then.
    return next((c for c in codes if c not in (0, -signal.SIGTERM, -signal.SIGINT)), 0)


if __name__ == "__main__":
    sys.exit(main())

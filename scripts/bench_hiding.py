#!/usr/bin/env python
"""What the hidden-media check costs GetPrecomputedReel's lookup, in process.

    .venv/bin/python scripts/bench_hiding.py [--calls 3000] [--rounds 3] [--exclusions 50]

One SQLite ledger (a temporary directory) with three libraries, each with one scope
of 8 pre-generated reels (20 media rows each, a 4 KiB file in a local store):

- ``none``: the library never had an exclusion (the check is one version read);
- ``miss``: ``--exclusions`` media exclusions, none of them in the scope's reels;
- ``fallback``: one exclusion hides a photo of the newest reel, so the answer is the
  second newest (two reels' media read).

``catalog.precomputed_reel`` is called ``--calls`` times per condition, interleaved,
``--rounds`` times; the median microseconds per call and the ratio to ``none`` are
printed, with the cost of the check alone on ``none`` (``hiding.exclusions_for``: the
version read). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ledger import exclusions as exclusion_dao
from ledger import reels as reel_dao
from ledger.db import make_engine, migrate, session_scope
from ledger.models import ExclusionTarget
from reels_core.domain import Kind, Span
from render_service import catalog, hiding
from render_service.store import LocalStore

VIDEO = b"\0" * 4096


def seed(engine, store: LocalStore, library: str) -> list[str]:
    now = dt.datetime.now(dt.UTC)
    keys = []
    for i in range(8):
        key = f"{library}-month-recap-2026010{i + 1}-{i:08x}"
        staged = store.staging_path(f"{key}.mp4")
        staged.write_bytes(VIDEO)
        store.publish(f"{key}.mp4", staged)
        with session_scope(engine) as session:
            exclusion_dao.record_reel_media(
                session, key, [(f"{library}-m{i}-{j}", f"2026/{i}/{j}.jpg", now) for j in range(20)]
            )
            reel_dao.record_reel(
                session,
                key=key,
                library_key=library,
                span="MONTH",
                kind="RECAP",
                anchor_date=dt.date(2026, 1, 1 + i),
                window_start=now,
                window_end=now,
                valid_until=now + dt.timedelta(days=365),
                video_path=f"{key}.mp4",
                sidecar_path="",
                poster_path="",
                size_bytes=len(VIDEO),
                sha256=hashlib.sha256(VIDEO).hexdigest(),
            )
        keys.append(key)
    return keys


def hide(engine, library: str, media_id: str) -> None:
    with session_scope(engine) as session:
        exclusion_dao.create_exclusion(
            session, library, exclusion_dao.NewExclusion(ExclusionTarget.MEDIA, media_id=media_id, rel_path="x")
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--exclusions", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(None, Path(tmp))
        migrate(engine)
        store = LocalStore(Path(tmp) / "reels")
        keys = {lib: seed(engine, store, lib) for lib in ("none", "miss", "fallback")}
        for n in range(args.exclusions):
            hide(engine, "miss", f"elsewhere-{n}")
        hide(engine, "fallback", "fallback-m7-3")  # a photo of the newest reel
        expected = {"none": keys["none"][-1], "miss": keys["miss"][-1], "fallback": keys["fallback"][-2]}
        timings: dict[str, list[float]] = {lib: [] for lib in expected}
        check: list[float] = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            for _ in range(args.calls):
                hiding.exclusions_for(engine, "none")
            check.append((time.perf_counter() - started) / args.calls * 1e6)
            for lib, key in expected.items():
                assert catalog.precomputed_reel(engine, store, lib, Span.MONTH, Kind.RECAP).key == key
                started = time.perf_counter()
                for _ in range(args.calls):
                    catalog.precomputed_reel(engine, store, lib, Span.MONTH, Kind.RECAP)
                timings[lib].append((time.perf_counter() - started) / args.calls * 1e6)
    base = statistics.median(timings["none"])
    print("| condition | µs per call | vs none |")
    print("|---|---:|---:|")
    for lib, values in timings.items():
        med = statistics.median(values)
        print(f"| {lib} | {med:.0f} | {med / base:.2f} |")
    print(
        f"| the check alone (version read) | {statistics.median(check):.0f} | {statistics.median(check) / base:.2f} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

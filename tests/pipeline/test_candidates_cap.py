"""A window of thousands of media offers the scripter at most MAX_CANDIDATES of
them, evenly spread in time order, the first and the last kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ledger.models import MediaItem
from reels_core.domain import Kind, Preferences, Span
from reels_core.libraries import LibraryConfig
from reels_core.windows import window_for
from render_service.pipeline import MAX_CANDIDATES, ReelSpec, Selection, script_request, spread_candidates

ANCHOR = dt.date(2024, 7, 1)
SPEC = ReelSpec("fam", Span.MONTH, Kind.RECAP, ANCHOR)


def _rows(n: int) -> tuple[MediaItem, ...]:
    start = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    return tuple(
        MediaItem(
            id=f"m{i:05d}",
            library_key="fam",
            rel_path=f"p{i}.jpg",
            kind="PHOTO",
            taken_at_utc=start + dt.timedelta(minutes=8 * i),
        )
        for i in range(n)
    )


def test_a_big_window_offers_at_most_the_cap_spread_over_it(tmp_path: Path):
    rows = _rows(5000)
    selection = Selection(window_for(SPEC.span, SPEC.kind, ANCHOR), rows, rows, "fp")
    req = script_request(
        SPEC, LibraryConfig("fam", tmp_path, "UTC"), selection, Preferences(), target_duration_s=30, max_shots=20
    )
    ids = [c.media_id for c in req.candidates]
    assert len(ids) == MAX_CANDIDATES < len(rows)
    assert ids[0] == "m00000" and ids[-1] == "m04999" and ids == sorted(set(ids))
    gaps = {int(b[1:]) - int(a[1:]) for a, b in zip(ids, ids[1:], strict=False)}
    assert gaps <= {12, 13}  # evenly spaced: 4999 / 399 = 12.5


def test_a_window_under_the_cap_offers_everything():
    rows = _rows(MAX_CANDIDATES)
    assert spread_candidates(rows) == list(rows)
    assert spread_candidates(rows[:1], limit=1) == list(rows[:1])

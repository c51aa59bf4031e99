"""The retention pass's deletion of reel rows by the keys its plan chose."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from ledger.db import session_scope
from ledger.reels import all_reel_keys, record_reel
from ledger.retention import delete_reels

START = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)


def record(session: Session, key: str) -> None:
    record_reel(
        session,
        key=key,
        library_key="fam",
        span="WEEK",
        kind="RECAP",
        anchor_date=START.date(),
        window_start=START - dt.timedelta(days=7),
        window_end=START,
        valid_until=START + dt.timedelta(days=8),
        video_path=f"{key}.mp4",
        sidecar_path=f"{key}.json",
        poster_path=f"{key}.jpg",
    )


def test_delete_reels_deletes_exactly_the_given_keys(engine):
    with session_scope(engine) as session:
        for key in ("k1", "k2", "k3"):
            record(session, key)
    with session_scope(engine) as session:
        assert delete_reels(session, ["k1", "k3", "k1", "gone-already"]) == 2
    with session_scope(engine) as session:
        assert all_reel_keys(session) == {"k2"}
        assert delete_reels(session, []) == 0

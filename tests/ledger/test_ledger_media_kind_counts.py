"""Photo and video counts of a library's media index."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ledger.db import session_scope
from ledger.libraries import date_source_counts, media_kind_counts, replace_media_index, upsert_library

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def media(library: str, n: int, kind: str) -> dict[str, Any]:
    return {"id": f"{library}-{n}", "rel_path": f"2024/{n:04d}", "kind": kind, "taken_at_utc": T0}


def test_media_kind_counts_per_library(engine):
    with session_scope(engine) as session:
        for key in ("fam", "work", "empty"):
            upsert_library(session, key, f"/{key}")
        fam = [media("fam", 1, "PHOTO"), media("fam", 2, "PHOTO"), media("fam", 3, "VIDEO")]
        replace_media_index(session, "fam", fam)
        replace_media_index(session, "work", [media("work", 1, "VIDEO")])
    with session_scope(engine) as session:
        assert media_kind_counts(session, "fam") == (2, 1)
        assert media_kind_counts(session, "work") == (0, 1)
        assert media_kind_counts(session, "empty") == (0, 0)


def test_date_source_counts_and_the_source_is_updated_on_rescan(engine):
    with session_scope(engine) as session:
        upsert_library(session, "fam", "/fam")
        old = [media("fam", 1, "PHOTO"), media("fam", 2, "PHOTO")]  # indexed before sources were recorded
        replace_media_index(session, "fam", old)
    with session_scope(engine) as session:
        assert date_source_counts(session, "fam") == {"": 2}
        rescanned = [{**old[0], "date_source": "EXIF"}, {**old[1], "date_source": "MTIME", "motion_rel_path": "m.mov"}]
        changes = replace_media_index(session, "fam", rescanned)
        assert changes.updated == 2
    with session_scope(engine) as session:
        assert date_source_counts(session, "fam") == {"EXIF": 1, "MTIME": 1}
        assert date_source_counts(session, "nobody") == {}

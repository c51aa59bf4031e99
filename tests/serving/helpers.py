"""A render stack with one reel put straight into the ledger and the store (random
bytes, no render): enough to test streaming, limits and lookups over the wire."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ledger.db import session_scope, utcnow
from ledger.reels import record_reel
from render_service.store import ReelStore

LIBRARY = "sample"


@dataclass(frozen=True)
class PlacedReel:
    key: str
    video_name: str
    poster_name: str
    data: bytes
    sha256: str


def place_reel(
    engine, store: ReelStore, staging: Path, key: str, size: int, anchor: dt.date, span: str = "DAY"
) -> PlacedReel:
    """Publish `size` random bytes as `key`'s video (and a tiny poster) and record
    a READY DAY RECAP row valid for a day from now."""
    data = os.urandom(size)
    video, poster = f"{key}.mp4", f"{key}.jpg"
    for name, body in ((video, data), (poster, b"\xff\xd8poster\xff\xd9")):
        path = store.staging_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        store.publish(name, path)
    sha = hashlib.sha256(data).hexdigest()
    now = utcnow()
    with session_scope(engine) as session:
        record_reel(
            session,
            key=key,
            library_key=LIBRARY,
            span=span,
            kind="RECAP",
            anchor_date=anchor,
            window_start=now - dt.timedelta(days=1),
            window_end=now,
            valid_until=now + dt.timedelta(days=1),
            video_path=video,
            sidecar_path=f"{key}.json",
            poster_path=poster,
            title="placed",
            size_bytes=size,
            sha256=sha,
        )
    return PlacedReel(key, video, poster, data, sha)

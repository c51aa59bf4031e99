""" "Never show me this": which media a library's exclusions hide (pure).

An exclusion hides one media item, a folder, or a range of local dates of a library.
``ExclusionSet`` is the library's active exclusions at one ``version`` (a counter the
ledger bumps on every change), and ``hides(ref)`` answers for one item from what a
reel or the index records of it: id, library-relative path, instant taken.

- A media exclusion matches the id *or* the path recorded when it was made: a
  photo edited in place gets a new id (the id covers size and mtime) and stays
  hidden.
- A folder matches every path under it (``a/b`` hides ``a/b/c.jpg``, not ``a/bc.jpg``).
- A date range was turned into UTC instants from the library's time zone when it
  was made, so the check needs no zone: ``start <= taken_at < end``.

``reel_holds_hidden(media, exclusions)`` is the check GetPrecomputedReel and
StreamReelVideo make (and that a cache of their answers can make again with the
exclusions' version as part of its key).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

MEDIA = "MEDIA"
FOLDER = "FOLDER"
DATES = "DATES"


@dataclass(frozen=True, slots=True)
class MediaRef:
    """What is needed of a media item to know whether it is hidden."""

    media_id: str
    rel_path: str
    taken_at_utc: dt.datetime  # aware


@dataclass(frozen=True)
class ExclusionSet:
    library: str
    version: int = 0
    media_ids: frozenset[str] = frozenset()
    paths: frozenset[str] = frozenset()
    folders: tuple[str, ...] = ()  # each without a trailing "/"
    ranges_utc: tuple[tuple[dt.datetime, dt.datetime], ...] = ()
    _prefixes: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_prefixes", tuple(f"{f}/" for f in self.folders))

    def __bool__(self) -> bool:
        return bool(self.media_ids or self.paths or self.folders or self.ranges_utc)

    def hides(self, ref: MediaRef) -> bool:
        if ref.media_id in self.media_ids or ref.rel_path in self.paths:
            return True
        if self._prefixes and ref.rel_path.startswith(self._prefixes):
            return True
        return any(start <= ref.taken_at_utc < end for start, end in self.ranges_utc)


def reel_holds_hidden(media: Iterable[MediaRef], exclusions: ExclusionSet) -> bool:
    """True when any of a reel's media is hidden by ``exclusions``."""
    return bool(exclusions) and any(exclusions.hides(m) for m in media)


def normalize_folder(raw: str) -> str | None:
    """A library-relative folder in POSIX form without leading/trailing "/" and no
    "." parts; None when it is empty, absolute, or climbs with "..". (An absolute
    path inside the library is made relative by the caller first.)"""
    text = raw.strip().replace("\\", "/")
    if not text or text.startswith("/"):
        return None
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return "/".join(parts)

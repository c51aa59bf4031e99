"""A Live Photo is one moment: the still (HEIC or JPEG) and the short clip the
phone records around it (a MOV with the same name stem, in the same folder). The
still is indexed, with the clip as its ``motion_rel_path``; the clip is not a
separate video of the library.

Pairing is by folder and name stem (case-folded), which is how iOS exports
(``IMG_1234.HEIC`` + ``IMG_1234.MOV``), AirDrop and most backup tools keep them. Only
a clip no longer than ``MAX_MOTION_S`` pairs, so a real video that happens to share a
photo's name stays a video.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol, TypeVar

from reels_core.domain import MediaKind

MAX_MOTION_S = 4.0  # iPhones record about 3 s; a little slack for other phones
MOTION_SUFFIXES = frozenset({".mov", ".mp4"})


class _Media(Protocol):
    @property
    def rel_path(self) -> str: ...
    @property
    def kind(self) -> MediaKind: ...
    @property
    def duration_s(self) -> float: ...


_M = TypeVar("_M", bound=_Media)


def pair_live_photos(items: Sequence[_M]) -> list[_M]:
    """``items`` with each Live Photo's clip folded into its still (the still gets
    ``motion_rel_path``), in the same order otherwise."""
    groups: dict[tuple[str, str], list[_M]] = defaultdict(list)
    for item in items:
        stem, _ = posixpath.splitext(item.rel_path)
        groups[(posixpath.dirname(stem), posixpath.basename(stem).casefold())].append(item)
    motion_of: dict[str, str] = {}
    folded: set[str] = set()
    for group in groups.values():
        photos = [m for m in group if m.kind == MediaKind.PHOTO]
        clips = [
            m
            for m in group
            if m.kind == MediaKind.VIDEO
            and posixpath.splitext(m.rel_path)[1].lower() in MOTION_SUFFIXES
            and 0 < m.duration_s <= MAX_MOTION_S
        ]
        if len(photos) == 1 and len(clips) == 1:
            motion_of[photos[0].rel_path] = clips[0].rel_path
            folded.add(clips[0].rel_path)
    out: list[_M] = []
    for item in items:
        if item.rel_path in folded:
            continue
        motion = motion_of.get(item.rel_path)
        out.append(dataclasses.replace(item, motion_rel_path=motion) if motion else item)  # type: ignore[type-var]  # ScannedMedia is a dataclass
    return out

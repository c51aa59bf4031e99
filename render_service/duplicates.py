"""The same file in two folders (an export copied twice, a phone backup beside a
Takeout) is one item: the copy with the first path (in sort order) is kept, the
others are skipped with ``DUPLICATE``.

Only files of the same kind and byte size can be identical, so only those are
hashed (BLAKE2b over the whole file, streamed): a library with no duplicates costs
one dictionary pass, and each set of same-size files costs one read of each.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

DUPLICATE = "DUPLICATE"  # the same bytes as another item of the library, which is kept


class _Sized(Protocol):
    @property
    def rel_path(self) -> str: ...
    @property
    def size_bytes(self) -> int: ...
    @property
    def kind(self) -> object: ...


def duplicate_paths(root: Path, items: Iterable[_Sized]) -> set[str]:
    """The ``rel_path`` of every item whose content equals an item before it in
    ``rel_path`` order. A file that cannot be read is never called a duplicate."""
    by_size: dict[tuple[object, int], list[str]] = defaultdict(list)
    for item in items:
        by_size[(item.kind, item.size_bytes)].append(item.rel_path)
    duplicates: set[str] = set()
    for paths in by_size.values():
        if len(paths) < 2:
            continue
        seen: set[bytes] = set()
        for rel_path in sorted(paths):
            digest = _digest(root / rel_path)
            if digest is None:
                continue
            if digest in seen:
                duplicates.add(rel_path)
            else:
                seen.add(digest)
    return duplicates


def _digest(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, lambda: hashlib.blake2b(digest_size=20)).digest()
    except OSError:
        return None

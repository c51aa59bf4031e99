"""Library keys, the ``REEL_LIBRARIES`` setting, and where a library keeps what.

A library is a named folder of photos and videos. Its key is what every RPC,
ledger row and reel file name carries, so it is normalised once, here:
surrounding space is stripped, case is folded, and what is left must match
``[a-z0-9_-]{1,64}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SAMPLE_LIBRARY_KEY = "sample"  # served when REEL_LIBRARIES is empty
SAMPLE_LIBRARY_DIR = "sample-library"  # under REEL_DATA_DIR
# A library's context pack (calendar, GPX, messages, notes): hidden, so the media
# scan skips it like every dot-folder.
CONTEXT_DIR = ".reels-context"

_KEY_PATTERN = re.compile(r"[a-z0-9_-]{1,64}")


class InvalidLibraryKey(ValueError):
    """A library key that is not ``[a-z0-9_-]{1,64}`` once normalised."""


def normalize_library_key(raw: str) -> str:
    """Return the canonical key for ``raw``: stripped, case-folded, validated.

    >>> normalize_library_key("  Family ")
    'family'
    """
    if not isinstance(raw, str):
        raise InvalidLibraryKey(f"library key must be a string, got {type(raw).__name__}")
    key = raw.strip().casefold()
    if not _KEY_PATTERN.fullmatch(key):
        shown = raw if len(raw) <= 80 else raw[:77] + "..."
        raise InvalidLibraryKey(
            f"invalid library key {shown!r}: after trimming and case folding it must be "
            "1-64 characters of a-z, 0-9, '_' or '-'"
        )
    return key


def parse_libraries(spec: str) -> dict[str, Path]:
    """Parse ``REEL_LIBRARIES`` (``"name=path,name2=path2"``) into ``{key: path}``.

    Keys are normalised with :func:`normalize_library_key`; paths are taken as
    written (``~`` expanded, not resolved, not required to exist). Blank entries
    (``"a=/x,"``) are ignored. Paths cannot contain a comma.

    Raises ``ValueError`` (``InvalidLibraryKey`` for a bad name) whose message
    names the offending entry.
    """
    libraries: dict[str, Path] = {}
    for position, entry in enumerate((spec or "").split(","), start=1):
        entry = entry.strip()
        if not entry:
            continue
        where = f"REEL_LIBRARIES entry {position} ({entry!r})"
        name, sep, raw_path = entry.partition("=")
        if not sep:
            raise ValueError(f"{where}: expected name=path")
        raw_path = raw_path.strip()
        if not raw_path:
            raise ValueError(f"{where}: the path is empty")
        try:
            key = normalize_library_key(name)
        except InvalidLibraryKey as exc:
            raise InvalidLibraryKey(f"{where}: {exc}") from None
        if key in libraries:
            raise ValueError(f"{where}: library {key!r} is listed twice")
        libraries[key] = Path(raw_path).expanduser()
    return libraries


@dataclass(frozen=True)
class LibraryConfig:
    key: str
    root: Path
    timezone: str

    @property
    def context_dir(self) -> Path:
        return self.root / CONTEXT_DIR


def library_roots(spec: str, data_dir: Path) -> dict[str, Path]:
    """``REEL_LIBRARIES`` as ``{key: root}``; when blank, the sample library under
    ``data_dir``. Raises ``ValueError`` as :func:`parse_libraries` does."""
    if not (spec or "").strip():
        return {SAMPLE_LIBRARY_KEY: data_dir / SAMPLE_LIBRARY_DIR}
    return parse_libraries(spec)


def configured_libraries(spec: str, data_dir: Path, timezone: str) -> dict[str, LibraryConfig]:
    """Every configured library, with absolute roots, in the one ``timezone``."""
    return {
        key: LibraryConfig(key, Path(path).absolute(), timezone) for key, path in library_roots(spec, data_dir).items()
    }

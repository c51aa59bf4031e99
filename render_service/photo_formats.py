"""Which photo formats the service opens, and the one way it opens them.

Pillow opens whatever its plugins recognise (PSD, EPS, TIFF, ...); a library file is
only ever opened here as one of ``FORMATS``, so a ``.jpg`` that is really a PSD or
EPS is refused, never handed to a decoder nobody tested. HEIC/HEIF comes from
pillow-heif's Pillow plugin (libheif in the wheel); AVIF is native in Pillow 13.
libheif applies a HEIF file's own rotation (``irot``/``imir``) when it decodes, and
pillow-heif resets the EXIF orientation to 1 accordingly, so a HEIC is upright as
read, like an EXIF-oriented JPEG after the usual transpose.
"""

from __future__ import annotations

from pathlib import Path

import pillow_heif
from PIL import Image, UnidentifiedImageError

# What each photo suffix may hold (Pillow's opener names). "JPEG" also opens MPO,
# a JPEG with more pictures after the first (phones write it for portrait shots):
# Pillow's JPEG opener returns an MpoImageFile for those.
FORMATS_BY_SUFFIX: dict[str, frozenset[str]] = {
    ".jpg": frozenset({"JPEG"}),
    ".jpeg": frozenset({"JPEG"}),
    ".png": frozenset({"PNG"}),
    ".webp": frozenset({"WEBP"}),
    ".heic": frozenset({"HEIF"}),
    ".heif": frozenset({"HEIF"}),
    ".avif": frozenset({"AVIF"}),
}
FORMATS: tuple[str, ...] = tuple(sorted(set().union(*FORMATS_BY_SUFFIX.values())))
PHOTO_SUFFIXES = frozenset(FORMATS_BY_SUFFIX)

# Pillow finds HEIF files once pillow-heif's opener is registered (idempotent);
# every open of a library photo goes through this module, so importing it is enough.
pillow_heif.register_heif_opener()


class FormatMismatch(UnidentifiedImageError):
    """The file's content is a picture, but not the format its name says (or one
    this service does not open). An ``UnidentifiedImageError``, so that code which
    only asks "could it be opened" needs no new branch."""

    def __init__(self, found: str) -> None:
        super().__init__(f"content is {found}")
        self.found = found


def open_photo(path: str | Path, suffix: str | None = None) -> Image.Image:
    """``Image.open`` restricted to the formats the file's suffix allows (any of
    ``FORMATS`` when ``suffix`` is None). Lazy, as ``Image.open`` is: the header is
    read, the pixels are not.

    Raises ``FormatMismatch`` when the content is another picture format (a PNG named
    ``.jpg``, a PSD or EPS under a photo suffix), ``UnidentifiedImageError`` when it
    is no picture Pillow knows, and ``OSError`` as ``Image.open`` does."""
    allowed = FORMATS_BY_SUFFIX.get(suffix.lower(), frozenset()) if suffix else frozenset(FORMATS)
    try:
        return Image.open(path, formats=sorted(allowed))
    except UnidentifiedImageError:
        found = _identify(path)
        if found is not None:
            raise FormatMismatch(found) from None
        raise


def _identify(path: str | Path) -> str | None:
    """The format any Pillow plugin finds in the header, or None (no decode)."""
    try:
        with Image.open(path) as probe:
            return probe.format or "unknown"
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    except Exception:  # noqa: BLE001  # a third-party plugin's header parser may raise anything
        return None

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

import mmap
import os
from pathlib import Path

import pillow_heif
from PIL import Image, ImageFile, JpegImagePlugin, UnidentifiedImageError

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


def quick_check(path: str | Path) -> None:
    """Raise (as ``open_photo`` does, or ``OSError``) unless ``path`` opens as its
    suffix's format and its data is all there, without decoding a pixel: the
    renderer then decodes each photo once. Used before a render, for files that may
    have changed since the scan (which decode-checks them, ``media_index``).

    Figures for one camera-like 12 MP photo (the bench_render.py scene), CPU:

    * JPEG/MPO (3.4 MB): an end-of-image marker after the start of the first scan
      (a cut file has none: entropy-coded data never holds 0xFFD9): under 1 ms,
      where a 1/8-scale decode cost 42 ms, about as much as the render's own
      1/2-scale decode (50 ms);
    * PNG: ``verify()`` reads every chunk and checks its CRC (7 ms for 22 MB);
    * WebP: the RIFF size against the file's (0.1 ms);
    * HEIF/AVIF: the header (libheif reads the boxes; 0.5 s to decode a 12 MP HEIC
      would double the render's cost).

    What this cannot see (bad bits inside the data) fails that shot at render time,
    and the pipeline drops it and renders again."""
    with open_photo(path, Path(path).suffix) as img:
        if isinstance(img, JpegImagePlugin.JpegImageFile):
            _check_jpeg_end(path, img)
        elif img.format == "PNG":
            img.verify()
        elif img.format == "WEBP" and isinstance(img, ImageFile.ImageFile):
            check_riff_size(img)


def _check_jpeg_end(path: str | Path, img: ImageFile.ImageFile) -> None:
    scan_start = min((t.offset for t in img.tile), default=0)
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if data.rfind(b"\xff\xd9", scan_start) < 0:
            raise OSError("image file is truncated")


def check_riff_size(img: ImageFile.ImageFile) -> None:
    """Raise OSError unless a WebP's RIFF size fits in its file (the scan's check and
    the pre-render check share it)."""
    fp = img.fp
    if fp is None:
        raise OSError("file is closed")
    fp.seek(0)
    head = fp.read(8)
    end = fp.seek(0, os.SEEK_END)
    if len(head) < 8 or head[:4] != b"RIFF" or 8 + int.from_bytes(head[4:8], "little") > end:
        raise OSError("truncated WebP file")

"""Tiny libraries for tests: photos with chosen EXIF taken-at, offset and GPS."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PIL import ExifTags, Image, ImageDraw


def write_photo(
    path: Path,
    local: dt.datetime,
    *,
    offset: str | None = None,
    size: tuple[int, int] = (640, 480),
    color: tuple[int, int, int] = (90, 140, 200),
    orientation: int = 1,
) -> Path:
    """A JPEG whose EXIF DateTimeOriginal is `local` (wall time), with
    OffsetTimeOriginal when `offset` ("+02:00") is given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(img)
    w, h = size
    draw.ellipse((w // 3, h // 4, w // 3 + h // 3, h // 4 + h // 3), fill=(250, 220, 120))
    draw.rectangle((0, h * 2 // 3, w, h), fill=(color[2] // 2, color[1] // 2, color[0] // 2))
    exif = Image.Exif()
    stamp = local.strftime("%Y:%m:%d %H:%M:%S")
    exif[0x010F] = "Test"
    exif[0x0112] = orientation
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[0x9003] = stamp
    if offset:
        sub[0x9011] = offset
    img.save(path, "JPEG", quality=85, exif=exif)
    return path


def write_heic(
    path: Path,
    img: Image.Image,
    *,
    taken: str | None = None,
    offset: str | None = None,
    orientation: int = 1,
    quality: int = 80,
) -> Path:
    """A HEIC written by pillow-heif (libheif + x265 in its wheel), with EXIF
    DateTimeOriginal ``taken`` ("YYYY:MM:DD HH:MM:SS"), OffsetTimeOriginal and
    orientation. pillow-heif turns an EXIF orientation into the HEIF's own rotation
    (``irot``/``imir``), as iPhones store it."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[0x010F] = "Apple"
    exif[0x0112] = orientation
    if taken:
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        sub[0x9003] = taken
        if offset:
            sub[0x9011] = offset
    img.save(path, format="HEIF", quality=quality, exif=exif.tobytes())
    return path


def quadrants(size: tuple[int, int]) -> Image.Image:
    """Red, green, blue and white quadrants (top-left, top-right, bottom-left,
    bottom-right): which way up an image came out can be read from its corners."""
    w, h = size
    img = Image.new("RGB", size, (255, 255, 255))
    img.paste((220, 20, 20), (0, 0, w // 2, h // 2))
    img.paste((20, 200, 20), (w // 2, 0, w, h // 2))
    img.paste((20, 20, 220), (0, h // 2, w // 2, h))
    return img


def truncate(path: Path, keep: float = 0.5) -> None:
    """Cut a JPEG after its header: it still opens, but does not decode."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def write_clip(path: Path, taken_utc: dt.datetime, seconds: float = 2.0, size: str = "320x240") -> Path:
    """An H.264 mp4 (faststart) made by the shipped ffmpeg, with creation_time."""
    import subprocess

    import imageio_ffmpeg

    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"testsrc=size={size}:rate=30",
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
            "-metadata",
            f"creation_time={taken_utc:%Y-%m-%dT%H:%M:%SZ}",
            str(path),
        ],
        check=True,
    )
    return path


def cut_clip_after_header(path: Path) -> None:
    """Keep an mp4's header (ftyp, moov) and 16 bytes of its media data: it opens
    and reports its duration, but no frame decodes (a copy cut short by a full
    disk or a dropped connection)."""
    import struct

    data = path.read_bytes()
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"mdat":
            path.write_bytes(data[: pos + 16])
            return
        pos += size
    raise ValueError(f"{path.name} has no mdat box")


def write_absurd_duration_clip(path: Path, taken_utc: dt.datetime, size: str = "64x36") -> Path:
    """A one-second H.264 clip whose header claims 2^32-1 seconds, made by the
    shipped ffmpeg. FFmpeg's mp4 demuxer recomputes durations from the sample
    tables (patched ``mvhd``/``mdhd``/``tkhd``/``elst`` durations were all
    ignored), so the clip is Matroska, whose Segment Duration FFmpeg believes; it
    keeps the name it is given (``.mp4``): FFmpeg probes the contents."""
    import struct
    import subprocess

    import imageio_ffmpeg

    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"testsrc=size={size}:rate=30",
            "-t",
            "1",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-metadata",
            f"creation_time={taken_utc:%Y-%m-%dT%H:%M:%SZ}",
            "-f",
            "matroska",
            str(path),
        ],
        check=True,
    )
    data = bytearray(path.read_bytes())
    pos = data.find(b"\x44\x89")  # the Segment Info's Duration element, in milliseconds
    if pos < 0 or data[pos + 2] != 0x88:
        raise AssertionError("no 8-byte Duration element in the Matroska header")
    struct.pack_into(">d", data, pos + 3, float(0xFFFFFFFF) * 1000)
    path.write_bytes(bytes(data))
    return path

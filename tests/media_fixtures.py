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


# --- phone video corpus (issue 12): HDR, speech, motion, variable frame rate -------------

_M709_TO_2020 = ((0.6274, 0.3293, 0.0433), (0.0691, 0.9195, 0.0114), (0.0164, 0.0880, 0.8956))


def sdr_to_hdr_signal(rgb8, transfer: str, white_nits: float = 203.0):
    """BT.709 SDR RGB (0-255) -> BT.2020 PQ or HLG R'G'B' signal (0-1), the BT.2408
    way: SDR white is HDR reference white (203 nits); HLG through the inverse OOTF
    of a 1000-nit display. Written from the standards' formulas (BT.709/BT.1886,
    BT.2087, BT.2100), independently of the renderer's code."""
    import numpy as np

    lin = (np.asarray(rgb8, dtype=np.float64) / 255.0) ** 2.4 @ np.array(_M709_TO_2020).T
    nits = lin * white_nits
    return hdr_signal_from_nits(nits, transfer)


def hdr_signal_from_nits(nits, transfer: str):
    """Display light in nits (..., 3), BT.2020 primaries -> PQ or HLG signal."""
    import numpy as np

    nits = np.asarray(nits, dtype=np.float64)
    if transfer == "pq":
        m1, m2, c1, c2, c3 = 2610 / 16384, 2523 / 4096 * 128, 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
        yp = np.clip(nits / 10000, 0, 1) ** m1
        return ((c1 + c2 * yp) / (1 + c3 * yp)) ** m2
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    yd = np.maximum(nits @ np.array([0.2627, 0.6780, 0.0593]), 1e-9)
    ys = (yd / 1000.0) ** (1 / 1.2)
    e = np.maximum(nits / 1000.0 * (ys ** (1 - 1.2))[..., None], 0)
    return np.where(e <= 1 / 12, np.sqrt(3 * e), a * np.log(np.maximum(12 * e - b, 1e-12)) + c)


def _yuv420p10(signal):
    """R'G'B' signal (h, w, 3) -> BT.2020 non-constant-luminance limited-range 10-bit planes."""
    import numpy as np

    y = signal @ np.array([0.2627, 0.6780, 0.0593])
    cb = (signal[..., 2] - y) / 1.8814
    cr = (signal[..., 0] - y) / 1.4746
    h, w = y.shape

    def sub(c):
        return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    planes = (64 + 876 * y, 512 + 896 * sub(cb), 512 + 896 * sub(cr))
    return [np.clip(np.rint(p), 0, 1023).astype("<u2") for p in planes]


def write_hdr_clip(path: Path, signal_frames, transfer: str, fps: int = 30, crf: int = 8) -> Path:
    """An HEVC Main 10 clip from R'G'B' signal frames (see ``sdr_to_hdr_signal``),
    encoded by the shipped ffmpeg's libx265 and tagged as phones tag it: BT.2020
    primaries and matrix, HLG (arib-std-b67) or PQ (smpte2084), in a MOV."""
    import subprocess

    import imageio_ffmpeg

    h, w = signal_frames[0].shape[:2]
    trc = "arib-std-b67" if transfer == "hlg" else "smpte2084"
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
         "-f", "rawvideo", "-pix_fmt", "yuv420p10le", "-s", f"{w}x{h}", "-r", str(fps),
         # the raw input is tagged too, or ffmpeg converts it from BT.601 on the way in
         "-color_primaries", "bt2020", "-color_trc", trc, "-colorspace", "bt2020nc", "-color_range", "tv",
         "-i", "pipe:0", "-c:v", "libx265", "-preset", "ultrafast", "-crf", str(crf),
         "-x265-params", f"log-level=error:colorprim=bt2020:transfer={trc}:colormatrix=bt2020nc:range=limited",
         "-pix_fmt", "yuv420p10le", "-color_primaries", "bt2020", "-color_trc", trc, "-colorspace", "bt2020nc",
         "-color_range", "tv", "-tag:v", "hvc1", str(path)],
        stdin=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None
    for signal in signal_frames:
        for plane in _yuv420p10(signal):
            proc.stdin.write(plane.tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg could not write {path.name}")
    return path


SPEECH_EXPR = (
    # formant bursts: three formants (two gliding, by phase modulation) per syllable,
    # ~4 syllables/s, pulsed at a 170 Hz voice pitch, words separated by short pauses;
    # nothing below ~300 Hz
    "(sin(2*PI*650*t+147*sin(2*PI*1.7*t))+0.6*sin(2*PI*1150*t+130*sin(2*PI*2.3*t))"
    "+0.3*sin(2*PI*2500*t))*pow(0.5+0.5*sin(2*PI*4*t),2)*(0.55+0.45*sin(2*PI*170*t))"
    "*gt(sin(2*PI*0.9*t),-0.6)*0.4"
)


def write_timecoded_clip(
    path: Path,
    seconds: float,
    *,
    size: tuple[int, int] = (160, 96),
    fps: int = 30,
    speech: tuple[float, float] | None = None,
    moving: tuple[float, float] | None = None,
    audio: bool = True,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
) -> Path:
    """An mp4 whose grey level says the time (``grey_at(t)``), made by the shipped
    ffmpeg. ``speech``: speech-like formant bursts (lavfi ``aevalsrc``) between those
    seconds, silence elsewhere; ``moving``: a bright square moves across the frame
    between those seconds, the picture is still elsewhere."""
    import subprocess

    import imageio_ffmpeg
    import numpy as np

    w, h = size
    path.parent.mkdir(parents=True, exist_ok=True)
    args = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps), "-i", "pipe:0"]  # fmt: skip
    if audio:
        if speech:
            expr = f"if(between(t,{speech[0]},{speech[1]}),{SPEECH_EXPR},0)"
        else:
            expr = "0"
        args += ["-f", "lavfi", "-i", f"aevalsrc=exprs='{expr}':s=48000:c=stereo:d={seconds}"]
        args += ["-c:a", "aac", "-b:a", "96k"]
    extra = ["-x265-params", "log-level=error", "-tag:v", "hvc1"] if codec == "libx265" else []
    args += ["-c:v", codec, "-preset", "ultrafast", "-pix_fmt", pix_fmt, *extra, "-shortest",
             "-movflags", "+faststart", str(path)]  # fmt: skip
    proc = subprocess.Popen(args, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    texture = np.random.default_rng(7).integers(0, 256, (h, h, 3), dtype=np.uint8)  # a textured thing moving
    for i in range(round(seconds * fps)):
        t = i / fps
        frame = np.full((h, w, 3), grey_at(t), dtype=np.uint8)
        if moving and moving[0] <= t < moving[1]:
            side = h // 2
            x = int((t - moving[0]) / (moving[1] - moving[0]) * (w - side))
            y = int((h - side) / 2 * (1 + np.sin(6 * t)))
            frame[y : y + side, x : x + side] = texture[:side, :side]
        proc.stdin.write(frame.tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg could not write {path.name}")
    return path


def grey_at(t: float) -> int:
    """The grey level of a time-coded clip at ``t`` seconds."""
    return int(min(235, 20 + 22 * t))


def write_vfr_clip(path: Path, times: list[float], size: tuple[int, int] = (128, 96)) -> Path:
    """An H.264 mp4 (PyAV's libx264) whose frames are shown at ``times`` (seconds,
    irregular: a variable frame rate, like a phone in low light), time base 1/600 as
    phones write it; each frame's grey level is ``grey_at`` its time."""
    from fractions import Fraction

    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.time_base = Fraction(1, 600)
        stream.codec_context.time_base = Fraction(1, 600)
        for t in times:
            rgb = np.full((size[1], size[0], 3), grey_at(t), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = round(t * 600)
            frame.time_base = Fraction(1, 600)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


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

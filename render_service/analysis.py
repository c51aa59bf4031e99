"""Per-media analysis at index time: how good a shot is, and where its faces are.

``analyse(path, kind)`` returns a ``reels_core.domain.Quality`` for one photo or
video; ``analyse_library`` runs it on every media item of a library that has no
analysis yet (new files, and files changed in place: their media id changes with
their size and mtime) and stores the results (``ledger/analysis.py``). It never
raises for one file: a file it cannot analyse keeps the neutral scores and its
error is recorded and counted (``ListLibraries``: ``analysis_errors``).

Photos, on a reduced decode (JPEG: libjpeg's 1/2-1/8 DCT scaling, to at least
ANALYSIS_SIDE px on the long side), upright (EXIF orientation applied):

* sharpness: variance of the Laplacian of the grey picture scaled to
  ANALYSIS_SIDE px, so that the figure does not depend on the file's size, mapped
  to 0..1 by ``v / (v + SHARPNESS_HALF)``;
* exposure: share of pixels under DARK_LEVEL and over BRIGHT_LEVEL, mean luma;
* perceptual hash: ``imagehash.phash`` (DCT, 64 bits);
* screenshot/document likelihood: no camera make/model in EXIF, a screen's size,
  few colours, flat regions, a name like "Screenshot_..." (``_screenshot_score``);
* faces: OpenCV's Haar cascade ``haarcascade_frontalface_default.xml``, which ships
  inside the ``opencv-python-headless`` wheel (no download, ever), on the grey
  picture at FACE_SIDE px;
* rating: EXIF ``Rating`` (0x4746), else XMP ``xmp:Rating``.

Videos: the same on FRAME_SAMPLES frames spread over the clip (median sharpness,
mean exposure, the middle frame's hash and faces), plus motion (mean absolute
change between two frames a fifth of a second apart) and loudness (RMS of the
first LOUDNESS_S seconds of sound, dBFS).

Cost (``scripts/bench_analysis.py``, docs/BENCHMARKS.md): 14.3 ms of CPU for the
analysis of a 12 MP JPEG's reduced decode (10.4 ms of it the face cascade), on a
2-core Xeon under load; the reduced decode itself (25 ms there) is the same
1/8-scale decode the scan's pixel check pays.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import imagehash
import numpy as np
import structlog
from PIL import Image
from sqlalchemy.engine import Engine

from ledger import analysis as analysis_dao
from ledger.db import session_scope
from reels_core.domain import FaceBox, MediaKind, Quality
from reels_core.libraries import LibraryConfig
from render_service.photo_formats import open_photo

log = structlog.get_logger("analysis")

ANALYSIS_VERSION = 1  # bump when a score changes meaning: every item is analysed again
ANALYSIS_SIDE = 384  # long side of the picture the scores are computed on
FACE_SIDE = 192  # long side of the picture faces are looked for on (see _faces)
FACE_MIN_PX = 20  # smallest face at FACE_SIDE: about a tenth of the long side
SHARPNESS_HALF = 120.0  # Laplacian variance that scores 0.5
DARK_LEVEL = 24
BRIGHT_LEVEL = 250
FRAME_SAMPLES = 3
MOTION_GAP_S = 0.2
LOUDNESS_S = 20.0
SILENCE_DB = -90.0

# Why an item could not be analysed (stable strings, counted per library).
ERROR_UNREADABLE = "UNREADABLE"
ERROR_FAILED = "ANALYSIS_FAILED"

NEUTRAL = Quality()

# Screen sizes (portrait, px) of common phones, tablets and monitors.
_SCREENS = frozenset(
    {
        (640, 1136), (750, 1334), (828, 1792), (1080, 1920), (1080, 2340), (1080, 2400),
        (1125, 2436), (1170, 2532), (1179, 2556), (1242, 2208), (1242, 2688), (1284, 2778),
        (1290, 2796), (1440, 2560), (1440, 3040), (1440, 3200), (1536, 2048), (1620, 2160),
        (1668, 2388), (2048, 2732), (720, 1280), (768, 1366), (900, 1440), (1080, 1920),
        (1200, 1920), (1440, 2560), (1600, 2560), (2160, 3840), (864, 1536), (1050, 1680),
    }
)  # fmt: skip
_SCREEN_NAME = re.compile(r"screen[ _-]?shot|screenshot|bildschirmfoto|capture d.?[eé]cran|scan|receipt|document", re.I)
_XMP_RATING = re.compile(rb"xmp:Rating(?:>|=[\"'])\s*(-?\d)")
_EXIF_RATING = 0x4746
_EXIF_MAKE, _EXIF_MODEL = 0x010F, 0x0110

_local = threading.local()
# One thread per call: the scan is one thread of a small server, and OpenCV's own
# pool (a C++ thread pool torn down at exit) aborted the process ("terminate called
# without an active exception") when it stopped during an analysis.
cv2.setNumThreads(1)


@dataclass(frozen=True)
class Analysed:
    """The outcome for one item: its quality, and the error when it failed."""

    quality: Quality
    error: str = ""
    seconds: float = 0.0


def _cascade() -> cv2.CascadeClassifier:
    """One classifier per thread (detectMultiScale is not documented thread-safe)."""
    cascade = getattr(_local, "cascade", None)
    if cascade is None:
        cascade = cv2.CascadeClassifier(str(Path(cv2.__file__).parent / "data" / "haarcascade_frontalface_default.xml"))
        if cascade.empty():
            raise RuntimeError("the Haar cascade shipped with opencv-python-headless is missing")
        _local.cascade = cascade
    return cascade


# --------------------------------------------------------------------------- one item


def analyse(path: Path, kind: MediaKind | str) -> Analysed:
    """The quality of one file; neutral scores and an error when it cannot be read."""
    started = time.process_time()
    try:
        quality = analyse_video(path) if MediaKind(kind) == MediaKind.VIDEO else analyse_photo(path)
        return Analysed(quality, "", time.process_time() - started)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, av.FFmpegError) as exc:
        log.debug("analysis failed", error=type(exc).__name__)
        return Analysed(NEUTRAL, ERROR_UNREADABLE, time.process_time() - started)
    except Exception as exc:  # noqa: BLE001  # one file never fails the scan; counted, scores stay neutral
        log.warning("analysis failed", error=type(exc).__name__)
        return Analysed(NEUTRAL, ERROR_FAILED, time.process_time() - started)


@dataclass(frozen=True)
class ReducedPhoto:
    rgb: Image.Image  # upright, about ANALYSIS_SIDE px or more on its long side
    exif: Image.Exif
    xmp: bytes
    format: str
    stored_size: tuple[int, int]  # the file's own pixel size, before orientation


def reduced_photo(path: Path) -> ReducedPhoto:
    """The photo decoded for analysis; a JPEG at reduced scale inside libjpeg."""
    with open_photo(path, path.suffix) as img:
        fmt = img.format or ""
        stored_size = img.size
        exif = img.getexif() if fmt != "PNG" or "exif" in img.info else Image.Exif()
        xmp = img.info.get("xmp", b"")
        if fmt in ("JPEG", "MPO"):
            img.draft("RGB", (ANALYSIS_SIDE, ANALYSIS_SIDE))
        img.load()
        rgb = img.convert("RGB")
        orientation = exif.get(0x0112)
        if orientation in (2, 3, 4, 5, 6, 7, 8):
            rgb = _transpose(rgb, orientation)
    if isinstance(xmp, str):
        xmp = xmp.encode()
    return ReducedPhoto(rgb, exif, bytes(xmp or b""), fmt, stored_size)


_TRANSPOSE = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}


def _transpose(im: Image.Image, orientation: int) -> Image.Image:
    for op in _TRANSPOSE[orientation]:
        im = im.transpose(op)
    return im


def analyse_photo(path: Path) -> Quality:
    photo = reduced_photo(path)
    scores = picture_scores(photo.rgb)
    camera = bool(photo.exif.get(_EXIF_MAKE) or photo.exif.get(_EXIF_MODEL))
    return Quality(
        analysed=True,
        sharpness=scores.sharpness,
        dark_share=scores.dark_share,
        bright_share=scores.bright_share,
        mean_luma=scores.mean_luma,
        phash=scores.phash,
        screenshot=_screenshot_score(path.name, photo.format, camera, photo.stored_size, scores),
        faces=scores.faces,
        rating=_rating(photo.exif, photo.xmp),
    )


@dataclass(frozen=True)
class PictureScores:
    sharpness: float
    dark_share: float
    bright_share: float
    mean_luma: float
    phash: str
    colours: int  # distinct colours at 5 bits a channel, on the scaled picture
    flat_share: float  # share of pixels with no gradient at all
    faces: tuple[FaceBox, ...]


def picture_scores(rgb: Image.Image) -> PictureScores:
    """The scores of one upright RGB picture (a photo's reduced decode, a frame)."""
    w, h = rgb.size
    scale = ANALYSIS_SIDE / max(w, h)
    arr = np.asarray(rgb.convert("RGB") if rgb.mode != "RGB" else rgb)
    if scale < 1:  # bilinear: 0.2 ms where area averaging cost 3.2 ms (a 500x375 decode to 384 px)
        arr = cv2.resize(arr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_LINEAR)
    grey = cv2.cvtColor(arr, cv2.COLOR_RGB2GRAY)
    lap = cv2.Laplacian(grey, cv2.CV_32F)
    variance = float(lap.var())
    total = grey.size
    hist = np.bincount(grey.ravel(), minlength=256)
    dark = float(hist[:DARK_LEVEL].sum()) / total
    bright = float(hist[BRIGHT_LEVEL:].sum()) / total
    sample = arr[::2, ::2].astype(np.uint32) >> 3  # every 4th pixel, 5 bits a channel
    packed = sample[..., 0] << 10 | sample[..., 1] << 5 | sample[..., 2]
    colours = int(np.count_nonzero(np.bincount(packed.ravel(), minlength=1 << 15)))
    flat = float(np.count_nonzero(lap == 0)) / total
    return PictureScores(
        sharpness=round(variance / (variance + SHARPNESS_HALF), 4),
        dark_share=round(dark, 4),
        bright_share=round(bright, 4),
        mean_luma=round(float(grey.mean()) / 255.0, 4),
        phash=str(imagehash.phash(Image.fromarray(grey))),  # pHash greys the picture first: same hash
        colours=colours,
        flat_share=round(flat, 4),
        faces=_faces(grey),
    )


def _faces(grey: np.ndarray) -> tuple[FaceBox, ...]:
    """Faces of at least about a tenth of the picture's long side (the people a
    memory is about, not a crowd in the distance), largest first.

    Chosen on CPU time per 12 MP photo (bench_analysis.py's scene, one thread, a
    loaded 2-core Xeon) against detection of the test faces (tests/render/
    test_framing.py, tests/library/test_analysis.py): ``default`` at 192 px, scale
    1.15: 10.5 ms, all found; ``alt2`` at 192 px: 14.2 ms; ``alt2`` at 320 px (faces
    down to 6 %): 50 ms, over the whole analysis budget of 15 ms on its own."""
    h, w = grey.shape
    scale = min(1.0, FACE_SIDE / max(w, h))
    small = (
        cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        if scale < 1
        else grey
    )
    small = cv2.equalizeHist(small)
    sh, sw = small.shape
    found = _cascade().detectMultiScale(small, scaleFactor=1.15, minNeighbors=3, minSize=(FACE_MIN_PX, FACE_MIN_PX))
    boxes = [
        FaceBox(round(float(x) / sw, 4), round(float(y) / sh, 4), round(float(bw) / sw, 4), round(float(bh) / sh, 4))
        for x, y, bw, bh in found
    ]
    return tuple(sorted(boxes, key=lambda b: -(b.w * b.h))[:8])


def _screenshot_score(name: str, fmt: str, camera: bool, size: tuple[int, int], s: PictureScores) -> float:
    """0..1: how much this looks like a screenshot or a photographed document rather
    than a photo. Each cue adds its weight; a file name alone is nearly enough."""
    score = 0.0
    if _SCREEN_NAME.search(name):
        score += 0.45
    if not camera:
        score += 0.2
    w, h = size
    if (min(w, h), max(w, h)) in _SCREENS:
        score += 0.15
    if fmt == "PNG":
        score += 0.1
    if s.colours < 400:  # few colours: UI, text on a plain ground
        score += 0.2
    if s.flat_share > 0.4:  # large flat regions: backgrounds, panels
        score += 0.2
    if s.faces:
        score -= 0.3
    return round(max(0.0, min(1.0, score)), 3)


def _rating(exif: Image.Exif, xmp: bytes) -> int:
    value = exif.get(_EXIF_RATING)
    if isinstance(value, int) and -1 <= value <= 5:
        return max(0, value)
    match = _XMP_RATING.search(xmp or b"")
    if match:
        return max(0, min(5, int(match.group(1))))
    return 0


# --------------------------------------------------------------------------- videos


def analyse_video(path: Path) -> Quality:
    with av.open(str(path), metadata_errors="ignore") as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        duration = (container.duration or 0) / av.time_base
        frames: list[Image.Image] = []
        motion: list[float] = []
        for i in range(FRAME_SAMPLES):
            at = duration * (i + 1) / (FRAME_SAMPLES + 1)
            pair = _frames_at(container, stream, at)
            if not pair:
                continue
            frames.append(pair[0])
            if len(pair) == 2:
                a = np.asarray(pair[0].convert("L"), dtype=np.int16)
                b = np.asarray(pair[1].convert("L"), dtype=np.int16)
                motion.append(float(np.abs(a - b).mean()) / 255.0)
        if not frames:
            raise ValueError("no frame decodes")
    scores = [picture_scores(f) for f in frames]
    middle = scores[len(scores) // 2]
    return Quality(
        analysed=True,
        sharpness=round(float(np.median([s.sharpness for s in scores])), 4),
        dark_share=round(float(np.mean([s.dark_share for s in scores])), 4),
        bright_share=round(float(np.mean([s.bright_share for s in scores])), 4),
        mean_luma=round(float(np.mean([s.mean_luma for s in scores])), 4),
        phash=middle.phash,
        screenshot=0.0,
        faces=max((s.faces for s in scores), key=len),
        motion=round(float(np.mean(motion)) if motion else 0.0, 4),
        loudness_db=_loudness(path),
    )


def _frames_at(container, stream, at_s: float) -> list[Image.Image]:
    """The first frame at or after ``at_s`` and the one MOTION_GAP_S later, upright,
    at most ANALYSIS_SIDE px on the long side."""
    if stream.time_base is not None and at_s > 0:
        container.seek(int(at_s / stream.time_base), stream=stream, backward=True)
    out: list[Image.Image] = []
    first_t: float | None = None
    for frame in container.decode(stream):
        t = frame.time or 0.0
        if t + 1e-3 < at_s and not out:
            continue
        if first_t is None:
            first_t = t
        elif t < first_t + MOTION_GAP_S:
            continue
        scale = min(1.0, ANALYSIS_SIDE / max(frame.width, frame.height))
        img = frame.to_image(width=max(2, round(frame.width * scale)), height=max(2, round(frame.height * scale)))
        rotation = int(getattr(frame, "rotation", 0) or 0) % 360
        if rotation:
            img = img.rotate(rotation, expand=True)
        out.append(img)
        if len(out) == 2:
            break
    return out


def _loudness(path: Path) -> float | None:
    """RMS level of the first LOUDNESS_S seconds of sound in dBFS; None without sound."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
            total, count = 0.0, 0
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().astype(np.float64).ravel()
                    total += float(np.square(samples).sum())
                    count += samples.size
                if frame.time is not None and frame.time > LOUDNESS_S:
                    break
    except (av.FFmpegError, OSError, ValueError):
        return None
    if not count:
        return None
    rms = math.sqrt(total / count)
    return round(max(SILENCE_DB, 20 * math.log10(rms)) if rms > 0 else SILENCE_DB, 2)


# --------------------------------------------------------------------------- a library


@dataclass(frozen=True)
class AnalysisRun:
    analysed: int
    errors: int
    cpu_s: float


def analyse_library(engine: Engine, lib: LibraryConfig, media_ids: Iterable[str] | None = None) -> AnalysisRun:
    """Analyse the library's media that have no current analysis (new or changed
    files: a changed file has a new media id) and store the results; the analysis
    of a removed item goes with its row. ``media_ids`` limits it to those ids."""
    with session_scope(engine) as session:
        todo = analysis_dao.unanalysed(session, lib.key, ANALYSIS_VERSION)
        if media_ids is not None:
            wanted = set(media_ids)
            todo = [t for t in todo if t[0] in wanted]
    results: list[tuple[str, Analysed]] = []
    cpu = 0.0
    errors = 0
    for media_id, rel_path, kind in todo:
        outcome = analyse(lib.root / rel_path, kind)
        results.append((media_id, outcome))
        cpu += outcome.seconds
        errors += bool(outcome.error)
        if len(results) >= analysis_dao.BATCH:
            _store(engine, lib.key, results)
            results = []
    if results:
        _store(engine, lib.key, results)
    if todo:
        log.info("media analysed", library=lib.key, analysed=len(todo), errors=errors, cpu_s=round(cpu, 3))
    return AnalysisRun(len(todo), errors, cpu)


def _store(engine: Engine, library: str, results: list[tuple[str, Analysed]]) -> None:
    with session_scope(engine) as session:
        analysis_dao.store(
            session, library, [(mid, a.quality, a.error) for mid, a in results], version=ANALYSIS_VERSION
        )


def analysis_counts(engine: Engine, library: str) -> dict[str, int]:
    """{"analysed": n, "errors": n} for ``ListLibraries``."""
    with session_scope(engine) as session:
        return dict(analysis_dao.counts(session, library))

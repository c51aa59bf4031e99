"""Photo preparation: decode once at reduced size, orient, and lay out on a canvas.

No photo is decoded at full size when a smaller one can be drawn from; each format
takes the cheapest reduced decode it has (figures: one camera-like 12 MP photo,
4000x3000, reduced for a 1600x900 canvas, CPU ms on the 2-core bench machine):

- JPEG: ``Image.draft`` lets libjpeg scale by 1/2, 1/4 or 1/8 while decoding, to
  the smallest size that still covers the canvas (3.4 MB q92: 50 ms, full 86 ms).
- PNG and WebP: libvips (pyvips) streams the file through ``shrink`` (PNG) or
  libwebp's scaled decode (WebP), so the full-size picture is never in memory:
  a 100 MP PNG peaks at 134 MB of RSS (Pillow's full decode: 450 MB) and costs
  0.77 s of CPU (Pillow 1.08 s); a 12 MP PNG 200 ms (Pillow 250 ms), WebP 320 ms
  (the same as Pillow, which has no reduced decode). libvips was not faster for
  JPEG (115 ms against 77 with the resize) nor for AVIF (aom, 900 ms against
  Pillow's dav1d 300 ms), and its wheel reads no HEVC, so those stay on Pillow.
- HEIF (pillow-heif, libde265) and AVIF: libheif and libavif have no reduced
  decode (a HEIC's embedded thumbnail is 320 px wide, too small for a canvas), so
  the picture is decoded in full and at once box-reduced by an integer factor
  (``Image.reduce``), which frees the full-size one before the canvas is built.

Each shot's photo is decoded once: the pipeline's pre-render check reads no pixels
(``photo_formats.quick_check``), and a PNG's EXIF is read without a decode. Photos whose shape is close
to the frame's fill it (cropped to cover); portrait or panoramic ones are shown
whole, centred on a blurred, darkened, scaled-up copy of themselves.
"""

from __future__ import annotations

import math
from pathlib import Path

import pyvips
from PIL import Image, ImageFilter, JpegImagePlugin

from render_service.photo_formats import open_photo

from .types import RenderError

# Fill the frame (crop) when the photo's aspect is within this factor of the frame's.
COVER_TOLERANCE = 1.39
BACKGROUND_SCALE = 8  # the blurred background is built at 1/8 size
BACKGROUND_DIM = 0.55

_TRANSPOSE = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}
_ORIENTATION_TAG = 0x0112
_STREAMED = frozenset({"PNG", "WEBP"})  # decoded by libvips, already reduced

# libvips keeps recent operations and their pixels in a cache for reuse, and starts
# a worker thread per core: neither helps a renderer that reads each photo once
# beside an encoder that has the cores busy.
pyvips.cache_set_max(0)
pyvips.concurrency_set(1)


def load_photo(path: Path, orientation: int, need_w: int, need_h: int, frame_w: int, frame_h: int) -> Image.Image:
    """Decode ``path`` as RGB, upright, at the smallest size from which a
    ``need_w`` x ``need_h`` canvas can be drawn for a ``frame_w`` x ``frame_h``
    output. Raises RenderError for unreadable files."""
    try:
        im: Image.Image = open_photo(path, path.suffix)  # convert() and transpose() return plain Images
        file_orientation = _exif(im).get(_ORIENTATION_TAG)
        if file_orientation in _TRANSPOSE or file_orientation == 1:
            orientation = file_orientation
        swap = orientation in (5, 6, 7, 8)
        sw, sh = im.size
        uw, uh = (sh, sw) if swap else (sw, sh)  # upright size
        cover = is_cover(uw, uh, frame_w, frame_h)
        scale = max(need_w / uw, need_h / uh) if cover else min(need_w / uw, need_h / uh)
        # rounded up (less float noise): each reduction keeps at least this size,
        # so a truncated request could go a pixel short
        want = (max(1, math.ceil(sw * scale - 1e-6)), max(1, math.ceil(sh * scale - 1e-6)))
        factor = max(1, min(sw // want[0], sh // want[1]))  # integer reduction that keeps ``want``
        if im.format in _STREAMED:
            fmt = im.format
            im.close()
            im = _vips_reduced(path, fmt, factor)
        else:
            if isinstance(im, JpegImagePlugin.JpegImageFile):  # JPEG and MPO
                im.draft("RGB", want)
            im.load()
            if factor > 1 and im.size == (sw, sh):  # no reduced decode: reduce at once
                im = im.reduce(factor)
        if im.mode != "RGB":
            im = im.convert("RGB")
        for op in _TRANSPOSE.get(orientation, ()):  # the pixels only (a libvips decode has no EXIF)
            im = im.transpose(op)
        return im
    except RenderError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, pyvips.Error) as exc:
        raise RenderError(f"cannot decode photo {path.name}: {type(exc).__name__}") from exc


def _exif(im: Image.Image) -> Image.Exif:
    """The EXIF read with the header. A PNG's ``getexif()`` decodes the whole
    picture to look for an eXIf chunk after the pixels; one before them is in
    ``info`` already, and that is where phones and editors put it."""
    if im.format == "PNG" and "exif" not in im.info:
        return Image.Exif()
    return im.getexif()


def _vips_reduced(path: Path, fmt: str, factor: int) -> Image.Image:
    """A PNG or WebP decoded by libvips, streamed top to bottom through an integer
    box reduction by ``factor`` (PNG: ``shrink``; WebP: libwebp's scaled decode),
    as 8-bit RGB. Transparency is flattened onto black; 16-bit and grey pictures
    become 8-bit sRGB. A truncated or corrupt file raises ``pyvips.Error``
    (``fail_on="truncated"``: libvips would otherwise fill the missing rows)."""
    if fmt == "PNG":
        v = pyvips.Image.pngload(str(path), access="sequential", fail_on="truncated")
        if factor > 1:
            v = v.shrink(factor, factor)
    else:
        v = pyvips.Image.webpload(str(path), access="sequential", fail_on="truncated", scale=1.0 / factor)
    if v.hasalpha():
        v = v.flatten(background=[0])
    if v.interpretation != "srgb" or v.format != "uchar":
        v = v.colourspace("srgb")
    if v.bands > 3:
        v = v.extract_band(0, n=3)
    if v.format != "uchar":
        v = v.cast("uchar")
    data = v.write_to_memory()
    return Image.frombuffer("RGB", (v.width, v.height), data, "raw", "RGB", 0, 1)


def is_cover(photo_w: int, photo_h: int, frame_w: int, frame_h: int) -> bool:
    ratio = (photo_w / photo_h) / (frame_w / frame_h)
    return 1 / COVER_TOLERANCE <= ratio <= COVER_TOLERANCE


Focus = tuple[float, float, float, float]  # (x0, y0, x1, y1), fractions of a picture


def cover_box(w: int, h: int, tw: int, th: int, focus: Focus | None = None) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the largest box of a ``w`` x ``h`` image with the aspect of
    ``tw`` x ``th``, in whole pixels and inside the image: centred, or with a
    ``focus`` (faces) centred on it as far as the image allows, so that a crop
    (a 9:16 one of a 3:4 photo) keeps the faces in frame. Integer arithmetic: the
    float version came out a hair outside the image for some sizes, which Pillow
    rejects ("box offset can't be negative")."""
    if w * th > h * tw:  # wider than the target: full height, sides cropped
        bw, bh = min(w, max(1, (2 * h * tw + th) // (2 * th))), h
    else:
        bw, bh = w, min(h, max(1, (2 * w * th + tw) // (2 * tw)))
    x0, y0 = (w - bw) // 2, (h - bh) // 2
    if focus is not None:
        x0 = _aim(w, bw, (focus[0] + focus[2]) / 2)
        y0 = _aim(h, bh, (focus[1] + focus[3]) / 2)
    return x0, y0, x0 + bw, y0 + bh


def _aim(size: int, box: int, centre: float) -> int:
    """Offset of a ``box``-long span of ``size`` centred on ``centre`` (a fraction),
    clamped inside."""
    return max(0, min(size - box, round(centre * size - box / 2)))


def upright_size(path: Path, orientation: int) -> tuple[int, int]:
    """The photo's size once oriented, from its header (as ``load_photo`` orients it)."""
    with open_photo(path, path.suffix) as im:
        file_orientation = im.getexif().get(_ORIENTATION_TAG)
        if file_orientation in _TRANSPOSE or file_orientation == 1:
            orientation = file_orientation
        w, h = im.size
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def canvas_focus(w: int, h: int, canvas_w: int, canvas_h: int, frame_w: int, frame_h: int, focus: Focus) -> Focus:
    """Where ``focus`` (fractions of the upright ``w`` x ``h`` photo) lands on the
    canvas ``compose_canvas`` draws, as fractions of the canvas."""
    if is_cover(w, h, frame_w, frame_h):
        x0, y0, x1, y1 = cover_box(w, h, canvas_w, canvas_h, focus)

        def cx(f: float) -> float:
            return (f * w - x0) / (x1 - x0)

        def cy(f: float) -> float:
            return (f * h - y0) / (y1 - y0)
    else:
        fw, fh = fit_size(w, h, canvas_w, canvas_h)
        ox, oy = (canvas_w - fw) // 2, (canvas_h - fh) // 2

        def cx(f: float) -> float:
            return (ox + f * fw) / canvas_w

        def cy(f: float) -> float:
            return (oy + f * fh) / canvas_h

    return (
        min(1.0, max(0.0, cx(focus[0]))),
        min(1.0, max(0.0, cy(focus[1]))),
        min(1.0, max(0.0, cx(focus[2]))),
        min(1.0, max(0.0, cy(focus[3]))),
    )


def fit_size(w: int, h: int, tw: int, th: int) -> tuple[int, int]:
    """The size of a ``w`` x ``h`` image scaled to fit inside ``tw`` x ``th``
    (one side exact, the other rounded, never larger than the target)."""
    if w * th > h * tw:
        return tw, min(th, max(1, (2 * h * tw + w) // (2 * w)))
    return min(tw, max(1, (2 * w * th + h) // (2 * h))), th


def compose_canvas(
    im: Image.Image, canvas_w: int, canvas_h: int, frame_w: int, frame_h: int, focus: Focus | None = None
) -> Image.Image:
    """An RGB ``canvas_w`` x ``canvas_h`` image of the upright photo ``im``: cropped
    to cover when its shape is near the frame's (around ``focus`` when given), else
    whole on a blurred copy."""
    w, h = im.size
    if is_cover(w, h, frame_w, frame_h):
        return _cover(im, canvas_w, canvas_h, Image.Resampling.BICUBIC, focus)
    small = _cover(
        im, max(2, canvas_w // BACKGROUND_SCALE), max(2, canvas_h // BACKGROUND_SCALE), Image.Resampling.BILINEAR
    )
    small = small.filter(ImageFilter.GaussianBlur(radius=max(2.0, small.width / 40)))
    small = small.point(lambda v: int(v * BACKGROUND_DIM))
    canvas = small.resize((canvas_w, canvas_h), Image.Resampling.BILINEAR)
    fw, fh = fit_size(w, h, canvas_w, canvas_h)
    fitted = im.resize((fw, fh), Image.Resampling.BICUBIC, reducing_gap=2.0)
    canvas.paste(fitted, ((canvas_w - fw) // 2, (canvas_h - fh) // 2))
    return canvas


def _cover(im: Image.Image, tw: int, th: int, resample: Image.Resampling, focus: Focus | None = None) -> Image.Image:
    """``im`` cropped to the aspect of ``tw`` x ``th`` (around ``focus``) and scaled to that size."""
    return im.resize((tw, th), resample, box=cover_box(*im.size, tw, th, focus), reducing_gap=2.0)


def photo_canvas(
    path: Path,
    orientation: int,
    canvas_w: int,
    canvas_h: int,
    frame_w: int,
    frame_h: int,
    focus: Focus | None = None,
) -> Image.Image:
    im = load_photo(path, orientation, canvas_w, canvas_h, frame_w, frame_h)
    try:
        return compose_canvas(im, canvas_w, canvas_h, frame_w, frame_h, focus)
    except (OSError, ValueError) as exc:
        raise RenderError(f"cannot prepare photo {path.name}: {type(exc).__name__}") from exc

"""Geometry that must hold for every input: motion boxes, crop boxes, canvases,
EXIF orientation, and whole reels of every motion and shot length.

Crop boxes once came out a hair outside the photo ("box offset can't be
negative") for some photo, canvas and shot-length combinations and failed whole
reels, so these tests sweep the combinations instead of picking a few.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from reels_core.domain import Script, Shot
from render_service.render import MediaInput, RenderParams, params_for, photo, render_reel
from render_service.render import frames as frames_mod
from render_service.render.frames import PhotoSource, photo_planes
from render_service.render.timeline import build_timeline, plan_motion

MOTIONS = ("static", "zoom_in", "zoom_out", "pan_left", "pan_right")
SHOT_FRAMES = (1, 2, 3, 17, 68)  # the shortest possible shot up to a couple of seconds
FPS = 30
LANDSCAPE, PORTRAIT = RenderParams(64, 36, FPS), RenderParams(36, 64, FPS)
ASPECTS = {"16:9": LANDSCAPE, "9:16": PORTRAIT}

# Upright size and file format of each test photo.
SHAPES: dict[str, tuple[tuple[int, int], str]] = {
    "panorama": ((2000, 500), "JPEG"),
    "tall": ((400, 1200), "JPEG"),
    "square": ((600, 600), "JPEG"),
    "tiny": ((64, 48), "JPEG"),
    "12mp": ((4000, 3000), "JPEG"),
    "50mp": ((8660, 5773), "JPEG"),
    "png": ((640, 480), "PNG"),
}

# How the stored pixels are made from the upright image for each EXIF orientation:
# the inverse of what a viewer applies (6 means "rotate 90 degrees clockwise to
# display", so the file holds the upright image turned counter-clockwise).
T = Image.Transpose
STORED_FROM_UPRIGHT: dict[int, T | None] = {
    1: None,
    2: T.FLIP_LEFT_RIGHT,
    3: T.ROTATE_180,
    4: T.FLIP_TOP_BOTTOM,
    5: T.TRANSPOSE,
    6: T.ROTATE_90,
    7: T.TRANSVERSE,
    8: T.ROTATE_270,
}
QUADRANTS = {"tl": (255, 0, 0), "tr": (0, 255, 0), "bl": (0, 0, 255), "br": (255, 255, 255)}

PhotoFactory = Callable[..., Path]


def quadrants(w: int, h: int) -> Image.Image:
    """TL red, TR green, BL blue, BR white. Flat colours: cheap to build and to
    encode even at 50 MP, and any turn or flip moves them somewhere else."""
    im = Image.new("RGB", (w, h), QUADRANTS["tl"])
    im.paste(QUADRANTS["tr"], (w // 2, 0, w, h // 2))
    im.paste(QUADRANTS["bl"], (0, h // 2, w // 2, h))
    im.paste(QUADRANTS["br"], (w // 2, h // 2, w, h))
    return im


@pytest.fixture(scope="module")
def photo_file(tmp_path_factory: pytest.TempPathFactory) -> PhotoFactory:
    """photo_file(shape, orientation, tagged=True) -> path of the photo whose
    upright content is ``quadrants`` of the shape's size, stored transformed for
    ``orientation`` with the EXIF tag set (or, untagged, leaving the orientation
    to the media index). Each file is written once per module, on first use."""
    root = tmp_path_factory.mktemp("geometry-photos")
    upright: dict[str, Image.Image] = {}
    made: dict[tuple[str, int, bool], Path] = {}

    def make(shape: str, orientation: int, tagged: bool = True) -> Path:
        key = (shape, orientation, tagged)
        if key not in made:
            size, fmt = SHAPES[shape]
            if shape not in upright:
                upright[shape] = quadrants(*size)
            op = STORED_FROM_UPRIGHT[orientation]
            stored = upright[shape] if op is None else upright[shape].transpose(op)
            exif = Image.Exif()
            if tagged:
                exif[0x0112] = orientation
            path = root / f"{shape}-o{orientation}-{'tag' if tagged else 'plain'}.{fmt.lower()}"
            stored.save(path, format=fmt, exif=exif, **_jpeg_options(stored) if fmt == "JPEG" else {})
            made[key] = path
        return made[key]

    return make


def _jpeg_options(im: Image.Image) -> dict[str, object]:
    """Low quality and optimised Huffman tables for the huge photos: a third of
    the bytes, so each of the many decodes in the reels costs less."""
    if im.width * im.height > 20_000_000:
        return {"quality": 20, "optimize": True}
    return {"quality": 90}


def yuv_to_rgb(planes, width: int, height: int) -> np.ndarray:
    """BT.709 limited-range yuv420p planes back to an RGB array (as a player would)."""
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane, src in zip(frame.planes, planes, strict=True):
        buf = np.frombuffer(plane, dtype=np.uint8)  # type: ignore[call-overload]  # PyAV's stubs omit the buffer protocol
        dst = buf.reshape(plane.height, plane.line_size)
        dst[:, : src.shape[1]] = src
    rgb = frame.reformat(format="rgb24", src_colorspace="ITU709", src_color_range="MPEG")
    return rgb.to_ndarray()


def decoded_lumas(path: Path) -> list[np.ndarray]:
    """The Y plane of every frame a real decoder gets from ``path`` (16 is black).
    Read straight from the decoded planes: a pixel-format conversion per frame
    would cost more than rendering these tiny reels."""
    lumas = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            y = frame.planes[0]
            luma = np.frombuffer(y, dtype=np.uint8)  # type: ignore[call-overload]  # PyAV's stubs omit the buffer protocol
            lumas.append(luma.reshape(y.height, y.line_size)[:, : frame.width].copy())
    return lumas


# --- motion boxes ------------------------------------------------------------------

BOX_FRAMES = (*range(1, 121), 150, 193, 240, 389, 600, 1800)
BOX_SIZES = ((1280, 720), (720, 1280), (1920, 1080), (1080, 1920), (64, 36), (36, 64), (16, 16))


@pytest.mark.parametrize("kind", MOTIONS)
@pytest.mark.parametrize("size", BOX_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_motion_box_is_whole_pixels_inside_the_canvas_with_the_output_aspect(kind: str, size):
    W, H = size
    for frames in BOX_FRAMES:
        m = plan_motion(kind, frames, W, H)
        assert m.canvas_w % 2 == 0 and m.canvas_h % 2 == 0, m  # yuv420p canvas
        assert m.canvas_w >= W and m.canvas_h >= H, m
        boxes = [m.box(k) for k in range(frames)]
        for x0, y0, w, h in boxes:
            assert all(isinstance(v, int) for v in (x0, y0, w, h)), (m, x0, y0, w, h)
            assert 0 <= x0 and x0 + w <= m.canvas_w and 0 <= y0 and y0 + h <= m.canvas_h, (m, x0, y0, w, h)
            assert w >= W and abs(h - w * H / W) <= 1, (m, w, h)  # aspect within a pixel
            if kind in ("static", "pan_left", "pan_right"):
                # a plain copy of the planes: output size at even offsets, so the
                # half-resolution chroma lines up with the luma
                assert (w, h) == (W, H) and x0 % 2 == 0 and y0 % 2 == 0, (m, x0, y0)
            else:
                assert 2 * x0 + w == m.canvas_w and abs(2 * y0 + h - m.canvas_h) <= 1, (m, x0, y0, w, h)
        for (ax, _, aw, _), (bx, _, bw, _) in pairwise(boxes):
            assert abs(ax - bx) <= 2 and abs(aw - bw) <= 2, m  # never more than 2 px a frame
        assert m.box(-5) == boxes[0] and m.box(frames + 5) == boxes[-1]  # clamped to the shot
        _assert_motion_spans_its_canvas(kind, m, boxes)


def _assert_motion_spans_its_canvas(kind: str, m, boxes) -> None:
    """Zooms run from the whole canvas to exactly the output size; pans from one
    edge of the canvas to the other; a one-frame shot does not move at all."""
    W, H = m.width, m.height
    if m.frames == 1:
        assert (m.canvas_w, m.canvas_h) == (W, H) and boxes == [(0, 0, W, H)], m
        return
    first, last = boxes[0], boxes[-1]
    if kind == "zoom_in":
        assert first[2] == m.canvas_w and last[2:] == (W, H), m
    elif kind == "zoom_out":
        assert first[2:] == (W, H) and last[2] == m.canvas_w, m
    elif kind == "pan_right":
        assert first[0] == 0 and last[0] == m.canvas_w - W, m
    elif kind == "pan_left":
        assert first[0] == m.canvas_w - W and last[0] == 0, m
    else:
        assert (m.canvas_w, m.canvas_h) == (W, H), m
    if kind != "static":
        assert m.canvas_w > W, m  # it really moves
        assert m.canvas_w <= W * 1.3 + 2, m  # and stays bounded


# --- crop boxes and canvases ---------------------------------------------------------

REPORTED_IMAGE_SIZES = ((960, 1280), (1280, 960), (4000, 1000), (300, 900), (64, 48), (500, 500))


def _canvas_targets() -> set[tuple[int, int]]:
    """Every canvas (and 1/8 blurred-background size) the renderer asks for at 720p."""
    targets = set()
    for W, H in ((1280, 720), (720, 1280)):
        for kind in MOTIONS:
            for frames in range(1, 201):
                m = plan_motion(kind, frames, W, H)
                targets.add((m.canvas_w, m.canvas_h))
                targets.add(
                    (max(2, m.canvas_w // photo.BACKGROUND_SCALE), max(2, m.canvas_h // photo.BACKGROUND_SCALE))
                )
    return targets


def test_cover_boxes_are_whole_pixels_inside_the_image_with_the_target_aspect():
    sizes = {*REPORTED_IMAGE_SIZES, (8660, 5773), (4000, 3000), (1, 1), (1, 5000), (5000, 1), (7, 3)}
    sizes |= {(h, w) for w, h in sizes}
    for tw, th in _canvas_targets():
        for w, h in sizes:
            x0, y0, x1, y1 = photo.cover_box(w, h, tw, th)
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, (w, h, tw, th)
            assert x0 + x1 in (w, w - 1) and y0 + y1 in (h, h - 1), (w, h, tw, th)  # centred
            bw, bh = x1 - x0, y1 - y0
            assert bw == w or bh == h, (w, h, tw, th)  # the largest such box
            if bh == h and bw > 1:
                assert abs(bw - h * tw / th) <= 0.5, (w, h, tw, th)
            elif bw == w and bh > 1:
                assert abs(bh - w * th / tw) <= 0.5, (w, h, tw, th)


@pytest.mark.parametrize("params", ASPECTS.values(), ids=ASPECTS.keys())
def test_compose_canvas_is_exactly_the_canvas_for_every_shape_motion_and_length(params: RenderParams):
    W, H = params.width, params.height
    images = {size: Image.new("RGB", size, (200, 120, 40)) for size in REPORTED_IMAGE_SIZES}
    for kind in MOTIONS:
        for frames in (1, 2, 3, 17, 38, 68, 72, 92, 128, 184, 188, 600):
            m = plan_motion(kind, frames, W, H)
            for im in images.values():
                canvas = photo.compose_canvas(im, m.canvas_w, m.canvas_h, W, H)
                assert canvas.size == (m.canvas_w, m.canvas_h) and canvas.mode == "RGB"


def test_the_reported_portrait_zoom_out_shot_prepares_and_draws_every_frame(photo_file: PhotoFactory, tmp_path: Path):
    # The reported failure: 1280x960 stored with orientation 6 (upright 960x1280),
    # a 68-frame zoom_out at 1280x720.
    op = STORED_FROM_UPRIGHT[6]
    assert op is not None
    stored = quadrants(960, 1280).transpose(op)
    assert stored.size == (1280, 960)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "portrait.jpg"
    stored.save(path, format="JPEG", quality=85, exif=exif)
    params = params_for("720p", "16:9")
    motion = plan_motion("zoom_out", 68, params.width, params.height)
    planes = photo_planes(
        MediaInput("p", path, "PHOTO", 1, 0.0), motion.canvas_w, motion.canvas_h, params.width, params.height
    )
    assert planes[0].shape == (motion.canvas_h, motion.canvas_w)
    source = PhotoSource(planes, motion)
    for k in range(motion.frames):
        y = frames_mod.split_planes(source.frame(k), params.width, params.height)[0]
        assert y.mean() > 40, k  # the photo and its blurred background, not black


def test_a_jpeg_is_decoded_at_least_as_large_as_the_canvas_needs(photo_file: PhotoFactory):
    # 4000 px wide, 1001 px needed: the 1/4 draft (1000 px) is one pixel short.
    im = photo.load_photo(photo_file("12mp", 1), 1, 1001, 564, 1280, 720)
    assert im.width >= 1001 and im.height >= 564
    assert im.width < 4000  # still decoded at reduced size


# --- orientation -----------------------------------------------------------------------


def _expected_corners(upright: tuple[int, int], canvas_w: int, canvas_h: int, frame_w: int, frame_h: int):
    """Canvas points at the middle of each quadrant of the upright photo, as laid
    out on the canvas: covering it (cropped, centred) or fitted whole and centred."""
    uw, uh = upright
    if photo.is_cover(uw, uh, frame_w, frame_h):
        x0, y0, pw, ph = 0, 0, canvas_w, canvas_h
    else:
        scale = min(canvas_w / uw, canvas_h / uh)
        pw, ph = round(uw * scale), round(uh * scale)
        x0, y0 = (canvas_w - pw) // 2, (canvas_h - ph) // 2
    xs, ys = (x0 + pw // 4, x0 + 3 * pw // 4), (y0 + ph // 4, y0 + 3 * ph // 4)
    return {"tl": (xs[0], ys[0]), "tr": (xs[1], ys[0]), "bl": (xs[0], ys[1]), "br": (xs[1], ys[1])}


def _assert_quadrants(rgb: np.ndarray, corners, label: str) -> None:
    for name, (x, y) in corners.items():
        got = rgb[y, x].astype(int)
        want = np.array(QUADRANTS[name])
        assert np.abs(got - want).max() < 70, (label, name, (x, y), got.tolist())


@pytest.mark.parametrize("aspect", ASPECTS)
@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("shape", SHAPES)
def test_the_prepared_canvas_is_upright_for_every_orientation(
    photo_file: PhotoFactory, shape: str, orientation: int, aspect: str
):
    # Larger than the reels below so that each quadrant is many pixels wide even
    # for the 1:3 photo in a 16:9 frame.
    params = params_for("720p", aspect)
    W, H = params.width // 4, params.height // 4
    upright = SHAPES[shape][0]
    m = plan_motion("static", 1, W, H)
    corners = _expected_corners(upright, m.canvas_w, m.canvas_h, W, H)
    item = MediaInput("p", photo_file(shape, orientation), "PHOTO", 1, 0.0)
    # the reel's path (YUV planes, cropped by swscale when covering) ...
    planes = photo_planes(item, m.canvas_w, m.canvas_h, W, H)
    _assert_quadrants(yuv_to_rgb(planes, m.canvas_w, m.canvas_h), corners, "photo_planes")
    # ... and the poster's (Pillow)
    canvas = photo.photo_canvas(item.path, 1, m.canvas_w, m.canvas_h, W, H)
    _assert_quadrants(np.asarray(canvas), corners, "photo_canvas")


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("shape", ["tall", "12mp"])
def test_the_media_index_orientation_applies_to_an_untagged_photo(
    photo_file: PhotoFactory, shape: str, orientation: int
):
    W, H = 320, 180
    upright = SHAPES[shape][0]
    item = MediaInput("p", photo_file(shape, orientation, tagged=False), "PHOTO", orientation, 0.0)
    planes = photo_planes(item, W, H, W, H)
    _assert_quadrants(yuv_to_rgb(planes, W, H), _expected_corners(upright, W, H, W, H), "untagged")


# --- whole reels ------------------------------------------------------------------------


def _every_motion_and_length_script() -> Script:
    """One shot per (motion, length), joined by cuts so that each shot is on screen
    for exactly its own frames; the 68-frame shots last, so the end fade falls
    inside one of them."""
    shots = [Shot("p", n / FPS, "", kind, "cut") for n in SHOT_FRAMES for kind in MOTIONS]
    return Script("", "", "calm", "piano", shots)


@pytest.mark.slow
@pytest.mark.parametrize("aspect", ASPECTS)
@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("shape", SHAPES)
def test_a_reel_of_every_motion_and_length_renders_for_every_photo(
    photo_file: PhotoFactory, tmp_path: Path, shape: str, orientation: int, aspect: str
):
    params = ASPECTS[aspect]
    script = _every_motion_and_length_script()
    timeline = build_timeline([s.duration_s for s in script.shots], [s.transition for s in script.shots], FPS)
    assert [s.frames for s in timeline.spans] == [n for n in SHOT_FRAMES for _ in MOTIONS]
    media = {"p": MediaInput("p", photo_file(shape, orientation), "PHOTO", 1, 0.0)}
    out = tmp_path / "reel.mp4.tmp"

    stats = render_reel(script, media, out, params)

    lumas = decoded_lumas(out)
    assert len(lumas) == timeline.total_frames == stats.frames
    assert lumas[0].shape == (params.height, params.width)
    before_end_fade = np.array([y.mean() for y in lumas[: timeline.total_frames - timeline.end_fade]])
    assert before_end_fade.min() > 40, int(before_end_fade.argmin())  # every shot's every frame shows the photo

"""Framing on faces (issue 13): crops and the pan/zoom boxes aim at the faces the
index-time analysis found, and a 9:16 reel of a photo whose face is near its edge
keeps the face in frame. The face is a real one (skimage.data.astronaut, shipped
in the scikit-image wheel), found by the same Haar cascade as at index time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reels_core.domain import Script, Shot
from render_service.analysis import analyse, picture_scores
from render_service.pipeline import focus_box
from render_service.render import MediaInput, params_for, render_reel
from render_service.render.photo import canvas_focus, cover_box
from render_service.render.timeline import plan_motion
from tests.labelled_library import face_photo
from tests.render.conftest import decode_rgb

FOCUS_LEFT = (0.05, 0.30, 0.25, 0.60)  # a face near the left edge, as fractions


def _centre(box: tuple[int, int, int, int]) -> tuple[float, float]:
    x0, y0, w, h = box
    return x0 + w / 2, y0 + h / 2


def test_a_cover_crop_keeps_an_off_centre_face_and_stays_inside_the_image():
    # A 3:4 portrait photo cut to 9:16: the centred crop starts at x=60 of 480 and
    # would cut a face whose box spans 24-120; aimed at it, the crop starts at 0.
    x0, y0, x1, y1 = cover_box(480, 640, 9, 16)
    assert x0 == 60
    fx0, fy0, fx1, fy1 = FOCUS_LEFT
    ax0, ay0, ax1, ay1 = cover_box(480, 640, 9, 16, FOCUS_LEFT)
    assert (ax1 - ax0, ay1 - ay0) == (x1 - x0, y1 - y0)  # same size, moved
    assert ax0 <= fx0 * 480 and fx1 * 480 <= ax1 and ax0 >= 0 and ax1 <= 480
    # A face in the middle: the crop is the centred one.
    assert cover_box(480, 640, 9, 16, (0.4, 0.4, 0.6, 0.6)) == (x0, y0, x1, y1)


@pytest.mark.parametrize("kind", ["zoom_in", "zoom_out", "pan_left", "pan_right"])
def test_pans_and_zooms_end_on_the_face(kind: str):
    plain = plan_motion(kind, 90, 1280, 720)
    focus = (0.70, 0.20, 0.85, 0.45)  # upper right
    aimed = plan_motion(kind, 90, 1280, 720)
    aimed = type(aimed)(**{**aimed.__dict__, "focus": focus})
    fx, fy = (focus[0] + focus[2]) / 2 * aimed.canvas_w, (focus[1] + focus[3]) / 2 * aimed.canvas_h
    last = aimed.box(89) if kind != "zoom_out" else aimed.box(0)  # a zoom out starts where a zoom in ends
    x0, y0, w, h = last
    assert x0 <= fx <= x0 + w and y0 <= fy <= y0 + h  # the face is in the final frame
    cx, _ = _centre(last)
    plain_cx, _ = _centre(plain.box(89) if kind != "zoom_out" else plain.box(0))
    assert abs(cx - fx) < abs(plain_cx - fx) or kind == "pan_right"  # nearer the face than before
    for k in range(90):  # every box still whole, even, inside the canvas, of the planned size
        bx, by, bw, bh = aimed.box(k)
        assert 0 <= bx and 0 <= by and bx + bw <= aimed.canvas_w and by + bh <= aimed.canvas_h
        assert bx % 2 == 0 and by % 2 == 0
        assert (bw, bh) == plain.box(k)[2:]


def test_canvas_focus_follows_the_crop_and_the_letterbox():
    # Cover: the crop moved onto the face, which lands inside the canvas.
    x0, _, x1, _ = canvas_focus(480, 640, 360, 640, 360, 640, FOCUS_LEFT)
    assert 0.0 <= x0 < x1 <= 1.0
    # Letterboxed (a landscape photo in a portrait frame): the photo is a band in
    # the middle of the canvas, and the face inside that band.
    _, y0, _, y1 = canvas_focus(800, 600, 360, 640, 360, 640, (0.4, 0.0, 0.6, 1.0))
    assert y0 == pytest.approx(185 / 640, abs=0.01) and y1 == pytest.approx(455 / 640, abs=0.01)  # 270 px high, centred


def _faces_in(frame: np.ndarray) -> int:
    return len(picture_scores(Image.fromarray(frame)).faces)


def test_a_9_16_reel_of_a_face_near_the_edge_keeps_the_face_in_frame(tmp_path: Path):
    photo = tmp_path / "portrait.jpg"
    face_photo(size=(600, 800), at=(0.12, 0.4), head=0.5).save(photo, quality=92)
    faces = analyse(photo, "PHOTO").quality
    assert len(faces.faces) == 1  # found at index time, near the left edge
    focus = focus_box(faces)
    assert focus is not None and focus[0] < 0.1

    params = params_for("360p", "9:16", fps=15)  # 360x640
    script = Script("", "", "calm", "piano", [Shot("p", 2.0, "", "zoom_in", "cut")])

    def render(with_focus: bool) -> list[np.ndarray]:
        media = {"p": MediaInput("p", photo, "PHOTO", 1, 0.0, focus=focus if with_focus else None)}
        out = tmp_path / f"reel-{with_focus}.mp4"
        render_reel(script, media, out, params)
        return decode_rgb(out)

    aimed = render(True)
    centred = render(False)
    middle = len(aimed) // 2  # before the closing fade
    assert _faces_in(aimed[1]) == 1 and _faces_in(aimed[middle]) == 1
    # The same shot centred cuts the face off: what the framing is for.
    assert _faces_in(centred[middle]) == 0

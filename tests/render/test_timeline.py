"""Frame-exact timeline and motion boxes."""

from __future__ import annotations

from itertools import pairwise

import pytest

from render_service.render.timeline import build_timeline, plan_motion


def test_total_frames_equal_the_script_duration_whatever_the_transitions():
    for transitions in (
        ["crossfade"] * 4,
        ["cut"] * 4,
        ["fade_black"] * 4,
        ["fade_black", "crossfade", "cut", "crossfade"],
    ):
        tl = build_timeline([2.5, 3.0, 1.0, 3.5], transitions, 30)
        assert tl.total_frames == 300
        covered = [len(tl.layers(f)) for f in range(tl.total_frames)]
        assert min(covered) >= 1, transitions  # never a hole
        assert max(covered) <= 2


def test_crossfade_overlaps_inside_the_total_and_weights_move_monotonically():
    tl = build_timeline([2.0, 2.0], ["crossfade", "crossfade"], 30)
    a, b = tl.spans
    assert b.start < a.end  # overlap
    assert a.start == 0 and b.end == 120
    assert a.end - b.start == 18  # 0.6 s
    weights = [tl.layers(f)[1][1] for f in range(b.start, a.end)]
    assert weights == sorted(weights) and 0 < weights[0] < weights[-1] < 1


def test_cut_has_no_overlap_and_fade_black_dips_to_black():
    cut = build_timeline([1.0, 1.0], ["cut", "cut"], 30)
    assert cut.spans[0].end == cut.spans[1].start == 30
    dip = build_timeline([2.0, 2.0], ["cut", "fade_black"], 30)
    levels = [dip.layers(f)[0][1] for f in range(45, 75)]
    assert min(levels) < 0.1
    assert levels[0] == 1.0 and levels[-1] == 1.0


def test_the_reel_ends_faded_out():
    tl = build_timeline([2.0], ["cut"], 30)
    assert tl.layers(59)[0][1] < 0.1
    assert tl.layers(0)[0][1] == 1.0


@pytest.mark.parametrize("kind", ["zoom_in", "zoom_out"])
def test_zoom_boxes_move_by_whole_pixels_keep_aspect_and_stay_inside(kind):
    m = plan_motion(kind, 90, 1280, 720)
    boxes = [m.box(k) for k in range(90)]
    widths = [b[2] for b in boxes]
    if kind == "zoom_in":
        assert widths[0] == m.canvas_w and widths[-1] == 1280
    else:
        assert widths[0] == 1280 and widths[-1] == m.canvas_w
    assert {abs(a - b) for a, b in pairwise(widths)} == {2}  # smooth: 2 px every frame
    for x0, y0, w, h in boxes:
        assert 0 <= x0 and x0 + w <= m.canvas_w and 0 <= y0 and y0 + h <= m.canvas_h
        assert abs(w / h - 1280 / 720) < 2 / 720  # aspect within a pixel
        assert x0 * 2 + w == m.canvas_w  # centred


@pytest.mark.parametrize("kind", ["pan_left", "pan_right"])
def test_pans_are_pure_crops_that_travel_the_canvas(kind):
    m = plan_motion(kind, 75, 1280, 720)
    boxes = [m.box(k) for k in range(75)]
    assert all((w, h) == (1280, 720) for _, _, w, h in boxes)
    xs = [b[0] for b in boxes]
    assert xs == (sorted(xs) if kind == "pan_right" else sorted(xs, reverse=True))
    assert {xs[0], xs[-1]} == {0, m.canvas_w - 1280}


def test_long_shots_keep_the_motion_bounded():
    m = plan_motion("zoom_in", 600, 1280, 720)
    assert m.canvas_w <= 1280 * 1.26
    p = plan_motion("pan_left", 600, 1280, 720)
    assert p.canvas_w <= 1280 * 1.31


def test_static_is_the_frame_itself():
    m = plan_motion("static", 30, 640, 360)
    assert (m.canvas_w, m.canvas_h) == (640, 360)
    assert {m.box(k) for k in range(30)} == {(0, 0, 640, 360)}

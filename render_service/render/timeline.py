"""Frame-exact timeline of a script: when each shot is on screen, how it blends
with its neighbours, and the crop box of its pan/zoom motion for every frame.

Everything here is integer frame arithmetic so that the total length is exactly
``round(script.duration_s * fps)`` frames: transitions overlap inside that total
rather than adding to it.

``shot.transition`` is how a shot *enters*: a crossfade from the previous shot, a
cut, or a dip through black. On the first shot only ``fade_black`` means anything
(a fade in from black). The reel always fades out to black over its last half
second, like the music.
"""

from __future__ import annotations

from dataclasses import dataclass

CROSSFADE_S = 0.6
FADE_BLACK_S = 0.8
END_FADE_S = 0.5

# Motion: zoom shrinks the crop box by at most this many pixels per frame (2 keeps
# the box centred on whole pixels: smooth, no sub-pixel jitter) and by at most
# this fraction of the frame in total; pans travel at most 2 px/frame (even
# offsets, see Motion) and 30 %. Boxes move in whole 2 px steps, so a shot longer
# than the travel allows holds some frames still rather than moving 1 px.
ZOOM_STEP_PX = 2
ZOOM_MAX = 0.25
PAN_STEP_PX = 2
PAN_MAX = 0.30


@dataclass(frozen=True)
class ShotSpan:
    index: int
    start: int  # first frame on screen (inclusive), overlaps included
    end: int  # exclusive
    base_start: int  # where the shot starts in the script's own timing
    base_end: int
    fade_in: int = 0  # frames of fade from black at its start (fade_black)
    fade_out: int = 0  # frames of fade to black at its end

    @property
    def frames(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Timeline:
    fps: int
    total_frames: int
    spans: tuple[ShotSpan, ...]
    end_fade: int

    def layers(self, f: int) -> list[tuple[ShotSpan, float]]:
        """The shots visible at frame ``f`` and their weights: one shot with its
        brightness (1.0 unless fading through black), or two crossfading shots with
        the weight of the later one."""
        visible = [s for s in self.spans if s.start <= f < s.end]
        if len(visible) >= 2:
            a, b = visible[0], visible[1]
            overlap = a.end - b.start
            w = (f - b.start + 1) / (overlap + 1)
            return [(a, 1.0 - w), (b, w)]
        if not visible:  # cannot happen for a well-formed timeline; stay black
            return []
        s = visible[0]
        level = 1.0
        if s.fade_in and f < s.start + s.fade_in:
            level = min(level, (f - s.start + 1) / (s.fade_in + 1))
        if s.fade_out and f >= s.end - s.fade_out:
            level = min(level, (s.end - f) / (s.fade_out + 1))
        if self.end_fade and f >= self.total_frames - self.end_fade:
            level = min(level, (self.total_frames - f) / (self.end_fade + 1))
        return [(s, level)]


def build_timeline(durations: list[float], transitions: list[str], fps: int) -> Timeline:
    if not durations:
        raise ValueError("a script needs at least one shot")
    bounds = [0]
    acc = 0.0
    for d in durations:
        acc += max(0.0, d)
        bounds.append(round(acc * fps))
    total = bounds[-1]
    n = len(durations)
    starts = bounds[:-1]
    ends = bounds[1:]
    vis_start = list(starts)
    vis_end = list(ends)
    fade_in = [0] * n
    fade_out = [0] * n
    for i in range(n):
        kind = transitions[i] if i < len(transitions) else "crossfade"
        own = ends[i] - starts[i]
        if i == 0:
            if kind == "fade_black":
                fade_in[0] = min(round(FADE_BLACK_S / 2 * fps), own // 2)
            continue
        prev = starts[i] - starts[i - 1]
        if kind == "crossfade":
            length = min(round(CROSSFADE_S * fps), prev // 2, own // 2)
            if length >= 2:
                vis_start[i] = starts[i] - length // 2
                vis_end[i - 1] = vis_start[i] + length
        elif kind == "fade_black":
            half = round(FADE_BLACK_S / 2 * fps)
            fade_out[i - 1] = min(half, prev // 2)
            fade_in[i] = min(half, own // 2)
    spans = tuple(
        ShotSpan(i, vis_start[i], vis_end[i], starts[i], ends[i], fade_in[i], fade_out[i])
        for i in range(n)
        if vis_end[i] > vis_start[i]
    )
    end_fade = min(round(END_FADE_S * fps), total // 4)
    return Timeline(fps=fps, total_frames=total, spans=spans, end_fade=end_fade)


# --- motion -------------------------------------------------------------------


@dataclass(frozen=True)
class Motion:
    """A shot's canvas size and crop box per frame. Every box is in whole pixels,
    lies inside the canvas and has the output's aspect (to within a pixel); it is
    scaled to the output size. Pans and static shots use boxes of exactly the
    output size at even offsets, so they are plain copies of the yuv420p planes
    (an odd offset would shift the half-resolution chroma against the luma)."""

    kind: str
    width: int  # output frame
    height: int
    canvas_w: int
    canvas_h: int
    frames: int
    travel: int  # even: total shrink of the box width (zoom) or distance (pan), px
    # (x0, y0, x1, y1) of the faces as fractions of the canvas: a zoom in ends centred
    # on them (a zoom out starts there) and a pan ends on them, as far as the canvas
    # allows; None: the centre, and pans go the way ``kind`` says.
    focus: tuple[float, float, float, float] | None = None

    def box(self, k: int) -> tuple[int, int, int, int]:
        """(x0, y0, w, h) of the crop for frame ``k`` (0-based, clamped to the shot)."""
        k = min(max(k, 0), self.frames - 1)
        w, h, cw, ch = self.width, self.height, self.canvas_w, self.canvas_h
        if self.kind in ("zoom_in", "zoom_out"):
            step = k if self.kind == "zoom_in" else self.frames - 1 - k
            half = self._half_steps(step)
            bw = min(cw, max(w, cw - 2 * half))
            bh = min(ch, max(1, _round_div(bw * h, w)))
            if self.focus is None:
                return (cw - bw) // 2, (ch - bh) // 2, bw, bh
            # The box's centre slides from the canvas centre to the focus as it shrinks.
            t = half / (self.travel // 2) if self.travel >= 2 else 1.0
            fx, fy = self._focus_centre()
            x0 = _clamp_even(round(cw / 2 + (fx - cw / 2) * t - bw / 2), cw - bw)
            y0 = _clamp_even(round(ch / 2 + (fy - ch / 2) * t - bh / 2), ch - bh)
            return x0, y0, bw, bh
        if self.kind in ("pan_left", "pan_right"):
            if self.focus is not None:
                return self._pan_to_focus(k), (ch - h) // 2 & ~1, w, h
            x = min(cw - w, 2 * self._half_steps(k))
            x0 = cw - w - x if self.kind == "pan_left" else x
            return x0, (ch - h) // 2 & ~1, w, h
        return (cw - w) // 2 & ~1, (ch - h) // 2 & ~1, w, h

    def _focus_centre(self) -> tuple[float, float]:
        assert self.focus is not None
        x0, y0, x1, y1 = self.focus
        return (x0 + x1) / 2 * self.canvas_w, (y0 + y1) / 2 * self.canvas_h

    def _pan_to_focus(self, k: int) -> int:
        """x0 of a pan that ends with the focus as central as the canvas allows,
        starting from the canvas edge farther from there (even offsets throughout)."""
        room = self.canvas_w - self.width  # even: the canvas is width + travel
        end = _clamp_even(round(self._focus_centre()[0] - self.width / 2), room)
        start = 0 if end >= room - end else room
        steps = self.frames - 1
        if steps <= 0:
            return end
        distance = abs(end - start) // 2  # in 2 px steps
        moved = 2 * _round_div(distance * k, steps)
        return start + moved if end >= start else start - moved

    def _half_steps(self, k: int) -> int:
        """Half of the travel done by frame ``k``: ``travel / 2`` spread evenly over
        the shot in whole steps, so the box moves 0 or 2 px a frame and ends
        exactly on the canvas edge (or the output size)."""
        steps = self.frames - 1
        return _round_div(self.travel // 2 * k, steps) if steps > 0 else 0


def _clamp_even(x: int, high: int) -> int:
    """``x`` within ``[0, high]``, rounded down to even (chroma planes are half size)."""
    return max(0, min(high, x)) & ~1


def _round_div(a: int, b: int) -> int:
    """``a / b`` rounded half up, in integers (``a >= 0``, ``b > 0``): float
    rounding is what once pushed crop boxes off their canvas."""
    return (2 * a + b) // (2 * b)


def plan_motion(kind: str, frames: int, width: int, height: int) -> Motion:
    """The canvas and boxes of a ``frames``-long shot for a ``width`` x ``height``
    output. A one-frame shot cannot move, so its canvas is the frame itself."""
    frames = max(1, frames)
    steps = frames - 1
    if kind in ("zoom_in", "zoom_out"):
        half = _half_travel(steps, ZOOM_STEP_PX, ZOOM_MAX, width)
        cw = width + 2 * half
        ch = max(height, 2 * -(-cw * height // (2 * width)))  # aspect, rounded up to even
        return Motion(kind, width, height, cw, ch, frames, 2 * half)
    if kind in ("pan_left", "pan_right"):
        half = _half_travel(steps, PAN_STEP_PX, PAN_MAX, width)
        return Motion(kind, width, height, width + 2 * half, height, frames, 2 * half)
    return Motion("static", width, height, width, height, frames, 0)


def _half_travel(steps: int, step_px: int, max_fraction: float, width: int) -> int:
    """Half the motion's total travel in px: at most ``step_px`` a frame over
    ``steps`` frame-to-frame steps and at most ``max_fraction`` of the width."""
    return max(0, min(steps * step_px // 2, int(max_fraction * width) // 2))

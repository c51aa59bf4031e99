"""Title card and caption overlays.

Each piece of text is drawn once with Pillow into a small RGBA image, converted
to BT.709 limited-range YUV with an alpha of 0..256, and then blended into the
frame's planes inside its own bounding box only, so a caption costs a fraction
of a millisecond per frame. The same RGBA image is pasted on the poster.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
)
TITLE_S = 2.5
TITLE_FADE_OUT_S = 0.4
CAPTION_FADE_S = 0.2
MIN_CAPTION_S = 0.6


@functools.lru_cache(maxsize=32)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans Bold when the system has it, else Pillow's bundled scalable font."""
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).is_file():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size=size)


def wrap(text: str, fnt, max_width: int, max_lines: int) -> list[str]:
    words = " ".join(text.split()).split(" ")
    lines: list[str] = []
    current = ""
    for word in words:
        trial = f"{current} {word}".strip()
        if not current or fnt.getlength(trial) <= max_width:
            current = trial
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and fnt.getlength(last + "…") > max_width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    # a single word wider than the box: shrink it character by character
    return [_clip(line, fnt, max_width) for line in lines if line]


def _clip(line: str, fnt, max_width: int) -> str:
    if fnt.getlength(line) <= max_width:
        return line
    while line and fnt.getlength(line + "…") > max_width:
        line = line[:-1]
    return line + "…"


def _panel(
    blocks: list[tuple[list[str], int]],
    width: int,
    height: int,
    center_y: float | None,
    bottom_margin: int,
    box_alpha: int,
) -> tuple[Image.Image, int, int]:
    """Draw text blocks (lines, font size) centred on a translucent rounded panel.
    Returns the RGBA panel cropped to its box and its (x, y) in the frame."""
    short = min(width, height)
    pad_x, pad_y = round(short * 0.035), round(short * 0.022)
    gap = round(short * 0.012)
    measured: list[tuple[str, ImageFont.FreeTypeFont | ImageFont.ImageFont, int, int]] = []
    for lines, size in blocks:
        fnt = font(size)
        for line in lines:
            left, top, right, bottom = fnt.getbbox(line)
            # typed float (a stroke width may be fractional); whole pixels without a stroke
            measured.append((line, fnt, int(right - left), size))
    if not measured:
        return Image.new("RGBA", (2, 2)), 0, 0
    line_h = [round(size * 1.25) for _, _, _, size in measured]
    text_w = max(w for _, _, w, _ in measured)
    text_h = sum(line_h) + gap * (len(measured) - 1)
    box_w = min(width, text_w + 2 * pad_x)
    box_h = min(height, text_h + 2 * pad_y)
    box_w += box_w % 2
    box_h += box_h % 2
    panel = Image.new("RGBA", (box_w, box_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(panel)
    draw.rounded_rectangle((0, 0, box_w - 1, box_h - 1), radius=round(short * 0.02), fill=(0, 0, 0, box_alpha))
    shadow = max(1, round(short * 0.003))
    y = pad_y
    for (line, fnt, w, size), lh in zip(measured, line_h, strict=True):  # line_h is built from measured
        x = (box_w - w) // 2 - fnt.getbbox(line)[0]
        ty = y + (lh - size) // 2
        draw.text((x + shadow, ty + shadow), line, font=fnt, fill=(0, 0, 0, 170))
        draw.text((x, ty), line, font=fnt, fill=(255, 255, 255, 255))
        y += lh + gap
    x0 = (width - box_w) // 2
    if center_y is None:
        y0 = height - bottom_margin - box_h
    else:
        y0 = round(center_y * height - box_h / 2)
    x0 = max(0, x0 - x0 % 2)
    y0 = max(0, min(height - box_h, y0 - y0 % 2))
    return panel, x0, y0


def title_panel(title: str, subtitle: str, width: int, height: int) -> tuple[Image.Image, int, int]:
    short = min(width, height)
    max_w = round(width * 0.84) - 2 * round(short * 0.035)
    title_size = max(10, round(short * 0.075))
    sub_size = max(8, round(short * 0.042))
    blocks = []
    if title.strip():
        blocks.append((wrap(title, font(title_size), max_w, 2), title_size))
    if subtitle.strip():
        blocks.append((wrap(subtitle, font(sub_size), max_w, 2), sub_size))
    return _panel(blocks, width, height, 0.45, 0, 96)


def caption_panel(text: str, width: int, height: int) -> tuple[Image.Image, int, int]:
    short = min(width, height)
    size = max(8, round(short * 0.045))
    max_w = round(width * 0.88) - 2 * round(short * 0.035)
    return _panel([(wrap(text, font(size), max_w, 2), size)], width, height, None, round(height * 0.06), 130)


@dataclass
class Overlay:
    """One piece of text, ready to blend into yuv420p planes."""

    x: int
    y: int
    w: int
    h: int
    luma: np.ndarray  # (h, w) uint8
    chroma_u: np.ndarray  # (h/2, w/2) uint8
    chroma_v: np.ndarray
    alpha: np.ndarray  # (h, w) uint16, 0..256
    alpha_c: np.ndarray  # (h/2, w/2) uint16
    rgba: Image.Image

    @classmethod
    def from_rgba(cls, rgba: Image.Image, x: int, y: int) -> Overlay:
        bbox = rgba.getchannel("A").getbbox()
        if bbox is None:
            bbox = (0, 0, 2, 2)
        left, top, right, bottom = bbox
        left, top = left - left % 2, top - top % 2
        right, bottom = min(rgba.width, right + right % 2), min(rgba.height, bottom + bottom % 2)
        crop = rgba.crop((left, top, right, bottom))
        a = np.asarray(crop, dtype=np.float32)
        rgb, alpha = a[..., :3], a[..., 3] / 255.0
        luma_full = rgb @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
        y_plane = 16 + luma_full * (219 / 255)
        # chroma from alpha-weighted 2x2 averages
        h, w = alpha.shape
        wa = alpha.reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3))
        rgb_w = (rgb * alpha[..., None]).reshape(h // 2, 2, w // 2, 2, 3).sum(axis=(1, 3))
        rgb_c = rgb_w / np.maximum(wa, 1e-6)[..., None]
        luma_c = rgb_c @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
        u = 128 + (rgb_c[..., 2] - luma_c) / 1.8556 * (224 / 255)
        v = 128 + (rgb_c[..., 0] - luma_c) / 1.5748 * (224 / 255)
        return cls(
            x=x + left,
            y=y + top,
            w=right - left,
            h=bottom - top,
            luma=np.clip(np.rint(y_plane), 0, 255).astype(np.uint8),
            chroma_u=np.clip(np.rint(u), 0, 255).astype(np.uint8),
            chroma_v=np.clip(np.rint(v), 0, 255).astype(np.uint8),
            alpha=np.rint(alpha * 256).astype(np.uint16),
            alpha_c=np.rint(wa / 4 * 256).astype(np.uint16),
            rgba=rgba,
        )

    def __post_init__(self) -> None:
        # premultiplied at full opacity: out = (dst * (256 - a) + top * a) >> 8
        self._full = [
            (self.luma * self.alpha, 256 - self.alpha),
            (self.chroma_u * self.alpha_c, 256 - self.alpha_c),
            (self.chroma_v * self.alpha_c, 256 - self.alpha_c),
        ]

    def blend(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, level: float = 1.0) -> None:
        """Blend into the frame planes (views of the output buffer), in place."""
        if level >= 1.0:
            terms = self._full
        else:
            a = (self.alpha * level).astype(np.uint16)
            ac = (self.alpha_c * level).astype(np.uint16)
            terms = [(self.luma * a, 256 - a), (self.chroma_u * ac, 256 - ac), (self.chroma_v * ac, 256 - ac)]
        x, yy, cx, cy = self.x, self.y, self.x // 2, self.y // 2
        _mix(y[yy : yy + self.h, x : x + self.w], *terms[0])
        _mix(u[cy : cy + self.h // 2, cx : cx + self.w // 2], *terms[1])
        _mix(v[cy : cy + self.h // 2, cx : cx + self.w // 2], *terms[2])


def _mix(region: np.ndarray, top_times_alpha: np.ndarray, inverse_alpha: np.ndarray) -> None:
    h, w = region.shape
    acc = region.astype(np.uint16)
    acc *= inverse_alpha[:h, :w]
    acc += top_times_alpha[:h, :w]
    acc >>= 8
    region[...] = acc


@dataclass(frozen=True)
class TextItem:
    start: int  # frames, inclusive
    end: int  # exclusive
    fade_in: int
    fade_out: int
    kind: str  # 'title' | 'narration' | 'caption'
    text: str
    subtitle: str = ""

    def level(self, f: int) -> float:
        level = 1.0
        if self.fade_in:
            level = min(level, (f - self.start + 1) / (self.fade_in + 1))
        if self.fade_out:
            level = min(level, (self.end - f) / (self.fade_out + 1))
        return max(0.0, level)


def plan_text(script, timeline, fps: int) -> list[TextItem]:
    """When each piece of text is on screen: the title card (centre) over the
    first ~2.5 s, each narration line (bottom) over [start_s, end_s), and each
    shot's caption (bottom) over the rest of its own time where no narration
    line is showing."""
    total = timeline.total_frames
    items: list[TextItem] = []
    title_end = min(total, round(TITLE_S * fps))
    if (script.title.strip() or script.subtitle.strip()) and title_end > 0:
        items.append(
            TextItem(
                0,
                title_end,
                0,
                min(round(TITLE_FADE_OUT_S * fps), title_end // 2),
                "title",
                script.title,
                script.subtitle,
            )
        )
    fade = round(CAPTION_FADE_S * fps)
    covered = np.zeros(total + 1, dtype=bool)
    for line in script.narration:
        s, e = max(0, round(line.start_s * fps)), min(total, round(line.end_s * fps))
        if e > s and line.text.strip():
            items.append(TextItem(s, e, min(fade, (e - s) // 3), min(fade, (e - s) // 3), "narration", line.text))
            covered[s:e] = True
    min_len = round(MIN_CAPTION_S * fps)
    for span in timeline.spans:
        caption = script.shots[span.index].caption
        if not caption.strip():
            continue
        f = span.base_start
        while f < span.base_end:
            if covered[f]:
                f += 1
                continue
            g = f
            while g < span.base_end and not covered[g]:
                g += 1
            if g - f >= min_len:
                items.append(TextItem(f, g, min(fade, (g - f) // 3), min(fade, (g - f) // 3), "caption", caption))
            f = g
    return items


def render_item(item: TextItem, width: int, height: int) -> Overlay:
    if item.kind == "title":
        panel, x, y = title_panel(item.text, item.subtitle, width, height)
    else:
        panel, x, y = caption_panel(item.text, width, height)
    return Overlay.from_rgba(panel, x, y)

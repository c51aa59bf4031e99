"""A labelled library for the choice of moments (issue 13), written at test time
with Pillow (JPEG, PNG) from procedural scenes and one real face photo
(``skimage.data.astronaut``, shipped in the scikit-image wheel).

One ISO week, 6 moments on 6 days, and every kind of shot a reel should leave
out: a burst of 5 near-identical frames, 3 blurred shots (each with a sharp
alternative in its moment), 2 far too dark shots, 3 screenshots, and 1 favourite
(EXIF Rating 5). ``LABELS`` maps each file to what it is.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageDraw, ImageFilter

WEEK_ANCHOR = dt.date(2024, 6, 3)  # a Monday: its WEEK RECAP is Mon 27 May - Sun 2 June 2024
MONDAY = dt.date(2024, 5, 27)
SIZE = (640, 480)

BURST = "burst"
BLURRED = "blurred"
DARK = "dark"
SCREENSHOT = "screenshot"
FAVORITE = "favorite"
GOOD = "good"


@dataclass(frozen=True)
class Labelled:
    rel_path: str
    label: str
    moment: int  # 0..5


def scene(seed: int, size: tuple[int, int] = SIZE) -> Image.Image:
    """A photo-like picture: a gradient sky, a ground, and textured shapes; each
    seed a different one (its perceptual hash far from the others')."""
    rng = np.random.default_rng(seed)
    w, h = size
    top, bottom = rng.integers(60, 220, 3), rng.integers(20, 160, 3)
    ramp = np.linspace(0.0, 1.0, h)[:, None, None]
    arr = (top * (1 - ramp) + bottom * ramp) * np.ones((h, w, 3))
    img = Image.fromarray(arr.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(40):
        x0, y0 = int(rng.integers(-w // 4, w)), int(rng.integers(-h // 4, h))
        x1, y1 = x0 + int(rng.integers(20, w // 2)), y0 + int(rng.integers(20, h // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour, outline=(0, 0, 0))
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour, outline=(255, 255, 255))
    noise = rng.normal(0, 9, (h, w, 3))
    return Image.fromarray(np.clip(np.asarray(img, dtype=np.float64) + noise, 0, 255).astype(np.uint8))


def face_photo(size: tuple[int, int] = SIZE, at: tuple[float, float] = (0.5, 0.45), head: float = 0.55) -> Image.Image:
    """A real face (the astronaut, NASA, public domain) on a scene, its head centred
    at ``at`` (fractions of the picture) and ``head`` of its height tall."""
    from skimage import data

    astronaut = Image.fromarray(data.astronaut())  # 512x512, the head about (120-300, 20-230)
    crop = astronaut.crop((100, 0, 340, 300))  # 240x300
    w, h = size
    scale = head * h / crop.height
    crop = crop.resize((round(crop.width * scale), round(crop.height * scale)), Image.Resampling.LANCZOS)
    img = scene(999, size)
    # The face is about the middle of the crop; near an edge, part of the head is
    # left out of the picture (paste clips), as in a real photo.
    img.paste(crop, (round(at[0] * w - crop.width / 2), round(at[1] * h - crop.height / 2)))
    return img


def screenshot(seed: int, size: tuple[int, int] = (750, 1334)) -> Image.Image:
    """A phone screenshot: a flat app bar, flat panels and lines of text."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", size, (246, 246, 246))
    draw = ImageDraw.Draw(img)
    w, h = size
    bar = tuple(int(c) for c in rng.integers(20, 200, 3))
    draw.rectangle((0, 0, w, 180), fill=bar)
    for i in range(24):
        y = 240 + i * 90
        draw.rectangle((40, y, w - 40, y + 70), fill=(255, 255, 255), outline=(220, 220, 220))
        draw.text((70, y + 25), f"Ticket {seed}-{i}  zone 1-2  valid 90 min", fill=(30, 30, 30))
    return img


def _exif(local: dt.datetime, rating: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Test"  # Make: a camera wrote it
    exif[0x0110] = "Camera 1"
    if rating is not None:
        exif[0x4746] = rating
    exif.get_ifd(ExifTags.IFD.Exif)[0x9003] = local.strftime("%Y:%m:%d %H:%M:%S")
    return exif


def _jpeg(root: Path, rel: str, img: Image.Image, local: dt.datetime, rating: int | None = None) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "JPEG", quality=90, exif=_exif(local, rating))


def _png_screenshot(root: Path, rel: str, img: Image.Image, local: dt.datetime) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "PNG")
    stamp = local.replace(tzinfo=dt.UTC).timestamp()  # no EXIF: the scan dates it by its mtime (UTC library)
    os.utime(path, (stamp, stamp))


def _at(day: int, hour: int, minute: int, second: int = 0) -> dt.datetime:
    return dt.datetime.combine(MONDAY + dt.timedelta(days=day), dt.time(hour, minute, second))


def write_labelled_library(root: Path) -> list[Labelled]:
    """Write the library under ``root`` (library time zone: UTC); returns the labels."""
    out: list[Labelled] = []

    def photo(rel: str, img: Image.Image, local: dt.datetime, label: str, moment: int, rating=None) -> None:
        _jpeg(root, rel, img, local, rating)
        out.append(Labelled(rel, label, moment))

    def shot(rel: str, img: Image.Image, local: dt.datetime, moment: int) -> None:
        _png_screenshot(root, rel, img, local)
        out.append(Labelled(rel, SCREENSHOT, moment))

    # Moment 0, Monday morning: a burst of 5 near-identical frames, and one other shot.
    base = scene(1)
    rng = np.random.default_rng(7)
    for i in range(5):
        jitter = Image.fromarray(
            np.clip(np.asarray(base, dtype=np.int16) + rng.integers(-6, 7, (SIZE[1], SIZE[0], 3)), 0, 255).astype(
                np.uint8
            )
        ).rotate(0.3 * i, resample=Image.Resampling.BILINEAR)
        photo(f"mon/burst_{i}.jpg", jitter, _at(0, 9, 30, 2 * i), BURST, 0)
    # A little soft (not blurred): the burst's best frame is the better shot of the moment.
    photo("mon/square.jpg", scene(2).filter(ImageFilter.GaussianBlur(1.0)), _at(0, 9, 41), GOOD, 0)
    # Moment 1, Tuesday afternoon: a blurred shot and a sharp alternative.
    photo("tue/blurred.jpg", scene(3).filter(ImageFilter.GaussianBlur(7)), _at(1, 15, 2), BLURRED, 1)
    photo("tue/market.jpg", scene(4), _at(1, 15, 10), GOOD, 1)
    # Moment 2, Wednesday evening: a blurred shot, a sharp one, two screenshots.
    photo("wed/blurred.jpg", scene(5).filter(ImageFilter.GaussianBlur(7)), _at(2, 19, 0), BLURRED, 2)
    photo("wed/dinner.jpg", scene(6), _at(2, 19, 12), GOOD, 2)
    shot("wed/Screenshot_20240529-192000.png", screenshot(1), _at(2, 19, 20), 2)
    shot("wed/IMG_4032.PNG", screenshot(2), _at(2, 19, 25), 2)
    # Moment 3, Thursday noon: a blurred shot, a far too dark one, a sharp one.
    photo("thu/blurred.jpg", scene(7).filter(ImageFilter.GaussianBlur(7)), _at(3, 12, 0), BLURRED, 3)
    photo("thu/dark.jpg", Image.eval(scene(8), lambda v: v // 16), _at(3, 12, 8), DARK, 3)
    photo("thu/lunch.jpg", scene(9), _at(3, 12, 15), GOOD, 3)
    # Moment 4, Saturday: a far too dark shot, the favourite (a face, Rating 5), another.
    photo("sat/dark.jpg", Image.eval(scene(10), lambda v: v // 16), _at(5, 11, 0), DARK, 4)
    photo("sat/favourite.jpg", face_photo(at=(0.3, 0.45)), _at(5, 11, 5), FAVORITE, 4, rating=5)
    photo("sat/beach.jpg", scene(11), _at(5, 11, 20), GOOD, 4)
    # Moment 5, Sunday evening: two shots and a screenshot.
    photo("sun/park.jpg", scene(12), _at(6, 17, 0), GOOD, 5)
    photo("sun/sunset.jpg", scene(13), _at(6, 17, 25), GOOD, 5)
    shot("sun/Screenshot_20240602-173000.png", screenshot(3), _at(6, 17, 30), 5)
    return out


@dataclass(frozen=True)
class Figures:
    """What a reel's shots hold, against the labels."""

    shots: int
    screenshots: int
    burst: int
    blurred_or_dark: int
    favourite: int
    moments_covered: int
    moments: int

    def meets_the_bar(self) -> bool:
        return (
            self.screenshots == 0
            and self.burst <= 1
            and self.blurred_or_dark == 0
            and self.favourite == 1
            and self.moments_covered == self.moments
        )


def figures(labels: list[Labelled], rel_paths: list[str]) -> Figures:
    by_path = {item.rel_path: item for item in labels}
    picked = [by_path[p] for p in rel_paths]
    return Figures(
        shots=len(picked),
        screenshots=sum(1 for p in picked if p.label == SCREENSHOT),
        burst=sum(1 for p in picked if p.label == BURST),
        blurred_or_dark=sum(1 for p in picked if p.label in (BLURRED, DARK)),
        favourite=sum(1 for p in picked if p.label == FAVORITE),
        moments_covered=len({p.moment for p in picked}),
        moments=len({item.moment for item in labels}),
    )

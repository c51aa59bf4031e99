#!/usr/bin/env python
"""Write a small, realistic sample library for demos and tests.

    python scripts/make_sample.py [--data-dir DIR] [--today YYYY-MM-DD] [--force]

The library goes to ``DIR/sample-library`` (``DIR`` defaults to ``$REEL_DATA_DIR``,
else ``./var``). Its content is laid out relative to ``--today`` (default: today in
``$REEL_TIMEZONE``, else UTC) so that every span x kind window anchored on that day
has media:

* RECAP DAY: yesterday, a birthday picnic at home in Lyon (4 photos, one portrait
  stored landscape with EXIF Orientation=6, a PNG screenshot without EXIF, a clip),
  and what phones and exports make (``_phone`` folder, ``Takeout/``, ``WhatsApp/``,
  ``Backup/``): HEICs with EXIF, a Live Photo, a portrait clip with a display matrix,
  an HEVC 10-bit HLG clip, a clip with a voice, a Takeout photo with its JSON sidecar,
  WhatsApp photos without EXIF and a duplicate;
* RECAP WEEK: every day of last ISO week;
* RECAP MONTH: a weekend in Nice last month (with a .mov clip);
* ON_THIS_DAY DAY/WEEK: today's month-day and the days after it in Paris (a year
  ago, with a clip), Lisbon (two years ago) and Kyoto (four years ago);
* ON_THIS_DAY MONTH: other days of this calendar month in earlier years;
* TRIP: a weekend in Avignon (200 km from home in Lyon, Friday to Sunday: two
  nights) before last ISO week, kept three days or more away from the Nice weekend
  so that the two never read as one trip; home is Lyon, the place seen on the most
  days;
* YEAR RECAP: a photo in Lyon on the 15th of March, June, September and December
  of last year, besides the Paris trip a year ago.

Photos carry EXIF DateTimeOriginal; "phone" shots add OffsetTimeOriginal and GPS,
"compact camera" shots have neither. Photo times are between 08:00 and 21:30 local,
so the windows hold for any library time zone from UTC to Europe/Paris. One
truncated JPEG and one empty file show the scanner's skipping. The context pack
(``.reels-context/``: calendar.ics, locations.gpx, messages.json, notes/) matches
the same days and places.

Idempotent: a marker file records ``--today``; a second run for the same day does
nothing, a run for another day rebuilds the folder (built beside it, then swapped in).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import gpxpy.gpx
import icalendar
import imageio_ffmpeg
import numpy as np
from PIL import ExifTags, Image, ImageDraw, ImageFont

from reels_core import clock
from reels_core.libraries import CONTEXT_DIR
from service_kit.settings import load_settings

GENERATOR_VERSION = 3  # 2: the Avignon trip and last year's photos; 3: the phone and export files of issue 12
LIBRARY_DIR_NAME = "sample-library"
MARKER_NAME = ".sample.json"  # hidden: the scanner ignores it
PHOTO_SIZE = (1280, 960)
VIDEO_SIZE = "640x360"
UTC = dt.UTC


# ---------------------------------------------------------------- places


@dataclass(frozen=True)
class Spot:
    name: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Place:
    city: str
    tz: str
    scene: str
    spots: tuple[Spot, ...]


PLACES: dict[str, Place] = {
    "lyon": Place(
        "Lyon",
        "Europe/Paris",
        "lyon",
        (
            Spot("Fourvière", 45.7622, 4.8219),
            Spot("Parc de la Tête d'Or", 45.7772, 4.8550),
            Spot("Quai de Saône", 45.7640, 4.8270),
            Spot("Croix-Rousse", 45.7743, 4.8320),
        ),
    ),
    "nice": Place(
        "Nice",
        "Europe/Paris",
        "sea",
        (
            Spot("Promenade des Anglais", 43.6947, 7.2553),
            Spot("Colline du Château", 43.6953, 7.2810),
            Spot("Vieux Nice", 43.6966, 7.2760),
        ),
    ),
    "paris": Place(
        "Paris",
        "Europe/Paris",
        "paris",
        (
            Spot("Tour Eiffel", 48.8584, 2.2945),
            Spot("Notre-Dame", 48.8530, 2.3499),
            Spot("Montmartre", 48.8867, 2.3431),
        ),
    ),
    "lisbon": Place(
        "Lisbon",
        "Europe/Lisbon",
        "lisbon",
        (
            Spot("Alfama", 38.7115, -9.1300),
            Spot("Belém", 38.6916, -9.2160),
            Spot("Miradouro da Graça", 38.7163, -9.1318),
        ),
    ),
    "avignon": Place(
        "Avignon",
        "Europe/Paris",
        "lisbon",  # ochre houses on a hill
        (
            Spot("Place de l'Horloge", 43.9493, 4.8055),
            Spot("Palais des Papes", 43.9509, 4.8073),
            Spot("Rocher des Doms", 43.9528, 4.8069),
        ),
    ),
    "kyoto": Place(
        "Kyoto",
        "Asia/Tokyo",
        "kyoto",
        (
            Spot("Fushimi Inari", 34.9671, 135.7727),
            Spot("Kiyomizu-dera", 34.9949, 135.7850),
            Spot("Arashiyama", 35.0170, 135.6713),
        ),
    ),
}


@dataclass(frozen=True)
class PhotoSpec:
    local: dt.datetime  # aware, in the place's zone
    place: str
    spot: int
    camera: str = "phone"  # "phone": offset + GPS; "compact": neither
    portrait: bool = False  # stored landscape, EXIF Orientation=6
    png: bool = False  # a screenshot: PNG, no EXIF, dated by mtime only

    @property
    def utc(self) -> dt.datetime:
        return self.local.astimezone(UTC)


@dataclass(frozen=True)
class VideoSpec:
    local: dt.datetime
    place: str
    source: str  # an ffmpeg lavfi video source
    seconds: float
    tone_hz: int
    ext: str = ".mp4"
    apple_date: bool = False  # also write com.apple.quicktime.creationdate (with offset)

    @property
    def utc(self) -> dt.datetime:
        return self.local.astimezone(UTC)


@dataclass(frozen=True)
class Trip:
    slug: str
    title: str
    place: str
    first: dt.date
    last: dt.date  # inclusive


@dataclass
class Plan:
    today: dt.date
    photos: list[PhotoSpec]
    videos: list[VideoSpec]
    trips: list[Trip]
    birthday: dt.date
    climbing_day: dt.date  # the Wednesday of last week


def same_month_day(anchor: dt.date, year: int) -> dt.date:
    try:
        return anchor.replace(year=year)
    except ValueError:  # 29 February in a year without one
        return dt.date(year, 2, 28)


def _at(day: dt.date, hhmm: str, place: str) -> dt.datetime:
    hour, minute = (int(part) for part in hhmm.split(":"))
    second = (hour * 7 + minute * 13 + day.day) % 60
    return dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=ZoneInfo(PLACES[place].tz))


def plan_library(today: dt.date) -> Plan:
    """What to shoot, relative to ``today``."""
    photos: list[PhotoSpec] = []
    videos: list[VideoSpec] = []
    one_day = dt.timedelta(days=1)

    def photo(day: dt.date, hhmm: str, place: str, spot: int, **kw) -> None:
        photos.append(PhotoSpec(_at(day, hhmm, place), place, spot, **kw))

    # RECAP DAY: yesterday, Léa's birthday picnic in the park.
    yesterday = today - one_day
    photo(yesterday, "09:14", "lyon", 3, camera="compact")
    photo(yesterday, "12:41", "lyon", 1, portrait=True)
    photo(yesterday, "16:05", "lyon", 1)
    photo(yesterday, "19:32", "lyon", 0, camera="compact")
    photo(yesterday, "21:10", "lyon", 2, png=True)
    videos.append(VideoSpec(_at(yesterday, "17:02", "lyon"), "lyon", "testsrc2", 3, 440))

    # RECAP WEEK: every day of last ISO week; climbing on Wednesday, more at the weekend.
    last_monday = today - dt.timedelta(days=today.weekday() + 7)
    for i in range(7):
        day = last_monday + dt.timedelta(days=i)
        photo(day, "08:48" if i < 5 else "10:20", "lyon", i % 4, camera="compact" if i % 3 == 0 else "phone")
        if i == 2:
            photo(day, "19:40", "lyon", 3)
        if i >= 5:
            photo(day, "18:45", "lyon", (i + 1) % 4)

    # RECAP MONTH: a weekend in Nice on the 12th-14th of last month.
    this_month = today.replace(day=1)
    last_month = (this_month - one_day).replace(day=1)
    photo(last_month + 2 * one_day, "11:05", "lyon", 2, camera="compact")
    nice_days = [last_month.replace(day=d) for d in (12, 13, 14)]
    for k, day in enumerate(nice_days):
        for j, hhmm in enumerate(("10:12", "14:37", "19:05")):
            photo(day, hhmm, "nice", (k + j) % 3)
    videos.append(VideoSpec(_at(nice_days[1], "18:20", "nice"), "nice", "mandelbrot", 4, 523, ".mov", True))

    # ON_THIS_DAY DAY and WEEK: today's month-day, and the days after it, years ago.
    year = today.year
    paris = same_month_day(today, year - 1)
    for hhmm, spot in (("10:30", 1), ("15:10", 0), ("20:05", 0)):
        photo(paris, hhmm, "paris", spot)
    photo(paris + 2 * one_day, "11:45", "paris", 2)
    videos.append(VideoSpec(_at(paris, "16:00", "paris"), "paris", "gradients", 2, 330))
    lisbon = same_month_day(today, year - 2)
    photo(lisbon, "11:20", "lisbon", 0)
    photo(lisbon, "17:55", "lisbon", 2)
    photo(lisbon + 1 * one_day, "12:30", "lisbon", 1)
    photo(lisbon + 3 * one_day, "13:05", "lisbon", 1)
    photo(lisbon + 5 * one_day, "18:40", "lisbon", 2)
    kyoto = same_month_day(today, year - 4)
    photo(kyoto, "11:05", "kyoto", 0)
    photo(kyoto, "15:30", "kyoto", 1)
    photo(kyoto + one_day, "12:15", "kyoto", 2)

    # ON_THIS_DAY MONTH: other days of this calendar month in earlier years.
    for past_year, days in ((year - 3, (3, 11, 24)), (year - 1, (1,)), (year - 6, (17,))):
        month_length = (_first_of_next_month(dt.date(past_year, today.month, 1)) - one_day).day
        for d in days:
            photo(dt.date(past_year, today.month, min(d, month_length)), "11:50", "lyon", d % 4, camera="compact")

    # TRIP: Friday to Sunday in Avignon before last ISO week (a week earlier each
    # time it would come within three days of the Nice weekend).
    avignon_last = last_monday - one_day
    while abs((avignon_last - nice_days[-1]).days) <= 5:
        avignon_last -= 7 * one_day
    avignon_days = [avignon_last - 2 * one_day, avignon_last - one_day, avignon_last]
    for k, day in enumerate(avignon_days):
        for j, hhmm in enumerate(("10:40", "17:20") if k else ("17:40", "20:10")):
            photo(day, hhmm, "avignon", (k + j) % 3 or 1)

    # YEAR RECAP: a few days at home last year.
    for month in (3, 6, 9, 12):
        photo(dt.date(year - 1, month, 15), "12:30", "lyon", month % 4)

    trips = [
        Trip("nice", "Weekend in Nice", "nice", nice_days[0], nice_days[-1]),
        Trip("paris", "Paris trip", "paris", paris, paris + 2 * one_day),
        Trip("lisbon", "Lisbon with Sam", "lisbon", lisbon, lisbon + 5 * one_day),
        Trip("kyoto", "Kyoto", "kyoto", kyoto, kyoto + one_day),
        Trip("avignon", "Weekend in Avignon", "avignon", avignon_days[0], avignon_days[-1]),
    ]
    photos.sort(key=lambda p: p.utc)
    return Plan(today, photos, videos, trips, birthday=yesterday, climbing_day=last_monday + 2 * one_day)


def _first_of_next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


# ---------------------------------------------------------------- painting

SKIES = {  # (zenith, horizon) colours by time of day
    "morning": ((86, 138, 204), (248, 206, 164)),
    "day": ((34, 96, 188), (172, 210, 238)),
    "evening": ((56, 56, 122), (252, 146, 84)),
    "night": ((8, 12, 34), (40, 52, 94)),
}


def _time_of_day(hour: float) -> str:
    if 6 <= hour < 10:
        return "morning"
    if 10 <= hour < 17:
        return "day"
    if 17 <= hour < 20.5:
        return "evening"
    return "night"


class Painter:
    """Paints plausible holiday snapshots: sky, sun, sea or hills, a few shapes
    per place, film grain and a vignette. Deterministic for a given seed."""

    def __init__(self) -> None:
        side = max(PHOTO_SIZE) + 64
        self._grain = np.random.default_rng(7).normal(0.0, 1.0, (side, side)).astype(np.float32)
        self._font = ImageFont.load_default(size=22)
        self._grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def _grid(self, w: int, h: int):
        """Half-resolution pixel coordinates (in full-size units) for the smooth
        layers, and a full-size vignette."""
        if (w, h) not in self._grids:
            ys, xs = np.mgrid[0:h:2, 0:w:2].astype(np.float32)
            full_y, full_x = np.ogrid[0:h, 0:w]
            r2 = ((full_x - w / 2) / (w / 2)) ** 2 + ((full_y - h / 2) / (h / 2)) ** 2
            vignette = (1.0 - 0.28 * np.clip(r2 - 0.35, 0, None)).astype(np.float32)[..., None]
            self._grids[(w, h)] = (xs, ys, vignette)
        return self._grids[(w, h)]

    def paint(self, spec: PhotoSpec, size: tuple[int, int], seed: int) -> Image.Image:
        w, h = size
        rng = np.random.default_rng(seed)
        xs, ys, vignette = self._grid(w, h)
        hour = spec.local.hour + spec.local.minute / 60
        tod = _time_of_day(hour)
        scene = PLACES[spec.place].scene
        horizon = h * (0.48 if scene == "sea" else rng.uniform(0.52, 0.62))

        # Sky: zenith-to-horizon gradient.
        top, bottom = (np.array(c, np.float32) for c in SKIES[tod])
        t = np.clip(ys[:, :1] / horizon, 0, 1) ** 0.7
        canvas = np.broadcast_to(top * (1 - t[..., None]) + bottom * t[..., None], (*xs.shape, 3)).copy()

        # Sun (or moon) with a glow, moving east to west through the day.
        frac = min(max((hour - 6) / 15, 0.0), 1.0)
        sx = w * (0.12 + 0.76 * frac) + rng.uniform(-60, 60)
        sy = horizon - horizon * 0.75 * math.sin(math.pi * frac) + 40
        radius = (0.035 if tod != "night" else 0.022) * w
        d2 = (xs - sx) ** 2 + (ys - sy) ** 2
        glow_colour = np.array((255, 236, 190) if tod != "night" else (210, 220, 255), np.float32)
        glow = np.exp(-d2 / (2 * (radius * 3.5) ** 2)) * (0.55 if tod != "night" else 0.25)
        canvas += (glow_colour - canvas) * glow[..., None]
        canvas[d2 < radius**2] = glow_colour
        if tod == "night":
            stars = rng.integers(0, [w, int(horizon)], size=(90, 2))
            canvas[stars[:, 1] // 2, stars[:, 0] // 2] = 230

        # Distant hills, then sea or land.
        for base, amp, colour in self._hill_layers(scene, tod, horizon, h):
            phase, freq = rng.uniform(0, 6.3), rng.uniform(1.5, 4.0) / w
            ridge = base - amp * (
                0.6 * np.sin(xs[0] * freq * 2 * math.pi + phase)
                + 0.4 * np.sin(xs[0] * freq * 5.3 * math.pi + 2 * phase)
            )
            mask = ys >= ridge[None, :]
            shade = (1 - 0.22 * np.clip((ys - ridge[None, :]) / (h - ridge.min() + 1), 0, 1))[..., None]
            canvas = np.where(mask[..., None], np.array(colour, np.float32) * shade, canvas)
        if scene in ("sea", "lisbon") or (scene == "lyon" and spec.spot in (0, 2)):
            water_top = horizon if scene == "sea" else h * 0.8
            self._water(canvas, xs, ys, water_top, tod, rng)

        img = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8)).resize((w, h), Image.Resampling.BILINEAR)
        draw = ImageDraw.Draw(img)
        getattr(self, f"_draw_{scene}")(draw, spec, w, h, horizon, tod, rng)

        # Film grain and vignette (a screenshot has neither).
        if not spec.png:
            arr = np.asarray(img).astype(np.float32)
            ox, oy = rng.integers(0, 64, size=2)
            grain = self._grain[oy : oy + h, ox : ox + w][..., None]
            arr = arr * vignette + grain * 4.5
            img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        if spec.camera == "compact":  # the orange date stamp of a cheap camera
            stamp = f"'{spec.local:%y} {spec.local.month} {spec.local.day}"
            ImageDraw.Draw(img).text((w - 150, h - 48), stamp, fill=(255, 140, 40), font=self._font)
        return img

    @staticmethod
    def _hill_layers(scene: str, tod: str, horizon: float, h: int):
        dim = 0.45 if tod == "night" else (0.8 if tod == "evening" else 1.0)
        palettes = {
            "sea": [(horizon - 18, 26, (118, 140, 150))],
            "paris": [(horizon + 20, 10, (150, 156, 150)), (h * 0.74, 6, (92, 104, 84))],
            "lisbon": [(horizon - 10, 60, (170, 150, 120)), (h * 0.7, 30, (150, 120, 90))],
            "kyoto": [
                (horizon - 40, 70, (70, 110, 86)),
                (horizon + 30, 55, (46, 92, 58)),
                (h * 0.78, 24, (60, 88, 44)),
            ],
            "lyon": [(horizon - 20, 60, (96, 124, 84)), (h * 0.75, 20, (110, 138, 80))],
        }
        return [(b, a, tuple(int(c * dim) for c in col)) for b, a, col in palettes[scene]]

    @staticmethod
    def _water(canvas, xs, ys, top, tod, rng) -> None:
        h = float(ys[-1, 0]) + 2  # full-size height (the canvas is half size)
        near, far = ((14, 64, 120), (70, 140, 190)) if tod != "night" else ((6, 14, 36), (24, 40, 80))
        if tod == "evening":
            near, far = (40, 50, 100), (190, 120, 100)
        rows = ys[:, :1]
        t = np.clip((rows - top) / (h - top), 0, 1)[..., None]
        colour = np.array(far, np.float32) * (1 - t) + np.array(near, np.float32) * t
        waves = np.sin(ys * 0.45 + 4 * np.sin(xs * 0.013 + rng.uniform(0, 6))) * (6 + 10 * t[..., 0])
        water = colour + waves[..., None]
        mask = (ys >= top)[..., None]
        np.copyto(canvas, water, where=mask)

    # One small scene per place: shapes drawn over the landscape.

    def _draw_sea(self, draw, spec, w, h, horizon, tod, rng) -> None:
        beach = h * 0.8
        draw.polygon([(0, beach + 20), (w, beach - 30), (w, h), (0, h)], fill=(222, 200, 156))
        for _ in range(rng.integers(3, 7)):  # parasols
            x, y = rng.uniform(0.05, 0.95) * w, rng.uniform(beach + 10, h - 60)
            colour = tuple(int(c) for c in rng.choice([(220, 60, 50), (40, 90, 200), (250, 200, 40), (30, 150, 120)]))
            draw.line([(x, y), (x, y + 70)], fill=(90, 80, 70), width=4)
            draw.polygon([(x - 55, y + 12), (x, y - 22), (x + 55, y + 12)], fill=colour)
        if spec.spot != 1:  # a palm tree on the promenade
            x = w * (0.08 if spec.spot == 0 else 0.88)
            draw.line([(x, h), (x + 25, h * 0.42)], fill=(96, 70, 40), width=18)
            for angle in range(0, 360, 45):
                ax, ay = math.cos(math.radians(angle)), math.sin(math.radians(angle)) * 0.5
                draw.line(
                    [(x + 25, h * 0.42), (x + 25 + 120 * ax, h * 0.42 + 80 * ay + 30)], fill=(34, 96, 44), width=14
                )
        if spec.spot == 2:  # old-town facades
            for i in range(5):
                x0 = i * 70
                draw.rectangle(
                    [x0, h * 0.35 + i * 9, x0 + 68, beach], fill=[(214, 150, 70), (196, 96, 60), (230, 190, 110)][i % 3]
                )

    def _draw_paris(self, draw, spec, w, h, horizon, tod, rng) -> None:
        ground = h * 0.74
        lit = tod in ("night", "evening")
        x = 0.0
        while x < w:  # Haussmann blocks with zinc roofs
            bw, bh = rng.uniform(110, 200), rng.uniform(0.18, 0.3) * h
            top = ground - bh
            draw.rectangle([x, top, x + bw, ground], fill=(224, 212, 186) if not lit else (150, 140, 120))
            draw.polygon([(x, top), (x + 12, top - 30), (x + bw - 12, top - 30), (x + bw, top)], fill=(112, 124, 140))
            for wy in np.arange(top + 16, ground - 20, 34):
                for wx in np.arange(x + 12, x + bw - 20, 28):
                    draw.rectangle(
                        [wx, wy, wx + 12, wy + 20],
                        fill=(250, 214, 120) if lit and rng.random() < 0.5 else (80, 90, 104),
                    )
            x += bw + 4
        if spec.spot == 0:  # the tower
            cx, base, top = w * rng.uniform(0.45, 0.65), ground + 10, h * 0.12
            colour = (92, 66, 46) if not lit else (230, 170, 70)
            draw.polygon(
                [
                    (cx - 150, base),
                    (cx - 14, top + 90),
                    (cx - 4, top),
                    (cx + 4, top),
                    (cx + 14, top + 90),
                    (cx + 150, base),
                    (cx + 90, base),
                    (cx, base - 150),
                    (cx - 90, base),
                ],
                fill=colour,
            )
            draw.rectangle([cx - 70, base - 170, cx + 70, base - 156], fill=colour)
            draw.rectangle([cx - 34, top + 160, cx + 34, top + 172], fill=colour)
        elif spec.spot == 1:  # two square towers and a rose window
            cx = w * 0.5
            draw.rectangle([cx - 220, h * 0.2, cx + 220, ground], fill=(196, 186, 160))
            draw.rectangle([cx - 220, h * 0.12, cx - 90, h * 0.2], fill=(186, 176, 150))
            draw.rectangle([cx + 90, h * 0.12, cx + 220, h * 0.2], fill=(186, 176, 150))
            draw.ellipse(
                [cx - 60, h * 0.3, cx + 60, h * 0.3 + 120], fill=(70, 60, 110), outline=(150, 140, 120), width=6
            )
        else:  # the white domes on the hill
            cx = w * 0.55
            draw.pieslice([cx - 150, h * 0.1, cx + 150, h * 0.4], 180, 360, fill=(246, 244, 236))
            draw.rectangle([cx - 150, h * 0.25, cx + 150, h * 0.45], fill=(240, 238, 228))
        draw.rectangle([0, ground, w, h], fill=(120, 128, 126) if spec.spot != 2 else (110, 120, 90))

    def _draw_lisbon(self, draw, spec, w, h, horizon, tod, rng) -> None:
        walls = [(246, 214, 96), (236, 160, 170), (244, 240, 230), (120, 170, 210), (230, 130, 70)]
        for _ in range(60):  # houses climbing the hill
            x, y = rng.uniform(0, w), rng.uniform(horizon - 20, h * 0.78)
            bw, bh = rng.uniform(40, 90), rng.uniform(36, 70)
            draw.rectangle([x, y, x + bw, y + bh], fill=tuple(walls[rng.integers(len(walls))]))
            draw.polygon([(x - 4, y), (x + bw / 2, y - 16), (x + bw + 4, y)], fill=(184, 84, 52))
            draw.rectangle([x + bw * 0.4, y + bh * 0.4, x + bw * 0.6, y + bh * 0.8], fill=(60, 50, 50))
        if spec.spot == 0:  # the yellow tram
            y = h * 0.7
            draw.rounded_rectangle([w * 0.3, y, w * 0.3 + 300, y + 130], radius=18, fill=(250, 204, 30))
            for i in range(5):
                draw.rectangle([w * 0.3 + 18 + i * 56, y + 20, w * 0.3 + 58 + i * 56, y + 62], fill=(70, 90, 110))

    def _draw_kyoto(self, draw, spec, w, h, horizon, tod, rng) -> None:
        vermilion = (214, 62, 30)
        if spec.spot == 0:  # a tunnel of torii
            for i in range(9, 0, -1):
                s = 0.25 + i * 0.09
                cx, base = w * 0.5, h * 0.55 + 60 * s
                half, height = 260 * s, 420 * s
                draw.rectangle([cx - half, base - height, cx - half + 24 * s, base], fill=vermilion)
                draw.rectangle([cx + half - 24 * s, base - height, cx + half, base], fill=vermilion)
                draw.rectangle(
                    [cx - half - 40 * s, base - height, cx + half + 40 * s, base - height + 26 * s], fill=(40, 30, 30)
                )
                draw.rectangle(
                    [cx - half, base - height * 0.8, cx + half, base - height * 0.8 + 16 * s], fill=vermilion
                )
        elif spec.spot == 1:  # a pagoda among maples
            cx, base = w * rng.uniform(0.35, 0.6), h * 0.78
            for level in range(5):
                y = base - level * 95
                width = 190 - level * 26
                draw.rectangle([cx - width * 0.55, y - 70, cx + width * 0.55, y], fill=vermilion)
                draw.polygon([(cx - width, y - 62), (cx, y - 104), (cx + width, y - 62)], fill=(50, 44, 40))
            for _ in range(14):
                x, y = rng.uniform(0, w), rng.uniform(h * 0.6, h * 0.95)
                r = rng.uniform(40, 90)
                draw.ellipse(
                    [x - r, y - r, x + r, y + r],
                    fill=tuple(int(c) for c in rng.choice([(200, 60, 30), (230, 120, 40), (170, 40, 40)])),
                )
        else:  # a bamboo grove
            for _ in range(40):
                x, width = rng.uniform(0, w), rng.uniform(8, 22)
                green = (int(rng.uniform(70, 130)), int(rng.uniform(140, 190)), int(rng.uniform(60, 100)))
                draw.rectangle([x, 0, x + width, h], fill=green)

    def _draw_lyon(self, draw, spec, w, h, horizon, tod, rng) -> None:
        lit = tod in ("night", "evening")
        if spec.spot == 0:  # the basilica on its hill
            cx, top = w * rng.uniform(0.35, 0.65), horizon - 110
            draw.rectangle([cx - 90, top, cx + 90, top + 70], fill=(240, 236, 222))
            for tx in (cx - 90, cx + 70):
                draw.rectangle([tx, top - 40, tx + 20, top + 70], fill=(236, 232, 216))
        if spec.spot in (0, 2):  # ochre and orange quays along the river
            x = 0.0
            while x < w:
                bw, bh = rng.uniform(80, 150), rng.uniform(0.12, 0.22) * h
                colour = tuple(
                    int(c) for c in rng.choice([(226, 150, 70), (236, 190, 110), (210, 110, 80), (240, 210, 160)])
                )
                draw.rectangle([x, h * 0.8 - bh, x + bw, h * 0.8], fill=colour)
                for wy in np.arange(h * 0.8 - bh + 12, h * 0.8 - 16, 30):
                    draw.rectangle([x + 10, wy, x + bw - 10, wy + 14], fill=(250, 214, 120) if lit else (90, 80, 80))
                x += bw
        elif spec.spot == 1:  # the park: lawn, trees, a picnic blanket
            draw.rectangle([0, h * 0.7, w, h], fill=(96, 150, 70))
            for _ in range(9):
                x, y = rng.uniform(0, w), rng.uniform(h * 0.55, h * 0.72)
                draw.line([(x, y), (x, y + 90)], fill=(80, 60, 40), width=10)
                r = rng.uniform(50, 90)
                draw.ellipse([x - r, y - r * 1.2, x + r, y + r * 0.4], fill=(50, int(rng.uniform(100, 140)), 50))
            bx, by = w * rng.uniform(0.3, 0.5), h * 0.82
            draw.polygon([(bx, by), (bx + 260, by - 20), (bx + 300, by + 80), (bx + 30, by + 100)], fill=(200, 50, 60))
        else:  # rooftops of the Croix-Rousse
            for _ in range(26):
                x, y = rng.uniform(-40, w), rng.uniform(h * 0.62, h * 0.95)
                bw = rng.uniform(90, 180)
                draw.polygon(
                    [(x, y), (x + bw * 0.5, y - 50), (x + bw, y), (x + bw, y + 120), (x, y + 120)],
                    fill=(int(rng.uniform(170, 210)), int(rng.uniform(80, 110)), 60),
                )


# ---------------------------------------------------------------- writing media


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes_float = (value - degrees) * 60
    minutes = int(minutes_float)
    return float(degrees), float(minutes), round((minutes_float - minutes) * 60, 2)


def _exif_for(spec: PhotoSpec, lat: float, lon: float) -> Image.Exif:
    exif = Image.Exif()
    stamp = spec.local.strftime("%Y:%m:%d %H:%M:%S")
    exif[0x010F] = "Reels"  # Make
    exif[0x0110] = "Sample Phone" if spec.camera == "phone" else "Sample Compact"  # Model
    exif[0x0131] = "make_sample.py"  # Software
    exif[0x0132] = stamp  # DateTime
    exif[0x0112] = 6 if spec.portrait else 1  # Orientation
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[0x9003] = stamp  # DateTimeOriginal
    sub[0x9004] = stamp  # DateTimeDigitized
    if spec.camera == "phone":
        offset = spec.local.strftime("%z")
        offset = f"{offset[:3]}:{offset[3:]}"
        sub[0x9010] = sub[0x9011] = sub[0x9012] = offset  # OffsetTime, ...Original, ...Digitized
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        utc = spec.utc
        gps[0] = b"\x02\x03\x00\x00"  # GPSVersionID
        gps[1], gps[2] = ("N" if lat >= 0 else "S"), _dms(abs(lat))
        gps[3], gps[4] = ("E" if lon >= 0 else "W"), _dms(abs(lon))
        gps[7] = (float(utc.hour), float(utc.minute), float(utc.second))  # GPSTimeStamp
        gps[29] = utc.strftime("%Y:%m:%d")  # GPSDateStamp
    return exif


def _seed(name: str) -> int:
    return int.from_bytes(hashlib.sha1(name.encode()).digest()[:4], "big")


def _photo_rel_path(spec: PhotoSpec) -> str:
    day = spec.local.date()
    folder = f"{day.year}/{day.isoformat()}_{spec.place}"
    if spec.png:
        return f"{folder}/Screenshot_{spec.local:%Y%m%d_%H%M%S}.png"
    return f"{folder}/IMG_{spec.local:%Y%m%d_%H%M%S}.jpg"


def _write_photo(painter: Painter, spec: PhotoSpec, path: Path) -> tuple[float, float]:
    spot = PLACES[spec.place].spots[spec.spot]
    seed = _seed(path.name)
    jitter = np.random.default_rng(seed).uniform(-0.0015, 0.0015, size=2)
    lat, lon = round(spot.lat + jitter[0], 6), round(spot.lon + jitter[1], 6)
    size = (PHOTO_SIZE[1], PHOTO_SIZE[0]) if spec.portrait else PHOTO_SIZE
    img = painter.paint(spec, size, seed)
    if spec.portrait:  # stored as the sensor saw it: rotated a quarter turn anticlockwise
        img = img.transpose(Image.Transpose.ROTATE_90)
    path.parent.mkdir(parents=True, exist_ok=True)
    if spec.png:
        img.save(path, "PNG")
    else:
        img.save(path, "JPEG", quality=85, exif=_exif_for(spec, lat, lon))
    stamp = spec.utc.timestamp()
    os.utime(path, (stamp, stamp))
    return lat, lon


def _start_video(spec: VideoSpec, path: Path) -> subprocess.Popen:
    path.parent.mkdir(parents=True, exist_ok=True)
    created = spec.utc.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"{spec.source}=size={VIDEO_SIZE}:rate=30",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency={spec.tone_hz}:sample_rate=44100",
        "-t",
        str(spec.seconds),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        "-metadata",
        f"creation_time={created}",
    ]
    if spec.apple_date:
        cmd += [
            "-metadata",
            f"com.apple.quicktime.creationdate={spec.local.isoformat()}",
            "-movflags",
            "+faststart+use_metadata_tags",
        ]
    else:
        cmd += ["-movflags", "+faststart"]
    return subprocess.Popen([*cmd, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _video_rel_path(spec: VideoSpec) -> str:
    day = spec.local.date()
    return f"{day.year}/{day.isoformat()}_{spec.place}/VID_{spec.local:%Y%m%d_%H%M%S}{spec.ext}"


# ---------------------------------------------------------------- context pack


def _write_calendar(plan: Plan, path: Path) -> None:
    paris_tz = ZoneInfo("Europe/Paris")
    cal = icalendar.Calendar()
    cal.add("prodid", "-//memory-reels//make_sample//EN")
    cal.add("version", "2.0")
    stamp = dt.datetime.combine(plan.today, dt.time(6), tzinfo=UTC)

    def event(uid: str, summary: str, start, end, location: str = "", rrule: dict | None = None) -> None:
        ev = icalendar.Event()
        ev.add("uid", f"{uid}@sample.reels")
        ev.add("dtstamp", stamp)
        ev.add("summary", summary)
        ev.add("dtstart", start)
        ev.add("dtend", end)
        if location:
            ev.add("location", location)
        if rrule:
            ev.add("rrule", rrule)
        cal.add_component(ev)

    birthday_first = same_month_day(plan.birthday, plan.birthday.year - 6)
    if (birthday_first.month, birthday_first.day) != (plan.birthday.month, plan.birthday.day):
        birthday_first = plan.birthday  # 29 February: start the series this year
    event(
        "birthday-lea",
        "Léa's birthday",
        birthday_first,
        birthday_first + dt.timedelta(days=1),
        rrule={"freq": "yearly"},
    )
    climbing_first = plan.climbing_day - dt.timedelta(weeks=12)
    event(
        "climbing-weekly",
        "Climbing at the gym",
        dt.datetime.combine(climbing_first, dt.time(19, 0), tzinfo=paris_tz),
        dt.datetime.combine(climbing_first, dt.time(21, 0), tzinfo=paris_tz),
        location="Croix-Rousse, Lyon",
        rrule={"freq": "weekly", "byday": "WE"},
    )
    event(
        "picnic-park",
        "Birthday picnic",
        dt.datetime.combine(plan.birthday, dt.time(12, 0), tzinfo=paris_tz),
        dt.datetime.combine(plan.birthday, dt.time(18, 0), tzinfo=paris_tz),
        location="Parc de la Tête d'Or, Lyon",
    )
    for trip in plan.trips:
        place = PLACES[trip.place]
        event(
            f"trip-{trip.slug}-{trip.first.isoformat()}",
            trip.title,
            trip.first,
            trip.last + dt.timedelta(days=1),
            location=place.city,
        )
    cal.add_missing_timezones()
    path.write_bytes(cal.to_ical())


def _write_gpx(plan: Plan, located: list[tuple[PhotoSpec, float, float]], path: Path) -> None:
    gpx = gpxpy.gpx.GPX()
    gpx.creator = "memory-reels make_sample"
    by_day: dict[tuple[dt.date, str], list[tuple[PhotoSpec, float, float]]] = {}
    for spec, lat, lon in located:
        by_day.setdefault((spec.local.date(), spec.place), []).append((spec, lat, lon))
    for (day, place), shots in sorted(by_day.items()):
        track = gpxpy.gpx.GPXTrack(name=f"{PLACES[place].city} {day.isoformat()}")
        segment = gpxpy.gpx.GPXTrackSegment()
        shots.sort(key=lambda s: s[0].utc)
        for (a, alat, alon), (b, blat, blon) in zip(shots, shots[1:] + shots[-1:], strict=True):
            steps = max(1, int((b.utc - a.utc).total_seconds() // 900))  # a point every ~15 min
            for k in range(steps):
                f = k / steps
                segment.points.append(
                    gpxpy.gpx.GPXTrackPoint(
                        latitude=round(alat + (blat - alat) * f, 6),
                        longitude=round(alon + (blon - alon) * f, 6),
                        time=(a.utc + (b.utc - a.utc) * f).replace(microsecond=0),
                    )
                )
        track.segments.append(segment)
        gpx.tracks.append(track)
    path.write_text(gpx.to_xml(), encoding="utf-8")


def _write_messages(plan: Plan, path: Path) -> None:
    paris_tz = ZoneInfo("Europe/Paris")
    nice, paris, lisbon, kyoto = plan.trips[:4]

    def at(day: dt.date, hhmm: str, tz: str = "Europe/Paris") -> str:
        hour, minute = (int(p) for p in hhmm.split(":"))
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(tz)).isoformat()

    rows = [
        (at(plan.birthday, "08:02"), "me", ["Léa"], "Happy birthday Léa! Picnic at the Tête d'Or park at noon?", "lea"),
        (at(plan.birthday, "08:10"), "Léa", ["me"], "Yes! I'll bring the cake, you bring the blanket", "lea"),
        (at(plan.birthday, "21:30"), "Sam", ["me", "Léa"], "Best picnic of the year. Send me the photos!", "family"),
        (at(plan.climbing_day, "17:45"), "Sam", ["me"], "Climbing tonight at 7?", "sam"),
        (at(plan.climbing_day, "17:47"), "me", ["Sam"], "Yes, see you at the wall", "sam"),
        (at(nice.first, "09:30"), "me", ["Léa", "Sam"], "Landed in Nice, the sea is unreal", "nice-weekend"),
        (
            at(nice.first + dt.timedelta(days=1), "19:10"),
            "Léa",
            ["me"],
            "Sunset from Castle Hill tonight?",
            "nice-weekend",
        ),
        (at(paris.first, "20:20"), "me", ["Léa"], "Eiffel Tower at sunset, you would have loved it", "lea"),
        (at(lisbon.first, "18:05", "Europe/Lisbon"), "Sam", ["me"], "Tram 28 was packed but worth it", "sam"),
        (
            at(lisbon.first + dt.timedelta(days=3), "13:40", "Europe/Lisbon"),
            "me",
            ["Sam"],
            "Pastéis de Belém queue is 20 minutes",
            "sam",
        ),
        (
            at(kyoto.first, "10:15", "Asia/Tokyo"),
            "me",
            ["Léa", "Sam"],
            "Fushimi Inari early before the crowds",
            "family",
        ),
        (
            at(kyoto.first, "16:00", "Asia/Tokyo"),
            "Léa",
            ["me"],
            "Kiyomizu-dera next? Take a picture of the pagoda",
            "family",
        ),
    ]
    rows.sort(key=lambda r: dt.datetime.fromisoformat(r[0]).astimezone(paris_tz))
    messages = [
        {"id": f"msg-{i:04d}", "ts": ts, "from": sender, "to": to, "text": text, "thread": thread}
        for i, (ts, sender, to, text, thread) in enumerate(rows, start=1)
    ]
    path.write_text(json.dumps(messages, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _write_notes(plan: Plan, notes: Path) -> None:
    nice, paris, lisbon, kyoto = plan.trips[:4]
    notes.mkdir(parents=True, exist_ok=True)
    (notes / "nice-weekend.md").write_text(
        f"# Weekend in Nice ({nice.first:%d}-{nice.last:%d %B %Y})\n\n"
        "- Swim at the Promenade des Anglais before breakfast.\n"
        "- Climbed Castle Hill for the sunset; the whole bay turned orange.\n"
        "- Socca in Vieux Nice, twice.\n",
        encoding="utf-8",
    )
    (notes / f"kyoto-{kyoto.first.year}.md").write_text(
        f"# Kyoto, {kyoto.first:%B %Y}\n\n"
        "Fushimi Inari at opening time: thousands of vermilion torii and nobody else.\n"
        "Afternoon at Kiyomizu-dera, then the bamboo grove in Arashiyama the next day.\n",
        encoding="utf-8",
    )
    (notes / "lisbon.txt").write_text(
        f"Lisbon with Sam, {lisbon.first:%d %B %Y}.\n"
        "Alfama by tram 28, the view from the Miradouro da Graca, custard tarts in Belem.\n"
        f"Paris the year after ({paris.first:%d %B %Y}) was rainier.\n",
        encoding="utf-8",
    )


# ---------------------------------------------------------------- the library


def needs_rebuild(library: Path, today: dt.date) -> bool:
    """True unless ``library`` was built by this generator version for ``today``."""
    try:
        marker = json.loads((library / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    return marker.get("today") != today.isoformat() or marker.get("generator_version") != GENERATOR_VERSION


def build_sample(data_dir: Path, today: dt.date, force: bool = False) -> tuple[Path, bool]:
    """Make ``data_dir/sample-library`` for ``today``; returns (path, rebuilt)."""
    library = Path(data_dir) / LIBRARY_DIR_NAME
    if not force and not needs_rebuild(library, today):
        return library, False
    if library.exists() and not (library / MARKER_NAME).exists() and not force:
        raise SystemExit(f"{library} exists and was not made by this script; use --force to replace it")

    staging = library.with_name(f"{LIBRARY_DIR_NAME}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        summary = _write_library(staging, plan_library(today))
        (staging / MARKER_NAME).write_text(
            json.dumps(
                {
                    "today": today.isoformat(),
                    "generator_version": GENERATOR_VERSION,
                    **summary,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        retired = library.with_name(f"{LIBRARY_DIR_NAME}.old-{os.getpid()}")
        if library.exists():
            library.rename(retired)
        staging.rename(library)
        shutil.rmtree(retired, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return library, True


def _write_library(root: Path, plan: Plan) -> dict[str, int]:
    root.mkdir(parents=True)
    jobs = []
    for video in plan.videos:  # ffmpeg encodes in the background while photos are painted
        path = root / _video_rel_path(video)
        jobs.append((video, path, _start_video(video, path)))

    painter = Painter()
    located: list[tuple[PhotoSpec, float, float]] = []
    seen: set[str] = set()
    for spec in plan.photos:
        rel = _photo_rel_path(spec)
        assert rel not in seen, f"two sample photos at {rel}"
        seen.add(rel)
        lat, lon = _write_photo(painter, spec, root / rel)
        if spec.camera == "phone" and not spec.png:
            located.append((spec, lat, lon))

    # Files the scanner must skip: a JPEG cut off inside its header, and an empty one.
    donor = next(p for p in plan.photos if p.local.date() == plan.birthday and not p.png)
    folder = (root / _photo_rel_path(donor)).parent
    (folder / "IMG_truncated.jpg").write_bytes((root / _photo_rel_path(donor)).read_bytes()[:700])
    (folder / "IMG_empty.jpg").write_bytes(b"")

    phone, phone_located = _write_phone_media(root, plan, painter)
    located += phone_located

    context = root / CONTEXT_DIR
    context.mkdir()
    _write_calendar(plan, context / "calendar.ics")
    _write_gpx(plan, located, context / "locations.gpx")
    _write_messages(plan, context / "messages.json")
    _write_notes(plan, context / "notes")

    for video, path, process in jobs:
        _, stderr = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"ffmpeg failed for {path.name}: {stderr.decode(errors='replace')[-500:]}")
        stamp = video.utc.timestamp()
        os.utime(path, (stamp, stamp))
    return {"photos": len(plan.photos), "videos": len(plan.videos), "skipped": 2 + phone["phone_skipped"], **phone}


# ---------------------------------------------------------------- what phones and exports make
# (issue 12) Added to yesterday, so the RECAP DAY reel of `make run` shows them; no window
# depends on them. Kept small so the whole build stays a few seconds.

PHONE_FOLDER = "phone"  # {year}/{yesterday}_phone/
SPEECH_EXPR = (  # formant bursts gliding per syllable, pulsed at a 170 Hz voice, with pauses
    "(sin(2*PI*650*t+147*sin(2*PI*1.7*t))+0.6*sin(2*PI*1150*t+130*sin(2*PI*2.3*t))"
    "+0.3*sin(2*PI*2500*t))*pow(0.5+0.5*sin(2*PI*4*t),2)*(0.55+0.45*sin(2*PI*170*t))"
    "*gt(sin(2*PI*0.9*t),-0.6)*0.4"
)


def _phone_folder(plan: Plan) -> str:
    return f"{plan.birthday.year}/{plan.birthday.isoformat()}_{PHONE_FOLDER}"


def _ffmpeg(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait(process: subprocess.Popen, name: str) -> None:
    _, stderr = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"ffmpeg failed for {name}: {stderr.decode(errors='replace')[-500:]}")


def _start_phone_clips(root: Path, plan: Plan) -> list[tuple[Path, dt.datetime, subprocess.Popen]]:
    """Start ffmpeg for the phone clips (they encode while photos are painted)."""
    folder = root / _phone_folder(plan)
    folder.mkdir(parents=True, exist_ok=True)
    day = plan.birthday
    hevc = "-c:v libx265 -preset ultrafast -tag:v hvc1".split()

    def created(when: dt.datetime) -> list[str]:
        return ["-metadata", f"creation_time={when.astimezone(UTC):%Y-%m-%dT%H:%M:%S.000000Z}"]

    jobs = []
    # A Live Photo's motion: HEVC in a MOV, 2.5 s, beside its HEIC still (same stem).
    live = _at(day, "11:02", "lyon")
    path = folder / "IMG_0102.MOV"
    args = "-f lavfi -i testsrc2=size=320x240:rate=30 -t 2.5 -pix_fmt yuv420p -x265-params log-level=error".split()
    jobs.append((path, live, _ffmpeg(*args, *hevc, *created(live), str(path))))
    # HDR: HEVC Main 10 tagged HLG / BT.2020, as an iPhone records it.
    hlg = _at(day, "13:20", "lyon")
    path = folder / f"VID_{hlg:%Y%m%d_%H%M%S}.mov"
    args = (
        "-f lavfi -i testsrc2=size=320x180:rate=30 -t 2 -pix_fmt yuv420p10le "
        "-x265-params log-level=error:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc "
        "-color_primaries bt2020 -color_trc arib-std-b67 -colorspace bt2020nc"
    ).split()
    jobs.append((path, hlg, _ffmpeg(*args, *hevc, *created(hlg), str(path))))
    # Speech: a 6 s clip whose voice (speech-like formant bursts) starts at 3.5 s.
    talk = _at(day, "17:40", "lyon")
    path = folder / f"VID_{talk:%Y%m%d_%H%M%S}.mp4"
    voice = f"aevalsrc=exprs='if(between(t,3.5,5.5),{SPEECH_EXPR},0)':s=22050:c=mono:d=6"
    args = (
        "-f lavfi -i testsrc2=size=320x180:rate=30 -f lavfi -i VOICE -t 6 -map 0:v -map 1:a "
        "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -b:a 96k -movflags +faststart"
    ).split()
    args[args.index("VOICE")] = voice
    jobs.append((path, talk, _ffmpeg(*args, *created(talk), str(path))))
    return jobs


def _start_portrait_clip(root: Path, plan: Plan) -> tuple[Path, dt.datetime, subprocess.Popen]:
    """A portrait phone clip: landscape H.264 frames plus a 90 degree display matrix
    (encoded, then remuxed with the matrix, as a phone writes it)."""
    folder = root / _phone_folder(plan)
    when = _at(plan.birthday, "15:12", "lyon")
    plain = folder / ".portrait-frames.mp4"
    path = folder / f"VID_{when:%Y%m%d_%H%M%S}.mp4"
    args = "-f lavfi -i testsrc2=size=320x180:rate=30 -t 2.5 -c:v libx264 -preset ultrafast -pix_fmt yuv420p".split()
    _wait(_ffmpeg(*args, str(plain)), plain.name)
    created = f"creation_time={when.astimezone(UTC):%Y-%m-%dT%H:%M:%S.000000Z}"
    process = _ffmpeg("-display_rotation", "90", "-i", str(plain), "-c", "copy", "-metadata", created, str(path))
    return path, when, process


def _write_phone_photos(root: Path, plan: Plan, painter: Painter) -> tuple[int, list[tuple[PhotoSpec, float, float]]]:
    """HEIC stills (one of them a Live Photo), a Takeout photo with its JSON sidecar,
    WhatsApp files without EXIF, and one photo copied into a second folder. Returns
    how many files the scanner skips (the copy: DUPLICATE) and the located photos."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    folder = root / _phone_folder(plan)
    day = plan.birthday
    small = (480, 360)

    def paint(hhmm: str, spot: int) -> tuple[PhotoSpec, Image.Image]:
        spec = PhotoSpec(_at(day, hhmm, "lyon"), "lyon", spot)
        return spec, painter.paint(spec, small, _seed(f"phone-{hhmm}"))

    def stamp(path: Path, when: dt.datetime) -> None:
        os.utime(path, (when.timestamp(), when.timestamp()))

    located = []
    for name, hhmm, spot in (("IMG_0101.HEIC", "10:30", 0), ("IMG_0102.HEIC", "11:02", 1)):
        spec, img = paint(hhmm, spot)
        spot_at = PLACES["lyon"].spots[spot]
        img.save(folder / name, format="HEIF", quality=70, exif=_exif_for(spec, spot_at.lat, spot_at.lon).tobytes())
        stamp(folder / name, spec.utc)
        located.append((spec, spot_at.lat, spot_at.lon))

    # Google Takeout: no EXIF in the photo, the date and place in its JSON sidecar
    # (the file's mtime is the export's, a day later: only the sidecar dates it right).
    spec, img = paint("12:10", 2)
    takeout = root / "Takeout" / "Google Photos" / f"Photos from {day.year}"
    takeout.mkdir(parents=True, exist_ok=True)
    img.save(takeout / "picnic_blanket.jpg", "JPEG", quality=80)
    spot_at = PLACES["lyon"].spots[2]
    sidecar = {
        "title": "picnic_blanket.jpg",
        "photoTakenTime": {"timestamp": str(int(spec.utc.timestamp())), "formatted": spec.utc.isoformat()},
        "geoData": {"latitude": spot_at.lat, "longitude": spot_at.lon, "altitude": 170.0},
    }
    (takeout / "picnic_blanket.jpg.json").write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
    located.append((spec, spot_at.lat, spot_at.lon))
    stamp(takeout / "picnic_blanket.jpg", spec.utc + dt.timedelta(days=1))

    # WhatsApp: no EXIF, dated only by the name (noon of that day).
    whatsapp = root / "WhatsApp" / "Media" / "WhatsApp Images"
    whatsapp.mkdir(parents=True, exist_ok=True)
    for k, (hhmm, spot) in enumerate((("14:02", 3), ("14:03", 0)), start=1):
        spec, img = paint(hhmm, spot)
        path = whatsapp / f"IMG-{day:%Y%m%d}-WA{k:04d}.jpg"
        img.save(path, "JPEG", quality=75)
        stamp(path, spec.utc + dt.timedelta(days=1))

    # The same photo in two folders (an export copied twice): one item, one DUPLICATE.
    copy = root / "Backup" / _phone_folder(plan)
    copy.mkdir(parents=True, exist_ok=True)
    shutil.copy2(folder / "IMG_0101.HEIC", copy / "IMG_0101.HEIC")
    return 1, located


def _write_phone_media(
    root: Path, plan: Plan, painter: Painter
) -> tuple[dict[str, int], list[tuple[PhotoSpec, float, float]]]:
    """Everything above; returns the counts for the marker and the located photos."""
    clips = _start_phone_clips(root, plan)
    portrait = _start_portrait_clip(root, plan)
    skipped, located = _write_phone_photos(root, plan, painter)
    for path, when, process in [*clips, portrait]:
        _wait(process, path.name)
        os.utime(path, (when.timestamp(), when.timestamp()))
    (root / _phone_folder(plan) / ".portrait-frames.mp4").unlink()
    return {"phone_files": 10, "phone_skipped": skipped}, located


def _default_today() -> dt.date:
    """Today in $REEL_TIMEZONE on the services' clock (so $REEL_TODAY holds here too)."""
    settings = load_settings()
    clock.configure(settings.today, settings.clock_shift_s)
    return clock.today(settings.timezone)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("REEL_DATA_DIR") or "./var"),
        help="where sample-library/ goes (default: $REEL_DATA_DIR or ./var)",
    )
    parser.add_argument(
        "--today",
        type=dt.date.fromisoformat,
        default=None,
        help="anchor date YYYY-MM-DD (default: today in $REEL_TIMEZONE, on $REEL_TODAY's clock)",
    )
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    today = args.today or _default_today()
    started = time.perf_counter()
    library, rebuilt = build_sample(args.data_dir, today, force=args.force)
    if rebuilt:
        print(f"sample library for {today} written to {library} in {time.perf_counter() - started:.1f} s")
    else:
        print(f"sample library for {today} already up to date at {library}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

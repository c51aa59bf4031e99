"""Photo decoding at reduced size, and the poster."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from render_service.render import MediaInput, RenderParams, make_poster
from render_service.render.photo import load_photo
from tests.render.conftest import SMALL, make_script, make_video, save_jpeg


def test_a_big_jpeg_is_never_decoded_at_full_size(tmp_path: Path):
    big = Image.new("RGB", (6000, 4000), (90, 120, 160))
    ImageDraw.Draw(big).ellipse((1000, 1000, 5000, 3000), fill=(200, 180, 40))
    path = save_jpeg(tmp_path / "big.jpg", big, orientation=1)
    del big
    im = load_photo(path, 1, 380, 214, 320, 180)
    # 1/8 scale is the smallest that still covers the canvas
    assert im.size == (750, 500)


def test_load_photo_applies_exif_orientation(tmp_path: Path):
    stored = Image.new("RGB", (400, 300), (255, 0, 0))
    path = save_jpeg(tmp_path / "o8.jpg", stored, orientation=8)
    w, h = load_photo(path, 1, 100, 100, 320, 180).size
    assert w * 4 == h * 3  # upright portrait (decoded at reduced size)
    # no EXIF tag: the orientation the media index recorded applies
    plain = tmp_path / "plain.jpg"
    stored.save(plain, quality=90)
    w, h = load_photo(plain, 6, 100, 100, 320, 180).size
    assert w * 4 == h * 3


def test_poster_is_a_jpeg_of_the_output_size(photos, tmp_path: Path):
    media = photos(2)
    out = tmp_path / "poster.jpg"
    assert make_poster(make_script(list(media)), media, out, SMALL) == out
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.size == (320, 180)
    portrait = tmp_path / "poster-9x16.jpg"
    make_poster(make_script(list(media)), media, portrait, RenderParams(width=180, height=320))
    with Image.open(portrait) as im:
        assert im.size == (180, 320)
    assert not list(tmp_path.glob("*.part"))


def test_poster_of_a_video_only_reel(tmp_path: Path):
    clip = make_video(tmp_path / "clip.mp4", seconds=2.0)
    media = {"v": MediaInput("v", clip, "VIDEO", 1, 0.0)}
    out = tmp_path / "poster.jpg"
    make_poster(make_script(["v"]), media, out, SMALL)
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.size == (320, 180)
        assert im.convert("L").getextrema()[1] > 60  # type: ignore[operator]  # one band: (min, max) ints

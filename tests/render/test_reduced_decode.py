"""Every photo format is decoded at reduced size for the render, and checked before
it without decoding pixels. Inputs come from the real encoders: Pillow (JPEG, PNG,
WebP, libavif), pillow-heif (libheif + x265) and libvips (the 100 MP PNG)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from render_service.photo_formats import quick_check
from render_service.render.photo import load_photo
from render_service.render.types import RenderError
from tests.media_fixtures import quadrants, truncate, write_heic

ROOT = Path(__file__).resolve().parents[2]
STORED = (1200, 900)  # 4:3, close enough to 16:9 to be cropped to cover
FRAME = (320, 180)
NEED = (352, 198)  # a zoom canvas for that frame
# The integer reduction that still covers NEED: 1200/3 x 900/3, the cover scale being
# max(352/1200, 198/900) -> 352 x 264 wanted.
REDUCED = (400, 300)


def corners(img: Image.Image) -> list[tuple[int, ...]]:
    w, h = img.size
    picks = [(w // 8, h // 8), (w - 1 - w // 8, h // 8), (w // 8, h - 1 - h // 8), (w - 1 - w // 8, h - 1 - h // 8)]
    return [tuple(round(c / 100) for c in img.getpixel(p)) for p in picks]  # type: ignore[union-attr]  # RGB pixels are tuples


UPRIGHT = corners(quadrants(STORED))


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("reduced")
    img = quadrants(STORED)
    out = {
        "jpeg": root / "a.jpg",
        "png": root / "a.png",
        "webp": root / "a.webp",
        "avif": root / "a.avif",
        "heic": root / "a.heic",
    }
    img.save(out["jpeg"], quality=90)
    img.save(out["png"])
    img.save(out["webp"], quality=90)
    img.save(out["avif"], quality=70)
    write_heic(out["heic"], img)
    return out


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif", "heic"])
def test_each_format_comes_out_reduced_by_an_integer_factor_and_upright(photos, fmt):
    im = load_photo(photos[fmt], 1, *NEED, *FRAME)
    assert im.mode == "RGB"
    # JPEG's draft reduces by a power of two only (1/2 here: 600x450), the others by 3
    assert im.size == ((600, 450) if fmt == "jpeg" else REDUCED)
    assert corners(im) == UPRIGHT


def test_png_alpha_grey_and_16_bit_become_8_bit_rgb(tmp_path: Path):
    rgba = quadrants(STORED).convert("RGBA")
    rgba.putalpha(255)
    rgba.save(tmp_path / "rgba.png")
    Image.new("L", STORED, 200).save(tmp_path / "grey.png")
    Image.new("I;16", STORED, 40000).save(tmp_path / "grey16.png")

    assert corners(load_photo(tmp_path / "rgba.png", 1, *NEED, *FRAME)) == UPRIGHT
    grey = load_photo(tmp_path / "grey.png", 1, *NEED, *FRAME)
    assert (grey.mode, grey.size, grey.getpixel((10, 10))) == ("RGB", REDUCED, (200, 200, 200))
    grey16 = load_photo(tmp_path / "grey16.png", 1, *NEED, *FRAME)
    assert grey16.mode == "RGB" and grey16.size == REDUCED
    assert abs(grey16.getpixel((10, 10))[0] - 40000 // 257) <= 1  # type: ignore[index]  # RGB pixels are tuples


def test_a_png_turned_by_its_exif_comes_out_upright(tmp_path: Path):
    # stored sideways (rotated 90 deg clockwise to be viewed: orientation 6)
    exif = Image.Exif()
    exif[0x0112] = 6
    quadrants(STORED).transpose(Image.Transpose.ROTATE_90).save(tmp_path / "turned.png", exif=exif.tobytes())

    im = load_photo(tmp_path / "turned.png", 1, *NEED, *FRAME)

    assert im.size == REDUCED
    assert corners(im) == UPRIGHT


@pytest.mark.parametrize("name", ["a.png", "a.webp"])
def test_a_cut_png_or_webp_fails_its_shot_instead_of_rendering_grey(photos, name, tmp_path: Path):
    cut = tmp_path / name
    data = photos[name.split(".")[1]].read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(RenderError, match="cannot decode photo"):
        load_photo(cut, 1, *NEED, *FRAME)


def test_quick_check_finds_cut_files_without_decoding(photos, tmp_path: Path):
    for path in photos.values():
        quick_check(path)  # whole files pass
    for name in ("a.jpg", "a.png", "a.webp"):
        cut = tmp_path / name
        cut.write_bytes(photos[{"a.jpg": "jpeg", "a.png": "png", "a.webp": "webp"}[name]].read_bytes())
        truncate(cut, keep=0.6)
        with pytest.raises(OSError):
            quick_check(cut)


def test_the_check_before_a_render_decodes_no_pixels(photos, monkeypatch):
    """Each shot's photo is decoded once, by the renderer: the pipeline's check of
    files that may have changed since the scan reads headers (and PNG CRCs) only."""
    import pillow_heif.as_plugin
    from PIL import AvifImagePlugin, ImageFile

    from render_service.pipeline import _photo_decodes

    decoded: list[str] = []
    for cls in (ImageFile.ImageFile, pillow_heif.as_plugin._LibHeifImageFile, AvifImagePlugin.AvifImageFile):
        original = cls.load

        def counting(self, _original=original):
            decoded.append(self.format)
            return _original(self)

        monkeypatch.setattr(cls, "load", counting)

    assert all(_photo_decodes(path) for path in photos.values())
    assert decoded == []


@pytest.mark.slow
def test_a_100_mp_png_renders_without_ever_holding_the_full_picture(tmp_path: Path):
    """libvips streams the PNG through its reduction: the full-size picture (300 MB
    as 8-bit RGB) is never in memory, so the render's peak RSS stays under 300 MB
    (the target is 500). Pillow's full decode alone peaked at 450 MB."""
    import pyvips

    big = tmp_path / "big.png"
    grad = pyvips.Image.xyz(10000, 10000)  # two bands: x and y
    rgb = (grad[0] / 40).bandjoin([grad[1] / 40, (grad[0] + grad[1]) / 80]).cast("uchar")
    rgb.pngsave(str(big), compression=1)
    out = tmp_path / "reel.mp4"
    code = textwrap.dedent(
        f"""
        import json
        from pathlib import Path
        from reels_core.domain import Script, Shot
        from render_service.render import MediaInput, RenderParams, render_reel
        script = Script("", "", "calm", "none", [Shot("m", 1.0, "", "zoom_in", "cut")], [])
        media = {{"m": MediaInput("m", Path({str(big)!r}), "PHOTO")}}
        stats = render_reel(script, media, Path({str(out)!r}), RenderParams(width=640, height=360))
        # VmHWM, not getrusage: a forked child's ru_maxrss starts at its parent's RSS
        hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
        print(json.dumps({{"rss_mb": int(hwm.split()[1]) / 1024, "frames": stats.frames}}))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["frames"] == 30
    assert result["rss_mb"] < 300, result

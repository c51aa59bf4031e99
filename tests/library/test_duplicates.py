"""Identical content in two folders is one item; files that only share a size are
not duplicates; a copy made with the system's own ``cp`` counts like any other."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

from PIL import Image

from render_service.duplicates import DUPLICATE
from render_service.media_index import scan_library
from tests.media_fixtures import write_photo


def test_the_same_photo_in_two_folders_is_one_item(tmp_path):
    write_photo(tmp_path / "2024" / "IMG_0001.jpg", dt.datetime(2024, 6, 10, 12))
    (tmp_path / "backup").mkdir()
    subprocess.run(["cp", "-p", str(tmp_path / "2024" / "IMG_0001.jpg"), str(tmp_path / "backup")], check=True)
    shutil.copy(tmp_path / "2024" / "IMG_0001.jpg", tmp_path / "zz-copy.jpg")
    # Same size, other pixels: uncompressed PNGs of one size have one length.
    Image.new("RGB", (40, 30), (200, 10, 10)).save(tmp_path / "red.png", compress_level=0)
    Image.new("RGB", (40, 30), (10, 10, 200)).save(tmp_path / "blue.png", compress_level=0)
    assert (tmp_path / "red.png").stat().st_size == (tmp_path / "blue.png").stat().st_size

    result = scan_library(tmp_path, "UTC")

    assert [m.rel_path for m in result.items] == ["2024/IMG_0001.jpg", "blue.png", "red.png"]
    assert sorted(result.skipped) == [("backup/IMG_0001.jpg", DUPLICATE), ("zz-copy.jpg", DUPLICATE)]
    assert result.skipped_counts == {DUPLICATE: 2}

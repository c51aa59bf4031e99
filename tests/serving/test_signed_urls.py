"""With an S3 store (moto on loopback) and REEL_SIGNED_URL_S, GetPrecomputedReel and
GetReel carry presigned URLs of the video and poster that fetch the right bytes,
and `reels download` takes the bytes from the URL, resuming with a Range request."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import urllib.request
from pathlib import Path

from reels.v1 import common_pb2
from reels.v1 import reel_service_pb2 as pb2
from render_service import cli
from tests.conftest import start_stack, stop_stack, today_utc
from tests.serving.helpers import place_reel


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # a presigned URL of the test's moto
        return response.read()


def test_presigned_urls_fetch_the_reel_and_the_cli_uses_them(s3_bucket, tmp_path: Path, capsys):
    stack = start_stack(
        tmp_path / "data",
        with_scripter=False,
        REEL_BLOB_URL=s3_bucket.url(),
        REEL_S3_ENDPOINT_URL=s3_bucket.endpoint_url,
        REEL_SIGNED_URL_S="300",
    )
    try:
        reel = place_reel(stack.app.engine, stack.app.store, tmp_path, "s3-reel", 300_000, today_utc())
        summary = stack.reels.GetPrecomputedReel(
            pb2.GetPrecomputedReelRequest(library="sample", span=common_pb2.SPAN_DAY, kind=common_pb2.REEL_KIND_RECAP)
        ).reel
        assert summary.video_url and summary.poster_url
        assert _fetch(summary.video_url) == reel.data
        assert _fetch(summary.poster_url).startswith(b"\xff\xd8")
        left = summary.url_expire_time.ToDatetime(tzinfo=dt.UTC) - dt.datetime.now(dt.UTC)
        assert dt.timedelta(seconds=200) < left <= dt.timedelta(seconds=300)
        assert _fetch(stack.reels.GetReel(pb2.GetReelRequest(key=reel.key)).reel.video_url) == reel.data

        dest = tmp_path / "out.mp4"
        dest.write_bytes(reel.data[:1000])  # a partial download to resume
        capsys.readouterr()
        assert cli.main(["--addr", f"127.0.0.1:{stack.render_port}", "download", reel.key, "-o", str(dest)]) == 0
        assert hashlib.sha256(dest.read_bytes()).hexdigest() == reel.sha256
        lines = capsys.readouterr().out.splitlines()
        rpcs = [json.loads(line).get("rpc", "") for line in lines if line.startswith("{")]
        assert any(r.endswith("/GetReel") for r in rpcs) and not any(r.endswith("/StreamReelVideo") for r in rpcs)
    finally:
        stop_stack(stack)


def test_no_urls_on_a_local_store_or_when_off(tmp_path: Path):
    stack = start_stack(tmp_path / "data", with_scripter=False, REEL_SIGNED_URL_S="300")
    try:
        place_reel(stack.app.engine, stack.app.store, tmp_path, "local-reel", 1000, today_utc())
        summary = stack.reels.GetPrecomputedReel(
            pb2.GetPrecomputedReelRequest(library="sample", span=common_pb2.SPAN_DAY, kind=common_pb2.REEL_KIND_RECAP)
        ).reel
        assert summary.key == "local-reel" and not summary.video_url and not summary.HasField("url_expire_time")
    finally:
        stop_stack(stack)

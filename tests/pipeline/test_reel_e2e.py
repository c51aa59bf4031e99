"""One reel from the sample library, rendered through the real servers and checked
as a client sees it: job events, GetReel, streaming, resume, a real decoder, the CLI."""

from __future__ import annotations

import hashlib

import av
import pytest
from PIL import Image

from reels.v1 import common_pb2
from reels.v1 import reel_service_pb2 as pb2
from render_service import cli
from tests.conftest import ledger_env, start_stack, stop_stack, wait_scanned
from tests.pipeline.conftest import create_and_wait, stream_all


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def rendered(request, tmp_path_factory, sample_library_src):
    """The same end-to-end checks on the embedded ledger and on PostgreSQL."""
    import shutil

    root = tmp_path_factory.mktemp("e2e")
    lib = root / "library"
    shutil.copytree(sample_library_src, lib)
    with ledger_env(request.param) as env:
        stack = start_stack(root / "data", libraries=f"sample={lib}", **env)
        try:
            wait_scanned(stack, "sample")
            job = create_and_wait(
                stack,
                library="sample",
                span=common_pb2.SPAN_WEEK,
                kind=common_pb2.REEL_KIND_RECAP,
                request_id="e2e-week-1",
            )
            yield stack, job, root
        finally:
            stop_stack(stack)


def test_job_succeeds_with_a_reel_key(rendered):
    _stack, job, _root = rendered
    assert job.state == pb2.JOB_STATE_SUCCEEDED, (job.reason, job.message)
    assert job.reel_key and job.progress == pytest.approx(1.0)


def test_create_is_idempotent_on_request_id(rendered):
    stack, job, _root = rendered
    again = stack.reels.CreateReel(
        pb2.CreateReelRequest(
            library="sample", span=common_pb2.SPAN_WEEK, kind=common_pb2.REEL_KIND_RECAP, request_id="e2e-week-1"
        )
    ).job
    assert again.job_id == job.job_id and again.state == pb2.JOB_STATE_SUCCEEDED


def test_watch_replays_stored_events_in_order_and_ends(rendered):
    stack, job, _root = rendered
    events = [i.event for i in stack.reels.WatchReelJob(pb2.WatchReelJobRequest(job_id=job.job_id))]
    seqs = [e.sequence for e in events]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    assert events[0].state == pb2.JOB_STATE_QUEUED
    assert events[-1].state == pb2.JOB_STATE_SUCCEEDED
    assert {"select", "script", "render"} <= {e.stage for e in events}
    tail = [
        i.event.sequence
        for i in stack.reels.WatchReelJob(pb2.WatchReelJobRequest(job_id=job.job_id, after_sequence=seqs[-2]))
    ]
    assert tail == [seqs[-1]]


def test_get_reel_has_script_media_params_and_stats(rendered):
    stack, job, _root = rendered
    reel = stack.reels.GetReel(pb2.GetReelRequest(key=job.reel_key))
    assert reel.reel.key == job.reel_key and reel.reel.content_type == "video/mp4"
    assert reel.script.title and len(reel.script.shots) == len(reel.media) > 0
    assert [m.media_id for m in reel.media] == [s.media_id for s in reel.script.shots]
    assert all(m.relative_path and not m.relative_path.startswith("/") for m in reel.media)
    taken = [m.taken_at.ToDatetime() for m in reel.media]
    assert taken == sorted(taken)  # chronological
    assert reel.stats.width == 1280 and reel.stats.height == 720 and reel.stats.fps == 30
    assert reel.script.duration_seconds == pytest.approx(10, abs=0.05)
    assert reel.job_id == job.job_id
    assert reel.reel.poster_key


def test_streamed_bytes_match_sha_and_decode(rendered, tmp_path):
    stack, job, _root = rendered
    reel = stack.reels.GetReel(pb2.GetReelRequest(key=job.reel_key))
    data, messages = stream_all(stack, job.reel_key)
    first = messages[0]
    assert first.size_bytes == reel.reel.size_bytes == len(data)
    assert first.sha256 == reel.reel.sha256 == hashlib.sha256(data).hexdigest()
    assert first.content_type == "video/mp4"
    offsets = [m.offset for m in messages]
    # offsets[1:] is one shorter: the last message has no successor to check.
    pairs = zip(offsets, offsets[1:], messages, strict=False)
    assert offsets[0] == 0 and all(b - a == len(m.data) for a, b, m in pairs)
    path = tmp_path / "reel.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (1280, 720)
        assert video.codec_context.name == "h264"
        assert video.codec_context.profile == "High"
        assert video.codec_context.pix_fmt == "yuv420p"
        assert container.streams.audio and container.streams.audio[0].codec_context.name == "aac"
        assert container.duration is not None  # the muxer wrote one
        duration = float(container.duration / 1_000_000)
        frames = sum(1 for _ in container.decode(video))
    assert abs(duration - reel.script.duration_seconds) <= 0.5
    assert abs(frames / 30 - reel.script.duration_seconds) <= 0.5
    assert data[:1024].find(b"moov") != -1 or data.find(b"moov") < data.find(b"mdat")  # faststart


def test_ranged_reads_and_resume_equal_the_whole(rendered, tmp_path):
    stack, job, _root = rendered
    whole, _ = stream_all(stack, job.reel_key)
    part, msgs = stream_all(stack, job.reel_key, offset=1000, limit=5000)
    assert part == whole[1000:6000] and msgs[0].offset == 1000
    end, msgs = stream_all(stack, job.reel_key, offset=len(whole))
    assert end == b"" and msgs[0].size_bytes == len(whole)
    # The CLI resumes a partial download.
    dest = tmp_path / "out.mp4"
    dest.write_bytes(whole[: len(whole) // 3])
    assert cli.main(["--addr", f"127.0.0.1:{stack.render_port}", "download", job.reel_key, "-o", str(dest)]) == 0
    assert dest.read_bytes() == whole


def test_poster_streams_as_jpeg(rendered, tmp_path):
    stack, job, _root = rendered
    poster_key = stack.reels.GetReel(pb2.GetReelRequest(key=job.reel_key)).reel.poster_key
    data, msgs = stream_all(stack, poster_key)
    assert msgs[0].content_type == "image/jpeg"
    (tmp_path / "p.jpg").write_bytes(data)
    with Image.open(tmp_path / "p.jpg") as img:
        assert img.format == "JPEG" and img.size == (1280, 720)


def test_cli_contact_sheet(rendered, tmp_path):
    stack, job, _root = rendered
    out = tmp_path / "sheet.png"
    assert (
        cli.main(
            [
                "--addr",
                f"127.0.0.1:{stack.render_port}",
                "contact-sheet",
                job.reel_key,
                "-o",
                str(out),
                "--columns",
                "3",
                "--rows",
                "2",
            ]
        )
        == 0
    )
    with Image.open(out) as img:
        assert img.size == (3 * 320, 2 * 180)
        # Frames differ from one another: the reel moves.
        tiles = [
            img.crop((x * 320, y * 180, x * 320 + 320, y * 180 + 180)).tobytes() for y in range(2) for x in range(3)
        ]
        assert len(set(tiles)) == 6


def test_cli_reports_errors_clearly(rendered, capsys):
    stack, _job, _root = rendered
    code = cli.main(["--addr", f"127.0.0.1:{stack.render_port}", "create", "nosuchlib"])
    assert code == 1
    err = capsys.readouterr().err
    assert "LIBRARY_NOT_FOUND" in err and "Traceback" not in err

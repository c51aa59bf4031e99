"""`reels`: the command line for people, a client of the render service's gRPC API.

    reels libraries
    reels rescan LIB
    reels create LIB --span week --kind recap [--anchor 2026-11-30] [--mode agentic]
    reels watch JOB_ID
    reels cancel JOB_ID
    reels get-precomputed LIB --span day --kind recap
    reels list [--library LIB] [--span ..] [--kind ..]
    reels show KEY [--explain]          (--explain: why each shot was picked)
    reels download KEY -o out.mp4          (resumes a partial out.mp4; from the presigned URL when given)
    reels contact-sheet KEY -o sheet.png
    reels pregen [--anchor DATE] [--library LIB ...] [--dry-run]
    reels hide LIB (--media ID | --folder PATH | --from DATE --to DATE)   never show this
    reels hidden LIB                                                      what is hidden
    reels unhide LIB EXCLUSION_ID

Connection: --addr (REEL_RENDER_ADDR), --token (REEL_AUTH_TOKEN or REEL_ADMIN_TOKEN),
--tls-ca for a TLS server.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import sys
import tempfile
import urllib.request
import uuid
from pathlib import Path

import grpc
from google.protobuf import json_format
from google.type import date_pb2
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from reels.v1 import common_pb2, reel_admin_service_pb2_grpc, reel_service_pb2_grpc
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2
from reels_core.domain import MAX_TARGET_S, MIN_TARGET_S

console = Console(stderr=True)
out = Console()

SPANS = {
    "day": common_pb2.SPAN_DAY,
    "week": common_pb2.SPAN_WEEK,
    "month": common_pb2.SPAN_MONTH,
    "year": common_pb2.SPAN_YEAR,
}
KINDS = {
    "recap": common_pb2.REEL_KIND_RECAP,
    "on-this-day": common_pb2.REEL_KIND_ON_THIS_DAY,
    "on_this_day": common_pb2.REEL_KIND_ON_THIS_DAY,
    "trip": common_pb2.REEL_KIND_TRIP,
}
KIND_CHOICES = ["recap", "on-this-day", "trip"]
MODES = {"fast": common_pb2.SCRIPT_MODE_FAST, "agentic": common_pb2.SCRIPT_MODE_AGENTIC}

# What to tell a person for each status code, before the server's own message.
HINTS = {
    grpc.StatusCode.UNAVAILABLE: "the render service is not reachable at {addr} (is `make run` running?)",
    grpc.StatusCode.UNAUTHENTICATED: "the server wants a token: pass --token or set REEL_AUTH_TOKEN",
    grpc.StatusCode.PERMISSION_DENIED: "this needs the admin token (REEL_ADMIN_TOKEN)",
    grpc.StatusCode.NOT_FOUND: "not found",
    grpc.StatusCode.INVALID_ARGUMENT: "invalid request",
    grpc.StatusCode.FAILED_PRECONDITION: "cannot do that now",
    grpc.StatusCode.OUT_OF_RANGE: "out of range",
    grpc.StatusCode.DEADLINE_EXCEEDED: "the server did not answer in time",
    grpc.StatusCode.ABORTED: "another pass holds the lock",
    grpc.StatusCode.UNIMPLEMENTED: "this server does not offer that yet",
}


class Client:
    def __init__(self, args: argparse.Namespace) -> None:
        self.addr = args.addr
        if args.tls_ca:
            creds = grpc.ssl_channel_credentials(root_certificates=Path(args.tls_ca).read_bytes())
            self.channel = grpc.secure_channel(self.addr, creds)
        else:
            self.channel = grpc.insecure_channel(self.addr)
        self.metadata = (("authorization", f"Bearer {args.token}"),) if args.token else ()
        self.reels = reel_service_pb2_grpc.ReelServiceStub(self.channel)
        self.admin = reel_admin_service_pb2_grpc.ReelAdminServiceStub(self.channel)


def _reason(err: grpc.RpcError) -> str:
    try:
        from google.rpc import error_details_pb2
        from grpc_status import rpc_status

        if not isinstance(err, grpc.Call):  # raised by a call, an RpcError is also its Call
            return ""
        status = rpc_status.from_call(err)
        for detail in status.details if status else ():
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info):
                return info.reason
    except Exception:  # noqa: BLE001  # a malformed status must not hide the error itself
        pass
    return ""


def _date(text: str | None) -> date_pb2.Date | None:
    if not text:
        return None
    d = dt.date.fromisoformat(text)
    return date_pb2.Date(year=d.year, month=d.month, day=d.day)


def _print_json(msg) -> None:
    out.print_json(json_format.MessageToJson(msg, preserving_proto_field_name=True))


def cmd_libraries(c: Client, args) -> int:
    resp = c.admin.ListLibraries(admin_pb2.ListLibrariesRequest(), metadata=c.metadata)
    table = Table("library", "media", "photos", "videos", "skipped", "analysis errors", "time zone", "root")
    for lib in resp.libraries:
        table.add_row(
            lib.key,
            str(lib.media_count),
            str(lib.photo_count),
            str(lib.video_count),
            str(lib.skipped_count),
            str(lib.analysis_errors),
            lib.time_zone,
            lib.root_path,
        )
    out.print(table)
    return 0


def cmd_rescan(c: Client, args) -> int:
    resp = c.admin.RescanLibrary(admin_pb2.RescanLibraryRequest(library=args.library), metadata=c.metadata)
    out.print(
        f"{resp.library.key}: {resp.library.media_count} media (+{resp.added} -{resp.removed}), "
        f"{resp.library.skipped_count} skipped, {resp.scan_seconds:.2f}s"
    )
    for s in resp.library.skipped:
        out.print(f"  skipped {s.relative_path}: {s.reason}")
    return 0


def _watch(c: Client, job_id: str) -> int:
    job = None
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("queued", total=1.0)
        for item in c.reels.WatchReelJob(pb2.WatchReelJobRequest(job_id=job_id), metadata=c.metadata):
            job = item.job
            progress.update(task, completed=item.event.progress, description=item.event.stage or "working")
    if job is None:
        return 1
    if job.state == pb2.JOB_STATE_SUCCEEDED:
        note = f" (fallback: {job.reason})" if job.reason else ""
        out.print(f"reel ready: {job.reel_key}{note}")
        return 0
    console.print(f"[red]job {pb2.JobState.Name(job.state)}: {job.reason} {job.message}")
    return 1


def cmd_create(c: Client, args) -> int:
    options = common_pb2.RenderOptions(
        resolution=args.resolution,
        aspect=args.aspect,
        target_duration_seconds=args.duration or 0,
        mood=args.mood or "",
        music_style=args.music_style or "",
    )
    req = pb2.CreateReelRequest(
        library=args.library,
        span=SPANS[args.span],
        kind=KINDS[args.kind],
        mode=MODES[args.mode],
        options=options,
        request_id=args.request_id or uuid.uuid4().hex,
    )
    anchor = _date(args.anchor)
    if anchor is not None:
        req.anchor_date.CopyFrom(anchor)
    job = c.reels.CreateReel(req, metadata=c.metadata).job
    console.print(f"job {job.job_id}")
    if args.no_wait:
        out.print(job.job_id)
        return 0
    return _watch(c, job.job_id)


def cmd_watch(c: Client, args) -> int:
    return _watch(c, args.job_id)


def cmd_cancel(c: Client, args) -> int:
    job = c.reels.CancelReelJob(pb2.CancelReelJobRequest(job_id=args.job_id), metadata=c.metadata).job
    out.print(f"job {job.job_id}: {pb2.JobState.Name(job.state)}")
    return 0


def cmd_get_precomputed(c: Client, args) -> int:
    resp = c.reels.GetPrecomputedReel(
        pb2.GetPrecomputedReelRequest(library=args.library, span=SPANS[args.span], kind=KINDS[args.kind]),
        metadata=c.metadata,
    )
    _print_json(resp.reel)
    return 0


def cmd_list(c: Client, args) -> int:
    token = ""
    table = Table("key", "title", "span", "kind", "anchor", "seconds", "MB")
    while True:
        resp = c.reels.ListReels(
            pb2.ListReelsRequest(
                library=args.library or "",
                span=SPANS.get(args.span or "", common_pb2.SPAN_UNSPECIFIED),
                kind=KINDS.get(args.kind or "", common_pb2.REEL_KIND_UNSPECIFIED),
                page_size=100,
                page_token=token,
            ),
            metadata=c.metadata,
        )
        for r in resp.reels:
            a = r.window.anchor_date
            table.add_row(
                r.key,
                r.title,
                common_pb2.Span.Name(r.span)[5:],
                common_pb2.ReelKind.Name(r.kind)[10:],
                f"{a.year:04d}-{a.month:02d}-{a.day:02d}",
                f"{r.duration_seconds:.1f}",
                f"{r.size_bytes / 1e6:.1f}",
            )
        token = resp.next_page_token
        if not token:
            break
    out.print(table)
    return 0


def cmd_show(c: Client, args) -> int:
    resp = c.reels.GetReel(pb2.GetReelRequest(key=args.key), metadata=c.metadata)
    if not args.explain:
        _print_json(resp)
        return 0
    for line in explain_lines(resp):
        out.print(line, soft_wrap=True, markup=False, highlight=False)
    return 0


def explain_lines(resp: pb2.GetReelResponse) -> list[str]:
    """One line per shot: the media, why it was picked, its moment and scores."""
    lines = [resp.reel.title or resp.reel.key]
    for i, m in enumerate(resp.media):
        q = m.quality
        scores = "not analysed"
        if q.analysed:
            scores = f"sharpness {q.sharpness:.2f}, faces {len(q.faces)}, rating {q.rating}"
        what = m.relative_path or m.media_id
        lines.append(f"{i + 1:>2}. {what}  {m.pick_reason or '-'}  {m.pick_detail}  ({scores})")
    return lines


def download(c: Client, key: str, dest: Path, show_progress: bool = True) -> str:
    """Stream `key` into dest, resuming from a partial file; returns the sha256."""
    have = dest.stat().st_size if dest.exists() else 0
    info = c.reels.GetReel(pb2.GetReelRequest(key=key), metadata=c.metadata).reel
    if have > info.size_bytes:
        have = 0  # not a prefix of this reel
    mode = "ab" if have else "wb"
    with (
        open(dest, mode) as fh,
        Progress(
            TextColumn(key[:40]),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=console,
            disable=not show_progress,
        ) as progress,
    ):
        task = progress.add_task("download", total=info.size_bytes, completed=have)
        if info.video_url and have < info.size_bytes:
            # A presigned URL (S3 store, REEL_SIGNED_URL_S): the bytes come from the
            # object store, resumed with a Range request.
            _http_download(info.video_url, fh, have, lambda n: progress.update(task, advance=n))
        else:
            for msg in c.reels.StreamReelVideo(
                pb2.StreamReelVideoRequest(key=key, read_offset=have), metadata=c.metadata
            ):
                if msg.offset != fh.tell():
                    raise RuntimeError(f"gap in stream at {msg.offset}")
                fh.write(msg.data)
                progress.update(task, advance=len(msg.data))
    digest = hashlib.sha256()
    with open(dest, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != info.sha256:
        raise RuntimeError(f"sha256 mismatch: got {digest.hexdigest()}, expected {info.sha256}")
    return info.sha256


def _http_download(url: str, fh, offset: int, advance) -> None:
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    with urllib.request.urlopen(request, timeout=60) as response:  # the service's presigned URL
        if offset and response.status != 206:
            raise RuntimeError(f"the object store ignored the range request (HTTP {response.status})")
        while chunk := response.read(1 << 20):
            fh.write(chunk)
            advance(len(chunk))


def cmd_download(c: Client, args) -> int:
    dest = Path(args.output or f"{args.key}.mp4")
    sha = download(c, args.key, dest)
    out.print(f"{dest} ({dest.stat().st_size} bytes, sha256 {sha[:16]}…)")
    return 0


def contact_sheet(video: Path, dest: Path, columns: int = 4, rows: int = 4, width: int = 320) -> int:
    """A grid of frames evenly spread over the video; returns how many."""
    import av
    from PIL import Image

    frames = []
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        time_base = stream.time_base
        if time_base is None:
            raise RuntimeError(f"{video}: the video stream has no time base")
        duration = float(container.duration or 0) / 1_000_000
        if not duration:
            if stream.duration is None:
                raise RuntimeError(f"{video}: the video has no duration")
            duration = float(stream.duration * time_base)
        n = columns * rows
        for i in range(n):
            t = duration * (i + 0.5) / n
            container.seek(int(t / time_base), stream=stream, any_frame=False, backward=True)
            for frame in container.decode(stream):
                if frame.time is None or frame.time >= t - 0.05:
                    img = frame.to_image()
                    frames.append(img.resize((width, round(width * img.height / img.width))))
                    break
    if not frames:
        raise RuntimeError("no frames decoded")
    h = frames[0].height
    sheet = Image.new("RGB", (columns * width, rows * h), "black")
    for i, img in enumerate(frames):
        sheet.paste(img, ((i % columns) * width, (i // columns) * h))
    sheet.save(dest)
    return len(frames)


def cmd_contact_sheet(c: Client, args) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "reel.mp4"
        download(c, args.key, video, show_progress=False)
        n = contact_sheet(video, Path(args.output), args.columns, args.rows)
    out.print(f"{args.output}: {n} frames")
    return 0


def cmd_pregen(c: Client, args) -> int:
    req = admin_pb2.RunPregenNowRequest(
        libraries=args.library or [],
        dry_run=args.dry_run,
        spans=[SPANS[s] for s in args.span or []],
        kinds=[KINDS[k] for k in args.kind or []],
    )
    anchor = _date(args.anchor)
    if anchor is not None:
        req.anchor_date.CopyFrom(anchor)
    resp = c.admin.RunPregenNow(req, metadata=c.metadata, timeout=args.timeout)
    table = Table("library", "span", "kind", "outcome", "reason", "key")
    for o in resp.outcomes:
        table.add_row(
            o.library,
            common_pb2.Span.Name(o.span)[5:],
            common_pb2.ReelKind.Name(o.kind)[10:],
            o.outcome,
            o.reason,
            o.reel_key,
        )
    out.print(table)
    out.print(f"run {resp.run.run_id}: {resp.run.status}")
    return 0


def _exclusion_row(e: pb2.Exclusion) -> tuple[str, str, str]:
    which = e.WhichOneof("target")
    if which == "media_id":
        return e.exclusion_id, "media", f"{e.media_id} ({e.relative_path})"
    if which == "folder":
        return e.exclusion_id, "folder", e.folder + "/"
    r = e.date_range
    last = dt.date(r.end_date.year, r.end_date.month, r.end_date.day) - dt.timedelta(days=1)
    return e.exclusion_id, "dates", f"{r.start_date.year:04d}-{r.start_date.month:02d}-{r.start_date.day:02d} to {last}"


def cmd_hide(c: Client, args) -> int:
    target = pb2.Exclusion()
    if args.media:
        target.media_id = args.media
    elif args.folder:
        target.folder = args.folder
    elif args.date_from and args.date_to:
        start = _date(args.date_from)
        last = dt.date.fromisoformat(args.date_to)  # inclusive here, exclusive on the wire
        assert start is not None
        target.date_range.start_date.CopyFrom(start)
        end = _date((last + dt.timedelta(days=1)).isoformat())
        assert end is not None
        target.date_range.end_date.CopyFrom(end)
    else:
        raise ValueError("give --media ID, --folder PATH, or --from DATE --to DATE")
    resp = c.reels.CreateExclusion(
        pb2.CreateExclusionRequest(
            library=args.library, exclusion=target, request_id=args.request_id or uuid.uuid4().hex
        ),
        metadata=c.metadata,
    )
    exclusion_id, what, detail = _exclusion_row(resp.exclusion)
    verb = "hidden" if resp.created else "already hidden"
    out.print(f"{verb}: {what} {detail} (exclusion {exclusion_id}; `reels unhide {args.library} {exclusion_id}`)")
    return 0


def cmd_hidden(c: Client, args) -> int:
    table = Table("id", "what", "hidden")
    token = ""
    while True:
        resp = c.reels.ListExclusions(
            pb2.ListExclusionsRequest(library=args.library, page_size=100, page_token=token), metadata=c.metadata
        )
        for e in resp.exclusions:
            table.add_row(*_exclusion_row(e))
        token = resp.next_page_token
        if not token:
            break
    out.print(table)
    return 0


def cmd_unhide(c: Client, args) -> int:
    resp = c.reels.DeleteExclusion(
        pb2.DeleteExclusionRequest(
            library=args.library, exclusion_id=args.exclusion_id, request_id=args.request_id or uuid.uuid4().hex
        ),
        metadata=c.metadata,
    )
    _id, what, detail = _exclusion_row(resp.exclusion)
    out.print(f"shown again: {what} {detail}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reels", description="Memory reels from the command line.")
    p.add_argument("--addr", default=os.environ.get("REEL_RENDER_ADDR", "127.0.0.1:50062"))
    p.add_argument("--token", default=os.environ.get("REEL_ADMIN_TOKEN") or os.environ.get("REEL_AUTH_TOKEN", ""))
    p.add_argument("--tls-ca", default="", help="CA certificate (PEM) of a TLS server")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("libraries", help="list libraries").set_defaults(fn=cmd_libraries)
    s = sub.add_parser("rescan", help="rescan a library folder")
    s.add_argument("library")
    s.set_defaults(fn=cmd_rescan)

    s = sub.add_parser("create", help="render a reel now, with a progress bar")
    s.add_argument("library")
    s.add_argument("--span", choices=sorted(SPANS), default="week")
    s.add_argument("--kind", choices=KIND_CHOICES, default="recap")
    s.add_argument("--anchor", help="YYYY-MM-DD (default: today)")
    s.add_argument("--mode", choices=sorted(MODES), default="fast")
    s.add_argument("--resolution", choices=["360p", "720p", "1080p"], default="720p")
    s.add_argument("--aspect", choices=["16:9", "9:16"], default="16:9")
    s.add_argument("--duration", type=float, help=f"target seconds ({MIN_TARGET_S:g}-{MAX_TARGET_S:g})")
    s.add_argument("--mood")
    s.add_argument("--music-style")
    s.add_argument("--request-id")
    s.add_argument("--no-wait", action="store_true")
    s.set_defaults(fn=cmd_create)

    for name, fn in (("watch", cmd_watch), ("cancel", cmd_cancel)):
        s = sub.add_parser(name, help=f"{name} a job")
        s.add_argument("job_id")
        s.set_defaults(fn=fn)

    s = sub.add_parser("get-precomputed", help="today's pre-generated reel of a scope")
    s.add_argument("library")
    s.add_argument("--span", choices=sorted(SPANS), default="day")
    s.add_argument("--kind", choices=KIND_CHOICES, default="recap")
    s.set_defaults(fn=cmd_get_precomputed)

    s = sub.add_parser("list", help="list pre-generated reels")
    s.add_argument("--library")
    s.add_argument("--span", choices=sorted(SPANS))
    s.add_argument("--kind", choices=KIND_CHOICES)
    s.set_defaults(fn=cmd_list)

    s = sub.add_parser("show", help="everything the server knows of a reel")
    s.add_argument("key")
    s.add_argument("--explain", action="store_true", help="a table of why each shot was picked")
    s.set_defaults(fn=cmd_show)

    s = sub.add_parser("download", help="download a reel (resumes)")
    s.add_argument("key")
    s.add_argument("-o", "--output")
    s.set_defaults(fn=cmd_download)

    s = sub.add_parser("contact-sheet", help="a grid of frames of a reel")
    s.add_argument("key")
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--columns", type=int, default=4)
    s.add_argument("--rows", type=int, default=4)
    s.set_defaults(fn=cmd_contact_sheet)

    s = sub.add_parser("pregen", help="run the pre-generation pass now")
    s.add_argument("--anchor")
    s.add_argument("--library", action="append")
    s.add_argument("--span", action="append", choices=sorted(SPANS))
    s.add_argument("--kind", action="append", choices=KIND_CHOICES)
    s.add_argument("--dry-run", action="store_true")
    s.add_argument("--timeout", type=float, default=3600)
    s.set_defaults(fn=cmd_pregen)

    s = sub.add_parser("hide", help="never show a media item, folder or date range in memories")
    s.add_argument("library")
    what = s.add_mutually_exclusive_group(required=True)
    what.add_argument("--media", help="a media id, as `reels show KEY` lists them")
    what.add_argument("--folder", help="a folder relative to the library root")
    what.add_argument("--from", dest="date_from", help="first day hidden, YYYY-MM-DD (with --to)")
    s.add_argument("--to", dest="date_to", help="last day hidden, YYYY-MM-DD (inclusive)")
    s.add_argument("--request-id")
    s.set_defaults(fn=cmd_hide)

    s = sub.add_parser("hidden", help="list what is hidden from a library's memories")
    s.add_argument("library")
    s.set_defaults(fn=cmd_hidden)

    s = sub.add_parser("unhide", help="show a hidden item in memories again")
    s.add_argument("library")
    s.add_argument("exclusion_id")
    s.add_argument("--request-id")
    s.set_defaults(fn=cmd_unhide)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(Client(args), args)
    except grpc.RpcError as err:
        code = err.code()
        hint = HINTS.get(code, code.name.lower()).format(addr=args.addr)
        reason = _reason(err)
        console.print(f"[red]error:[/red] {hint}: {err.details()}" + (f" [{reason}]" if reason else ""))
        return 1
    except (ValueError, RuntimeError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

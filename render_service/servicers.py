"""ReelService and ReelAdminService: validate, call one domain function, map the
result. Errors are ReelError subclasses; the interceptor turns them into statuses."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any
from zoneinfo import ZoneInfo

from google.protobuf import struct_pb2

from ledger.models import Exclusion, ExclusionTarget, JobEvent, Library, MaintenanceRun, ReelJob, RunKind
from ledger.models import JobState as DbJobState
from reels.v1 import common_pb2
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_admin_service_pb2_grpc as admin_grpc
from reels.v1 import reel_service_pb2 as pb2
from reels.v1 import reel_service_pb2_grpc as pb2_grpc
from reels_core import wire
from reels_core.domain import MAX_TARGET_S, MIN_TARGET_S, MOODS, MUSIC_STYLES, Kind, MediaKind, Mode, Span
from reels_core.errors import InvalidArgument
from reels_core.windows import check_scope, window_for
from render_service import catalog, hiding
from render_service.analysis import analysis_counts
from render_service.app import App
from render_service.feedback import get_preferences, rate_reel
from render_service.indexing import date_source_counts, media_kind_counts
from render_service.jobs import JobRequest
from render_service.pipeline import ReelSpec, check_anchor, require_media
from render_service.render import RESOLUTIONS
from render_service.sidecar import RenderChoice, Sidecar, load_sidecar
from render_service.stats import ledger_stats
from render_service.streaming import stream_chunks

JOB_STATE_TO_PB = {
    DbJobState.QUEUED: pb2.JOB_STATE_QUEUED,
    DbJobState.RUNNING: pb2.JOB_STATE_RUNNING,
    DbJobState.SUCCEEDED: pb2.JOB_STATE_SUCCEEDED,
    DbJobState.FAILED: pb2.JOB_STATE_FAILED,
    DbJobState.CANCELLED: pb2.JOB_STATE_CANCELLED,
}


def check_page_size(page_size: int) -> int:
    if page_size < 0:
        raise InvalidArgument("PAGE_SIZE_INVALID", "page_size must not be negative")
    return page_size


def choice_from_pb(options: common_pb2.RenderOptions) -> RenderChoice:
    resolution = options.resolution or "720p"
    aspect = options.aspect or "16:9"
    if resolution not in RESOLUTIONS:
        raise InvalidArgument("RESOLUTION_INVALID", f"options.resolution must be one of {', '.join(RESOLUTIONS)}")
    if aspect not in ("16:9", "9:16"):
        raise InvalidArgument("ASPECT_INVALID", "options.aspect must be 16:9 or 9:16")
    target = options.target_duration_seconds
    if target and not MIN_TARGET_S <= target <= MAX_TARGET_S:
        raise InvalidArgument(
            "DURATION_OUT_OF_RANGE", f"options.target_duration_seconds must be within {MIN_TARGET_S:g}-{MAX_TARGET_S:g}"
        )
    if options.mood and options.mood not in MOODS:
        raise InvalidArgument("MOOD_INVALID", f"options.mood must be one of {', '.join(MOODS)}")
    if options.music_style and options.music_style not in MUSIC_STYLES:
        raise InvalidArgument("MUSIC_STYLE_INVALID", f"options.music_style must be one of {', '.join(MUSIC_STYLES)}")
    if options.max_shots < 0 or options.max_shots > 100:
        raise InvalidArgument("MAX_SHOTS_INVALID", "options.max_shots must be within 0-100")
    return RenderChoice(resolution, aspect, target, options.mood, options.music_style, options.max_shots)


def choice_to_pb(choice: RenderChoice) -> common_pb2.RenderOptions:
    return common_pb2.RenderOptions(
        resolution=choice.resolution,
        aspect=choice.aspect,
        target_duration_seconds=choice.target_duration_s,
        mood=choice.mood,
        music_style=choice.music_style,
        max_shots=choice.max_shots,
    )


def job_to_pb(job: ReelJob) -> pb2.ReelJob:
    return pb2.ReelJob(
        job_id=job.id,
        request_id=job.request_id or "",
        library=job.library_key,
        span=wire.SPAN_TO_PB[Span(job.span)],
        kind=wire.KIND_TO_PB[Kind(job.kind)],
        anchor_date=wire.date_to_pb(job.anchor_date),
        mode=wire.MODE_TO_PB[Mode(job.mode)],
        state=JOB_STATE_TO_PB[DbJobState(job.state)],
        reason=job.reason or "",
        message=job.message or "",
        progress=job.progress,
        reel_key=(job.reel_key or "") if job.state == DbJobState.SUCCEEDED else "",  # set at start, shown when ready
        create_time=wire.ts_to_pb(job.created_at),
        update_time=wire.ts_to_pb(job.updated_at),
    )


def watch_response(event: JobEvent, job: ReelJob) -> pb2.WatchReelJobResponse:
    return pb2.WatchReelJobResponse(
        event=pb2.JobEvent(
            sequence=event.seq,
            event_time=wire.ts_to_pb(event.at),
            stage=event.stage,
            progress=event.progress,
            message=event.message,
            state=JOB_STATE_TO_PB[DbJobState(event.state)],
        ),
        job=job_to_pb(job),
    )


@functools.lru_cache(maxsize=1024)
def _window_pb_bytes(span: str, kind: str, anchor: dt.date) -> bytes:
    # An ON_THIS_DAY window lists 30 yearly ranges; GetPrecomputedReel answers the
    # same few windows all day, so build each once (docs/BENCHMARKS.md).
    return wire.window_to_pb(window_for(Span(span), Kind(kind), anchor)).SerializeToString()


def _window_pb(span: str, kind: str, anchor: dt.date) -> common_pb2.Window:
    return common_pb2.Window.FromString(_window_pb_bytes(span, kind, anchor))


def _reel_window_pb(info: catalog.ReelInfo, sidecar: Sidecar | None, tz: str) -> common_pb2.Window:
    """A TRIP window is the trip's days: from the sidecar, else from the row's UTC
    bounds read back as local dates; the others are a function of the anchor."""
    if info.kind != Kind.TRIP.value:
        return _window_pb(info.span, info.kind, info.anchor_date)
    window = common_pb2.Window(anchor_date=wire.date_to_pb(info.anchor_date))
    if sidecar is not None and sidecar.window:
        ranges = list(sidecar.window)
    elif info.window_start is not None and info.window_end is not None:
        zone = ZoneInfo(tz)
        ranges = [(info.window_start.astimezone(zone).date(), info.window_end.astimezone(zone).date())]
    else:
        ranges = []
    window.ranges.extend(
        common_pb2.DateRange(start_date=wire.date_to_pb(a), end_date=wire.date_to_pb(b)) for a, b in ranges
    )
    return window


def signed_urls(app: App, info: catalog.ReelInfo) -> tuple[str, str, dt.datetime] | None:
    """(video URL, poster URL, expiry) when the store presigns (S3) and
    REEL_SIGNED_URL_S is set; None otherwise. The expiry is real time, as the
    store's signature is (not the domain clock)."""
    ttl = app.settings.signed_url_s
    if not ttl:
        return None
    video = app.store.presigned_url(info.video_name, ttl, catalog.CONTENT_TYPE)
    if video is None:
        return None
    poster = app.store.presigned_url(info.poster_name, ttl, catalog.POSTER_CONTENT_TYPE) if info.poster_name else ""
    return video, poster or "", dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ttl)


def summary_to_pb(
    info: catalog.ReelInfo,
    sidecar: Sidecar | None = None,
    tz: str = "UTC",
    urls: tuple[str, str, dt.datetime] | None = None,
) -> pb2.ReelSummary:
    script = sidecar.script if sidecar is not None else None
    window = _reel_window_pb(info, sidecar, tz)
    summary = pb2.ReelSummary(
        key=info.key,
        library=info.library,
        span=wire.SPAN_TO_PB[Span(info.span)],
        kind=wire.KIND_TO_PB[Kind(info.kind)],
        window=window,
        title=info.title,
        subtitle=script.subtitle if script else "",
        duration_seconds=info.duration_s,
        size_bytes=info.size_bytes,
        sha256=info.sha256,
        content_type=catalog.CONTENT_TYPE,
        poster_key=info.key + catalog.POSTER_SUFFIX if info.poster_name else "",
        create_time=wire.ts_to_pb(info.created_at),
        precomputed=info.precomputed,
        mood=info.mood or (script.mood if script else ""),
        music_style=info.music_style or (script.music_style if script else ""),
        mode_used=wire.MODE_TO_PB.get(Mode(info.mode_used or "FAST"), common_pb2.SCRIPT_MODE_FAST),
        fallback_reason=info.fallback_reason,
    )
    if info.valid_until is not None:
        summary.valid_until.CopyFrom(wire.ts_to_pb(info.valid_until))
    if urls is not None:
        summary.video_url, summary.poster_url = urls[0], urls[1]
        summary.url_expire_time.CopyFrom(wire.ts_to_pb(urls[2]))
    return summary


class ReelServicer(pb2_grpc.ReelServiceServicer):
    def __init__(self, app: App) -> None:
        self.app = app

    def CreateReel(self, request, context):  # noqa: N802  # gRPC method name
        request_id = wire.request_id_from_pb(request.request_id)
        lib = self.app.library(request.library)
        span = wire.span_from_pb(request.span)
        kind = wire.kind_from_pb(request.kind)
        check_scope(span, kind)
        anchor = check_anchor(wire.date_from_pb(request.anchor_date), lib.timezone)
        mode = wire.mode_from_pb(request.mode)
        choice = choice_from_pb(request.options)
        require_media(self.app.deps, ReelSpec(lib.key, span, kind, anchor, mode, choice), _wait_budget(context))
        job, _created = self.app.runner.submit(
            JobRequest(
                lib.key,
                span,
                kind,
                anchor,
                mode,
                choice,
                request_id=request_id or None,
            ),
            peer=_peer(context),
        )
        return pb2.CreateReelResponse(job=job_to_pb(job))

    def GetReelJob(self, request, context):  # noqa: N802  # gRPC method name
        return pb2.GetReelJobResponse(job=job_to_pb(self.app.runner.get(_job_id(request.job_id))))

    def WatchReelJob(self, request, context):  # noqa: N802  # gRPC method name
        if request.after_sequence < 0:
            raise InvalidArgument("SEQUENCE_INVALID", "after_sequence must not be negative")
        for event, job in self.app.runner.watch(_job_id(request.job_id), request.after_sequence, context.is_active):
            yield watch_response(event, job)

    def CancelReelJob(self, request, context):  # noqa: N802  # gRPC method name
        return pb2.CancelReelJobResponse(job=job_to_pb(self.app.runner.cancel(_job_id(request.job_id))))

    def GetPrecomputedReel(self, request, context):  # noqa: N802  # gRPC method name
        lib = self.app.library(request.library)
        span, kind = wire.span_from_pb(request.span), wire.kind_from_pb(request.kind)
        check_scope(span, kind)
        info = catalog.precomputed_reel(self.app.engine, self.app.store, lib.key, span, kind)
        return pb2.GetPrecomputedReelResponse(
            reel=summary_to_pb(info, tz=lib.timezone, urls=signed_urls(self.app, info))
        )

    def StreamReelVideo(self, request, context):  # noqa: N802  # gRPC method name
        target = catalog.stream_target(self.app.engine, self.app.store, request.key)
        chunk_size = self.app.settings.stream_chunk_kib * 1024
        for chunk, offset, first in stream_chunks(
            self.app.store, target, request.read_offset, request.read_limit, chunk_size, context.is_active
        ):
            msg = pb2.StreamReelVideoResponse(data=chunk, offset=offset)
            if first:
                msg.size_bytes = target.size_bytes
                msg.sha256 = target.sha256
                msg.content_type = target.content_type
            yield msg

    def GetReel(self, request, context):  # noqa: N802  # gRPC method name
        info = catalog.find_reel(self.app.engine, request.key)
        sidecar = load_sidecar(self.app.store, info.sidecar_name)
        stats = sidecar.stats
        response = pb2.GetReelResponse(
            reel=summary_to_pb(info, sidecar, self._tz(info.library), signed_urls(self.app, info)),
            media=[
                pb2.ReelMedia(
                    media_id=m.media_id,
                    relative_path=m.relative_path,
                    kind=common_pb2.MEDIA_KIND_VIDEO if m.kind == MediaKind.VIDEO else common_pb2.MEDIA_KIND_PHOTO,
                    taken_at=wire.ts_to_pb(m.taken_at),
                    date_source=m.date_source,
                    date_from_mtime=m.date_source == "MTIME",
                    pick_reason=m.pick_reason,
                    pick_detail=m.pick_detail,
                    moment=m.moment,
                    moment_count=m.moment_count,
                    pick_score=m.pick_score,
                    quality_flags=list(m.quality_flags),
                    quality=wire.quality_to_pb(m.quality),
                )
                for m in sidecar.media
            ],
            options=choice_to_pb(sidecar.params.choice),
            stats=pb2.RenderStats(
                wall_seconds=stats.wall_s,
                frames=stats.frames,
                width=stats.width,
                height=stats.height,
                fps=stats.fps,
                script_seconds=stats.script_s,
                render_seconds=stats.render_s,
                skipped_media=stats.skipped_media,
                dropped_media=[
                    pb2.DroppedMedia(
                        media_id=d.media_id, relative_path=d.relative_path, reason=d.reason, detail=d.detail
                    )
                    for d in stats.dropped_media
                ],
                shots=[
                    pb2.RenderedShot(
                        index=r.index,
                        media_id=r.media_id,
                        treatment=r.treatment,
                        segment_start_seconds=r.segment_start_s,
                        segment_end_seconds=r.segment_end_s,
                        segment_reason=r.segment_reason,
                        clip_audio=r.clip_audio,
                        detail=r.detail,
                    )
                    for r in stats.shots
                ],
            ),
            job_id=info.job_id or sidecar.job_id,
        )
        if sidecar.script is not None:
            response.script.CopyFrom(wire.script_to_pb(sidecar.script))
        return response

    def ListReels(self, request, context):  # noqa: N802  # gRPC method name
        library = self.app.library(request.library).key if request.library else None
        reels, token = catalog.list_reels(
            self.app.engine,
            library,
            wire.span_from_pb(request.span, required=False),
            wire.kind_from_pb(request.kind, required=False),
            check_page_size(request.page_size),
            request.page_token,
        )
        return pb2.ListReelsResponse(
            reels=[summary_to_pb(r, tz=self._tz(r.library)) for r in reels], next_page_token=token
        )

    def RateReel(self, request, context):  # noqa: N802  # gRPC method name
        rating = {pb2.RATING_GOOD: "GOOD", pb2.RATING_BAD: "BAD"}.get(request.rating, "")
        replaced = rate_reel(
            self.app.engine, self.app.store, request.key, rating, list(request.reasons), request.comment, request.rater
        )
        return pb2.RateReelResponse(replaced=replaced)

    def GetPreferences(self, request, context):  # noqa: N802  # gRPC method name
        lib = self.app.library(request.library)
        stored = get_preferences(self.app.engine, lib.key)
        p = stored.prefs
        prefs = common_pb2.Preferences(
            favorite_moods=p.favorite_moods,
            disliked_music_styles=p.disliked_music_styles,
            preferred_duration_seconds=p.preferred_duration_s,
            style_stats=[
                common_pb2.StyleStat(
                    mood=x.mood,
                    music_style=x.music_style,
                    good_count=x.good,
                    bad_count=x.bad,
                    success_rate=x.success_rate,
                )
                for x in p.style_stats
            ],
        )
        response = pb2.GetPreferencesResponse(
            library=lib.key,
            preferences=prefs,
            feedback_count=stored.feedback_count,
            captured_options=choice_to_pb(stored.captured),
        )
        if stored.updated_at is not None:
            response.update_time.CopyFrom(wire.ts_to_pb(stored.updated_at))
        return response

    def _tz(self, library: str) -> str:
        lib = self.app.libraries.get(library)
        return lib.timezone if lib is not None else "UTC"

    def CreateExclusion(self, request, context):  # noqa: N802  # gRPC method name
        lib = self.app.library(request.library)
        target = request.exclusion
        which = target.WhichOneof("target")
        if which == "date_range":
            req = hiding.HideRequest(
                start=wire.date_from_pb(target.date_range.start_date, "date_range.start_date"),
                end=wire.date_from_pb(target.date_range.end_date, "date_range.end_date"),
            )
            if req.start is None or req.end is None:
                raise InvalidArgument("DATE_RANGE_INVALID", "date_range needs a start_date and an end_date")
        else:
            req = hiding.HideRequest(media_id=target.media_id, folder=target.folder)
        row, created = hiding.hide(
            self.app.engine, lib, req, request.request_id, indexed=self.app.deps.indexed(lib.key)
        )
        return pb2.CreateExclusionResponse(exclusion=exclusion_to_pb(row), created=created)

    def ListExclusions(self, request, context):  # noqa: N802  # gRPC method name
        lib = self.app.library(request.library)
        rows, token = hiding.list_hidden(
            self.app.engine, lib.key, check_page_size(request.page_size), request.page_token
        )
        return pb2.ListExclusionsResponse(exclusions=[exclusion_to_pb(r) for r in rows], next_page_token=token)

    def DeleteExclusion(self, request, context):  # noqa: N802  # gRPC method name
        lib = self.app.library(request.library)
        row = hiding.unhide(
            self.app.engine, lib.key, hiding.parse_exclusion_id(request.exclusion_id), request.request_id
        )
        return pb2.DeleteExclusionResponse(exclusion=exclusion_to_pb(row))


def exclusion_to_pb(row: Exclusion) -> pb2.Exclusion:
    msg = pb2.Exclusion(
        exclusion_id=str(row.id),
        library=row.library_key,
        relative_path=(row.rel_path or "") if row.target == ExclusionTarget.MEDIA else "",
        create_time=wire.ts_to_pb(row.created_at),
    )
    if row.target == ExclusionTarget.MEDIA:
        msg.media_id = row.media_id or ""
    elif row.target == ExclusionTarget.FOLDER:
        msg.folder = row.rel_path or ""
    elif row.start_date is not None and row.end_date is not None:
        msg.date_range.CopyFrom(
            common_pb2.DateRange(start_date=wire.date_to_pb(row.start_date), end_date=wire.date_to_pb(row.end_date))
        )
    if row.deleted_at is not None:
        msg.delete_time.CopyFrom(wire.ts_to_pb(row.deleted_at))
    return msg


SCAN_WAIT_S = 10.0  # longest a request waits for a library's first scan (within its deadline)


def _peer(context) -> str:
    """The caller's address, for the per-peer queue limit; "" where the context has
    none (grpc_testing's in-process contexts do not implement ``peer``)."""
    try:
        return context.peer() or ""
    except NotImplementedError:
        return ""


def _wait_budget(context) -> float:
    """How long this call may wait for a scan: up to SCAN_WAIT_S, leaving a little
    of the caller's deadline to answer in."""
    remaining = context.time_remaining()
    return SCAN_WAIT_S if remaining is None else max(0.0, min(SCAN_WAIT_S, remaining - 0.2))


def _job_id(raw: str) -> str:
    if not raw or len(raw) > 64:
        raise InvalidArgument("JOB_ID_INVALID", "job_id is required")
    return raw


def _library_to_pb(app: App, row: Library) -> admin_pb2.Library:
    photos, videos = media_kind_counts(app.engine, row.key)
    analysed = analysis_counts(app.engine, row.key)
    lib = app.libraries.get(row.key)
    return admin_pb2.Library(
        key=row.key,
        root_path=row.root_path,
        time_zone=row.timezone,
        media_count=row.media_count,
        photo_count=photos,
        video_count=videos,
        skipped_count=row.skipped_count,
        skipped=[admin_pb2.SkippedFile(relative_path=s["rel_path"], reason=s["reason"]) for s in row.skipped_json],
        last_scan_time=wire.ts_to_pb(row.last_scan_at),
        has_context_pack=bool(lib and lib.context_dir.is_dir()),
        scanning=app.scans.scanning(row.key),
        indexed=app.scans.indexed(row.key),
        date_sources=date_source_counts(app.engine, row.key),
        analysed_count=analysed["analysed"],
        analysis_errors=analysed["errors"],
    )


def dict_to_struct(data: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(_jsonable(data))
    return s


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


class ReelAdminServicer(admin_grpc.ReelAdminServiceServicer):
    def __init__(self, app: App) -> None:
        self.app = app

    def ListLibraries(self, request, context):  # noqa: N802  # gRPC method name
        rows, token = catalog.list_libraries(
            self.app.engine, self.app.libraries.keys(), check_page_size(request.page_size), request.page_token
        )
        return admin_pb2.ListLibrariesResponse(
            libraries=[_library_to_pb(self.app, r) for r in rows], next_page_token=token
        )

    def RescanLibrary(self, request, context):  # noqa: N802  # gRPC method name
        lib = self.app.library(request.library)
        result = self.app.scans.scan(lib.key)
        return admin_pb2.RescanLibraryResponse(
            library=_library_to_pb(self.app, result.library),
            added=result.added,
            removed=result.removed,
            scan_seconds=result.seconds,
            updated=result.updated,
            unchanged=result.unchanged,
            opened=result.probed,
        )

    def RunPregenNow(self, request, context):  # noqa: N802  # gRPC method name
        spans = [wire.span_from_pb(s) for s in request.spans]
        kinds = [wire.kind_from_pb(k) for k in request.kinds]
        outcome = self.app.pregen.run(
            anchor=wire.date_from_pb(request.anchor_date),
            libraries=[self.app.library(name) for name in request.libraries],
            spans=spans,
            kinds=kinds,
            dry_run=request.dry_run,
            request_id=wire.request_id_from_pb(request.request_id),
        )
        return admin_pb2.RunPregenNowResponse(
            run=run_to_pb(outcome.run),
            outcomes=[
                admin_pb2.ScopeOutcome(
                    library=o["library"],
                    span=wire.SPAN_TO_PB[Span(o["span"])],
                    kind=wire.KIND_TO_PB[Kind(o["kind"])],
                    outcome=o["outcome"],
                    reason=o["reason"],
                    reel_key=o["reel_key"],
                    message=o["message"],
                )
                for o in outcome.result.report.get("scopes", [])
            ],
        )

    def RunRetentionNow(self, request, context):  # noqa: N802  # gRPC method name
        dry_run = request.dry_run if request.HasField("dry_run") else True
        outcome, plan = self.app.retention.run(dry_run=dry_run, request_id=wire.request_id_from_pb(request.request_id))
        return admin_pb2.RunRetentionNowResponse(
            run=run_to_pb(outcome.run),
            deleted=[
                admin_pb2.DeletedItem(type=d.type, path=d.path, size_bytes=d.size_bytes, reason=d.reason) for d in plan
            ],
            bytes_freed=sum(d.size_bytes for d in plan),
            dry_run=dry_run,
        )

    def RunConsolidationNow(self, request, context):  # noqa: N802  # gRPC method name
        outcome = self.app.consolidation.run(
            dry_run=request.dry_run, request_id=wire.request_id_from_pb(request.request_id)
        )
        return admin_pb2.RunConsolidationNowResponse(run=run_to_pb(outcome.run))

    def ListMaintenanceRuns(self, request, context):  # noqa: N802  # gRPC method name
        kind = MAINTENANCE_KIND_FROM_PB.get(request.kind)
        runs, token = catalog.list_maintenance_runs(
            self.app.engine, kind, check_page_size(request.page_size), request.page_token
        )
        return admin_pb2.ListMaintenanceRunsResponse(runs=[run_to_pb(r) for r in runs], next_page_token=token)

    def GetLedgerStats(self, request, context):  # noqa: N802  # gRPC method name
        stats = ledger_stats(self.app.engine, self.app.store)
        return admin_pb2.GetLedgerStatsResponse(
            scopes=[
                admin_pb2.ScopeStats(
                    library=sc.library_key,
                    span=wire.SPAN_TO_PB[Span(sc.span)],
                    kind=wire.KIND_TO_PB[Kind(sc.kind)],
                    reel_count=sc.reel_count,
                    total_bytes=sc.total_bytes,
                )
                for sc in stats.scopes
            ],
            ledger_bytes=stats.ledger_bytes,
            cache_bytes=stats.cache_bytes,
            cache_files=stats.cache_files,
            locks=[
                admin_pb2.LockHolder(
                    lock_id=lock.lock_id,
                    owner_id=lock.owner_id,
                    acquire_time=wire.ts_to_pb(lock.acquired_at),
                    expire_time=wire.ts_to_pb(lock.expires_at),
                )
                for lock in stats.locks
            ],
            last_runs=[run_to_pb(r) for r in stats.last_runs],
            job_count=stats.job_count,
        )


MAINTENANCE_KIND_TO_PB = {
    RunKind.PREGEN: admin_pb2.MAINTENANCE_KIND_PREGEN,
    RunKind.RETENTION: admin_pb2.MAINTENANCE_KIND_RETENTION,
    RunKind.CONSOLIDATION: admin_pb2.MAINTENANCE_KIND_CONSOLIDATION,
}
MAINTENANCE_KIND_FROM_PB = {pb: kind for kind, pb in MAINTENANCE_KIND_TO_PB.items()}


def run_to_pb(run: MaintenanceRun) -> admin_pb2.MaintenanceRun:
    msg = admin_pb2.MaintenanceRun(
        run_id=run.id or 0,
        kind=MAINTENANCE_KIND_TO_PB[RunKind(run.kind)],
        owner_id=run.owner_id,
        trigger=str(run.trigger),
        dry_run=run.dry_run,
        start_time=wire.ts_to_pb(run.started_at),
        status=str(run.status or "RUNNING"),
        report=dict_to_struct(run.report_json or {}),
        errors=list(run.errors_json or []),
    )
    if run.finished_at is not None:
        msg.end_time.CopyFrom(wire.ts_to_pb(run.finished_at))
    return msg

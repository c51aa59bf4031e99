"""ReelService and ReelAdminService in process (grpc_testing, no sockets): every
INVALID_ARGUMENT the servicers answer, the NOT_FOUND / FAILED_PRECONDITION /
OUT_OF_RANGE a caller sees with its ErrorInfo reason, and paging (page_size,
next_page_token, foreign tokens).

One real App per module on a temporary SQLite ledger, with the sample library
indexed through RescanLibrary; its job workers and loops are not started, so a
job created here stays QUEUED. What crosses the wire (streamed bytes, tokens in
metadata, deadlines, health, reflection, the log line) is tested end to end in
tests/foundation/test_servers.py, test_access.py and tests/pipeline/."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import grpc
import pytest
from google.type import date_pb2

from ledger import reels as reel_dao
from ledger.db import session_scope
from reels.v1 import common_pb2
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2
from reels_core.domain import MAX_TARGET_S, MIN_TARGET_S
from render_service.app import App
from render_service.render import ShotRender
from render_service.servicers import ReelAdminServicer, ReelServicer
from render_service.sidecar import Sidecar, SidecarStats
from tests.conftest import error_reason, make_settings, today_utc
from tests.inprocess import InProcessStub, serve_in_process

REEL_SERVICE = pb2.DESCRIPTOR.services_by_name["ReelService"]
ADMIN_SERVICE = admin_pb2.DESCRIPTOR.services_by_name["ReelAdminService"]

INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND


def d(day: dt.date) -> date_pb2.Date:
    return date_pb2.Date(year=day.year, month=day.month, day=day.day)


def stubs(app: App) -> tuple[InProcessStub, InProcessStub]:
    server = serve_in_process({REEL_SERVICE: ReelServicer(app), ADMIN_SERVICE: ReelAdminServicer(app)})
    return InProcessStub(server, REEL_SERVICE), InProcessStub(server, ADMIN_SERVICE)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, sample_library_src: Path) -> Iterator[App]:
    """The sample library, read in place (a scan never writes into a library)."""
    root = tmp_path_factory.mktemp("inprocess")
    app = App.build(make_settings(root / "data", REEL_LIBRARIES=f"sample={sample_library_src}"))
    _reels, admin = stubs(app)
    admin.RescanLibrary(admin_pb2.RescanLibraryRequest(library="sample"))
    yield app
    app.stop()


@pytest.fixture(scope="module")
def reels(app: App) -> InProcessStub:
    return stubs(app)[0]


@pytest.fixture(scope="module")
def admin(app: App) -> InProcessStub:
    return stubs(app)[1]


def fails(call: Any, request: Any) -> tuple[grpc.StatusCode, str]:
    """(code, ErrorInfo reason) of a call that must fail; streams are read to the end."""
    with pytest.raises(grpc.RpcError) as err:
        result = call(request)
        if isinstance(result, Iterator):
            list(result)
    return err.value.code(), error_reason(err.value)


# --- library keys -------------------------------------------------------------------


@pytest.mark.parametrize(
    "library, code, reason",
    [
        ("Bad Key!", grpc.StatusCode.INVALID_ARGUMENT, "LIBRARY_KEY_INVALID"),
        ("x" * 65, grpc.StatusCode.INVALID_ARGUMENT, "LIBRARY_KEY_INVALID"),
        ("", grpc.StatusCode.INVALID_ARGUMENT, "LIBRARY_KEY_INVALID"),
        ("nosuchlib", grpc.StatusCode.NOT_FOUND, "LIBRARY_NOT_FOUND"),
    ],
)
def test_library_key_errors(admin, library, code, reason):
    with pytest.raises(grpc.RpcError) as err:
        admin.RescanLibrary(admin_pb2.RescanLibraryRequest(library=library))
    assert err.value.code() == code
    assert error_reason(err.value) == reason


def test_library_key_is_normalised(admin):
    resp = admin.RescanLibrary(admin_pb2.RescanLibraryRequest(library="  SAMPLE "))
    assert resp.library.key == "sample"


WITH_LIBRARY = {
    "CreateReel": lambda lib: pb2.CreateReelRequest(
        library=lib, span=common_pb2.SPAN_DAY, kind=common_pb2.REEL_KIND_RECAP
    ),
    "GetPrecomputedReel": lambda lib: pb2.GetPrecomputedReelRequest(
        library=lib, span=common_pb2.SPAN_DAY, kind=common_pb2.REEL_KIND_RECAP
    ),
    "ListReels": lambda lib: pb2.ListReelsRequest(library=lib),
    "GetPreferences": lambda lib: pb2.GetPreferencesRequest(library=lib),
    "RunPregenNow": lambda lib: admin_pb2.RunPregenNowRequest(libraries=[lib], dry_run=True),
}


@pytest.mark.parametrize("rpc", sorted(WITH_LIBRARY))
@pytest.mark.parametrize(
    "library, code, reason",
    [("Bad Key!", INVALID, "LIBRARY_KEY_INVALID"), ("nosuchlib", NOT_FOUND, "LIBRARY_NOT_FOUND")],
)
def test_every_rpc_naming_a_library_checks_its_key(reels, admin, rpc, library, code, reason):
    stub = admin if rpc == "RunPregenNow" else reels
    assert fails(getattr(stub, rpc), WITH_LIBRARY[rpc](library)) == (code, reason)


# --- spans, kinds, dates, render options -------------------------------------------


def test_unspecified_enum_is_invalid_argument(reels):
    with pytest.raises(grpc.RpcError) as err:
        reels.GetPrecomputedReel(pb2.GetPrecomputedReelRequest(library="sample", kind=common_pb2.REEL_KIND_RECAP))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(err.value) == "SPAN_INVALID"
    with pytest.raises(grpc.RpcError) as err:
        reels.GetPrecomputedReel(pb2.GetPrecomputedReelRequest(library="sample", span=common_pb2.SPAN_DAY))
    assert error_reason(err.value) == "KIND_INVALID"


def week_recap(**fields: Any) -> pb2.CreateReelRequest:
    """A CreateReel request the sample library can serve, with `fields` changed."""
    defaults = {"library": "sample", "span": common_pb2.SPAN_WEEK, "kind": common_pb2.REEL_KIND_RECAP}
    return pb2.CreateReelRequest(**{**defaults, **fields})


def opts(**fields: Any) -> common_pb2.RenderOptions:
    return common_pb2.RenderOptions(**fields)


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"span": common_pb2.SPAN_UNSPECIFIED}, "SPAN_INVALID"),
        ({"span": 99}, "SPAN_INVALID"),
        ({"kind": common_pb2.REEL_KIND_UNSPECIFIED}, "KIND_INVALID"),
        ({"mode": 99}, "MODE_INVALID"),
        ({"anchor_date": date_pb2.Date(year=2023, month=2, day=30)}, "DATE_INVALID"),
        ({"options": opts(resolution="4k")}, "RESOLUTION_INVALID"),
        ({"options": opts(aspect="4:3")}, "ASPECT_INVALID"),
        ({"options": opts(target_duration_seconds=MIN_TARGET_S - 0.5)}, "DURATION_OUT_OF_RANGE"),
        ({"options": opts(target_duration_seconds=MAX_TARGET_S + 0.5)}, "DURATION_OUT_OF_RANGE"),
        ({"options": opts(target_duration_seconds=-1)}, "DURATION_OUT_OF_RANGE"),
        ({"options": opts(mood="grumpy")}, "MOOD_INVALID"),
        ({"options": opts(music_style="polka")}, "MUSIC_STYLE_INVALID"),
        ({"options": opts(max_shots=-1)}, "MAX_SHOTS_INVALID"),
        ({"options": opts(max_shots=101)}, "MAX_SHOTS_INVALID"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_create_reel_validation(reels, fields, reason):
    assert fails(reels.CreateReel, week_recap(**fields)) == (INVALID, reason)


def test_anchor_in_future_and_empty_window(reels):
    future = today_utc() + dt.timedelta(days=3)
    with pytest.raises(grpc.RpcError) as err:
        reels.CreateReel(
            pb2.CreateReelRequest(
                library="sample",
                span=common_pb2.SPAN_DAY,
                kind=common_pb2.REEL_KIND_RECAP,
                anchor_date=date_pb2.Date(year=future.year, month=future.month, day=future.day),
            )
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and error_reason(err.value) == "ANCHOR_IN_FUTURE"
    with pytest.raises(grpc.RpcError) as err:
        reels.CreateReel(
            pb2.CreateReelRequest(
                library="sample",
                span=common_pb2.SPAN_DAY,
                kind=common_pb2.REEL_KIND_RECAP,
                anchor_date=date_pb2.Date(year=1990, month=1, day=1),
            )
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(err.value) == "NO_MEDIA_IN_WINDOW"


def test_duration_bounds_are_accepted_and_the_job_can_be_read_and_cancelled(reels):
    """The bounds themselves pass (the job is queued, as no worker runs here)."""
    for target in (MIN_TARGET_S, MAX_TARGET_S):
        job = reels.CreateReel(week_recap(options=opts(target_duration_seconds=target))).job
        assert job.state == pb2.JOB_STATE_QUEUED and job.library == "sample" and job.span == common_pb2.SPAN_WEEK
        assert reels.GetReelJob(pb2.GetReelJobRequest(job_id=job.job_id)).job.job_id == job.job_id
        cancelled = reels.CancelReelJob(pb2.CancelReelJobRequest(job_id=job.job_id)).job
        assert cancelled.state == pb2.JOB_STATE_CANCELLED and cancelled.reason == "CANCELLED"


# --- jobs ---------------------------------------------------------------------------

JOB_RPCS = {
    "GetReelJob": pb2.GetReelJobRequest,
    "CancelReelJob": pb2.CancelReelJobRequest,
    "WatchReelJob": pb2.WatchReelJobRequest,
}


@pytest.mark.parametrize("rpc", sorted(JOB_RPCS))
@pytest.mark.parametrize(
    "job_id, code, reason",
    [
        ("", INVALID, "JOB_ID_INVALID"),
        ("j" * 65, INVALID, "JOB_ID_INVALID"),
        ("no-such-job", NOT_FOUND, "JOB_NOT_FOUND"),
    ],
)
def test_job_ids(reels, rpc, job_id, code, reason):
    assert fails(getattr(reels, rpc), JOB_RPCS[rpc](job_id=job_id)) == (code, reason)


def test_watch_refuses_a_negative_sequence(reels):
    assert fails(reels.WatchReelJob, pb2.WatchReelJobRequest(job_id="any", after_sequence=-1)) == (
        INVALID,
        "SEQUENCE_INVALID",
    )


# --- reel keys, streaming offsets, ratings -----------------------------------------

VIDEO = bytes(range(256)) * 64  # 16 KiB standing in for a reel's file


def seed_reel(app: App, key: str, span: str, anchor: dt.date, sidecar: str = "") -> None:
    """A pre-generated reel as a pass leaves it: the video in the store, the ledger row
    (and ``sidecar``, the name of a sidecar already in the store)."""
    staged = app.store.staging_path(f"{key}.mp4")
    staged.write_bytes(VIDEO)
    app.store.publish(f"{key}.mp4", staged)
    start = dt.datetime.combine(anchor, dt.time(), dt.UTC)
    with session_scope(app.engine) as session:
        reel_dao.record_reel(
            session,
            key=key,
            library_key="sample",
            span=span,
            kind="RECAP",
            anchor_date=anchor,
            window_start=start - dt.timedelta(days=1),
            window_end=start,
            valid_until=start + dt.timedelta(days=3650),
            video_path=f"{key}.mp4",
            sidecar_path=sidecar,
            poster_path="",
            title=key,
            size_bytes=len(VIDEO),
            sha256=hashlib.sha256(VIDEO).hexdigest(),
        )


SEEDED = [  # recorded in this order; ListReels answers newest first
    ("sample-day-recap-20200101-00000001", "DAY", dt.date(2020, 1, 1)),
    ("sample-day-recap-20200102-00000002", "DAY", dt.date(2020, 1, 2)),
    ("sample-week-recap-20200105-00000003", "WEEK", dt.date(2020, 1, 5)),
]


@pytest.fixture(scope="module")
def seeded(app: App) -> list[str]:
    for key, span, anchor in SEEDED:
        seed_reel(app, key, span, anchor)
    return [key for key, _span, _anchor in SEEDED]


@pytest.mark.parametrize(
    "request_fields, code, reason",
    [
        ({"key": "../../etc/passwd"}, grpc.StatusCode.INVALID_ARGUMENT, "REEL_KEY_INVALID"),
        ({"key": ""}, grpc.StatusCode.INVALID_ARGUMENT, "REEL_KEY_INVALID"),
        ({"key": "sample-week-recap-20200101-deadbeef"}, grpc.StatusCode.NOT_FOUND, "REEL_NOT_FOUND"),
    ],
)
def test_bad_keys(reels, request_fields, code, reason):
    with pytest.raises(grpc.RpcError) as err:
        list(reels.StreamReelVideo(pb2.StreamReelVideoRequest(**request_fields)))
    assert err.value.code() == code and error_reason(err.value) == reason


@pytest.mark.parametrize("rpc, request_type", [("GetReel", pb2.GetReelRequest), ("RateReel", pb2.RateReelRequest)])
@pytest.mark.parametrize(
    "key, code, reason",
    [
        ("../../etc/passwd", INVALID, "REEL_KEY_INVALID"),
        ("", INVALID, "REEL_KEY_INVALID"),
        ("sample-week-recap-20200101-deadbeef", NOT_FOUND, "REEL_NOT_FOUND"),
    ],
)
def test_bad_keys_elsewhere(reels, rpc, request_type, key, code, reason):
    extra = {"rating": pb2.RATING_GOOD} if rpc == "RateReel" else {}
    assert fails(getattr(reels, rpc), request_type(key=key, **extra)) == (code, reason)


def test_bad_offsets(reels, seeded):
    key = seeded[0]
    size = reels.GetReel(pb2.GetReelRequest(key=key)).reel.size_bytes
    with pytest.raises(grpc.RpcError) as err:
        list(reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=key, read_offset=size + 1)))
    assert err.value.code() == grpc.StatusCode.OUT_OF_RANGE
    with pytest.raises(grpc.RpcError) as err:
        list(reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=key, read_offset=-1)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    "fields, code, reason",
    [
        ({"read_offset": len(VIDEO) + 1}, grpc.StatusCode.OUT_OF_RANGE, "READ_OFFSET_PAST_END"),
        ({"read_offset": -1}, INVALID, "READ_OFFSET_INVALID"),
        ({"read_limit": -1}, INVALID, "READ_LIMIT_INVALID"),
    ],
)
def test_offset_and_limit_reasons(reels, seeded, fields, code, reason):
    assert fails(reels.StreamReelVideo, pb2.StreamReelVideoRequest(key=seeded[0], **fields)) == (code, reason)


def test_a_seeded_reel_streams_whole(reels, seeded):
    """The seed is a real reel to the servicer (so the errors above are the offsets')."""
    messages = list(reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=seeded[0])))
    assert b"".join(m.data for m in messages) == VIDEO
    assert messages[0].size_bytes == len(VIDEO) and messages[0].sha256 == hashlib.sha256(VIDEO).hexdigest()


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"rating": pb2.RATING_UNSPECIFIED}, "RATING_INVALID"),
        ({"reasons": ["too slow"] * 50}, "REASONS_INVALID"),
        ({"reasons": ["x" * 5000]}, "REASONS_INVALID"),
        ({"rater": "r" * 5000}, "RATER_INVALID"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_rating_validation(reels, seeded, fields, reason):
    request = pb2.RateReelRequest(key=seeded[0], rating=pb2.RATING_GOOD)
    for name, value in fields.items():
        if isinstance(value, list):
            getattr(request, name).extend(value)
        else:
            setattr(request, name, value)
    assert fails(reels.RateReel, request) == (INVALID, reason)


def test_no_reel_for_an_empty_scope(reels):
    request = pb2.GetPrecomputedReelRequest(
        library="sample", span=common_pb2.SPAN_MONTH, kind=common_pb2.REEL_KIND_ON_THIS_DAY
    )
    assert fails(reels.GetPrecomputedReel, request) == (NOT_FOUND, "NO_REEL")


# --- paging -------------------------------------------------------------------------


def test_page_size_negative_and_huge(reels, admin):
    with pytest.raises(grpc.RpcError) as err:
        admin.ListLibraries(admin_pb2.ListLibrariesRequest(page_size=-1))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(err.value) == "PAGE_SIZE_INVALID"
    with pytest.raises(grpc.RpcError) as err:
        reels.ListReels(pb2.ListReelsRequest(page_size=-5))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    resp = reels.ListReels(pb2.ListReelsRequest(page_size=2_000_000_000))
    assert resp.next_page_token == ""
    libs = admin.ListLibraries(admin_pb2.ListLibrariesRequest(page_size=2_000_000_000))
    assert [lib.key for lib in libs.libraries] == ["sample"]


def test_bad_page_token(reels):
    with pytest.raises(grpc.RpcError) as err:
        reels.ListReels(pb2.ListReelsRequest(page_token="garbage"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(err.value) == "PAGE_TOKEN_INVALID"


@pytest.mark.parametrize(
    "rpc, request_type",
    [
        ("ListReels", pb2.ListReelsRequest),
        ("ListLibraries", admin_pb2.ListLibrariesRequest),
        ("ListMaintenanceRuns", admin_pb2.ListMaintenanceRunsRequest),
    ],
)
def test_every_list_checks_page_size_and_token(reels, admin, rpc, request_type):
    stub = reels if rpc == "ListReels" else admin
    assert fails(getattr(stub, rpc), request_type(page_size=-1)) == (INVALID, "PAGE_SIZE_INVALID")
    assert fails(getattr(stub, rpc), request_type(page_token="garbage")) == (INVALID, "PAGE_TOKEN_INVALID")


def test_list_reels_filters_are_optional_but_checked(reels):
    unknown_span, unknown_kind = cast(common_pb2.Span, 99), cast(common_pb2.ReelKind, 99)  # not in the enums
    assert fails(reels.ListReels, pb2.ListReelsRequest(span=unknown_span)) == (INVALID, "SPAN_INVALID")
    assert fails(reels.ListReels, pb2.ListReelsRequest(kind=unknown_kind)) == (INVALID, "KIND_INVALID")


def test_list_reels_pages_newest_first_and_tokens_keep_their_filter(reels, seeded):
    first = reels.ListReels(pb2.ListReelsRequest(page_size=2))
    assert [r.key for r in first.reels] == seeded[::-1][:2] and first.next_page_token
    rest = reels.ListReels(pb2.ListReelsRequest(page_size=2, page_token=first.next_page_token))
    assert [r.key for r in rest.reels] == seeded[:1] and rest.next_page_token == ""
    days = reels.ListReels(pb2.ListReelsRequest(span=common_pb2.SPAN_DAY, page_size=1))
    assert [r.key for r in days.reels] == [seeded[1]] and days.next_page_token
    more_days = reels.ListReels(
        pb2.ListReelsRequest(span=common_pb2.SPAN_DAY, page_size=1, page_token=days.next_page_token)
    )
    assert [r.key for r in more_days.reels] == [seeded[0]]
    # A token is bound to the filters it was issued for.
    assert fails(reels.ListReels, pb2.ListReelsRequest(span=common_pb2.SPAN_WEEK, page_token=days.next_page_token)) == (
        INVALID,
        "PAGE_TOKEN_INVALID",
    )
    assert reels.ListReels(pb2.ListReelsRequest(page_size=0)).reels  # 0: the default size


def test_list_maintenance_runs_pages_and_tokens_keep_their_kind(admin):
    ids = [
        admin.RunRetentionNow(admin_pb2.RunRetentionNowRequest(request_id=f"inprocess-retention-{i}")).run.run_id
        for i in range(3)
    ]
    retention = admin_pb2.MAINTENANCE_KIND_RETENTION
    first = admin.ListMaintenanceRuns(admin_pb2.ListMaintenanceRunsRequest(kind=retention, page_size=2))
    assert len(first.runs) == 2 and first.next_page_token
    rest = admin.ListMaintenanceRuns(
        admin_pb2.ListMaintenanceRunsRequest(kind=retention, page_size=2, page_token=first.next_page_token)
    )
    assert rest.next_page_token == ""
    assert sorted(r.run_id for r in [*first.runs, *rest.runs]) == sorted(ids)
    other_kind = admin_pb2.ListMaintenanceRunsRequest(
        kind=admin_pb2.MAINTENANCE_KIND_PREGEN, page_token=first.next_page_token
    )
    assert fails(admin.ListMaintenanceRuns, other_kind) == (INVALID, "PAGE_TOKEN_INVALID")


def test_list_libraries_pages(tmp_path):
    """Three configured (empty) libraries, two to a page."""
    spec = ",".join(f"{name}={tmp_path / name}" for name in ("alpha", "beta", "gamma"))
    for name in ("alpha", "beta", "gamma"):
        (tmp_path / name).mkdir()
    app = App.build(make_settings(tmp_path / "data", REEL_LIBRARIES=spec))
    try:
        _reels, admin = stubs(app)
        first = admin.ListLibraries(admin_pb2.ListLibrariesRequest(page_size=2))
        assert [lib.key for lib in first.libraries] == ["alpha", "beta"] and first.next_page_token
        rest = admin.ListLibraries(admin_pb2.ListLibrariesRequest(page_size=2, page_token=first.next_page_token))
        assert [lib.key for lib in rest.libraries] == ["gamma"] and rest.next_page_token == ""
        everything = admin.ListLibraries(admin_pb2.ListLibrariesRequest())  # 0: the default size
        assert [lib.key for lib in everything.libraries] == ["alpha", "beta", "gamma"]
    finally:
        app.stop()


# --- maintenance passes -------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, code, reason",
    [
        ({"spans": [common_pb2.SPAN_UNSPECIFIED]}, INVALID, "SPAN_INVALID"),
        ({"kinds": [common_pb2.REEL_KIND_UNSPECIFIED]}, INVALID, "KIND_INVALID"),
        ({"anchor_date": date_pb2.Date(year=2023, month=2, day=30)}, INVALID, "DATE_INVALID"),
        ({"anchor_date": d(today_utc() + dt.timedelta(days=3))}, INVALID, "ANCHOR_IN_FUTURE"),
    ],
    ids=lambda v: v if isinstance(v, str) and v.isupper() else None,
)
def test_run_pregen_now_validation(admin, fields, code, reason):
    request = admin_pb2.RunPregenNowRequest(dry_run=True, **fields)
    assert fails(admin.RunPregenNow, request) == (code, reason)


def test_a_request_id_belongs_to_one_kind_of_pass(admin):
    admin.RunRetentionNow(admin_pb2.RunRetentionNowRequest(request_id="inprocess-once"))
    again = admin_pb2.RunConsolidationNowRequest(dry_run=True, request_id="inprocess-once")
    assert fails(admin.RunConsolidationNow, again) == (INVALID, "REQUEST_ID_REUSED")


def test_get_reel_says_how_each_shot_was_drawn(reels, app):
    key = "sample-day-recap-20200103-00000004"
    shots = (
        ShotRender(0, "m-live", "live_photo_motion", 0.5, 2.5, "live_photo"),
        ShotRender(1, "m-talk", "video", 5.0, 7.0, "loudest", clip_audio=True),
        ShotRender(2, "m-still", "ken_burns", detail="motion_too_short"),
    )
    staged = app.store.staging_path(f"{key}.json")
    staged.write_text(Sidecar(key=key, stats=SidecarStats(shots=shots)).to_json())
    app.store.publish(f"{key}.json", staged)
    seed_reel(app, key, "DAY", dt.date(2020, 1, 3), sidecar=f"{key}.json")

    got = reels.GetReel(pb2.GetReelRequest(key=key)).stats.shots

    assert [(s.index, s.media_id, s.treatment, s.segment_reason, s.detail) for s in got] == [
        (0, "m-live", "live_photo_motion", "live_photo", ""),
        (1, "m-talk", "video", "loudest", ""),
        (2, "m-still", "ken_burns", "", "motion_too_short"),
    ]
    assert (got[1].segment_start_seconds, got[1].segment_end_seconds, got[1].clip_audio) == (5.0, 7.0, True)

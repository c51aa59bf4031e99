""" "Never show me this" in process (grpc_testing, no sockets): CreateExclusion,
ListExclusions and DeleteExclusion with their bad input, idempotency and pages; a
pre-generated reel that shows a hidden item stops being served at once (an older
one is served instead, else NOT_FOUND HIDDEN_MEDIA) and cannot be streamed; the
window a new reel is selected from leaves hidden media out; YEAR x ON_THIS_DAY is
refused and TRIP needs a trip.

One App on the sample library (indexed once); reels are seeded in the ledger and
the store as a pass leaves them, with their media rows. The real servers, a real
render and grpcurl are in tests/pipeline/test_trip_year_hide_e2e.py."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.type import date_pb2
from sqlmodel import col, select

from ledger import reels as reel_dao
from ledger.db import session_scope
from ledger.models import MediaItem
from reels.v1 import common_pb2
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2
from reels_core import clock
from reels_core.domain import Kind, MediaKind, Span
from reels_core.windows import window_for
from render_service import hiding
from render_service.app import App
from render_service.pipeline import media_fingerprint, window_media
from render_service.servicers import ReelAdminServicer, ReelServicer
from render_service.sidecar import Sidecar, SidecarMedia
from tests.conftest import ReelScope, error_reason, make_settings, today_utc
from tests.inprocess import InProcessStub, serve_in_process

REEL_SERVICE = pb2.DESCRIPTOR.services_by_name["ReelService"]
ADMIN_SERVICE = admin_pb2.DESCRIPTOR.services_by_name["ReelAdminService"]
INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
FAILED = grpc.StatusCode.FAILED_PRECONDITION
TODAY = today_utc()
VIDEO = bytes(range(256)) * 16


def d(day: dt.date) -> date_pb2.Date:
    return date_pb2.Date(year=day.year, month=day.month, day=day.day)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, sample_library_src: Path) -> Iterator[App]:
    root = tmp_path_factory.mktemp("hiding")
    app = App.build(make_settings(root / "data", REEL_LIBRARIES=f"sample={sample_library_src}"))
    server = serve_in_process({REEL_SERVICE: ReelServicer(app), ADMIN_SERVICE: ReelAdminServicer(app)})
    InProcessStub(server, ADMIN_SERVICE).RescanLibrary(admin_pb2.RescanLibraryRequest(library="sample"))
    yield app
    app.stop()


@pytest.fixture(scope="module")
def reels(app: App) -> InProcessStub:
    return InProcessStub(serve_in_process({REEL_SERVICE: ReelServicer(app)}), REEL_SERVICE)


@pytest.fixture(scope="module")
def media(app: App) -> list[MediaItem]:
    with session_scope(app.engine) as session:
        return list(session.exec(select(MediaItem).order_by(col(MediaItem.taken_at_utc))))


def fails(call: Any, request: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        result = call(request)
        if isinstance(result, Iterator):
            list(result)
    return err.value.code(), error_reason(err.value)


def hide(reels: InProcessStub, request_id: str = "", **target: Any) -> pb2.CreateExclusionResponse:
    return reels.CreateExclusion(
        pb2.CreateExclusionRequest(library="sample", exclusion=pb2.Exclusion(**target), request_id=request_id)
    )


def unhide(reels: InProcessStub, exclusion_id: str, request_id: str = "") -> pb2.DeleteExclusionResponse:
    return reels.DeleteExclusion(
        pb2.DeleteExclusionRequest(library="sample", exclusion_id=exclusion_id, request_id=request_id)
    )


def dates(start: dt.date, end: dt.date) -> common_pb2.DateRange:
    return common_pb2.DateRange(start_date=d(start), end_date=d(end))


# --- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "target, code, reason",
    [
        ({"media_id": "0123456789abcdef0123"}, NOT_FOUND, "MEDIA_NOT_FOUND"),
        ({"media_id": "x" * 129}, INVALID, "MEDIA_ID_INVALID"),
        ({}, INVALID, "EXCLUSION_TARGET_INVALID"),
        ({"date_range": dates(TODAY, TODAY)}, INVALID, "DATE_RANGE_INVALID"),  # empty
        ({"date_range": dates(TODAY, TODAY - dt.timedelta(days=3))}, INVALID, "DATE_RANGE_INVALID"),  # inverted
        ({"date_range": common_pb2.DateRange(start_date=d(TODAY))}, INVALID, "DATE_RANGE_INVALID"),  # no end
        (
            {"date_range": common_pb2.DateRange(start_date=date_pb2.Date(year=2025, month=2, day=30))},
            INVALID,
            "DATE_INVALID",
        ),
        ({"folder": "../elsewhere"}, INVALID, "FOLDER_INVALID"),
        ({"folder": "2024/../../etc"}, INVALID, "FOLDER_INVALID"),
        ({"folder": "/etc"}, INVALID, "FOLDER_OUTSIDE_LIBRARY"),
        ({"folder": "no/such/folder"}, NOT_FOUND, "FOLDER_NOT_FOUND"),
    ],
)
def test_bad_exclusions_are_refused_with_a_reason(reels, target, code, reason):
    assert fails(reels.CreateExclusion, pb2.CreateExclusionRequest(library="sample", exclusion=target)) == (
        code,
        reason,
    )


def test_a_folder_given_as_an_absolute_path_inside_the_library_is_made_relative(reels, media, sample_library_src):
    folder = Path(media[0].rel_path).parent
    created = hide(reels, folder=str(sample_library_src / folder))
    try:
        assert created.exclusion.folder == folder.as_posix()
    finally:
        unhide(reels, created.exclusion.exclusion_id)
    outside = sample_library_src / folder / ".." / ".." / ".."
    assert fails(
        reels.CreateExclusion,
        pb2.CreateExclusionRequest(library="sample", exclusion=pb2.Exclusion(folder=str(outside))),
    ) == (INVALID, "FOLDER_INVALID")


@pytest.mark.parametrize(
    "request_fields, code, reason",
    [
        ({"library": "sample", "exclusion_id": "abc"}, INVALID, "EXCLUSION_ID_INVALID"),
        ({"library": "sample", "exclusion_id": ""}, INVALID, "EXCLUSION_ID_INVALID"),
        ({"library": "sample", "exclusion_id": "987654"}, NOT_FOUND, "EXCLUSION_NOT_FOUND"),
        ({"library": "nosuchlib", "exclusion_id": "1"}, NOT_FOUND, "LIBRARY_NOT_FOUND"),
    ],
)
def test_bad_deletes(reels, request_fields, code, reason):
    assert fails(reels.DeleteExclusion, pb2.DeleteExclusionRequest(**request_fields)) == (code, reason)


def test_list_checks_its_page_size_token_and_library(reels):
    assert fails(reels.ListExclusions, pb2.ListExclusionsRequest(library="sample", page_size=-1)) == (
        INVALID,
        "PAGE_SIZE_INVALID",
    )
    assert fails(reels.ListExclusions, pb2.ListExclusionsRequest(library="sample", page_token="garbage")) == (
        INVALID,
        "PAGE_TOKEN_INVALID",
    )
    assert fails(reels.ListExclusions, pb2.ListExclusionsRequest(library="Bad Key!")) == (
        INVALID,
        "LIBRARY_KEY_INVALID",
    )


def test_a_year_has_no_on_this_day_and_a_trip_needs_one(reels):
    year_otd = ReelScope(library="sample", span=common_pb2.SPAN_YEAR, kind=common_pb2.REEL_KIND_ON_THIS_DAY)
    assert fails(reels.CreateReel, pb2.CreateReelRequest(**year_otd)) == (INVALID, "SPAN_KIND_UNSUPPORTED")
    assert fails(reels.GetPrecomputedReel, pb2.GetPrecomputedReelRequest(**year_otd)) == (
        INVALID,
        "SPAN_KIND_UNSUPPORTED",
    )
    # The sample's last trip ended more than a day ago: no TRIP x DAY.
    trip_day = pb2.CreateReelRequest(library="sample", span=common_pb2.SPAN_DAY, kind=common_pb2.REEL_KIND_TRIP)
    assert fails(reels.CreateReel, trip_day) == (FAILED, "NO_TRIP")


# --- create, list, delete -----------------------------------------------------------


def test_hiding_is_idempotent_listed_paged_and_reversible(reels, media):
    first = hide(reels, request_id="hide-1", media_id=media[0].id)
    assert first.created and first.exclusion.media_id == media[0].id
    assert first.exclusion.relative_path == media[0].rel_path and first.exclusion.library == "sample"
    retry = hide(reels, request_id="hide-1", media_id=media[0].id)
    assert not retry.created and retry.exclusion.exclusion_id == first.exclusion.exclusion_id
    again = hide(reels, media_id=media[0].id)  # the same target, no request id
    assert not again.created and again.exclusion.exclusion_id == first.exclusion.exclusion_id
    second = hide(reels, request_id="hide-2", date_range=dates(dt.date(1990, 1, 1), dt.date(1990, 1, 8)))
    third = hide(reels, request_id="hide-3", folder=Path(media[1].rel_path).parent.as_posix())
    assert second.created and third.created

    page, seen, token = 0, [], ""
    while True:
        resp = reels.ListExclusions(pb2.ListExclusionsRequest(library="sample", page_size=2, page_token=token))
        seen += [e.exclusion_id for e in resp.exclusions]
        page, token = page + 1, resp.next_page_token
        if not token:
            break
    ids = [x.exclusion.exclusion_id for x in (first, second, third)]
    assert seen == ids and page == 2  # oldest first, 2 + 1

    gone = unhide(reels, second.exclusion.exclusion_id, request_id="unhide-2")
    assert gone.exclusion.HasField("delete_time") and gone.exclusion.date_range.start_date.year == 1990
    assert unhide(reels, second.exclusion.exclusion_id, request_id="unhide-2").exclusion == gone.exclusion  # retry
    assert fails(reels.DeleteExclusion, pb2.DeleteExclusionRequest(library="sample", exclusion_id=ids[1])) == (
        NOT_FOUND,
        "EXCLUSION_NOT_FOUND",
    )
    listed = reels.ListExclusions(pb2.ListExclusionsRequest(library="sample"))
    assert [e.exclusion_id for e in listed.exclusions] == [ids[0], ids[2]]
    for exclusion_id in (ids[0], ids[2]):
        unhide(reels, exclusion_id)
    assert not reels.ListExclusions(pb2.ListExclusionsRequest(library="sample")).exclusions


# --- what hiding does -----------------------------------------------------------------


def seed_reel(
    app: App, key: str, anchor: dt.date, shown: list[MediaItem], kind: str = "RECAP", legacy: bool = False
) -> None:
    """A pre-generated MONTH reel as a pass leaves it: file, media rows, ledger row;
    ``legacy``: as one made before migration 0006 left it, its media in the sidecar only."""
    staged = app.store.staging_path(f"{key}.mp4")
    staged.write_bytes(VIDEO)
    app.store.publish(f"{key}.mp4", staged)
    if legacy:
        sidecar = Sidecar(
            key=key, media=tuple(SidecarMedia(m.id, m.rel_path, MediaKind(m.kind), m.taken_at_utc) for m in shown)
        )
        staged = app.store.staging_path(f"{key}.json")
        staged.write_text(sidecar.to_json())
        app.store.publish(f"{key}.json", staged)
    else:
        hiding.record_reel_media(app.engine, key, shown)
    start = dt.datetime.combine(anchor, dt.time(), dt.UTC)
    with session_scope(app.engine) as session:
        reel_dao.record_reel(
            session,
            key=key,
            library_key="sample",
            span="MONTH",
            kind=kind,
            anchor_date=anchor,
            window_start=start - dt.timedelta(days=30),
            window_end=start,
            valid_until=clock.now() + dt.timedelta(days=3650),  # valid whatever day the suite runs on
            video_path=f"{key}.mp4",
            sidecar_path=f"{key}.json" if legacy else "",
            poster_path="",
            title=key,
            size_bytes=len(VIDEO),
            sha256=hashlib.sha256(VIDEO).hexdigest(),
        )


def folder_of(m: MediaItem) -> str:
    return Path(m.rel_path).parent.as_posix()


def precomputed(reels: InProcessStub) -> pb2.ReelSummary:
    return reels.GetPrecomputedReel(
        pb2.GetPrecomputedReelRequest(library="sample", span=common_pb2.SPAN_MONTH, kind=common_pb2.REEL_KIND_RECAP)
    ).reel


def test_a_reel_showing_hidden_media_stops_being_served_at_once(app, reels, media):
    a = media[0]  # the older reel shows a, the newer b: another day, another folder
    b = next(m for m in media if m.taken_at_utc.date() != a.taken_at_utc.date() and folder_of(m) != folder_of(a))
    older, newer = "sample-month-recap-20200101-0000000a", "sample-month-recap-20200201-0000000b"
    seed_reel(app, older, dt.date(2020, 1, 1), [a])
    seed_reel(app, newer, dt.date(2020, 2, 1), [b])
    assert precomputed(reels).key == newer

    hidden = hide(reels, media_id=b.id).exclusion
    assert precomputed(reels).key == older  # falls back to the older reel, at once
    stream = pb2.StreamReelVideoRequest(key=newer)
    assert fails(reels.StreamReelVideo, stream) == (FAILED, "HIDDEN_MEDIA")
    assert b"".join(m.data for m in reels.StreamReelVideo(pb2.StreamReelVideoRequest(key=older))) == VIDEO

    in_folder = hide(reels, folder=folder_of(a)).exclusion
    assert fails(
        reels.GetPrecomputedReel,
        pb2.GetPrecomputedReelRequest(library="sample", span=common_pb2.SPAN_MONTH, kind=common_pb2.REEL_KIND_RECAP),
    ) == (
        NOT_FOUND,
        "HIDDEN_MEDIA",
    )
    unhide(reels, in_folder.exclusion_id)
    assert precomputed(reels).key == older
    unhide(reels, hidden.exclusion_id)
    assert precomputed(reels).key == newer
    assert b"".join(m.data for m in reels.StreamReelVideo(stream)) == VIDEO

    taken = b.taken_at_utc.date()  # a UTC library: its local date
    by_date = hide(reels, date_range=dates(taken, taken + dt.timedelta(days=1))).exclusion
    assert precomputed(reels).key == older
    unhide(reels, by_date.exclusion_id)
    assert precomputed(reels).key == newer


def test_hidden_media_leave_the_window_a_new_reel_is_made_from(app, reels):
    lib = app.libraries["sample"]
    window = window_for(Span.YEAR, Kind.RECAP, TODAY)
    before = window_media(app.engine, lib, window)
    assert len(before) >= 4
    target = before[len(before) // 2]
    exclusion = hide(reels, media_id=target.id).exclusion
    after = window_media(app.engine, lib, window)
    assert [m.id for m in after] == [m.id for m in before if m.id != target.id]
    assert media_fingerprint(after) != media_fingerprint(before)  # so pregen does not dedup on it
    unhide(reels, exclusion.exclusion_id)
    assert [m.id for m in window_media(app.engine, lib, window)] == [m.id for m in before]


def test_a_reel_made_before_media_rows_existed_is_checked_from_its_sidecar(app, reels, media):
    key = "sample-month-onthisday-20200301-0000000c"
    seed_reel(app, key, dt.date(2020, 3, 1), [media[-1]], kind="ON_THIS_DAY", legacy=True)
    scope = pb2.GetPrecomputedReelRequest(
        library="sample", span=common_pb2.SPAN_MONTH, kind=common_pb2.REEL_KIND_ON_THIS_DAY
    )
    assert reels.GetPrecomputedReel(scope).reel.key == key
    exclusion = hide(reels, media_id=media[-1].id).exclusion
    assert fails(reels.GetPrecomputedReel, scope) == (NOT_FOUND, "HIDDEN_MEDIA")
    assert fails(reels.StreamReelVideo, pb2.StreamReelVideoRequest(key=key)) == (FAILED, "HIDDEN_MEDIA")
    unhide(reels, exclusion.exclusion_id)
    assert reels.GetPrecomputedReel(scope).reel.key == key

"""Bad input that used to become INTERNAL (issue 14, finding 11): each now answers
INVALID_ARGUMENT or UNAUTHENTICATED with its reason. Requests go through the
servicers in process (tests/inprocess.py, with the interceptor's error mapping);
the token check is the interceptor's own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import timestamp_pb2
from google.type import date_pb2

from reels.v1 import common_pb2
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2
from reels_core import wire
from reels_core.errors import InvalidArgument
from render_service.app import App
from render_service.servicers import ReelAdminServicer, ReelServicer
from service_kit.interceptor import ServerInterceptor, _Abort
from tests.conftest import error_reason, make_settings
from tests.inprocess import InProcessStub, serve_in_process

REEL_SERVICE = pb2.DESCRIPTOR.services_by_name["ReelService"]
ADMIN_SERVICE = admin_pb2.DESCRIPTOR.services_by_name["ReelAdminService"]


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcessStub, InProcessStub]]:
    root = tmp_path_factory.mktemp("bounds")
    (root / "lib").mkdir()
    app = App.build(make_settings(root / "data", REEL_LIBRARIES=f"lib={root / 'lib'}"))
    server = serve_in_process({REEL_SERVICE: ReelServicer(app), ADMIN_SERVICE: ReelAdminServicer(app)})
    yield InProcessStub(server, REEL_SERVICE), InProcessStub(server, ADMIN_SERVICE)
    app.stop()


def invalid(call) -> str:
    with pytest.raises(grpc.RpcError) as err:
        call()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return error_reason(err.value)


def test_a_request_id_over_128_characters(stubs) -> None:
    """PostgreSQL refused it (a 128-character column): INTERNAL."""
    reels, admin = stubs
    long_id = "r" * 129
    create = pb2.CreateReelRequest(
        library="lib", span=common_pb2.SPAN_WEEK, kind=common_pb2.REEL_KIND_RECAP, request_id=long_id
    )
    assert invalid(lambda: reels.CreateReel(create)) == "REQUEST_ID_TOO_LONG"
    retention = admin_pb2.RunRetentionNowRequest(request_id=long_id)
    assert invalid(lambda: admin.RunRetentionNow(retention)) == "REQUEST_ID_TOO_LONG"


def test_anchor_date_year_one(stubs) -> None:
    """0001-01-01 minus a window overflowed Python's calendar: INTERNAL."""
    reels, _admin = stubs
    create = pb2.CreateReelRequest(
        library="lib",
        span=common_pb2.SPAN_MONTH,
        kind=common_pb2.REEL_KIND_ON_THIS_DAY,
        anchor_date=date_pb2.Date(year=1, month=1, day=1),
    )
    assert invalid(lambda: reels.CreateReel(create)) == "DATE_OUT_OF_RANGE"


def test_a_utc_offset_of_a_day_or_more_in_a_scripter_request() -> None:
    taken = timestamp_pb2.Timestamp()
    taken.FromDatetime(dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC))
    candidate = common_pb2.Candidate(media_id="m", taken_at=taken, utc_offset_minutes=1440)
    with pytest.raises(InvalidArgument) as err:
        wire.candidate_from_pb(candidate)
    assert err.value.reason == "UTC_OFFSET_INVALID"


def test_a_non_ascii_bearer_token_is_invalid_not_internal() -> None:
    """hmac.compare_digest refused a non-ASCII str with a TypeError: INTERNAL."""
    interceptor = ServerInterceptor("user-tok", "admin-tok")
    for method in ("/reels.v1.ReelService/ListReels", "/reels.v1.ReelAdminService/ListLibraries"):
        with pytest.raises(_Abort) as err:
            interceptor._check_access(method, {"authorization": "Bearer tök-ünïcode"})
        assert (err.value.code, err.value.reason) == ("UNAUTHENTICATED", "TOKEN_INVALID")
    interceptor._check_access("/reels.v1.ReelService/ListReels", {"authorization": "Bearer user-tok"})

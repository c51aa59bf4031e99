"""RunPregenNow writes ledger rows through produce_reel; GetPrecomputedReel applies
the validity gate (NO_REEL, EXPIRED, FILE_MISSING); ListReels pages and filters."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from google.type import date_pb2

from reels.v1 import common_pb2
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2
from reels_core import clock
from tests.conftest import error_reason, ledger_env, start_stack, stop_stack, today_utc, wait_scanned


def d(day: dt.date) -> date_pb2.Date:
    return date_pb2.Date(year=day.year, month=day.month, day=day.day)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def pregen(request, tmp_path_factory, sample_library_src):
    import shutil

    root = tmp_path_factory.mktemp("pregen")
    lib = root / "library"
    shutil.copytree(sample_library_src, lib)
    env_cm = ledger_env(request.param)
    env = env_cm.__enter__()
    # Week reels expire 3.6 s after local midnight of their anchor: already expired.
    stack = start_stack(
        root / "data", libraries=f"sample={lib}", REEL_TARGET_DURATION_S="10", REEL_VALID_HOURS_WEEK="0.001", **env
    )
    wait_scanned(stack, "sample")
    today = today_utc()
    resp = stack.admin.RunPregenNow(
        admin_pb2.RunPregenNowRequest(
            anchor_date=d(today), spans=[common_pb2.SPAN_DAY], kinds=[common_pb2.REEL_KIND_RECAP]
        )
    )
    old = stack.admin.RunPregenNow(
        admin_pb2.RunPregenNowRequest(
            anchor_date=d(today), spans=[common_pb2.SPAN_WEEK], kinds=[common_pb2.REEL_KIND_RECAP]
        )
    )
    yield stack, resp, old
    stop_stack(stack)
    env_cm.__exit__(None, None, None)


def test_pregen_report(pregen):
    _stack, resp, old = pregen
    assert resp.run.status == "OK" and resp.run.kind == admin_pb2.MAINTENANCE_KIND_PREGEN
    [outcome] = resp.outcomes
    assert outcome.outcome == "RENDERED" and outcome.reel_key
    assert old.outcomes[0].outcome == "RENDERED"


def test_get_precomputed_returns_the_valid_reel(pregen):
    stack, resp, _old = pregen
    reel = stack.reels.GetPrecomputedReel(
        pb2.GetPrecomputedReelRequest(library="sample", span=common_pb2.SPAN_DAY, kind=common_pb2.REEL_KIND_RECAP)
    ).reel
    assert reel.key == resp.outcomes[0].reel_key
    assert reel.size_bytes > 0 and len(reel.sha256) == 64 and reel.poster_key
    assert reel.valid_until.ToDatetime(tzinfo=dt.UTC) > clock.now()
    assert reel.precomputed and reel.title
    today = today_utc()
    [window] = reel.window.ranges  # the day before the anchor
    assert (window.end_date.year, window.end_date.month, window.end_date.day) == (today.year, today.month, today.day)


def test_no_reel_for_an_empty_scope(pregen):
    stack, _resp, _old = pregen
    with pytest.raises(grpc.RpcError) as err:
        stack.reels.GetPrecomputedReel(
            pb2.GetPrecomputedReelRequest(
                library="sample", span=common_pb2.SPAN_WEEK, kind=common_pb2.REEL_KIND_ON_THIS_DAY
            )
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND and error_reason(err.value) == "NO_REEL"


def test_expired(pregen):
    stack, _resp, _old = pregen
    with pytest.raises(grpc.RpcError) as err:
        stack.reels.GetPrecomputedReel(
            pb2.GetPrecomputedReelRequest(library="sample", span=common_pb2.SPAN_WEEK, kind=common_pb2.REEL_KIND_RECAP)
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND and error_reason(err.value) == "EXPIRED"


def test_list_reels_pages_and_filters(pregen):
    stack, resp, old = pregen
    first = stack.reels.ListReels(pb2.ListReelsRequest(page_size=1))
    assert len(first.reels) == 1 and first.next_page_token
    second = stack.reels.ListReels(pb2.ListReelsRequest(page_size=1, page_token=first.next_page_token))
    keys = {first.reels[0].key, second.reels[0].key}
    assert keys == {resp.outcomes[0].reel_key, old.outcomes[0].reel_key}
    weeks = stack.reels.ListReels(pb2.ListReelsRequest(span=common_pb2.SPAN_WEEK))
    assert [r.key for r in weeks.reels] == [old.outcomes[0].reel_key]


def test_file_missing_last(pregen):
    """Runs last in this module: it deletes the day reel's file."""
    stack, resp, _old = pregen
    key = resp.outcomes[0].reel_key
    (stack.settings.reel_dir / f"{key}.mp4").unlink()
    with pytest.raises(grpc.RpcError) as err:
        stack.reels.GetPrecomputedReel(
            pb2.GetPrecomputedReelRequest(library="sample", span=common_pb2.SPAN_DAY, kind=common_pb2.REEL_KIND_RECAP)
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND and error_reason(err.value) == "FILE_MISSING"


def test_run_pregen_now_is_idempotent_on_request_id(pregen):
    stack, _resp, _old = pregen
    req = admin_pb2.RunPregenNowRequest(
        spans=[common_pb2.SPAN_MONTH], kinds=[common_pb2.REEL_KIND_ON_THIS_DAY], dry_run=True, request_id="pregen-once"
    )
    first = stack.admin.RunPregenNow(req)
    again = stack.admin.RunPregenNow(req)
    assert first.run.run_id == again.run.run_id
    assert [o.outcome for o in first.outcomes] == [o.outcome for o in again.outcomes] == ["WOULD_RENDER"]
    runs = stack.admin.ListMaintenanceRuns(admin_pb2.ListMaintenanceRunsRequest(kind=admin_pb2.MAINTENANCE_KIND_PREGEN))
    assert sum(1 for r in runs.runs if r.run_id == first.run.run_id) == 1

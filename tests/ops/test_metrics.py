"""The metrics settings and the RPC labels, without servers (the scrape during a
render is tests/ops/test_ops_e2e.py)."""

from __future__ import annotations

import grpc
import pytest
from prometheus_client import REGISTRY

from service_kit import metrics
from service_kit.settings import SettingsError, load_settings


def test_metrics_are_off_by_default_and_an_address_is_checked() -> None:
    settings = load_settings({})
    assert settings.metrics_addr == "" and settings.scripter_metrics_addr == ""
    assert metrics.serve(settings.metrics_addr, "render") is None
    for var in ("REEL_METRICS_ADDR", "REEL_SCRIPTER_METRICS_ADDR"):
        with pytest.raises(SettingsError, match=f"^{var}='9464': .*HOST:PORT"):
            load_settings({var: "9464"})


def test_every_status_code_has_go_grpc_prometheus_spelling() -> None:
    assert {code.name for code in grpc.StatusCode} == set(metrics._GO_CODE)
    assert metrics._GO_CODE["CANCELLED"] == "Canceled"  # Go's spelling, as dashboards expect


def test_an_rpc_is_counted_by_service_method_type_and_code() -> None:
    labels = {"grpc_type": "server_stream", "grpc_service": "reels.v1.Test", "grpc_method": "Watch"}

    def sample(name: str, **extra: str) -> float:
        return REGISTRY.get_sample_value(name, {**labels, **extra}) or 0.0

    done = metrics.rpc_started("/reels.v1.Test/Watch", "server_stream")
    assert sample("grpc_server_started_total") == 1
    assert sample("grpc_server_handled_total", grpc_code="DeadlineExceeded") == 0
    done("DEADLINE_EXCEEDED", 0.3)
    assert sample("grpc_server_handled_total", grpc_code="DeadlineExceeded") == 1
    assert sample("grpc_server_handling_seconds_count") == 1
    assert sample("grpc_server_handling_seconds_bucket", le="0.25") == 0
    assert sample("grpc_server_handling_seconds_bucket", le="0.5") == 1


def test_metrics_endpoint_binds_the_port_it_reports() -> None:
    import urllib.request

    server = metrics.serve("127.0.0.1:0", "test")
    assert server is not None and server.port > 0
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10) as resp:
            assert b"grpc_server_started_total" in resp.read()
    finally:
        server.stop()

"""The limit counters: a peer is a host (all its connections), a released slot is
free again, and release is idempotent."""

from __future__ import annotations

import pytest

from reels_core.errors import ResourceExhausted
from service_kit.limits import ConcurrencyLimits, Limit, peer_host


@pytest.mark.parametrize(
    "peer, host",
    [
        ("ipv4:127.0.0.1:5555", "ipv4:127.0.0.1"),
        ("ipv6:[::1]:5555", "ipv6:[::1]"),
        ("unix:/tmp/sock", "unix:/tmp/sock"),
    ],
)
def test_peer_is_the_host(peer, host):
    assert peer_host(peer) == host


def test_limits_per_peer_and_server():
    limits = ConcurrencyLimits({"streams": Limit(per_server=3, per_peer=2)})
    a1 = limits.acquire("streams", "ipv4:10.0.0.1:1000")
    limits.acquire("streams", "ipv4:10.0.0.1:1001")  # another connection of the same host
    with pytest.raises(ResourceExhausted) as err:
        limits.acquire("streams", "ipv4:10.0.0.1:1002")
    assert err.value.reason == "STREAMS_PER_PEER_EXCEEDED"
    limits.acquire("streams", "ipv4:10.0.0.2:1000")
    with pytest.raises(ResourceExhausted) as err:
        limits.acquire("streams", "ipv4:10.0.0.3:1000")
    assert err.value.reason == "STREAMS_EXCEEDED"
    a1()
    a1()  # twice: counted once
    assert limits.open_count("streams") == 2
    limits.acquire("streams", "ipv4:10.0.0.1:1003")

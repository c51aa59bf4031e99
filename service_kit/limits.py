"""Concurrency limits of long-lived calls (streams, watches), per server and per peer.

A stream or a watch on the aio server costs no thread, but each still holds a file
or a ledger poll, buffers and a slot in gRPC core; these limits bound that. A call
over a limit is refused before its handler runs, with RESOURCE_EXHAUSTED and a
reason naming the limit (`STREAMS_EXCEEDED`, `STREAMS_PER_PEER_EXCEEDED`,
`WATCHES_EXCEEDED`, `WATCHES_PER_PEER_EXCEEDED`).

A peer is the client's address without its port (`ipv4:10.0.0.7`): one host, all
its connections. Behind a proxy or a NAT every client is one peer; raise the
per-peer limits there. All counting happens on the server's event loop (one
thread), so no lock is needed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from reels_core.errors import ResourceExhausted


@dataclass(frozen=True)
class Limit:
    per_server: int
    per_peer: int


def peer_host(peer: str) -> str:
    """`ipv4:127.0.0.1:5555` -> `ipv4:127.0.0.1`; `ipv6:[::1]:5555` -> `ipv6:[::1]`;
    anything else (unix sockets) stays as it is."""
    if peer.startswith(("ipv4:", "ipv6:")):
        host, sep, port = peer.rpartition(":")
        if sep and port.isdigit() and host not in ("ipv4", "ipv6"):
            return host
    return peer


@dataclass
class ConcurrencyLimits:
    """Counts open calls of each class (e.g. "streams", "watches") per server and
    per peer. `acquire` refuses or returns the function that releases the slot."""

    limits: Mapping[str, Limit]
    _open: Counter[str] = field(default_factory=Counter)
    _by_peer: Counter[tuple[str, str]] = field(default_factory=Counter)

    def acquire(self, kind: str, peer: str) -> Callable[[], None]:
        limit = self.limits[kind]
        host = peer_host(peer)
        name = kind.upper()
        if self._open[kind] >= limit.per_server:
            raise ResourceExhausted(
                f"{name}_EXCEEDED", f"this server holds its most open {kind} ({limit.per_server}); retry later"
            )
        if self._by_peer[(kind, host)] >= limit.per_peer:
            raise ResourceExhausted(
                f"{name}_PER_PEER_EXCEEDED", f"this client has the most open {kind} allowed ({limit.per_peer})"
            )
        self._open[kind] += 1
        self._by_peer[(kind, host)] += 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self._open[kind] -= 1
            self._by_peer[(kind, host)] -= 1
            if not self._by_peer[(kind, host)]:
                del self._by_peer[(kind, host)]

        return release

    def open_count(self, kind: str) -> int:
        return self._open[kind]

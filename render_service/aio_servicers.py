"""The render service's RPCs on `grpc.aio`.

Three methods are coroutines of their own: `StreamReelVideo` and `WatchReelJob`
(they wait on a reader or a job, and hold no thread while they do) and
`GetPrecomputedReel` (answered from `AnswerCache` on the event loop, no thread hop
on a hit). Every other method is the plain servicer's (`servicers.py`), run in the
blocking pool by `service_kit.aio_adapt.AioServicer`: a new plain method needs no
change here.

Hook for further gates on GetPrecomputedReel (e.g. hidden media): pass
`reel_check` (`catalog.ReelCheck`: a row -> "" or a NOT_FOUND reason; runs in the
blocking pool on a cache miss) and `exclusions_version` (a cheap callable whose
value changes whenever what `reel_check` decides may change, e.g. a counter bumped
by the exclusion RPCs, or `TableWrites(engine, ["exclusions"]).version`); a cached
answer is dropped as soon as that value moves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Hashable
from concurrent.futures import Executor
from typing import BinaryIO

from ledger import jobs as job_dao
from ledger.changes import TableWrites
from ledger.db import session_scope, utcnow
from ledger.models import JobEvent, ReelJob
from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_service_pb2 as pb2
from reels_core import wire
from reels_core.domain import Kind, Span
from reels_core.errors import InvalidArgument, NotFound, Unavailable
from reels_core.windows import check_scope
from render_service import catalog
from render_service.app import App
from render_service.jobs import JobRunner
from render_service.lookup_cache import Answer, AnswerCache
from render_service.servicers import (
    ReelAdminServicer,
    ReelServicer,
    _job_id,
    signed_urls,
    summary_to_pb,
    watch_response,
)
from render_service.store import LocalStore
from render_service.streaming import astream_chunks, check_range
from service_kit import metrics
from service_kit.aio_adapt import AioServicer, run_blocking

REEL_SERVICE = pb2.DESCRIPTOR.services_by_name["ReelService"]
ADMIN_SERVICE = admin_pb2.DESCRIPTOR.services_by_name["ReelAdminService"]


class LoopWaker:
    """Wakes coroutines waiting on the server's loop when the job notifier fires in
    any thread (a worker's progress, a cancel, a finished job)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._future: asyncio.Future[None] | None = None

    def notify_threadsafe(self) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._wake)
        except RuntimeError:  # the server stopped and its loop closed: nobody waits
            self._loop = None

    def _wake(self) -> None:
        if self._future is not None and not self._future.done():
            self._future.set_result(None)
        self._future = None

    async def wait(self, changed: Callable[[], bool], timeout: float) -> None:
        """Until the next notify or `timeout`; returns at once when `changed()`."""
        self._loop = asyncio.get_running_loop()
        if self._future is None:
            self._future = self._loop.create_future()
        future = self._future
        if changed():  # a notify between the caller's read and now
            return
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(future)
        except TimeoutError:
            pass


def _events_and_job(runner: JobRunner, job_id: str, seen: int) -> tuple[list[JobEvent], ReelJob | None]:
    with session_scope(runner.engine) as session:
        # Events first, then the job: the job read is at least as new as the
        # events, so a terminal event is always sent with its terminal job.
        return job_dao.events_after(session, job_id, seen), job_dao.get_job(session, job_id)


async def watch_job(
    runner: JobRunner, waker: LoopWaker, executor: Executor, job_id: str, after_seq: int
) -> AsyncIterator[tuple[JobEvent, ReelJob]]:
    """`JobRunner.watch` for the aio server: stored events after `after_seq`, then
    live ones until the terminal event; the ledger reads run in `executor`, the
    waits on the loop. With one process (SQLite) every change is notified here, so
    the fallback poll is slow; with replicas it is 0.5 s, as the thread watch's."""
    await run_blocking(executor, runner.get, job_id)
    poll_s = 5.0 if runner.single_process else 0.5
    seen, reread = after_seq, False
    while True:
        version = runner.notifier.version
        events, job = await run_blocking(executor, _events_and_job, runner, job_id, seen)
        if job is None:
            return
        for event in events:
            seen = event.seq
            yield event, job
        if job.is_terminal and not events:
            # PostgreSQL (READ COMMITTED) can show the terminal job before its
            # event: read once more before ending (see JobRunner.watch).
            if reread:
                return
            reread = True
            continue
        reread = False
        if not events:
            await waker.wait(_moved(runner, version), poll_s)


def _moved(runner: JobRunner, version: int) -> Callable[[], bool]:
    return lambda: runner.notifier.version != version


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def chunk_message(data: bytes, offset: int, head: catalog.StreamTarget | None) -> bytes:
    """A serialized StreamReelVideoResponse, built around `data` with one copy (the
    protobuf message would add a second; docs/BENCHMARKS.md): field 1 (data) by
    hand, the small fields by protobuf. The interceptor sends bytes as they are."""
    rest = pb2.StreamReelVideoResponse(offset=offset)
    if head is not None:
        rest.size_bytes, rest.sha256, rest.content_type = head.size_bytes, head.sha256, head.content_type
    if not data:
        return rest.SerializeToString()
    return b"".join((b"\x0a", _varint(len(data)), data, rest.SerializeToString()))


class AioReel:
    """The native coroutines of ReelService, and the cache behind the lookup."""

    def __init__(
        self,
        app: App,
        executor: Executor,
        reel_check: catalog.ReelCheck | None = None,
        exclusions_version: Callable[[], Hashable] = lambda: 0,
    ) -> None:
        self.app = app
        self.executor = executor
        self.reel_check = reel_check
        self.exclusions_version = exclusions_version
        self.waker = LoopWaker()
        app.runner.notifier.listeners.append(self.waker.notify_threadsafe)
        # A hide or unhide ("exclusions", "exclusion_versions") changes what may be
        # served or streamed, as a new reel does.
        writes = TableWrites(app.engine, ["precomputed_reels", "exclusion"])
        store = app.store
        check_file = None
        if isinstance(store, LocalStore):

            def check_file(name: str) -> int | None:
                # One stat of a local file, on the loop: 2-5 us, less than a hop to
                # the pool (about 50 us); on S3 the ledger is trusted for the ttl.
                st = store.stat(name)
                return st.size if st is not None else None

        self.lookups: AnswerCache[pb2.GetPrecomputedReelResponse] = AnswerCache(
            app.settings.lookup_cache_s,
            generation=lambda: (writes.version, self.exclusions_version()),
            now=utcnow,
            check_file=check_file,
        )
        # What a key streams (found keys only; a miss is asked again): with the
        # file stat'ed and opened on the loop for a local store, the first chunk
        # of a stream waits for no pool thread. Under 64 greedy streams a hop to
        # the pool and back cost tens of ms (the pool thread waits for the GIL at
        # each of its syscalls; docs/BENCHMARKS.md).
        self.targets: AnswerCache[catalog.StreamTarget] = AnswerCache(
            app.settings.lookup_cache_s, generation=lambda: writes.version, now=utcnow, check_file=check_file
        )
        self._local = isinstance(store, LocalStore)

    def _read_precomputed(self, library: str, span: Span, kind: Kind) -> Answer[pb2.GetPrecomputedReelResponse]:
        try:
            info = catalog.precomputed_reel(self.app.engine, self.app.store, library, span, kind, self.reel_check)
        except NotFound as exc:
            return Answer(None, exc)
        tz = self.app.libraries[library].timezone
        response = pb2.GetPrecomputedReelResponse(reel=summary_to_pb(info, tz=tz, urls=signed_urls(self.app, info)))
        valid_until = info.valid_until
        return Answer(response, None, valid_until, info.video_name, info.size_bytes)

    async def GetPrecomputedReel(self, request, context):  # noqa: N802  # gRPC method name
        lib = self.app.library(request.library)
        span, kind = wire.span_from_pb(request.span), wire.kind_from_pb(request.kind)
        check_scope(span, kind)
        return await self.lookups.answer(
            (lib.key, span, kind),
            lambda: run_blocking(self.executor, self._read_precomputed, lib.key, span, kind),
        )

    def _target(self, key: str) -> Answer[catalog.StreamTarget]:
        target = catalog.stream_target(self.app.engine, self.app.store, key)
        return Answer(target, None, None, target.name, target.size_bytes)

    def _open(self, target: catalog.StreamTarget) -> BinaryIO:
        try:
            return self.app.store.open(target.name)
        except FileNotFoundError:
            raise NotFound("FILE_MISSING", "the reel's file is gone") from None
        except OSError:  # the store failed (S3 after botocore's retries)
            raise Unavailable("STORE_UNAVAILABLE", "the reel store cannot be read; retry") from None

    async def StreamReelVideo(self, request, context):  # noqa: N802  # gRPC method name
        key = catalog.check_key(request.key)
        target = await self.targets.answer(key, lambda: run_blocking(self.executor, self._target, key))
        check_range(target.size_bytes, request.read_offset, request.read_limit)
        if self._local:
            fh = self._open(target)  # a local open(): like the stat, cheaper than a hop to the pool
        else:
            fh = await run_blocking(self.executor, self._open, target)
        settings = self.app.settings
        async for data, offset, first in astream_chunks(
            self.app.store,
            target,
            request.read_offset,
            request.read_limit,
            settings.stream_chunk_kib * 1024,
            settings.stream_read_ahead,
            self.executor,
            fh,
        ):
            metrics.bytes_streamed(len(data))
            yield chunk_message(data, offset, target if first else None)

    async def WatchReelJob(self, request, context):  # noqa: N802  # gRPC method name
        if request.after_sequence < 0:
            raise InvalidArgument("SEQUENCE_INVALID", "after_sequence must not be negative")
        job_id = _job_id(request.job_id)
        async for event, job in watch_job(self.app.runner, self.waker, self.executor, job_id, request.after_sequence):
            yield watch_response(event, job)


def aio_servicers(app: App, executor: Executor, native: AioReel | None = None) -> tuple[AioServicer, AioServicer]:
    """(ReelService, ReelAdminService) for the aio server."""
    native = native or AioReel(app, executor)
    reel = AioServicer(
        REEL_SERVICE,
        ReelServicer(app),
        executor,
        {
            "GetPrecomputedReel": native.GetPrecomputedReel,
            "StreamReelVideo": native.StreamReelVideo,
            "WatchReelJob": native.WatchReelJob,
        },
    )
    return reel, AioServicer(ADMIN_SERVICE, ReelAdminServicer(app), executor)


__all__ = ["AioReel", "aio_servicers", "chunk_message", "watch_job"]

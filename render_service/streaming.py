"""Reading a reel in chunks for StreamReelVideo (ByteStream.Read semantics).

The object is opened once before the first byte, so a reel pruned or swept while
it streams still finishes; memory per stream is one chunk, whatever the file size.
"""

from __future__ import annotations

import asyncio
import io
import os
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from typing import BinaryIO

from reels_core.errors import InvalidArgument, NotFound, OutOfRange
from render_service.catalog import StreamTarget
from render_service.store import ReelStore


def stream_chunks(
    store: ReelStore,
    target: StreamTarget,
    read_offset: int,
    read_limit: int,
    chunk_size: int,
    is_active: Callable[[], bool] = lambda: True,
) -> Iterator[tuple[bytes, int, bool]]:
    """Yield (data, offset, is_first). The first item may carry no data (an offset
    equal to the size) so that size, sha256 and content type always reach the
    client before any byte."""
    remaining = check_range(target.size_bytes, read_offset, read_limit)
    try:
        fh = store.open(target.name)
    except FileNotFoundError:
        raise NotFound("FILE_MISSING", "the reel's file is gone") from None
    with fh:
        fh.seek(read_offset)
        offset = read_offset
        first = True
        if remaining == 0:
            yield b"", offset, True
            return
        while remaining > 0 and is_active():
            try:
                data = fh.read(min(chunk_size, remaining))
            except FileNotFoundError:
                # An unversioned S3 object deleted mid-stream: the bytes sent are
                # right; the client may resume from `offset` once a copy exists.
                raise NotFound("FILE_MISSING", f"the reel's file went away at offset {offset}") from None
            if not data:
                break
            yield data, offset, first
            first = False
            offset += len(data)
            remaining -= len(data)


def check_range(size: int, read_offset: int, read_limit: int) -> int:
    """The number of bytes to send: INVALID_ARGUMENT for a negative offset or limit,
    OUT_OF_RANGE for an offset past the end; a limit of 0 means to the end."""
    if read_offset < 0:
        raise InvalidArgument("READ_OFFSET_INVALID", "read_offset must not be negative")
    if read_limit < 0:
        raise InvalidArgument("READ_LIMIT_INVALID", "read_limit must not be negative")
    if read_offset > size:
        raise OutOfRange("READ_OFFSET_PAST_END", f"read_offset {read_offset} is past the end ({size} bytes)")
    return size - read_offset if read_limit == 0 else min(read_limit, size - read_offset)


def _positional_reader(fh: BinaryIO) -> Callable[[int, int], bytes]:
    """`read(pos, n)` safe to call from several threads at once: `os.pread` on a
    local file (no shared position), seek+read under a lock otherwise (S3)."""
    try:
        fd = fh.fileno()
    except (OSError, AttributeError, io.UnsupportedOperation):
        lock = threading.Lock()

        def seek_read(pos: int, n: int) -> bytes:
            with lock:
                fh.seek(pos)
                return fh.read(n)

        return seek_read
    return lambda pos, n: os.pread(fd, n, pos)


async def astream_chunks(
    store: ReelStore,
    target: StreamTarget,
    read_offset: int,
    read_limit: int,
    chunk_size: int,
    read_ahead: int,
    executor: Executor,
) -> AsyncIterator[tuple[bytes, int, bool]]:
    """`stream_chunks` for the aio server: (data, offset, is_first), with no thread
    held between chunks. Opening and reading run in `executor`; up to `read_ahead`
    chunks are read while the previous one is being sent (docs/BENCHMARKS.md). When
    the consumer stops (a cancelled call closes this generator) the file is closed
    as soon as reads already in flight return, and no buffer is kept."""
    remaining = check_range(target.size_bytes, read_offset, read_limit)
    loop = asyncio.get_running_loop()
    try:
        fh = await loop.run_in_executor(executor, store.open, target.name)
    except FileNotFoundError:
        raise NotFound("FILE_MISSING", "the reel's file is gone") from None
    read = _positional_reader(fh)
    pending: deque[tuple[int, asyncio.Future[bytes]]] = deque()
    next_pos, end = read_offset, read_offset + remaining
    try:
        if remaining == 0:
            yield b"", read_offset, True
            return
        first = True
        while True:
            while next_pos < end and len(pending) <= read_ahead:
                n = min(chunk_size, end - next_pos)
                pending.append((next_pos, loop.run_in_executor(executor, read, next_pos, n)))
                next_pos += n
            if not pending:
                return
            pos, fut = pending.popleft()
            try:
                data = await fut
            except FileNotFoundError:
                # An unversioned S3 object deleted mid-stream: the bytes sent are
                # right; the client may resume from `pos` once a copy exists.
                raise NotFound("FILE_MISSING", f"the reel's file went away at offset {pos}") from None
            if not data:
                return
            yield data, pos, first
            first = False
            del data
    finally:
        outstanding = [fut for _pos, fut in pending if not fut.done()]
        pending.clear()
        if outstanding:
            asyncio.gather(*outstanding, return_exceptions=True).add_done_callback(lambda _f: fh.close())
        else:
            fh.close()

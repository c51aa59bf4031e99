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

from reels_core.errors import InvalidArgument, NotFound, OutOfRange, Unavailable
from render_service.catalog import StreamTarget
from render_service.store import ReelStore
from service_kit import metrics


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
    except OSError:
        raise Unavailable("STORE_UNAVAILABLE", "the reel store cannot be read; retry") from None
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
            except OSError:  # the store failed (S3 after botocore's retries): resume from `offset`
                raise Unavailable(
                    "STORE_UNAVAILABLE", f"the reel store failed at offset {offset}; resume there"
                ) from None
            if not data:
                break
            metrics.bytes_streamed(len(data))
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


def _positional_reader(fh: BinaryIO) -> tuple[Callable[[int, int], bytes], Callable[[int, int], bytes | None]]:
    """(`read(pos, n)`, `read_cached(pos, n)`). `read` is safe to call from several
    threads at once: `os.pread` on a local file (no shared position), seek+read
    under a lock otherwise (S3). `read_cached` never blocks: on a local file it
    reads what the page cache holds (`preadv2` with `RWF_NOWAIT`), and returns None
    when it would have to wait for the disk (or for S3)."""
    try:
        fd = fh.fileno()
    except (OSError, AttributeError, io.UnsupportedOperation):
        lock = threading.Lock()

        def seek_read(pos: int, n: int) -> bytes:
            with lock:
                fh.seek(pos)
                return fh.read(n)

        return seek_read, lambda pos, n: None

    def read_cached(pos: int, n: int) -> bytes | None:
        buffer = bytearray(n)
        try:
            got = os.preadv(fd, [buffer], pos, _RWF_NOWAIT)
        except (BlockingIOError, OSError):
            return None  # not in the page cache (or no RWF_NOWAIT here): read in the pool
        if got < n and pos + got < os.fstat(fd).st_size:
            return None if got == 0 else bytes(memoryview(buffer)[:got])
        del buffer[got:]
        return bytes(buffer)

    return (lambda pos, n: os.pread(fd, n, pos)), read_cached


_RWF_NOWAIT = getattr(os, "RWF_NOWAIT", 0)


async def astream_chunks(
    store: ReelStore,
    target: StreamTarget,
    read_offset: int,
    read_limit: int,
    chunk_size: int,
    read_ahead: int,
    executor: Executor,
    fh: BinaryIO | None = None,
) -> AsyncIterator[tuple[bytes, int, bool]]:
    """`stream_chunks` for the aio server: (data, offset, is_first), with no thread
    held between chunks.

    A chunk of a local file that is in the page cache is read on the event loop
    with `RWF_NOWAIT` (it cannot block; 256 KiB took 40-120 us here), which saves a
    hand-off to a pool thread and back per chunk (what made the time to first chunk
    of 64 concurrent streams seconds under load, docs/BENCHMARKS.md). Anything else
    (a chunk on disk, an S3 object) is read in `executor`, with up to `read_ahead`
    chunks read while the previous one is being sent. When the consumer stops (a
    cancelled call closes this generator) the file is closed as soon as reads
    already in flight return, and no buffer is kept. `fh`: the object already
    opened (its owner passes it to save a hop); else it is opened here."""
    loop = asyncio.get_running_loop()
    if fh is None:
        check_range(target.size_bytes, read_offset, read_limit)
        try:
            fh = await loop.run_in_executor(executor, store.open, target.name)
        except FileNotFoundError:
            raise NotFound("FILE_MISSING", "the reel's file is gone") from None
        except OSError:
            raise Unavailable("STORE_UNAVAILABLE", "the reel store cannot be read; retry") from None
    opened: BinaryIO = fh
    pending: deque[tuple[int, asyncio.Future[bytes]]] = deque()
    try:
        remaining = check_range(target.size_bytes, read_offset, read_limit)
        read, read_cached = _positional_reader(opened)
        pos, end = read_offset, read_offset + remaining
        if remaining == 0:
            yield b"", read_offset, True
            return
        first = True
        while pos < end:
            n = min(chunk_size, end - pos)
            data = None if pending else read_cached(pos, n)
            if data is None:
                asked = pending[-1][0] + chunk_size if pending else pos
                while asked < end and len(pending) <= read_ahead:
                    pending.append((asked, loop.run_in_executor(executor, read, asked, min(chunk_size, end - asked))))
                    asked += chunk_size
                at, fut = pending.popleft()
                assert at == pos
                try:
                    data = await fut
                except FileNotFoundError:
                    # An unversioned S3 object deleted mid-stream: the bytes sent are
                    # right; the client may resume from `pos` once a copy exists.
                    raise NotFound("FILE_MISSING", f"the reel's file went away at offset {pos}") from None
                except OSError:  # the store failed (S3 after botocore's retries): resume from `pos`
                    raise Unavailable(
                        "STORE_UNAVAILABLE", f"the reel store failed at offset {pos}; resume there"
                    ) from None
            if not data:
                return
            yield data, pos, first
            first = False
            pos += len(data)
            if pending and pending[0][0] != pos:  # a short read: the reads ahead are at the wrong place
                _close_after(pending, None)
                pending.clear()
            del data
    finally:
        _close_after(pending, opened)
        pending.clear()


def _close_after(pending: deque[tuple[int, asyncio.Future[bytes]]], fh: BinaryIO | None) -> None:
    """Drop the reads in flight (their buffers go with them) and close `fh` once
    they have returned (a pool thread may be inside a read of it right now)."""
    outstanding = [fut for _pos, fut in pending if not fut.done()]
    if fh is None:
        for fut in outstanding:
            fut.add_done_callback(lambda f: f.exception())
        return
    if outstanding:
        asyncio.gather(*outstanding, return_exceptions=True).add_done_callback(lambda _f: fh.close())
    else:
        fh.close()

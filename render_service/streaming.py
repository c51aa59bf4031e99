"""Reading a reel in chunks for StreamReelVideo (ByteStream.Read semantics).

The object is opened once before the first byte, so a reel pruned or swept while
it streams still finishes; memory per stream is one chunk, whatever the file size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from reels_core.errors import InvalidArgument, NotFound, OutOfRange, Unavailable
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
    if read_offset < 0:
        raise InvalidArgument("READ_OFFSET_INVALID", "read_offset must not be negative")
    if read_limit < 0:
        raise InvalidArgument("READ_LIMIT_INVALID", "read_limit must not be negative")
    size = target.size_bytes
    if read_offset > size:
        raise OutOfRange("READ_OFFSET_PAST_END", f"read_offset {read_offset} is past the end ({size} bytes)")
    remaining = size - read_offset if read_limit == 0 else min(read_limit, size - read_offset)
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
            yield data, offset, first
            first = False
            offset += len(data)
            remaining -= len(data)

"""Serving a plain (thread) servicer on a `grpc.aio` server.

Most RPCs of the render service are a validation and one ledger call: they stay
written as plain methods (`render_service/servicers.py`, also what the in-process
tests call through grpc_testing) and run here in a bounded thread pool, so the
event loop never blocks on the ledger, a scan or a pass. Methods that wait (streams,
watches) or must answer without a thread hop (cached lookups) are written as
coroutines and passed as `native`; adding a plain method to the servicer needs
nothing here.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import Executor
from typing import Any, TypeVar

import grpc
from google.protobuf.descriptor import ServiceDescriptor

T = TypeVar("T")


async def run_blocking(executor: Executor, fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in `executor`, with this task's context (the log bindings)."""
    ctx = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(executor, functools.partial(ctx.run, fn, *args))


class ThreadContext:
    """The aio servicer context as a plain servicer method uses it from a pool
    thread: `is_active`, `time_remaining`, `peer`, `invocation_metadata`."""

    def __init__(self, context: grpc.aio.ServicerContext) -> None:
        self._context = context

    def is_active(self) -> bool:
        return not self._context.done()

    def time_remaining(self) -> float | None:
        return self._context.time_remaining()

    def peer(self) -> str:
        return self._context.peer()

    def invocation_metadata(self) -> Any:
        return self._context.invocation_metadata()


def _unary(method: Callable[[Any, Any], Any], executor: Executor) -> Callable[..., Any]:
    async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await run_blocking(executor, method, request, ThreadContext(context))

    return call


def _stream(method: Callable[[Any, Any], Any], executor: Executor) -> Callable[..., Any]:
    # Each next() runs in the pool; between messages no thread is held.
    async def call(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        iterator = iter(await run_blocking(executor, method, request, ThreadContext(context)))
        done = object()
        while (item := await run_blocking(executor, next, iterator, done)) is not done:
            yield item

    return call


class AioServicer:
    """Every method of `service`: the coroutine in `native` when there is one, else
    the plain servicer's method run in `executor`."""

    def __init__(
        self,
        service: ServiceDescriptor,
        plain: object,
        executor: Executor,
        native: Mapping[str, Callable[..., Any]] | None = None,
    ) -> None:
        native = native or {}
        for m in service.methods:
            if m.name in native:
                handler = native[m.name]
            elif m.client_streaming:
                raise NotImplementedError(f"{m.full_name}: client streaming needs a native handler")
            else:
                method = getattr(plain, m.name)
                handler = _stream(method, executor) if m.server_streaming else _unary(method, executor)
            setattr(self, m.name, handler)

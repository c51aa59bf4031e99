"""The one server interceptor of both services.

Per call it binds `rpc`, `peer` and `request_id` to the log context, checks access
tokens, turns every exception into a canonical status with one
`google.rpc.ErrorInfo`, and logs one line with the status code and duration.
Request and response bodies are never logged.

The error mapping is `canonical_errors`, a wrapper of one handler: the interceptor
wraps every handler with it, and in-process tests (grpc_testing runs no
interceptors) wrap the servicers' methods with it (tests/inprocess.py).

The render service runs on `grpc.aio`: `AioServerInterceptor` does the same per
call (token, error mapping, one log line) for coroutine and async-generator
handlers, and also the concurrency limits of streams and watches and the idle
timeout of a stream's writes. What it does when a call starts and ends is a list
of `CallHook`s (the log line is one); a metrics hook is another, and a tracing
interceptor (OpenTelemetry's aio server interceptor) goes before it in the
server's interceptor list.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import structlog
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from reels_core.errors import ReelError
from service_kit import metrics
from service_kit.limits import ConcurrencyLimits

log = structlog.get_logger("rpc")

ERROR_DOMAIN = "reels.v1"
HEALTH_PREFIX = "/grpc.health.v1.Health/"
ADMIN_PREFIX = "/reels.v1.ReelAdminService/"
_CLIENT_ENDED = ("CANCELLED", "DEADLINE_EXCEEDED")  # logged at info: the caller ended the call


class _Abort(Exception):
    """A status already decided for this call (raised inside the wrapper)."""

    def __init__(self, code: str, reason: str, message: str, metadata: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.metadata = code, reason, message, metadata or {}


def _status_for(exc: BaseException) -> _Abort:
    if isinstance(exc, _Abort):
        return exc
    if isinstance(exc, ReelError):
        return _Abort(exc.code, exc.reason, exc.message, exc.metadata)
    return _Abort("INTERNAL", "INTERNAL", "internal error; see the server log")


def _ended_by_client(context: grpc.ServicerContext) -> _Abort | None:
    """The call's real end when the client cancelled or its deadline passed (the
    handler then sees an RpcError or a closed generator): not our error."""
    if context.is_active():
        return None
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        return _Abort("DEADLINE_EXCEEDED", "DEADLINE_EXCEEDED", "the caller's deadline passed")
    return _Abort("CANCELLED", "CLIENT_CANCELLED", "client went away")


def _abort(context: grpc.ServicerContext, err: _Abort) -> None:
    info = error_details_pb2.ErrorInfo(reason=err.reason, domain=ERROR_DOMAIN, metadata=err.metadata)
    detail = any_pb2.Any()
    detail.Pack(info)
    status = status_pb2.Status(code=getattr(code_pb2, err.code), message=err.message, details=[detail])
    context.set_code(getattr(grpc.StatusCode, err.code))  # read by the tracing interceptor's span
    context.abort_with_status(rpc_status.to_status(status))


# Called when a call starts; returns what to call once when it ends, with the status
# decided (None: the handler's own, OK unless it set one) and the exception, if any.
CallObserver = Callable[[grpc.ServicerContext], Callable[[_Abort | None, BaseException | None], None]]


def _unobserved(context: grpc.ServicerContext) -> Callable[[_Abort | None, BaseException | None], None]:
    return lambda err, exc: None


def canonical_errors(behaviour: Callable[..., Any], *, streaming: bool, observe: CallObserver = _unobserved) -> Any:
    """Wrap a handler's `behaviour(request, context)` so that any exception becomes
    a canonical status with one ErrorInfo (a `ReelError` its code and reason,
    anything else INTERNAL with no detail), never UNKNOWN; a call the client
    cancelled, or whose deadline passed, ends with that code instead.

    The interceptor wraps every handler with it; in-process tests (grpc_testing
    runs no interceptors) wrap the servicer's methods with it, so they see the
    statuses a client sees. `streaming` says `behaviour` returns an iterator of
    responses."""
    if not streaming:

        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            finish = observe(context)
            try:
                response = behaviour(request, context)
            except Exception as exc:  # every exception becomes a canonical status
                ended = _ended_by_client(context)
                err = ended or _status_for(exc)
                finish(err, exc)
                if ended is not None:
                    return None  # nobody is listening any more
                _abort(context, err)
                raise  # unreachable: abort raises
            finish(_ended_by_client(context), None)
            return response

        return unary

    def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        finish = observe(context)
        try:
            yield from behaviour(request, context)
        except GeneratorExit:
            finish(_ended_by_client(context) or _Abort("CANCELLED", "CLIENT_CANCELLED", "client went away"), None)
            raise
        except Exception as exc:  # noqa: BLE001  # every exception becomes a canonical status, sent by abort
            ended = _ended_by_client(context)
            err = ended or _status_for(exc)
            finish(err, exc)
            if ended is None:
                _abort(context, err)
            return
        finish(_ended_by_client(context), None)

    return stream


class ServerInterceptor(grpc.ServerInterceptor):
    def __init__(self, auth_token: str = "", admin_token: str = "") -> None:
        self._auth = auth_token.encode()
        self._admin = admin_token.encode()

    def _check_access(self, method: str, metadata: dict[str, str]) -> None:
        if method.startswith(HEALTH_PREFIX):
            return
        if not (self._auth or (self._admin and method.startswith(ADMIN_PREFIX))):
            return
        header = metadata.get("authorization", "")
        # Compared as UTF-8 bytes: hmac.compare_digest refuses non-ASCII str (a
        # TypeError, which was INTERNAL).
        token = header[7:].strip().encode("utf-8", "replace") if header.lower().startswith("bearer ") else b""
        if method.startswith(ADMIN_PREFIX) and self._admin:
            if token and hmac.compare_digest(token, self._admin):
                return
            if self._auth and token and hmac.compare_digest(token, self._auth):
                raise _Abort("PERMISSION_DENIED", "ADMIN_TOKEN_REQUIRED", "this RPC needs the admin token")
            if not token:
                raise _Abort("UNAUTHENTICATED", "TOKEN_MISSING", "send 'authorization: Bearer <token>'")
            raise _Abort("UNAUTHENTICATED", "TOKEN_INVALID", "the bearer token is not valid")
        if not token:
            raise _Abort("UNAUTHENTICATED", "TOKEN_MISSING", "send 'authorization: Bearer <token>'")
        if hmac.compare_digest(token, self._auth) or (self._admin and hmac.compare_digest(token, self._admin)):
            return
        raise _Abort("UNAUTHENTICATED", "TOKEN_INVALID", "the bearer token is not valid")

    def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Any], details: grpc.HandlerCallDetails
    ) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        method = details.method
        metadata = {k.lower(): v for k, v in (details.invocation_metadata or ()) if isinstance(v, str)}

        def log_call(context: grpc.ServicerContext) -> Callable[[_Abort | None, BaseException | None], None]:
            started = time.perf_counter()
            rpc_handled = metrics.rpc_started(method, metrics.rpc_type(handler))
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(
                rpc=method, peer=context.peer(), request_id=metadata.get("x-request-id") or uuid.uuid4().hex
            )

            def finish(err: _Abort | None, exc: BaseException | None) -> None:
                code = err.code if err else _code_name(context)
                rpc_handled(code, time.perf_counter() - started)
                fields: dict[str, Any] = {"code": code, "duration_ms": round((time.perf_counter() - started) * 1000, 2)}
                if err:
                    fields["reason"] = err.reason
                if exc is not None and not isinstance(exc, (ReelError, _Abort)) and code not in _CLIENT_ENDED:
                    log.error("rpc", **fields, exc_info=exc)
                else:
                    log.info("rpc", **fields)
                structlog.contextvars.clear_contextvars()

            return finish

        def checked(
            behaviour: Callable[[Any, grpc.ServicerContext], Any],
        ) -> Callable[[Any, grpc.ServicerContext], Any]:
            def call(request: Any, context: grpc.ServicerContext) -> Any:
                self._check_access(method, metadata)
                return behaviour(request, context)

            return call

        if handler.unary_unary or handler.stream_unary:
            unary = canonical_errors(
                checked(handler.unary_unary or handler.stream_unary), streaming=False, observe=log_call
            )
            factory = (
                grpc.unary_unary_rpc_method_handler if handler.unary_unary else grpc.stream_unary_rpc_method_handler
            )
            return factory(unary, handler.request_deserializer, handler.response_serializer)

        stream = canonical_errors(
            checked(handler.unary_stream or handler.stream_stream), streaming=True, observe=log_call
        )
        factory = (
            grpc.unary_stream_rpc_method_handler if handler.unary_stream else grpc.stream_stream_rpc_method_handler
        )
        return factory(stream, handler.request_deserializer, handler.response_serializer)


def _code_name(context: grpc.ServicerContext | grpc.aio.ServicerContext[Any, Any]) -> str:
    # grpc.ServicerContext.code() exists since grpcio 1.38; its type stubs lack it.
    code = context.code()  # type: ignore[union-attr]  # code() is missing from the grpc stubs
    if code is None:
        return "OK"
    if isinstance(code, grpc.StatusCode):
        return code.name
    return str(code)


# --- grpc.aio ------------------------------------------------------------------------


@dataclass(frozen=True)
class CallInfo:
    """What a hook knows when a call starts."""

    method: str
    peer: str
    request_id: str
    started: float  # time.perf_counter()
    grpc_type: str = "unary"  # go-grpc-prometheus's grpc_type (metrics.rpc_type)


# A hook is called when a call starts and returns what to call once when it ends,
# with the final code name, the ErrorInfo reason ("" when none) and the exception.
CallEnd = Callable[[str, str, "BaseException | None"], None]
CallHook = Callable[[CallInfo], CallEnd]


def log_hook(info: CallInfo) -> CallEnd:
    """The one log line per call: code, reason, duration; a traceback only for a
    bug (not a ReelError, not the caller's cancel or deadline)."""

    def end(code: str, reason: str, exc: BaseException | None) -> None:
        fields: dict[str, Any] = {"code": code, "duration_ms": round((time.perf_counter() - info.started) * 1000, 2)}
        if reason:
            fields["reason"] = reason
        if exc is not None and not isinstance(exc, (ReelError, _Abort)) and code not in _CLIENT_ENDED:
            log.error("rpc", **fields, exc_info=exc)
        else:
            log.info("rpc", **fields)

    return end


def metrics_hook(info: CallInfo) -> CallEnd:
    """RPCs by method and code for Prometheus (service_kit.metrics)."""
    handled = metrics.rpc_started(info.method, info.grpc_type)

    def end(code: str, _reason: str, _exc: BaseException | None) -> None:
        handled(code, time.perf_counter() - info.started)

    return end


def _aio_ended_by_client(context: grpc.aio.ServicerContext) -> _Abort:
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        return _Abort("DEADLINE_EXCEEDED", "DEADLINE_EXCEEDED", "the caller's deadline passed")
    return _Abort("CANCELLED", "CLIENT_CANCELLED", "client went away")


async def _aio_abort(context: grpc.aio.ServicerContext, err: _Abort) -> None:
    info = error_details_pb2.ErrorInfo(reason=err.reason, domain=ERROR_DOMAIN, metadata=err.metadata)
    detail = any_pb2.Any()
    detail.Pack(info)
    status = rpc_status.to_status(
        status_pb2.Status(code=getattr(code_pb2, err.code), message=err.message, details=[detail])
    )
    await context.abort(status.code, status.details, status.trailing_metadata)


class _IdleTimeout(Exception):
    """The reader took no message for the idle timeout."""


class AioServerInterceptor(grpc.aio.ServerInterceptor):
    """Tokens, limits, canonical errors and the hooks (the log line) for every call
    of an aio server.

    `limited` maps a full method name to the class of limit it counts against
    (e.g. ``{"/grpc.health.v1.Health/Watch": "watches"}``); a server-streaming call
    of those classes whose reader takes no message for `idle_timeout_s` ends with
    RESOURCE_EXHAUSTED `STREAM_IDLE_TIMEOUT` (0: no timeout)."""

    def __init__(
        self,
        auth_token: str = "",
        admin_token: str = "",
        *,
        limits: ConcurrencyLimits | None = None,
        limited: Mapping[str, str] | None = None,
        idle_timeout_s: float = 0.0,
        hooks: Sequence[CallHook] = (log_hook, metrics_hook),
    ) -> None:
        self._access = ServerInterceptor(auth_token, admin_token)
        self._limits = limits
        self._limited = dict(limited or {})
        self._idle = idle_timeout_s
        self._hooks = tuple(hooks)

    def _start(
        self, method: str, metadata: dict[str, str], context: grpc.aio.ServicerContext, grpc_type: str
    ) -> CallEnd:
        info = CallInfo(
            method, context.peer(), metadata.get("x-request-id") or uuid.uuid4().hex, time.perf_counter(), grpc_type
        )
        # Each aio call runs in its own task, so these bindings are the call's own.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(rpc=method, peer=info.peer, request_id=info.request_id)
        ends = [hook(info) for hook in self._hooks]

        def end(code: str, reason: str, exc: BaseException | None) -> None:
            for fn in ends:
                fn(code, reason, exc)

        return end

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(details)
        if handler is None:
            return None
        method = details.method
        metadata = {k.lower(): v for k, v in (details.invocation_metadata or ()) if isinstance(v, str)}
        limit_class = self._limited.get(method)
        grpc_type = metrics.rpc_type(handler)

        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            end = self._start(method, metadata, context, grpc_type)
            try:
                self._access._check_access(method, metadata)
                result = (handler.unary_unary or handler.stream_unary)(request, context)
                if inspect.isawaitable(result):
                    result = await result
            except asyncio.CancelledError:
                err = _aio_ended_by_client(context)
                end(err.code, err.reason, None)
                raise
            except grpc.aio.AbortError:  # the handler ended the call itself (health's NOT_FOUND)
                end(_code_name(context), "", None)
                raise
            except Exception as exc:  # noqa: BLE001  # every exception becomes a canonical status
                err = _status_for(exc)
                end(err.code, err.reason, exc)
                await _aio_abort(context, err)
            end(_code_name(context), "", None)
            return result

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> None:
            end = self._start(method, metadata, context, grpc_type)
            release: Callable[[], None] = _nothing
            try:
                self._access._check_access(method, metadata)
                if limit_class and self._limits is not None:
                    release = self._limits.acquire(limit_class, context.peer())
                produced = (handler.unary_stream or handler.stream_stream)(request, context)
                if inspect.isasyncgen(produced):
                    idle = self._idle if limit_class else 0.0
                    async with contextlib.aclosing(produced):  # frees the file at once on cancel
                        await _write_all(produced, context, idle)
                elif inspect.isawaitable(produced):  # a handler that writes itself (health Watch)
                    await produced
                else:  # a plain iterator (not used by our services; kept for completeness)
                    for message in produced:
                        await context.write(message)
            except asyncio.CancelledError:
                err = _aio_ended_by_client(context)
                end(err.code, err.reason, None)
                raise
            except grpc.aio.AbortError:
                end(_code_name(context), "", None)
                raise
            except Exception as exc:  # noqa: BLE001  # every exception becomes a canonical status
                err = _status_for(exc)
                end(err.code, err.reason, exc)
                # The slot (and, closed above, the file) is free now: the status may
                # wait behind messages the reader has not taken yet.
                release()
                await _aio_abort(context, err)
            finally:
                release()
            end(_code_name(context), "", None)

        if handler.unary_unary or handler.stream_unary:
            factory = (
                grpc.unary_unary_rpc_method_handler if handler.unary_unary else grpc.stream_unary_rpc_method_handler
            )
            return factory(unary, handler.request_deserializer, handler.response_serializer)
        factory = (
            grpc.unary_stream_rpc_method_handler if handler.unary_stream else grpc.stream_stream_rpc_method_handler
        )
        return factory(stream, handler.request_deserializer, _bytes_pass_through(handler.response_serializer))


def _bytes_pass_through(serializer: Callable[[Any], bytes] | None) -> Callable[[Any], bytes] | None:
    """A streaming handler may yield a message it serialized itself (`bytes`), to
    save a copy of a large field (StreamReelVideo's chunks)."""
    if serializer is None:
        return None
    serialize = serializer

    def serialized(message: Any) -> bytes:
        return message if type(message) is bytes else serialize(message)

    return serialized


def _nothing() -> None:
    return None


async def _write_all(produced: AsyncIterator[Any], context: grpc.aio.ServicerContext, idle_s: float) -> None:
    """Write each message; a write the reader does not take within `idle_s`
    (flow control holds it) ends the call: RESOURCE_EXHAUSTED STREAM_IDLE_TIMEOUT."""
    async for message in produced:
        if not idle_s:
            await context.write(message)
            continue
        try:
            async with asyncio.timeout(idle_s):
                await context.write(message)
        except TimeoutError:
            raise _Abort(
                "RESOURCE_EXHAUSTED", "STREAM_IDLE_TIMEOUT", f"the reader took no message for {idle_s:g} s"
            ) from None

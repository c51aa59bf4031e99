"""Errors the domain raises, named by what the caller should do (AIP-193).

Domain code raises these without knowing gRPC; the server interceptor maps each to
its canonical status code with one `google.rpc.ErrorInfo` carrying `reason`.
"""

from __future__ import annotations


class ReelError(Exception):
    """Base: `code` is a canonical status name, `reason` a stable UPPER_SNAKE word."""

    code = "INTERNAL"

    def __init__(self, reason: str, message: str, **metadata: object) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.metadata = {k: str(v) for k, v in metadata.items()}


class InvalidArgument(ReelError):
    code = "INVALID_ARGUMENT"


class NotFound(ReelError):
    code = "NOT_FOUND"


class FailedPrecondition(ReelError):
    code = "FAILED_PRECONDITION"


class OutOfRange(ReelError):
    code = "OUT_OF_RANGE"


class Aborted(ReelError):
    code = "ABORTED"


class AlreadyExists(ReelError):
    code = "ALREADY_EXISTS"


class Unavailable(ReelError):
    code = "UNAVAILABLE"


class ResourceExhausted(ReelError):
    code = "RESOURCE_EXHAUSTED"


class Unimplemented(ReelError):
    code = "UNIMPLEMENTED"


class Unauthenticated(ReelError):
    code = "UNAUTHENTICATED"


class PermissionDenied(ReelError):
    code = "PERMISSION_DENIED"


class DeadlineExceeded(ReelError):
    code = "DEADLINE_EXCEEDED"


class Cancelled(ReelError):
    code = "CANCELLED"


class Internal(ReelError):
    code = "INTERNAL"

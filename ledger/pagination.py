"""Opaque page tokens (AIP-158) for keyset pagination.

A token carries the last key served (an integer id, or a string key for tables
keyed by name) and a digest of the filters it was issued for; reusing it with other
filters, or a token that was tampered with, raises ``InvalidPageToken`` (a
``ValueError``; map it to INVALID_ARGUMENT).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


class InvalidPageToken(ValueError):
    pass


def clamp_page_size(page_size: int | None) -> int:
    """0 or None means the default; above the maximum is capped; negative is an error."""
    if page_size is None or page_size == 0:
        return DEFAULT_PAGE_SIZE
    if page_size < 0:
        raise ValueError("page_size must not be negative")
    return min(page_size, MAX_PAGE_SIZE)


def _digest(scope: str, filters: dict[str, Any]) -> str:
    blob = json.dumps([scope, filters], sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def encode_page_token(scope: str, last: int | str, filters: dict[str, Any]) -> str:
    """The token of the page after the row whose key is ``last``."""
    body = json.dumps({"after": last, "f": _digest(scope, filters)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def _decode(scope: str, token: str, filters: dict[str, Any]) -> object:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = json.loads(raw)
        after, digest = body["after"], body["f"]
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidPageToken("page_token is not a token this service issued") from exc
    if digest != _digest(scope, filters):
        raise InvalidPageToken("page_token does not match this request's filters")
    return after


def decode_page_token(scope: str, token: str | None, filters: dict[str, Any]) -> int | None:
    """The integer id to continue after, or None for the first page."""
    if not token:
        return None
    after = _decode(scope, token, filters)
    if not isinstance(after, int) or isinstance(after, bool):
        raise InvalidPageToken("page_token does not match this request's filters")
    return after


def decode_key_page_token(scope: str, token: str | None, filters: dict[str, Any]) -> str | None:
    """The string key to continue after, or None for the first page."""
    if not token:
        return None
    after = _decode(scope, token, filters)
    if not isinstance(after, str):
        raise InvalidPageToken("page_token does not match this request's filters")
    return after

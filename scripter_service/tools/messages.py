"""Messages from a context pack's ``messages.json`` (read-only).

The file is a JSON array of
``{"id"?, "ts": ISO-8601 with offset, "from": str, "to": [str], "text": str, "thread": str}``.
A missing ``id`` becomes a stable hash of the message's content, so the same message
keeps the same id across reads. A naive ``ts`` is taken as library time; a message
without a readable ``ts`` is skipped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripter_service.tools.common import file_fingerprint, parse_time, read_context_file, to_local

FILE_NAME = "messages.json"
DEFAULT_LIMIT = 50
MAX_TEXT_CHARS = 500


@dataclass(frozen=True)
class Message:
    id: str
    ts: dt.datetime
    sender: str
    to: tuple[str, ...]
    text: str
    thread: str

    def as_dict(self) -> dict[str, Any]:
        text = self.text if len(self.text) <= MAX_TEXT_CHARS else self.text[: MAX_TEXT_CHARS - 1] + "…"
        return {
            "id": self.id,
            "ts": self.ts.isoformat(),
            "from": self.sender,
            "to": list(self.to),
            "text": text,
            "thread": self.thread,
        }

    def matches(self, terms: list[str]) -> bool:
        haystack = " ".join((self.text, self.sender, self.thread, *self.to)).casefold()
        return all(term in haystack for term in terms)


class MessagesProvider:
    """Messages of ``<context_dir>/messages.json``; a missing file means none."""

    def __init__(self, context_dir: str | Path, tz: dt.tzinfo) -> None:
        self.path = Path(context_dir) / FILE_NAME
        self.tz = tz
        self._lock = threading.Lock()
        self._key: tuple[int, int] | None = None
        self._messages: list[Message] = []

    def query(
        self,
        start: dt.datetime,
        end: dt.datetime,
        text: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> list[dict[str, Any]]:
        """Messages with ``start <= ts < end``, oldest first, at most ``limit``.

        ``text``: every whitespace-separated term must occur (case-insensitive) in the
        text, sender, recipients or thread.
        """
        start, end = to_local(start, self.tz), to_local(end, self.tz)
        terms = (text or "").casefold().split()
        hits = [m for m in self._load() if start <= m.ts < end and m.matches(terms)]
        return [m.as_dict() for m in hits[: max(0, limit)]]

    def _load(self) -> list[Message]:
        key = file_fingerprint(self.path)
        with self._lock:
            if key != self._key:
                self._messages = _read(self.path, self.tz) if key is not None else []
                self._key = key
            return self._messages


def stable_id(row: dict[str, Any]) -> str:
    """'m_' and 16 hex digits of a hash over the message's fields."""
    canonical = json.dumps(
        [str(row.get(k, "")) for k in ("ts", "from", "text", "thread")] + [_recipients(row)],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return "m_" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _recipients(row: dict[str, Any]) -> list[str]:
    to = row.get("to", [])
    if isinstance(to, str):
        return [to]
    return [str(x) for x in to] if isinstance(to, list) else []


def _read(path: Path, tz: dt.tzinfo) -> list[Message]:
    raw = read_context_file(path, path.parent)
    if raw is None:
        return []
    data = json.loads(raw.decode("utf-8"))
    out = []
    for row in data if isinstance(data, list) else []:
        if not isinstance(row, dict):
            continue
        try:
            ts = parse_time(row.get("ts"), tz)
        except ValueError:
            continue
        out.append(
            Message(
                id=str(row.get("id") or stable_id(row)),
                ts=ts,
                sender=str(row.get("from", "")),
                to=tuple(_recipients(row)),
                text=str(row.get("text", "")),
                thread=str(row.get("thread", "")),
            )
        )
    out.sort(key=lambda m: (m.ts, m.id))
    return out

"""Full-text search over a context pack's ``notes/`` folder (read-only).

Text and markdown files (``.txt``, ``.md``, ``.markdown``) are indexed in an SQLite
FTS5 table (porter stemming, diacritics folded) and ranked with bm25, the title
weighing more than the body. The index database lives in a cache directory given by
the caller, never inside the library, which is only ever read. Before each search
the folder's fingerprint (every file's path, mtime and size) is compared with the
one the index was built from, and the index is rebuilt when they differ.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any

from reels_core.libraries import CONTEXT_DIR
from scripter_service.tools.common import inside

NOTE_SUFFIXES = (".txt", ".md", ".markdown")
MAX_NOTE_BYTES = 1_000_000
MAX_LIMIT = 50
SCHEMA_VERSION = "1"
TITLE_WEIGHT, BODY_WEIGHT = 5.0, 1.0


class NotesIndex:
    """Search ``notes_dir``; the index lives in ``cache_dir``."""

    def __init__(self, notes_dir: str | Path, cache_dir: str | Path) -> None:
        self.notes_dir = Path(notes_dir).resolve()
        cache = Path(cache_dir).resolve()
        library = self.notes_dir.parent
        if library.name == CONTEXT_DIR:
            library = library.parent
        if cache == library or library in cache.parents:
            raise ValueError("the notes index must live outside the library")
        digest = hashlib.sha256(str(self.notes_dir).encode("utf-8")).hexdigest()[:16]
        self.db_path = cache / f"notes-{digest}.sqlite"
        self._lock = threading.Lock()
        self.rebuilds = 0  # how many times this instance rebuilt the index

    def search_notes(self, query: str, limit: int = 5) -> list[dict[str, Any]]:
        """Best matches first: ``{path, title, snippet, score}`` (higher score is better;
        ``path`` is relative to the notes folder). Any word of the query may match."""
        terms = re.findall(r"\w+", query or "")
        if not terms:
            return []
        limit = max(1, min(MAX_LIMIT, int(limit)))
        match = " OR ".join('"' + t.replace('"', "") + '"' for t in terms)
        with self._lock:
            conn = self._open()
            try:
                self._refresh(conn)
                rows = conn.execute(
                    "SELECT path, title, snippet(notes, 2, '[', ']', '…', 12),"
                    " bm25(notes, 0.0, ?, ?) AS rank"
                    " FROM notes WHERE notes MATCH ? ORDER BY rank, path LIMIT ?",
                    (TITLE_WEIGHT, BODY_WEIGHT, match, limit),
                ).fetchall()
            finally:
                conn.close()
        return [
            {"path": path, "title": title, "snippet": snippet, "score": round(-rank, 4)}
            for path, title, snippet, rank in rows
        ]

    # ------------------------------------------------------------------ index

    def _open(self) -> sqlite3.Connection:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.db_path, timeout=10)
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS notes USING fts5("
            "path UNINDEXED, title, body, tokenize='porter unicode61 remove_diacritics 2')"
        )
        return conn

    def _refresh(self, conn: sqlite3.Connection) -> None:
        files = self._files()
        fingerprint = _fingerprint(files)
        row = conn.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
        if row and row[0] == fingerprint:
            return
        with conn:  # one transaction: a search never sees a half-built index
            conn.execute("DELETE FROM notes")
            for rel, path, _, _ in files:
                body = _read_text(path)
                if body is not None:
                    conn.execute(
                        "INSERT INTO notes (path, title, body) VALUES (?, ?, ?)",
                        (rel, _title(rel, body), body),
                    )
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('fingerprint', ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (fingerprint,),
            )
        self.rebuilds += 1

    def _files(self) -> list[tuple[str, Path, int, int]]:
        out: list[tuple[str, Path, int, int]] = []
        if not self.notes_dir.is_dir():
            return out
        for root, dirs, names in os.walk(self.notes_dir):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in names:
                if name.startswith(".") or not name.lower().endswith(NOTE_SUFFIXES):
                    continue
                path = Path(root) / name
                if path.is_symlink() and not inside(self.notes_dir, path):
                    continue  # a link out of the notes folder is never read
                try:
                    st = path.stat()
                except OSError:
                    continue
                out.append((path.relative_to(self.notes_dir).as_posix(), path, st.st_mtime_ns, st.st_size))
        out.sort()
        return out


def _fingerprint(files: list[tuple[str, Path, int, int]]) -> str:
    h = hashlib.sha256(SCHEMA_VERSION.encode())
    for rel, _, mtime_ns, size in files:
        h.update(f"{rel}\0{mtime_ns}\0{size}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _read_text(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_NOTE_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None


def _title(rel: str, body: str) -> str:
    """A markdown note's first heading, a text note's first line, else the file name."""
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    if rel.lower().endswith((".md", ".markdown")):
        heading = next((line for line in lines if line.startswith("#")), "")
        if heading.lstrip("#").strip():
            return heading.lstrip("#").strip()[:120]
    elif lines:
        return lines[0][:120]
    return Path(rel).stem

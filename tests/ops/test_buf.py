"""buf over protos/: STANDARD lint is clean, and `buf breaking` fails a
wire-incompatible edit while it accepts additions (what other branches make)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.ops.helpers import require_buf

sys.path.insert(0, str(ROOT / "scripts"))
import buf_check  # scripts/ is not a package

ADMIN = "protos/reels/v1/reel_admin_service.proto"
REELS = "protos/reels/v1/reel_service.proto"
COMMON = "protos/reels/v1/common.proto"


@pytest.fixture(autouse=True)
def _buf() -> None:
    require_buf()


def workspace_copy(dest: Path) -> Path:
    for name in ("buf.yaml", "protos", "third_party"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / name)
    return dest


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def test_lint_is_clean() -> None:
    proc = buf_check.lint()
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_lint_reports_a_style_violation(tmp_path: Path) -> None:
    ws = workspace_copy(tmp_path)
    edit(ws / COMMON, "  SPAN_UNSPECIFIED = 0;", "  SPAN_NONE = 0;")
    proc = buf_check.lint(ws)
    assert proc.returncode != 0
    assert 'Enum zero value name "SPAN_NONE" should be suffixed with "_UNSPECIFIED"' in proc.stdout


# Each wire-incompatible edit, the rule that names it, and a word its message quotes.
BREAKING: dict[str, tuple[str, str, str, str, str]] = {
    # a field renumbered: old clients' bytes land in another field
    "renumbered": (REELS, "  int64 read_offset = 2;", "  int64 read_offset = 4;", "FIELD_NO_DELETE", '"2"'),
    # a field's type changed on the wire
    "retyped": (REELS, "  int64 read_limit = 3;", "  int32 read_limit = 3;", "FIELD_SAME_TYPE", "read_limit"),
    # an RPC removed
    "rpc_removed": (
        REELS,
        "  rpc GetPreferences(GetPreferencesRequest) returns (GetPreferencesResponse);\n",
        "",
        "RPC_NO_DELETE",
        "GetPreferences",
    ),
    # an enum value renumbered
    "enum_renumbered": (COMMON, "  SPAN_MONTH = 3;", "  SPAN_MONTH = 5;", "ENUM_VALUE_NO_DELETE", '"3"'),
    # a field renamed (grpcurl and every JSON client send the old name)
    "renamed": (
        ADMIN,
        "  string owner_id = 2;\n  google.protobuf.Timestamp acquire_time",
        "  string owner = 2;\n  google.protobuf.Timestamp acquire_time",
        "FIELD_SAME_JSON_NAME",
        "owner",
    ),
}


def test_breaking_edits_fail(tmp_path: Path) -> None:
    """Each edit of BREAKING, made together in one copy, is reported by its rule."""
    ws = workspace_copy(tmp_path)
    for path, old, new, _rule, _word in BREAKING.values():
        edit(ws / path, old, new)
    proc = buf_check.breaking(ws, ROOT, "--error-format", "json")
    assert proc.returncode != 0
    found = [json.loads(line) for line in proc.stdout.splitlines()]
    for case, (_path, _old, _new, rule, word) in BREAKING.items():
        assert any(f["type"] == rule and word in f["message"] for f in found), (case, found)


def add_field(ws: Path) -> None:
    edit(ws / REELS, "  string job_id = 6;\n}", "  string job_id = 6;\n  string trace_id = 240;\n}")


def add_rpc_and_messages(ws: Path) -> None:
    edit(
        ws / ADMIN,
        "  rpc RescanLibrary(RescanLibraryRequest) returns (RescanLibraryResponse);\n",
        "  rpc RescanLibrary(RescanLibraryRequest) returns (RescanLibraryResponse);\n"
        "  rpc GetMetrics(GetMetricsRequest) returns (GetMetricsResponse);\n",
    )
    with (ws / ADMIN).open("a") as fh:
        fh.write("\nmessage GetMetricsRequest {}\n\nmessage GetMetricsResponse {\n  string text = 1;\n}\n")


def add_enum_value(ws: Path) -> None:
    # a value no branch uses (SPAN_YEAR = 4 is on main now)
    edit(ws / COMMON, "  SPAN_MONTH = 3;\n", "  SPAN_MONTH = 3;\n  SPAN_ADDED_BY_TEST = 90;\n")


def test_additions_pass(tmp_path: Path) -> None:
    """What the other branches add (fields from their number ranges, RPCs and
    messages, enum values) is lint-clean and not breaking."""
    ws = workspace_copy(tmp_path)
    for add in (add_field, add_rpc_and_messages, add_enum_value):
        add(ws)
    proc = buf_check.breaking(ws, ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert buf_check.lint(ws).returncode == 0


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def test_baseline_is_the_contracts_before_their_last_change(tmp_path: Path) -> None:
    """In a repository: the check run after a commit that breaks the contracts
    (what CI sees) compares with the commit before it, and fails; uncommitted edits
    compare with HEAD."""
    repo = workspace_copy(tmp_path)
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "v1", "--allow-empty")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "protos")
    first = _git(repo, "rev-parse", "HEAD")
    assert buf_check.baseline_commit(repo) is None  # no earlier contracts

    edit(repo / REELS, "  int64 read_limit = 3;", "  int32 read_limit = 3;")
    assert buf_check.baseline_commit(repo) == first  # work in progress: against HEAD
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "breaking")
    (repo / "README").write_text("later commit, protos untouched\n")
    _git(repo, "add", "README")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "docs")
    assert buf_check.baseline_commit(repo) == first  # the parent of the last protos change

    base = buf_check.export_protos(first, tmp_path / "base", repo)
    proc = buf_check.breaking(repo, base)
    assert proc.returncode != 0
    assert "read_limit" in proc.stdout


def test_vendored_date_proto_is_the_wheels() -> None:
    """third_party/googleapis (what buf and the Node client read) holds the same
    google/type/date.proto that `make protos` compiles from googleapis-common-protos."""
    import google.type

    wheel = Path(google.type.__path__[0]) / "date.proto"
    assert (ROOT / "third_party" / "googleapis" / "google" / "type" / "date.proto").read_bytes() == wheel.read_bytes()

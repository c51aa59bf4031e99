"""`buf lint` and `buf breaking` over protos/ (what `make buf`, part of `make test`, runs).

    python scripts/buf_check.py                   # lint, then breaking against the baseline
    python scripts/buf_check.py --against DIR     # breaking against another checkout's protos

The buf CLI is the `@bufbuild/buf` npm package pinned in tools/package-lock.json
(`make tools` installs it into tools/node_modules), so no binary is fetched from
outside the registries.

The baseline of `buf breaking` is the contracts as they were before their newest
change: when protos/ differs from HEAD (work in progress), HEAD's protos/; when it
does not, protos/ of the parent of the last commit that changed protos/ (so CI, on
a commit that changes the contracts, checks that change). It is taken with
`git archive` into a temporary folder and given the current buf.yaml and vendored
imports, so the rules are today's whatever the old commit held. Additions (fields,
RPCs, enum values, messages) pass; removals, renumbering, type and name changes fail.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUF = ROOT / "tools" / "node_modules" / ".bin" / "buf"
WORKSPACE_FILES = ("buf.yaml", "third_party")  # copied beside an old protos/ to build it


def buf_path() -> Path:
    if not BUF.exists():
        raise SystemExit(f"{BUF.relative_to(ROOT)} is missing: run `make tools` (npm ci in tools/)")
    return BUF


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def baseline_commit(repo: Path = ROOT) -> str | None:
    """The commit whose protos/ is the baseline (see the module docstring), or None
    when the contracts have no earlier version (or this is no git checkout)."""
    try:
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "protos"], cwd=repo).returncode != 0
        untracked = _git("ls-files", "--others", "--exclude-standard", "--", "protos", cwd=repo)
        if dirty or untracked:
            return _git("rev-parse", "HEAD", cwd=repo)
        last = _git("log", "-1", "--format=%H", "--", "protos", cwd=repo)
        if not last:
            return None
        parents = _git("rev-list", "--parents", "-n", "1", last, cwd=repo).split()[1:]
        if not parents or not _git("ls-tree", "-d", parents[0], "protos", cwd=repo):
            return None  # the commit that created protos/
        return parents[0]
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None


def export_protos(commit: str, dest: Path, repo: Path = ROOT) -> Path:
    """protos/ of `commit` under `dest`, with today's buf.yaml and vendored imports."""
    archive = subprocess.run(["git", "archive", commit, "protos"], cwd=repo, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    for name in WORKSPACE_FILES:
        src = repo / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copy2(src, dest / name)
    return dest


def run_buf(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(buf_path()), *args], cwd=cwd, capture_output=True, text=True)


def lint(workspace: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return run_buf("lint", cwd=workspace)


def breaking(workspace: Path, against: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`buf breaking` of the workspace's contracts against another workspace folder."""
    return run_buf("breaking", "--against", str(against), *extra, cwd=workspace)


def _report(name: str, proc: subprocess.CompletedProcess[str]) -> bool:
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode == 0:
        print(f"buf {name}: ok")
        return True
    print(f"buf {name}: FAILED\n{out}", file=sys.stderr)
    return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", type=Path, help="a folder with protos/ and buf.yaml to compare with")
    ap.add_argument("--skip-lint", action="store_true")
    args = ap.parse_args()
    ok = args.skip_lint or _report("lint", lint())
    if args.against:
        return 0 if _report(f"breaking (against {args.against})", breaking(ROOT, args.against)) and ok else 1
    commit = baseline_commit()
    if commit is None:
        print("buf breaking: no earlier version of protos/ to compare with")
        return 0 if ok else 1
    with tempfile.TemporaryDirectory(prefix="buf-baseline-") as tmp:
        base = export_protos(commit, Path(tmp))
        ok = _report(f"breaking (against {commit[:12]})", breaking(ROOT, base)) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())

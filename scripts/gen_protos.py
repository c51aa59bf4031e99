"""Generate the Python code and typed stubs of protos/reels/v1 into reels/v1.

The generated tree mirrors the proto tree (protos/reels/v1/x.proto ->
reels/v1/x_pb2.py), so the generated imports (`from reels.v1 import common_pb2`)
resolve from the repository root with no sys.path edits.

    python scripts/gen_protos.py            # regenerate in place
    python scripts/gen_protos.py --check    # exit 1 when the committed code is stale
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.resources
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
OUT_PACKAGE = ROOT / "reels"


def _include_dirs() -> list[str]:
    # grpc_tools ships google/protobuf/*.proto; googleapis-common-protos ships
    # google/type/date.proto beside its generated modules.
    import google.type  # noqa: F401  (googleapis-common-protos)

    grpc_include = importlib.resources.files("grpc_tools") / "_proto"
    googleapis = Path(sys.modules["google.type"].__path__[0]).parent.parent
    return [str(PROTO_ROOT), str(grpc_include), str(googleapis)]


def generate(out_dir: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    includes = [f"-I{d}" for d in _include_dirs()]
    args = [
        "grpc_tools.protoc",
        *includes,
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for pkg in {p.parent for p in out_dir.rglob("*_pb2.py")} | {out_dir / "reels"}:
        (pkg / "__init__.py").touch()


def _tree(d: Path) -> dict[str, Path]:
    return {str(p.relative_to(d)): p for p in d.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="fail when reels/ differs from a fresh generation")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        fresh = _tree(Path(tmp) / "reels")
        if args.check:
            current = _tree(OUT_PACKAGE) if OUT_PACKAGE.exists() else {}
            stale = sorted(
                name
                for name in fresh.keys() | current.keys()
                if name not in fresh
                or name not in current
                or not filecmp.cmp(fresh[name], current[name], shallow=False)
            )
            if stale:
                print("generated code is stale; run `make protos`:", *stale, sep="\n  ")
                return 1
            print("generated code is up to date")
            return 0
        shutil.rmtree(OUT_PACKAGE, ignore_errors=True)
        shutil.copytree(Path(tmp) / "reels", OUT_PACKAGE)
    print(f"generated {len(fresh)} files into {OUT_PACKAGE.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

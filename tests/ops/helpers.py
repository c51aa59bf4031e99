"""What the ops tests share: tools that must be there in CI and may be missing on a
developer's machine."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT

BUF = ROOT / "tools" / "node_modules" / ".bin" / "buf"
NODE_CLIENT = ROOT / "clients" / "node"


def require(what: str, present: bool, how: str) -> None:
    """Skip when `what` is missing, except in CI (CI=true), where it fails."""
    if present:
        return
    message = f"{what} is missing ({how})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)


def require_buf() -> Path:
    require("the buf CLI", BUF.exists(), "make tools installs it from tools/package-lock.json")
    return BUF


def require_node() -> str:
    node = shutil.which("node")
    require("node", node is not None, "install Node.js 18 or newer")
    require(
        "the Node client's packages",
        (NODE_CLIENT / "node_modules" / "@grpc" / "grpc-js").is_dir(),
        "make node-client installs them from clients/node/package-lock.json",
    )
    assert node is not None
    return node

"""The committed generated code matches the protos; every RPC the design names exists."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reels.v1 import reel_admin_service_pb2, reel_service_pb2, scripter_service_pb2

ROOT = Path(__file__).resolve().parents[2]


def test_generated_code_is_fresh():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--check"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_public_surface_is_complete():
    methods = {
        name: {m.name for m in svc.methods}
        for mod in (reel_service_pb2, reel_admin_service_pb2, scripter_service_pb2)
        for name, svc in mod.DESCRIPTOR.services_by_name.items()
    }
    assert methods["ScripterService"] == {"GenerateScript"}
    assert methods["ReelService"] >= {
        "CreateReel",
        "GetReelJob",
        "WatchReelJob",
        "CancelReelJob",
        "GetPrecomputedReel",
        "StreamReelVideo",
        "GetReel",
        "ListReels",
        "RateReel",
        "GetPreferences",
    }
    assert methods["ReelAdminService"] >= {
        "RunPregenNow",
        "RunRetentionNow",
        "RunConsolidationNow",
        "ListMaintenanceRuns",
        "GetLedgerStats",
        "ListLibraries",
        "RescanLibrary",
    }


def test_buf_style_request_response_per_rpc():
    for mod in (reel_service_pb2, reel_admin_service_pb2, scripter_service_pb2):
        for svc in mod.DESCRIPTOR.services_by_name.values():
            for m in svc.methods:
                assert m.input_type.name == f"{m.name}Request"
                assert m.output_type.name == f"{m.name}Response"

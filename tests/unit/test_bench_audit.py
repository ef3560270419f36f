"""bench/bench_audit.py keeps running: the IL-4 benchmark at a tiny size (issue 22), its figures
written to a temporary folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_audit.py"


def test_bench_audit_runs_at_a_tiny_size(tmp_path: Path) -> None:
    args = ["--users", "30", "--roles", "10", "--policies", "20", "--repeat", "1", "--results", str(tmp_path)]
    run = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads((tmp_path / "audit-30.json").read_text())
    assert result["principals"] == 30 + 10 and result["seconds"] < 10
    # The synthetic account has admin roles and policies that open paths: the bench measures real work.
    assert result["admins"] >= 1 and result["can_become_admin"] >= 1

"""bench/bench_plan.py keeps running (issue 18 item 15: it asserted a plan summary without `adopt`
and failed at every size). Each case runs the script at a tiny size in a subprocess, as `make
bench` does, with its results written to a temporary folder: a change that breaks the bench
fails here, in seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_plan.py"


@pytest.mark.parametrize(
    ("args", "case"),
    [
        (["--users", "5", "--repeat", "1"], "single-5-users"),
        (["--org", "--accounts", "2", "--roles", "2", "--users", "5"], "org2x2-5-users"),
    ],
)
def test_bench_plan_runs_at_a_tiny_size(args: list[str], case: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    r = subprocess.run(
        [sys.executable, str(BENCH), *args, "--results", str(tmp_path)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    row = json.loads((tmp_path / f"{case}.json").read_text())
    assert row["apply_changes"] > 0
    assert row["noop_plan_api_calls"] > 0

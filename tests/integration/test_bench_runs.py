"""The benches keep running (issue 18 item 15: bench_plan.py asserted a plan summary without
`adopt` and failed at every size; issue 21 item 6: every bench runs here). Each case runs a
script at a tiny size in a subprocess, as `make bench` does, with its results written to a
temporary folder: a change that breaks a bench fails here, in seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.proof  # each bench at a tiny size, emulators and organizations: `make proof`

BENCHES = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.parametrize(
    ("args", "case"),
    [
        (["--users", "5", "--repeat", "1"], "single-5-users"),
        (["--org", "--accounts", "2", "--roles", "2", "--users", "5"], "org2x2-5-users"),
    ],
)
def test_bench_plan_runs_at_a_tiny_size(args: list[str], case: str, tmp_path: Path) -> None:
    run_bench("bench_plan.py", args, tmp_path)
    row = json.loads((tmp_path / f"{case}.json").read_text())
    assert row["apply_changes"] > 0
    assert row["noop_plan_api_calls"] > 0


def run_bench(script: str, args: list[str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    r = subprocess.run(
        [sys.executable, str(BENCHES / script), *args, "--results", str(tmp_path)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_bench_org_runs_at_a_tiny_size(tmp_path: Path) -> None:
    """Issue 21: an organization whose accounts are chosen by OU, applied from empty, then the
    no-op plan, with its bounds (calls per account, group policy size) measured."""
    run_bench("bench_org.py", ["--accounts", "4", "--ous", "2", "--roles", "2", "--users", "3"], tmp_path)
    row = json.loads((tmp_path / "org-4x2-2ous-3-users.json").read_text())
    assert row["accounts"] == 6 and row["apply_changes"] > 0
    assert 0 < row["noop_plan_max_calls_per_member_account"] <= 5
    assert 0 < row["group_inline_policy_chars_max"] < 3000


def test_bench_org_with_a_missing_access_role_runs_at_a_tiny_size(tmp_path: Path) -> None:
    args = ["--accounts", "4", "--ous", "2", "--roles", "2", "--users", "3", "--missing-role"]
    run_bench("bench_org.py", args, tmp_path)
    row = json.loads((tmp_path / "org-4x2-2ous-3-users-missing-role.json").read_text())
    assert [a["account"] for a in row["failed_accounts"]] == ["acct-0002"] and row["accounts_applied"] == 5


def test_bench_access_runs_at_a_tiny_size(tmp_path: Path) -> None:
    run_bench("bench_access.py", ["--users", "5", "--repeat", "1", "--target", "30"], tmp_path)
    row = json.loads((tmp_path / "access-5.json").read_text())
    assert row["case"] == "org5-5-people" and row["who_can_assume_devops_users"] > 0


def test_bench_ic_scale_runs_at_a_tiny_size(tmp_path: Path) -> None:
    """Issue 21 item 5: Identity Center's no-op plan reads the assignments by principal (4 owned
    users and groups, against 2 permission sets x 5 accounts), one call each, nothing completed."""
    args = ["--accounts", "3", "--groups", "2", "--people", "2", "--sets", "2"]
    run_bench("bench_ic_scale.py", args, tmp_path)
    row = json.loads((tmp_path / "ic-scale-3.json").read_text())
    assert row["accounts"] == 5 and row["assignments_made"] == 7
    assert row["ic_read"] == {"assignments_by": "principal", "principals": 4, "pairs": 10, "completions": 0}
    assert row["ic_calls_by_operation"]["ListAccountAssignmentsForPrincipal"] == 4
    assert "ListAccountAssignments" not in row["ic_calls_by_operation"]


def test_bench_migrate_runs_at_a_tiny_size(tmp_path: Path) -> None:
    """Issue 24: import aws of a layer with IAM users and Identity Center, then migrate
    identity-center of what it wrote, whose parity holds."""
    run_bench("bench_migrate.py", ["--users", "6", "--ic-users", "4", "--ic-groups", "2"], tmp_path)
    row = json.loads((tmp_path / "migrate-6-iam-users-4-ic-users-2-ic-groups-5-accounts.json").read_text())
    assert row["imported_users"] == 6 and row["proposed_ic_users"] == 6
    # IAM: devops in 3 accounts, auditors in 5, finops in 1; Identity Center: 4 people, 2 sets in 1 account
    assert row["parity_rows"] == 2 * 3 + 2 * 5 + 2 * 1 + 4 * 2

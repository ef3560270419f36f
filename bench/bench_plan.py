"""Measure what plan and apply cost: API calls, wall time and peak memory, against the emulator.

    python bench/bench_plan.py --users 100 1000          # one account, N users in 10 groups
    python bench/bench_plan.py --org --users 200         # the 5-account example with N people

Each case starts a fresh emulator, writes a spec, runs `iamlayer apply --auto-approve --json`
then `iamlayer plan --json` (the no-op plan) as a person would, in a subprocess, and reports
the API calls by operation that iamlayer itself counted. Results are printed as a table and
written to bench/results/<case>.json. Targets (issue 2 and 4): a no-op plan of 1,000 users in one
account under 3 s and 20 calls; their apply under 60 s; a no-op plan of the 5-account example
with 200 people under 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from iamlayer.sandbox.emulator import start_emulator

RESULTS = Path(__file__).resolve().parent / "results"

ORG_ACCOUNTS = {
    "management": "111111111111",
    "security": "222222222222",
    "shared": "333333333333",
    "apps-devstg": "444444444444",
    "apps-prd": "555555555555",
}


def single_account_spec(users: int, groups: int = 10) -> str:
    lines = ["project: bench", "accounts:", '  main: {id: "123456789012"}', "groups:"]
    lines += [
        f"  team-{g:02d}: {{policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]}}" for g in range(groups)
    ]
    lines.append("users:")
    lines += [f"  user-{u:04d}: {{groups: [team-{u % groups:02d}]}}" for u in range(users)]
    return "\n".join(lines) + "\n"


def org_spec(users: int) -> str:
    lines = ["project: bench", "project_long: bench-corp", "accounts:"]
    lines += [f'  {name}: {{id: "{acc}"}}' for name, acc in ORG_ACCOUNTS.items()]
    lines += [
        "people_account: security",
        "password_policy: {minimum_length: 30, reuse_prevention: 24}",
        "roles:",
        "  DevOps: {accounts: [shared, apps-devstg, apps-prd], mfa_max_age: 43200,"
        " policies: [arn:aws:iam::aws:policy/AdministratorAccess]}",
        "  Auditor: {accounts: all, policies: [arn:aws:iam::aws:policy/SecurityAudit]}",
        "  FinOps: {accounts: [management], policies: [arn:aws:iam::aws:policy/job-function/Billing]}",
        "groups:",
        "  devops: {assume: [DevOps], self_management: enforce_mfa}",
        "  auditors: {assume: [Auditor], self_management: enforce_mfa}",
        "  finops: {assume: [FinOps], self_management: restricted}",
        "users:",
    ]
    teams = ["devops", "auditors", "finops"]
    lines += [f"  person-{u:04d}: {{groups: [{teams[u % 3]}]}}" for u in range(users)]
    return "\n".join(lines) + "\n"


def run(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, dict[str, Any]]:
    """Wall seconds, peak RSS (KiB) and JSON output of one iamlayer run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "iamlayer", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"iamlayer {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before), json.loads(proc.stdout)


def bench(case: str, spec_text: str, workdir: Path) -> dict[str, Any]:
    emu = start_emulator()
    try:
        env = {**os.environ, **emu.env()}
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            env.pop(k, None)
        (workdir / "iamlayer.yaml").write_text(spec_text)
        apply_s, _, applied = run(["apply", "--auto-approve", "--json"], workdir, env)
        plan_s, peak_kib, plan = run(["plan", "--json"], workdir, env)
        assert plan["summary"] == {"create": 0, "update": 0, "delete": 0}, plan["summary"]
        return {
            "case": case,
            "apply_seconds": round(apply_s, 2),
            "apply_changes": applied["applied"],
            "apply_api_calls": applied["stats"]["total"],
            "noop_plan_seconds": round(plan_s, 2),
            "noop_plan_api_calls": plan["stats"]["total"],
            "noop_plan_calls_by_operation": plan["stats"]["by_operation"],
            "peak_memory_mib": round(peak_kib / 1024, 1),
        }
    finally:
        emu.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--org", action="store_true", help="the 5-account example instead of one account")
    args = ap.parse_args()
    RESULTS.mkdir(exist_ok=True)
    rows = []
    for n in args.users:
        case = f"{'org5' if args.org else 'single'}-{n}-users"
        with tempfile.TemporaryDirectory() as d:
            spec = org_spec(n) if args.org else single_account_spec(n)
            row = bench(case, spec, Path(d))
        (RESULTS / f"{case}.json").write_text(json.dumps(row, indent=2) + "\n")
        rows.append(row)
        print(
            f"{case}: apply {row['apply_seconds']} s ({row['apply_changes']} changes, {row['apply_api_calls']} calls); "
            f"no-op plan {row['noop_plan_seconds']} s, {row['noop_plan_api_calls']} calls "
            f"{row['noop_plan_calls_by_operation']}; peak {row['peak_memory_mib']} MiB",
            flush=True,
        )


if __name__ == "__main__":
    main()

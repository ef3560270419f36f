"""Measure Identity Center's no-op plan as the organization grows (issue 21 item 5).

    python bench/bench_ic_scale.py --accounts 50 100 200 [--before-src /path/to/old/src]

Each size starts a fresh emulator (only the AWS-managed policies the permission sets attach are
loaded into its accounts) and writes a spec of `--accounts` member accounts in `--ous` "OUs"
(explicit account lists, account k in OU k mod `--ous`: assignments by `ou:` selector are another
branch's), plus the management account (the instance's) and the people account; `--groups`
groups of `--people` people in all, `--sets` permission sets (Set0 references a customer-managed
policy, made in every account it is assigned in); group g is assigned Set(g mod sets) in OU
(g mod ous), and team-00 also Set(sets-1) in `accounts: all`. Then, as a person would, in
subprocesses: `iamlayer apply --auto-approve --json` from empty and the no-op `iamlayer plan
--json`. Reported: wall times, the plan's calls, and Identity Center's own (sso-admin and
identitystore operations, iamlayer.kinds.ic_operations) by operation, with the assignment read's
shape (`plan --stats`' identity_center). `--before-src DIR`: the same no-op plan again with
PYTHONPATH=DIR (an older checkout's src/, e.g. main before this change) on the same emulator,
for the calls before. Results: bench/results/ic-scale-<accounts>.json (or --results DIR).

Target (issue 21): the no-op plan's calls grow with principals and permission sets, not with
accounts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench_ic import POLICIES, people_groups_sets
from bench_plan import RESULTS, run

from iamlayer.kinds import ic_operations
from iamlayer.sandbox.emulator import start_emulator


def ic_scale_spec(accounts: int, ous: int, groups: int, people: int, sets: int) -> str:
    members = {f"acct-{a:04d}": f"{300000000000 + a:012d}" for a in range(accounts)}
    lines = ["project: bench", "project_long: bench-corp", "accounts:"]
    lines += ['  management: {id: "111111111111"}', '  people: {id: "222222222222"}']
    lines += [f'  {name}: {{id: "{acc}"}}' for name, acc in members.items()]
    lines += ["people_account: people", *people_groups_sets(people, groups, sets)]
    lines.append("  assignments:")
    names = list(members)
    for g in range(groups):
        ou = ", ".join(n for k, n in enumerate(names) if k % ous == g % ous)
        lines.append(f"    - {{group: team-{g:02d}, permission_sets: [Set{g % sets}], accounts: [{ou}]}}")
    lines.append(f"    - {{group: team-00, permission_sets: [Set{sets - 1}], accounts: all}}")
    return "\n".join(lines) + "\n"


def ic_calls(plan: dict[str, Any]) -> dict[str, int]:
    ops = ic_operations()
    return {op: n for op, n in plan["stats"]["by_operation"].items() if op in ops}


def bench(a: argparse.Namespace, accounts: int, workdir: Path) -> dict[str, Any]:
    emu = start_emulator(managed_policies=POLICIES)
    try:
        env = {**os.environ, **emu.env()}
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            env.pop(k, None)
        spec = ic_scale_spec(accounts, a.ous, a.groups, a.people, a.sets)
        (workdir / "iamlayer.yaml").write_text(spec)
        apply_s, _, applied = run(["apply", "--auto-approve", "--json"], workdir, env)
        load = os.getloadavg()[0]
        plan_s, peak_kib, plan = run(["plan", "--json"], workdir, env)
        assert not any(plan["summary"].values()), plan["summary"]
        calls = ic_calls(plan)
        row: dict[str, Any] = {
            "case": f"ic-scale-{accounts}",
            "accounts": accounts + 2,
            "groups": a.groups,
            "people": a.people,
            "permission_sets": a.sets,
            "assignments_made": applied["stats"]["by_operation"].get("CreateAccountAssignment", 0),
            "apply_seconds": round(apply_s, 2),
            "apply_changes": applied["applied"],
            "noop_plan_seconds": round(plan_s, 2),
            "noop_plan_api_calls": plan["stats"]["total"],
            "noop_plan_peak_memory_mib": round(peak_kib / 1024, 1),
            "ic_read": {k: v for k, v in plan["stats"]["identity_center"].items() if k != "calls"},
            "ic_calls": sum(calls.values()),
            "ic_calls_by_operation": calls,
            "load_average_1min": round(load, 2),
        }
        if a.before_src:
            before_env = {**env, "PYTHONPATH": str(a.before_src)}
            before_s, _, before = run(["plan", "--json"], workdir, before_env)
            assert not any(before["summary"].values()), before["summary"]
            old = ic_calls(before)
            row |= {
                "before_src_commit": commit_of(a.before_src),
                "before_noop_plan_seconds": round(before_s, 2),
                "before_noop_plan_api_calls": before["stats"]["total"],
                "before_ic_calls": sum(old.values()),
                "before_ic_calls_by_operation": old,
            }
        return row
    finally:
        emu.stop()


def commit_of(src: Path) -> str:
    got = subprocess.run(
        ["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return got.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, nargs="+", default=[50, 100, 200], help="member accounts")
    ap.add_argument("--ous", type=int, default=5)
    ap.add_argument("--groups", type=int, default=20)
    ap.add_argument("--people", type=int, default=40)
    ap.add_argument("--sets", type=int, default=8)
    ap.add_argument("--before-src", type=Path, help="an older checkout's src/ for the calls before")
    ap.add_argument("--results", type=Path, default=RESULTS)
    a = ap.parse_args()
    a.results.mkdir(parents=True, exist_ok=True)
    for accounts in a.accounts:
        with tempfile.TemporaryDirectory() as d:
            row = bench(a, accounts, Path(d))
        (a.results / f"{row['case']}.json").write_text(json.dumps(row, indent=2) + "\n")
        print(json.dumps({k: v for k, v in row.items() if not k.endswith("by_operation")}), flush=True)


if __name__ == "__main__":
    main()

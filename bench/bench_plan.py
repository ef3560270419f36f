"""Measure what plan and apply cost: API calls, wall time and peak memory, against the emulator.

    python bench/bench_plan.py --users 100 1000              # one account, N users in 10 groups
    python bench/bench_plan.py --users 1000 5000 --keys 10   # ... with PGP keys from 10 key files,
                                                             # every other user with a console password
    python bench/bench_plan.py --org --users 200             # the 5-account example with N people
    python bench/bench_plan.py --org --accounts 50 --roles 10 --users 200   # a 50-account organization

Each case starts a fresh emulator, writes a spec, runs `iamlayer apply --auto-approve --json`
then `iamlayer plan --json` (the no-op plan) as a person would, in a subprocess, and reports
the API calls by operation that iamlayer itself counted, and each process's own peak memory.
`--repeat N` runs each case N times
(a fresh emulator each time) and reports the medians. Results are printed as a table and
written to bench/results/<case>.json (or --results DIR). Targets (issue 13): a no-op plan of 1,000 users with keys
under 1.0 s including start-up and at most 8 calls; 5,000 users: apply under 90 s, no-op plan
under 3 s; 50 accounts with 10 roles and 200 people: no-op plan under 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
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


def single_account_spec(users: int, groups: int = 10, keys: int = 0) -> str:
    """One account, `users` users in `groups` groups. With `keys`, user u's PGP key is the key
    file keys/k(u % keys) and every other user (u even) has a console password."""
    lines = ["project: bench", "accounts:", '  main: {id: "123456789012"}', "groups:"]
    lines += [
        f"  team-{g:02d}: {{policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]}}" for g in range(groups)
    ]
    lines.append("users:")
    for u in range(users):
        extra = f", pgp_key: keys/k{u % keys}, console: {str(u % 2 == 0).lower()}" if keys else ""
        lines.append(f"  user-{u:04d}: {{groups: [team-{u % groups:02d}]{extra}}}")
    return "\n".join(lines) + "\n"


def write_keys(workdir: Path, keys: int) -> None:
    """`keys` public keys made by gpg (Curve25519 and RSA alternating), as keys/k0, keys/k1..."""
    from iamlayer.secrets.examplekeys import generate_example_key

    (workdir / "keys").mkdir(exist_ok=True)
    for k in range(keys):
        key = generate_example_key(f"bench key {k} <k{k}@example.com>", "Cv25519" if k % 2 else "RSA3k")
        (workdir / "keys" / f"k{k}").write_bytes(key.public_armored)


def big_org_spec(accounts: int, roles: int, users: int) -> str:
    """`accounts` accounts (the first is the management account, the second the people account),
    `roles` roles in every account, each assumed by one of as many groups, `users` people."""
    ids = {f"acct-{a:02d}": f"{100000000000 + a:012d}" for a in range(accounts)}
    lines = ["project: bench", "project_long: bench-corp", "accounts:"]
    lines += [f'  {name}: {{id: "{acc}"}}' for name, acc in ids.items()]
    lines += [
        "people_account: acct-01",
        "management_account: acct-00",
        "password_policy: {minimum_length: 30, reuse_prevention: 24}",
    ]
    return "\n".join(lines + roles_groups_people("all", roles, users)) + "\n"


#: the AWS-managed policies the bench's roles attach, in turn
MANAGED = ["ReadOnlyAccess", "SecurityAudit", "AdministratorAccess", "job-function/ViewOnlyAccess"]


def roles_groups_people(accounts: str, roles: int, users: int) -> list[str]:
    """The `roles:`, `groups:` and `users:` of a many-account bench: `roles` roles in `accounts`
    (with MFA, an AWS-managed policy each), a group per role, `users` people spread over them."""
    lines = ["roles:"]
    lines += [
        f"  Role{r:02d}: {{accounts: {accounts}, mfa_max_age: 43200,"
        f" policies: [arn:aws:iam::aws:policy/{MANAGED[r % len(MANAGED)]}]}}"
        for r in range(roles)
    ]
    lines.append("groups:")
    lines += [
        f"  team-{r:02d}: {{assume: [Role{r:02d}], self_management: enforce_mfa}}" for r in range(roles)
    ]
    lines.append("users:")
    lines += [f"  person-{u:04d}: {{groups: [team-{u % roles:02d}]}}" for u in range(users)]
    return lines


#: the roles of the 5-account example and a group for each (the teams, in that order)
EXAMPLE_ROLES = (
    "roles:",
    "  DevOps: {accounts: [shared, apps-devstg, apps-prd], mfa_max_age: 43200,"
    " policies: [arn:aws:iam::aws:policy/AdministratorAccess]}",
    "  Auditor: {accounts: all, policies: [arn:aws:iam::aws:policy/SecurityAudit]}",
    "  FinOps: {accounts: [management], policies: [arn:aws:iam::aws:policy/job-function/Billing]}",
    "groups:",
    "  devops: {assume: [DevOps], self_management: enforce_mfa}",
    "  auditors: {assume: [Auditor], self_management: enforce_mfa}",
    "  finops: {assume: [FinOps], self_management: restricted}",
)
EXAMPLE_TEAMS = ("devops", "auditors", "finops")


def org_spec(users: int) -> str:
    lines = ["project: bench", "project_long: bench-corp", "accounts:"]
    lines += [f'  {name}: {{id: "{acc}"}}' for name, acc in ORG_ACCOUNTS.items()]
    lines += [
        "people_account: security",
        "password_policy: {minimum_length: 30, reuse_prevention: 24}",
        *EXAMPLE_ROLES,
        "users:",
    ]
    lines += [f"  person-{u:04d}: {{groups: [{EXAMPLE_TEAMS[u % 3]}]}}" for u in range(users)]
    return "\n".join(lines) + "\n"


def run(
    args: list[str], cwd: Path, env: dict[str, str], *, exit_code: int = 0
) -> tuple[float, int, dict[str, Any]]:
    """Wall seconds, peak RSS (KiB) of that iamlayer process alone, and its JSON output; the
    process must exit `exit_code` (1 for a run expected to fail).

    The peak is the process's own (wait4), not RUSAGE_CHILDREN: that one also counts every
    emulator this script started and reaped before (1.6 GB for 50 accounts), whatever iamlayer used.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "iamlayer", *args], cwd=cwd, env=env, stdout=out, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != exit_code:
            raise SystemExit(
                f"iamlayer {' '.join(args)} exited {proc.returncode}, not {exit_code}:\n{err.read()[-3000:]}"
            )
        return wall, usage.ru_maxrss, json.loads(out.read())


def bench(case: str, spec_text: str, workdir: Path) -> dict[str, Any]:
    emu = start_emulator()
    for out in ("outputs", ".iamlayer"):  # each repeat starts from nothing, as the emulator does
        subprocess.run(["rm", "-rf", str(workdir / out)], check=True)
    try:
        env = {**os.environ, **emu.env()}
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            env.pop(k, None)
        (workdir / "iamlayer.yaml").write_text(spec_text)
        row, _ = apply_then_noop_plan(case, workdir, env)
        return row
    finally:
        emu.stop()


def apply_then_noop_plan(
    case: str, workdir: Path, env: dict[str, str], flags: Sequence[str] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`apply --auto-approve --json` from empty, then the no-op `plan --json` (both with `flags`),
    as a person runs them: the result row every bench reports, and the plan's JSON."""
    apply_s, apply_kib, applied = run(["apply", "--auto-approve", "--json", *flags], workdir, env)
    load = os.getloadavg()[0]  # the machine is shared: how busy it was, for reading the times
    plan_s, peak_kib, plan = run(["plan", "--json", *flags], workdir, env)
    # Every count of the summary (create, update, delete, adopt and any added later) is 0.
    assert not any(plan["summary"].values()), plan["summary"]
    row = {
        "case": case,
        "apply_seconds": round(apply_s, 2),
        "apply_changes": applied["applied"],
        "apply_api_calls": applied["stats"]["total"],
        "apply_peak_memory_mib": round(apply_kib / 1024, 1),
        "noop_plan_seconds": round(plan_s, 2),
        "noop_plan_api_calls": plan["stats"]["total"],
        "noop_plan_calls_by_operation": plan["stats"]["by_operation"],
        "peak_memory_mib": round(peak_kib / 1024, 1),
        "load_average_1min": round(load, 2),
    }
    return row, plan


#: the fields of a row whose median is reported over repeated runs
TIMED = ("apply_seconds", "noop_plan_seconds", "peak_memory_mib", "apply_peak_memory_mib")


def median_row(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The medians of the timed fields over repeated runs (those the rows have); each run's
    figures kept under `runs`."""
    row = dict(runs[0])
    for k in TIMED:
        if k in row:
            row[k] = round(statistics.median(r[k] for r in runs), 2)
    row["repeats"] = len(runs)
    kept = ("apply_seconds", "noop_plan_seconds", "noop_plan_api_calls", "load_average_1min")
    row["runs"] = [{k: r[k] for k in kept if k in r} for r in runs]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--org", action="store_true", help="an organization instead of one account")
    ap.add_argument(
        "--accounts",
        type=int,
        default=0,
        help="with --org: this many accounts (default: the 5-account example)",
    )
    ap.add_argument("--roles", type=int, default=10, help="with --org --accounts: roles in every account")
    ap.add_argument("--keys", type=int, default=0, help="one account: PGP keys from this many key files")
    ap.add_argument("--repeat", type=int, default=1, help="run each case this many times; report medians")
    ap.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="folder of the <case>.json files (default: bench/results)",
    )
    args = ap.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.users:
        if args.org:
            case = f"org{args.accounts}x{args.roles}-{n}-users" if args.accounts else f"org5-{n}-users"
        else:
            case = f"single-{n}-users" + (f"-{args.keys}-keys" if args.keys else "")
        with tempfile.TemporaryDirectory() as d:
            if args.org:
                spec = big_org_spec(args.accounts, args.roles, n) if args.accounts else org_spec(n)
            else:
                spec = single_account_spec(n, keys=args.keys)
                write_keys(Path(d), args.keys)
            row = median_row([bench(case, spec, Path(d)) for _ in range(args.repeat)])
        (args.results / f"{case}.json").write_text(json.dumps(row, indent=2) + "\n")
        rows.append(row)
        print(
            f"{case}: apply {row['apply_seconds']} s ({row['apply_changes']} changes, {row['apply_api_calls']} calls); "
            f"no-op plan {row['noop_plan_seconds']} s, {row['noop_plan_api_calls']} calls "
            f"{row['noop_plan_calls_by_operation']}; peak {row['peak_memory_mib']} MiB "
            f"(apply {row['apply_peak_memory_mib']} MiB); load {[r['load_average_1min'] for r in row['runs']]}",
            flush=True,
        )


if __name__ == "__main__":
    main()

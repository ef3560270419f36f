"""Measure an organization of many accounts chosen by OU (issue 21), against the emulator.

    python bench/bench_org.py --accounts 1000 --repeat 3                # 1,000 accounts in 5 OUs
    python bench/bench_org.py --accounts 200 --repeat 3                 # 200 accounts
    python bench/bench_org.py --accounts 1000 --missing-role --repeat 1 # one access role missing

Each case starts a fresh emulator, makes an AWS Organization in it (the emulator's default
account is the management account): `--ous` OUs, the accounts spread over them, plus the people
account at the root. The spec takes its accounts from the organization (`accounts:
{organization: true}`) and gives each account `--roles` roles by OU selector
(`accounts: [ou:OU0, ..., ou:OU4]`), each assumed by one of as many groups, with `--users`
people in them. Then, as a person would, in subprocesses: `iamlayer apply --auto-approve --json`
from empty, and the no-op `iamlayer plan --json`. Reported: wall times, API calls (the no-op
plan's per account: the most any member account needed), each iamlayer process's own peak memory,
the size of every group's inline policies as iamlayer renders them, and the load average.

`--missing-role`: the access role of one account (the middle one) is refused (AccessDenied on
AssumeRole, through tests/awsharness.py's proxy, as AWS answers when the role is missing): the
apply must exit 1 naming that account, with every other account applied and verified.

Targets (issue 21, the 2-core machine, medians of 3): 1,000 accounts, 4 roles each, 300 people in
4 groups: apply from empty < 4 min, no-op plan < 30 s with <= 5 calls per account, peak memory
< 400 MiB, every group's inline policies < 3,000 characters; 200 accounts: no-op plan < 8 s.
Results go to bench/results/<case>.json (or --results DIR).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import boto3
from bench_plan import MANAGED, RESULTS, apply_then_noop_plan, median_row, roles_groups_people, run

from iamlayer.sandbox.emulator import Emulator, start_emulator

PEOPLE = "222222222222"  # not used by moto's create_account, which draws random ids


def organizations(emu: Emulator) -> Any:
    """An Organizations client of the emulator's default account (the management account)."""
    env = emu.env()
    return boto3.client(
        "organizations",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def make_organization(emu: Emulator, accounts: int, ous: int) -> tuple[dict[str, str], str]:
    """An organization in the emulator: `ous` OUs under the root, `accounts` accounts spread
    over them round-robin, and the people account at the root. (account name -> id, people id)"""
    org = organizations(emu)
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    ou_ids = [
        org.create_organizational_unit(ParentId=root, Name=f"OU{k}")["OrganizationalUnit"]["Id"]
        for k in range(ous)
    ]
    ids: dict[str, str] = {}

    def create(name: str) -> str:
        made = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
        return str(made["AccountId"])

    people = create("bench-people")
    for a in range(accounts):
        name = f"bench-acct-{a:04d}"
        ids[name] = create(name)
        org.move_account(AccountId=ids[name], SourceParentId=root, DestinationParentId=ou_ids[a % ous])
    return ids, people


def org_spec(people: str, management: str, ous: int, roles: int, users: int) -> str:
    selectors = ", ".join(f"ou:OU{k}" for k in range(ous))
    lines = [
        "project: bench",
        "project_long: bench",
        "accounts:",
        "  organization: true",
        f'  names: {{people: "{people}", management: "{management}"}}',
        "people_account: people",
        "management_account: management",
    ]
    return "\n".join(lines + roles_groups_people(f"[{selectors}]", roles, users)) + "\n"


def group_policy_sizes(workdir: Path, env: dict[str, str]) -> dict[str, int]:
    """Characters of every group's inline policies as iamlayer renders them (resolved spec)."""
    from iamlayer.aws.org import read_org_view
    from iamlayer.plan.desired import desired_state
    from iamlayer.spec.load import load_spec, resolve_organization
    from iamlayer.spec.policy_grammar import policy_size
    from iamlayer.stats import ApiStats

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        spec = load_spec(workdir / "iamlayer.yaml", check_keys=False)
        spec = resolve_organization(spec, read_org_view(None, spec.region, ApiStats()))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    people = desired_state(spec, spec.people_account)
    return {g: sum(policy_size(d) for d in s.inline.values()) for g, s in people.groups.items()}


def bench(case: str, a: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    # Only the policies the roles attach: all 1,582 take about 8 MiB and seconds in each account
    # the emulator serves, which 1,000 accounts would not fit.
    emu = start_emulator(managed_policies=[f"arn:aws:iam::aws:policy/{m}" for m in MANAGED])
    try:
        ids, people = make_organization(emu, a.accounts, a.ous)
        env = {**os.environ, **emu.env()}
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            env.pop(k, None)
        (workdir / "iamlayer.yaml").write_text(org_spec(people, "123456789012", a.ous, a.roles, a.users))
        flags = ["--parallelism", str(a.parallelism)]
        if a.missing_role:
            return bench_missing_role(case, a, workdir, env, ids, flags)
        row, plan = apply_then_noop_plan(case, workdir, env, flags)
        by_account = plan["stats"].get("by_account", {})
        member_calls = [
            n for acct, n in by_account.items() if acct not in ("operator", "organization", "people")
        ]
        sizes = group_policy_sizes(workdir, env)
        return row | {
            "accounts": a.accounts + 2,
            "noop_plan_max_calls_per_member_account": max(member_calls, default=0),
            "group_inline_policy_chars_max": max(sizes.values()),
        }
    finally:
        emu.stop()


def bench_missing_role(
    case: str,
    a: argparse.Namespace,
    workdir: Path,
    env: dict[str, str],
    ids: dict[str, str],
    flags: list[str],
) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from awsharness import AwsHarness, Rule  # type: ignore[import-not-found]

    names = sorted(ids)
    missing = names[len(names) // 2]
    with AwsHarness(env["AWS_ENDPOINT_URL"]) as proxy:
        proxy.add(Rule("AssumeRole", "deny", contains=f"arn:aws:iam::{ids[missing]}:role/"))
        wall, _, done = run(
            ["apply", "--auto-approve", "--json", *flags], workdir, proxy.env(env), exit_code=1
        )
    load = os.getloadavg()[0]
    failed = [f["account"] for f in done["failed_accounts"]]
    spec_name = missing.removeprefix("bench-")
    assert failed == [spec_name], failed
    written = {s.split("/", 1)[0] for s in done["succeeded"]}
    assert len(written) == a.accounts + 1 and spec_name not in written, len(written)
    assert done["verified"] and not done["failed"] and not done["skipped"]
    return {
        "case": case,
        "accounts": a.accounts + 2,
        "apply_seconds": round(wall, 2),
        "failed_accounts": done["failed_accounts"],
        "accounts_applied": len(written),
        "apply_changes": done["applied"],
        "verified": done["verified"],
        "load_average_1min": round(load, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=200, help="member accounts in the OUs (besides people)")
    ap.add_argument("--ous", type=int, default=5)
    ap.add_argument("--roles", type=int, default=4, help="roles in every account, one group each")
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--parallelism", type=int, default=10)
    ap.add_argument("--missing-role", action="store_true", help="one account's access role refused")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--results", type=Path, default=RESULTS)
    a = ap.parse_args()
    a.results.mkdir(parents=True, exist_ok=True)
    case = f"org-{a.accounts}x{a.roles}-{a.ous}ous-{a.users}-users" + (
        "-missing-role" if a.missing_role else ""
    )
    runs = []
    for _ in range(a.repeat):
        with tempfile.TemporaryDirectory() as d:
            runs.append(bench(case, a, Path(d)))
    row = median_row(runs)
    (a.results / f"{case}.json").write_text(json.dumps(row, indent=2) + "\n")
    print(json.dumps({k: v for k, v in row.items() if k != "noop_plan_calls_by_operation"}), flush=True)


if __name__ == "__main__":
    main()

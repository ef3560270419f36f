"""Measure IAM Identity Center plan and apply: 50 people, 10 groups, 8 permission sets, 5 accounts.

    python bench/bench_ic.py [--people 50 --groups 10 --sets 8]

As bench_plan.py: a fresh emulator, the spec written to a temporary folder, then
`iamlayer apply --auto-approve --json` and the no-op `iamlayer plan --json` in a subprocess, as a
person runs them; API calls are iamlayer's own count, by operation. The 5-account example's
accounts; Identity Center in the management account; each group has 5 people and two permission
sets (one in 3 accounts, one in all 5); one permission set references a customer-managed policy
(made by iamlayer in each account it is assigned in). Results: bench/results/ic-<case>.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench_plan import ORG_ACCOUNTS, RESULTS, bench

POLICIES = [
    "arn:aws:iam::aws:policy/AdministratorAccess",
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "arn:aws:iam::aws:policy/SecurityAudit",
    "arn:aws:iam::aws:policy/PowerUserAccess",
    "arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess",
    "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess",
    "arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess",
]


def ic_people(people: int, groups: int, user: str = "person", team: str = "team") -> list[str]:
    """`users:` and `groups:` of an `identity_center:` block: <user>-NNN, spread round-robin over
    `groups` groups <team>-NN."""
    width = max(3, len(str(people - 1)))
    name = [f"{user}-{u:0{width}d}" for u in range(people)]
    lines = ["  users:"]
    lines += [
        f"    {n}: {{email: {n}@example.com, given_name: {user.capitalize()}, family_name: N{n[-width:]}}}"
        for n in name
    ]
    lines.append("  groups:")
    for g in range(groups):
        members = ", ".join(name[u] for u in range(people) if u % groups == g)
        lines.append(f"    {team}-{g:02d}: {{description: Team {g}, members: [{members}]}}")
    return lines


def ic_spec(people: int, groups: int, sets: int) -> str:
    accounts = list(ORG_ACCOUNTS)
    lines = ["project: bench", "project_long: bench-corp", "accounts:"]
    lines += [f'  {name}: {{id: "{acc}"}}' for name, acc in ORG_ACCOUNTS.items()]
    lines += ["people_account: security", *people_groups_sets(people, groups, sets)]
    lines.append("  assignments:")
    for g in range(groups):
        three = ", ".join(accounts[(g + i) % len(accounts)] for i in range(3))
        lines.append(f"    - {{group: team-{g:02d}, permission_sets: [Set{g % sets}], accounts: [{three}]}}")
        lines.append(f"    - {{group: team-{g:02d}, permission_sets: [Set{(g + 3) % sets}], accounts: all}}")
    return "\n".join(lines) + "\n"


def people_groups_sets(people: int, groups: int, sets: int) -> list[str]:
    """The spec's billing-read policy and its `identity_center:` block up to its assignments (in
    the management account): `people` people spread over `groups` groups (person u in group u mod
    groups), and `sets` permission sets, Set0 referencing billing-read."""
    lines = [
        "policies:",
        "  billing-read:",
        '    document: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "ce:Get*", Resource: "*"}]}',
        "identity_center:",
        "  account: management",
        *ic_people(people, groups),
    ]
    lines.append("  permission_sets:")
    for s in range(sets):
        extra = ", customer_managed_policies: [billing-read]" if s == 0 else ""
        lines.append(
            f"    Set{s}: {{description: Set {s}, session_duration: PT4H, "
            f"policies: [{POLICIES[s % len(POLICIES)]}]{extra}}}"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=50)
    ap.add_argument("--groups", type=int, default=10)
    ap.add_argument("--sets", type=int, default=8)
    args = ap.parse_args()
    RESULTS.mkdir(exist_ok=True)
    case = f"ic-{args.people}-people-{args.groups}-groups-{args.sets}-sets-5-accounts"
    with tempfile.TemporaryDirectory() as d:
        row = bench(case, ic_spec(args.people, args.groups, args.sets), Path(d))
    (RESULTS / f"{case}.json").write_text(json.dumps(row, indent=2) + "\n")
    print(
        f"{case}: apply {row['apply_seconds']} s ({row['apply_changes']} changes, {row['apply_api_calls']} calls); "
        f"no-op plan {row['noop_plan_seconds']} s, {row['noop_plan_api_calls']} calls "
        f"{row['noop_plan_calls_by_operation']}; peak {row['peak_memory_mib']} MiB",
        flush=True,
    )


if __name__ == "__main__":
    main()

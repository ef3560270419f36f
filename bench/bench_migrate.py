"""Measure `import aws` and `migrate identity-center` of a layer with IAM users and Identity Center.

    python bench/bench_migrate.py [--users 500 --ic-users 500 --ic-groups 50] [--repeat 3]

Issue 24's targets: import of 5 accounts with 500 IAM users and Identity Center with 500 users
and 50 groups < 5 s; the migrate proposal for the same < 5 s. A fresh emulator; an organization
made in its default (management) account with 4 member accounts; the spec (the 5-account
example's roles DevOps, Auditor and FinOps, 500 people in their 3 groups, each with an `email`
tag, and an Identity Center of 500 users in 50 groups, 2 permission sets assigned to each group)
applied first, untimed. Then, timed, each in a subprocess as a person runs it:
`iamlayer import aws --out DIR --json` (with the management account's credentials) and
`iamlayer migrate identity-center --spec DIR/iamlayer.yaml --json --out proposed.yaml`, whose
parity must hold. Results: bench/results/migrate-<case>.json (or --results DIR).
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
from pathlib import Path
from typing import Any

from bench_ic import ic_people
from bench_org import organizations
from bench_plan import EXAMPLE_ROLES, EXAMPLE_TEAMS, RESULTS, run

from iamlayer.sandbox.emulator import Emulator, start_emulator

MEMBERS = ("security", "shared", "apps-devstg", "apps-prd")
MANAGED = (
    "arn:aws:iam::aws:policy/AdministratorAccess",
    "arn:aws:iam::aws:policy/SecurityAudit",
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "arn:aws:iam::aws:policy/job-function/Billing",
)


def make_organization(emu: Emulator) -> dict[str, str]:
    """The organization of the 5-account example in the emulator: account name -> id."""
    org = organizations(emu)
    made = org.create_organization(FeatureSet="ALL")["Organization"]
    ids = {"management": str(made["MasterAccountId"])}
    for name in MEMBERS:
        status = org.create_account(Email=f"{name}@example.com", AccountName=f"bench-corp-{name}")
        ids[name] = str(status["CreateAccountStatus"]["AccountId"])
    return ids


def layer_spec(ids: dict[str, str], users: int, ic_users: int, ic_groups: int) -> str:
    lines = ["project: bench", "project_long: bench-corp", "accounts:"]
    lines += [f'  {name}: {{id: "{acc}"}}' for name, acc in ids.items()]
    lines += [
        "people_account: security",
        *EXAMPLE_ROLES,
        "users:",
    ]
    lines += [
        f"  person-{u:04d}: {{groups: [{EXAMPLE_TEAMS[u % 3]}], tags: {{email: person-{u:04d}@example.com}}}}"
        for u in range(users)
    ]
    lines += ["identity_center:", "  account: management", *ic_people(ic_users, ic_groups, "sso", "sso-team")]
    lines += [
        "  permission_sets:",
        "    ReadOnly: {policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]}",
        "    Audit: {policies: [arn:aws:iam::aws:policy/SecurityAudit]}",
        "  assignments:",
    ]
    lines += [
        f"    - {{group: sso-team-{g:02d}, permission_sets: [ReadOnly, Audit], accounts: [shared]}}"
        for g in range(ic_groups)
    ]
    return "\n".join(lines) + "\n"


def migrate_run(users: int, ic_users: int, ic_groups: int, workdir: Path) -> dict[str, Any]:
    emu = start_emulator(managed_policies=MANAGED)
    try:
        env = {**os.environ, **emu.env()}
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            env.pop(k, None)
        ids = make_organization(emu)
        layer = workdir / "layer"
        subprocess.run(["rm", "-rf", str(layer), str(workdir / "imported")], check=True)
        layer.mkdir()
        (layer / "iamlayer.yaml").write_text(layer_spec(ids, users, ic_users, ic_groups))
        t0 = time.perf_counter()
        run(["apply", "--auto-approve", "--json"], layer, env)
        setup = time.perf_counter() - t0
        load = os.getloadavg()[0]
        imported = workdir / "imported"
        import_s, import_kib, result = run(["import", "aws", "--out", str(imported), "--json"], workdir, env)
        proposed = workdir / "proposed.yaml"
        args = ["migrate", "identity-center", "--spec", str(imported / "iamlayer.yaml"), "--json"]
        migrate_s, migrate_kib, migrated = run([*args, "--out", str(proposed)], workdir, env)
        assert migrated["parity"] is True, migrated["differences"][:5]
        return {
            "case": f"{users}-iam-users-{ic_users}-ic-users-{ic_groups}-ic-groups-5-accounts",
            "setup_apply_seconds": round(setup, 2),
            "import_seconds": round(import_s, 2),
            "import_peak_memory_mib": round(import_kib / 1024, 1),
            "imported_users": result["counts"]["users"],
            "migrate_seconds": round(migrate_s, 2),
            "migrate_peak_memory_mib": round(migrate_kib / 1024, 1),
            "parity_rows": len(migrated["rows"]),
            "proposed_ic_users": len(migrated["proposed"]["users"]),
            "load_average_1min": round(load, 2),
        }
    finally:
        emu.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=500, help="IAM users")
    ap.add_argument("--ic-users", type=int, default=500)
    ap.add_argument("--ic-groups", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=1, help="run this many times; report medians")
    ap.add_argument("--results", type=Path, default=RESULTS, help="folder of the <case>.json file")
    args = ap.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as d:
            runs.append(migrate_run(args.users, args.ic_users, args.ic_groups, Path(d)))
    row = dict(runs[0])
    for k in ("import_seconds", "migrate_seconds", "import_peak_memory_mib", "migrate_peak_memory_mib"):
        row[k] = round(statistics.median(r[k] for r in runs), 2)
    row["repeats"] = len(runs)
    row["runs"] = [
        {k: r[k] for k in ("import_seconds", "migrate_seconds", "load_average_1min")} for r in runs
    ]
    (args.results / f"migrate-{row['case']}.json").write_text(json.dumps(row, indent=2) + "\n")
    print(
        f"migrate-{row['case']}: import {row['import_seconds']} s, migrate {row['migrate_seconds']} s "
        f"({row['parity_rows']} parity rows, {row['proposed_ic_users']} Identity Center users proposed); "
        f"setup apply {row['setup_apply_seconds']} s; load {[r['load_average_1min'] for r in runs]}",
        file=sys.stdout,
        flush=True,
    )


if __name__ == "__main__":
    main()

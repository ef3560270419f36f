"""`iamlayer accounts discover`: the organization's accounts into the spec's `accounts:` block."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from iamlayer.aws.org import OrgAccount, list_org_accounts
from iamlayer.aws.session import ApiStats
from iamlayer.cli.common import EXIT_OK, console, err_console, json_option, profile_option, spec_option
from iamlayer.errors import Diagnostic, SpecError
from iamlayer.spec.edit import update_accounts
from iamlayer.spec.load import parse_yaml

_INVALID = re.compile(r"[^A-Za-z0-9_.-]+")


def account_name(org_name: str, prefix: str) -> str:
    """A spec account name from an organization account name: `acme-corp-apps-prd` -> `apps-prd`."""
    name = org_name.strip()
    if prefix and name.lower().startswith(prefix.lower() + "-") and len(name) > len(prefix) + 1:
        name = name[len(prefix) + 1 :]
    name = _INVALID.sub("-", name.lower()).strip("-._")
    return name[:63] or "account"


def plan_accounts(existing: dict[str, str], found: list[OrgAccount], prefix: str) -> dict[str, str]:
    """name -> id to write: known ids keep their spec name; new ones get a name that is free."""
    by_id = {v: k for k, v in existing.items()}
    out: dict[str, str] = {}
    taken = set(existing)
    for acc in found:
        if acc.status and acc.status != "ACTIVE":
            continue
        if acc.id in by_id:
            out[by_id[acc.id]] = acc.id
            continue
        base = account_name(acc.name, prefix)
        name, n = base, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        out[name] = acc.id
    return out


def _spec_accounts(data: Any) -> dict[str, str]:
    accounts = data.get("accounts") if isinstance(data, dict) else None
    out: dict[str, str] = {}
    for name, v in (accounts or {}).items():
        acc_id = v.get("id") if isinstance(v, dict) else None
        if acc_id is not None:
            out[str(name)] = str(acc_id).zfill(12)
    return out


@click.group()
def accounts() -> None:
    """The accounts of the layer."""


@accounts.command("discover")
@spec_option
@profile_option
@click.option("--dry-run", is_flag=True, help="Show what would be written, change nothing.")
@json_option
def discover(spec_file: Path, profile: str | None, dry_run: bool, as_json: bool) -> int:
    """Write the AWS Organization's accounts into the spec's `accounts:` block.

    Run it with the management account's credentials. Account names lose the `<project_long>-`
    prefix (acme-corp-apps-prd becomes apps-prd); accounts already in the spec keep their name;
    suspended accounts are left out. The rest of the file, comments included, stays as it was.
    """
    try:
        data = parse_yaml(spec_file.read_text(encoding="utf-8"), str(spec_file))
    except FileNotFoundError:
        raise SpecError(
            [
                Diagnostic(
                    str(spec_file), None, "", "spec file not found", "create one with: iamlayer init DIR"
                )
            ]
        ) from None
    project = data.get("project", "") if isinstance(data, dict) else ""
    prefix = str(data.get("project_long") or project) if isinstance(data, dict) else ""
    region = data.get("region") if isinstance(data, dict) else None
    stats = ApiStats()
    master, found = list_org_accounts(profile, region, stats)
    existing = _spec_accounts(data)
    wanted = plan_accounts(existing, found, prefix)
    new = {k: v for k, v in wanted.items() if existing.get(k) != v}
    changed = False if dry_run or not new else update_accounts(spec_file, new)
    skipped = [a for a in found if a.status and a.status != "ACTIVE"]
    if as_json:
        sys.stdout.write(
            json.dumps(
                {
                    "management_account_id": master,
                    "accounts": wanted,
                    "added_or_changed": new,
                    "written": changed,
                    "skipped": [{"id": a.id, "name": a.name, "status": a.status} for a in skipped],
                    "stats": stats.as_json(),
                },
                indent=2,
            )
            + "\n"
        )
        return EXIT_OK
    for name, acc_id in wanted.items():
        mark = "[green]+[/]" if name in new else " "
        note = " (management)" if acc_id == master else ""
        console.print(f" {mark} {name}: {acc_id}{note}")
    for a in skipped:
        err_console.print(f"[yellow]{escape(f'skipped {a.name} ({a.id}): {a.status}')}[/]")
    if dry_run:
        console.print(f"{len(new)} account(s) would be written to {spec_file} (dry run).")
    else:
        console.print(
            f"{len(new)} account(s) written to {spec_file}." if changed else "The spec already lists them."
        )
    return EXIT_OK


def commands() -> list[click.Command]:
    return [accounts]

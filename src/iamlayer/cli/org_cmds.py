"""`iamlayer accounts discover`: the organization's accounts into the spec's `accounts:` block."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.markup import escape

from iamlayer import api
from iamlayer.cli.common import EXIT_OK, console, err_console, json_option, profile_option, spec_option


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
    found = api.discover_accounts(spec_file, credentials=profile, dry_run=dry_run)
    master, wanted, new, changed, skipped, stats = (
        found.management_account_id,
        found.accounts,
        found.added_or_changed,
        found.written,
        found.skipped,
        found.stats,
    )
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

"""`iamlayer offboard USER`: the command; the work is iamlayer.offboard's."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape

from iamlayer.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    console,
    err_console,
    json_option,
    lock_timeout_option,
    profile_option,
    spec_option,
)
from iamlayer.cli.core import _confirm, _status, render_apply_failure
from iamlayer.plan.model import Plan
from iamlayer.plan.render import render_plan


@click.command("offboard")
@click.argument("user")
@spec_option
@profile_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@lock_timeout_option
@json_option
def offboard_cmd(
    user: str, spec_file: Path, profile: str | None, yes: bool, lock_timeout: float, as_json: bool
) -> int:
    """Remove a person who left, and end the role sessions they still hold.

    Removes USER from the spec (and their grants and Identity Center user) and records the
    offboarding under `offboarded:`; every role they could assume, in every account, and every
    permission set they were assigned get a Deny of their sessions issued before now, kept until
    those sessions have ended. Their `aws login` sessions are revoked; the apply deletes their
    keys, password, MFA devices, memberships and user. Prints what they could reach and what
    was done. Asks for "yes" unless --yes.
    """
    from iamlayer.offboard import Preview, offboard, reach_by_account

    def show_reach(preview: Preview) -> None:
        console.print(f"[bold]{escape(preview.user)}[/] could reach:")
        for account, found in reach_by_account(preview.reach).items():
            for r in found:
                console.print(
                    f"  {escape(account)}: {r.kind.replace('_', ' ')} {escape(r.name)}  "
                    f"[dim]via {escape('; '.join(r.via))}[/]",
                    soft_wrap=True,
                )
        if not preview.reach:
            console.print("  nothing")
        for ref in preview.unnamed:
            err_console.print(
                f"[yellow]Warning:[/] {escape(ref)}: its trust does not require sessions named after "
                f"the person; the Deny misses sessions not named {escape(preview.user)}",
                soft_wrap=True,
            )

    def confirm(preview: Preview, plan: Plan) -> None:
        if not as_json:
            show_reach(preview)
            console.print(render_plan(plan), soft_wrap=True)
        _confirm(plan, yes)

    done = offboard(
        spec_file,
        user,
        credentials=profile,
        confirm=confirm,
        progress=None if as_json else _status,
        lock_timeout=lock_timeout,
    )
    if as_json:
        click.echo(json.dumps(done.as_json(), indent=2))
        return EXIT_OK if done.ok else EXIT_ERROR
    if not done.ok:
        err_console.print(render_apply_failure(done.applied), soft_wrap=True)
    console.print("Done:" if done.ok else "What was done:")
    for line in done.actions:
        console.print(f"  {escape(line)}", soft_wrap=True)
    if done.revoke_error:
        err_console.print(f"[yellow]Warning:[/] {escape(done.revoke_error)}", soft_wrap=True)
    return EXIT_OK if done.ok else EXIT_ERROR

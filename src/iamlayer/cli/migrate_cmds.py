"""`iamlayer migrate identity-center`: move people from IAM users to Identity Center (iamlayer.migrate)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.markup import escape

from iamlayer.cli.common import EXIT_ERROR, EXIT_OK, console, json_option, profile_option, spec_option
from iamlayer.files import write_atomic
from iamlayer.migrate.parity import SAME
from iamlayer.migrate.proposal import DEFAULT_EMAIL_TAG, Via
from iamlayer.migrate.run import Migration, migrate_identity_center


@click.group()
def migrate() -> None:
    """Move a layer to another way of giving people access, and prove nobody gains or loses any."""


@migrate.command("identity-center")
@spec_option
@click.option(
    "--spec",
    "from_spec",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Start from this spec (e.g. one `iamlayer import aws` wrote) instead of -f/--file.",
)
@click.option(
    "--via",
    type=click.Choice([v.value for v in Via]),
    default=Via.PERMISSION_SETS.value,
    show_default=True,
    help="permission-sets: permission sets mirroring the roles; entitlements: the groups entitled to the roles.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the proposed spec to FILE.",
)
@click.option(
    "--diff",
    "show_diff",
    is_flag=True,
    help="Print the proposed spec as a unified diff against the current one.",
)
@click.option(
    "--email-tag",
    default=DEFAULT_EMAIL_TAG,
    show_default=True,
    help="The IAM user tag that holds the person's email.",
)
@click.option(
    "--emails",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="A CSV with the columns user,email[,given_name,family_name] (instead of the tag).",
)
@click.option(
    "--ic-account",
    default=None,
    help="The account of the Identity Center instance, for a spec without management account.",
)
@click.option(
    "--live",
    is_flag=True,
    help="Read AWS: the organization (OU selectors) and the credential report (last use).",
)
@profile_option
@json_option
def identity_center(
    spec_file: Path,
    from_spec: Path | None,
    via: str,
    out: Path | None,
    show_diff: bool,
    email_tag: str,
    emails: Path | None,
    ic_account: str | None,
    live: bool,
    profile: str | None,
    as_json: bool,
) -> int:
    """Propose a spec that moves the IAM users' people to IAM Identity Center, with a parity table.

    Each IAM group that assumes roles becomes an Identity Center group (members and all), with
    permission sets mirroring its roles assigned in the roles' accounts (--via permission-sets)
    or entitled to the roles themselves (--via entitlements); each IAM user an Identity Center
    user. The IAM layer stays in the spec: both run side by side. The parity table, computed by
    the evaluator, shows every person's reach before and after; then the IAM users' retirement
    plan. Exit 0 when parity holds, 1 when it does not (the differences listed), 2 when the
    spec or the emails are invalid (a user without an email); nothing is written then.
    """
    m = migrate_identity_center(
        from_spec or spec_file,
        via=Via(via),
        emails=emails,
        email_tag=email_tag,
        ic_account=ic_account,
        live=live,
        profile=profile,
    )
    if out is not None:
        write_atomic(out, m.proposed_text.encode("utf-8"))
    if as_json:
        data = m.as_json()
        data["written"] = str(out) if out else None
        if show_diff:
            data["diff"] = m.diff()
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return EXIT_OK if m.parity.holds else EXIT_ERROR
    if show_diff:
        sys.stdout.write(m.diff())
    _show(m)
    if out is not None:
        console.print(
            f"[green]Wrote[/] the proposed spec to {escape(str(out))}; next: iamlayer validate -f {escape(str(out))}"
        )
    return EXIT_OK if m.parity.holds else EXIT_ERROR


def _show(m: Migration) -> None:
    console.print(
        f"\n[bold]Parity[/] (the evaluator: IAM before, Identity Center after, --via {m.via.value}):"
    )
    for r in m.parity.rows:
        before = r.before.text() if r.before else "-"
        after = r.after.text() if r.after else "-"
        style = "green" if r.verdict == SAME else "red"
        console.print(
            f"  {escape(r.person)}  {escape(r.account)}: {escape(before)} -> {escape(after)}  [{style}]{r.verdict}[/]"
        )
    diffs = m.parity.differences
    if diffs:
        console.print(f"[red]Parity does not hold: {len(diffs)} difference(s)[/]")
        for r in diffs:
            what = r.before if r.before else r.after
            assert what is not None
            console.print(
                f"  [red]{r.verdict}[/]: {escape(r.person)} in {escape(r.account)}: {escape(what.text())}"
            )
    else:
        console.print(
            f"[green]Parity holds[/]: {len(m.parity.rows)} reach(es), nothing lost, nothing gained "
            "(Identity Center asks for MFA at sign-in, as the instance's settings say)"
        )
    for note in m.proposal.notes:
        console.print(f"[yellow]Note:[/] {escape(note)}")
    source = "the credential report" if m.live else "unknown: run with --live to read the credential report"
    console.print(f"\n[bold]Retiring the IAM users[/] (last use: {source}), in this order:")
    for n, ret in enumerate(m.retirement, start=1):
        creds = "; ".join(f"{c.what} last used {c.last_used}" for c in ret.credentials) or "no credentials"
        hold = f"  [yellow]hold: {escape(ret.hold)}[/]" if ret.hold else ""
        console.print(f"  {n}. {escape(ret.user)}: {escape(creds)}{hold}")
        for step in ret.steps:
            console.print(f"     - {escape(step)}")

"""`iamlayer import aws` and `iamlayer import terraform`: adopt what exists (iamlayer.importer)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from iamlayer.cli.common import EXIT_OK, console, err_console, json_option, profile_option
from iamlayer.importer.build import ImportOptions
from iamlayer.importer.run import ImportResult, import_aws, import_terraform
from iamlayer.spec.validate import DEFAULT_ACCESS_ROLE

out_option = click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write iamlayer.yaml, IMPORT.md, keys/ and outputs/ into (an existing spec there is refused).",
)
project_option = click.option(
    "--project", default=None, help="Project name (default: from ownership markers or aliases)."
)
project_long_option = click.option(
    "--project-long",
    default=None,
    help="The alias prefix <project_long>-<account> (default: the aliases' common prefix).",
)
people_option = click.option(
    "--people-account",
    default=None,
    metavar="NAME|ID",
    help="The account of users and groups (default: the one with most users).",
)
access_role_option = click.option(
    "--access-role",
    default=DEFAULT_ACCESS_ROLE,
    show_default=True,
    help="The role assumed in member accounts (and left out of the import).",
)
region_option = click.option(
    "--region", default=None, help="Region for API calls and the spec (default: AWS_REGION, us-east-1)."
)


def _status(msg: str) -> None:
    err_console.print(f"[dim]{msg}[/]")


def _show(result: ImportResult, as_json: bool) -> int:
    if as_json:
        sys.stdout.write(json.dumps(result.as_json(), indent=2) + "\n")
        return EXIT_OK
    r = result.report
    c = r.counts
    console.print(
        f"[green]Imported[/] {c['users']} users, {c['groups']} groups, {c['policies']} policies and {c['roles']} "
        f"roles from {c['accounts']} account(s) as project [bold]{r.project}[/] in {result.seconds:.1f} s"
        + (f", {result.api_calls['total']} API calls" if result.api_calls else "")
        + "."
    )
    console.print(
        f"  {result.spec_path}\n  {result.report_path}: what was imported, kept and left out, and why"
    )
    left = sum(1 for f in r.findings if f.kind == "left_out")
    if r.adopt:
        console.print(
            f"{len(r.adopt)} existing resource(s) will be adopted (ownership marker only) by the next apply."
        )
    if r.kept_users:
        console.print(f"{len(r.kept_users)} user(s) keep their credentials as they are (credentials: keep).")
    if r.roles_left_out:
        console.print(
            f"{len(r.roles_left_out)} role(s) left out as not the layer's (services', Control Tower's, "
            "or trusting no principal of the people account): never touched; see IMPORT.md, or --all-roles."
        )
    if left:
        console.print(
            f"[yellow]{left} thing(s) could not be modelled and stay as they are: see IMPORT.md.[/]"
        )
    console.print(f"Next: cd {result.spec_path.parent} && iamlayer validate && iamlayer plan")
    return EXIT_OK


@click.group("import")
def import_group() -> None:
    """Adopt what exists: write a spec whose first plan only adopts it.

    Nothing is written to AWS. The spec says `adopt: true`: the first `iamlayer plan` lists only
    the ownership markers apply adds (a tag, or a group's marker policy), and nothing else.
    """


@import_group.command("aws")
@out_option
@click.option(
    "--account",
    "accounts",
    multiple=True,
    metavar="NAME|ID|NAME=ID",
    help="Import this account of the organization (repeatable; default: every active account). "
    "NAME=ID names an account directly, without AWS Organizations.",
)
@profile_option
@region_option
@access_role_option
@project_option
@project_long_option
@people_option
@click.option(
    "--keys",
    "keys_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="A folder of PGP public keys named after users: those users' credentials are managed, the others kept.",
)
@click.option(
    "--all-roles",
    is_flag=True,
    help="Import every role, also those services, Control Tower and StackSets made and those trusting no "
    "principal of the people account (default: only roles that look like the layer's; the others are listed "
    "as left out).",
)
@json_option
def import_aws_cmd(
    out: Path,
    accounts: tuple[str, ...],
    profile: str | None,
    region: str | None,
    access_role: str,
    project: str | None,
    project_long: str | None,
    people_account: str | None,
    keys_dir: Path | None,
    all_roles: bool,
    as_json: bool,
) -> int:
    """Import a live AWS Organization (or one account) into DIR/iamlayer.yaml and DIR/IMPORT.md.

    Run it with the management account's credentials: it lists the organization's accounts and
    reads each through access_role with the bulk reads plan uses (a handful of calls per account).
    Outside an organization, it imports the caller's own account. Users whose PGP key is not known
    (see --keys) get `credentials: keep`: their password and keys are never touched. Only the
    roles that look like the layer's are imported (iamlayer's own, or trusting a principal of the
    people account); the others are listed as left out, never touched (--all-roles imports them too).
    """
    result = import_aws(
        out,
        accounts=accounts,
        profile=profile,
        region=region,
        access_role=access_role,
        options=ImportOptions(project, project_long, people_account, all_roles=all_roles),
        keys_dir=keys_dir,
        progress=None if as_json else _status,
    )
    return _show(result, as_json)


@import_group.command("terraform")
@click.option(
    "--state",
    "states",
    required=True,
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A Terraform state, format version 4 (`terraform state pull > FILE`); repeatable, one per layer.",
)
@click.option(
    "--layer",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="The Terraform layer's folder: its keys/ become the spec's keys, matched as its .tf files use them.",
)
@out_option
@region_option
@access_role_option
@project_option
@project_long_option
@people_option
@json_option
def import_terraform_cmd(
    states: tuple[Path, ...],
    layer: Path | None,
    out: Path,
    region: str | None,
    access_role: str,
    project: str | None,
    project_long: str | None,
    people_account: str | None,
    as_json: bool,
) -> int:
    """Import a Terraform identities layer from its state into DIR/iamlayer.yaml and DIR/IMPORT.md.

    Reads the IAM resources of the state (directly declared or inside modules such as the
    terraform-aws-iam ones). The encrypted passwords and access-key secrets it records become
    iamlayer's outputs as they are (never decrypted). No AWS call is made; `iamlayer plan` then
    compares the spec with AWS. Before applying, read the README's migration guide: Terraform must
    stop managing what iamlayer adopts.
    """
    result = import_terraform(
        out,
        states=states,
        layer=layer,
        region=region,
        access_role=access_role,
        options=ImportOptions(project, project_long, people_account),
        progress=None if as_json else _status,
    )
    return _show(result, as_json)


def commands() -> list[click.Command]:
    return [import_group]

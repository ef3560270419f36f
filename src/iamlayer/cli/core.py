"""The core workflow: init, validate, plan, apply."""

from __future__ import annotations

import difflib
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from iamlayer.apply.executor import required_permissions
from iamlayer.apply.run import apply_plan, check_applicable
from iamlayer.aws.session import ApiStats
from iamlayer.cli.common import (
    EXIT_ERROR,
    EXIT_INVALID,
    EXIT_OK,
    console,
    err_console,
    json_option,
    profile_option,
    spec_option,
)
from iamlayer.errors import Diagnostic, SpecError, UserAbort
from iamlayer.files import write_private_file
from iamlayer.plan.limits import check_rendered_limits
from iamlayer.plan.model import Change, Plan
from iamlayer.plan.planner import make_plan
from iamlayer.plan.render import load_plan, plan_to_json, render_plan, render_stats
from iamlayer.spec.load import load_spec, load_spec_with_warnings
from iamlayer.spec.model import Spec
from iamlayer.state.lock import account_locks

account_option = click.option(
    "--account",
    "accounts",
    multiple=True,
    metavar="NAME",
    help="Limit the run to this account (repeatable). Default: every account in the spec.",
)


compact_option = click.option(
    "--compact",
    is_flag=True,
    help="One line per change, without the fields and policy documents (the JSON and --out keep them).",
)

refresh_option = click.option(
    "--refresh-credentials",
    is_flag=True,
    help="Read each owned user's console password and access keys one by one (GetLoginProfile, "
    "ListAccessKeys: two calls per user) instead of trusting the credential report, which AWS makes "
    "at most every 4 hours, so a password or key added or removed by hand since is not in it.",
)


def _status(msg: str) -> None:
    err_console.print(f"[dim]{escape(msg)}[/]")


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@click.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=".")
@click.option(
    "--no-example-keys",
    is_flag=True,
    help="Do not generate throwaway example PGP keys (add real people's keys to keys/ instead).",
)
def init(directory: Path, no_example_keys: bool) -> None:
    """Scaffold a working layer in DIRECTORY: iamlayer.yaml, keys/ and a README.

    The example spec has five accounts (management, security, shared, apps-devstg, apps-prd),
    the roles DevOps, Auditor, DeployMaster and FinOps, their groups, and two users. Every field is
    commented. Next: `iamlayer validate`, `iamlayer plan`, `iamlayer apply`.
    """
    from iamlayer.spec.scaffold import scaffold

    written = scaffold(directory, example_keys=not no_example_keys)
    for p in written:
        console.print(f"  [green]+[/] {p}")
    console.print(f"\nNext: cd {directory} && iamlayer validate && iamlayer plan")


@click.command()
@spec_option
@json_option
def validate(spec_file: Path, as_json: bool) -> int:
    """Check the spec, its policies and its key files; report every problem at once.

    Each problem names the file, line and key, and says what would be valid (with a did-you-mean
    for unknown names). The access checks (`checks:`) are evaluated against the policies iamlayer
    would write. Exit code 0 when valid, 2 when not. Nothing touches AWS.
    """
    if as_json:
        try:
            spec, warnings = load_spec_with_warnings(spec_file)
            check_rendered_limits(spec)
            warnings += _access_checks(spec)
        except SpecError as exc:
            _print_json(
                {"valid": False, "spec": str(spec_file), "diagnostics": [asdict(d) for d in exc.diagnostics]}
            )
            return EXIT_INVALID
        _print_json(
            {
                "valid": True,
                "spec": str(spec.path),
                "diagnostics": [asdict(w) for w in warnings],
                "keys": _key_summary(spec),
            }
        )
        return EXIT_OK
    spec, warnings = load_spec_with_warnings(spec_file)
    check_rendered_limits(spec)
    warnings += _access_checks(spec)
    for w in warnings:
        err_console.print(f"[yellow]{escape(str(w))}[/]", soft_wrap=True)
    for user, fpr in _key_summary(spec).items():
        console.print(f"  key for {user}: {fpr}")
    console.print(
        f"[green]{spec.path} is valid[/]: {len(spec.accounts)} account(s), {len(spec.users)} user(s), "
        f"{len(spec.groups)} group(s), {len(spec.roles)} role(s), {len(spec.policies)} policy(ies)"
        + (f", {len(spec.checks)} access check(s)" if spec.checks else "")
        + (f", {len(warnings)} warning(s)" if warnings else "")
    )
    return EXIT_OK


def _access_checks(spec: Spec) -> list[Diagnostic]:
    """The spec's `checks:` against the policies iamlayer renders: SpecError when one fails,
    warnings for those that depend on AWS-managed documents (plan decides those)."""
    from iamlayer.access.checks import evaluate_checks

    return evaluate_checks(spec, now=datetime.now(UTC)).raise_for_failures()


def _key_summary(spec: Spec) -> dict[str, str]:
    from iamlayer.secrets.keys import load_public_key

    return {u.name: load_public_key(u.pgp_key).label for u in spec.users.values() if u.pgp_key}


def _check_accounts(spec: Spec, accounts: tuple[str, ...]) -> None:
    for name in accounts:
        if name not in spec.accounts:
            close = difflib.get_close_matches(name, list(spec.accounts), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise click.BadParameter(
                f"no account {name!r} in the spec; {hint}valid: {', '.join(spec.accounts)}",
                param_hint="--account",
            )


def _make_plan(
    spec: Spec, profile: str | None, accounts: tuple[str, ...], stats: ApiStats, quiet: bool, refresh: bool
) -> Plan:
    _check_accounts(spec, accounts)
    return make_plan(
        spec,
        profile=profile,
        only=accounts or None,
        stats=stats,
        progress=None if quiet else _status,
        refresh_credentials=refresh,
    )


@click.command()
@spec_option
@profile_option
@account_option
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Save the plan to this file, for `iamlayer apply FILE`.",
)
@json_option
@click.option("--stats", "show_stats", is_flag=True, help="Print the API calls made, by operation.")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are, 1 on errors (as terraform).",
)
@refresh_option
@compact_option
def plan(
    spec_file: Path,
    profile: str | None,
    accounts: tuple[str, ...],
    out: Path | None,
    as_json: bool,
    show_stats: bool,
    detailed_exitcode: bool,
    refresh_credentials: bool,
    compact: bool,
) -> int:
    """Show what apply would change in every account, without changing anything.

    Reads each account in bulk (GetAccountAuthorizationDetails, the credential report), compares
    it with the spec and prints `+ create`, `~ update` and `- destroy`, grouped by account. Writes
    nothing (except the --out file). The plan notes when it trusted a credential report more than
    a few minutes old; --refresh-credentials reads every user one by one instead.
    """
    spec = load_spec(spec_file)
    stats = ApiStats()
    p = _make_plan(spec, profile, accounts, stats, as_json, refresh_credentials)
    data = plan_to_json(p)
    if out:
        write_private_file(out, (json.dumps(data, indent=1) + "\n").encode())
    if as_json:
        _print_json(data)
    else:
        console.print(render_plan(p, detail=not compact), soft_wrap=True)
        if out:
            console.print(f"\nSaved the plan to {out}. Apply exactly it with: iamlayer apply {out}")
        if show_stats:
            console.print(render_stats(p.stats))
    if p.errors:
        return EXIT_ERROR
    if detailed_exitcode and not p.empty:
        return EXIT_INVALID
    return EXIT_OK


def _confirm(p: Plan, auto_approve: bool) -> None:
    if auto_approve:
        return
    deletes = p.counts()["delete"]
    if not sys.stdin.isatty():
        raise UserAbort("Not applying: no terminal to confirm on. Review the plan and pass --auto-approve.")
    question = "Apply these changes?" + (
        f" [red]{deletes} resource(s) will be destroyed.[/]" if deletes else ""
    )
    console.print(question)
    answer = click.prompt("Only 'yes' will be accepted", default="", show_default=False)
    if answer.strip() != "yes":
        raise UserAbort("Apply cancelled; nothing was changed.")


@click.command()
@click.argument("planfile", required=False, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@spec_option
@profile_option
@account_option
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation (for CI).")
@json_option
@refresh_option
@compact_option
def apply(
    planfile: Path | None,
    spec_file: Path,
    profile: str | None,
    accounts: tuple[str, ...],
    auto_approve: bool,
    as_json: bool,
    refresh_credentials: bool,
    compact: bool,
) -> int:
    """Make the accounts match the spec: plan, confirm, apply, then verify.

    With PLANFILE (from `iamlayer plan --out`), applies exactly that plan without asking (the plan
    was the review, as with Terraform), refusing it if the spec or any of its accounts changed
    since it was made (--refresh-credentials then comes from the plan). Otherwise it makes a fresh
    plan, shows it and asks for "yes" unless --auto-approve: nothing is destroyed without
    confirmation. After applying, every account is
    re-read until IAM shows every write (up to 60 s, IAMLAYER_VERIFY_TIMEOUT): anything left to do
    then is reported as an error. Another apply, password reset or access-key rotate writing to
    the same account at the same time is refused.
    """
    spec = load_spec(spec_file)
    stats = ApiStats()
    # One apply at a time: the accounts' locks are held from planning (or the stale check) to the end.
    ctx = click.get_current_context()
    if planfile:
        p = load_plan(planfile)
        check_applicable(p, spec)
        ctx.with_resource(account_locks(spec, [a.account for a in p.accounts], ctx.command_path))
    else:
        _check_accounts(spec, accounts)
        ctx.with_resource(account_locks(spec, accounts or list(spec.accounts), ctx.command_path))
        p = _make_plan(spec, profile, accounts, stats, as_json, refresh_credentials)
    if as_json:
        pass
    elif planfile:
        # Reviewed when it was made (as Terraform applies a saved plan): what it does, in one line.
        c = p.counts()
        console.print(
            f"Applying the plan saved in {planfile} ({p.created_at}): {c['create']} to add, "
            f"{c['update']} to change, {c['delete']} to destroy."
        )
    else:
        console.print(render_plan(p, detail=not compact), soft_wrap=True)
    check_applicable(p, spec)
    if p.empty:
        if as_json:
            _print_json({"applied": 0, "summary": p.counts(), "stats": stats.as_json()})
        return EXIT_OK
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=as_json,
        transient=False,
    )
    task = bar.add_task("Applying", total=len(p.changes))

    def confirm(checked: Plan) -> None:
        # After the library's checks of a saved plan, before the first write. A saved plan was
        # reviewed when it was made: applying it is the confirmation.
        _confirm(checked, auto_approve or planfile is not None)
        bar.start()

    def on_change(change: Change, error: str | None) -> None:
        bar.advance(task)
        if error:
            bar.console.print(f"[red]x {escape(f'{change.address}: {error}')}[/]", soft_wrap=True)

    try:
        outcome = apply_plan(
            p,
            spec,
            profile=profile,
            stats=stats,
            on_change=on_change,
            progress=None if as_json else _status,
            confirm=confirm,
        )
    finally:
        bar.stop()
    r = outcome.result
    if as_json:
        _print_json(
            {
                "applied": len(r.done),
                "failed": [{"address": str(c.address), "error": e} for c, e in r.failed],
                "skipped": [str(c.address) for c in r.skipped],
                "verified": outcome.verify is not None and outcome.verify.empty,
                "verify_waited_s": round(outcome.waited, 1),
                "summary": p.counts(),
                "stats": stats.as_json(),
            }
        )
    if not r.ok:
        if not as_json:
            err_console.print(
                f"[red]Apply failed:[/] {len(r.done)} done, {len(r.failed)} failed, "
                f"{len(r.skipped)} not started. Fix the cause and run `iamlayer apply` again: "
                "it continues from where this stopped."
            )
        return EXIT_ERROR
    if not as_json:
        c = p.counts()
        console.print(
            f"[green]Apply complete![/] Resources: {c['create']} added, {c['update']} changed, "
            f"{c['delete']} destroyed. Verified: the accounts match the spec"
            + (f" (IAM showed every write after {outcome.waited:.0f} s)." if outcome.waited else ".")
        )
        console.print(render_stats(stats.as_json()), style="dim")
    return EXIT_OK


@click.command("operator-policy")
def operator_policy() -> None:
    """Print the IAM policy the operator needs for plan and apply (least privilege).

    Built from the permissions each apply handler declares, plus the bulk reads.
    """
    reads = [
        "iam:GetAccountAuthorizationDetails",
        "iam:ListRoles",
        "iam:GetAccessKeyLastUsed",
        "iam:GetAccountPasswordPolicy",
        "iam:ListAccountAliases",
        "iam:GenerateCredentialReport",
        "iam:GetCredentialReport",
        "iam:GetLoginProfile",
        "iam:ListAccessKeys",
        "iam:ListMFADevices",
        "iam:ListUserTags",
        "sts:GetCallerIdentity",
    ]
    # `access-key rotate --deactivate-old` and `retire --deactivate`; the other secret commands
    # reuse the apply handlers.
    maintenance = ["iam:UpdateAccessKey"]
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "IamlayerRead", "Effect": "Allow", "Action": sorted(reads), "Resource": "*"},
            {
                "Sid": "IamlayerWrite",
                "Effect": "Allow",
                "Action": sorted({*required_permissions(), *maintenance}),
                "Resource": "*",
            },
        ],
    }
    _print_json(doc)


def commands() -> list[click.Command]:
    return [init, validate, plan, apply, operator_policy]

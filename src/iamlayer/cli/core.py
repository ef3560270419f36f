"""The core workflow: init, validate, plan, apply."""

from __future__ import annotations

import difflib
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from iamlayer import api
from iamlayer.cli.common import (
    EXIT_ERROR,
    EXIT_INVALID,
    EXIT_OK,
    console,
    err_console,
    json_option,
    lock_timeout_option,
    profile_option,
    spec_option,
)
from iamlayer.errors import SpecError, UserAbort
from iamlayer.plan.markdown import render_markdown
from iamlayer.plan.model import Change, Plan, plan_to_json
from iamlayer.plan.render import render_plan, render_stats
from iamlayer.spec.load import load_spec
from iamlayer.spec.model import Spec
from iamlayer.stats import ApiStats

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


parallelism_option = click.option(
    "--parallelism",
    type=click.IntRange(1, 100),
    default=10,
    show_default=True,
    metavar="N",
    help="Read (plan) and write to (apply) at most N accounts at a time. An account that fails "
    "(its access role missing, AccessDenied, throttled past retries) does not stop the others.",
)


def _status(msg: str) -> None:
    err_console.print(f"[dim]{escape(msg)}[/]")


def _warn(msg: str) -> None:
    err_console.print(f"[bold yellow]Warning:[/] [yellow]{escape(msg)}[/]", soft_wrap=True)


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
            v = api.validate(spec_file)
        except SpecError as exc:
            _print_json(
                {"valid": False, "spec": str(spec_file), "diagnostics": [asdict(d) for d in exc.diagnostics]}
            )
            return EXIT_INVALID
        _print_json(
            {
                "valid": True,
                "spec": str(v.spec.path),
                "diagnostics": [asdict(w) for w in v.warnings],
                "keys": v.keys,
            }
        )
        return EXIT_OK
    v = api.validate(spec_file)
    spec = v.spec
    for w in v.warnings:
        style = "cyan" if w.severity == "note" else "yellow"
        err_console.print(f"[{style}]{escape(str(w))}[/]", soft_wrap=True)
    for user, fpr in v.keys.items():
        console.print(f"  key for {user}: {fpr}")
    console.print(
        f"[green]{spec.path} is valid[/]: {len(spec.accounts)} account(s)"
        + (" (more from the organization at plan time)" if spec.unresolved else "")
        + f", {len(spec.users)} user(s), "
        f"{len(spec.groups)} group(s), {len(spec.roles)} role(s), {len(spec.policies)} policy(ies)"
        + (f", {len(spec.checks)} access check(s)" if spec.checks else "")
        + (f", {n} warning(s)" if (n := sum(1 for w in v.warnings if w.severity == "warning")) else "")
    )
    return EXIT_OK


def _warn_exposed_keys(spec: Spec) -> None:
    """Loudly, before any plan: users whose secrets anyone with the layer folder could decrypt."""
    from iamlayer.secrets.exposure import exposed_users

    for user, exposure in exposed_users(spec):
        err_console.print(
            f"[bold red]WARNING:[/] [red]{escape(exposure.message(user, spec.root))}[/]\n"
            f"  [red]Fix: {escape(exposure.hint(user, spec.root))}[/]",
            soft_wrap=True,
        )


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
    spec: Spec,
    profile: str | None,
    accounts: tuple[str, ...],
    stats: ApiStats,
    quiet: bool,
    refresh: bool,
    parallelism: int,
) -> Plan:
    progress = None if quiet else _status
    spec = api.resolve_spec(
        spec, credentials=profile, stats=stats, progress=progress, parallelism=parallelism
    )
    _check_accounts(spec, accounts)
    return api.make_plan(
        spec,
        credentials=profile,
        accounts=accounts or None,
        stats=stats,
        progress=progress,
        refresh_credentials=refresh,
        parallelism=parallelism,
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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="text for people; json for machines (as --json); markdown to post as a pull-request comment "
    "(totals, destructive changes first and marked, who gains what).",
)
@click.option("--stats", "show_stats", is_flag=True, help="Print the API calls made, by operation.")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are, 1 on errors (as terraform).",
)
@refresh_option
@compact_option
@parallelism_option
def plan(
    spec_file: Path,
    profile: str | None,
    accounts: tuple[str, ...],
    out: Path | None,
    as_json: bool,
    fmt: str,
    show_stats: bool,
    detailed_exitcode: bool,
    refresh_credentials: bool,
    compact: bool,
    parallelism: int,
) -> int:
    """Show what apply would change in every account, without changing anything.

    Reads each account in bulk (GetAccountAuthorizationDetails, the credential report), compares
    it with the spec and prints `+ create`, `~ update` and `- destroy`, grouped by account. Writes
    nothing (except the --out file). The plan notes when it trusted a credential report more than
    a few minutes old; --refresh-credentials reads every user one by one instead.
    """
    spec = load_spec(spec_file)
    _warn_exposed_keys(spec)
    stats = ApiStats()
    fmt = "json" if as_json else fmt
    p = _make_plan(spec, profile, accounts, stats, fmt != "text", refresh_credentials, parallelism)
    if out:
        api.save_plan(p, out)
    if fmt == "json":
        _print_json(plan_to_json(p))
    elif fmt == "markdown":
        sys.stdout.write(render_markdown(p))
        if show_stats:
            sys.stdout.write(f"\n{render_stats(p.stats)}\n")
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
@lock_timeout_option
@click.option(
    "--allow-behind",
    is_flag=True,
    help="Apply even though the spec differs from the team's last apply and this checkout's git "
    "history lacks its commit (a shared backend refuses that, as it would undo that apply).",
)
@parallelism_option
def apply(
    planfile: Path | None,
    spec_file: Path,
    profile: str | None,
    accounts: tuple[str, ...],
    auto_approve: bool,
    as_json: bool,
    refresh_credentials: bool,
    compact: bool,
    lock_timeout: float,
    allow_behind: bool,
    parallelism: int,
) -> int:
    """Make the accounts match the spec: plan, confirm, apply, then verify.

    With PLANFILE (from `iamlayer plan --out`), applies exactly that plan without asking (the plan
    was the review, as with Terraform), refusing it if the spec or any of its accounts changed
    since it was made (--refresh-credentials then comes from the plan). Otherwise it makes a fresh
    plan, shows it and asks for "yes" unless --auto-approve: nothing is destroyed without
    confirmation. After applying, every account is
    re-read until IAM shows every write (up to 60 s, IAMLAYER_VERIFY_TIMEOUT): anything left to do
    then is reported as an error. Another apply, password reset or access-key rotate writing to
    the same account at the same time is refused, naming it (--lock-timeout waits for it instead).
    With a shared backend, a checkout behind the team's last apply is refused (--allow-behind).
    """
    spec = load_spec(spec_file)
    _warn_exposed_keys(spec)
    stats = ApiStats()
    saved = api.read_plan(planfile) if planfile else None
    spec = api.resolve_spec(
        spec, credentials=profile, stats=stats, progress=None if as_json else _status, parallelism=parallelism
    )
    if saved is None:
        _check_accounts(spec, accounts)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=as_json,
        transient=False,
    )
    task = bar.add_task("Applying", total=None)

    def show(p: Plan) -> None:
        if as_json:
            return
        if saved is not None:
            # Reviewed when it was made (as Terraform applies a saved plan): what it does, in one line.
            c = p.counts()
            console.print(
                f"Applying the plan saved in {planfile} ({p.created_at}): {c['create']} to add, "
                f"{c['update']} to change, {c['delete']} to destroy."
            )
        else:
            console.print(render_plan(p, detail=not compact), soft_wrap=True)

    def confirm(checked: Plan) -> None:
        # After the library's checks of a saved plan, before the first write. A saved plan was
        # reviewed when it was made: applying it is the confirmation.
        _confirm(checked, auto_approve or saved is not None)
        bar.update(task, total=len(checked.changes))
        bar.start()

    def on_change(change: Change, error: str | None) -> None:
        bar.advance(task)
        if error:
            bar.console.print(f"[red]x {escape(f'{change.address}: {error}')}[/]", soft_wrap=True)

    try:
        done = api.apply_plan(
            spec,
            saved,
            credentials=profile,
            accounts=accounts or None,
            refresh_credentials=refresh_credentials,
            on_plan=show,
            confirm=confirm,
            on_change=on_change,
            progress=None if as_json else _status,
            stats=stats,
            command=click.get_current_context().command_path,
            lock_timeout=lock_timeout,
            allow_behind=allow_behind,
            warn=_warn,
            parallelism=parallelism,
        )
    finally:
        bar.stop()
    p = done.plan
    if as_json:
        if p.empty:
            _print_json({"applied": 0, "summary": p.counts(), "stats": stats.as_json()})
            return EXIT_OK
        _print_json(applied_to_json(done))
    if p.empty:
        return EXIT_OK
    if not done.all_applied or done.failed_accounts:
        if not as_json:
            err_console.print(render_apply_failure(done), soft_wrap=True)
        return EXIT_ERROR
    if not as_json:
        c = p.counts()
        console.print(
            f"[green]Apply complete![/] Resources: {c['create']} added, {c['update']} changed, "
            f"{c['delete']} destroyed" + (f", {c['adopt']} adopted" if c["adopt"] else "") + ". "
            "Verified: the accounts match the spec"
            + (f" (IAM showed every write after {done.waited:.0f} s)." if done.waited else ".")
        )
        console.print(render_stats(stats.as_json()), style="dim")
    return EXIT_OK


def applied_to_json(done: api.Applied) -> dict[str, Any]:
    """`apply --json` after changes: counts and addresses of what succeeded, failed (with the
    error and the changes held back by it) and was skipped (with the failure it depends on)."""
    return {
        "applied": len(done.succeeded),
        "succeeded": [str(c.address) for c in done.succeeded],
        "failed": [
            {
                "address": str(f.change.address),
                "error": f.error,
                "skipped": [str(c.address) for c in done.skipped_because(f.change)],
            }
            for f in done.failed
        ],
        "skipped": [str(s.change.address) for s in done.skipped],
        "skipped_because": {str(s.change.address): str(s.because.address) for s in done.skipped},
        "failed_accounts": [
            {"account": a.account, "account_id": a.account_id, "error": a.error} for a in done.failed_accounts
        ],
        "verified": done.verify is not None and done.verify.empty,
        "verify_waited_s": round(done.waited, 1),
        "summary": done.plan.counts(),
        "stats": done.stats.as_json(),
    }


def render_apply_failure(done: api.Applied) -> str:
    """What an apply with failures did (rich markup): each failure, the changes it held back,
    and what succeeded."""
    lines = [
        f"[red]Apply failed:[/] {len(done.succeeded)} succeeded, {len(done.failed)} failed, "
        f"{len(done.skipped)} skipped (not attempted: they depend on a change that failed)"
        + (f", {len(done.failed_accounts)} account(s) not reached." if done.failed_accounts else ".")
    ]
    for a in done.failed_accounts:
        lines.append(f"[red]  x account {escape(a.account)} ({a.account_id})[/]: {escape(a.error or '')}")
    if done.failed_accounts and done.all_applied:
        verified = done.verify is not None and done.verify.empty
        lines.append(
            f"  every other account was applied{' and verified' if verified else ''} "
            f"({len(done.succeeded)} change(s))."
        )
        return "\n".join([*lines, "Fix the cause and run `iamlayer apply` again."])
    for f in done.failed:
        lines.append(f"[red]  x {escape(str(f.change.address))}[/]: {escape(f.error)}")
        held = done.skipped_because(f.change)
        if held:
            lines.append(f"    skipped because of it ({len(held)}):")
            lines += [f"      [yellow]- {escape(str(c.address))}[/]" for c in held]
    if done.succeeded:
        lines.append(f"  succeeded ({len(done.succeeded)}):")
        lines += [f"    [green]+ {escape(str(c.address))}[/]" for c in done.succeeded]
    lines.append("Fix the cause and run `iamlayer apply` again: it continues from where this stopped.")
    return "\n".join(lines)


@click.command("operator-policy")
@click.option(
    "--read-only",
    is_flag=True,
    help="Only the reads: for a role that plans and audits but never applies (CI on pull requests).",
)
@click.option(
    "-f",
    "--file",
    "spec_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A spec whose S3 backend the policy must also reach (default: iamlayer.yaml when it exists).",
)
def operator_policy(read_only: bool, spec_file: Path | None) -> None:
    """Print the IAM policy the operator needs for plan and apply (least privilege).

    Built from the reads each resource kind declares and the permissions each apply handler
    declares; with a spec that has an S3 backend, also its bucket's objects (and KMS key).
    """
    path = spec_file or (Path("iamlayer.yaml") if Path("iamlayer.yaml").exists() else None)
    spec = load_spec(path, check_keys=False) if path else None
    _print_json(api.operator_policy(spec, read_only=read_only))


def commands() -> list[click.Command]:
    return [init, validate, plan, apply, operator_policy]

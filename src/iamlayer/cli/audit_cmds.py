"""`iamlayer audit` (CIS IAM controls) and `iamlayer sts-regions` (STS hygiene), across accounts."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from iamlayer.audit.controls import BENCHMARKS, DEFAULT_BENCHMARK, evaluate
from iamlayer.audit.model import AuditInput, RootAccessFeatures, Unavailable
from iamlayer.audit.report import AuditReport, render_html, render_table, report_json
from iamlayer.audit.sts import StsAdvice, advice_json, advise, unreachable_advice
from iamlayer.aws.accounts import Connection, connect_accounts
from iamlayer.aws.audit_reads import (
    AwsPolicyDocuments,
    read_audit_input,
    read_root_access_features,
    read_sts_input,
)
from iamlayer.aws.audit_reads import set_token_version as apply_token_version
from iamlayer.aws.session import AccountClients, ApiStats, base_session
from iamlayer.cli.common import console, err_console, json_option, profile_option, spec_option
from iamlayer.errors import IamlayerError
from iamlayer.files import write_atomic
from iamlayer.spec.model import Spec

T = TypeVar("T")

account_option = click.option(
    "--account",
    "accounts",
    multiple=True,
    metavar="NAME",
    help="Only this account of the spec (repeatable; default: every account).",
)


def _load(spec_file: Path) -> Spec:
    from iamlayer.spec.load import load_spec

    return load_spec(spec_file, check_keys=False)


def _selected(spec: Spec, accounts: Sequence[str]) -> list[str] | None:
    unknown = [a for a in accounts if a not in spec.accounts]
    if unknown:
        raise click.BadParameter(
            f"{', '.join(unknown)} not in the spec; valid: {', '.join(spec.accounts)}", param_hint="--account"
        )
    return list(dict.fromkeys(accounts)) or None


def _for_each(
    conns: dict[str, Connection], what: str, fn: Callable[[Connection], T], *, max_workers: int = 4
) -> list[T]:
    """Run fn per account concurrently, with a progress bar on stderr; results in spec order."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
        disable=len(conns) < 2,
    ) as progress:
        task = progress.add_task(what, total=len(conns))

        def run(conn: Connection) -> T:
            try:
                return fn(conn)
            finally:
                progress.advance(task)

        with ThreadPoolExecutor(max_workers=max_workers) as pool:
            return list(pool.map(run, conns.values()))


def _write_atomic(path: Path, text: str) -> None:
    write_atomic(path.expanduser(), text.encode("utf-8"))


@click.command("audit")
@spec_option
@profile_option
@account_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "html"]),
    default="table",
    show_default=True,
    help="Report format.",
)
@click.option(
    "--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="Write the report here."
)
@click.option(
    "--benchmark",
    type=click.Choice(BENCHMARKS),
    default=DEFAULT_BENCHMARK,
    show_default=True,
    help="Control numbering (in CIS 5.0 the items from 1.4 on move down by one).",
)
@click.option(
    "--fail-on",
    type=click.Choice(["fail", "error"]),
    default=None,
    help="Exit 1 when any control FAILs ('error': also when any could not be checked). For CI.",
)
@click.option("--show-pass", is_flag=True, help="In the table, list PASS findings too.")
@json_option
def audit_command(
    spec_file: Path,
    profile: str | None,
    accounts: tuple[str, ...],
    fmt: str,
    output: Path | None,
    benchmark: str,
    fail_on: str | None,
    show_pass: bool,
    as_json: bool,
) -> int:
    """Check the CIS AWS Foundations IAM controls, and iamlayer's own, in every account of the spec.

    Each finding says PASS, FAIL, ERROR (could not check, with why) or INFO (reported, not
    required), the resource, and the fix: the spec field to change where the spec can fix it. The
    report shows how old each account's credential report is (AWS regenerates it at most every 4
    hours). Organization-wide settings (centralized root access) are read once, in the management
    account, or in the people account when the spec names no management account.
    """
    spec = _load(spec_file)
    only = _selected(spec, accounts)
    regions = spec.regions_in_use or (spec.region,)
    stats = ApiStats()
    org_reader = spec.management_account or spec.people_account
    connect = None if only is None else list(dict.fromkeys([*only, org_reader]))
    conns = connect_accounts(spec, profile=profile, stats=stats, only=connect)
    reader = conns[org_reader]
    root_access: RootAccessFeatures | Unavailable = (
        read_root_access_features(reader.clients, org_reader)
        if reader.clients is not None
        else Unavailable(f"account {org_reader} not reachable: {reader.error}")
    )
    audited = {name: conn for name, conn in conns.items() if only is None or name in only}
    aws_policies = AwsPolicyDocuments()

    def read(conn: Connection) -> AuditInput:
        acc = conn.account
        if conn.clients is None:
            why = f"account not reachable: {conn.error}"
            inp = AuditInput.unreachable(acc.name, acc.id, why, tuple(regions))
        else:
            inp = read_audit_input(
                conn.clients, acc.name, regions, account_id=acc.id, aws_policies=aws_policies
            )
        return replace(
            inp,
            root_access=root_access,
            people_account=acc.name == spec.people_account,
            management_account=acc.name == spec.management_account,
            organization_reader=acc.name == org_reader,
        )

    inputs = _for_each(audited, "Auditing accounts", read)
    now = datetime.now(UTC)
    report = AuditReport.build(inputs, evaluate(inputs, now, benchmark), benchmark, now)
    if as_json:
        fmt = "json"
    if fmt == "table":
        if output:
            rec = Console(file=io.StringIO(), record=True, width=160, highlight=False)
            render_table(report, rec, show_pass=show_pass)
            _write_atomic(output, rec.export_text())
        else:
            render_table(report, console, show_pass=show_pass)
    else:
        doc = report_json(report, stats.as_json())
        text = json.dumps(doc, indent=2) + "\n" if fmt == "json" else render_html(report)
        if output:
            _write_atomic(output, text)
        else:
            click.echo(text, nl=False)
    c = report.counts()
    if output:
        err_console.print(
            f"Wrote {output} ({c['PASS']} PASS, {c['FAIL']} FAIL, {c['ERROR']} ERROR; "
            f"{stats.total} AWS calls)."
        )
    if (fail_on == "fail" and report.failed) or (fail_on == "error" and (report.failed or report.errored)):
        return 1
    return 0


@click.command("sts-regions")
@spec_option
@profile_option
@account_option
@click.option(
    "--set-token-version",
    type=click.Choice(["v1", "v2"]),
    default=None,
    help="Set the STS global endpoint's token version where it differs (SetSecurityTokenServicePreferences).",
)
@json_option
def sts_regions_command(
    spec_file: Path,
    profile: str | None,
    accounts: tuple[str, ...],
    set_token_version: str | None,
    as_json: bool,
) -> int:
    """Which regional STS endpoints to deactivate per account, and the global token version.

    Probes every enabled region's STS endpoint with a credential-issuing call (RegionDisabledException
    means deactivated), compares with the spec's regions_in_use (default: its region) and prints
    the console click-path for each region to turn off: AWS has no API for it.
    """
    spec = _load(spec_file)
    only = _selected(spec, accounts)
    in_use = spec.regions_in_use or (spec.region,)
    stats = ApiStats()
    conns = connect_accounts(spec, profile=profile, stats=stats, only=only)
    operator: AccountClients | None = None
    if any(c.reach and c.reach.via.startswith("role ") for c in conns.values()):
        operator = AccountClients(base_session(profile, spec.region), "operator", stats, spec.region)
    changed: dict[str, str] = {}
    failed: dict[str, str] = {}

    def check(conn: Connection) -> StsAdvice:
        acc = conn.account
        if conn.clients is None:
            return unreachable_advice(acc.name, acc.id, in_use, f"account not reachable: {conn.error}")
        role_arn = None
        if conn.reach and conn.reach.via.startswith("role ") and operator is not None:
            # Session credentials cannot call GetSessionToken; AssumeRole into the account through
            # the region's endpoint tests the same setting (STS checks the target account's region).
            role_arn = conn.reach.via.removeprefix("role ")
        sts_input = read_sts_input(
            conn.clients,
            acc.name,
            in_use,
            account_id=acc.id,
            probe_clients=operator if role_arn else None,
            probe_role_arn=role_arn,
        )
        advice = advise(sts_input, in_use)
        want = int(set_token_version[1]) if set_token_version else None
        if want is not None and advice.token_version is not None and advice.token_version != want:
            try:
                apply_token_version(conn.clients, f"v{want}")
                changed[acc.name] = f"v{advice.token_version} -> v{want}"
            except IamlayerError as exc:
                failed[acc.name] = str(exc)
        return advice

    advices = _for_each(conns, "Probing STS endpoints", check)
    if as_json:
        doc = [
            advice_json(a)
            | {"token_version_changed": changed.get(a.account), "token_version_error": failed.get(a.account)}
            for a in advices
        ]
        click.echo(json.dumps(doc, indent=2))
    else:
        for a in advices:
            _print_advice(a, changed.get(a.account), failed.get(a.account))
    if failed:
        # The exit code alone does not say why; the details are above (or in the JSON).
        err_console.print(
            f"[red]The token version could not be set in {len(failed)} account(s):[/] "
            f"{escape(', '.join(failed))} (why: under each account above).",
            soft_wrap=True,
        )
    return 1 if failed else 0


def _print_advice(a: StsAdvice, changed: str | None, failed: str | None) -> None:
    console.print(f"\n[bold]{a.account}[/] ({a.account_id}); regions in use: {', '.join(a.regions_in_use)}")
    if changed:
        console.print(f"  global endpoint token version: [green]changed {changed}[/]")
    elif failed:
        console.print(
            f"  global endpoint token version: [red]could not change it: {escape(failed)}[/]", soft_wrap=True
        )
    else:
        style = "yellow" if a.set_v2 else "green"
        console.print(f"  global endpoint token version: [{style}]{a.token_note}[/]")
    for err in a.errors:
        console.print(f"  [red]error:[/] {escape(err)}", soft_wrap=True)
    if a.deactivate:
        table = Table("region", "deactivate it: console click-path", title=None, show_edge=False)
        for action in a.deactivate:
            table.add_row(action.region, action.how)
        console.print("  [yellow]STS active in regions not in use:[/]")
        console.print(table)
    for region in a.activate:
        console.print(
            f"  [red]{region} is in use but STS is deactivated there[/] (IAM console > Account settings "
            f"> Security Token Service (STS) > Endpoints > {region} > Activate)"
        )
    for region, why in a.unknown:
        console.print(f"  [yellow]unknown[/] {region}: {escape(why)}", soft_wrap=True)
    if a.clean:
        console.print("  [green]nothing to change[/]")


def commands() -> list[click.Command]:
    """The audit commands, for the lead to register in iamlayer.cli.commands."""
    return [audit_command, sts_regions_command]

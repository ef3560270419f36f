"""`iamlayer audit` (CIS IAM controls) and `iamlayer sts-regions` (STS hygiene), across accounts."""

from __future__ import annotations

import io
import json
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from iamlayer import api
from iamlayer.audit.controls import BENCHMARKS, DEFAULT_BENCHMARK
from iamlayer.audit.report import render_html, render_table, report_json
from iamlayer.audit.sts import StsAdvice, advice_json
from iamlayer.cli.common import (
    account_option,
    account_progress,
    console,
    err_console,
    json_option,
    load_spec_file,
    profile_option,
    selected_accounts,
    spec_option,
)
from iamlayer.files import write_atomic


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

    Each finding says PASS, FAIL, ERROR (could not check, with why), WARN (a weakness, not failed)
    or INFO (reported, not required), the resource, and the fix: the spec field to change where the spec can fix it. The
    report shows how old each account's credential report is (AWS regenerates it at most every 4
    hours). Organization-wide settings (centralized root access) are read once, in the management
    account, or in the people account when the spec names no management account.
    """
    spec = load_spec_file(spec_file)
    only = selected_accounts(spec, accounts)
    with account_progress("Auditing accounts", len(only or spec.accounts)) as step:
        done = api.run_audit(spec, credentials=profile, accounts=only, benchmark=benchmark, on_account=step)
    report, stats = done.report, done.stats
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
    spec = load_spec_file(spec_file)
    only = selected_accounts(spec, accounts)
    with account_progress("Probing STS endpoints", len(only or spec.accounts)) as step:
        results = api.sts_regions(
            spec,
            credentials=profile,
            accounts=only,
            set_token_version="v2" if set_token_version == "v2" else "v1" if set_token_version else None,
            on_account=step,
        )
    failed = [r.advice.account for r in results if r.token_version_error]
    if as_json:
        doc = [
            advice_json(r.advice)
            | {"token_version_changed": r.token_version_changed, "token_version_error": r.token_version_error}
            for r in results
        ]
        click.echo(json.dumps(doc, indent=2))
    else:
        print_sts_advice([(r.advice, r.token_version_changed, r.token_version_error) for r in results])
    if failed:
        # The exit code alone does not say why; the details are above (or in the JSON).
        err_console.print(
            f"[red]The token version could not be set in {len(failed)} account(s):[/] "
            f"{escape(', '.join(failed))} (why: under each account above).",
            soft_wrap=True,
        )
    return 1 if failed else 0


def print_sts_advice(advices: list[tuple[StsAdvice, str | None, str | None]]) -> None:
    """Each account's advice (with the token version change made or failed), then each console
    click-path once: an account lists the regions to turn off by the number of their path, where
    one row per region repeated the same path for every region of every account."""
    paths: dict[str, int] = {}
    for advice, changed, failed in advices:
        _print_advice(advice, changed, failed, paths)
    if paths:
        console.print(
            "\nHow to deactivate STS in a region (in the account's console; AWS has no API for it):"
        )
        for path, n in paths.items():
            console.print(f"  ({n}) {escape(path.format(region='<region>'))}", soft_wrap=True)


def _print_advice(a: StsAdvice, changed: str | None, failed: str | None, paths: dict[str, int]) -> None:
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
        console.print(f"  [yellow]STS active in {len(a.deactivate)} region(s) not in use:[/] deactivate")
        by_path: dict[str, list[str]] = {}
        for action in a.deactivate:
            by_path.setdefault(action.path or action.how, []).append(action.region)
        for path, regions in by_path.items():
            n = paths.setdefault(path, len(paths) + 1)
            console.print(f"    ({n}) {', '.join(regions)}")
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

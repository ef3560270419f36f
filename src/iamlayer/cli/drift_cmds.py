"""`iamlayer drift`: a plan and an audit in one run, for a scheduled CI job."""

from __future__ import annotations

import json
from pathlib import Path

import click

from iamlayer import __version__, api
from iamlayer.audit.controls import DEFAULT_BENCHMARK
from iamlayer.audit.report import render_table
from iamlayer.cli.common import (
    account_option,
    account_progress,
    console,
    err_console,
    load_spec_file,
    profile_option,
    selected_accounts,
    spec_option,
)
from iamlayer.drift import Drift, drift_json, drift_markdown, drift_sarif
from iamlayer.files import write_atomic
from iamlayer.plan.render import render_plan


@click.command("drift")
@spec_option
@profile_option
@account_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "markdown"]),
    default="text",
    show_default=True,
    help="text for people; json (the plan and audit documents); sarif (2.1.0, for code-scanning "
    "dashboards); markdown (for an issue or a chat).",
)
@click.option(
    "--output", "-o", type=click.Path(path_type=Path, dir_okay=False), help="Write the report here."
)
def drift_command(
    spec_file: Path, profile: str | None, accounts: tuple[str, ...], fmt: str, output: Path | None
) -> int:
    """Plan and audit in one run: has AWS drifted from the spec, and does any control FAIL?

    Exit 0: no drift and no FAIL; 2: a change is planned or a control FAILs; 1: an account could
    not be planned. Meant for a scheduled CI job (examples/ci/): a changed resource or a new FAIL
    turns the job red, and --format sarif feeds a code-scanning dashboard.
    """
    spec = load_spec_file(spec_file)
    only = selected_accounts(spec, accounts)
    err_console.print("[dim]planning[/]")
    plan = api.make_plan(spec, credentials=profile, accounts=only)
    with account_progress("Auditing accounts", len(only or spec.accounts)) as step:
        done = api.run_audit(
            spec, credentials=profile, accounts=only, benchmark=DEFAULT_BENCHMARK, on_account=step
        )
    d = Drift(plan, done.report, str(spec.path))
    if fmt == "text" and not output:
        console.print(render_plan(plan, detail=False), soft_wrap=True)
        render_table(done.report, console)
        console.print(f"\n[bold]{d.summary()}[/]")
        return d.exit_code
    if fmt == "json":
        text = json.dumps(drift_json(d, done.stats.as_json()), indent=2) + "\n"
    elif fmt == "sarif":
        text = json.dumps(drift_sarif(d, __version__), indent=2) + "\n"
    elif fmt == "markdown":
        text = drift_markdown(d)
    else:
        text = f"{d.summary()}\n"
    if output:
        write_atomic(output.expanduser(), text.encode("utf-8"))
        err_console.print(f"Wrote {output}: {d.summary()}.")
    else:
        click.echo(text, nl=False)
    return d.exit_code

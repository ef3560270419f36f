"""What every command shares: options, the console, error reporting and exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from iamlayer.errors import IamlayerError, SpecError, UserAbort

#: exit codes: 0 ok, 1 error, 2 invalid spec/usage (also "changes present" with --detailed-exitcode)
EXIT_OK, EXIT_ERROR, EXIT_INVALID = 0, 1, 2

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False)

spec_option = click.option(
    "-f",
    "--file",
    "spec_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default="iamlayer.yaml",
    show_default=True,
    help="The spec file.",
)
profile_option = click.option(
    "--profile",
    envvar="AWS_PROFILE",
    default=None,
    help="AWS profile for the operator's credentials (default: AWS_PROFILE, then the standard chain).",
)
#: The person's own credentials (mfa enable, whoami), not the operator's.
person_profile_option = click.option(
    "--profile",
    envvar="AWS_PROFILE",
    default=None,
    help="AWS profile with your own credentials, as the person you are (default: AWS_PROFILE, then "
    "the standard chain).",
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout (no secrets)."
)


def parse_duration_option(text: str) -> float:
    """Seconds of a duration as the spec writes them (30s, 5m, 1h); a usage error if not one."""
    from iamlayer.spec.backend_validate import DURATION_RULE, parse_duration

    seconds = parse_duration(text)
    if seconds is None:
        raise click.BadParameter(f"{text!r} is not a duration: {DURATION_RULE}")
    return seconds


#: Every command that writes to an account takes its lock; this waits for it instead of refusing.
lock_timeout_option = click.option(
    "--lock-timeout",
    default="0s",
    metavar="DURATION",
    callback=lambda _c, _p, v: parse_duration_option(v),
    help="Wait this long (30s, 5m, 1h) for an account another operator is writing to, instead of "
    "being refused at once.",
)


def run_guarded(cli: click.Group, args: list[str] | None = None) -> int:
    """Run the CLI, turning our errors into messages and exit codes instead of tracebacks."""
    try:
        rv: Any = cli.main(args=args, standalone_mode=False)
    except SpecError as exc:
        for d in exc.diagnostics:
            style = "red" if d.severity == "error" else "yellow"
            # Messages quote the spec (`write it as [ops]`): printed as text, never read as markup.
            err_console.print(f"[{style}]{escape(str(d))}[/]", soft_wrap=True)
        n = sum(1 for d in exc.diagnostics if d.severity == "error")
        err_console.print(f"[red]{n} error(s); nothing was applied.[/]")
        return EXIT_INVALID
    except UserAbort as exc:
        err_console.print(escape(str(exc)) or "Aborted; nothing was changed.")
        return EXIT_ERROR
    except IamlayerError as exc:
        err_console.print(f"[red]Error:[/] {escape(str(exc))}", soft_wrap=True)
        return EXIT_ERROR
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:
        # click turns Ctrl-C into Abort; the KeyboardInterrupt stays as its context.
        if isinstance(exc, KeyboardInterrupt) or isinstance(exc.__context__, KeyboardInterrupt):
            err_console.print("Interrupted. What was done stays done; run the command again to continue.")
            return 130
        err_console.print("Aborted.")
        return EXIT_ERROR
    except click.ClickException as exc:
        exc.show()
        return EXIT_INVALID if isinstance(exc, click.UsageError) else exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    return int(rv) if isinstance(rv, int) else EXIT_OK

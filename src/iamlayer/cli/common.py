"""What every command shares: options, the console, error reporting and exit codes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape

from iamlayer.errors import IamlayerError, SpecError, UserAbort

if TYPE_CHECKING:
    from iamlayer.spec.model import Spec

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
#: the commands that read accounts one by one (audit, sts-regions, drift)
account_option = click.option(
    "--account",
    "accounts",
    multiple=True,
    metavar="NAME",
    help="Only this account of the spec (repeatable; default: every account).",
)


def load_spec_file(spec_file: Path) -> Spec:
    """The spec, for commands that read AWS but write nothing of the people's (no key checks)."""
    from iamlayer.spec.load import load_spec

    return load_spec(spec_file, check_keys=False)


def selected_accounts(spec: Spec, accounts: Sequence[str]) -> list[str] | None:
    """`--account` values, checked against the spec and without repeats; None for every account."""
    unknown = [a for a in accounts if a not in spec.accounts]
    if unknown:
        raise click.BadParameter(
            f"{', '.join(unknown)} not in the spec; valid: {', '.join(spec.accounts)}", param_hint="--account"
        )
    return list(dict.fromkeys(accounts)) or None


@contextmanager
def account_progress(what: str, total: int) -> Iterator[Callable[[str], None]]:
    """A progress bar on stderr over the accounts (none for a single account); yields its step."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
        disable=total < 2,
    ) as progress:
        task = progress.add_task(what, total=total)
        yield lambda _account: progress.advance(task)


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

"""The `iamlayer` command: one group; each subcommand's module is imported only when it runs."""

from __future__ import annotations

import importlib
import sys

import click

from iamlayer import __version__
from iamlayer.cli.commands import COMMANDS
from iamlayer.cli.common import run_guarded


class LazyGroup(click.Group):
    """Lists the commands in the order a person uses them (iamlayer.cli.commands), and imports a
    command's module only to run it or show its own help: `iamlayer --help` imports none."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [e.name for e in COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = next((e for e in COMMANDS if e.name == cmd_name), None)
        if entry is None:
            return None
        command: click.Command = getattr(importlib.import_module(entry.module), entry.attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        width = formatter.width - 6 - max(len(e.name) for e in COMMANDS)
        rows = [
            (e.name, click.Command(e.name, help=e.short_help).get_short_help_str(width)) for e in COMMANDS
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="iamlayer")
def cli() -> None:
    """Your AWS identities layer as code.

    One YAML spec (iamlayer.yaml) describes IAM users, groups and policies in the people
    account, assumable roles in every account of the organization, account alias and password
    policy. iamlayer plans and applies it across all accounts, encrypts onboarding secrets to
    each person's PGP key, writes people's AWS CLI profiles and audits the result.

    \b
    Start here:
      iamlayer demo                 the whole flow against an embedded AWS emulator
      iamlayer init my-layer/       scaffold a layer, then: validate, plan, apply
    """


def main() -> None:
    sys.exit(run_guarded(cli))

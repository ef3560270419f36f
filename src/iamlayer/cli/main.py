"""The `iamlayer` command: one group, subcommands registered from the cli modules."""

from __future__ import annotations

import sys

import click

from iamlayer import __version__
from iamlayer.cli.common import run_guarded


class WorkflowOrder(click.Group):
    """Lists commands in the order a person uses them, not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(
    cls=WorkflowOrder, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
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


def _register() -> None:
    from iamlayer.cli import commands

    for command in commands.all_commands():
        cli.add_command(command)


_register()


def main() -> None:
    sys.exit(run_guarded(cli))

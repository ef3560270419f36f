"""Every subcommand, gathered in one place so the layout of the CLI reads at a glance."""

from __future__ import annotations

import click


def all_commands() -> list[click.Command]:
    from iamlayer.cli import core

    commands: list[click.Command] = [*core.commands()]
    return commands

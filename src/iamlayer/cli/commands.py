"""Every subcommand, gathered in one place so the layout of the CLI reads at a glance."""

from __future__ import annotations

import click


def all_commands() -> list[click.Command]:
    commands: list[click.Command] = []
    return commands

"""Every subcommand, gathered in one place so the layout of the CLI reads at a glance."""

from __future__ import annotations

import click


def all_commands() -> list[click.Command]:
    from iamlayer.cli import (
        access_cmds,
        audit_cmds,
        core,
        import_cmds,
        org_cmds,
        people,
        sandbox_cmds,
        secrets_cmds,
    )

    commands: list[click.Command] = [
        *core.commands(),  # init, validate, plan, apply, operator-policy
        *org_cmds.commands(),  # accounts discover
        *import_cmds.commands(),  # import aws, import terraform
        *secrets_cmds.commands(),  # outputs, decrypt, password reset, access-key rotate
        *people.commands(),  # onboard, credentials configure, mfa, exec, credential-process, whoami
        *audit_cmds.commands(),  # audit, sts-regions
        *access_cmds.commands(),  # access can, access who-can-assume
        *sandbox_cmds.commands(),  # sandbox, demo
    ]
    return commands

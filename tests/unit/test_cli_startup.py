"""Start-up: `iamlayer --help` and `validate` load only what they use (issue 13: --help imported
boto3 and every command module, 0.8 s). Checked by the modules a fresh interpreter has loaded,
which does not depend on how busy the machine is; the wall times are in bench/README.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
from spec_support import MINIMAL, write_spec

from iamlayer.cli.commands import COMMANDS
from iamlayer.cli.main import cli

HEAVY = ("boto3", "botocore", "pysequoia", "ruamel", "moto", "iamlayer.aws", "iamlayer.apply")


def loaded_after(code: str, cwd: Path) -> list[str]:
    """The modules loaded by a fresh interpreter after running `code`."""
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    r = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, check=True)
    modules: list[str] = json.loads(r.stdout.strip().splitlines()[-1])
    return modules


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]


def test_help_loads_no_command_module_and_no_aws_library(tmp_path: Path) -> None:
    modules = loaded_after(
        "from iamlayer.cli.main import cli\nfrom iamlayer.cli.common import run_guarded\n"
        "run_guarded(cli, ['--help'])",
        tmp_path,
    )
    assert heavy(modules) == []
    assert [m for m in modules if m.startswith("iamlayer.cli.") and m not in (
        "iamlayer.cli.main", "iamlayer.cli.common", "iamlayer.cli.commands"
    )] == []  # fmt: skip


def test_import_iamlayer_loads_nothing_until_used(tmp_path: Path) -> None:
    modules = loaded_after("import iamlayer", tmp_path)
    assert [m for m in modules if m.startswith("iamlayer")] == ["iamlayer", "iamlayer._lazy"]


def test_validate_does_not_load_boto3(tmp_path: Path) -> None:
    write_spec(tmp_path, MINIMAL + "users:\n  ann: {pgp_key: keys/ann}\n", keys=["ann"])
    modules = loaded_after(
        "from iamlayer.cli.main import cli\nfrom iamlayer.cli.common import run_guarded\n"
        "assert run_guarded(cli, ['validate']) == 0",
        tmp_path,
    )
    assert [m for m in heavy(modules) if m.split(".")[0] != "pysequoia"] == []  # keys are checked


def test_the_command_table_says_what_each_command_says() -> None:
    """--help lists the commands from iamlayer.cli.commands without importing them: each line
    there must be the command's own one-line help, under its own name."""
    ctx = click.Context(cli)
    for entry in COMMANDS:
        command = cli.get_command(ctx, entry.name)
        assert command is not None and command.name == entry.name
        assert entry.short_help == command.get_short_help_str(limit=1000), entry.name
    assert cli.list_commands(ctx) == [e.name for e in COMMANDS]
    assert cli.get_command(ctx, "no-such-command") is None


def test_offline_access_does_not_load_boto3(tmp_path: Path) -> None:
    """`iamlayer access` answers from the spec without the AWS SDK (only --live reads AWS)."""
    from spec_support import FIXTURES

    (tmp_path / "iamlayer.yaml").write_text((FIXTURES / "design_example.yaml").read_text())
    modules = loaded_after(
        "from iamlayer.cli.main import cli\nfrom iamlayer.cli.common import run_guarded\n"
        "assert run_guarded(cli, ['access', 'who-can-assume', 'Auditor', '--account', 'security']) == 0",
        tmp_path,
    )
    assert heavy(modules) == []

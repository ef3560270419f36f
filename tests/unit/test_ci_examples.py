"""The CI examples (examples/ci/) run only commands and options the CLI has, with valid values:
a rename of a command or flag breaks this test, not a team's pipeline."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from ruamel.yaml import YAML

from iamlayer.cli.main import cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ci"
SHELL_OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<", "2>", "&"}


def scripts(node: Any) -> Iterator[str]:
    """Every shell script in a workflow: GitHub's `run:`, GitLab's `script:` / `before_script:`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "run" and isinstance(value, str):
                yield value
            elif key in ("script", "before_script") and isinstance(value, list):
                yield from (str(v) for v in value)
            else:
                yield from scripts(value)
    elif isinstance(node, list):
        for item in node:
            yield from scripts(item)


def invocations(script: str) -> Iterator[list[str]]:
    """The argument lists of each `iamlayer ...` in a script (up to a pipe, redirection or `||`)."""
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;<>")
        lexer.whitespace_split = True
        tokens = list(lexer)
        for i, tok in enumerate(tokens):
            if tok == "iamlayer" and (
                i == 0 or tokens[i - 1] in SHELL_OPERATORS or tokens[i - 1] in ("then", "do")
            ):
                args: list[str] = []
                for t in tokens[i + 1 :]:
                    if t in SHELL_OPERATORS or t.startswith((">", "|", "&", ";")):
                        break
                    args.append(t)
                yield args


def example_invocations() -> list[tuple[str, list[str]]]:
    found = []
    for path in sorted(EXAMPLES.rglob("*.yml")):
        doc = YAML(typ="safe").load(path.read_text())
        for script in scripts(doc):
            found += [
                (f"{path.relative_to(EXAMPLES)}: iamlayer {' '.join(a)}", a) for a in invocations(script)
            ]
    return found


def check(args: list[str]) -> None:
    """Resolve the (sub)command and check every option it is given, and each choice's value."""
    ctx = click.Context(cli)
    command: click.Command = cli
    rest = list(args)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.get_command(ctx, rest[0])
        assert sub is not None, f"no command {rest[0]!r}"
        command, rest = sub, rest[1:]
    if isinstance(command, click.Group):  # run as a command only where the group allows it
        assert command.invoke_without_command, f"{args}: a group, not a command"
    options = {
        o: p for p in command.params if isinstance(p, click.Option) for o in (*p.opts, *p.secondary_opts)
    }
    i = 0
    while i < len(rest):
        tok = rest[i]
        if tok.startswith("-"):
            name, eq, value = tok.partition("=")
            assert name in options, f"{command.name} has no option {name}; it has {sorted(options)}"
            param = options[name]
            if not param.is_flag and not eq:
                i += 1
                assert i < len(rest), f"{name} needs a value"
                value = rest[i]
            if isinstance(param.type, click.Choice):
                assert value in param.type.choices, f"{name} {value!r}: valid {param.type.choices}"
        i += 1


CASES = example_invocations()


def test_the_examples_exist_and_use_iamlayer() -> None:
    names = {p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*.yml")}
    assert names == {
        "github/iamlayer-plan.yml",
        "github/iamlayer-apply.yml",
        "github/iamlayer-drift.yml",
        "gitlab/.gitlab-ci.yml",
    }
    commands = {" ".join(a[:1]) for _, a in CASES}
    assert {"validate", "plan", "apply", "drift"} <= commands


@pytest.mark.parametrize(("where", "args"), CASES, ids=[w for w, _ in CASES])
def test_every_command_in_the_ci_examples_exists_with_those_options(where: str, args: list[str]) -> None:
    check(args)


def test_the_check_catches_a_renamed_flag_and_a_bad_value() -> None:
    with pytest.raises(AssertionError, match="no option --out-file"):
        check(["plan", "--out-file", "plan.json"])
    with pytest.raises(AssertionError, match="'yaml'"):
        check(["plan", "--format", "yaml"])
    with pytest.raises(AssertionError, match="no command"):
        check(["plna"])

"""Load `iamlayer.yaml` into a validated `Spec`, or report every problem in it at once.

    load_spec(path)                  -> Spec, or SpecError carrying every Diagnostic
    load_spec_with_warnings(path)    -> (Spec, warnings)

Problems are located by file, 1-based line and key path (`users.jane.doe.groups[0]`), with a
hint: valid values, a did-you-mean, or the command that fixes it. Warnings (lint, run once the
spec is valid) never fail a load. Diagnostics come in line order.
"""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from iamlayer.errors import Diagnostic, SpecError
from iamlayer.spec.lint import lint
from iamlayer.spec.model import Spec
from iamlayer.spec.nodes import Node, Reader
from iamlayer.spec.validate import ENTRY_FIELDS, SpecBuilder

DEFAULT_SPEC_FILE = "iamlayer.yaml"


def load_spec(path: Path, *, check_keys: bool = True) -> Spec:
    """The validated spec at `path`; raises SpecError listing every problem.

    With `check_keys`, each user's PGP key file must exist and hold a usable encryption key
    (iamlayer.secrets.keys.load_public_key); without it, key files are not looked at (what a
    person's own commands need: they have the spec, not everyone's keys).
    """
    spec, _ = load_spec_with_warnings(path, check_keys=check_keys)
    return spec


def load_spec_with_warnings(path: Path, *, check_keys: bool = True) -> tuple[Spec, list[Diagnostic]]:
    """As `load_spec`, also returning the lint warnings of a valid spec."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(
            [
                Diagnostic(
                    file,
                    None,
                    "",
                    "spec file not found",
                    f"looked for {Path(path).absolute()}; run iamlayer in a layer folder, create one "
                    "with: iamlayer init DIR, or name the spec with -f/--file FILE",
                )
            ]
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError([Diagnostic(file, None, "", f"cannot read the spec: {e}")]) from e

    data = parse_yaml(text, file)
    if data is None:
        raise SpecError(
            [Diagnostic(file, 1, "", "the spec is empty", "see iamlayer init for a commented example")]
        )

    reader = Reader(file, ENTRY_FIELDS)
    spec = SpecBuilder(reader, Path(path), check_keys=check_keys).build(Node(data, "", 1))
    if spec is not None and not reader.has_errors:
        lint(spec, reader)
    diagnostics = sorted(reader.diagnostics, key=lambda d: (d.line or 0, d.severity != "error"))
    if spec is None or reader.has_errors:
        raise SpecError(diagnostics)
    return spec, diagnostics


def parse_yaml(text: str, file: str) -> object:
    """The round-trip YAML tree of `text` (it keeps line numbers); syntax errors raise SpecError."""
    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(p for p in (e.problem, e.context) if p) or "invalid YAML"
        hint = (
            "a key may appear only once in a mapping"
            if "duplicate key" in problem
            else "check indentation, quotes and brackets on this line or the one before"
        )
        raise SpecError([Diagnostic(file, line, "", f"YAML syntax error: {problem}", hint)]) from None
    except YAMLError as e:
        raise SpecError([Diagnostic(file, None, "", f"YAML syntax error: {e}")]) from None

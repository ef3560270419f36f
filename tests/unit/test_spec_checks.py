"""`checks:` in the spec: its shape (validation, file:line, did-you-mean), its evaluation against
what iamlayer renders, and what `validate` and `plan` do with a check that fails."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from spec_support import FIXTURES, line_of, load_errors, only, write_spec

from iamlayer.access.checks import evaluate_checks
from iamlayer.cli.common import run_guarded
from iamlayer.cli.main import cli
from iamlayer.errors import SpecError
from iamlayer.spec.load import load_spec
from iamlayer.spec.model import Check
from iamlayer.spec.scaffold import _template, scaffold

NOW = datetime(2026, 6, 1, tzinfo=UTC)
VIEW_ONLY = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"


def design(tmp_path: Path, checks: str) -> Path:
    """The DESIGN.md example with `checks` appended."""
    text = (FIXTURES / "design_example.yaml").read_text() + "checks:\n" + checks
    return write_spec(tmp_path, text, keys=["jane.doe", "machine.infra"])


# --- shape ------------------------------------------------------------------------------------------


def test_checks_load_with_their_lines(tmp_path: Path) -> None:
    path = design(
        tmp_path,
        """\
  - {who: jane.doe, can: sts:AssumeRole, on: role/DevOps@apps-prd, mfa: true}
  - {who: "*", cannot: sts:AssumeRole, on: role/DevOps@*, mfa: false}
  - {who: group/auditors, cannot: "iam:CreateUser", on: "*"}
  - {who: jane.doe, cannot: sts:AssumeRole, on: "arn:aws:iam::555555555555:role/DevOps", mfa_age: 50000}
""",
    )
    spec = load_spec(path, check_keys=False)
    line = line_of(path, "role/DevOps@apps-prd")
    assert spec.checks == (
        Check("jane.doe", True, "sts:AssumeRole", "role/DevOps@apps-prd", True, None, line, "checks[0]"),
        Check("*", False, "sts:AssumeRole", "role/DevOps@*", False, None, line + 1, "checks[1]"),
        Check("group/auditors", False, "iam:CreateUser", "*", None, None, line + 2, "checks[2]"),
        Check(
            "jane.doe",
            False,
            "sts:AssumeRole",
            "arn:aws:iam::555555555555:role/DevOps",
            None,
            50000,
            line + 3,
            "checks[3]",
        ),
    )


SHAPE_ROWS = [
    # (check, key, message, hint)
    (
        "{who: jane.doe, can: sts:AssumeRole, cannot: sts:AssumeRole, on: '*'}",
        "checks[0]",
        "a check has one of can: and cannot:",
        None,
    ),
    ("{who: jane.doe, on: '*'}", "checks[0]", "a check needs can: or cannot:", None),
    ("{can: sts:AssumeRole, on: '*'}", "checks[0].who", "missing required field 'who'", None),
    ("{who: jane.doe, can: sts:AssumeRole}", "checks[0].on", "missing required field 'on'", None),
    (
        "{who: jane.do, can: sts:AssumeRole, on: '*'}",
        "checks[0].who",
        "unknown user 'jane.do'",
        "did you mean 'jane.doe'?",
    ),
    (
        "{who: group/devop, can: sts:AssumeRole, on: '*'}",
        "checks[0].who",
        "unknown group 'devop'",
        "did you mean 'group/devops'?",
    ),
    (
        "{who: jane.doe, can: 'sts:Assume*', on: '*'}",
        "checks[0].can",
        "invalid checks[0].can 'sts:Assume*'",
        "service:Action without wildcards",
    ),
    (
        "{who: jane.doe, can: sts:AssumeRole, on: role/DevOp@apps-prd}",
        "checks[0].on",
        "unknown role 'DevOp'",
        "did you mean 'role/DevOps@apps-prd'?",
    ),
    (
        "{who: jane.doe, can: sts:AssumeRole, on: role/DevOps@apps-prod}",
        "checks[0].on",
        "unknown account 'apps-prod'",
        "did you mean 'apps-prd'?",
    ),
    (
        "{who: jane.doe, can: sts:AssumeRole, on: role/DevOps@management}",
        "checks[0].on",
        "role DevOps is not in account management",
        "it is in: shared, apps-devstg, apps-prd",
    ),
    (
        "{who: jane.doe, can: sts:AssumeRole, on: DevOps}",
        "checks[0].on",
        "invalid on: 'DevOps'",
        "role/<name>@<account>",
    ),
    (
        "{who: jane.doe, can: sts:AssumeRole, on: 'arn:aws:iam::555555555555:role/DevOpz'}",
        "checks[0].on",
        "unknown role 'DevOpz'",
        "did you mean 'DevOps'?",
    ),
    (
        "{who: jane.doe, can: sts:AssumeRole, on: 'arn:aws:iam::111111111111:role/DevOps'}",
        "checks[0].on",
        "is not the ARN of a role of the layer",
        "role DevOps is in: shared, apps-devstg, apps-prd",
    ),
    (
        "{who: jane.doe, can: sts:AssumeRole, on: '*', mfa: 'yes'}",
        "checks[0].mfa",
        "must be true or false",
        None,
    ),
    (
        "{who: jane.doe, can: sts:AssumeRole, on: '*', mfa: false, mfa_age: 60}",
        "checks[0].mfa_age",
        "but this check says mfa: false",
        None,
    ),
    (
        "{who: jane.doe, can: sts:AssumeRole, on: '*', mfa_age: -1}",
        "checks[0].mfa_age",
        "must be in >= 0",
        None,
    ),
    (
        "{who: jane.doe, can: sts:AssumeRole, on: '*', mfa_ag: 60}",
        "checks[0].mfa_ag",
        "unknown field 'mfa_ag'",
        "did you mean 'mfa_age'?",
    ),
]


@pytest.mark.parametrize(("check", "key", "message", "hint"), SHAPE_ROWS, ids=[r[2] for r in SHAPE_ROWS])
def test_shape_errors(tmp_path: Path, check: str, key: str, message: str, hint: str | None) -> None:
    path = design(tmp_path, f"  - {check}\n")
    d = only(load_errors(path), key)
    assert d.line == line_of(path, "  - {")
    assert message in d.message
    if hint:
        assert hint in (d.hint or "")


def test_checks_must_be_a_list(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        (FIXTURES / "design_example.yaml").read_text() + "checks: {who: jane.doe}\n",
        keys=["jane.doe", "machine.infra"],
    )
    assert "must be a list of checks" in only(load_errors(path), "checks").message


# --- evaluation -------------------------------------------------------------------------------------


def test_a_failing_check_is_an_error_at_its_line_naming_the_deciding_statement(tmp_path: Path) -> None:
    path = design(
        tmp_path,
        """\
  - {who: jane.doe, can: sts:AssumeRole, on: role/DevOps@apps-prd, mfa: true}
  - {who: jane.doe, can: sts:AssumeRole, on: role/DevOps@apps-prd, mfa: false}
""",
    )
    report = evaluate_checks(load_spec(path, check_keys=False), now=NOW)
    assert [r.holds for r in report.results] == [True, False]
    with pytest.raises(SpecError) as info:
        report.raise_for_failures()
    (d,) = info.value.diagnostics
    assert (d.line, d.key, d.severity) == (line_of(path, "mfa: false}"), "checks[1]", "error")
    assert d.message.startswith(
        "check {who: jane.doe, can: sts:AssumeRole, on: role/DevOps@apps-prd, mfa: false} does not hold: "
        "jane.doe cannot sts:AssumeRole on role DevOps in apps-prd without MFA (long-term access key): "
        "explicitly denied by group devops / inline self-management, statement 5 (DenyAllExceptListedIfNoMFA), Deny"
    )
    assert "condition Bool aws:MultiFactorAuthPresent = true not met (value: absent)" in d.message
    assert "and 1 more: jane.doe on role DevOps in apps-prd without MFA (a session" in d.message


def test_group_checks_cover_the_groups_own_policies_and_every_member(tmp_path: Path) -> None:
    path = design(tmp_path, "  - {who: group/auditors, can: sts:AssumeRole, on: role/Auditor@*}\n")
    (result,) = evaluate_checks(load_spec(path, check_keys=False), now=NOW).results
    assert result.holds is True
    # a member of auditors alone and machine.ci, in 5 accounts, with a key, a session and MFA
    assert result.requests == 2 * 5 * 3


def test_cannot_on_every_resource_fails_if_allowed_on_some(tmp_path: Path) -> None:
    path = design(tmp_path, "  - {who: machine.ci, cannot: sts:AssumeRole, on: '*'}\n")
    (result,) = evaluate_checks(load_spec(path, check_keys=False), now=NOW).results
    assert result.holds is False
    assert "allowed by group auditors / inline assume-roles, statement 0 (AssumeLayerRoles), Allow" in (
        result.failures[0].describe(result.check)
    )


def test_a_check_that_depends_on_an_aws_managed_policy_is_a_warning_until_it_is_known(tmp_path: Path) -> None:
    path = design(tmp_path, "  - {who: group/finops, cannot: ec2:TerminateInstances, on: '*'}\n")
    spec = load_spec(path, check_keys=False)
    report = evaluate_checks(spec, now=NOW)
    (w,) = report.raise_for_failures()
    assert w.severity == "warning" and w.line == line_of(path, "group/finops")
    assert f"cannot be decided offline: it depends on {VIEW_ONLY}" in w.message
    assert report.unknown_policies() == {VIEW_ONLY}
    read_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
    }
    assert evaluate_checks(spec, now=NOW, managed={VIEW_ONLY: read_only}).raise_for_failures() == []
    too_much = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}],
    }
    with pytest.raises(SpecError, match=f"allowed by group finops / managed {VIEW_ONLY}, statement 0, Allow"):
        evaluate_checks(spec, now=NOW, managed={VIEW_ONLY: too_much}).raise_for_failures()


# --- validate and plan ------------------------------------------------------------------------------


def test_validate_fails_with_exit_2_and_plan_before_any_aws_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = design(tmp_path, "  - {who: '*', can: iam:CreateUser, on: '*'}\n")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing answers there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    for command in (["validate"], ["plan"]):
        assert run_guarded(cli, [*command, "-f", str(path)]) == 2
        err = capsys.readouterr().err
        assert f"{path.resolve()}:{line_of(path, 'can: iam:CreateUser')}: error: checks[0]" in err
        assert "cannot reach" not in err  # plan stopped before connecting
    assert run_guarded(cli, ["validate", "-f", str(path), "--json"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert data["valid"] is False and data["diagnostics"][0]["key"] == "checks[0]"


def test_validate_shows_undecided_checks_as_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = design(tmp_path, "  - {who: group/finops, cannot: ec2:TerminateInstances, on: '*'}\n")
    assert run_guarded(cli, ["validate", "-f", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "1 access check(s)" in out
    assert f":{line_of(path, 'group/finops')}: warning: checks[0]: check" in err
    assert f"cannot be decided offline: it depends on {VIEW_ONLY}" in " ".join(err.split())


# --- the checks `init` writes -----------------------------------------------------------------------


@pytest.fixture
def scaffolded(tmp_path: Path) -> Path:
    """The spec `iamlayer init` writes with its example users, beside empty key files (not read:
    check_keys=False), without the seconds it takes to generate the example keys."""
    scaffold(tmp_path, example_keys=False)
    (tmp_path / "keys").mkdir(exist_ok=True)
    for name in ("jane.doe", "machine.infra"):
        (tmp_path / "keys" / name).write_text("")
    (tmp_path / "iamlayer.yaml").write_bytes(_template("iamlayer.yaml", example_keys=True))
    return tmp_path / "iamlayer.yaml"


def test_the_init_template_states_its_intent_as_checks_that_hold(scaffolded: Path) -> None:
    spec = load_spec(scaffolded, check_keys=False)
    assert len(spec.checks) >= 4
    report = evaluate_checks(spec, now=NOW)
    assert [r.check.path for r in report.results if r.holds is not True] == []
    whos = {(c.who, c.on, c.mfa) for c in spec.checks if not c.can}
    assert ("*", "role/DevOps@*", False) in whos  # no one reaches DevOps without MFA
    assert any(
        c.who == "group/auditors" and not c.can and c.on == "*" for c in spec.checks
    )  # auditors write nothing


def test_the_init_checks_catch_devops_without_mfa(scaffolded: Path) -> None:
    """Without the trust policy's MFA condition and the self-management Deny, anyone in devops
    reaches DevOps without MFA: the template's first check must say so."""
    text = scaffolded.read_text()
    text = text.replace(
        "    mfa_max_age: 43200                     # an MFA session up to 12 hours old is accepted\n", ""
    )
    text = text.replace(
        "    assume: [DevOps]\n    self_management: enforce_mfa",
        "    assume: [DevOps]\n    self_management: none",
    )
    scaffolded.write_text(text)
    with pytest.raises(SpecError) as info:
        evaluate_checks(load_spec(scaffolded, check_keys=False), now=NOW).raise_for_failures()
    first = info.value.diagnostics[0]
    assert first.key == "checks[0]"
    assert (
        "jane.doe can sts:AssumeRole on role DevOps in shared without MFA (long-term access key)"
        in first.message
    )
    assert "trust policy of DevOps in shared, statement 0, Allow" in first.message

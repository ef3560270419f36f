"""`iamlayer access can` and `who-can-assume`, offline (nothing touches AWS), through click as a
person runs them, and once in a subprocess."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from spec_support import FIXTURES

from iamlayer.cli.access_cmds import EXIT_DENY, EXIT_UNCERTAIN
from iamlayer.cli.common import run_guarded
from iamlayer.cli.main import cli
from layer import run_cli

DEVOPS_PRD = "arn:aws:iam::555555555555:role/DevOps"


@pytest.fixture
def layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(FIXTURES / "design_example.yaml", tmp_path / "iamlayer.yaml")
    (tmp_path / "keys").mkdir()
    for name in ("jane.doe", "machine.infra"):
        (tmp_path / "keys" / name).write_text("")  # `access` does not read keys
    monkeypatch.chdir(tmp_path)
    # Offline means offline: no endpoint or credentials could be used even by mistake.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    for k in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(k, raising=False)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run_guarded(cli, ["access", *args])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, *args, "--json")
    assert code in (0, EXIT_DENY, EXIT_UNCERTAIN), err
    return code, json.loads(out)


def test_allow_with_mfa_names_the_statements(layer: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "can", "jane.doe", "sts:AssumeRole", DEVOPS_PRD, "--mfa")
    assert code == 0
    assert out.splitlines()[:3] == [
        "ALLOW: jane.doe may sts:AssumeRole on role DevOps in apps-prd with MFA (0 s old)",
        "  allowed by group devops / inline assume-roles, statement 0 (AssumeLayerRoles), Allow",
        "  allowed by trust policy of DevOps in apps-prd, statement 0, Allow",
    ]
    assert "evaluated offline from iamlayer.yaml" in out


def test_deny_says_which_condition_failed(layer: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "can", "jane.doe", "sts:AssumeRole", "role/DevOps@apps-prd", "--mfa-age", "50000"
    )
    assert code == EXIT_DENY
    assert (
        out.splitlines()[0]
        == "DENY: jane.doe may not sts:AssumeRole on role DevOps in apps-prd with MFA (50000 s old)"
    )
    assert (
        "  near miss: trust policy of DevOps in apps-prd, statement 0: condition NumericLessThan "
        "aws:MultiFactorAuthAge < 43200 not met (value: 50000)"
    ) in out.splitlines()


def test_without_mfa_the_default_shows_what_mfa_would_change(
    layer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "can", "jane.doe", "sts:AssumeRole", "role/DevOps@apps-prd")
    assert code == EXIT_DENY
    assert "without MFA (long-term access key)" in out.splitlines()[0]
    assert "condition Bool aws:MultiFactorAuthPresent = true not met (value: absent)" in out
    assert "  with --mfa: ALLOW" in out.splitlines()
    code, out, _ = run(capsys, "can", "jane.doe", "sts:AssumeRole", "role/DevOps@apps-prd", "--session")
    assert code == EXIT_DENY
    assert "(value: false)" in out


def test_json_contract(layer: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "can", "jane.doe", "sts:AssumeRole", DEVOPS_PRD, "--mfa")
    assert code == 0
    assert data["decision"] == "allow" and data["kind"] == "allow" and data["certain"] is True
    assert data["deciding_statements"][0] == {
        "policy": "group devops / inline assume-roles",
        "statement": 0,
        "sid": "AssumeLayerRoles",
        "effect": "Allow",
    }
    assert (data["user_arn"], data["resource"], data["source"]) == (
        "arn:aws:iam::222222222222:user/jane.doe",
        DEVOPS_PRD,
        "spec",
    )
    assert data["signing"] == {"credential": "mfa", "mfa_age": 0}
    assert data["stats"]["total"] == 0  # offline: no AWS call at all
    code, data = run_json(capsys, "can", "jane.doe", "sts:AssumeRole", DEVOPS_PRD, "--no-mfa")
    assert code == EXIT_DENY and data["decision"] == "deny" and data["kind"] == "explicit_deny"
    assert data["deciding_statements"][0]["sid"] == "DenyAllExceptListedIfNoMFA"


def test_uncertain_when_an_aws_managed_policy_could_change_it(
    layer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (layer / "iamlayer.yaml").read_text()
    (layer / "iamlayer.yaml").write_text(text.replace("groups: [devops]}", "groups: [devops, finops]}"))
    code, data = run_json(
        capsys, "can", "jane.doe", "s3:GetObject", "arn:aws:s3:::acme-reports/q1.csv", "--mfa"
    )
    assert code == EXIT_UNCERTAIN
    assert data["decision"] == "allow" and data["certain"] is False
    assert data["unknown_policies"] == ["arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"]


def test_every_resource(layer: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "can", "machine.ci", "sts:AssumeRole", "*")
    # assume-roles names the Auditor roles only: not every resource, but some
    assert code == EXIT_DENY and data["on_some_resources"] is True
    code, out, _ = run(capsys, "can", "machine.ci", "iam:CreateUser", "*")
    assert code == EXIT_DENY and "it is allowed on some resources" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["can", "jane.do", "sts:AssumeRole", "*"],
            "no user 'jane.do' in the people account; did you mean 'jane.doe'?",
        ),
        (
            ["can", "jane.doe", "sts:AssumeRole", "role/DevOp@apps-prd"],
            "no role 'DevOp'; did you mean 'DevOps'?",
        ),
        (
            ["can", "jane.doe", "sts:AssumeRole", "role/DevOps@apps-prod"],
            "no account 'apps-prod' in the spec; did you mean 'apps-prd'?",
        ),
        (
            ["can", "jane.doe", "sts:AssumeRole", "role/DevOps@management"],
            "role DevOps is not in account management; it is in: shared, apps-devstg, apps-prd",
        ),
        (
            ["can", "jane.doe", "sts:AssumeRole", "arn:aws:iam::555555555555:role/DevOpz"],
            "did you mean 'DevOps'?",
        ),
        (
            ["can", "jane.doe", "sts:AssumeRole", "arn:aws:iam::555555555555:role/ops/DevOps"],
            "is not the ARN of role DevOps in apps-prd: arn:aws:iam::555555555555:role/DevOps",
        ),
        (["can", "jane.doe", "iam:Create*", "*"], "is not an action"),
        (["can", "jane.doe", "iam:CreateUser", "bucket"], "is not a resource"),
        (["can", "jane.doe", "iam:CreateUser", "*", "--no-mfa", "--mfa-age", "5"], "--mfa-age needs MFA"),
        (["who-can-assume", "DevOp"], "no role 'DevOp'; did you mean 'DevOps'?"),
        (["who-can-assume", "DevOps"], "choose one with --account"),
        (["who-can-assume", "DevOps", "--account", "apps-prod"], "did you mean 'apps-prd'?"),
        (["who-can-assume", "DevOps", "--account", "security"], "role DevOps is not in account security"),
    ],
)
def test_usage_errors_exit_2_with_a_did_you_mean(
    layer: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run(capsys, *args)
    assert code == 2
    assert message in " ".join(err.split())


def test_who_can_assume(layer: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "who-can-assume", "DevOps", "--account", "apps-prd")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"Who can assume DevOps in apps-prd ({DEVOPS_PRD}):"
    assert "  group devops: MFA, MFA at most 43199 s old" in lines
    assert "  user jane.doe (groups: devops): MFA, MFA at most 43199 s old" in lines
    assert "  group finops: not by the known policies (uncertain)" in lines
    assert "  cannot: machine.ci" in lines
    code, data = run_json(capsys, "who-can-assume", "Auditor", "--account", "security")
    assert (
        code == 0
        and data["source"] == "spec"
        and data["role_arn"] == "arn:aws:iam::222222222222:role/Auditor"
    )
    ci = next(u for u in data["users"] if u["name"] == "machine.ci")
    assert (ci["requires_mfa"], ci["with_access_key"], ci["conditions"]) == (False, True, ["no MFA needed"])
    assert data["cannot"] == ["jane.doe"]


def test_in_a_subprocess_as_a_person_runs_it(layer: Path) -> None:
    r = run_cli(
        "access", "can", "jane.doe", "sts:AssumeRole", "role/DevOps@apps-prd", "--mfa", "--json", cwd=layer
    )
    assert r.code == 0, r.err
    assert r.json()["decision"] == "allow"
    r = run_cli("access", "can", "--help", cwd=layer)
    assert "0 ALLOW, 3 DENY, 4 UNCERTAIN" in " ".join(r.out.split())


def test_context_keys_can_be_added(layer: Path, capsys: pytest.CaptureFixture[str]) -> None:
    org_only = (
        'devops:   {assume: [DevOps], self_management: enforce_mfa, inline_policies: {org: {Version: "2012-10-17", '
        'Statement: [{Effect: Allow, Action: "s3:ListAllMyBuckets", Resource: "*", '
        'Condition: {StringEquals: {"aws:PrincipalOrgID": "o-abc"}}}]}}}'
    )
    text = (layer / "iamlayer.yaml").read_text()
    (layer / "iamlayer.yaml").write_text(
        text.replace("devops:   {assume: [DevOps], self_management: enforce_mfa}", org_only)
    )
    # The organization's id is not in the spec: an Allow that depends on it is uncertain (issue 22).
    code, out, _ = run(capsys, "can", "jane.doe", "s3:ListAllMyBuckets", "*", "--mfa")
    assert code == EXIT_UNCERTAIN
    assert "uncertain: the answer depends on aws:PrincipalOrgID" in out
    assert "undecided: group devops / inline org, statement 0: condition StringEquals" in out
    code, out, _ = run(
        capsys,
        "can",
        "jane.doe",
        "s3:ListAllMyBuckets",
        "*",
        "--mfa",
        "--context",
        "aws:PrincipalOrgID=o-abc",
    )
    assert code == 0, out
    assert "allowed by group devops / inline org, statement 0, Allow" in out
    code, _, err = run(capsys, "can", "jane.doe", "s3:ListAllMyBuckets", "*", "--context", "o-abc")
    assert code == 2 and "write KEY=VALUE" in err

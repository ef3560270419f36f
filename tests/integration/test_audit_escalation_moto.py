"""IL-4 end to end (issue 22): an escalation granted on named resources, seeded in the emulator
(moto server over HTTP, in an account of its own reached by AssumeRole) and found by
`iamlayer audit --format json` as a person runs it, with the first section and the folded list.

moto enforces no IAM policy: what is asserted is what iamlayer's evaluator decides from what the
audit read (GetAccountAuthorizationDetails and the attached AWS-managed policies).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest

from iamlayer.cli.audit_cmds import commands
from iamlayer.cli.common import run_guarded
from layer import fresh_account_ids, session_in

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _trust(principal: dict[str, str]) -> str:
    return _doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})


def test_a_named_resource_escalation_is_found_end_to_end(
    aws_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [acct] = fresh_account_ids(1)
    iam = session_in(acct).client("iam")
    role_arn = f"arn:aws:iam::{acct}:role/Worker"
    iam.create_role(RoleName="Worker", AssumeRolePolicyDocument=_trust({"Service": "lambda.amazonaws.com"}))
    iam.attach_role_policy(RoleName="Worker", PolicyArn=ADMIN)
    deploy = iam.create_policy(
        PolicyName="deploy",
        PolicyDocument=_doc(
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role_arn,
             "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}},
            {"Effect": "Allow", "Action": ["lambda:CreateFunction", "lambda:InvokeFunction"],
             "Resource": f"arn:aws:lambda:us-east-1:{acct}:function:deploy-*"},
        ),
    )["Policy"]["Arn"]  # fmt: skip
    iam.create_group(GroupName="deployers")
    iam.attach_group_policy(GroupName="deployers", PolicyArn=deploy)
    iam.create_user(UserName="ci")
    iam.add_user_to_group(GroupName="deployers", UserName="ci")
    # May attach any policy to any role, but can neither pass nor assume one: no escalation.
    iam.create_user(UserName="attacher")
    iam.put_user_policy(
        UserName="attacher",
        PolicyName="attach",
        PolicyDocument=_doc({"Effect": "Allow", "Action": "iam:AttachRolePolicy", "Resource": "*"}),
    )
    spec = tmp_path / "iamlayer.yaml"
    spec.write_text(
        "project: acme\nproject_long: acme-corp\nregion: us-east-1\n"
        f'accounts:\n  security: {{id: "123456789012"}}\n  apps: {{id: "{acct}"}}\n'
        "people_account: security\n"
    )
    group = click.Group("iamlayer", commands={c.name or "": c for c in commands()})
    code = run_guarded(group, ["audit", "-f", str(spec), "--account", "apps", "--format", "json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    il4 = {f["resource"]: f for f in doc["findings"] if f["control"] == "privilege-escalation"}
    ci = il4["user/ci"]
    assert ci["control_id"] == "IL-4" and ci["status"] == "FAIL" and ci["severity"] == "critical"
    assert ci["detail"].startswith("can escalate: PassRole+Lambda role/Worker")
    assert "group deployers / attached deploy" in ci["detail"] and ci["detail"].endswith("admin: role/Worker")
    assert ci["evidence"]["source"] == "user/ci" and ci["evidence"]["reaches"] == "role/Worker"
    [step] = ci["evidence"]["steps"]
    assert [s["action"] for s in step["steps"]] == [
        "iam:PassRole",
        "lambda:CreateFunction",
        "lambda:InvokeFunction",
    ]
    assert "user/attacher" not in il4
    admins = {r["source"]: r for r in doc["admins"] if r["account"] == "apps"}
    assert admins["role/Worker"]["how"] == "direct" and admins["user/ci"]["how"] == "escalation"
    assert "user/attacher" not in admins
    # Folded, most severe first: the escalation is among the critical entries (with moto's root
    # user without MFA, 1.5), before anything less severe.
    ranks = {"critical": 0, "high": 1, "medium": 2, "low": 3, "none": 4}
    order = [ranks[g["severity"]] for g in doc["fix_first"]]
    assert order == sorted(order)
    [entry] = [g for g in doc["fix_first"] if g["control_id"] == "IL-4" and g["status"] == "FAIL"]
    assert entry["severity"] == "critical" and entry["count"] == 1
    assert entry["resources"] == [{"account": "apps", "resource": "user/ci", "detail": ci["detail"]}]

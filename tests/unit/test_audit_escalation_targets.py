"""IL-4 on the account's real targets (issue 22, item 2): the seeded account of
tests/escalation_seed.py, where each of Rhino Security Labs' 21 methods is granted to one user on
a named resource and to another on `*`, next to principals that cannot escalate."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from test_audit_controls import NOW, good_input, results

from escalation_seed import ACCT, POSSIBLE_ONLY, SAFE, allow, seeded_account
from iamlayer.audit.controls import Finding, Severity, Status
from iamlayer.audit.escalation import BY_ASSUMING, DIRECT, account_escalation
from iamlayer.audit.escalation_paths import METHODS
from iamlayer.audit.model import AuditInput, Principal

AUTH, AWS, EXPECTED = seeded_account()


def seeded(**changes: Any) -> AuditInput:
    base: dict[str, Any] = {"account_id": ACCT, "authorization": AUTH, "aws_managed_policies": AWS}
    return replace(good_input(), **(base | changes))


def il4(inp: AuditInput) -> dict[str, Finding]:
    return {f.resource: f for f in results(inp, "privilege-escalation", NOW)}


FOUND = il4(seeded())


def test_the_seed_grants_every_method_of_the_catalogue_both_ways() -> None:
    assert sorted(set(EXPECTED.values())) == sorted(m.name for m in METHODS)
    assert len(EXPECTED) == 2 * 21


@pytest.mark.parametrize("user", sorted(EXPECTED))
def test_each_method_is_caught_on_a_named_resource_and_on_star(user: str) -> None:
    method = EXPECTED[user]
    f = FOUND[f"user/{user}"]
    assert f.evidence is not None
    assert f.evidence["steps"][0]["method"] == method
    assert f.evidence["source"] == f"user/{user}"
    assert f.evidence["reaches"]  # the admin it reaches
    if method in POSSIBLE_ONLY:
        # the resource it acts on is not read (a function's role, a policy's other versions)
        assert f.status is Status.FAIL and f.severity is Severity.MEDIUM
        assert f.detail.startswith("may escalate") and "not read" in f.detail
    else:
        assert f.status is Status.FAIL and f.severity is Severity.CRITICAL, f.detail
        assert f.detail.startswith("can escalate: " + method)


def test_named_resources_are_asked_by_their_arn_and_the_admin_reached_is_named() -> None:
    key = FOUND["user/named-03"]  # iam:CreateAccessKey on user/admin-user only
    assert "CreateAccessKey user/admin-user" in key.detail and key.detail.endswith(
        "-> admin: user/admin-user"
    )
    ec2 = FOUND["user/named-02"]  # iam:PassRole on role/AdminEc2 only, passed to EC2
    assert "PassRole+EC2 role/AdminEc2" in ec2.detail and "admin: role/AdminEc2" in ec2.detail
    step = ec2.evidence["steps"][0]["steps"][0] if ec2.evidence else {}
    assert step["action"] == "iam:PassRole" and step["resource"] == "role/AdminEc2" and step["certain"]
    # AttachRolePolicy counts with a way to act as the role: assuming Ops, named too.
    ops = FOUND["user/named-08"]
    assert [s["method"] for s in ops.evidence["steps"]] == ["AttachRolePolicy", "AssumeRole"]  # type: ignore[index]


@pytest.mark.parametrize("user", sorted(SAFE))
def test_principals_that_cannot_escalate_are_not_flagged(user: str) -> None:
    assert f"user/{user}" not in FOUND, SAFE[user]


def test_passed_to_service_is_honoured_both_ways() -> None:
    """pass-to-ecs may pass any role to ECS only: no role trusts ECS. The same grant for EC2 opens
    PassRole+EC2 (the seed's AdminEc2 trusts EC2)."""
    assert "user/pass-to-ecs" not in FOUND
    ec2 = allow(
        {"Action": "iam:PassRole", "Resource": "*",
         "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}},
        ("ec2:RunInstances", "*"),
    )  # fmt: skip
    u = Principal("user", "pass-to-ec2", f"arn:aws:iam::{ACCT}:user/pass-to-ec2", inline={"p": ec2})
    found = il4(seeded(authorization=replace(AUTH, users=(*AUTH.users, u))))
    assert "PassRole+EC2 role/AdminEc2" in found["user/pass-to-ec2"].detail


def test_assuming_an_admin_role_is_reported_and_without_mfa_it_fails() -> None:
    devops, lazy = FOUND["user/devops"], FOUND["user/lazy"]
    assert (
        devops.status is Status.INFO
        and "by assuming a role" in devops.detail
        and "role/AdminMfa" in devops.detail
    )
    assert lazy.status is Status.INFO and "role/AdminNoMfa" in lazy.detail
    flag = FOUND["role/AdminNoMfa"]
    assert flag.status is Status.FAIL and flag.severity is Severity.HIGH
    assert "user/lazy" in flag.detail and "without MFA" in flag.detail
    assert flag.spec_field == "roles.AdminNoMfa.mfa_max_age"
    assert "role/AdminMfa" not in FOUND  # its trust asks for MFA
    # A role that can make itself admin, assumed: the user escalates through it.
    dev = FOUND["user/dev"]
    assert dev.status is Status.FAIL and [s["method"] for s in dev.evidence["steps"]] == [  # type: ignore[index]
        "AssumeRole",
        "AttachRolePolicy",
    ]


def test_an_uncertain_step_is_a_possible_path_with_a_lower_severity() -> None:
    """CreateAccessKey only on users tagged team=ops: tags are not read, so the step is UNCERTAIN."""
    f = FOUND["user/maybe"]
    assert f.status is Status.FAIL and f.severity is Severity.MEDIUM
    assert f.detail.startswith("may escalate") and "aws:resourcetag/team" in f.detail.lower()
    assert f.evidence is not None and f.evidence["certain"] is False


def test_the_analysis_sorts_who_is_admin_from_who_can_become_it() -> None:
    esc = account_escalation(AUTH, AWS, ACCT, NOW)
    how = {r.principal.ref: r.how for r in esc.reaches}
    assert how["user/admin-user"] == DIRECT and how["role/AdminEc2"] == DIRECT
    assert how["user/devops"] == BY_ASSUMING
    assert {f"user/{u}" for u in EXPECTED} <= set(how)
    assert not {f"user/{u}" for u in SAFE} & set(how)

"""Privilege escalation paths, decided by the policy evaluator (iamlayer.access) on hand-built
inputs: what string matching would get wrong (NotAction, wildcards, Deny, boundaries, policy
variables) is decided the way AWS decides it. A path counts only when it reaches an admin of the
account: each account here holds the admin the path would reach."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from test_audit_controls import ACCT, NOW, good_input, results

from iamlayer.audit.controls import Status
from iamlayer.audit.escalation import PATHS
from iamlayer.audit.model import AuditInput, AuthorizationDetails, LiveManagedPolicy, Principal, Unavailable


def allow(actions: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource, **extra}],
    }


def policy(name: str, doc: dict[str, Any]) -> LiveManagedPolicy:
    return LiveManagedPolicy(name, f"arn:aws:iam::{ACCT}:policy/{name}", 1, doc)


def account(*policies: LiveManagedPolicy, users: tuple[Principal, ...] = (), groups: tuple[Principal, ...] = (),
            roles: tuple[Principal, ...] = ()) -> AuditInput:  # fmt: skip
    auth = good_input().authorization
    assert isinstance(auth, AuthorizationDetails)
    return replace(
        good_input(), authorization=replace(auth, users=users, groups=groups, roles=roles, policies=policies)
    )


def escalation(inp: AuditInput) -> dict[str, tuple[Status, str]]:
    return {f.resource: (f.status, f.detail) for f in results(inp, "privilege-escalation", NOW)}


GOD = policy("god", allow("*"))
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def user(name: str, *attached: str, groups: tuple[str, ...] = (), **kw: Any) -> Principal:
    return Principal("user", name, f"arn:aws:iam::{ACCT}:user/{name}", attached=attached, groups=groups, **kw)


def test_a_group_policy_opens_create_policy_version_for_its_members() -> None:
    esc = policy("esc", allow(["iam:CreatePolicyVersion", "s3:GetObject"]))
    inp = account(
        esc,
        users=(user("bob", groups=("devs",)),),
        groups=(Principal("group", "devs", "arn:devs", attached=(esc.arn,)),),
    )
    status, detail = escalation(inp)["user/bob"]
    assert status is Status.FAIL and detail.startswith("can escalate: CreatePolicyVersion")
    assert "group devs / attached esc, statement 0" in detail  # the evidence names the policy


def test_self_management_scoped_to_the_caller_is_not_escalation() -> None:
    own = policy(
        "self",
        allow(
            ["iam:CreateAccessKey", "iam:UpdateLoginProfile"], f"arn:aws:iam::{ACCT}:user/${{aws:username}}"
        ),
    )
    [f] = results(account(own, users=(user("jane", own.arn),)), "privilege-escalation", NOW)
    assert f.status is Status.PASS and "none of the 1 users and roles" in f.detail
    anyone = policy("keys", allow("iam:CreateAccessKey", f"arn:aws:iam::{ACCT}:user/*"))
    inp = account(anyone, GOD, users=(user("jane", anyone.arn), user("ops", GOD.arn)))
    status, detail = escalation(inp)["user/jane"]
    assert status is Status.FAIL and "CreateAccessKey user/ops" in detail and "admin: user/ops" in detail


def test_what_string_matching_misses_the_evaluator_sees() -> None:
    # Allow with NotAction grants iam:PutUserPolicy without naming it; a wildcard names it partly.
    not_action = policy(
        "most",
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]},
    )
    wildcard = policy("puts", allow("iam:Put*"))
    inp = account(not_action, wildcard, users=(user("a", not_action.arn), user("b", wildcard.arn)))
    found = escalation(inp)
    # (the shortest path is named: a may rewrite its own NotAction policy, the first method listed)
    assert found["user/a"][0] is Status.FAIL and "user a / attached most, statement 0" in found["user/a"][1]
    assert found["user/b"][0] is Status.FAIL and "PutUserPolicy user/b" in found["user/b"][1]


def test_deny_and_boundary_close_paths() -> None:
    wide = policy("wide", allow(["iam:AttachUserPolicy", "iam:AddUserToGroup"]))
    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "iam:Attach*", "Resource": "*"}],
    }
    bounded = policy("bounded", allow("s3:*"))
    inp = account(
        wide,
        bounded,
        GOD,
        groups=(Principal("group", "admins", "arn:admins", attached=(GOD.arn,)),),
        users=(
            user("denied", wide.arn, inline={"no-attach": deny}),
            user("boxed", wide.arn, boundary=bounded.arn),
        ),
    )
    found = escalation(inp)
    assert found["user/denied"][0] is Status.FAIL
    assert "AddUserToGroup" in found["user/denied"][1] and "AttachUserPolicy" not in found["user/denied"][1]
    assert "user/boxed" not in found  # its boundary allows s3 only


def test_pass_role_needs_the_service_action_too() -> None:
    pass_only = policy("pass", allow("iam:PassRole"))
    pass_ec2 = policy("pass-ec2", allow(["iam:PassRole", "ec2:RunInstances"]))
    trust_only = policy("trust", allow("iam:UpdateAssumeRolePolicy"))
    inp = account(
        pass_only,
        pass_ec2,
        trust_only,
        GOD,
        users=(user("p", pass_only.arn), user("t", trust_only.arn)),
        roles=(
            Principal("role", "Builder", f"arn:aws:iam::{ACCT}:role/Builder", attached=(pass_ec2.arn,)),
            Principal(
                "role", "Admin", f"arn:aws:iam::{ACCT}:role/Admin", attached=(GOD.arn,), trust=EC2_TRUST
            ),
        ),
    )
    found = escalation(inp)
    # p may pass a role but run nothing with it. t rewrites Admin's trust to name itself: in its
    # own account such a trust grants sts:AssumeRole by itself, with no identity policy.
    assert set(found) == {"role/Builder", "user/t"}
    assert found["role/Builder"][0] is Status.FAIL and "PassRole+EC2 role/Admin" in found["role/Builder"][1]
    assert "UpdateAssumeRolePolicy+AssumeRole role/Admin" in found["user/t"][1]
    # Without a role that EC2 may assume, passing one to EC2 gives nothing.
    auth = inp.authorization
    assert isinstance(auth, AuthorizationDetails)
    assert "role/Builder" not in escalation(replace(inp, authorization=replace(auth, roles=auth.roles[:1])))


def test_mfa_conditions_do_not_hide_a_path() -> None:
    mfa = policy(
        "mfa", allow("iam:AttachUserPolicy", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})
    )
    status, _ = escalation(account(mfa, users=(user("m", mfa.arn),)))["user/m"]
    assert status is Status.FAIL


def test_admins_are_left_to_the_admin_controls_and_service_linked_roles_skipped() -> None:
    admin = policy("god", allow("*"))
    inp = account(
        admin,
        users=(user("root-like", admin.arn),),
        roles=(
            Principal(
                "role", "AWSServiceRoleForX", "arn:slr", attached=(admin.arn,), path="/aws-service-role/x/"
            ),
        ),
    )
    [f] = results(inp, "privilege-escalation", NOW)
    assert (
        f.status is Status.PASS
        and "1 admin principal(s) left to the admin controls: user/root-like" in f.detail
    )


def test_a_boundary_not_read_makes_the_answer_an_error_not_a_pass() -> None:
    wide = policy("wide", allow("iam:CreateLoginProfile"))
    unread = "arn:aws:iam::aws:policy/SomeBoundary"
    inp = account(wide, GOD, users=(user("u", wide.arn, boundary=unread), user("ops", GOD.arn)))
    [f] = results(inp, "privilege-escalation", NOW)
    assert f.status is Status.ERROR and unread in f.detail and "CreateLoginProfile" in f.detail


def test_error_without_the_aws_managed_documents_and_the_path_list() -> None:
    [f] = results(
        replace(good_input(), aws_managed_policies=Unavailable("AccessDenied")), "privilege-escalation", NOW
    )
    assert f.status is Status.ERROR
    names = {p.name for p in PATHS}
    assert {"CreatePolicyVersion", "SetDefaultPolicyVersion", "PassRole+EC2", "PassRole+Lambda", "PassRole+Glue",
            "PassRole+CloudFormation", "AttachUserPolicy", "AttachGroupPolicy", "AttachRolePolicy", "PutUserPolicy",
            "PutGroupPolicy", "PutRolePolicy", "UpdateAssumeRolePolicy+AssumeRole", "CreateAccessKey",
            "CreateLoginProfile", "UpdateLoginProfile", "AddUserToGroup",
            # the four issue 22 added: Rhino's list is 21
            "PassRole+Lambda+EventSource", "UpdateFunctionCode", "UpdateDevEndpoint",
            "PassRole+DataPipeline"} == names  # fmt: skip
    assert len(PATHS) == 21

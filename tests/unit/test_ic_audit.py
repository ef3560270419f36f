"""The Identity Center controls (IL-7 to IL-9) on hand-built inputs: PASS, FAIL, ERROR, and nothing
at all in the accounts that do not hold the instance."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from iamlayer.audit.controls import Finding, Status, controls_by_key
from iamlayer.audit.model import AuditInput, IcAssignment, IcPermissionSet, IdentityCenterAudit, Unavailable

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ = "arn:aws:iam::aws:policy/ReadOnlyAccess"
STAR = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
NARROW = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}

IC = IdentityCenterAudit(
    "arn:aws:sso:::instance/ssoins-1234567890abcdef",
    "us-east-1",
    (
        IcPermissionSet("DevOps", "arn:1", 12 * 3600, (ADMIN,)),
        IcPermissionSet("Sneaky", "arn:2", 3600, (READ,), inline=STAR),
        IcPermissionSet("ReadOnly", "arn:3", 8 * 3600, (READ,), ("/billing-read",), NARROW),
        IcPermissionSet("Odd", "arn:4", None),
    ),
    (
        IcAssignment("GROUP", "devops", "DevOps", "apps-prd"),
        IcAssignment("USER", "jane.doe", "ReadOnly", "shared"),
        IcAssignment("USER", "jane.doe", "DevOps", "management"),
    ),
)


def holder(ic: IdentityCenterAudit | Unavailable | None = IC) -> AuditInput:
    inp = AuditInput.unreachable("management", "111111111111", "not needed here")
    return replace(inp, identity_center=ic)


def run(control: str, inp: AuditInput) -> list[Finding]:
    return controls_by_key()[control].evaluate(inp, NOW, "cis-4.0")


def table(findings: list[Finding]) -> list[tuple[str, str, str]]:
    return [(f.status.value, f.resource, f.detail) for f in findings]


def test_full_access_permission_sets_fail_with_where_they_are_assigned() -> None:
    found = run("ic-admin-permission-set", holder())
    assert found[0].control_id == "IL-7"
    assert table(found) == [
        (
            "FAIL",
            "permission-set/DevOps",
            "AdministratorAccess attached; assigned to group/devops@apps-prd, user/jane.doe@management",
        ),
        ("FAIL", "permission-set/Sneaky", 'its inline policy allows "*" on "*"; assigned nowhere'),
        ("PASS", "permission-set/ReadOnly", 'no AdministratorAccess, no inline "*" on "*"'),
        ("PASS", "permission-set/Odd", 'no AdministratorAccess, no inline "*" on "*"'),
    ]
    assert [f.spec_field for f in found[:2]] == [
        "identity_center.permission_sets.DevOps.policies",
        "identity_center.permission_sets.Sneaky.inline_policy",
    ]


def test_sessions_longer_than_a_working_day_fail() -> None:
    found = run("ic-session-duration", holder())
    assert found[0].control_id == "IL-8"
    assert table(found) == [
        ("FAIL", "permission-set/DevOps", "sessions last 12 hours (more than 8)"),
        ("PASS", "permission-set/Sneaky", "sessions last 1 hour(s)"),
        ("PASS", "permission-set/ReadOnly", "sessions last 8 hour(s)"),
        ("ERROR", "permission-set/Odd", "its session duration could not be read as ISO 8601"),
    ]


def test_assignments_to_users_fail_and_to_groups_pass() -> None:
    found = run("ic-assignments-to-groups", holder())
    assert found[0].control_id == "IL-9"
    assert table(found) == [
        (
            "FAIL",
            "user/jane.doe",
            "permission set DevOps in account management is assigned to the user directly",
        ),
        (
            "FAIL",
            "user/jane.doe",
            "permission set ReadOnly in account shared is assigned to the user directly",
        ),
    ]
    groups_only = replace(IC, assignments=IC.assignments[:1])
    assert table(run("ic-assignments-to-groups", holder(groups_only))) == [
        ("PASS", "identity-center", "all 1 assignments are to groups")
    ]


def test_unreadable_is_error_with_why_and_other_accounts_report_nothing() -> None:
    for key in ("ic-admin-permission-set", "ic-session-duration", "ic-assignments-to-groups"):
        [f] = run(key, holder(Unavailable("AccessDeniedException: sso:ListInstances")))
        assert f.status is Status.ERROR and "sso:ListInstances" in f.detail and f.fix
        assert run(key, holder(None)) == []  # not the account that holds the instance
        empty = run(key, holder(IdentityCenterAudit("arn:i", "us-east-1")))
        assert [f.status for f in empty] == [Status.PASS]

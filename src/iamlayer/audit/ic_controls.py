"""IAM Identity Center controls: permission sets with full administrator access, long sessions,
and assignments to individual users. iamlayer's own ids (IL-n): no CIS Foundations version and
no Prowler check covers them.

They read every permission set and assignment of the instance the spec's `identity_center`
names (iamlayer's and anyone else's), in the account it lives in; the other accounts report
nothing for them. A permission set's customer-managed policies live in each account it is
assigned in: their documents are audited there, by 1.16 and IL-1, not here.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from iamlayer.audit.controls import Outcome, Severity, Status, control, has_full_admin_statement
from iamlayer.audit.model import AuditInput, IcAssignment, IdentityCenterAudit, need

ADMIN_POLICY = ":iam::aws:policy/AdministratorAccess"
#: the longest session IL-8 accepts: a working day (AWS allows up to 12 hours)
MAX_SESSION_HOURS = 8

P_IC = (
    "sso:ListInstances",
    "sso:ListPermissionSets",
    "sso:DescribePermissionSet",
    "sso:ListManagedPoliciesInPermissionSet",
    "sso:ListCustomerManagedPolicyReferencesInPermissionSet",
    "sso:GetInlinePolicyForPermissionSet",
    "sso:ListAccountsForProvisionedPermissionSet",
    "sso:ListAccountAssignments",
    "identitystore:ListUsers",
    "identitystore:ListGroups",
)


def _holds_instance(inp: AuditInput) -> bool:
    return inp.identity_center is not None


def _ic(inp: AuditInput) -> IdentityCenterAudit:
    assert inp.identity_center is not None
    return need(inp.identity_center, "IAM Identity Center")


def _assigned(ic: IdentityCenterAudit) -> dict[str, list[IcAssignment]]:
    by_set: dict[str, list[IcAssignment]] = defaultdict(list)
    for a in ic.assignments:
        by_set[a.permission_set].append(a)
    return by_set


def _where(assignments: list[IcAssignment]) -> str:
    if not assignments:
        return "assigned nowhere"
    items = sorted({f"{a.principal_type.lower()}/{a.principal}@{a.account}" for a in assignments})
    return "assigned to " + ", ".join(items)


def _spec_field(name: str, key: str) -> str:
    return f"identity_center.permission_sets.{name}.{key}"


@control(
    "ic-admin-permission-set",
    None,
    'No Identity Center permission set grants full access (AdministratorAccess, or "*" on "*")',
    requires=P_IC,
    fix="Attach narrower policies; keep full access to a small group, in the accounts that need it, with a short session.",
    applies=_holds_instance,
    severity=Severity.HIGH,
)
def ic_admin_permission_set(inp: AuditInput, now: datetime) -> list[Outcome]:
    ic = _ic(inp)
    where = _assigned(ic)
    out: list[Outcome] = []
    for ps in ic.permission_sets:
        why = [f"{arn.rsplit('/', 1)[-1]} attached" for arn in ps.managed if arn.endswith(ADMIN_POLICY)]
        field = "policies"
        if ps.inline is not None and has_full_admin_statement(ps.inline):
            why.append('its inline policy allows "*" on "*"')
            field = "policies" if len(why) > 1 else "inline_policy"
        res = f"permission-set/{ps.name}"
        if why:
            detail = f"{'; '.join(why)}; {_where(where.get(ps.name, []))}"
            out.append(Outcome(Status.FAIL, res, detail, spec_field=_spec_field(ps.name, field)))
        else:
            out.append(Outcome(Status.PASS, res, 'no AdministratorAccess, no inline "*" on "*"'))
    return out or [Outcome(Status.PASS, "identity-center", "no permission sets")]


@control(
    "ic-session-duration",
    None,
    f"Identity Center permission set sessions last {MAX_SESSION_HOURS} hours or less",
    requires=P_IC,
    fix=f"Shorten the session duration to PT{MAX_SESSION_HOURS}H or less (shorter still for powerful permission sets).",
    applies=_holds_instance,
    severity=Severity.LOW,
)
def ic_session_duration(inp: AuditInput, now: datetime) -> list[Outcome]:
    ic = _ic(inp)
    out: list[Outcome] = []
    for ps in ic.permission_sets:
        res = f"permission-set/{ps.name}"
        if ps.session_seconds is None:
            out.append(Outcome(Status.ERROR, res, "its session duration could not be read as ISO 8601"))
        elif ps.session_seconds > MAX_SESSION_HOURS * 3600:
            hours = f"{ps.session_seconds / 3600:g}"
            out.append(
                Outcome(
                    Status.FAIL,
                    res,
                    f"sessions last {hours} hours (more than {MAX_SESSION_HOURS})",
                    spec_field=_spec_field(ps.name, "session_duration"),
                )
            )
        else:
            out.append(Outcome(Status.PASS, res, f"sessions last {ps.session_seconds / 3600:g} hour(s)"))
    return out or [Outcome(Status.PASS, "identity-center", "no permission sets")]


@control(
    "ic-assignments-to-groups",
    None,
    "Identity Center account assignments go to groups, not to individual users",
    requires=P_IC,
    fix="Assign the permission set to a group and make the user a member of it.",
    spec_field="identity_center.assignments",
    applies=_holds_instance,
    severity=Severity.LOW,
)
def ic_assignments_to_groups(inp: AuditInput, now: datetime) -> list[Outcome]:
    ic = _ic(inp)
    direct = sorted(
        (a for a in ic.assignments if a.principal_type == "USER"),
        key=lambda a: (a.principal, a.permission_set, a.account),
    )
    out = [
        Outcome(
            Status.FAIL,
            f"user/{a.principal}",
            f"permission set {a.permission_set} in account {a.account} is assigned to the user directly",
        )
        for a in direct
    ]
    groups = sum(1 for a in ic.assignments if a.principal_type == "GROUP")
    return out or [Outcome(Status.PASS, "identity-center", f"all {groups} assignments are to groups")]

"""Apply handlers for IAM Identity Center: identity-store users, groups and memberships,
permission sets, account assignments and re-provisioning. Each declares the actions it calls.

They run in the order of their dependencies (iamlayer.apply.graph: principals and permission sets
before their memberships and assignments, an assignment before re-provisioning its permission set
in that account; deletes in reverse), in the account where the instance lives, with the IAM
handlers, through the instance's gateway (iamlayer.aws.gateways.identity_center). What the plan
could not know, the id of a principal or permission set the same apply creates, is resolved by
name there: creates remember what AWS answered, later handlers ask.

As the IAM handlers, these are idempotent, so a rerun converges: a create that finds the name
taken checks the ownership marker (ours: an earlier apply made it; foreign: refused), a delete of
something gone is success. ConflictException is read by operation, never by its message
(iamlayer.aws.errors): on an overwrite, a removal or provisioning it is a write racing another on
the same permission set, retried with backoff; on a create or attach a confirming read decides
(there: a taken name, or done by an earlier attempt; not there: a race, retried). The identity
store's Reason, where given, decides at once. Asynchronous requests are polled until they
SUCCEEDED, and a FAILED one fails the change with AWS's reason. Writes to one permission set
never run at once (the gateway holds a lock per permission set).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from iamlayer.apply.handlers import HandlerContext, handles
from iamlayer.aws.gateways.account_access import AccountAccessGateway
from iamlayer.aws.gateways.identity_center import IdentityCenter
from iamlayer.aws.session import AccountClients
from iamlayer.errors import AlreadyExistsError, ApplyError
from iamlayer.plan.ic_diff import adopt_hint
from iamlayer.plan.model import Action, Change, Kind
from iamlayer.spec.model import Spec
from iamlayer.state.ic_model import split_marker
from iamlayer.state.records import PROVISIONING_ENTRY

if TYPE_CHECKING:
    from iamlayer.aws.gateways.identity_center import AssignmentFields, AttributeOperation


def attach_identity_center(
    spec: Spec, contexts: Mapping[str, HandlerContext], clients: AccountClients | None
) -> None:
    """Give the handler context of the instance's account its Identity Center gateway."""
    ic = spec.identity_center
    if ic is None or ic.account not in contexts or clients is None:
        return
    where = f"in account {ic.account} ({ic.region})"
    contexts[ic.account].ic = IdentityCenter.for_account(
        clients, ic.region, where, instance_arn=ic.instance_arn
    )
    contexts[ic.account].access = AccountAccessGateway(clients.account_access(ic.region), where)


#: every handler finds the instance first (once per apply)
INSTANCE = ("sso:ListInstances",)
#: resolving names to ids (the gateway's user_id, group_id, permission_set_arn): principals by their unique attribute, permission sets by a scan
RESOLVE = (
    "identitystore:GetGroupId",
    "identitystore:GetUserId",
    "sso:ListPermissionSets",
    "sso:DescribePermissionSet",
)


def _ic(ctx: HandlerContext) -> IdentityCenter:
    if ctx.ic is None:
        raise ApplyError(f"account {ctx.account} does not hold the spec's IAM Identity Center instance")
    return ctx.ic


def _owned_or_refuse(ctx: HandlerContext, kind: str, name: str, marked: str | None) -> None:
    """After a create found the name taken: fine if ours (an earlier apply made it), else refused."""
    if split_marker(marked)[1] != ctx.project:
        raise ApplyError(
            f"creating Identity Center {kind} {name}: one of that name appeared after the plan was made, "
            f"and iamlayer did not create it; it is left alone. {adopt_hint(kind, name, ctx.project)}"
        )


# -- users -----------------------------------------------------------------------------------------
_USER_PATHS = {
    "display_name": "displayName",
    "given_name": "name.givenName",
    "family_name": "name.familyName",
}


@handles(
    Kind.IC_USER,
    Action.CREATE,
    permissions=(
        *INSTANCE,
        "identitystore:CreateUser",
        "identitystore:GetUserId",
        "identitystore:DescribeUser",
    ),
)
def create_ic_user(ctx: HandlerContext, ch: Change) -> None:
    ic, a, name = _ic(ctx), ch.after or {}, ch.address.name
    try:
        ic.store.create_user(
            name,
            display_name=a["display_name"],
            given_name=a["given_name"],
            family_name=a["family_name"],
            email=a["email"],
            user_type=a["user_type"],
        )
    except AlreadyExistsError:
        _owned_or_refuse(ctx, "user", name, ic.store.user_type(name))


@handles(
    Kind.IC_USER,
    Action.UPDATE,
    permissions=(*INSTANCE, "identitystore:UpdateUser", "identitystore:GetUserId"),
)
def update_ic_user(ctx: HandlerContext, ch: Change) -> None:
    ic, a, name = _ic(ctx), ch.after or {}, ch.address.name
    ops: list[AttributeOperation] = [
        {"AttributePath": path, "AttributeValue": a[key]} for key, path in _USER_PATHS.items() if key in a
    ]
    if "email" in a:
        # A list attribute is replaced whole; its items are written as the identity store's
        # (SCIM's) lower-case attributes.
        ops.append(
            {
                "AttributePath": "emails",
                "AttributeValue": [{"value": a["email"], "type": "work", "primary": True}],  # type: ignore[typeddict-item]
            }
        )
    ic.store.update_user(name, a.get("id") or ic.store.user_id(name), ops)


@handles(Kind.IC_USER, Action.DELETE, permissions=(*INSTANCE, "identitystore:DeleteUser"))
def delete_ic_user(ctx: HandlerContext, ch: Change) -> None:
    _ic(ctx).store.delete_user(ch.address.name, (ch.before or {})["id"])


# -- groups ----------------------------------------------------------------------------------------
@handles(
    Kind.IC_GROUP,
    Action.CREATE,
    permissions=(
        *INSTANCE,
        "identitystore:CreateGroup",
        "identitystore:GetGroupId",
        "identitystore:DescribeGroup",
    ),
)
def create_ic_group(ctx: HandlerContext, ch: Change) -> None:
    ic, a, name = _ic(ctx), ch.after or {}, ch.address.name
    try:
        ic.store.create_group(name, a["description"])
    except AlreadyExistsError:
        _owned_or_refuse(ctx, "group", name, ic.store.group_description(name))


@handles(
    Kind.IC_GROUP,
    Action.UPDATE,
    permissions=(*INSTANCE, "identitystore:UpdateGroup", "identitystore:GetGroupId"),
)
def update_ic_group(ctx: HandlerContext, ch: Change) -> None:
    ic, a, name = _ic(ctx), ch.after or {}, ch.address.name
    ic.store.update_group(name, a.get("id") or ic.store.group_id(name), a["description"])


@handles(Kind.IC_GROUP, Action.DELETE, permissions=(*INSTANCE, "identitystore:DeleteGroup"))
def delete_ic_group(ctx: HandlerContext, ch: Change) -> None:
    _ic(ctx).store.delete_group(ch.address.name, (ch.before or {})["id"])


@handles(
    Kind.IC_MEMBERSHIP,
    Action.CREATE,
    permissions=(
        "identitystore:CreateGroupMembership",
        "identitystore:GetGroupId",
        "identitystore:GetUserId",
        "identitystore:GetGroupMembershipId",
    ),
)
def add_ic_membership(ctx: HandlerContext, ch: Change) -> None:
    ic, a = _ic(ctx), ch.after or {}
    group, user = ch.address.name, ch.address.sub
    group_id = a.get("group_id") or ic.store.group_id(group)
    user_id = a.get("user_id") or ic.store.user_id(user)
    ic.store.add_member(group, user, group_id, user_id)


@handles(
    Kind.IC_MEMBERSHIP,
    Action.DELETE,
    permissions=(*INSTANCE, "identitystore:DeleteGroupMembership", "identitystore:GetGroupMembershipId"),
)
def remove_ic_membership(ctx: HandlerContext, ch: Change) -> None:
    b = ch.before or {}
    _ic(ctx).store.remove_member(
        ch.address.name, ch.address.sub, b.get("membership_id"), b.get("group_id", ""), b.get("user_id", "")
    )


# -- permission sets -------------------------------------------------------------------------------


def _set_content(
    ic: IdentityCenter, name: str, arn: str, before: Mapping[str, Any], after: Mapping[str, Any]
) -> None:
    """Bring a permission set's policies, inline policy and boundary from `before` to `after`
    (keys absent from `after` are left as they are)."""
    sso = ic.sso
    for key, attach, detach in (
        ("policies", sso.attach_managed_policy, sso.detach_managed_policy),
        ("customer_managed_policies", sso.attach_customer_policy, sso.detach_customer_policy),
    ):
        if key not in after:
            continue
        have, want = set(before.get(key) or ()), set(after[key])
        for ref in sorted(want - have):
            attach(name, arn, ref)
        for ref in sorted(have - want):
            detach(name, arn, ref)
    if "inline_policy" in after and after["inline_policy"] != before.get("inline_policy"):
        if after["inline_policy"]:
            sso.put_inline_policy(name, arn, after["inline_policy"])
        else:
            sso.delete_inline_policy(name, arn)
    if "boundary" in after and after["boundary"] != before.get("boundary"):
        if after["boundary"]:
            sso.put_boundary(name, arn, after["boundary"])
        else:
            sso.delete_boundary(name, arn)


_CONTENT_PERMISSIONS = (
    "sso:AttachManagedPolicyToPermissionSet",
    "sso:ListManagedPoliciesInPermissionSet",  # the confirming read after a ConflictException
    "sso:AttachCustomerManagedPolicyReferenceToPermissionSet",
    "sso:ListCustomerManagedPolicyReferencesInPermissionSet",
    "sso:DetachManagedPolicyFromPermissionSet",
    "sso:DetachCustomerManagedPolicyReferenceFromPermissionSet",
    "sso:PutInlinePolicyToPermissionSet",
    "sso:DeleteInlinePolicyFromPermissionSet",
    "sso:PutPermissionsBoundaryToPermissionSet",
    "sso:DeletePermissionsBoundaryFromPermissionSet",
)


@handles(
    Kind.PERMISSION_SET,
    Action.CREATE,
    permissions=(
        *INSTANCE,
        "sso:CreatePermissionSet",
        "sso:TagResource",
        "sso:ListPermissionSets",
        "sso:DescribePermissionSet",
        "sso:ListManagedPoliciesInPermissionSet",
        "sso:ListCustomerManagedPolicyReferencesInPermissionSet",
        "sso:GetInlinePolicyForPermissionSet",
        *_CONTENT_PERMISSIONS,
    ),
)
def create_permission_set(ctx: HandlerContext, ch: Change) -> None:
    """Create the permission set, tagged and marked as iamlayer's, then its policies.

    A taken name is ours when the description carries our marker: an earlier apply made it and
    may have died before its policies; they are then compared with what is attached now.
    """
    ic, a, name = _ic(ctx), ch.after or {}, ch.address.name
    before: dict[str, Any] = {}
    arn, found = ic.sso.create_permission_set(
        name,
        description=a["description"],
        session_duration=a["session_duration"],
        relay_state=a.get("relay_state") or "",
        tags=a.get("tags", {}),
    )
    if found is not None:
        _owned_or_refuse(ctx, "permission set", name, found)
        before = _attached(ic, arn)
    _set_content(ic, name, arn, before, a)


def _attached(ic: IdentityCenter, arn: str) -> dict[str, Any]:
    """What a permission set has attached now, as `_set_content` compares it."""
    now = ic.sso.policies(arn)
    return {
        "policies": list(now.managed),
        "customer_managed_policies": list(now.customer_managed),
        # Unknown boundary: written again if the spec has one (idempotent).
        "inline_policy": json.loads(now.inline) if now.inline else None,
    }


@handles(
    Kind.PERMISSION_SET,
    Action.UPDATE,
    permissions=(*INSTANCE, "sso:UpdatePermissionSet", *_CONTENT_PERMISSIONS),
)
def update_permission_set(ctx: HandlerContext, ch: Change) -> None:
    """Change the permission set; first journal the accounts it must be re-provisioned to, so an
    apply that dies before re-provisioning leaves the next plan knowing it (iamlayer.state.journal)."""
    ic, a, b, name = _ic(ctx), ch.after or {}, ch.before or {}, ch.address.name
    arn = a["arn"]
    for account_id in a.get("reprovision", []):
        ctx.journal.begin(PROVISIONING_ENTRY, ctx.account, f"{name}@{account_id}")
    if {"description", "session_duration", "relay_state"} & set(a):
        ic.sso.update_permission_set(
            name,
            arn,
            description=a["description"],
            session_duration=a["session_duration"],
            relay_state=a.get("relay_state") or "",
        )
    _set_content(ic, name, arn, b, a)


@handles(Kind.PERMISSION_SET, Action.DELETE, permissions=(*INSTANCE, "sso:DeletePermissionSet"))
def delete_permission_set(ctx: HandlerContext, ch: Change) -> None:
    _ic(ctx).sso.delete_permission_set(ch.address.name, (ch.before or {})["arn"])


# -- assignments and provisioning -------------------------------------------------------------------
def _assignment(ic: IdentityCenter, d: Mapping[str, Any]) -> AssignmentFields:
    """The six fields that name an assignment, ids resolved (from the plan, else by name)."""
    return {
        "InstanceArn": ic.arn,
        "TargetId": d["account_id"],
        "TargetType": "AWS_ACCOUNT",
        "PermissionSetArn": d.get("permission_set_arn") or ic.sso.permission_set_arn(d["permission_set"]),
        "PrincipalType": d["principal_type"],
        "PrincipalId": d.get("principal_id") or ic.store.principal_id(d["principal_type"], d["principal"]),
    }


def _what(ch: Change) -> str:
    principal, where = ch.address.name, ch.address.sub
    return f"the assignment of {where.replace('@', ' in ')} to {principal}"


@handles(
    Kind.IC_ASSIGNMENT,
    Action.CREATE,
    permissions=(
        *INSTANCE,
        "sso:CreateAccountAssignment",
        "sso:DescribeAccountAssignmentCreationStatus",
        "sso:ListAccountAssignments",  # the confirming read after a ConflictException
        *RESOLVE,
    ),
)
def create_assignment(ctx: HandlerContext, ch: Change) -> None:
    ic = _ic(ctx)
    ic.sso.create_assignment(_what(ch), _assignment(ic, ch.after or {}))


@handles(
    Kind.IC_ASSIGNMENT,
    Action.DELETE,
    permissions=(
        *INSTANCE,
        "sso:DeleteAccountAssignment",
        "sso:DescribeAccountAssignmentDeletionStatus",
        *RESOLVE,
    ),
)
def delete_assignment(ctx: HandlerContext, ch: Change) -> None:
    ic = _ic(ctx)
    ic.sso.delete_assignment(_what(ch), _assignment(ic, ch.before or {}))


@handles(
    Kind.IC_PROVISION,
    Action.UPDATE,
    permissions=(
        *INSTANCE,
        "sso:ProvisionPermissionSet",
        "sso:DescribePermissionSetProvisioningStatus",
        "sso:ListPermissionSets",
        "sso:DescribePermissionSet",
    ),
)
def provision_permission_set(ctx: HandlerContext, ch: Change) -> None:
    """Re-provision a changed permission set to one account, then clear its journal entry."""
    ic, a, name = _ic(ctx), ch.after or {}, ch.address.name
    arn = a.get("permission_set_arn") or ic.sso.permission_set_arn(name)
    ic.sso.provision(name, arn, a["account_id"], ch.address.sub)
    ctx.journal.end(PROVISIONING_ENTRY, ctx.account, f"{name}@{a['account_id']}")

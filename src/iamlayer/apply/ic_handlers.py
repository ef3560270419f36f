"""Apply handlers for IAM Identity Center: identity-store users, groups and memberships,
permission sets, account assignments and re-provisioning. Each declares the actions it calls.

They run in the order of their dependencies (iamlayer.apply.graph: principals and permission sets
before their memberships and assignments, an assignment before re-provisioning its permission set
in that account; deletes in reverse), in the account where the instance lives, with the IAM
handlers. What the plan could not know, the id of a principal or permission
set the same apply creates, is resolved by name here (`Directory`): creates remember what AWS
answered, later handlers ask.

As the IAM handlers, these are idempotent, so a rerun converges: a create that finds the name
taken checks the ownership marker (ours: an earlier apply made it; foreign: refused), a delete of
something gone is success. ConflictException is read by operation, never by its message
(iamlayer.aws.errors): on an overwrite, a removal or provisioning it is a write racing another on
the same permission set, retried with backoff; on a create or attach a confirming read decides
(there: a taken name, or done by an earlier attempt; not there: a race, retried). The identity
store's Reason, where given, decides at once. Asynchronous requests are polled until they
SUCCEEDED, and a FAILED one fails the change with AWS's reason.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from iamlayer.apply.handlers import HandlerContext, gone_is_fine, handles
from iamlayer.aws.errors import aws_call
from iamlayer.aws.identity_center import (
    ASSIGNMENT_CREATION,
    ASSIGNMENT_DELETION,
    PROVISIONING,
    Directory,
    Instance,
    await_request,
    find_instance,
    identity_store,
    sso_admin,
)
from iamlayer.aws.read import read_all
from iamlayer.aws.retry import settle, settled
from iamlayer.aws.session import AccountClients
from iamlayer.errors import AlreadyExistsError, ApplyError
from iamlayer.plan.ic_diff import adopt_hint
from iamlayer.plan.model import Action, Change, Kind
from iamlayer.spec.model import Spec
from iamlayer.state.ic_model import cm_parts, split_marker
from iamlayer.state.journal import Journal
from iamlayer.state.records import PROVISIONING_ENTRY


@dataclass
class IcContext:
    """What the Identity Center handlers use in the account where the instance lives."""

    account: str
    sso: Any  # sso-admin client, in the instance's region
    store: Any  # identitystore client
    journal: Journal
    where: str
    instance_arn: str | None = None  # the spec's, when the account has several instances
    sleep: Callable[[float], None] = time.sleep  # between polls of asynchronous requests
    directory: Directory = field(init=False)
    _instance: Instance | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        # As HandlerContext's IAM clients: every call retried on throttling (iamlayer.aws.retry).
        self.sso, self.store = settled(self.sso), settled(self.store)
        self.directory = Directory(self.sso, self.store, self.instance, self.where)

    @classmethod
    def connect(cls, spec: Spec, clients: AccountClients, journal: Journal) -> IcContext:
        ic = spec.identity_center
        assert ic is not None
        return cls(
            account=ic.account,
            sso=sso_admin(clients, ic.region),
            store=identity_store(clients, ic.region),
            journal=journal,
            where=f"in account {ic.account} ({ic.region})",
            instance_arn=ic.instance_arn,
        )

    def instance(self) -> Instance:
        """The instance, found once (ListInstances) when the first handler needs it."""
        with self._lock:
            if self._instance is None:
                self._instance = find_instance(self.sso, self.where, self.instance_arn)
            return self._instance

    @property
    def arn(self) -> str:
        return self.instance().arn

    @property
    def store_id(self) -> str:
        return self.instance().identity_store_id


def attach_identity_center(
    spec: Spec, contexts: Mapping[str, HandlerContext], clients: AccountClients | None
) -> None:
    """Give the handler context of the instance's account its Identity Center part."""
    ic = spec.identity_center
    if ic is None or ic.account not in contexts or clients is None:
        return
    contexts[ic.account].ic = IcContext.connect(spec, clients, contexts[ic.account].journal)


#: every handler finds the instance first (once per apply)
INSTANCE = ("sso:ListInstances",)
#: resolving names to ids (see Directory): principals by their unique attribute, permission sets by a scan
RESOLVE = (
    "identitystore:GetGroupId",
    "identitystore:GetUserId",
    "sso:ListPermissionSets",
    "sso:DescribePermissionSet",
)


def _ic(ctx: HandlerContext) -> IcContext:
    if ctx.ic is None:
        raise ApplyError(f"account {ctx.account} does not hold the spec's IAM Identity Center instance")
    ic: IcContext = ctx.ic
    return ic


def _retrying(ic: IcContext, fn: Callable[[], Any], *, done: Callable[[], bool] | None = None) -> Any:
    """One write, retried while it races another on the same resource (ConflictException).

    `done`: the confirming read of a create or attach whose ConflictException may also mean it
    is there already (iamlayer.aws.errors.CONFLICT_MAYBE_DONE); when it says so, the write raises
    AlreadyExistsError instead of being retried. The message of the answer is never read.
    """
    return settle(fn, races=True, done=done, sleep=ic.sleep)


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


def _email(address: str) -> list[dict[str, Any]]:
    return [{"Value": address, "Type": "work", "Primary": True}]


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
        with aws_call(f"creating Identity Center user {name} {ic.where}"):
            got = _retrying(
                ic,
                lambda: ic.store.create_user(
                    IdentityStoreId=ic.store_id,
                    UserName=name,
                    DisplayName=a["display_name"],
                    Name={"GivenName": a["given_name"], "FamilyName": a["family_name"]},
                    Emails=_email(a["email"]),
                    UserType=a["user_type"],
                ),
                done=lambda: ic.directory.has_user(name),
            )
        ic.directory.remember("USER", name, got["UserId"])
    except AlreadyExistsError:
        user_id = ic.directory.user_id(name)
        with aws_call(f"checking existing Identity Center user {name} {ic.where}"):
            user = ic.store.describe_user(IdentityStoreId=ic.store_id, UserId=user_id)
        _owned_or_refuse(ctx, "user", name, user.get("UserType"))


@handles(
    Kind.IC_USER,
    Action.UPDATE,
    permissions=(*INSTANCE, "identitystore:UpdateUser", "identitystore:GetUserId"),
)
def update_ic_user(ctx: HandlerContext, ch: Change) -> None:
    ic, a, name = _ic(ctx), ch.after or {}, ch.address.name
    ops: list[dict[str, Any]] = [
        {"AttributePath": path, "AttributeValue": a[key]} for key, path in _USER_PATHS.items() if key in a
    ]
    if "email" in a:
        # A list attribute is replaced whole; its items are written as the identity store's
        # (SCIM's) lower-case attributes.
        ops.append(
            {
                "AttributePath": "emails",
                "AttributeValue": [{"value": a["email"], "type": "work", "primary": True}],
            }
        )
    user_id = a.get("id") or ic.directory.user_id(name)
    with aws_call(f"updating Identity Center user {name} {ic.where}"):
        _retrying(
            ic, lambda: ic.store.update_user(IdentityStoreId=ic.store_id, UserId=user_id, Operations=ops)
        )


@handles(Kind.IC_USER, Action.DELETE, permissions=(*INSTANCE, "identitystore:DeleteUser"))
def delete_ic_user(ctx: HandlerContext, ch: Change) -> None:
    ic, b, name = _ic(ctx), ch.before or {}, ch.address.name
    with gone_is_fine(), aws_call(f"deleting Identity Center user {name} {ic.where}"):
        _retrying(ic, lambda: ic.store.delete_user(IdentityStoreId=ic.store_id, UserId=b["id"]))


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
        with aws_call(f"creating Identity Center group {name} {ic.where}"):
            got = _retrying(
                ic,
                lambda: ic.store.create_group(
                    IdentityStoreId=ic.store_id, DisplayName=name, Description=a["description"]
                ),
                done=lambda: ic.directory.has_group(name),
            )
        ic.directory.remember("GROUP", name, got["GroupId"])
    except AlreadyExistsError:
        group_id = ic.directory.group_id(name)
        with aws_call(f"checking existing Identity Center group {name} {ic.where}"):
            group = ic.store.describe_group(IdentityStoreId=ic.store_id, GroupId=group_id)
        _owned_or_refuse(ctx, "group", name, group.get("Description"))


@handles(
    Kind.IC_GROUP,
    Action.UPDATE,
    permissions=(*INSTANCE, "identitystore:UpdateGroup", "identitystore:GetGroupId"),
)
def update_ic_group(ctx: HandlerContext, ch: Change) -> None:
    ic, a, name = _ic(ctx), ch.after or {}, ch.address.name
    group_id = a.get("id") or ic.directory.group_id(name)
    ops = [{"AttributePath": "description", "AttributeValue": a["description"]}]
    with aws_call(f"updating Identity Center group {name} {ic.where}"):
        _retrying(
            ic, lambda: ic.store.update_group(IdentityStoreId=ic.store_id, GroupId=group_id, Operations=ops)
        )


@handles(Kind.IC_GROUP, Action.DELETE, permissions=(*INSTANCE, "identitystore:DeleteGroup"))
def delete_ic_group(ctx: HandlerContext, ch: Change) -> None:
    ic, b, name = _ic(ctx), ch.before or {}, ch.address.name
    with gone_is_fine(), aws_call(f"deleting Identity Center group {name} {ic.where}"):
        _retrying(ic, lambda: ic.store.delete_group(IdentityStoreId=ic.store_id, GroupId=b["id"]))


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
    group_id = a.get("group_id") or ic.directory.group_id(group)
    user_id = a.get("user_id") or ic.directory.user_id(user)
    # Taken means it is there already: a rerun after a lost answer.
    with suppress(AlreadyExistsError), aws_call(f"adding {user} to Identity Center group {group} {ic.where}"):
        _retrying(
            ic,
            lambda: ic.store.create_group_membership(
                IdentityStoreId=ic.store_id, GroupId=group_id, MemberId={"UserId": user_id}
            ),
            done=lambda: ic.directory.has_membership(group_id, user_id),
        )


@handles(
    Kind.IC_MEMBERSHIP,
    Action.DELETE,
    permissions=(*INSTANCE, "identitystore:DeleteGroupMembership", "identitystore:GetGroupMembershipId"),
)
def remove_ic_membership(ctx: HandlerContext, ch: Change) -> None:
    ic, b = _ic(ctx), ch.before or {}
    group, user = ch.address.name, ch.address.sub
    w = f"removing {user} from Identity Center group {group} {ic.where}"
    with gone_is_fine():
        membership = b.get("membership_id")
        if not membership:
            with aws_call(w):
                membership = ic.store.get_group_membership_id(
                    IdentityStoreId=ic.store_id, GroupId=b["group_id"], MemberId={"UserId": b["user_id"]}
                )["MembershipId"]
        with aws_call(w):
            _retrying(
                ic,
                lambda: ic.store.delete_group_membership(
                    IdentityStoreId=ic.store_id, MembershipId=membership
                ),
            )


# -- permission sets -------------------------------------------------------------------------------
def _cm(ref: str) -> dict[str, str]:
    path, name = cm_parts(ref)
    return {"Name": name, "Path": path}


def _boundary(value: str) -> dict[str, Any]:
    if value.startswith("arn:"):
        return {"ManagedPolicyArn": value}
    return {"CustomerManagedPolicyReference": _cm(value)}


def _set_content(
    ic: IcContext, name: str, arn: str, before: Mapping[str, Any], after: Mapping[str, Any]
) -> None:
    """Bring a permission set's policies, inline policy and boundary from `before` to `after`
    (keys absent from `after` are left as they are)."""
    args = {"InstanceArn": ic.arn, "PermissionSetArn": arn}
    w = f"permission set {name} {ic.where}"

    def attach(policy: str) -> Any:
        return ic.sso.attach_managed_policy_to_permission_set(**args, ManagedPolicyArn=policy)

    def detach(policy: str) -> Any:
        return ic.sso.detach_managed_policy_from_permission_set(**args, ManagedPolicyArn=policy)

    def attach_cm(ref: str) -> Any:
        return ic.sso.attach_customer_managed_policy_reference_to_permission_set(
            **args, CustomerManagedPolicyReference=_cm(ref)
        )

    def detach_cm(ref: str) -> Any:
        return ic.sso.detach_customer_managed_policy_reference_from_permission_set(
            **args, CustomerManagedPolicyReference=_cm(ref)
        )

    # The confirming reads after a ConflictException on an attach: attached already, or a race?
    def attached(policy: str) -> bool:
        return ic.directory.has_managed_policy(arn, policy)

    def attached_cm(ref: str) -> bool:
        return ic.directory.has_customer_policy(arn, *cm_parts(ref))

    for key, what, add, remove, present in (
        ("policies", "", attach, detach, attached),
        ("customer_managed_policies", "customer-managed policy ", attach_cm, detach_cm, attached_cm),
    ):
        if key not in after:
            continue
        have, want = set(before.get(key) or ()), set(after[key])
        for ref in sorted(want - have):
            # Attached already (a rerun of a create an interrupted apply began): done.
            with suppress(AlreadyExistsError), aws_call(f"attaching {what}{ref} to {w}"):
                _retrying(ic, partial(add, ref), done=partial(present, ref))
        for ref in sorted(have - want):
            with gone_is_fine(), aws_call(f"detaching {what}{ref} from {w}"):
                _retrying(ic, partial(remove, ref))
    if "inline_policy" in after and after["inline_policy"] != before.get("inline_policy"):
        doc = after["inline_policy"]
        if doc:
            with aws_call(f"writing the inline policy of {w}"):
                _retrying(
                    ic,
                    lambda: ic.sso.put_inline_policy_to_permission_set(
                        **args, InlinePolicy=json.dumps(doc, separators=(",", ":"))
                    ),
                )
        else:
            with gone_is_fine(), aws_call(f"deleting the inline policy of {w}"):
                _retrying(ic, lambda: ic.sso.delete_inline_policy_from_permission_set(**args))
    if "boundary" in after and after["boundary"] != before.get("boundary"):
        if after["boundary"]:
            with aws_call(f"setting the permissions boundary of {w}"):
                _retrying(
                    ic,
                    lambda: ic.sso.put_permissions_boundary_to_permission_set(
                        **args, PermissionsBoundary=_boundary(after["boundary"])
                    ),
                )
        else:
            with gone_is_fine(), aws_call(f"removing the permissions boundary of {w}"):
                _retrying(ic, lambda: ic.sso.delete_permissions_boundary_from_permission_set(**args))


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
    args: dict[str, Any] = {
        "InstanceArn": ic.arn,
        "Name": name,
        "Description": a["description"],
        "SessionDuration": a["session_duration"],
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(a.get("tags", {}).items())],
    }
    if a.get("relay_state"):
        args["RelayState"] = a["relay_state"]
    listed: dict[str, tuple[str, str]] = {}

    def exists() -> bool:
        """The confirming read after a ConflictException: is a permission set of this name there
        (the name taken, perhaps by our own earlier apply), or was it a race?"""
        listed.update(ic.directory.scan_permission_sets())
        return name in listed

    try:
        with aws_call(f"creating permission set {name} {ic.where}"):
            arn = _retrying(ic, lambda: ic.sso.create_permission_set(**args), done=exists)["PermissionSet"][
                "PermissionSetArn"
            ]
        ic.directory.remember("PERMISSION_SET", name, arn)
    except AlreadyExistsError:
        found = listed[name]  # what the confirming read found
        _owned_or_refuse(ctx, "permission set", name, found[1])
        arn = found[0]
        before = _attached(ic, arn)
    _set_content(ic, name, arn, before, a)


def _attached(ic: IcContext, arn: str) -> dict[str, Any]:
    """What a permission set has attached now, as `_set_content` compares it."""
    args = {"InstanceArn": ic.arn, "PermissionSetArn": arn}
    with aws_call(f"reading the policies of permission set {arn} {ic.where}"):
        managed = read_all(ic.sso, "list_managed_policies_in_permission_set", **args)
        customer = read_all(ic.sso, "list_customer_managed_policy_references_in_permission_set", **args)
        inline = ic.sso.get_inline_policy_for_permission_set(**args).get("InlinePolicy")
    return {
        "policies": [p["Arn"] for p in managed.get("AttachedManagedPolicies", [])],
        "customer_managed_policies": [
            f"{r.get('Path', '/') or '/'}{r['Name']}"
            for r in customer.get("CustomerManagedPolicyReferences", [])
        ],
        # Unknown boundary: written again if the spec has one (idempotent).
        "inline_policy": json.loads(inline) if inline else None,
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
        ic.journal.begin(PROVISIONING_ENTRY, ic.account, f"{name}@{account_id}")
    if {"description", "session_duration", "relay_state"} & set(a):
        fields: dict[str, Any] = {"Description": a["description"], "SessionDuration": a["session_duration"]}
        if a.get("relay_state"):
            fields["RelayState"] = a["relay_state"]
        with aws_call(f"updating permission set {name} {ic.where}"):
            _retrying(
                ic, lambda: ic.sso.update_permission_set(InstanceArn=ic.arn, PermissionSetArn=arn, **fields)
            )
    _set_content(ic, name, arn, b, a)


@handles(Kind.PERMISSION_SET, Action.DELETE, permissions=(*INSTANCE, "sso:DeletePermissionSet"))
def delete_permission_set(ctx: HandlerContext, ch: Change) -> None:
    ic, b, name = _ic(ctx), ch.before or {}, ch.address.name
    with gone_is_fine(), aws_call(f"deleting permission set {name} {ic.where}"):
        # Its assignments were deleted by earlier changes; AWS answers ConflictException until
        # it has finished removing the role from those accounts.
        _retrying(ic, lambda: ic.sso.delete_permission_set(InstanceArn=ic.arn, PermissionSetArn=b["arn"]))


# -- assignments and provisioning -------------------------------------------------------------------
def _assignment(ic: IcContext, d: Mapping[str, Any]) -> dict[str, str]:
    """The six fields that name an assignment, ids resolved (from the plan, else by name)."""
    return {
        "InstanceArn": ic.arn,
        "TargetId": d["account_id"],
        "TargetType": "AWS_ACCOUNT",
        "PermissionSetArn": d.get("permission_set_arn")
        or ic.directory.permission_set_arn(d["permission_set"]),
        "PrincipalType": d["principal_type"],
        "PrincipalId": d.get("principal_id")
        or ic.directory.principal_id(d["principal_type"], d["principal"]),
    }


def _what(ch: Change) -> str:
    principal, where = ch.address.name, ch.address.sub
    return f"assignment of {where.replace('@', ' in ')} to {principal}"


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
    what = f"creating the {_what(ch)} {ic.where}"
    fields = _assignment(ic, ch.after or {})
    try:
        with aws_call(what):
            answer = _retrying(
                ic,
                lambda: ic.sso.create_account_assignment(**fields),
                done=lambda: ic.directory.has_assignment(fields),
            )
    except AlreadyExistsError:
        return  # assigned already: a rerun after a lost answer, or someone else made the same one
    await_request(ic.sso, ic.arn, answer, ASSIGNMENT_CREATION, what, sleep=ic.sleep)


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
    what = f"deleting the {_what(ch)} {ic.where}"
    fields = _assignment(ic, ch.before or {})
    with gone_is_fine():
        with aws_call(what):
            answer = _retrying(ic, lambda: ic.sso.delete_account_assignment(**fields))
        await_request(ic.sso, ic.arn, answer, ASSIGNMENT_DELETION, what, sleep=ic.sleep)


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
    what = f"re-provisioning permission set {name} to account {ch.address.sub} {ic.where}"
    arn = a.get("permission_set_arn") or ic.directory.permission_set_arn(name)
    with aws_call(what):
        answer = _retrying(
            ic,
            lambda: ic.sso.provision_permission_set(
                InstanceArn=ic.arn, PermissionSetArn=arn, TargetType="AWS_ACCOUNT", TargetId=a["account_id"]
            ),
        )
    await_request(ic.sso, ic.arn, answer, PROVISIONING, what, sleep=ic.sleep)
    ic.journal.end(PROVISIONING_ENTRY, ic.account, f"{name}@{a['account_id']}")

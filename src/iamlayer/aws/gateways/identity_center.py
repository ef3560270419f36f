"""The Identity Center gateways: sso-admin (permission sets, assignments, provisioning) and the
identity store (users, groups, memberships) of one instance, with names resolved to ids.

Besides what every gateway does (iamlayer.aws.gateways.base: retries, error translation,
idempotent removals), these own three things of Identity Center's:
- ConflictException is read by operation, never by its message (iamlayer.aws.errors): a write
  racing another is retried with backoff; a create or attach whose conflict may also mean "there
  already" (CONFLICT_MAYBE_DONE) makes a confirming read first, and answers "there" as
  AlreadyExistsError (the creates) or as done (the attaches, memberships and assignments);
- asynchronous requests (CreateAccountAssignment, DeleteAccountAssignment,
  ProvisionPermissionSet) are polled until SUCCEEDED, within IAMLAYER_IC_TIMEOUT
  (iamlayer.aws.retry.ic_timeout), and FAILED raises AwsError with AWS's reason;
- one writer per permission set at a time: AWS answers ConflictException while another
  operation on the same permission set runs, and apply's workers run independent changes
  concurrently (re-provisioning one set to two accounts, an inline policy put while it is
  provisioned). Every write, provisioning and wait on a permission set holds its lock
  (`PermissionSetLocks`, per instance and permission set ARN, process-wide).

Names to ids: the plan cannot know the id of a user, group or permission set the same apply
creates; the creates remember what AWS answered, later writes ask (`user_id`, `group_id`,
`permission_set_arn`), else one lookup: GetUserId / GetGroupId by the unique attribute, or for
permission sets (no lookup by name exists) one scan of the instance, cached.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from iamlayer.aws.gateways.base import Sleep, gone_is_fine, send
from iamlayer.aws.retry import Backoff, ic_timeout
from iamlayer.errors import AlreadyExistsError, AwsError, CredentialsError, NotFoundError
from iamlayer.spec.policy_grammar import policy_text
from iamlayer.state.ic_model import cm_parts, cm_ref

if TYPE_CHECKING:
    from mypy_boto3_identitystore import IdentityStoreClient
    from mypy_boto3_identitystore.type_defs import (
        AlternateIdentifierTypeDef,
        AttributeOperationTypeDef,
        GroupMembershipTypeDef,
        GroupTypeDef,
        UserTypeDef,
    )
    from mypy_boto3_sso_admin import SSOAdminClient
    from mypy_boto3_sso_admin.literals import PrincipalTypeType
    from mypy_boto3_sso_admin.type_defs import (
        AccountAssignmentForPrincipalTypeDef,
        AccountAssignmentTypeDef,
        CreateAccountAssignmentRequestTypeDef,
        CreatePermissionSetRequestTypeDef,
        CustomerManagedPolicyReferenceTypeDef,
        PermissionsBoundaryTypeDef,
        PermissionSetTypeDef,
        TagTypeDef,
        UpdatePermissionSetRequestTypeDef,
    )

    from iamlayer.aws.session import AccountClients

    #: the six fields that name an account assignment
    AssignmentFields = CreateAccountAssignmentRequestTypeDef
    #: one change of an identity-store user or group attribute (UpdateUser, UpdateGroup)
    AttributeOperation = AttributeOperationTypeDef


@dataclass(frozen=True)
class Instance:
    arn: str
    identity_store_id: str


def list_instances(client: SSOAdminClient, where: str) -> list[Instance]:
    """The account's Identity Center instances (usually none or one)."""
    pages = client.get_paginator("list_instances")
    found = send(
        f"listing IAM Identity Center instances {where}",
        lambda: [i for p in pages.paginate() for i in p.get("Instances", [])],
    )
    return [Instance(i.get("InstanceArn", ""), i.get("IdentityStoreId", "")) for i in found]


def find_instance(client: SSOAdminClient, where: str, wanted: str | None = None) -> Instance:
    """The Identity Center instance of the account (`wanted`, when it has several)."""
    found = list_instances(client, where)
    if wanted:
        found = [i for i in found if i.arn == wanted]
    if not found:
        what = f"instance {wanted}" if wanted else "IAM Identity Center instance"
        raise CredentialsError(
            f"no {what} {where}: enable IAM Identity Center there (console), or set "
            "identity_center.account and region to where it is"
        )
    if len(found) > 1:
        arns = ", ".join(i.arn for i in found)
        raise CredentialsError(
            f"several IAM Identity Center instances {where} ({arns}): set identity_center.instance_arn"
        )
    return found[0]


class PermissionSetLocks:
    """One lock per (instance ARN, permission set ARN): held by every write, provisioning and wait
    on that permission set, so two of them never run at once (AWS would answer ConflictException);
    writes to different permission sets go on side by side."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], threading.RLock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, instance_arn: str, permission_set_arn: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault((instance_arn, permission_set_arn), threading.RLock())
        with lock:
            yield


#: process-wide: every gateway on one instance shares its permission sets' locks
PERMISSION_SET_LOCKS = PermissionSetLocks()


class _Names:
    """Names to ids (see the module docstring), shared by an instance's two gateways."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def remember(self, kind: str, name: str, ident: str) -> None:
        with self._lock:
            self._ids[(kind, name)] = ident

    def known(self, kind: str, name: str) -> str | None:
        with self._lock:
            return self._ids.get((kind, name))


@dataclass(frozen=True)
class PermissionSetPolicies:
    """What a permission set has attached, as the handlers compare it."""

    managed: tuple[str, ...]  # AWS-managed policy ARNs
    customer_managed: tuple[str, ...]  # cm_ref(): "/path/name"
    inline: str | None  # the JSON text, or None


def _cm(ref: str) -> CustomerManagedPolicyReferenceTypeDef:
    path, name = cm_parts(ref)
    return {"Name": name, "Path": path}


def _boundary(value: str) -> PermissionsBoundaryTypeDef:
    if value.startswith("arn:"):
        return {"ManagedPolicyArn": value}
    return {"CustomerManagedPolicyReference": _cm(value)}


def _unique(path: str, value: str) -> AlternateIdentifierTypeDef:
    # boto3-stubs type a document value as a mapping; AWS takes any JSON value, here a string.
    return {"UniqueAttribute": {"AttributePath": path, "AttributeValue": value}}  # type: ignore[typeddict-item]


def _await(
    what: str,
    status: Mapping[str, Any],
    poll: Callable[[str], Mapping[str, Any]],
    *,
    sleep: Sleep,
    timeout: float | None = None,
) -> None:
    """Poll an asynchronous request until it SUCCEEDED; raise AwsError on FAILED, or when still
    IN_PROGRESS after Identity Center's bound, `ic_timeout()` (then an apply run again picks it
    up from AWS's state). `status` is the call's answer, `poll(request_id)` asks again. The first
    poll comes after one second, then 2, 4, 8, 8... seconds.
    """
    backoff = Backoff(ic_timeout() if timeout is None else timeout, first=1, cap=8, sleep=sleep)
    while status.get("Status") == "IN_PROGRESS":
        request = str(status.get("RequestId"))
        if not backoff.wait():
            raise AwsError(
                f"{what}: still IN_PROGRESS after {backoff.elapsed:.0f} s (request {request}); "
                "run apply again once AWS has finished it",
                code="InProgress",
            )
        status = send(f"{what}: asking how request {request} went", partial(poll, request))
    if status.get("Status") == "FAILED":
        raise AwsError(
            f"{what}: AWS reports FAILED: {status.get('FailureReason') or 'no reason given'}", code="FAILED"
        )


def _found(look_up: Callable[[], object]) -> bool:
    """Whether `look_up` finds what it looks for (NotFoundError: it does not)."""
    try:
        look_up()
    except NotFoundError:
        return False
    return True


class IdentityStoreGateway:
    """The identity store of an instance: users, groups, memberships, and their ids by name."""

    def __init__(
        self,
        client: IdentityStoreClient,
        instance: Callable[[], Instance],
        where: str,
        *,
        names: _Names,
        sleep: Sleep,
    ) -> None:
        self.client = client
        self.instance = instance
        self.where = where
        self._names = names
        self._sleep = sleep

    @property
    def store_id(self) -> str:
        return self.instance().identity_store_id

    def _write(self, attempted: str, call: Callable[[], Any], done: Callable[[], bool] | None = None) -> Any:
        """One write, retried while it races another on the same resource (ConflictException);
        `done`: the confirming read of a create whose conflict may mean it is there already."""
        return send(attempted, call, races=True, done=done, sleep=self._sleep)

    # -- names to ids -----------------------------------------------------------------------------
    def _id(self, kind: str, name: str, look_up: Callable[[], str]) -> str:
        """The id of the user or group (`kind`) called `name`: remembered, else `look_up()` (a
        request sent through send) and remembered."""
        known = self._names.known(kind, name)
        if known:
            return known
        found = look_up()
        self._names.remember(kind, name, found)
        return found

    def user_id(self, name: str) -> str:
        return self._id(
            "USER",
            name,
            lambda: send(
                f"looking up Identity Center user {name} {self.where}",
                lambda: self.client.get_user_id(
                    IdentityStoreId=self.store_id, AlternateIdentifier=_unique("userName", name)
                ),
            )["UserId"],
        )

    def group_id(self, name: str) -> str:
        return self._id(
            "GROUP",
            name,
            lambda: send(
                f"looking up Identity Center group {name} {self.where}",
                lambda: self.client.get_group_id(
                    IdentityStoreId=self.store_id, AlternateIdentifier=_unique("displayName", name)
                ),
            )["GroupId"],
        )

    def principal_id(self, kind: str, name: str) -> str:
        return self.group_id(name) if kind == "GROUP" else self.user_id(name)

    def has_user(self, name: str) -> bool:
        return _found(lambda: self.user_id(name))

    def has_group(self, name: str) -> bool:
        return _found(lambda: self.group_id(name))

    def has_membership(self, group_id: str, user_id: str) -> bool:
        return _found(
            lambda: self.membership_id(
                group_id, user_id, f"looking up the membership of {user_id} in group {group_id} {self.where}"
            )
        )

    def membership_id(self, group_id: str, user_id: str, attempted: str) -> str:
        return send(
            attempted,
            lambda: self.client.get_group_membership_id(
                IdentityStoreId=self.store_id, GroupId=group_id, MemberId={"UserId": user_id}
            ),
        )["MembershipId"]

    # -- users ------------------------------------------------------------------------------------
    def create_user(
        self, name: str, *, display_name: str, given_name: str, family_name: str, email: str, user_type: str
    ) -> str:
        """CreateUser; its id. AlreadyExistsError when the name is taken (the caller checks whose)."""
        got = self._write(
            f"creating Identity Center user {name} {self.where}",
            lambda: self.client.create_user(
                IdentityStoreId=self.store_id,
                UserName=name,
                DisplayName=display_name,
                Name={"GivenName": given_name, "FamilyName": family_name},
                Emails=[{"Value": email, "Type": "work", "Primary": True}],
                UserType=user_type,
            ),
            done=lambda: self.has_user(name),
        )
        user_id = str(got["UserId"])
        self._names.remember("USER", name, user_id)
        return user_id

    def user_type(self, name: str) -> str | None:
        """The UserType of an existing user (where iamlayer marks the users it made)."""
        user_id = self.user_id(name)
        user = send(
            f"checking existing Identity Center user {name} {self.where}",
            lambda: self.client.describe_user(IdentityStoreId=self.store_id, UserId=user_id),
        )
        return user.get("UserType")

    def update_user(self, name: str, user_id: str, operations: Sequence[AttributeOperationTypeDef]) -> None:
        self._write(
            f"updating Identity Center user {name} {self.where}",
            lambda: self.client.update_user(
                IdentityStoreId=self.store_id, UserId=user_id, Operations=operations
            ),
        )

    def delete_user(self, name: str, user_id: str) -> None:
        with gone_is_fine():
            self._write(
                f"deleting Identity Center user {name} {self.where}",
                lambda: self.client.delete_user(IdentityStoreId=self.store_id, UserId=user_id),
            )

    # -- groups -----------------------------------------------------------------------------------
    def create_group(self, name: str, description: str) -> str:
        """CreateGroup; its id. AlreadyExistsError when the name is taken (the caller checks whose)."""
        got = self._write(
            f"creating Identity Center group {name} {self.where}",
            lambda: self.client.create_group(
                IdentityStoreId=self.store_id, DisplayName=name, Description=description
            ),
            done=lambda: self.has_group(name),
        )
        group_id = str(got["GroupId"])
        self._names.remember("GROUP", name, group_id)
        return group_id

    def group_description(self, name: str) -> str | None:
        """The description of an existing group (where iamlayer marks the groups it made)."""
        group_id = self.group_id(name)
        group = send(
            f"checking existing Identity Center group {name} {self.where}",
            lambda: self.client.describe_group(IdentityStoreId=self.store_id, GroupId=group_id),
        )
        return group.get("Description")

    def update_group(self, name: str, group_id: str, description: str) -> None:
        self._write(
            f"updating Identity Center group {name} {self.where}",
            lambda: self.client.update_group(
                IdentityStoreId=self.store_id,
                GroupId=group_id,
                # (a document value: see _unique)
                Operations=[{"AttributePath": "description", "AttributeValue": description}],  # type: ignore[typeddict-item]
            ),
        )

    def delete_group(self, name: str, group_id: str) -> None:
        with gone_is_fine():
            self._write(
                f"deleting Identity Center group {name} {self.where}",
                lambda: self.client.delete_group(IdentityStoreId=self.store_id, GroupId=group_id),
            )

    def add_member(self, group: str, user: str, group_id: str, user_id: str) -> None:
        """Already a member is fine (a rerun after a lost answer)."""
        with suppress(AlreadyExistsError):
            self._write(
                f"adding {user} to Identity Center group {group} {self.where}",
                lambda: self.client.create_group_membership(
                    IdentityStoreId=self.store_id, GroupId=group_id, MemberId={"UserId": user_id}
                ),
                done=lambda: self.has_membership(group_id, user_id),
            )

    def remove_member(
        self, group: str, user: str, membership_id: str | None, group_id: str, user_id: str
    ) -> None:
        """Gone already is fine. Without `membership_id` it is looked up first."""
        what = f"removing {user} from Identity Center group {group} {self.where}"
        with gone_is_fine():
            membership = membership_id or self.membership_id(group_id, user_id, what)
            self._write(
                what,
                lambda: self.client.delete_group_membership(
                    IdentityStoreId=self.store_id, MembershipId=membership
                ),
            )

    # -- bulk reads -------------------------------------------------------------------------------
    def users(self, page_size: int) -> list[UserTypeDef]:
        pages = self.client.get_paginator("list_users")
        return send(
            f"listing Identity Center users (ListUsers) {self.where}",
            lambda: [
                u
                for p in pages.paginate(
                    IdentityStoreId=self.store_id, PaginationConfig={"PageSize": page_size}
                )
                for u in p["Users"]
            ],
        )

    def groups(self, page_size: int) -> list[GroupTypeDef]:
        pages = self.client.get_paginator("list_groups")
        return send(
            f"listing Identity Center groups (ListGroups) {self.where}",
            lambda: [
                g
                for p in pages.paginate(
                    IdentityStoreId=self.store_id, PaginationConfig={"PageSize": page_size}
                )
                for g in p["Groups"]
            ],
        )

    def memberships(self, group: str, group_id: str, page_size: int) -> list[GroupMembershipTypeDef]:
        pages = self.client.get_paginator("list_group_memberships")
        return send(
            f"listing the members of Identity Center group {group} {self.where}",
            lambda: [
                m
                for p in pages.paginate(
                    IdentityStoreId=self.store_id, GroupId=group_id, PaginationConfig={"PageSize": page_size}
                )
                for m in p["GroupMemberships"]
            ],
        )


class SsoAdminGateway:
    """sso-admin of an instance: permission sets and their policies, assignments, provisioning."""

    def __init__(
        self,
        client: SSOAdminClient,
        instance: Callable[[], Instance],
        where: str,
        *,
        names: _Names,
        sleep: Sleep,
        locks: PermissionSetLocks = PERMISSION_SET_LOCKS,
    ) -> None:
        self.client = client
        self.instance = instance
        self.where = where
        self._names = names
        self._sleep = sleep
        self._locks = locks

    @property
    def arn(self) -> str:
        return self.instance().arn

    def writing(self, permission_set_arn: str) -> AbstractContextManager[None]:
        """Hold the permission set's lock (see PermissionSetLocks)."""
        return self._locks.hold(self.arn, permission_set_arn)

    def _write(
        self, attempted: str, ps_arn: str, call: Callable[[], Any], done: Callable[[], bool] | None = None
    ) -> Any:
        """One write on permission set `ps_arn`, under its lock, retried while it races another
        (ConflictException); `done`: the confirming read when the conflict may mean "there already"."""
        with self.writing(ps_arn):
            return send(attempted, call, races=True, done=done, sleep=self._sleep)

    # -- names to ARNs, and the confirming reads ----------------------------------------------------
    def permission_set_arn(self, name: str) -> str:
        known = self._names.known("PERMISSION_SET", name)
        if known:
            return known
        self.scan_permission_sets()
        known = self._names.known("PERMISSION_SET", name)
        if not known:
            raise NotFoundError(
                f"permission set {name} not found {self.where}", code="ResourceNotFoundException"
            )
        return known

    def scan_permission_sets(self) -> dict[str, tuple[str, str]]:
        """Every permission set: name -> (ARN, description). Fills the cache of ARNs."""
        what = f"listing permission sets {self.where}"
        out: dict[str, tuple[str, str]] = {}
        for ps_arn in self.permission_sets(what):
            ps = self.describe(ps_arn, what)
            out[ps["Name"]] = (ps_arn, ps.get("Description", "") or "")
        for name, (ps_arn, _) in out.items():
            self._names.remember("PERMISSION_SET", name, ps_arn)
        return out

    def has_managed_policy(self, ps_arn: str, policy_arn: str) -> bool:
        return policy_arn in self.managed_policies(
            ps_arn, f"listing the managed policies of permission set {ps_arn} {self.where}"
        )

    def has_customer_policy(self, ps_arn: str, ref: str) -> bool:
        return ref in self.customer_policies(
            ps_arn, f"listing the customer-managed policies of permission set {ps_arn} {self.where}"
        )

    def has_assignment(self, fields: AssignmentFields) -> bool:
        """The assignment CreateAccountAssignment's `fields` name exists."""
        found = self.assignments(
            fields["PermissionSetArn"],
            fields["TargetId"],
            f"listing the assignments of permission set {fields['PermissionSetArn']} "
            f"to account {fields['TargetId']} {self.where}",
        )
        return any(
            (a.get("PrincipalType"), a.get("PrincipalId")) == (fields["PrincipalType"], fields["PrincipalId"])
            for a in found
        )

    # -- reads --------------------------------------------------------------------------------------
    def permission_sets(self, attempted: str) -> list[str]:
        pages = self.client.get_paginator("list_permission_sets")
        return send(
            attempted, lambda: [a for p in pages.paginate(InstanceArn=self.arn) for a in p["PermissionSets"]]
        )

    def describe(self, ps_arn: str, attempted: str) -> PermissionSetTypeDef:
        return send(
            attempted,
            lambda: self.client.describe_permission_set(InstanceArn=self.arn, PermissionSetArn=ps_arn),
        )["PermissionSet"]

    def managed_policies(self, ps_arn: str, attempted: str) -> tuple[str, ...]:
        pages = self.client.get_paginator("list_managed_policies_in_permission_set")
        return send(
            attempted,
            lambda: tuple(
                m.get("Arn", "")
                for p in pages.paginate(InstanceArn=self.arn, PermissionSetArn=ps_arn)
                for m in p["AttachedManagedPolicies"]
            ),
        )

    def customer_policies(self, ps_arn: str, attempted: str) -> tuple[str, ...]:
        """cm_ref()s: "/path/name"."""
        pages = self.client.get_paginator("list_customer_managed_policy_references_in_permission_set")
        return send(
            attempted,
            lambda: tuple(
                cm_ref(r.get("Path", "/") or "/", r["Name"])
                for p in pages.paginate(InstanceArn=self.arn, PermissionSetArn=ps_arn)
                for r in p["CustomerManagedPolicyReferences"]
            ),
        )

    def inline_policy(self, ps_arn: str, attempted: str) -> str | None:
        got = send(
            attempted,
            lambda: self.client.get_inline_policy_for_permission_set(
                InstanceArn=self.arn, PermissionSetArn=ps_arn
            ),
        )
        return got.get("InlinePolicy") or None

    def policies(self, ps_arn: str) -> PermissionSetPolicies:
        what = f"reading the policies of permission set {ps_arn} {self.where}"
        return PermissionSetPolicies(
            managed=self.managed_policies(ps_arn, what),
            customer_managed=self.customer_policies(ps_arn, what),
            inline=self.inline_policy(ps_arn, what),
        )

    def provisioned_accounts(self, ps_arn: str, attempted: str, *, outdated: bool = False) -> list[str]:
        """The accounts the permission set is provisioned to; `outdated`: only those holding an
        older version than the latest."""
        pages = self.client.get_paginator("list_accounts_for_provisioned_permission_set")
        if outdated:
            return send(
                attempted,
                lambda: [
                    a
                    for p in pages.paginate(
                        InstanceArn=self.arn,
                        PermissionSetArn=ps_arn,
                        ProvisioningStatus="LATEST_PERMISSION_SET_NOT_PROVISIONED",
                    )
                    for a in p["AccountIds"]
                ],
            )
        return send(
            attempted,
            lambda: [
                a
                for p in pages.paginate(InstanceArn=self.arn, PermissionSetArn=ps_arn)
                for a in p["AccountIds"]
            ],
        )

    def assignments(self, ps_arn: str, account_id: str, attempted: str) -> list[AccountAssignmentTypeDef]:
        pages = self.client.get_paginator("list_account_assignments")
        return send(
            attempted,
            lambda: [
                a
                for p in pages.paginate(InstanceArn=self.arn, AccountId=account_id, PermissionSetArn=ps_arn)
                for a in p["AccountAssignments"]
            ],
        )

    def principal_assignments(
        self, principal_type: PrincipalTypeType, principal_id: str, attempted: str, *, page_size: int = 100
    ) -> list[AccountAssignmentForPrincipalTypeDef]:
        """Every assignment of one user or group in the instance, whatever the permission set
        and account (ListAccountAssignmentsForPrincipal, `page_size` per page: AWS's most is 100)."""
        pages = self.client.get_paginator("list_account_assignments_for_principal")
        return send(
            attempted,
            lambda: [
                a
                for p in pages.paginate(
                    InstanceArn=self.arn,
                    PrincipalId=principal_id,
                    PrincipalType=principal_type,
                    PaginationConfig={"PageSize": page_size},
                )
                for a in p["AccountAssignments"]
            ],
        )

    def boundary(self, ps_arn: str, what: str) -> str | None:
        """A permission set's boundary: an AWS-managed policy ARN, a cm_ref(), or None when it has
        none. `what` ends the error message ("of permission set DevOps in account ...")."""
        try:
            got = send(
                f"reading the permissions boundary {what}",
                lambda: self.client.get_permissions_boundary_for_permission_set(
                    InstanceArn=self.arn, PermissionSetArn=ps_arn
                ),
            )["PermissionsBoundary"]
        except NotFoundError:
            return None  # AWS answers ResourceNotFoundException when there is none
        ref = got.get("CustomerManagedPolicyReference")
        if ref:
            return cm_ref(ref.get("Path", "/") or "/", ref["Name"])
        arn = got.get("ManagedPolicyArn")
        return str(arn) if arn else None

    # -- permission sets ------------------------------------------------------------------------------
    def create_permission_set(
        self, name: str, *, description: str, session_duration: str, relay_state: str, tags: Mapping[str, str]
    ) -> tuple[str, str | None]:
        """(ARN, None) for a permission set made now; (ARN, its description) when the name was
        taken already (the confirming read found it: the caller checks whose it is)."""
        tag_list: list[TagTypeDef] = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
        args: CreatePermissionSetRequestTypeDef = {
            "InstanceArn": self.arn,
            "Name": name,
            "Description": description,
            "SessionDuration": session_duration,
            "Tags": tag_list,
        }
        if relay_state:
            args["RelayState"] = relay_state
        listed: dict[str, tuple[str, str]] = {}

        def exists() -> bool:
            """The confirming read after a ConflictException: is a permission set of this name there
            (the name taken, perhaps by our own earlier apply), or was it a race?"""
            listed.update(self.scan_permission_sets())
            return name in listed

        try:
            arn = send(
                f"creating permission set {name} {self.where}",
                lambda: self.client.create_permission_set(**args),
                races=True,
                done=exists,
                sleep=self._sleep,
            )["PermissionSet"].get("PermissionSetArn", "")
        except AlreadyExistsError:
            return listed[name]
        self._names.remember("PERMISSION_SET", name, arn)
        return arn, None

    def update_permission_set(
        self, name: str, ps_arn: str, *, description: str, session_duration: str, relay_state: str
    ) -> None:
        args: UpdatePermissionSetRequestTypeDef = {
            "InstanceArn": self.arn,
            "PermissionSetArn": ps_arn,
            "Description": description,
            "SessionDuration": session_duration,
        }
        if relay_state:
            args["RelayState"] = relay_state
        self._write(
            f"updating permission set {name} {self.where}",
            ps_arn,
            lambda: self.client.update_permission_set(**args),
        )

    def delete_permission_set(self, name: str, ps_arn: str) -> None:
        """Gone already is fine. Its assignments were deleted by earlier changes; AWS answers
        ConflictException until it has finished removing the role from those accounts (retried)."""
        with gone_is_fine():
            self._write(
                f"deleting permission set {name} {self.where}",
                ps_arn,
                lambda: self.client.delete_permission_set(InstanceArn=self.arn, PermissionSetArn=ps_arn),
            )

    def attach_managed_policy(self, name: str, ps_arn: str, policy: str) -> None:
        """Attached already is fine (a rerun of a create an interrupted apply began)."""
        with suppress(AlreadyExistsError):
            self._write(
                f"attaching {policy} to permission set {name} {self.where}",
                ps_arn,
                lambda: self.client.attach_managed_policy_to_permission_set(
                    InstanceArn=self.arn, PermissionSetArn=ps_arn, ManagedPolicyArn=policy
                ),
                done=lambda: self.has_managed_policy(ps_arn, policy),
            )

    def detach_managed_policy(self, name: str, ps_arn: str, policy: str) -> None:
        with gone_is_fine():
            self._write(
                f"detaching {policy} from permission set {name} {self.where}",
                ps_arn,
                lambda: self.client.detach_managed_policy_from_permission_set(
                    InstanceArn=self.arn, PermissionSetArn=ps_arn, ManagedPolicyArn=policy
                ),
            )

    def attach_customer_policy(self, name: str, ps_arn: str, ref: str) -> None:
        """`ref`: "/path/name". Attached already is fine."""
        with suppress(AlreadyExistsError):
            self._write(
                f"attaching customer-managed policy {ref} to permission set {name} {self.where}",
                ps_arn,
                lambda: self.client.attach_customer_managed_policy_reference_to_permission_set(
                    InstanceArn=self.arn, PermissionSetArn=ps_arn, CustomerManagedPolicyReference=_cm(ref)
                ),
                done=lambda: self.has_customer_policy(ps_arn, ref),
            )

    def detach_customer_policy(self, name: str, ps_arn: str, ref: str) -> None:
        with gone_is_fine():
            self._write(
                f"detaching customer-managed policy {ref} from permission set {name} {self.where}",
                ps_arn,
                lambda: self.client.detach_customer_managed_policy_reference_from_permission_set(
                    InstanceArn=self.arn, PermissionSetArn=ps_arn, CustomerManagedPolicyReference=_cm(ref)
                ),
            )

    def put_inline_policy(self, name: str, ps_arn: str, document: Mapping[str, Any]) -> None:
        self._write(
            f"writing the inline policy of permission set {name} {self.where}",
            ps_arn,
            lambda: self.client.put_inline_policy_to_permission_set(
                InstanceArn=self.arn,
                PermissionSetArn=ps_arn,
                InlinePolicy=policy_text(document),
            ),
        )

    def delete_inline_policy(self, name: str, ps_arn: str) -> None:
        with gone_is_fine():
            self._write(
                f"deleting the inline policy of permission set {name} {self.where}",
                ps_arn,
                lambda: self.client.delete_inline_policy_from_permission_set(
                    InstanceArn=self.arn, PermissionSetArn=ps_arn
                ),
            )

    def put_boundary(self, name: str, ps_arn: str, boundary: str) -> None:
        """`boundary`: an AWS-managed policy ARN, or a customer-managed "/path/name"."""
        self._write(
            f"setting the permissions boundary of permission set {name} {self.where}",
            ps_arn,
            lambda: self.client.put_permissions_boundary_to_permission_set(
                InstanceArn=self.arn, PermissionSetArn=ps_arn, PermissionsBoundary=_boundary(boundary)
            ),
        )

    def delete_boundary(self, name: str, ps_arn: str) -> None:
        with gone_is_fine():
            self._write(
                f"removing the permissions boundary of permission set {name} {self.where}",
                ps_arn,
                lambda: self.client.delete_permissions_boundary_from_permission_set(
                    InstanceArn=self.arn, PermissionSetArn=ps_arn
                ),
            )

    # -- assignments and provisioning (asynchronous: waited for under the permission set's lock) --------
    def create_assignment(self, what: str, fields: AssignmentFields) -> None:
        """Assign, and wait until AWS has. Assigned already is fine (a rerun after a lost answer,
        or someone else made the same one). `what` names it: "the assignment of DevOps in shared
        to group/devops"."""
        attempted = f"creating {what} {self.where}"
        with self.writing(fields["PermissionSetArn"]):
            try:
                answer = send(
                    attempted,
                    lambda: self.client.create_account_assignment(**fields),
                    races=True,
                    done=lambda: self.has_assignment(fields),
                    sleep=self._sleep,
                )
            except AlreadyExistsError:
                return
            _await(
                attempted,
                answer["AccountAssignmentCreationStatus"],
                lambda request: self.client.describe_account_assignment_creation_status(
                    InstanceArn=self.arn, AccountAssignmentCreationRequestId=request
                )["AccountAssignmentCreationStatus"],
                sleep=self._sleep,
            )

    def delete_assignment(self, what: str, fields: AssignmentFields) -> None:
        """Remove, and wait until AWS has. Gone already is fine."""
        attempted = f"deleting {what} {self.where}"
        with self.writing(fields["PermissionSetArn"]), gone_is_fine():
            answer = send(
                attempted,
                lambda: self.client.delete_account_assignment(**fields),
                races=True,
                sleep=self._sleep,
            )
            _await(
                attempted,
                answer["AccountAssignmentDeletionStatus"],
                lambda request: self.client.describe_account_assignment_deletion_status(
                    InstanceArn=self.arn, AccountAssignmentDeletionRequestId=request
                )["AccountAssignmentDeletionStatus"],
                sleep=self._sleep,
            )

    def provision(self, name: str, ps_arn: str, account_id: str, account: str) -> None:
        """Re-provision the permission set to one account, and wait until AWS has (`account`: its
        name, for messages)."""
        attempted = f"re-provisioning permission set {name} to account {account} {self.where}"
        with self.writing(ps_arn):
            answer = send(
                attempted,
                lambda: self.client.provision_permission_set(
                    InstanceArn=self.arn,
                    PermissionSetArn=ps_arn,
                    TargetType="AWS_ACCOUNT",
                    TargetId=account_id,
                ),
                races=True,
                sleep=self._sleep,
            )
            _await(
                attempted,
                answer["PermissionSetProvisioningStatus"],
                lambda request: self.client.describe_permission_set_provisioning_status(
                    InstanceArn=self.arn, ProvisionPermissionSetRequestId=request
                )["PermissionSetProvisioningStatus"],
                sleep=self._sleep,
            )


class IdentityCenter:
    """IAM Identity Center in the account where its instance lives: the instance (found once, when
    first needed: ListInstances), its sso-admin and identity-store gateways, which share the names
    resolved to ids."""

    def __init__(
        self,
        sso: SSOAdminClient,
        store: IdentityStoreClient,
        where: str,
        *,
        instance_arn: str | None = None,
        sleep: Sleep = time.sleep,
        locks: PermissionSetLocks = PERMISSION_SET_LOCKS,
        instance: Instance | None = None,
    ) -> None:
        self.where = where
        self._wanted = instance_arn
        self._instance = instance
        self._lock = threading.Lock()
        names = _Names()
        self.sso = SsoAdminGateway(sso, self.instance, where, names=names, sleep=sleep, locks=locks)
        self.store = IdentityStoreGateway(store, self.instance, where, names=names, sleep=sleep)

    @classmethod
    def for_account(
        cls,
        clients: AccountClients,
        region: str,
        where: str,
        *,
        instance_arn: str | None = None,
        instance: Instance | None = None,
    ) -> IdentityCenter:
        """`instance`: found already (no ListInstances)."""
        return cls(
            clients.sso_admin(region),
            clients.identitystore(region),
            where,
            instance_arn=instance_arn,
            instance=instance,
        )

    def instance(self) -> Instance:
        with self._lock:
            if self._instance is None:
                self._instance = find_instance(self.sso.client, self.where, self._wanted)
            return self._instance

    @property
    def arn(self) -> str:
        return self.instance().arn

    @property
    def store_id(self) -> str:
        return self.instance().identity_store_id

"""IAM Identity Center (sso-admin and identitystore): the instance, the bulk read, names to ids,
and the waiters for its asynchronous calls.

The read (`read_identity_center`) costs, whatever the number of people: ListInstances; ListUsers
and ListGroups (100 per page); ListGroupMemberships per owned group; ListPermissionSets and a
DescribePermissionSet per permission set (the only way to learn their names); per owned
permission set ListManagedPoliciesInPermissionSet, ListCustomerManagedPolicyReferences-
InPermissionSet, GetInlinePolicyForPermissionSet and ListAccountsForProvisionedPermissionSet twice
(every account it is provisioned to, and those that hold an outdated version: one call each
whatever the number of accounts) (GetPermissionsBoundaryForPermissionSet only where the spec
manages the boundary); and
ListAccountAssignments per owned permission set and account (the spec's accounts, and any other
the permission set is provisioned to). AWS has no bulk listing of assignments: the cost grows
with permission sets x accounts, not with people. Calls run concurrently (bounded).

Asynchronous calls (CreateAccountAssignment, DeleteAccountAssignment, ProvisionPermissionSet)
answer IN_PROGRESS and a request id; `await_request` polls the matching Describe...Status with
iamlayer's one Backoff, up to the consistency bound, until SUCCEEDED, and raises AwsError
with AWS's FailureReason on FAILED.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from iamlayer.audit.model import IcAssignment, IcPermissionSet, IdentityCenterAudit, Unavailable
from iamlayer.aws.accounts import Connection
from iamlayer.aws.errors import aws_call
from iamlayer.aws.read import read_all
from iamlayer.aws.retry import Backoff, ic_timeout
from iamlayer.aws.session import AccountClients
from iamlayer.errors import AwsError, CredentialsError, IamlayerError, NotFoundError
from iamlayer.spec.ic_model import duration_seconds
from iamlayer.spec.model import Spec
from iamlayer.state.ic_model import (
    AssignmentState,
    IcGroupState,
    IcState,
    IcUserState,
    PermissionSetState,
    cm_ref,
    split_marker,
)
from iamlayer.state.normalize import normalize

# The operator's read permissions for these calls are declared by the kinds (iamlayer.kinds).
#: ListUsers, ListGroups and ListGroupMemberships answer at most 100 per page
STORE_PAGE = 100
MAX_READ_WORKERS = 8


@dataclass(frozen=True)
class Instance:
    arn: str
    identity_store_id: str


def sso_admin(clients: AccountClients, region: str) -> Any:
    return clients.client("sso-admin", region)


def identity_store(clients: AccountClients, region: str) -> Any:
    return clients.client("identitystore", region)


def find_instance(sso: Any, where: str, wanted: str | None = None) -> Instance:
    """The Identity Center instance of the account (`wanted`, when it has several)."""
    with aws_call(f"listing IAM Identity Center instances {where}"):
        found = read_all(sso, "list_instances").get("Instances", [])
    if wanted:
        found = [i for i in found if i["InstanceArn"] == wanted]
    if not found:
        what = f"instance {wanted}" if wanted else "IAM Identity Center instance"
        raise CredentialsError(
            f"no {what} {where}: enable IAM Identity Center there (console), or set "
            "identity_center.account and region to where it is"
        )
    if len(found) > 1:
        arns = ", ".join(i["InstanceArn"] for i in found)
        raise CredentialsError(
            f"several IAM Identity Center instances {where} ({arns}): set identity_center.instance_arn"
        )
    return Instance(str(found[0]["InstanceArn"]), str(found[0]["IdentityStoreId"]))


def _primary_email(user: Mapping[str, Any]) -> str:
    emails = user.get("Emails") or []
    primary = next((e for e in emails if e.get("Primary")), emails[0] if emails else {})
    return str(primary.get("Value", ""))


def _inline(text: str | None) -> dict[str, Any] | None:
    return normalize(json.loads(text)) if text else None


@dataclass
class _Reader:
    sso: Any
    store: Any
    instance: Instance
    where: str
    pool: ThreadPoolExecutor
    state: IcState = field(default_factory=IcState)
    user_names: dict[str, str] = field(default_factory=dict)  # id -> name
    group_names: dict[str, str] = field(default_factory=dict)

    def principals(self) -> None:
        store_id = self.instance.identity_store_id
        with aws_call(f"listing Identity Center users (ListUsers) {self.where}"):
            users = read_all(
                self.store, "list_users", IdentityStoreId=store_id, PaginationConfig={"PageSize": STORE_PAGE}
            ).get("Users", [])
        for u in users:
            name = u.get("Name") or {}
            self.state.users[u["UserName"]] = IcUserState(
                name=u["UserName"],
                id=u["UserId"],
                display_name=u.get("DisplayName", "") or "",
                given_name=name.get("GivenName", "") or "",
                family_name=name.get("FamilyName", "") or "",
                email=_primary_email(u),
                owner=split_marker(u.get("UserType"))[1],
            )
            self.user_names[u["UserId"]] = u["UserName"]
        with aws_call(f"listing Identity Center groups (ListGroups) {self.where}"):
            groups = read_all(
                self.store, "list_groups", IdentityStoreId=store_id, PaginationConfig={"PageSize": STORE_PAGE}
            ).get("Groups", [])
        for g in groups:
            description, owner = split_marker(g.get("Description"))
            self.state.groups[g["DisplayName"]] = IcGroupState(
                name=g["DisplayName"], id=g["GroupId"], description=description, owner=owner
            )
            self.group_names[g["GroupId"]] = g["DisplayName"]

    def members(self, group: IcGroupState) -> None:
        with aws_call(f"listing the members of Identity Center group {group.name} {self.where}"):
            found = read_all(
                self.store,
                "list_group_memberships",
                IdentityStoreId=self.instance.identity_store_id,
                GroupId=group.id,
                PaginationConfig={"PageSize": STORE_PAGE},
            ).get("GroupMemberships", [])
        for m in found:
            user_id = (m.get("MemberId") or {}).get("UserId", "")
            group.members[self.user_names.get(user_id, f"id:{user_id}")] = m["MembershipId"]

    def describe(self, arn: str) -> PermissionSetState:
        with aws_call(f"describing permission set {arn} {self.where}"):
            ps = self.sso.describe_permission_set(InstanceArn=self.instance.arn, PermissionSetArn=arn)[
                "PermissionSet"
            ]
        description, owner = split_marker(ps.get("Description"))
        duration = ps.get("SessionDuration")
        return PermissionSetState(
            name=ps["Name"],
            arn=arn,
            description=description,
            owner=owner,
            # The emulator answers the number 3600 for a permission set made without a duration.
            session_duration=f"PT{duration // 3600}H"
            if isinstance(duration, int)
            else str(duration or "PT1H"),
            relay_state=ps.get("RelayState", "") or "",
        )

    def details(self, ps: PermissionSetState, boundary: bool) -> list[str]:
        """Fill a permission set's policies (and boundary); return the accounts it is provisioned to."""
        args = {"InstanceArn": self.instance.arn, "PermissionSetArn": ps.arn}
        w = f"of permission set {ps.name} {self.where}"
        with aws_call(f"reading the policies {w}"):
            managed = read_all(self.sso, "list_managed_policies_in_permission_set", **args)
            customer = read_all(self.sso, "list_customer_managed_policy_references_in_permission_set", **args)
            inline = self.sso.get_inline_policy_for_permission_set(**args).get("InlinePolicy")
            provisioned = read_all(self.sso, "list_accounts_for_provisioned_permission_set", **args)
            # AWS keeps the version each account was last provisioned with: a permission set
            # changed but never provisioned again (an apply killed in between, or a change made
            # from another clone or by hand) is outdated there, whatever any local record says.
            outdated = read_all(
                self.sso,
                "list_accounts_for_provisioned_permission_set",
                **args,
                ProvisioningStatus="LATEST_PERMISSION_SET_NOT_PROVISIONED",
            )
        ps.policies = frozenset(p["Arn"] for p in managed.get("AttachedManagedPolicies", []))
        ps.customer_managed = frozenset(
            cm_ref(r.get("Path", "/") or "/", r["Name"])
            for r in customer.get("CustomerManagedPolicyReferences", [])
        )
        ps.inline = _inline(inline)
        ps.outdated = frozenset(str(a) for a in outdated.get("AccountIds", []))
        if boundary:
            ps.boundary_read = True
            ps.boundary = read_boundary(self.sso, self.instance.arn, ps.arn, w)
        return [str(a) for a in provisioned.get("AccountIds", [])]

    def assignments(self, ps: PermissionSetState, account_id: str) -> list[AssignmentState]:
        with aws_call(
            f"listing assignments of permission set {ps.name} in account {account_id} {self.where}"
        ):
            found = read_all(
                self.sso,
                "list_account_assignments",
                InstanceArn=self.instance.arn,
                AccountId=account_id,
                PermissionSetArn=ps.arn,
            ).get("AccountAssignments", [])
        out = []
        for a in found:
            kind, pid = a["PrincipalType"], a["PrincipalId"]
            names = self.group_names if kind == "GROUP" else self.user_names
            out.append(AssignmentState(kind, names.get(pid, f"id:{pid}"), ps.name, str(a["AccountId"])))
        return out


def read_boundary(sso: Any, instance_arn: str, ps_arn: str, what: str) -> str | None:
    """A permission set's boundary: an AWS-managed policy ARN, a cm_ref(), or None when it has none.

    `what` ends the error message ("of permission set DevOps in account ...").
    """
    try:
        with aws_call(f"reading the permissions boundary {what}"):
            got = sso.get_permissions_boundary_for_permission_set(
                InstanceArn=instance_arn, PermissionSetArn=ps_arn
            )["PermissionsBoundary"]
    except NotFoundError:
        return None  # AWS answers ResourceNotFoundException when there is none
    ref = got.get("CustomerManagedPolicyReference")
    if ref:
        return cm_ref(ref.get("Path", "/") or "/", ref["Name"])
    arn = got.get("ManagedPolicyArn")
    return str(arn) if arn else None


def read_identity_center(
    clients: AccountClients,
    region: str,
    *,
    instance_arn: str | None = None,
    detail: Callable[[PermissionSetState], bool],
    members_of: Callable[[IcGroupState], bool] = lambda g: False,
    account_ids: Iterable[str],
    boundaries: frozenset[str] = frozenset(),
    max_workers: int = MAX_READ_WORKERS,
    instance: Instance | None = None,
) -> IcState:
    """The instance's users, groups, permission sets and assignments (see the module docstring).

    `detail(ps)` says which permission sets get their policies and assignments read (the planner:
    those iamlayer owns; the audit: all), `members_of(group)` which groups get their members read
    (the planner: those iamlayer owns). `boundaries` names the permission sets
    whose boundary is read. `account_ids` are the accounts whose assignments are listed, besides
    those each permission set is provisioned to. `instance`: found already (no ListInstances).
    """
    where = f"in account {clients.label} ({region})"
    sso, store = sso_admin(clients, region), identity_store(clients, region)
    instance = instance or find_instance(sso, where, instance_arn)
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        r = _Reader(sso, store, instance, where, pool)
        r.state.instance_arn, r.state.identity_store_id = instance.arn, instance.identity_store_id
        r.principals()
        with aws_call(f"listing permission sets {where}"):
            arns = read_all(sso, "list_permission_sets", InstanceArn=instance.arn).get("PermissionSets", [])
        sets = list(pool.map(r.describe, arns))
        r.state.permission_sets = {ps.name: ps for ps in sets}
        detailed = [ps for ps in sets if detail(ps)]
        provisioned = list(pool.map(lambda ps: r.details(ps, ps.name in boundaries), detailed))
        list(pool.map(r.members, [g for g in r.state.groups.values() if members_of(g)]))
        wanted = list(dict.fromkeys(account_ids))
        pairs = [
            (ps, a)
            for ps, prov in zip(detailed, provisioned, strict=True)
            for a in dict.fromkeys([*wanted, *prov])
        ]
        for found in pool.map(lambda p: r.assignments(*p), pairs):
            r.state.assignments.update(found)
    return r.state


def read_identity_center_for_import(
    clients: AccountClients, region: str, account_ids: Iterable[str]
) -> tuple[IcState | None, dict[str, str]]:
    """Everything `iamlayer import aws` needs of the instance in this account, whoever made it:
    users, groups with their members, permission sets with their policies and boundary, and
    their assignments in `account_ids` (and wherever they are provisioned). None when the
    account has no instance; CredentialsError when it has several.

    Also, by permission set name, why its boundary could not be read (then `boundary_read` stays
    False and the import leaves the boundary alone). The read costs what the plan's does, every
    permission set and group detailed, plus one GetPermissionsBoundaryForPermissionSet each.
    """
    where = f"in account {clients.label} ({region})"
    sso = sso_admin(clients, region)
    with aws_call(f"listing IAM Identity Center instances {where}"):
        found = read_all(sso, "list_instances").get("Instances", [])
    if not found:
        return None, {}
    instance = find_instance(sso, where) if len(found) > 1 else None  # several: raises, naming them
    instance = instance or Instance(str(found[0]["InstanceArn"]), str(found[0]["IdentityStoreId"]))
    state = read_identity_center(
        clients,
        region,
        detail=lambda ps: True,
        members_of=lambda g: True,
        account_ids=account_ids,
        instance=instance,
    )
    unread: dict[str, str] = {}
    for ps in state.permission_sets.values():
        try:
            ps.boundary = read_boundary(
                sso, state.instance_arn, ps.arn, f"of permission set {ps.name} {where}"
            )
            ps.boundary_read = True
        except AwsError as exc:
            unread[ps.name] = str(exc)
    return state, unread


# --- names to ids, during an apply ---------------------------------------------------------------


def _unique(path: str, value: str) -> dict[str, Any]:
    return {"AlternateIdentifier": {"UniqueAttribute": {"AttributePath": path, "AttributeValue": value}}}


class Directory:
    """Names to ids in one instance: what this apply created, what the plan knew, else a lookup.

    The plan cannot know the id of a user, group or permission set the same apply creates; the
    create handlers `remember` them, and the handlers that come later (memberships, assignments,
    re-provisioning) ask here. A name not remembered is looked up: GetUserId / GetGroupId by the
    unique attribute, or, for permission sets (no lookup by name exists), one scan of the
    instance, cached.

    It also makes the confirming reads (`has_...`) that tell, after a ConflictException on a
    create or attach, whether what was written is there (iamlayer.aws.errors.CONFLICT_MAYBE_DONE).
    """

    def __init__(self, sso: Any, store: Any, instance: Callable[[], Instance], where: str) -> None:
        self.sso = sso
        self.store = store
        self.instance = instance
        self.where = where
        self._ids: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def remember(self, kind: str, name: str, ident: str) -> None:
        with self._lock:
            self._ids[(kind, name)] = ident

    def _known(self, kind: str, name: str) -> str | None:
        with self._lock:
            return self._ids.get((kind, name))

    def user_id(self, name: str) -> str:
        known = self._known("USER", name)
        if known:
            return known
        with aws_call(f"looking up Identity Center user {name} {self.where}"):
            found = self.store.get_user_id(
                IdentityStoreId=self.instance().identity_store_id, **_unique("userName", name)
            )["UserId"]
        self.remember("USER", name, str(found))
        return str(found)

    def group_id(self, name: str) -> str:
        known = self._known("GROUP", name)
        if known:
            return known
        with aws_call(f"looking up Identity Center group {name} {self.where}"):
            found = self.store.get_group_id(
                IdentityStoreId=self.instance().identity_store_id, **_unique("displayName", name)
            )["GroupId"]
        self.remember("GROUP", name, str(found))
        return str(found)

    def principal_id(self, kind: str, name: str) -> str:
        return self.group_id(name) if kind == "GROUP" else self.user_id(name)

    def permission_set_arn(self, name: str) -> str:
        known = self._known("PERMISSION_SET", name)
        if known:
            return known
        self.scan_permission_sets()
        known = self._known("PERMISSION_SET", name)
        if not known:
            raise NotFoundError(
                f"permission set {name} not found {self.where}", code="ResourceNotFoundException"
            )
        return known

    def scan_permission_sets(self) -> dict[str, tuple[str, str]]:
        """Every permission set: name -> (ARN, description). Fills the cache of ARNs."""
        arn = self.instance().arn
        out: dict[str, tuple[str, str]] = {}
        with aws_call(f"listing permission sets {self.where}"):
            for ps_arn in read_all(self.sso, "list_permission_sets", InstanceArn=arn).get(
                "PermissionSets", []
            ):
                ps = self.sso.describe_permission_set(InstanceArn=arn, PermissionSetArn=ps_arn)[
                    "PermissionSet"
                ]
                out[ps["Name"]] = (ps_arn, ps.get("Description", "") or "")
        for name, (ps_arn, _) in out.items():
            self.remember("PERMISSION_SET", name, ps_arn)
        return out

    # Confirming reads: after a ConflictException on a create or attach (which AWS answers both
    # for a write racing another and for what is there already; iamlayer.aws.errors), is it
    # there? True: done already, or the name taken; False: a race, to retry. (For a permission
    # set's name, `scan_permission_sets`.)

    def has_managed_policy(self, ps_arn: str, policy_arn: str) -> bool:
        with aws_call(f"listing the managed policies of permission set {ps_arn} {self.where}"):
            found = read_all(
                self.sso,
                "list_managed_policies_in_permission_set",
                InstanceArn=self.instance().arn,
                PermissionSetArn=ps_arn,
            ).get("AttachedManagedPolicies", [])
        return any(p.get("Arn") == policy_arn for p in found)

    def has_customer_policy(self, ps_arn: str, path: str, name: str) -> bool:
        with aws_call(f"listing the customer-managed policies of permission set {ps_arn} {self.where}"):
            found = read_all(
                self.sso,
                "list_customer_managed_policy_references_in_permission_set",
                InstanceArn=self.instance().arn,
                PermissionSetArn=ps_arn,
            ).get("CustomerManagedPolicyReferences", [])
        return any((r.get("Path", "/") or "/", r.get("Name")) == (path, name) for r in found)

    def has_assignment(self, fields: Mapping[str, str]) -> bool:
        """The assignment CreateAccountAssignment's `fields` name exists."""
        with aws_call(
            f"listing the assignments of permission set {fields['PermissionSetArn']} "
            f"to account {fields['TargetId']} {self.where}"
        ):
            found = read_all(
                self.sso,
                "list_account_assignments",
                InstanceArn=fields["InstanceArn"],
                AccountId=fields["TargetId"],
                PermissionSetArn=fields["PermissionSetArn"],
            ).get("AccountAssignments", [])
        return any(
            (a.get("PrincipalType"), a.get("PrincipalId")) == (fields["PrincipalType"], fields["PrincipalId"])
            for a in found
        )

    def has_user(self, name: str) -> bool:
        try:
            self.user_id(name)
        except NotFoundError:
            return False
        return True

    def has_group(self, name: str) -> bool:
        try:
            self.group_id(name)
        except NotFoundError:
            return False
        return True

    def has_membership(self, group_id: str, user_id: str) -> bool:
        try:
            with aws_call(f"looking up the membership of {user_id} in group {group_id} {self.where}"):
                self.store.get_group_membership_id(
                    IdentityStoreId=self.instance().identity_store_id,
                    GroupId=group_id,
                    MemberId={"UserId": user_id},
                )
        except NotFoundError:
            return False
        return True


# --- waiting for asynchronous requests -----------------------------------------------------------

#: what each asynchronous call answers, and how its status is asked for again
ASSIGNMENT_CREATION = (
    "AccountAssignmentCreationStatus",
    "describe_account_assignment_creation_status",
    "AccountAssignmentCreationRequestId",
)
ASSIGNMENT_DELETION = (
    "AccountAssignmentDeletionStatus",
    "describe_account_assignment_deletion_status",
    "AccountAssignmentDeletionRequestId",
)
PROVISIONING = (
    "PermissionSetProvisioningStatus",
    "describe_permission_set_provisioning_status",
    "ProvisionPermissionSetRequestId",
)


def await_request(
    sso: Any,
    instance_arn: str,
    answer: Mapping[str, Any],
    kind: tuple[str, str, str],
    what: str,
    *,
    sleep: Callable[[float], None],
    timeout: float | None = None,
) -> None:
    """Poll an asynchronous request until it SUCCEEDED; raise AwsError on FAILED, or when still
    IN_PROGRESS after Identity Center's bound, `ic_timeout()` (then an apply run again picks it up
    from AWS's state).

    `answer` is the call's response; `kind` one of ASSIGNMENT_CREATION, ASSIGNMENT_DELETION and
    PROVISIONING. The first poll comes after one second, then 2, 4, 8, 8... seconds.
    """
    key, describe, id_param = kind
    status = answer[key]
    backoff = Backoff(ic_timeout() if timeout is None else timeout, first=1, cap=8, sleep=sleep)
    while status.get("Status") == "IN_PROGRESS":
        if not backoff.wait():
            raise AwsError(
                f"{what}: still IN_PROGRESS after {backoff.elapsed:.0f} s (request {status.get('RequestId')}); "
                "run apply again once AWS has finished it",
                code="InProgress",
            )
        with aws_call(f"{what}: asking how request {status.get('RequestId')} went"):
            status = getattr(sso, describe)(InstanceArn=instance_arn, **{id_param: status["RequestId"]})[key]
    if status.get("Status") == "FAILED":
        raise AwsError(
            f"{what}: AWS reports FAILED: {status.get('FailureReason') or 'no reason given'}", code="FAILED"
        )


# --- for the audit -------------------------------------------------------------------------------


def read_identity_center_audit(
    clients: AccountClients, region: str, account_names: Mapping[str, str], *, instance_arn: str | None = None
) -> IdentityCenterAudit:
    """Every permission set of the instance with its policies and assignments, whoever made them.

    The same read as the planner's, with every permission set detailed (and no group members):
    `account_names` (id -> name) are the accounts whose assignments are listed, besides those
    each permission set is provisioned to.
    """
    state = read_identity_center(
        clients, region, instance_arn=instance_arn, detail=lambda ps: True, account_ids=list(account_names)
    )
    return IdentityCenterAudit(
        instance_arn=state.instance_arn,
        region=region,
        permission_sets=tuple(
            IcPermissionSet(
                name=ps.name,
                arn=ps.arn,
                session_seconds=duration_seconds(ps.session_duration),
                managed=tuple(sorted(ps.policies)),
                customer_managed=tuple(sorted(ps.customer_managed)),
                inline=ps.inline,
            )
            for ps in sorted(state.permission_sets.values(), key=lambda p: p.name)
        ),
        assignments=tuple(
            IcAssignment(
                a.principal_type, a.principal, a.permission_set, account_names.get(a.account_id, a.account_id)
            )
            for a in sorted(state.assignments)
        ),
    )


def audit_input_of(spec: Spec, conn: Connection) -> IdentityCenterAudit | Unavailable | None:
    """Identity Center for `iamlayer audit`, in the account the spec's identity_center names (None
    in the others, and when the spec has none); Unavailable, with why, when it cannot be read."""
    ic = spec.identity_center
    if ic is None or conn.account.name != ic.account:
        return None
    if conn.clients is None:
        return Unavailable(f"account not reachable: {conn.error}")
    names = {a.id: a.name for a in spec.accounts.values()}
    try:
        return read_identity_center_audit(conn.clients, ic.region, names, instance_arn=ic.instance_arn)
    except IamlayerError as exc:
        return Unavailable(str(exc))

"""IAM Identity Center (sso-admin and identitystore): the bulk read, for the plan, the import and
the audit, through the instance's gateways (iamlayer.aws.gateways.identity_center, which also
owns the writes, names to ids and the waits for asynchronous requests).

The read (`read_identity_center`) costs, whatever the number of people: ListInstances; ListUsers
and ListGroups (100 per page); ListGroupMemberships per owned group; ListPermissionSets and a
DescribePermissionSet per permission set (the only way to learn their names); per owned
permission set ListManagedPoliciesInPermissionSet, ListCustomerManagedPolicyReferences-
InPermissionSet, GetInlinePolicyForPermissionSet and ListAccountsForProvisionedPermissionSet twice
(every account it is provisioned to, and those that hold an outdated version: one call each
whatever the number of accounts) (GetPermissionsBoundaryForPermissionSet only where the spec
manages the boundary); and the assignments, read in one of two shapes (`AssignmentReads`, chosen
by `choose_assignment_reads` from counts known before any assignment is read):
- by permission set and account: ListAccountAssignments per owned permission set and account
  (the spec's accounts, and any other the permission set is provisioned to): grows with
  permission sets x accounts;
- by principal (the planner, when that is fewer calls): ListAccountAssignmentsForPrincipal per
  principal whose assignments iamlayer manages (owned users and groups, the external principals
  the spec names), 100 assignments a page, plus the ListAccountAssignments that complete it
  (`completing_pairs`): grows with principals, and with accounts only by a call per 100
  assignments of one principal.
Calls run concurrently (bounded).

ListPermissionSetsProvisionedToAccount (one call per account, then ListAccountAssignments per
permission set provisioned there) is not used: ListAccountsForProvisionedPermissionSet, read per
owned permission set anyway, gives the same (permission set, account) pairs for no call per
account (and the emulator ignores its AccountId filter, answering every provisioned set).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

from iamlayer.audit.model import IcAssignment, IcPermissionSet, IdentityCenterAudit, Unavailable
from iamlayer.aws.accounts import Connection
from iamlayer.aws.gateways.account_access import AccountAccessGateway
from iamlayer.aws.gateways.identity_center import (
    IdentityCenter,
    IdentityStoreGateway,
    Instance,
    SsoAdminGateway,
    find_instance,
    list_instances,
)
from iamlayer.aws.session import AccountClients
from iamlayer.errors import AwsError, IamlayerError, NotFoundError
from iamlayer.spec.ic_model import duration_seconds
from iamlayer.spec.model import Spec
from iamlayer.state.ic_model import (
    AssignmentReads,
    AssignmentReadShape,
    AssignmentState,
    EntitlementState,
    IcGroupState,
    IcState,
    IcUserState,
    PermissionSetState,
    split_marker,
)
from iamlayer.state.model import OWNER_TAG
from iamlayer.state.normalize import normalize

# The operator's read permissions for these calls are declared by the kinds (iamlayer.kinds).
#: ListUsers, ListGroups and ListGroupMemberships answer at most 100 per page
STORE_PAGE = 100
#: ListAccountAssignmentsForPrincipal answers at most 100 per page
ASSIGNMENT_PAGE = 100
MAX_READ_WORKERS = 8

#: (kind, name, id) of a principal whose assignments are read by principal
Principal = tuple[str, str, str]
#: (owned permission set, account id): one ListAccountAssignments
Pair = tuple[PermissionSetState, str]


def choose_assignment_reads(principals: int, pairs: int) -> AssignmentReads:
    """The assignment read that costs fewer calls when every list fits one page: by principal
    (one ListAccountAssignmentsForPrincipal per principal whose assignments iamlayer manages)
    when `principals` < `pairs` (the owned permission set and account pairs in scope, one
    ListAccountAssignments each), else by permission set and account (a tie keeps the read that
    needs no completing). Both counts are known before any assignment is read: the principals
    from the store's listing and the spec's external names, the pairs from the spec's accounts
    and where each owned permission set is provisioned. A no-op plan completes nothing (see
    `completing_pairs`), so the by-principal count is its cost, plus a call per further 100
    assignments of one principal."""
    return AssignmentReads.PRINCIPAL if principals < pairs else AssignmentReads.PAIRS


def _primary_email(emails: Sequence[Mapping[str, Any]]) -> str:
    primary = next((e for e in emails if e.get("Primary")), emails[0] if emails else {})
    return str(primary.get("Value", ""))


def _inline(text: str | None) -> dict[str, Any] | None:
    return normalize(json.loads(text)) if text else None


def completing_pairs(
    found: Collection[AssignmentState],
    scopes: Mapping[str, Sequence[str]],
    detailed: Sequence[PermissionSetState],
    provisioned: Mapping[str, Sequence[str]],
    desired: IcState,
) -> list[Pair]:
    """The pairs a read by principal lists in full (ListAccountAssignments), because the diff
    needs the assignments of owned permission sets to other principals there
    (IcState.assignments holds them: iamlayer.plan.ic_diff keeps a permission set
    assigned to someone else, keeps the policy copies its role uses and re-provisions it
    where it stays assigned):
    - every pair of an owned permission set the spec drops (is it still assigned to
      principals iamlayer does not own?);
    - an account the permission set is provisioned to where no managed principal holds it
      (AWS provisions a set where it is assigned: someone else holds it there);
    - a pair where a managed principal's assignment is not wanted (the plan deletes it:
      does the set stay assigned there?).
    What remains unread: other principals' assignments of a pair where every managed
    principal's stays. The set stays assigned there either way, so no change, notice or kept
    policy copy differs; only the state's fingerprint does (a saved plan made by the other shape
    reads as stale: planned again, never applied wrong), and the reason a policy copy is kept
    may name the managed principal rather than the other."""
    held = {(a.permission_set, a.account_id) for a in found}
    leaving = {(a.permission_set, a.account_id) for a in found if a not in desired.assignments}
    out: dict[tuple[str, str], Pair] = {}
    for ps in detailed:
        if ps.name not in desired.permission_sets:
            accounts: Iterable[str] = scopes[ps.name]
        else:
            accounts = [
                *(a for a in provisioned[ps.name] if (ps.name, a) not in held),
                *(a for a in scopes[ps.name] if (ps.name, a) in leaving),
            ]
        for a in accounts:
            out.setdefault((ps.name, a), (ps, a))
    return list(out.values())


@dataclass
class _Reader:
    sso: SsoAdminGateway
    store: IdentityStoreGateway
    instance: Instance
    where: str
    pool: ThreadPoolExecutor
    state: IcState = field(default_factory=IcState)
    user_names: dict[str, str] = field(default_factory=dict)  # id -> name
    group_names: dict[str, str] = field(default_factory=dict)

    def principals(self) -> None:
        for u in self.store.users(STORE_PAGE):
            name = u.get("Name") or {}
            self.state.users[u["UserName"]] = IcUserState(
                name=u["UserName"],
                id=u["UserId"],
                display_name=u.get("DisplayName", "") or "",
                given_name=name.get("GivenName", "") or "",
                family_name=name.get("FamilyName", "") or "",
                email=_primary_email(u.get("Emails") or []),
                owner=split_marker(u.get("UserType"))[1],
                external=bool(u.get("ExternalIds")),
            )
            self.user_names[u["UserId"]] = u["UserName"]
        for g in self.store.groups(STORE_PAGE):
            description, owner = split_marker(g.get("Description"))
            self.state.groups[g["DisplayName"]] = IcGroupState(
                name=g["DisplayName"],
                id=g["GroupId"],
                description=description,
                owner=owner,
                external=bool(g.get("ExternalIds")),
            )
            self.group_names[g["GroupId"]] = g["DisplayName"]

    def external(self, wanted: Mapping[str, Sequence[str]], listed: bool) -> None:
        """Resolve the external principals the spec names (type -> names). With `listed`, the
        store was listed already (principals()); else each is one GetUserId/GetGroupId, and the
        store of a type is listed only when a name of it does not resolve (for a did-you-mean)."""
        for kind, names in wanted.items():
            found: Mapping[str, object] = self.state.groups if kind == "GROUP" else self.state.users
            for name in names:
                if not listed and name not in found:
                    try:
                        pid = self.store.principal_id(kind, name)
                    except NotFoundError:
                        continue
                    if kind == "GROUP":
                        self.state.groups[name] = IcGroupState(name=name, id=pid)
                        self.group_names[pid] = name
                    else:
                        self.state.users[name] = IcUserState(name=name, id=pid)
                        self.user_names[pid] = name
                if name in found:
                    self.state.external.add((kind, name))
            missing = [n for n in names if n not in found]
            if missing:
                if listed:
                    listing = list(found)
                elif kind == "GROUP":
                    listing = [g["DisplayName"] for g in self.store.groups(STORE_PAGE)]
                else:
                    listing = [u["UserName"] for u in self.store.users(STORE_PAGE)]
                for name in missing:
                    self.state.unresolved[f"{kind}/{name}"] = listing

    def account_access(self, gateway: AccountAccessGateway, account_ids: Sequence[str]) -> None:
        """The account access manager's application for this instance, and its entitlements to
        roles of `account_ids` (one ListEntitlements each: the service requires a filter)."""
        app = gateway.application(self.instance.arn)
        if app is None:
            return
        self.state.application_arn = app.arn
        self.state.application_owner = app.tags.get(OWNER_TAG)
        for found in self.pool.map(lambda a: gateway.entitlements(app.arn, a), account_ids):
            for e in found:
                names = self.group_names if e.principal_type == "GROUP" else self.user_names
                principal = names.get(e.principal_id, f"id:{e.principal_id}")
                self.state.entitlements.add(EntitlementState(e.role_arn, e.principal_type, principal, e.id))

    def members(self, group: IcGroupState) -> None:
        for m in self.store.memberships(group.name, group.id, STORE_PAGE):
            user_id = (m.get("MemberId") or {}).get("UserId", "")
            group.members[self.user_names.get(user_id, f"id:{user_id}")] = m["MembershipId"]

    def describe(self, arn: str) -> PermissionSetState:
        ps = self.sso.describe(arn, f"describing permission set {arn} {self.where}")
        description, owner = split_marker(ps.get("Description"))
        duration: object = ps.get("SessionDuration")
        return PermissionSetState(
            name=ps.get("Name", ""),
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
        w = f"of permission set {ps.name} {self.where}"
        what = f"reading the policies {w}"
        ps.policies = frozenset(self.sso.managed_policies(ps.arn, what))
        ps.customer_managed = frozenset(self.sso.customer_policies(ps.arn, what))
        ps.inline = _inline(self.sso.inline_policy(ps.arn, what))
        provisioned = self.sso.provisioned_accounts(ps.arn, what)
        # AWS keeps the version each account was last provisioned with: a permission set
        # changed but never provisioned again (an apply killed in between, or a change made
        # from another clone or by hand) is outdated there, whatever any local record says.
        ps.outdated = frozenset(self.sso.provisioned_accounts(ps.arn, what, outdated=True))
        if boundary:
            ps.boundary_read = True
            ps.boundary = self.sso.boundary(ps.arn, w)
        return provisioned

    def managed_principals(self, project: str) -> list[Principal]:
        """The principals whose assignments iamlayer manages (IcState.principal_owned): the
        users and groups it made, and the external ones the spec names."""
        groups = [("GROUP", g.name, g.id) for g in self.state.groups.values()]
        users = [("USER", u.name, u.id) for u in self.state.users.values()]
        return sorted(p for p in [*groups, *users] if self.state.principal_owned(p[0], p[1], project))

    def for_principal(self, principal: Principal) -> list[tuple[Principal, str, str]]:
        """(principal, permission set ARN, account id) of each assignment of one principal."""
        kind, name, pid = principal
        found = self.sso.principal_assignments(
            cast("Any", kind),  # "USER" or "GROUP": the API's PrincipalType
            pid,
            f"listing the assignments of {kind.lower()} {name} {self.where}",
            page_size=ASSIGNMENT_PAGE,
        )
        return [(principal, str(a.get("PermissionSetArn", "")), str(a.get("AccountId", ""))) for a in found]

    def by_principal(
        self,
        principals: Sequence[Principal],
        scopes: Mapping[str, Sequence[str]],
        detailed: Sequence[PermissionSetState],
        provisioned: Mapping[str, Sequence[str]],
        desired: IcState,
    ) -> int:
        """Read the assignments by principal, then complete them (`completing_pairs`); the number of
        ListAccountAssignments the completing took. `scopes` (permission set name -> accounts):
        the accounts the read by permission set and account would list, whose assignments alone
        are kept, so both reads give the same state."""
        by_arn = {ps.arn: ps for ps in detailed}
        found: set[AssignmentState] = set()
        for rows in self.pool.map(self.for_principal, principals):
            for (kind, name, _), arn, account in rows:
                ps = by_arn.get(arn)
                if ps is not None and account in scopes[ps.name]:
                    found.add(AssignmentState(kind, name, ps.name, account))
        complete = completing_pairs(found, scopes, detailed, provisioned, desired)
        done = {(ps.name, a) for ps, a in complete}
        self.state.assignments.update(a for a in found if (a.permission_set, a.account_id) not in done)
        for listed in self.pool.map(lambda p: self.assignments(*p), complete):
            self.state.assignments.update(listed)
        return len(complete)

    def assignments(self, ps: PermissionSetState, account_id: str) -> list[AssignmentState]:
        found = self.sso.assignments(
            ps.arn,
            account_id,
            f"listing assignments of permission set {ps.name} in account {account_id} {self.where}",
        )
        out = []
        for a in found:
            kind, pid = a.get("PrincipalType", "USER"), a.get("PrincipalId", "")
            names = self.group_names if kind == "GROUP" else self.user_names
            out.append(AssignmentState(kind, names.get(pid, f"id:{pid}"), ps.name, str(a.get("AccountId"))))
        return out


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
    external: Mapping[str, Sequence[str]] | None = None,
    list_store: bool = True,
    entitled_accounts: Sequence[str] = (),
    project: str | None = None,
    desired: IcState | None = None,
    on_access_error: Callable[[IamlayerError], None] | None = None,
) -> IcState:
    """The instance's users, groups, permission sets and assignments (see the module docstring).

    `external` (GROUP or USER -> names): the principals of an external identity provider the
    spec names, resolved by name (`IcState.external`; those the store lacks in
    `IcState.unresolved`). `list_store=False` (an external identity source, whose store may hold
    thousands of people iamlayer never changes): no ListUsers/ListGroups, one GetUserId or
    GetGroupId per name instead. `entitled_accounts` (ids): where the spec's roles are entitled
    to Identity Center principals; when any, the account access manager is read (`IcState.
    application_arn`, `entitlements`); `on_access_error` hears why it could not be, instead of
    the whole read failing (the import: a region or partition without the service).

    `detail(ps)` says which permission sets get their policies and assignments read (the planner:
    those iamlayer owns; the audit: all), `members_of(group)` which groups get their members read
    (the planner: those iamlayer owns). `boundaries` names the permission sets
    whose boundary is read. `account_ids` are the accounts whose assignments are listed, besides
    those each permission set is provisioned to. `instance`: found already (no ListInstances).

    The assignments are read by permission set and account, unless `project` and `desired` (the
    wanted state) are given: then by whichever shape `choose_assignment_reads` finds cheaper,
    the principals being those `project` manages. Both shapes give the same plan (what the
    state may lack read by principal: `completing_pairs`); `IcState.read_shape` says which ran.
    """
    where = f"in account {clients.label} ({region})"
    ic = IdentityCenter.for_account(clients, region, where, instance_arn=instance_arn, instance=instance)
    instance = ic.instance()
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        r = _Reader(ic.sso, ic.store, instance, where, pool)
        r.state.instance_arn, r.state.identity_store_id = instance.arn, instance.identity_store_id
        if list_store:
            r.principals()
        r.external(external or {}, listed=list_store)
        if entitled_accounts:
            # Tolerated (the import): each call is sent once, since a region or endpoint without
            # the service answers 5xx, and botocore's retries of that would cost seconds for nothing.
            client = (
                clients.account_access(region)
                if on_access_error is None
                else clients.client("account-access", region, retries=False)
            )
            try:
                r.account_access(AccountAccessGateway(client, where), entitled_accounts)
            except IamlayerError as exc:
                if on_access_error is None:
                    raise
                on_access_error(exc)
        arns = ic.sso.permission_sets(f"listing permission sets {where}")
        sets = list(pool.map(r.describe, arns))
        r.state.permission_sets = {ps.name: ps for ps in sets}
        detailed = [ps for ps in sets if detail(ps)]
        provisioned = list(pool.map(lambda ps: r.details(ps, ps.name in boundaries), detailed))
        list(pool.map(r.members, [g for g in r.state.groups.values() if members_of(g)]))
        wanted = list(dict.fromkeys(account_ids))
        scopes = {
            ps.name: list(dict.fromkeys([*wanted, *prov]))
            for ps, prov in zip(detailed, provisioned, strict=True)
        }
        pairs = [(ps, a) for ps in detailed for a in scopes[ps.name]]
        managed = r.managed_principals(project) if project is not None else []
        by, completions = AssignmentReads.PAIRS, 0
        if project is not None and desired is not None:
            by = choose_assignment_reads(len(managed), len(pairs))
        if by is AssignmentReads.PRINCIPAL and desired is not None:
            where_provisioned = {ps.name: prov for ps, prov in zip(detailed, provisioned, strict=True)}
            completions = r.by_principal(managed, scopes, detailed, where_provisioned, desired)
        else:
            for found in pool.map(lambda p: r.assignments(*p), pairs):
                r.state.assignments.update(found)
        r.state.read_shape = AssignmentReadShape(by, len(managed), len(pairs), completions)
    return r.state


def read_identity_center_for_import(
    clients: AccountClients,
    region: str,
    account_ids: Iterable[str],
    on_access_error: Callable[[IamlayerError], None] | None = None,
) -> tuple[IcState | None, dict[str, str]]:
    """Everything `iamlayer import aws` needs of the instance in this account, whoever made it:
    users, groups with their members, permission sets with their policies and boundary, their
    assignments in `account_ids` (and wherever they are provisioned), and the account access
    manager's entitlements to roles of `account_ids` (`on_access_error` hears why they could not
    be read; the rest is imported without them). None when the account has no instance;
    CredentialsError when it has several.

    Also, by permission set name, why its boundary could not be read (then `boundary_read` stays
    False and the import leaves the boundary alone). The read costs what the plan's does, every
    permission set and group detailed, plus one GetPermissionsBoundaryForPermissionSet each.
    """
    account_ids = list(account_ids)
    where = f"in account {clients.label} ({region})"
    sso = clients.sso_admin(region)
    found = list_instances(sso, where)
    if not found:
        return None, {}
    instance = find_instance(sso, where) if len(found) > 1 else found[0]  # several: raises, naming them
    state = read_identity_center(
        clients,
        region,
        detail=lambda ps: True,
        members_of=lambda g: True,
        account_ids=account_ids,
        instance=instance,
        entitled_accounts=account_ids,
        on_access_error=on_access_error,
    )
    unread: dict[str, str] = {}
    gateway = IdentityCenter.for_account(clients, region, where, instance=instance).sso
    for ps in state.permission_sets.values():
        try:
            ps.boundary = gateway.boundary(ps.arn, f"of permission set {ps.name} {where}")
            ps.boundary_read = True
        except AwsError as exc:
            unread[ps.name] = str(exc)
    return state, unread


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

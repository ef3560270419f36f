"""IAM Identity Center: the wanted state from the spec, and diff(desired, live) -> changes. Pure.

The changes go into the plan of the account where the instance lives, with the IAM ones, and
run in the same stages (the `stage` of each kind in iamlayer.kinds): users, groups and permission sets, then
memberships, then assignments, then re-provisioning; deletes in reverse.

Ids (UserId, GroupId, PermissionSetArn) are not the spec's: a change carries the ids live at
plan time, and a principal or permission set created by the same apply is resolved by name when
its assignment runs (iamlayer.apply.ic_handlers), so no second apply is ever needed.

Rules, as for IAM (iamlayer.plan.diff):
- only owned resources are changed or deleted; a name the spec uses that exists but is not owned
  is a collision, with how to adopt it (see iamlayer.state.ic_model for ownership);
- an assignment is changed only when iamlayer owns both its permission set and its principal;
- a permission set whose content changed (not its description alone) is re-provisioned to every
  account where it stays assigned: one IC_PROVISION change per account, so the plan says where;
- so is an owned permission set to every account where AWS reports an outdated version
  (`PermissionSetState.outdated`: changed earlier and never re-provisioned, whoever changed it
  and from whichever clone), and where the local journal says an interrupted apply left it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from iamlayer.errors import Diagnostic, SpecError
from iamlayer.kinds import ACCESS_APPLICATION_NAME
from iamlayer.plan.desired import offboarded_statements, role_arn
from iamlayer.plan.diff import ChangeCollector, DiffResult
from iamlayer.plan.model import Action, Kind
from iamlayer.spec.ic_model import GROUP, USER, Assignment, IdentityCenter, PermissionSet, duration_seconds
from iamlayer.spec.model import Spec
from iamlayer.state.ic_model import (
    AssignmentState,
    EntitlementState,
    IcGroupState,
    IcState,
    IcUserState,
    PermissionSetState,
    cm_ref,
    with_marker,
)
from iamlayer.state.model import OWNER_TAG, AccountState, Doc
from iamlayer.state.normalize import normalize

#: permission-set fields whose change needs re-provisioning (the description is not in the role)
PROVISIONED_FIELDS = frozenset(
    {"session_duration", "relay_state", "policies", "customer_managed_policies", "inline_policy", "boundary"}
)


def spec_policy_ref(spec: Spec, name: str) -> str:
    """A spec policy as a permission set references it in every account: cm_ref(path, name)."""
    return cm_ref(spec.policies[name].path, name)


def desired_ic(spec: Spec, *, now: datetime | None = None) -> IcState:
    """What the instance should hold according to the spec (ids empty: the spec cannot know them);
    `now` (default: the clock) decides which offboardings still deny sessions."""
    ic = spec.identity_center
    assert ic is not None
    now = now or datetime.now(UTC)
    state = IcState()
    state.external = {(kind, name) for kind in (GROUP, USER) for name in ic.external(kind)}
    for u in (u for u in ic.users.values() if not u.external):
        state.users[u.name] = IcUserState(
            name=u.name,
            display_name=u.display_name,
            given_name=u.given_name,
            family_name=u.family_name,
            email=u.email,
            owner=spec.project,
        )
    for g in (g for g in ic.groups.values() if not g.external):
        state.groups[g.name] = IcGroupState(
            name=g.name, description=g.description, owner=spec.project, members=dict.fromkeys(g.members, "")
        )
    for ps in ic.permission_sets.values():
        boundary = ps.boundary
        if boundary is not None and not boundary.startswith("arn:"):
            boundary = spec_policy_ref(spec, boundary)
        state.permission_sets[ps.name] = PermissionSetState(
            name=ps.name,
            description=ps.description,
            owner=spec.project,
            session_duration=ps.session_duration,
            relay_state=ps.relay_state,
            policies=frozenset(ps.policies),
            customer_managed=frozenset(spec_policy_ref(spec, n) for n in ps.customer_managed_policies),
            inline=_inline_policy(spec, ps, now),
            boundary=boundary,
            boundary_read=ps.boundary_managed,
        )
    state.assignments = {
        AssignmentState(a.principal_type, a.principal, a.permission_set, spec.accounts[a.account].id)
        for a in ic.assignments
    }
    state.entitlements = {
        EntitlementState(role_arn(spec, role, account), kind.upper(), principal)
        for role in spec.roles.values()
        for account in role.accounts
        for kind, _, principal in (p.partition("/") for p in role.entitled)
    }
    return state


def _inline_policy(spec: Spec, ps: PermissionSet, now: datetime) -> Doc | None:
    """The permission set's inline policy: the spec's, with the Deny of the sessions of people who
    left and were assigned it (`offboarded:`) while any may live (a permission set has one inline
    policy, so the statements join it)."""
    entries = [e for e in spec.offboarded if ps.name in e.permission_sets]
    denies = offboarded_statements(entries, duration_seconds(ps.session_duration) or 0, now)
    if not denies:
        return normalize(ps.inline_policy) if ps.inline_policy else None
    base = normalize(ps.inline_policy) if ps.inline_policy else {"Version": "2012-10-17", "Statement": []}
    return normalize({**base, "Statement": [*base["Statement"], *denies]})


def spec_role_arns(spec: Spec) -> dict[str, tuple[str, str]]:
    """Every role ARN of the spec -> (the role's key in the spec, account name): the roles whose
    entitlements iamlayer manages."""
    return {role_arn(spec, r, a): (key, a) for key, r in spec.roles.items() for a in r.accounts}


def foreign_entitled_roles(spec: Spec, account: str, live: AccountState) -> SpecError | None:
    """The spec's entitled roles that exist in `account` without being iamlayer's (and `adopt:`
    is off): iamlayer would entitle people to a role it does not own and cannot make trust the
    account access manager. A spec error at the role's `entitled:` line, before anything is written."""
    if spec.adopt:
        return None
    out = []
    for key, role in spec.roles.items():
        have = live.roles.get(role.name)
        if (
            role.entitled
            and account in role.accounts
            and have is not None
            and not have.owned_by(spec.project)
        ):
            out.append(
                Diagnostic(
                    str(spec.path),
                    role.entitled_line,
                    f"roles.{key}.entitled",
                    f"role {role.name} exists in account {account} but was not created by iamlayer project "
                    f"{spec.project!r}: iamlayer entitles people only to roles it owns",
                    f"adopt it (adopt: true, or tag it {OWNER_TAG}={spec.project}), or remove entitled:",
                )
            )
    return SpecError(out) if out else None


def management_assignments(spec: Spec) -> list[tuple[Assignment, str, str]]:
    """The assignments of the spec that give a permission set in the organization's management
    account (named in the spec, or known from the organization the spec was resolved against),
    each with what to say and the hint. AWS advises against them: the management account holds
    the organization's controls, SCPs do not restrict it, and a delegated administrator cannot
    manage the permission sets provisioned there; `accounts: all` and an OU holding it reach it
    unnoticed."""
    ic = spec.identity_center
    if ic is None:
        return []
    ids = {spec.organization.management_id} if spec.organization is not None else set()
    named = spec.accounts.get(spec.management_account or "")
    if named is not None:
        ids.add(named.id)
    reached = {name for name, account in spec.accounts.items() if account.id in ids}
    return [
        (
            a,
            f"{a.principal_type.lower()} {a.principal} gets permission set {a.permission_set} in the "
            f"management account {a.account} ({spec.accounts[a.account].id}); AWS advises against "
            "assignments there (SCPs do not restrict it; a delegated administrator cannot manage them)",
            f"exclude: [{a.account}] unless that access is meant",
        )
        for a in ic.assignments
        if a.account in reached
    ]


def management_assignment_warnings(spec: Spec) -> tuple[str, ...]:
    """For the top of the plan: `management_assignments`, each at its file and line."""
    return tuple(
        (f"{spec.path.name}:{a.line}: " if a.line else "") + f"identity_center.assignments: {text}: {hint}"
        for a, text, hint in management_assignments(spec)
    )


def entitled_account_ids(spec: Spec) -> list[str]:
    """Where the account access manager is read: every account holding a role of the spec, when
    any role is `entitled` (so an entitlement dropped from one role is seen); else none."""
    if not any(r.entitled for r in spec.roles.values()):
        return []
    return list(dict.fromkeys(spec.accounts[a].id for r in spec.roles.values() for a in r.accounts))


def managed_boundaries(ic: IdentityCenter) -> frozenset[str]:
    """Permission sets whose boundary the spec manages (only those are read: see the reader)."""
    return frozenset(ps.name for ps in ic.permission_sets.values() if ps.boundary_managed)


def adopt_hint(kind: str, name: str, project: str, store_id: str = "IDENTITY_STORE_ID") -> str:
    """What to do about a name the spec uses that exists in Identity Center but is not ours."""
    marker = with_marker("", project)
    if kind == "user":
        how = (
            f"set its user type to {marker!r} (aws identitystore update-user --identity-store-id {store_id} "
            f'--user-id ID --operations \'[{{"AttributePath":"userType","AttributeValue":"{marker}"}}]\')'
        )
    elif kind == "group":
        how = f"end its description with {marker!r}"
    else:
        how = f"end its description with {marker!r} (aws sso-admin update-permission-set)"
    return (
        f"Identity Center {kind} {name} exists but was not created by iamlayer project {project!r}. "
        f"To adopt it, {how}; or rename it in the spec"
    )


def _ps_fields(ps: PermissionSetState, project: str) -> dict[str, Any]:
    return {
        "description": with_marker(ps.description, project),
        "session_duration": ps.session_duration,
        "relay_state": ps.relay_state,
        "policies": sorted(ps.policies),
        "customer_managed_policies": sorted(ps.customer_managed),
        "inline_policy": ps.inline,
        "boundary": ps.boundary,
    }


@dataclass
class _IcDiffer(ChangeCollector):
    account: str  # where the instance lives (the plan's account)
    project: str
    desired: IcState
    live: IcState
    account_names: Mapping[str, str]  # account id -> spec name
    boundaries: frozenset[str]  # permission sets whose boundary the spec manages
    pending_provisioning: frozenset[str]  # "<permission set>@<account id>" an apply did not finish
    roles: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # spec_role_arns()
    out: DiffResult = field(default_factory=DiffResult)

    def label(self, account_id: str) -> str:
        return self.account_names.get(account_id, account_id)

    # -- users and groups ----------------------------------------------------------------------
    def users(self) -> None:
        for name, want in self.desired.users.items():
            have = self.live.users.get(name)
            if have is None:
                self.add(
                    Kind.IC_USER,
                    name,
                    Action.CREATE,
                    None,
                    {**want.fields(), "user_type": with_marker("", self.project)},
                )
            elif not have.owned_by(self.project):
                self.out.collisions.append(
                    adopt_hint("user", name, self.project, self.live.identity_store_id)
                )
            else:
                w, h = want.fields(), have.fields()
                changed = sorted(k for k in w if w[k] != h[k])
                if changed:
                    self.add(
                        Kind.IC_USER,
                        name,
                        Action.UPDATE,
                        {k: h[k] for k in changed},
                        {**{k: w[k] for k in changed}, "id": have.id},
                    )
        for name, have in self.live.users.items():
            # One the spec now names as external (iamlayer made it once) is left to its provider.
            if (
                name not in self.desired.users
                and have.owned_by(self.project)
                and ("USER", name) not in self.live.external
            ):
                self.add(Kind.IC_USER, name, Action.DELETE, {**have.fields(), "id": have.id}, None)

    def groups(self) -> None:
        for name, want in self.desired.groups.items():
            have = self.live.groups.get(name)
            if have is None:
                self.add(
                    Kind.IC_GROUP,
                    name,
                    Action.CREATE,
                    None,
                    {"description": with_marker(want.description, self.project)},
                )
                self.memberships(name, want, None)
            elif not have.owned_by(self.project):
                self.out.collisions.append(adopt_hint("group", name, self.project))
            else:
                if want.description != have.description:
                    self.add(
                        Kind.IC_GROUP,
                        name,
                        Action.UPDATE,
                        {"description": with_marker(have.description, self.project)},
                        {"description": with_marker(want.description, self.project), "id": have.id},
                    )
                self.memberships(name, want, have)
        for name, have in self.live.groups.items():
            if (
                name not in self.desired.groups
                and have.owned_by(self.project)
                and ("GROUP", name) not in self.live.external
            ):
                self.add(
                    Kind.IC_GROUP, name, Action.DELETE, {"id": have.id, "members": sorted(have.members)}, None
                )
                # Memberships of iamlayer's users go first, as their own changes.
                self.memberships(name, IcGroupState(name), have)

    def memberships(self, group: str, want: IcGroupState, have: IcGroupState | None) -> None:
        """Members are managed for iamlayer's users only: a person's own member is left alone."""
        live = have.members if have else {}
        group_id = have.id if have else ""
        for user in sorted(set(want.members) - set(live)):
            u = self.live.users.get(user)
            self.add(
                Kind.IC_MEMBERSHIP,
                group,
                Action.CREATE,
                None,
                {"group_id": group_id, "user_id": u.id if u else "", "user": user},
                sub=user,
            )
        for user in sorted(set(live) - set(want.members)):
            u = self.live.users.get(user)
            if u is not None and u.owned_by(self.project):
                self.add(
                    Kind.IC_MEMBERSHIP,
                    group,
                    Action.DELETE,
                    {"group_id": group_id, "user_id": u.id, "membership_id": live[user], "user": user},
                    None,
                    sub=user,
                )

    # -- permission sets -----------------------------------------------------------------------
    def permission_sets(self) -> None:
        for name, want in self.desired.permission_sets.items():
            have = self.live.permission_sets.get(name)
            if have is None:
                after = {**_ps_fields(want, self.project), "tags": {OWNER_TAG: self.project}}
                if not want.boundary_read:
                    after.pop("boundary")
                self.add(Kind.PERMISSION_SET, name, Action.CREATE, None, after)
                continue
            if not have.owned_by(self.project):
                self.out.collisions.append(adopt_hint("permission set", name, self.project))
                continue
            w, h = _ps_fields(want, self.project), _ps_fields(have, self.project)
            if name not in self.boundaries:
                w.pop("boundary")
                h.pop("boundary")
            changed = {k for k in w if w[k] != h[k]}
            if duration_seconds(w["session_duration"]) == duration_seconds(h["session_duration"]):
                changed.discard("session_duration")
            reprovision = self.reprovision_targets(name) if changed & PROVISIONED_FIELDS else []
            if changed & {"description", "session_duration", "relay_state"}:
                # One UpdatePermissionSet call sets all three: send all, so none is reset.
                changed |= {"description", "session_duration", "relay_state"}
            if changed:
                note = (
                    f"re-provisioned to {', '.join(self.label(a) for a in reprovision)}, where it is assigned"
                    if reprovision
                    else ""
                )
                self.add(
                    Kind.PERMISSION_SET,
                    name,
                    Action.UPDATE,
                    {k: h[k] for k in sorted(changed)},
                    {**{k: w[k] for k in sorted(changed)}, "arn": have.arn, "reprovision": reprovision},
                    note=note,
                )
            pending = {p.split("@", 1)[1] for p in self.pending_provisioning if p.split("@", 1)[0] == name}
            journaled = pending & set(self.assigned_accounts(name))
            outdated = set(have.outdated) - self.losing_every_assignment(name)
            for account_id in sorted(set(reprovision) | journaled | outdated):
                # The same target before and after: what changes is the role AWS keeps there.
                target = {"permission_set_arn": have.arn, "account_id": account_id}
                if account_id in reprovision:
                    note = f"{name} changed"
                elif account_id in outdated:
                    note = "AWS holds an outdated version here: it was changed and never re-provisioned"
                else:
                    note = "an interrupted apply changed it without re-provisioning it here"
                self.add(
                    Kind.IC_PROVISION,
                    name,
                    Action.UPDATE,
                    target,
                    dict(target),
                    sub=self.label(account_id),
                    note=note,
                )
        for name, have in self.live.permission_sets.items():
            if name in self.desired.permission_sets or not have.owned_by(self.project):
                continue
            kept = sorted(
                {
                    f"{a.principal_type.lower()}/{a.principal}@{self.label(a.account_id)}"
                    for a in self.live.assignments
                    if a.permission_set == name and not self.owned(a)
                }
            )
            if kept:
                self.out.notices.append(
                    f"permission set {name} is not deleted: it is still assigned to principals iamlayer does not "
                    f"own ({', '.join(kept)}); remove those assignments first"
                )
                continue
            self.add(
                Kind.PERMISSION_SET,
                name,
                Action.DELETE,
                {"arn": have.arn, **_ps_fields(have, self.project)},
                None,
            )

    def assigned_accounts(self, ps: str) -> list[str]:
        return sorted({a.account_id for a in self.live.assignments if a.permission_set == ps})

    def losing_every_assignment(self, ps: str) -> set[str]:
        """Accounts where this plan deletes every assignment of `ps` and adds none: AWS removes
        the permission set's role there, so an outdated version needs no re-provisioning."""
        live = {a.account_id for a in self.live.assignments if a.permission_set == ps}
        staying = set(self.reprovision_targets(ps))
        added = {a.account_id for a in self.desired.assignments if a.permission_set == ps}
        return live - staying - added

    def reprovision_targets(self, ps: str) -> list[str]:
        """Accounts where `ps` is assigned now and stays assigned after this apply."""
        staying = {
            a.account_id for a in self.live.assignments if a.permission_set == ps and not self.deleted(a)
        }
        return sorted(staying)

    def needed_policies(self) -> dict[str, dict[str, str]]:
        """See needed_policy_copies: the live assignments that stay after this plan, per account."""
        out: dict[str, dict[str, str]] = {}
        staying = sorted(a for a in self.live.assignments if not self.deleted(a))
        for name, have in self.live.permission_sets.items():
            if not have.owned_by(self.project):
                continue
            want = self.desired.permission_sets.get(name)
            # A permission set the spec keeps needs what it will reference: one that drops a
            # reference is updated and re-provisioned wherever it stays assigned, and those run
            # before any delete (iamlayer.plan.model.Change.stage), so the copy may go in the same
            # apply. (Keeping it for what the set references now left a delete the apply's verify
            # found: the next apply made it.) A set leaving the spec keeps what it has.
            refs = _policy_refs(want) if want is not None else _policy_refs(have)
            for a in (a for a in staying if a.permission_set == name):
                who = f"{a.principal_type.lower()}/{a.principal}"
                for ref in sorted(refs):
                    out.setdefault(a.account_id, {}).setdefault(
                        ref, f"permission set {name} references it and stays assigned here ({who})"
                    )
        return out

    # -- assignments ---------------------------------------------------------------------------
    def owned(self, a: AssignmentState) -> bool:
        ps = self.live.permission_sets.get(a.permission_set)
        return (
            ps is not None
            and ps.owned_by(self.project)
            and self.live.principal_owned(a.principal_type, a.principal, self.project)
        )

    def deleted(self, a: AssignmentState) -> bool:
        return a not in self.desired.assignments and self.owned(a)

    def assignments(self) -> None:
        for a in sorted(self.desired.assignments - self.live.assignments):
            ps = self.live.permission_sets.get(a.permission_set)
            principal_id = self.live.principal_id(a.principal_type, a.principal)
            external = (a.principal_type, a.principal) in self.live.external
            self.add(
                Kind.IC_ASSIGNMENT,
                f"{a.principal_type.lower()}/{a.principal}",
                Action.CREATE,
                None,
                {
                    "principal_type": a.principal_type,
                    "principal": a.principal,
                    "principal_id": principal_id,
                    "permission_set": a.permission_set,
                    "permission_set_arn": ps.arn if ps else "",
                    "account_id": a.account_id,
                },
                sub=f"{a.permission_set}@{self.label(a.account_id)}",
                note=f"external {a.principal_type.lower()} {a.principal} is {principal_id}"
                if external
                else "",
            )
        for a in sorted(self.live.assignments - self.desired.assignments):
            if not self.owned(a):
                continue
            self.add(
                Kind.IC_ASSIGNMENT,
                f"{a.principal_type.lower()}/{a.principal}",
                Action.DELETE,
                {
                    "principal_type": a.principal_type,
                    "principal": a.principal,
                    "principal_id": self.live.principal_id(a.principal_type, a.principal),
                    "permission_set": a.permission_set,
                    "permission_set_arn": self.live.permission_sets[a.permission_set].arn,
                    "account_id": a.account_id,
                },
                None,
                sub=f"{a.permission_set}@{self.label(a.account_id)}",
            )

    # -- the account access manager ----------------------------------------------------------
    def entitlements(self) -> None:
        """Entitlements of the spec's roles: made (with the application, once), and those of
        iamlayer's application to a spec role the spec no longer entitles deleted."""
        want, have = self.desired.entitlements, self.live.entitlements
        app = self.live.application_arn
        if not want and not have:
            return
        if app and self.live.application_owner != self.project:
            self.out.collisions.append(
                f"the account access manager's application {app} exists but was not created by iamlayer "
                f"project {self.project!r}; AWS allows one per account. To adopt it, tag it "
                f"(aws account-access tag-resource --resource-arn {app} --tags {OWNER_TAG}={self.project})"
            )
            return
        if not app and want:
            self.add(
                Kind.ACCESS_APPLICATION,
                ACCESS_APPLICATION_NAME,
                Action.CREATE,
                None,
                {"instance_arn": self.live.instance_arn, "tags": {OWNER_TAG: self.project}},
            )
        for e in sorted(want - have):
            principal_id = self.live.principal_id(e.principal_type, e.principal)
            self.add(
                Kind.ENTITLEMENT,
                f"{e.principal_type.lower()}/{e.principal}",
                Action.CREATE,
                None,
                {**self._entitlement(e), "principal_id": principal_id, "application_arn": app},
                sub=self._role_label(e.role_arn),
                note=f"{e.principal_type.lower()} {e.principal} is "
                + (principal_id or "made by this apply (resolved by name when it runs)"),
            )
        for e in sorted(have - want):
            if e.role_arn not in self.roles:
                continue  # a role the spec does not hold: someone else's entitlement
            self.add(
                Kind.ENTITLEMENT,
                f"{e.principal_type.lower()}/{e.principal}",
                Action.DELETE,
                {
                    **self._entitlement(e),
                    "principal_id": self.live.principal_id(e.principal_type, e.principal),
                    "application_arn": app,
                    "entitlement_id": e.id,
                },
                None,
                sub=self._role_label(e.role_arn),
            )

    @staticmethod
    def _entitlement(e: EntitlementState) -> dict[str, str]:
        return {"role_arn": e.role_arn, "principal_type": e.principal_type, "principal": e.principal}

    def _role_label(self, arn: str) -> str:
        key, account = self.roles.get(arn, (arn.rsplit("/", 1)[-1], arn.split(":")[4]))
        return f"{key}@{account}"


def _policy_refs(ps: PermissionSetState) -> set[str]:
    """The customer-managed policies (cm_ref) a permission set has IAM attach in each account."""
    refs = set(ps.customer_managed)
    if ps.boundary and not ps.boundary.startswith("arn:"):
        refs.add(ps.boundary)
    return refs


def copies_kept_without_identity_center(spec: Spec, account: str, live: AccountState) -> dict[str, str]:
    """The owned policies of `account` no plan deletes while the spec has no `identity_center:`.

    Outside the people account iamlayer makes policies only as the copies Identity Center's
    permission sets reference. Removing the block (or an import that could not read the
    instance) leaves the permission sets in place, still referencing them: the copies stay too.
    `identity_center: {account: ...}` with no permission sets deletes both.
    """
    if spec.identity_center is not None or account == spec.people_account:
        return {}
    return {
        cm_ref(p.path, name): "iamlayer made it for IAM Identity Center permission sets, which the spec no "
        "longer manages (no identity_center:) and which may still reference it"
        for name, p in live.policies.items()
        if p.owned_by(spec.project)
    }


def needed_policy_copies(spec: Spec, live: IcState | None) -> dict[str, dict[str, str]]:
    """Per account id, the customer-managed policies (cm_ref -> why) no plan may delete there.

    A permission set references customer-managed policies by path and name; IAM Identity Center
    attaches them to the role it provisions in each account, so the copy in an account must stay
    while the permission set stays assigned there: to the spec's principals (the spec wants the
    copy anyway) or to anyone else's (which the spec cannot know). `live` is the instance as this
    plan read it, None when it was not read (a plan of some accounts only, or a failed read): then
    every policy a permission set of the spec references stays in every account.
    """
    ic = spec.identity_center
    if ic is None:
        return {}
    if live is None:
        out: dict[str, dict[str, str]] = {}
        desired = desired_ic(spec)
        for ps in desired.permission_sets.values():
            for ref in sorted(_policy_refs(ps)):
                for acc in spec.accounts.values():
                    out.setdefault(acc.id, {}).setdefault(
                        ref,
                        f"permission set {ps.name} references it, and this plan did not read where "
                        f"{ps.name} is assigned (plan account {ic.account} too)",
                    )
        return out
    d = _IcDiffer(
        ic.account, spec.project, desired_ic(spec), live, {a.id: a.name for a in spec.accounts.values()},
        managed_boundaries(ic), frozenset(),
    )  # fmt: skip
    return d.needed_policies()


def diff_ic(
    account: str,
    project: str,
    desired: IcState,
    live: IcState,
    *,
    account_names: Mapping[str, str],
    managed_boundaries: frozenset[str] = frozenset(),
    pending_provisioning: frozenset[str] = frozenset(),
    roles: Mapping[str, tuple[str, str]] | None = None,
) -> DiffResult:
    """Changes that turn the live instance into the desired one, in execution order.

    `account_names` maps account ids to spec names (for addresses); `managed_boundaries` names
    the permission sets whose boundary the spec manages (the others' are neither read nor
    compared); `pending_provisioning` holds "<permission set>@<account id>" that an interrupted
    apply changed but did not re-provision (iamlayer.state.journal); `roles` (spec_role_arns) are
    the roles whose entitlements the spec manages.
    """
    d = _IcDiffer(
        account, project, desired, live, account_names, managed_boundaries, pending_provisioning, roles or {}
    )
    d.users()
    d.groups()
    d.permission_sets()
    d.assignments()
    d.entitlements()
    d.out.changes.sort(key=lambda c: (c.stage, c.address))
    return d.out

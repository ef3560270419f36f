"""Who holds which policies: users, groups and roles built from account states, for evaluation.

The same `AccountState`s the planner diffs feed this model: the desired ones rendered from the
spec (`model_from_spec`, offline: nothing touches AWS) or the live ones read in bulk
(`AccessModel.from_states`). Every policy is a labelled `PolicySource`, so an answer names
"group devops / inline self-management, statement 5" rather than a bare document.

A managed policy's document comes from the account's customer-managed policies, the few
AWS-managed documents that are stable by definition (`iamlayer.access.builtin`), or documents
read from AWS and passed in; any other is unknown and the evaluator says what it depends on.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from iamlayer.access.builtin import AWS_MANAGED
from iamlayer.access.context import RESOURCE_ORG_ID, RESOURCE_ORG_PATHS, Caller, UserRequestFacts
from iamlayer.access.evaluate import PolicySource
from iamlayer.access.policy import compile_policy
from iamlayer.plan.desired import desired_state
from iamlayer.spec.model import Spec
from iamlayer.spec.organization import OrgView
from iamlayer.state.model import AccountState, group_marker_document, group_marker_name

AWS_POLICY_PREFIX = "arn:aws:iam::aws:policy/"


@dataclass(frozen=True)
class UserModel:
    """An IAM user of the people account and every policy that applies to its requests."""

    name: str
    account: str  # account name
    account_id: str
    path: str = "/"
    tags: Mapping[str, str] = field(default_factory=dict)
    groups: tuple[str, ...] = ()
    identity: tuple[PolicySource, ...] = ()
    boundary: PolicySource | None = None
    stand_in: bool = False  # a hypothetical member of one group, to answer for the group itself

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:user{self.path}{self.name}"

    def caller(self) -> Caller:
        return Caller.user(self.account_id, self.name, self.path)

    def facts(self) -> UserRequestFacts:
        return UserRequestFacts(self.account_id, self.name, self.path, tags=dict(self.tags))


@dataclass(frozen=True)
class GroupModel:
    name: str
    members: tuple[str, ...]
    policies: tuple[PolicySource, ...]


@dataclass(frozen=True)
class RoleModel:
    """A role in one account: who may assume it (trust) and what it may do."""

    name: str
    account: str
    account_id: str
    path: str
    trust: PolicySource
    policies: tuple[PolicySource, ...] = ()
    boundary: PolicySource | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:role{self.path}{self.name}"

    @property
    def label(self) -> str:
        return f"role {self.name} in {self.account}"


class _Resolver:
    """Managed policy ARN -> PolicySource, for one account."""

    def __init__(self, state: AccountState, managed: Mapping[str, Mapping[str, Any]]) -> None:
        self.local = {p.arn: p for p in state.policies.values() if p.arn}
        self.managed = managed

    def source(self, arn: str, label: str) -> PolicySource:
        local = self.local.get(arn)
        if local is not None:
            return PolicySource(label, arn, compile_policy(local.document))
        doc = AWS_MANAGED.get(arn) or self.managed.get(arn)
        return PolicySource(label, arn, compile_policy(doc) if doc is not None else None)

    def short(self, arn: str) -> str:
        local = self.local.get(arn)
        return local.name if local is not None else arn


def _inline(owner: str, docs: Mapping[str, Mapping[str, Any]]) -> list[PolicySource]:
    return [PolicySource(f"{owner} / inline {name}", None, compile_policy(doc)) for name, doc in docs.items()]


@dataclass
class AccessModel:
    """Users, groups and roles of a layer, with their policies, ready to be asked."""

    people_account: str
    account_ids: dict[str, str]  # account name -> id, in spec order
    region: str = "us-east-1"
    source: str = "spec"  # "spec" (rendered offline) or "live" (read from AWS)
    users: dict[str, UserModel] = field(default_factory=dict)
    groups: dict[str, GroupModel] = field(default_factory=dict)
    roles: dict[tuple[str, str], RoleModel] = field(default_factory=dict)  # (account, role name)
    #: the organization the layer's accounts are in, when the spec was resolved against it: the
    #: request context of a request on a resource then carries its account's aws:ResourceOrgID
    #: and aws:ResourceOrgPaths (see `resource_org_keys`); None: those keys are unknown
    organization: OrgView | None = None

    @classmethod
    def from_states(
        cls,
        states: Mapping[str, AccountState],
        people_account: str,
        account_ids: Mapping[str, str],
        *,
        managed: Mapping[str, Mapping[str, Any]] | None = None,
        region: str = "us-east-1",
        source: str = "spec",
        organization: OrgView | None = None,
    ) -> AccessModel:
        """Build the model from account states (any subset of the accounts; the people account
        is needed for users and groups)."""
        managed = managed or {}
        model = cls(people_account, dict(account_ids), region, source, organization=organization)
        for account, state in states.items():
            resolve = _Resolver(state, managed)
            for role in state.roles.values():
                owner = f"role {role.name} in {account}"
                model.roles[(account, role.name)] = RoleModel(
                    name=role.name,
                    account=account,
                    account_id=state.account_id,
                    path=role.path,
                    trust=PolicySource(
                        f"trust policy of {role.name} in {account}", None, compile_policy(role.trust)
                    ),
                    policies=tuple(
                        [
                            resolve.source(a, f"{owner} / managed {resolve.short(a)}")
                            for a in sorted(role.attached)
                        ]
                        + _inline(owner, role.inline)
                    ),
                    boundary=resolve.source(
                        role.permissions_boundary,
                        f"permissions boundary {resolve.short(role.permissions_boundary)} of {owner}",
                    )
                    if role.permissions_boundary
                    else None,
                )
        people = states.get(people_account)
        if people is None:
            return model
        resolve = _Resolver(people, managed)
        for group in people.groups.values():
            owner = f"group {group.name}"
            policies = _inline(owner, group.inline)
            if group.owner:
                marker = group_marker_name(group.owner)
                policies.append(
                    PolicySource(f"{owner} / inline {marker}", None, compile_policy(group_marker_document()))
                )
            policies += [
                resolve.source(a, f"{owner} / managed {resolve.short(a)}") for a in sorted(group.attached)
            ]
            model.groups[group.name] = GroupModel(group.name, tuple(sorted(group.members)), tuple(policies))
        for user in people.users.values():
            owner = f"user {user.name}"
            identity = _inline(owner, user.inline)
            identity += [
                resolve.source(a, f"{owner} / managed {resolve.short(a)}") for a in sorted(user.attached)
            ]
            groups = tuple(g for g in sorted(user.groups) if g in model.groups)
            for g in groups:
                identity += model.groups[g].policies
            model.users[user.name] = UserModel(
                name=user.name,
                account=people_account,
                account_id=people.account_id,
                path=user.path,
                tags=dict(user.tags),
                groups=groups,
                identity=tuple(identity),
            )
        return model

    # --- lookups --------------------------------------------------------------------------------

    def account_of(self, account_id: str) -> str | None:
        return self._names_by_id.get(account_id)

    @functools.cached_property
    def _names_by_id(self) -> dict[str, str]:
        """account id -> name: asked once per request (1,000 accounts: no linear scan each time)."""
        out: dict[str, str] = {}
        for name, account_id in self.account_ids.items():
            out.setdefault(account_id, name)
        return out

    def resource_org_keys(self, account_id: str) -> dict[str, str | list[str] | None]:
        """aws:ResourceOrgID and aws:ResourceOrgPaths of a request on a resource in `account_id`.

        AWS puts them in the request context of sts:AssumeRole (the role's account's organization
        and its path of OU ids). Known when the model knows the organization: an account of it
        gets its id and path; any other account is outside it, taken as in no organization (the
        keys absent: a condition naming this organization is false either way). Unknown (empty)
        without the organization, so answers that depend on them are uncertain.
        """
        org = self.organization
        if org is None:
            return {}
        member = org.member(account_id)
        if member is None:
            return {RESOURCE_ORG_ID: None, RESOURCE_ORG_PATHS: None}
        return {RESOURCE_ORG_ID: org.id, RESOURCE_ORG_PATHS: [member.org_path]}

    def role(self, name: str, account: str) -> RoleModel | None:
        return self.roles.get((account, name))

    def roles_named(self, name: str) -> list[RoleModel]:
        """The role `name` in every account where it exists, in account order."""
        return [self.roles[(a, name)] for a in self.account_ids if (a, name) in self.roles]

    def role_by_arn(self, arn: str) -> RoleModel | None:
        return next((r for r in self.roles.values() if r.arn == arn), None)

    def role_names(self) -> list[str]:
        return sorted({name for _, name in self.roles})

    def stand_in(self, group: str) -> UserModel:
        """A hypothetical member of `group` alone: what the group's own policies allow."""
        g = self.groups[group]
        return UserModel(
            name=f"member-of-{group}",
            account=self.people_account,
            account_id=self.account_ids[self.people_account],
            groups=(group,),
            identity=g.policies,
            stand_in=True,
        )

    def unknown_policies(self, users: Iterable[UserModel] | None = None) -> set[str]:
        """ARNs of the documents this model does not know, for `users` (default: everyone)."""
        out: set[str] = set()
        for u in self.users.values() if users is None else users:
            for p in (*u.identity, *([u.boundary] if u.boundary else [])):
                if not p.known and p.arn:
                    out.add(p.arn)
        return out


def model_from_spec(
    spec: Spec,
    *,
    managed: Mapping[str, Mapping[str, Any]] | None = None,
    accounts: Iterable[str] | None = None,
    now: datetime | None = None,
) -> AccessModel:
    """The model of what the spec renders (iamlayer.plan.desired) at `now` (default: the clock:
    it decides which grants and offboarding Denies are still there), without any AWS call."""
    names = list(accounts) if accounts is not None else list(spec.accounts)
    if spec.people_account not in names:
        names.append(spec.people_account)
    states = {a: desired_state(spec, a, now=now) for a in names}
    return model_of(spec, states, managed=managed, source="spec")


def model_of(
    spec: Spec,
    states: Mapping[str, AccountState],
    *,
    managed: Mapping[str, Mapping[str, Any]] | None = None,
    source: str = "spec",
) -> AccessModel:
    """The model of `states` (some of the spec's accounts, rendered or live), with the spec's
    accounts, region and organization."""
    return AccessModel.from_states(
        states,
        spec.people_account,
        {a: acc.id for a, acc in spec.accounts.items()},
        managed=managed,
        region=spec.region,
        source=source,
        organization=spec.organization,
    )

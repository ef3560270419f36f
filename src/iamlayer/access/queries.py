"""The questions people ask of a layer: can this user do that, and who can assume this role.

    can(model, user, action, target, signing, now=...)  -> Decision
    who_can_assume(model, role, account, now=...)        -> AssumeReport

A target is a resource ARN, `*`, or a role of the model (`role/<name>@<account>` in the CLI
and in spec checks). For an `sts:` action on a role, the role's trust policy is the
resource-based policy of the request; a role in an account outside the model has an unknown
trust policy, so such answers are uncertain rather than guessed.

The resource's account (aws:ResourceAccount) comes from its ARN; a request on `*` is in the
caller's account. Across accounts, an IAM resource other than a role's trust has no
resource-based policy, so nothing grants; another service's resource may have one, which is not
read: the answer is uncertain. An ARN without an account (an S3 bucket or object) leaves the
account unknown: an allow is then uncertain (it may be another account's bucket), unless the
request context sets aws:ResourceAccount. Requests are asked in an open context
(`user_context(open_world=True)`): keys the evaluator cannot know make answers uncertain.

`who_can_assume` derives each person's conditions by evaluation: it asks the evaluator under a
long-term access key, a session without MFA, and MFA sessions of increasing age. The ages
probed are 0, the numbers the relevant policies compare aws:MultiFactorAuthAge against (and
their neighbours), and ten years: between those numbers no answer can change, so the largest
allowed age found is exact.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from iamlayer.access.context import (
    MFA_AGE,
    RESOURCE_ACCOUNT,
    Caller,
    Credential,
    RequestContext,
    Signing,
    user_context,
)
from iamlayer.access.evaluate import Decision, PolicySource, Request, StatementRef, evaluate
from iamlayer.access.patterns import arn_account, arn_service
from iamlayer.access.policy import EVERY_RESOURCE, ResourceMode, compile_policy
from iamlayer.access.principals import AccessModel, RoleModel, UserModel
from iamlayer.access.web_identity import WebIdentity, web_identities

TEN_YEARS = 10 * 365 * 24 * 3600
_NOTHING: dict[str, Any] = {"Version": "2012-10-17", "Statement": []}


@dataclass(frozen=True)
class Target:
    """What a request acts on: an ARN or `*`, and the role it is, when the model has it."""

    resource: str
    role: RoleModel | None = None

    @property
    def label(self) -> str:
        return self.role.label if self.role else self.resource

    @classmethod
    def everything(cls) -> Target:
        return cls(EVERY_RESOURCE)


def is_role_arn(arn: str) -> bool:
    return arn.startswith("arn:") and arn.split(":", 5)[-1].startswith("role/")


def target_for_arn(model: AccessModel, arn: str) -> Target:
    """The target for a resource ARN (or `*`); roles of the model carry their trust policy."""
    if arn == EVERY_RESOURCE:
        return Target.everything()
    return Target(arn, model.role_by_arn(arn) if is_role_arn(arn) else None)


def _trust_of(model: AccessModel, action: str, target: Target) -> tuple[PolicySource | None, str | None]:
    """The resource-based policy of an sts: request on a role, and the role's account id."""
    if not action.lower().startswith("sts:") or target.resource == EVERY_RESOURCE:
        return None, None
    if target.role is not None:
        return target.role.trust, target.role.account_id
    if is_role_arn(target.resource) and arn_service(target.resource) == "iam":
        account = arn_account(target.resource)
        if account is not None and model.account_of(account) is None:
            return PolicySource(f"trust policy of {target.resource}", target.resource, None), account
        if account is not None:
            # An account of the layer without this role: nothing can assume what does not exist.
            missing = PolicySource(
                f"{target.resource} (no such role in the layer)", None, compile_policy(_NOTHING)
            )
            return missing, account
    return None, None


def can(
    model: AccessModel,
    user: UserModel,
    action: str,
    target: Target,
    signing: Signing,
    *,
    now: datetime,
    mode: ResourceMode = ResourceMode.LITERAL,
    extra: Mapping[str, str | Sequence[str] | None] | None = None,
) -> Decision:
    """May `user` call `action` on `target`, signed with `signing`, at time `now`?"""
    trust, account = _trust_of(model, action, target)
    keys: dict[str, str | Sequence[str] | None] = {}
    if trust is not None and action.lower() == "sts:assumerole":
        # The session name iamlayer's profiles set (role_session_name = the user's name).
        keys["sts:RoleSessionName"] = user.name
    given = {k.lower(): v for k, v in (extra or {}).items()}
    if account is None:
        account = _resource_account(target, user.account_id, given.get(RESOURCE_ACCOUNT.lower()))
    if account is not None:
        keys[RESOURCE_ACCOUNT] = account
        keys.update(model.resource_org_keys(account))
    keys.update(extra or {})
    ctx = user_context(user.facts(), signing, now=now, region=model.region, extra=keys, open_world=True)
    request = Request(user.caller(), action, target.resource, ctx, mode)
    resource_policy = trust
    if trust is None and account is not None and account != user.account_id:
        resource_policy = _foreign_resource_policy(target.resource)
    d = evaluate(
        request,
        user.identity,
        boundary=user.boundary,
        resource_policy=resource_policy,
        resource_account=account,
        resource_name=target.label,
    )
    if account is None and d.allowed and RESOURCE_ACCOUNT.lower() not in {k.lower() for k in d.unknown_keys}:
        # Answered as in the caller's account; in another one, a resource-based policy must allow.
        why = (
            f"{target.resource} names no account: answered as in {user.account_id}; in another "
            "account its resource-based policy (not read) must allow too"
        )
        d = dataclasses.replace(
            d, reasons=(*d.reasons, why), unknown_keys=(*d.unknown_keys, RESOURCE_ACCOUNT)
        )
    return d


def _resource_account(target: Target, caller_account: str, given: str | Sequence[str] | None) -> str | None:
    """The account of the resource: its ARN's, the caller's for `*`, the context's, or None."""
    if isinstance(given, str):
        return given
    if target.resource == EVERY_RESOURCE:
        return caller_account
    return arn_account(target.resource)


def _foreign_resource_policy(resource: str) -> PolicySource | None:
    """The resource-based policy of a resource in another account: none for IAM resources (only
    a role's trust policy, for sts: actions, which `_trust_of` gives), not read for others."""
    if arn_service(resource) == "iam":
        return None
    return PolicySource(f"resource-based policy of {resource} (not read)", resource, None)


#: A role's unique id (AROA...) is AWS's; offline a stand-in takes its place in aws:userid, where
#: only the session name after the colon is ever matched by the layer's policies.
ROLE_ID_STAND_IN = "AROAROLEIDUNKNOWN"


def session_can(
    model: AccessModel,
    role: RoleModel,
    session_name: str,
    issued: datetime,
    action: str,
    resource: str,
    *,
    now: datetime,
) -> Decision:
    """May a session of `role` named `session_name`, issued at `issued`, call `action` on
    `resource` (in the role's account) at `now`, by the role's own policies?

    The request context is a role session's, as AWS documents it: aws:userid is
    `<role id>:<session name>`, aws:PrincipalArn the role's ARN, aws:TokenIssueTime the time the
    session was issued. No other key is present.
    """
    when, at = now.astimezone(UTC), issued.astimezone(UTC)
    ctx = RequestContext(
        {
            "aws:userid": f"{ROLE_ID_STAND_IN}:{session_name}",
            "aws:PrincipalArn": role.arn,
            "aws:PrincipalAccount": role.account_id,
            "aws:PrincipalType": "AssumedRole",
            "aws:RequestedRegion": model.region,
            "aws:CurrentTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:EpochTime": str(int(when.timestamp())),
            "aws:TokenIssueTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:SecureTransport": "true",
            RESOURCE_ACCOUNT: role.account_id,
        }
    )
    caller = Caller.role_session(role.account_id, role.name, session_name, role.path)
    return evaluate(
        Request(caller, action, resource, ctx),
        role.policies,
        boundary=role.boundary,
        resource_account=role.account_id,
    )


@dataclass(frozen=True)
class AssumeAccess:
    """What one user (or a group's member) needs to assume a role, found by evaluation."""

    name: str
    kind: str  # "user" or "group"
    groups: tuple[str, ...]
    with_access_key: bool  # long-term access key, no MFA
    with_session: bool  # temporary credentials without MFA (console sign-in, GetSessionToken)
    with_mfa: bool
    max_mfa_age: int | None  # the oldest MFA authentication accepted, in seconds; None: no limit
    via: tuple[StatementRef, ...]  # the statements that allow it, under the least it needs
    unknown: tuple[str, ...] = ()
    unknown_keys: tuple[str, ...] = ()  # request context keys, not known, that could change it

    @property
    def uncertain(self) -> bool:
        return bool(self.unknown or self.unknown_keys)

    @property
    def can_assume(self) -> bool:
        return self.with_access_key or self.with_session or self.with_mfa

    @property
    def needs_mfa(self) -> bool:
        return self.with_mfa and not (self.with_access_key or self.with_session)

    def conditions(self) -> list[str]:
        if not self.can_assume:
            return []
        if self.with_access_key and self.with_session:
            return ["no MFA needed"]
        out = [
            "MFA"
            if self.needs_mfa
            else "MFA, or " + ("an access key" if self.with_access_key else "a session")
        ]
        if self.with_mfa and self.max_mfa_age is not None:
            out.append(f"MFA at most {self.max_mfa_age} s old")
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "groups": list(self.groups),
            "can_assume": self.can_assume,
            "requires_mfa": self.needs_mfa,
            "max_mfa_age": self.max_mfa_age,
            "with_access_key": self.with_access_key,
            "with_session_without_mfa": self.with_session,
            "with_mfa": self.with_mfa,
            "conditions": self.conditions(),
            "via": [s.as_json() for s in self.via],
            "certain": not self.uncertain,
            "unknown_policies": list(self.unknown),
            "unknown_context_keys": list(self.unknown_keys),
        }


@dataclass(frozen=True)
class AssumeReport:
    role: RoleModel
    groups: tuple[AssumeAccess, ...]
    users: tuple[AssumeAccess, ...]
    #: Identity Center principals the account access manager entitles to the role
    #: (`roles.<Role>.entitled`): they reach it through the access portal, not by their IAM policies
    entitled: tuple[Entitled, ...] = ()
    #: web identities (an OIDC provider's tokens, e.g. CI jobs of `ci:`) its trust lets in
    web_identities: tuple[WebIdentity, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "role": self.role.name,
            "account": self.role.account,
            "role_arn": self.role.arn,
            "groups": [g.as_json() for g in self.groups if g.can_assume or g.uncertain],
            "users": [u.as_json() for u in self.users if u.can_assume or u.uncertain],
            "cannot": sorted(u.name for u in self.users if not u.can_assume and not u.uncertain),
            "entitled": [dataclasses.asdict(e) for e in self.entitled],
            "web_identities": [w.as_json() for w in self.web_identities],
        }


@dataclass(frozen=True)
class Entitled:
    """An Identity Center user or group entitled to a role by the account access manager."""

    kind: str  # "group" or "user"
    name: str
    external: bool  # provisioned by an external identity provider (its members are not known here)
    members: tuple[str, ...] = ()  # a group iamlayer makes: its members


def _age_probes(user: UserModel, role: RoleModel) -> list[int]:
    constants: set[float] = set()
    for source in (*user.identity, user.boundary, role.trust):
        if source is not None and source.policy is not None:
            constants |= source.policy.numeric_constants(MFA_AGE)
    probes = {0, TEN_YEARS}
    for c in constants:
        base = int(c)
        probes |= {p for p in (base - 1, base, base + 1) if 0 <= p < TEN_YEARS}
    return sorted(probes)


def assume_access(model: AccessModel, user: UserModel, role: RoleModel, *, now: datetime) -> AssumeAccess:
    """What `user` needs to assume `role`, by evaluating sts:AssumeRole under each credential."""
    target = Target(role.arn, role)
    unknown: set[str] = set()
    unknown_keys: dict[str, None] = {}

    def ask(signing: Signing) -> Decision:
        d = can(model, user, "sts:AssumeRole", target, signing, now=now)
        unknown.update(d.unknown)
        unknown_keys.update(dict.fromkeys(d.unknown_keys))
        return d

    key = ask(Signing(Credential.ACCESS_KEY))
    session = ask(Signing(Credential.SESSION))
    by_age = [(age, ask(Signing.with_mfa(age))) for age in _age_probes(user, role)]
    allowed_ages = [age for age, d in by_age if d.allowed]
    max_age: int | None = None
    if allowed_ages and not by_age[-1][1].allowed:
        max_age = max(allowed_ages)
    first_allowed = next((d for d in (key, session, *(d for _, d in by_age)) if d.allowed), None)
    return AssumeAccess(
        name=user.groups[0] if user.stand_in else user.name,
        kind="group" if user.stand_in else "user",
        groups=user.groups,
        with_access_key=key.allowed,
        with_session=session.allowed,
        with_mfa=bool(allowed_ages),
        max_mfa_age=max_age,
        via=first_allowed.deciding if first_allowed else (),
        unknown=tuple(sorted(unknown)),
        unknown_keys=tuple(unknown_keys),
    )


def who_can_assume(model: AccessModel, role: RoleModel, *, now: datetime) -> AssumeReport:
    """Every user of the people account, and every group's own policies, against `role`; and
    the web identities (provider, `sub`, `aud`) its trust lets in."""
    groups = tuple(assume_access(model, model.stand_in(g), role, now=now) for g in sorted(model.groups))
    users = tuple(assume_access(model, model.users[u], role, now=now) for u in sorted(model.users))
    trust = role.trust.policy
    federated = tuple(web_identities(json.loads(trust.document))) if trust is not None else ()
    return AssumeReport(role, groups, users, web_identities=federated)

"""The request a policy is evaluated against: who calls (the caller), and the request context.

Condition key names are case-insensitive (`aws:CurrentTime` is `AWS:currenttime`), so keys are
stored lower-cased. A key maps to one value or, for multivalued keys (`aws:TagKeys`...), to
several; a key that is not in the context is "not present", which every condition operator
treats in its own documented way (see `iamlayer.access.conditions`).

The caller is what a resource-based policy's `Principal` is matched against: an IAM user, a
role session, an AWS service, a federated identity. Nothing here reads a clock: the request
time is given by whoever builds the context.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

#: keys whose value comes from the caller; listed so that explanations can name what was set
MFA_PRESENT = "aws:MultiFactorAuthPresent"
MFA_AGE = "aws:MultiFactorAuthAge"


class CallerKind(StrEnum):
    USER = "user"
    ASSUMED_ROLE = "assumed-role"  # a role session: arn:aws:sts::<id>:assumed-role/<role>/<session>
    ROOT = "root"
    SERVICE = "service"
    FEDERATED = "federated"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Caller:
    """The principal making a request, as a Principal element sees it."""

    kind: CallerKind
    arn: str  # the caller's ARN; for a service or federated caller, its name (ec2.amazonaws.com)
    account: str | None = None  # the caller's account id (None for services and anonymous callers)
    role_arn: str | None = None  # for a role session: the role's ARN (with its path)

    @classmethod
    def user(cls, account: str, name: str, path: str = "/") -> Caller:
        return cls(CallerKind.USER, f"arn:aws:iam::{account}:user{path}{name}", account)

    @classmethod
    def role_session(cls, account: str, role: str, session: str, path: str = "/") -> Caller:
        return cls(
            CallerKind.ASSUMED_ROLE,
            f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
            account,
            role_arn=f"arn:aws:iam::{account}:role{path}{role}",
        )

    @classmethod
    def service(cls, name: str) -> Caller:
        return cls(CallerKind.SERVICE, name)


class RequestContext:
    """Condition keys and their values, looked up case-insensitively. Immutable."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str | Sequence[str]] | None = None) -> None:
        self._values: dict[str, tuple[str, ...]] = {}
        for key, value in (values or {}).items():
            self._values[key.lower()] = (value,) if isinstance(value, str) else tuple(value)

    def values(self, key: str) -> tuple[str, ...] | None:
        """The values of `key` (lower-cased), or None when the key is not present."""
        return self._values.get(key)

    def single(self, key: str) -> str | None:
        """The value of a single-valued key, for policy variables; None if absent or multivalued."""
        v = self._values.get(key)
        return v[0] if v is not None and len(v) == 1 else None

    def with_values(self, values: Mapping[str, str | Sequence[str] | None]) -> RequestContext:
        """A copy with `values` set (a None value removes the key)."""
        out = RequestContext()
        out._values = dict(self._values)
        for key, value in values.items():
            if value is None:
                out._values.pop(key.lower(), None)
            else:
                out._values[key.lower()] = (value,) if isinstance(value, str) else tuple(value)
        return out

    def items(self) -> Iterable[tuple[str, tuple[str, ...]]]:
        return self._values.items()

    def __repr__(self) -> str:
        return f"RequestContext({self._values!r})"


class Credential(StrEnum):
    """How the caller signed the request: what AWS then puts in the MFA context keys."""

    ACCESS_KEY = "access-key"  # long-term keys: aws:MultiFactorAuthPresent is not present
    SESSION = "session"  # temporary credentials without MFA (console sign-in, GetSessionToken): false
    MFA = "mfa"  # temporary credentials from an MFA sign-in: true, with aws:MultiFactorAuthAge


@dataclass(frozen=True)
class Signing:
    """The credential of a request, and the age of its MFA authentication when there is one."""

    credential: Credential
    mfa_age: int | None = None  # seconds; only with Credential.MFA

    @classmethod
    def with_mfa(cls, age: int = 0) -> Signing:
        return cls(Credential.MFA, age)

    def describe(self) -> str:
        if self.credential is Credential.MFA:
            return f"with MFA ({self.mfa_age} s old)"
        if self.credential is Credential.SESSION:
            return "without MFA (a session: console sign-in or GetSessionToken without MFA)"
        return "without MFA (long-term access key)"

    def keys(self) -> dict[str, str | None]:
        """The MFA context keys this credential puts in a request (None: not present)."""
        if self.credential is Credential.MFA:
            return {MFA_PRESENT: "true", MFA_AGE: str(self.mfa_age or 0)}
        if self.credential is Credential.SESSION:
            return {MFA_PRESENT: "false", MFA_AGE: None}
        return {MFA_PRESENT: None, MFA_AGE: None}


NO_MFA_SIGNINGS = (Signing(Credential.ACCESS_KEY), Signing(Credential.SESSION))


@dataclass(frozen=True)
class UserRequestFacts:
    """What AWS knows about an IAM user's request, beyond the action and resource."""

    account: str
    name: str
    path: str = "/"
    user_id: str | None = None  # AIDA...; unknown offline
    tags: Mapping[str, str] = field(default_factory=dict)
    org_id: str | None = None


def user_context(
    facts: UserRequestFacts,
    signing: Signing,
    *,
    now: datetime,
    region: str = "us-east-1",
    extra: Mapping[str, str | Sequence[str] | None] | None = None,
) -> RequestContext:
    """The request context of an IAM user's API call (global keys as AWS documents them).

    `now` is the request time (aws:CurrentTime, aws:EpochTime). `extra` adds or removes keys,
    e.g. sts:RoleSessionName and sts:ExternalId for an AssumeRole call.
    """
    when = now.astimezone(UTC)
    values: dict[str, str | Sequence[str] | None] = {
        "aws:username": facts.name,
        "aws:userid": facts.user_id,
        "aws:PrincipalArn": f"arn:aws:iam::{facts.account}:user{facts.path}{facts.name}",
        "aws:PrincipalAccount": facts.account,
        "aws:PrincipalType": "User",
        "aws:PrincipalOrgID": facts.org_id,
        "aws:RequestedRegion": region,
        "aws:CurrentTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(when.timestamp())),
        "aws:SecureTransport": "true",
        **signing.keys(),
    }
    for tag, value in facts.tags.items():
        values[f"aws:PrincipalTag/{tag}"] = value
    values.update(extra or {})
    return RequestContext({k: v for k, v in values.items() if v is not None})

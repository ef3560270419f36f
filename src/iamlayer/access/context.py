"""The request a policy is evaluated against: who calls (the caller), and the request context.

Condition key names are case-insensitive (`aws:CurrentTime` is `AWS:currenttime`), so keys are
stored lower-cased. A key maps to one value or, for multivalued keys (`aws:TagKeys`...), to
several. A key that is not in the context is either "not present", which every condition
operator treats in its own documented way (see `iamlayer.access.conditions`), or, in an open
context (`RequestContext.open_world`), unknown: AWS may send it with a value the evaluator cannot know
(the caller's IP address, the resource's tags, a request parameter). A statement that depends
on an unknown key may or may not apply, and the evaluator says so (`iamlayer.access.evaluate`).

A multivalued key is never a policy variable's value ("You cannot use a multivalued context key
as a policy variable"): `single` answers None for it.

The caller is what a resource-based policy's `Principal` is matched against: an IAM user, a
role session, an AWS service, a federated identity. Nothing here reads a clock: the request
time is given by whoever builds the context.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

#: keys whose value comes from the caller; listed so that explanations can name what was set
MFA_PRESENT = "aws:MultiFactorAuthPresent"
MFA_AGE = "aws:MultiFactorAuthAge"
RESOURCE_ACCOUNT = "aws:ResourceAccount"
RESOURCE_ORG_ID = "aws:ResourceOrgID"
RESOURCE_ORG_PATHS = "aws:ResourceOrgPaths"

#: context keys that are multivalued by definition (AWS global keys and the IAM/STS ones)
MULTIVALUED_KEYS: frozenset[str] = frozenset(
    k.lower()
    for k in (
        "aws:TagKeys",
        "aws:CalledVia",
        "aws:PrincipalOrgPaths",
        "aws:ResourceOrgPaths",
        "aws:SourceOrgPaths",
        "aws:PrincipalServiceNamesList",
        "sts:TransitiveTagKeys",
        "iam:AWSServiceName",
        "iam:OrganizationsPolicyId",
    )
)

#: global keys AWS never sends with an IAM user's direct call (no service acts for the caller,
#: no federation, no source identity: those belong to role sessions and service requests)
ABSENT_IN_DIRECT_USER_CALL: tuple[str, ...] = (
    "aws:CalledVia",
    "aws:CalledViaFirst",
    "aws:CalledViaLast",
    "aws:SourceIdentity",
    "aws:FederatedProvider",
    "aws:PrincipalServiceName",
    "aws:PrincipalServiceNamesList",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:Ec2InstanceSourceVpc",
    "aws:Ec2InstanceSourcePrivateIPv4",
    "ec2:SourceInstanceArn",
    "lambda:SourceFunctionArn",
    "glue:RoleAssumedBy",
    "glue:CredentialIssuingService",
)


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
    """Condition keys and their values, looked up case-insensitively. Immutable.

    Closed (the default): a key that is not set is not present. Open (`open_world=True`): a key that is
    not set is unknown, unless it is named in `absent` or starts with one of `absent_prefixes`
    (lower-cased), which are known not to be present.
    """

    __slots__ = ("_absent", "_absent_prefixes", "_multi", "_open", "_values")

    def __init__(
        self,
        values: Mapping[str, str | Sequence[str]] | None = None,
        *,
        open_world: bool = False,
        absent: Iterable[str] = (),
        absent_prefixes: Iterable[str] = (),
    ) -> None:
        self._values: dict[str, tuple[str, ...]] = {}
        self._multi: set[str] = set()
        self._open = open_world
        self._absent = frozenset(k.lower() for k in absent)
        self._absent_prefixes = tuple(p.lower() for p in absent_prefixes)
        for key, value in (values or {}).items():
            self._set(key.lower(), value)

    def _set(self, key: str, value: str | Sequence[str]) -> None:
        if isinstance(value, str):
            self._values[key] = (value,)
            self._multi.discard(key)
        else:
            self._values[key] = tuple(value)
            self._multi.add(key)

    @property
    def open_world(self) -> bool:
        return self._open

    def values(self, key: str) -> tuple[str, ...] | None:
        """The values of `key` (lower-cased), or None when the key is not present (or unknown)."""
        return self._values.get(key)

    def known(self, key: str) -> bool:
        """Whether the value (or the absence) of `key` (lower-cased) is known."""
        if not self._open or key in self._values or key in self._absent:
            return True
        return key.startswith(self._absent_prefixes) if self._absent_prefixes else False

    def single(self, key: str) -> str | None:
        """The value of a single-valued key, for policy variables; None if absent, unknown or
        multivalued (a multivalued key cannot be a policy variable)."""
        if key in self._multi or key in MULTIVALUED_KEYS:
            return None
        v = self._values.get(key)
        return v[0] if v is not None and len(v) == 1 else None

    def with_values(self, values: Mapping[str, str | Sequence[str] | None]) -> RequestContext:
        """A copy with `values` set (a None value removes the key: it is then known absent)."""
        out = RequestContext(open_world=self._open, absent_prefixes=self._absent_prefixes)
        out._values = dict(self._values)
        out._multi = set(self._multi)
        absent = set(self._absent)
        for key, value in values.items():
            k = key.lower()
            if value is None:
                out._values.pop(k, None)
                out._multi.discard(k)
                absent.add(k)
            else:
                out._set(k, value)
                absent.discard(k)
        out._absent = frozenset(absent)
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

    def token_issue_time(self, now: datetime) -> str | None:
        """aws:TokenIssueTime: absent for long-term keys; for an MFA session, the MFA sign-in
        (GetSessionToken with MFA issues the token then); for a session without MFA it is
        present but its time unknown, so it is left unknown (empty string)."""
        if self.credential is Credential.ACCESS_KEY:
            return None
        if self.credential is Credential.MFA:
            issued = now.astimezone(UTC) - timedelta(seconds=self.mfa_age or 0)
            return issued.strftime("%Y-%m-%dT%H:%M:%SZ")
        return ""


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
    open_world: bool = False,
) -> RequestContext:
    """The request context of an IAM user's direct API call (global keys as AWS documents them).

    Set: aws:username, aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType (User),
    aws:PrincipalTag/* (the user's tags), aws:userid and aws:PrincipalOrgID when known,
    aws:RequestedRegion (`region`), aws:CurrentTime and aws:EpochTime (`now`),
    aws:SecureTransport true, aws:ViaAWSService and aws:PrincipalIsAWSService false, the MFA keys
    and aws:TokenIssueTime per `signing`. Known absent: ABSENT_IN_DIRECT_USER_CALL and every
    other aws:PrincipalTag/*.

    `open_world` makes every other key unknown rather than absent (aws:SourceIp, aws:ResourceTag/*,
    service keys...): `iamlayer access` and the spec's checks ask that way, so that a statement
    depending on such a key makes the answer uncertain. `extra` adds keys (or, with None, makes
    them known absent), e.g. sts:RoleSessionName and sts:ExternalId for an AssumeRole call.
    """
    when = now.astimezone(UTC)
    issued = signing.token_issue_time(now)
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
    if open_world:
        values["aws:ViaAWSService"] = "false"
        values["aws:PrincipalIsAWSService"] = "false"
        values["aws:TokenIssueTime"] = issued or None
    for tag, value in facts.tags.items():
        values[f"aws:PrincipalTag/{tag}"] = value
    values.update(extra or {})
    if not open_world:
        return RequestContext({k: v for k, v in values.items() if v is not None})
    absent = [*ABSENT_IN_DIRECT_USER_CALL, *(k for k, v in values.items() if v is None)]
    # Unknown rather than absent: a session's issue time, the user id and organization offline.
    unknown = {"aws:tokenissuetime"} if issued == "" else set()
    unknown |= {k.lower() for k in ("aws:userid", "aws:PrincipalOrgID") if values.get(k) is None}
    return RequestContext(
        {k: v for k, v in values.items() if v is not None},
        open_world=True,
        absent=[k for k in absent if k.lower() not in unknown],
        absent_prefixes=("aws:PrincipalTag/",),  # the user's tags are known: no other is present
    )

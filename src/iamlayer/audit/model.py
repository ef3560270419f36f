"""What an audit reads from one account, as typed values.

Every input may instead be `Unavailable(why)`: the read was denied or failed. Controls that need
such an input report ERROR with that reason instead of passing silently (Prowler swallows
AccessDenied and reports nothing; we say what we could not see and why).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

T = TypeVar("T")

#: the credential report's name for the account's root user
ROOT_ROW = "<root_account>"


@dataclass(frozen=True)
class Unavailable:
    """An input that could not be read, with why (e.g. "AccessDenied: iam:GetCredentialReport")."""

    why: str

    def __str__(self) -> str:
        return self.why


#: The default of inputs nobody read: a control that needs one says ERROR, never PASS.
NOT_READ = Unavailable("not read")


class MissingInput(Exception):
    """Raised by `need()` when a control needs an input that is unavailable."""

    def __init__(self, what: str, unavailable: Unavailable) -> None:
        super().__init__(f"{what} unavailable: {unavailable.why}")
        self.what = what
        self.unavailable = unavailable


def need(value: T | Unavailable, what: str) -> T:
    """The value, or raise MissingInput naming `what` (the runner turns it into an ERROR finding)."""
    if isinstance(value, Unavailable):
        raise MissingInput(what, value)
    return value


# --- credential report -------------------------------------------------------------------------


def _ts(text: str) -> datetime | None:
    """A report timestamp, or None for AWS's placeholders (N/A, no_information, not_supported)."""
    text = text.strip()
    if not text or text in ("N/A", "no_information", "not_supported"):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _flag(text: str) -> bool:
    return text.strip().lower() == "true"


@dataclass(frozen=True)
class AccessKeySlot:
    """One of the two access-key columns of a credential report row."""

    slot: int  # 1 or 2
    active: bool
    last_rotated: datetime | None  # creation (or last rotation) time
    last_used: datetime | None  # None: never used (AWS granularity is 15 minutes)


@dataclass(frozen=True)
class CredentialRow:
    """One user's row of the credential report (the root user's row is `<root_account>`)."""

    user: str
    arn: str
    created: datetime | None
    password_enabled: bool  # the root row says not_supported: read as True (root always has one)
    password_last_used: datetime | None
    password_last_changed: datetime | None
    mfa_active: bool
    keys: tuple[AccessKeySlot, AccessKeySlot]
    #: False when the report does not say (the root row's password_enabled is "not_supported")
    password_known: bool = True
    certs_active: tuple[bool, bool] = (False, False)  # X.509 signing certificates 1 and 2

    @property
    def is_root(self) -> bool:
        return self.user == ROOT_ROW

    @property
    def active_keys(self) -> tuple[AccessKeySlot, ...]:
        return tuple(k for k in self.keys if k.active)


#: The oldest credential report AWS answers right after GenerateCredentialReport (it makes a new
#: one once the last is 4 hours old), with room for a local clock that is somewhat off. An older
#: GeneratedTime is not when the report was made (the emulator answers a fixed time from 2015).
REPORT_MAX_AGE = timedelta(hours=4, minutes=15)


@dataclass(frozen=True)
class CredentialReport:
    """The IAM credential report. AWS regenerates it at most every 4 hours: `generated` says when."""

    generated: datetime
    rows: tuple[CredentialRow, ...]

    @property
    def root(self) -> CredentialRow | None:
        return next((r for r in self.rows if r.is_root), None)

    @property
    def users(self) -> tuple[CredentialRow, ...]:
        return tuple(r for r in self.rows if not r.is_root)

    @classmethod
    def parse(cls, content: str, generated: datetime) -> CredentialReport:
        """Parse the report's CSV (GetCredentialReport's Content, decoded)."""
        rows: list[CredentialRow] = []
        for rec in csv.DictReader(io.StringIO(content)):

            def get(key: str, rec: dict[str, str] = rec) -> str:
                return rec.get(key) or ""

            keys = tuple(
                AccessKeySlot(
                    slot=n,
                    active=_flag(get(f"access_key_{n}_active")),
                    last_rotated=_ts(get(f"access_key_{n}_last_rotated")),
                    last_used=_ts(get(f"access_key_{n}_last_used_date")),
                )
                for n in (1, 2)
            )
            pw = get("password_enabled").strip().lower()
            rows.append(
                CredentialRow(
                    user=get("user"),
                    arn=get("arn"),
                    created=_ts(get("user_creation_time")),
                    password_enabled=pw in ("true", "not_supported"),
                    password_last_used=_ts(get("password_last_used")),
                    password_last_changed=_ts(get("password_last_changed")),
                    mfa_active=_flag(get("mfa_active")),
                    keys=(keys[0], keys[1]),
                    password_known=pw in ("true", "false"),
                    certs_active=(_flag(get("cert_1_active")), _flag(get("cert_2_active"))),
                )
            )
        gen = generated if generated.tzinfo else generated.replace(tzinfo=UTC)
        return cls(generated=gen, rows=tuple(rows))


# --- other reads ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PasswordPolicyState:
    """The account password policy as GetAccountPasswordPolicy reports it."""

    minimum_length: int | None = None
    reuse_prevention: int | None = None
    max_age_days: int | None = None
    require_symbols: bool = False
    require_numbers: bool = False
    require_upper: bool = False
    require_lower: bool = False
    allow_users_to_change: bool = False
    hard_expiry: bool = False


#: A policy document as JSON-compatible data.
PolicyDoc = Mapping[str, object]

#: IAM paths of roles AWS creates and owns (service-linked roles): nobody can change their policies.
SERVICE_LINKED_PATH = "/aws-service-role/"


@dataclass(frozen=True)
class Principal:
    """A user, group or role from GetAccountAuthorizationDetails."""

    kind: str  # "user", "group" or "role"
    name: str
    arn: str
    attached: tuple[str, ...] = ()  # managed policy ARNs
    inline: Mapping[str, PolicyDoc] = field(default_factory=dict)  # inline policy name -> document
    groups: tuple[str, ...] = ()  # users only
    path: str = "/"
    trust: PolicyDoc | None = None  # roles only: the trust (assume-role) policy
    boundary: str | None = None  # the permissions boundary's policy ARN

    @property
    def ref(self) -> str:
        """How findings name it: user/jane, group/devops, role/DevOps."""
        return f"{self.kind}/{self.name}"

    @property
    def service_linked(self) -> bool:
        return self.kind == "role" and self.path.startswith(SERVICE_LINKED_PATH)


@dataclass(frozen=True)
class LiveManagedPolicy:
    """A managed policy with its default version's document: customer-managed, or AWS-managed and attached."""

    name: str
    arn: str
    attachment_count: int
    document: PolicyDoc

    @property
    def aws_managed(self) -> bool:
        # AWS-managed policies live in the reserved account "aws" (arn:<partition>:iam::aws:policy/...).
        return ":iam::aws:policy/" in self.arn

    @property
    def kind(self) -> str:
        return "AWS-managed" if self.aws_managed else "customer-managed"


@dataclass(frozen=True)
class AuthorizationDetails:
    """Users, groups, roles and every customer-managed policy (attached or not), in one bulk read.

    The AWS-managed policies attached in the account are a separate input
    (`AuditInput.aws_managed_policies`): they are read apart, and may fail apart.
    """

    users: tuple[Principal, ...] = ()
    groups: tuple[Principal, ...] = ()
    roles: tuple[Principal, ...] = ()
    policies: tuple[LiveManagedPolicy, ...] = ()

    @property
    def principals(self) -> tuple[Principal, ...]:
        return self.users + self.groups + self.roles

    def attached_to(self, arn: str) -> tuple[Principal, ...]:
        """The principals a managed policy is attached to."""
        return tuple(p for p in self.principals if arn in p.attached)

    def group(self, name: str) -> Principal | None:
        return next((g for g in self.groups if g.name == name), None)


@dataclass(frozen=True)
class VirtualMfaDevice:
    serial: str
    user_arn: str | None  # the assigned user; the root user's ARN ends in ":root"


@dataclass(frozen=True)
class ServerCertificate:
    name: str
    arn: str
    expiration: datetime


@dataclass(frozen=True)
class Analyzer:
    name: str
    type: str  # ACCOUNT, ORGANIZATION, ...
    status: str  # ACTIVE, CREATING, DISABLED, FAILED


@dataclass(frozen=True)
class IdentityProvider:
    """An IAM SAML or OpenID Connect identity provider (federation into this account)."""

    kind: str  # "SAML" or "OIDC"
    arn: str

    @property
    def name(self) -> str:
        return self.arn.rsplit("/", 1)[-1] if self.kind == "SAML" else self.arn.split("oidc-provider/", 1)[-1]


#: iam:ListOrganizationsFeatures feature names
ROOT_CREDENTIALS_MANAGEMENT = "RootCredentialsManagement"
ROOT_SESSIONS = "RootSessions"


@dataclass(frozen=True)
class RootAccessFeatures:
    """Centralized root access for member accounts (iam:ListOrganizationsFeatures, since Nov 2024).

    `enabled` is empty when the features are off; `why_off` then says what AWS answered when it
    could not even list them for a reason that means "off" (e.g. trusted access for IAM is not
    enabled in AWS Organizations). `organization_id` is None when the account is in no organization.
    """

    organization_id: str | None
    enabled: tuple[str, ...] = ()
    why_off: str | None = None
    read_from: str = ""  # the account name the features were read in

    @property
    def credentials_management(self) -> bool:
        return ROOT_CREDENTIALS_MANAGEMENT in self.enabled


@dataclass(frozen=True)
class IcPermissionSet:
    """An IAM Identity Center permission set, as the audit reads it (every one, not only iamlayer's)."""

    name: str
    arn: str
    session_seconds: int | None  # None: a duration the audit could not parse
    managed: tuple[str, ...] = ()  # AWS-managed policy ARNs
    customer_managed: tuple[str, ...] = ()  # path + name of each customer-managed reference
    inline: PolicyDoc | None = None


@dataclass(frozen=True)
class IcAssignment:
    principal_type: str  # GROUP or USER
    principal: str  # its name in the identity store ("id:<uuid>" when no longer there)
    permission_set: str
    account: str  # the account's name in the spec, or its id


@dataclass(frozen=True)
class IdentityCenterAudit:
    """The Identity Center instance the spec names, read in the account it lives in."""

    instance_arn: str
    region: str
    permission_sets: tuple[IcPermissionSet, ...] = ()
    assignments: tuple[IcAssignment, ...] = ()


@dataclass(frozen=True)
class AuditInput:
    """Everything the IAM controls read from one account, each part possibly Unavailable."""

    account: str
    account_id: str
    credential_report: CredentialReport | Unavailable
    summary: Mapping[str, int] | Unavailable
    password_policy: PasswordPolicyState | Unavailable | None  # None: the account has no policy
    authorization: AuthorizationDetails | Unavailable
    virtual_mfa_devices: tuple[VirtualMfaDevice, ...] | Unavailable
    server_certificates: tuple[ServerCertificate, ...] | Unavailable
    #: IAM Access Analyzer analyzers per region (an account-wide Unavailable when no region was read)
    analyzers: Mapping[str, tuple[Analyzer, ...] | Unavailable] = field(default_factory=dict)
    read_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: the AWS-managed policies attached to some user, group or role here, with their documents
    aws_managed_policies: tuple[LiveManagedPolicy, ...] | Unavailable = NOT_READ
    identity_providers: tuple[IdentityProvider, ...] | Unavailable = NOT_READ
    #: read once per audit in the management account (or the people account) and shared by all
    root_access: RootAccessFeatures | Unavailable = NOT_READ
    people_account: bool = False  # the spec's people account: where IAM users belong
    management_account: bool = False  # the organization's management account
    #: the account whose findings carry the organization-wide ones (where root_access was read)
    organization_reader: bool = False
    #: IAM Identity Center, read in the account the spec's identity_center names; None elsewhere
    identity_center: IdentityCenterAudit | Unavailable | None = None

    @classmethod
    def unreachable(
        cls, account: str, account_id: str, why: str, regions: tuple[str, ...] = ()
    ) -> AuditInput:
        """An account that could not be reached at all: every control reports ERROR with `why`."""
        u = Unavailable(why)
        return cls(
            account, account_id, u, u, u, u, u, u, {r: u for r in regions},
            aws_managed_policies=u, identity_providers=u, root_access=u,
        )  # fmt: skip

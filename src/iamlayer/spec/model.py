"""The spec model: what the user asked for, resolved and validated.

A `Spec` is produced only by `iamlayer.spec.load.load_spec`, after validation, so every
reference in it is known to resolve: group names in users, role names in groups, account names in
roles, policy names in groups. Defaults are already applied (alias, password policy per account,
`accounts: all` expanded), so downstream code never re-derives them.

Everything is frozen: the spec is a value that the planner reads and never mutates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from iamlayer.spec.ic_model import IdentityCenter
from iamlayer.spec.organization import AccountSelection, OrgView, SelectorMatch

# A policy document as JSON-compatible data (a dict with Version and Statement).
PolicyDocument = Mapping[str, Any]

AWS_MANAGED_PREFIX = "arn:aws:iam::aws:policy/"

#: character classes a password policy can require, as spelled in the spec
PASSWORD_CLASSES = ("upper", "lower", "numbers", "symbols")


class SelfManagement(StrEnum):
    """What a group's members may do to their own credentials (issue: organization)."""

    NONE = "none"
    ENFORCE_MFA = "enforce_mfa"  # own password, MFA and access keys; deny all else until MFA
    RESTRICTED = "restricted"  # as enforce_mfa, but without access-key management


class CliMode(StrEnum):
    """How a person reaches the AWS CLI (`cli:` of a user or group; issue 23)."""

    LOGIN = "login"  # `aws login` from a console sign-in: no access key at all
    KEY = "key"  # an access key kept in the OS keyring or encrypted with gpg, never in plaintext
    SSO = "sso"  # IAM Identity Center


@dataclass(frozen=True)
class PasswordPolicy:
    """The account password policy; every field GetAccountPasswordPolicy knows."""

    minimum_length: int = 14
    require: frozenset[str] = frozenset(PASSWORD_CLASSES)
    allow_users_to_change: bool = True
    max_age_days: int | None = None  # None: passwords never expire
    reuse_prevention: int | None = None  # None: no reuse prevention
    hard_expiry: bool = False

    @classmethod
    def from_aws(cls, fields: Mapping[str, Any]) -> PasswordPolicy:
        """The policy in GetAccountPasswordPolicy's fields (absent ones: AWS's defaults; a
        maximum age or reuse count of 0 means none, as Terraform writes it)."""
        require = {
            cls_
            for cls_, key in (
                ("upper", "RequireUppercaseCharacters"),
                ("lower", "RequireLowercaseCharacters"),
                ("numbers", "RequireNumbers"),
                ("symbols", "RequireSymbols"),
            )
            if fields.get(key)
        }
        return cls(
            minimum_length=int(fields.get("MinimumPasswordLength") or 6),
            require=frozenset(require),
            allow_users_to_change=bool(fields.get("AllowUsersToChangePassword", False)),
            max_age_days=int(fields["MaxPasswordAge"]) or None if fields.get("MaxPasswordAge") else None,
            reuse_prevention=int(fields["PasswordReusePrevention"]) or None
            if fields.get("PasswordReusePrevention")
            else None,
            hard_expiry=bool(fields.get("HardExpiry", False)),
        )


@dataclass(frozen=True)
class Account:
    """One AWS account of the layer, with its per-account settings resolved."""

    name: str
    id: str
    alias: str | None  # None: leave the alias alone
    password_policy: PasswordPolicy | None  # None: leave the password policy alone
    profile: str | None = None  # a named AWS profile to reach it, instead of assuming access_role


@dataclass(frozen=True)
class ManagedPolicy:
    """A customer-managed policy, created in the people account."""

    name: str
    document: PolicyDocument
    description: str = ""
    path: str = "/"


@dataclass(frozen=True)
class Role:
    """An assumable role, created in each of `accounts`, trusting `trusted_account`.

    `name` is the IAM role name; the spec's key for the role is usually the same, but differs when
    a role of one name is defined differently in some accounts (`name:` in the spec; what
    `iamlayer import` writes for such roles). `trust_policy`, when set, is the trust policy as
    written, instead of the one iamlayer renders from `trusted_account` and `mfa_max_age`.
    """

    name: str
    accounts: tuple[str, ...]  # account names, `all` already expanded
    trusted_account: str  # account name whose principals may assume it (people account by default)
    policies: tuple[str, ...] = ()  # managed policy ARNs
    inline_policies: Mapping[str, PolicyDocument] = field(default_factory=dict)
    mfa_max_age: int | None = None  # seconds; None: no MFA condition in the trust policy
    max_session_duration: int = 3600
    source_identity: bool = False
    tag_session: bool = False
    permissions_boundary: str | None = None
    description: str = ""
    path: str = "/"
    tags: Mapping[str, str] = field(default_factory=dict)
    trust_policy: PolicyDocument | None = None  # verbatim; None: rendered from the fields above
    #: how `accounts` were chosen when the organization chose them (`ou:` selectors, or `all` in a
    #: layer whose accounts come from the organization); None: the accounts named one by one
    selection: AccountSelection | None = None
    #: Identity Center principals the account access manager entitles to it: "group/<name>" or
    #: "user/<name>" of identity_center's users and groups
    entitled: tuple[str, ...] = ()
    entitled_line: int | None = field(default=None, compare=False, hash=False)  # where `entitled:` is

    @property
    def requires_mfa(self) -> bool:
        """Whether assuming the role needs an MFA session (its profiles then carry mfa_serial)."""
        if self.trust_policy is not None:
            return "aws:MultiFactorAuth" in json.dumps(self.trust_policy)
        return self.mfa_max_age is not None


@dataclass(frozen=True)
class Group:
    """An IAM group in the people account."""

    name: str
    policies: tuple[str, ...] = ()  # ARNs, or names of `Spec.policies` entries
    inline_policies: Mapping[str, PolicyDocument] = field(default_factory=dict)
    assume: tuple[str, ...] = ()  # role names
    self_management: SelfManagement = SelfManagement.NONE
    path: str = "/"
    cli: CliMode | None = None  # for the members that set none themselves


@dataclass(frozen=True)
class User:
    """An IAM user in the people account."""

    name: str
    groups: tuple[str, ...] = ()
    pgp_key: Path | None = None  # absolute path, resolved against the spec file's folder
    console: bool = False  # login profile; defaults to True when pgp_key is set
    access_key: bool = False
    password_reset_required: bool = True  # create-time value: never diffed
    path: str = "/"
    tags: Mapping[str, str] = field(default_factory=dict)
    # `credentials: keep`: the console password and access keys stay exactly as they are in AWS;
    # iamlayer never creates, deletes or rotates them (an imported user whose PGP key is unknown).
    keep_credentials: bool = False
    cli: CliMode | None = None  # None: what the user's groups say, else `key`


@dataclass(frozen=True)
class Grant:
    """Temporary access (`grants:`): user `who` may assume role `assume` in `accounts` until `until`.

    Rendered into the user's inline policy with a `DateLessThan aws:CurrentTime` condition, so AWS
    itself ends it at `until` even if nobody runs iamlayer again; once expired it renders nothing,
    and the next plan deletes it (iamlayer.plan.desired.grants_policy).
    """

    who: str  # a user of the spec
    assume: str  # a role key of the spec
    accounts: tuple[str, ...]  # account names where the role is
    until: datetime  # timezone-aware
    reason: str = ""
    line: int | None = None  # where the grant is in the spec
    path: str = ""  # its key path, e.g. "grants[0]"

    def active(self, now: datetime) -> bool:
        return now < self.until

    @property
    def until_text(self) -> str:
        """`until` as aws:CurrentTime is written (ISO 8601, UTC, seconds)."""
        return self.until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Offboarding:
    """A person who left (`offboarded:`), and the role sessions they may still hold.

    `iamlayer offboard` removes the user from the spec and records this entry: the roles they
    could assume (spec role key, account) and the permission sets they were assigned, at `at`.
    Each of those gets a Deny of every action for sessions named after the person and issued
    before `at`, kept until `at` plus the role's (or permission set's) longest session, when no
    such session can be left (iamlayer.plan.desired.offboarded_policy).
    """

    user: str  # the IAM user name (and the Identity Center user name), which names the sessions
    at: datetime  # timezone-aware: when the offboarding happened
    roles: tuple[tuple[str, str], ...] = ()  # (role key of the spec, account name)
    permission_sets: tuple[str, ...] = ()  # names under identity_center.permission_sets
    line: int | None = None
    path: str = ""  # its key path, e.g. "offboarded[0]"

    def active(self, now: datetime, max_session: int) -> bool:
        """Whether a session issued before `at`, lasting at most `max_session` s, may be alive at `now`."""
        return now < self.at + timedelta(seconds=max_session)

    @property
    def at_text(self) -> str:
        """`at` as aws:TokenIssueTime is compared (ISO 8601, UTC, seconds)."""
        return self.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


#: `role/<name>@<account>` (or `@*`, every account where the role is): a role as checks name it
ROLE_REF = re.compile(r"role/([\w+=,.@-]{1,64})@(\*|[A-Za-z0-9][A-Za-z0-9_.-]{0,62})", re.ASCII)
EVERY_ACCOUNT = "*"


def parse_role_ref(text: str) -> tuple[str, str] | None:
    """`role/DevOps@apps-prd` -> ("DevOps", "apps-prd"); None when `text` is not that shape."""
    m = ROLE_REF.fullmatch(text)
    return (m.group(1), m.group(2)) if m else None


@dataclass(frozen=True)
class Check:
    """An access check: `who` can (or cannot) do `action` on `on`, with or without MFA.

    `who` is a user name, `group/<name>` or `*` (every user); `on` is an ARN, `*` or
    `role/<name>@<account or *>`. `mfa` None means the check must hold both with and without
    MFA; `mfa_age` (seconds) is the age of the MFA sign-in when MFA is used.
    """

    who: str
    can: bool  # True: `can:`; False: `cannot:`
    action: str
    on: str
    mfa: bool | None = None
    mfa_age: int | None = None
    line: int | None = None  # where the check is in the spec
    path: str = ""  # its key path, e.g. "checks[0]"


@dataclass(frozen=True)
class S3Backend:
    """`backend: {s3: ...}`: the team's shared state in an S3 bucket (iamlayer.state.backend).

    `lines` says where each field is written in the spec (field name -> line, "" for the block
    itself), so that a bucket or KMS key AWS refuses is reported at its line, as a spec error.
    """

    bucket: str
    prefix: str
    account: str  # an account name of the spec
    region: str
    kms_key: str | None = None  # None: SSE-S3
    lock_lease: float = 300.0  # seconds without a heartbeat after which a lock is stale
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)

    def line(self, name: str) -> int | None:
        return self.lines.get(name) or self.lines.get("")


@dataclass(frozen=True)
class CiProvider:
    """One CI system of `ci:` (iamlayer.spec.ci_validate): the OpenID Connect provider iamlayer
    makes in `account`, and two roles there that its jobs assume with their OIDC token. Each
    role's trust pins the audience and exact `sub` values (iamlayer.plan.ci): `plan_subs` for the
    plan role (read-only operator policy), `apply_subs` for the apply role (the whole policy)."""

    name: str  # "github" or "gitlab"
    subject: str  # the repository (github) or project path (gitlab): acme/infrastructure
    account: str  # an account name of the spec
    url: str  # the issuer: https://token.actions.githubusercontent.com
    audience: str  # the token's `aud`
    plan_subs: tuple[str, ...]
    apply_subs: tuple[str, ...]
    line: int | None = field(default=None, compare=False, hash=False)

    @property
    def host(self) -> str:
        """The issuer without its scheme: the provider's name in its ARN and in condition keys."""
        return self.url.removeprefix("https://").rstrip("/")

    @property
    def plan_role(self) -> str:
        return f"iamlayer-ci-{self.name}-plan"

    @property
    def apply_role(self) -> str:
        return f"iamlayer-ci-{self.name}-apply"


@dataclass(frozen=True)
class Spec:
    """The whole identities layer, validated and with defaults applied."""

    path: Path  # the spec file
    project: str
    project_long: str
    region: str
    accounts: Mapping[str, Account]  # in spec order
    people_account: str
    management_account: str | None  # the account named `management`, or `management_account:`
    access_role: str = "OrganizationAccountAccessRole"
    policies: Mapping[str, ManagedPolicy] = field(default_factory=dict)
    roles: Mapping[str, Role] = field(default_factory=dict)
    groups: Mapping[str, Group] = field(default_factory=dict)
    users: Mapping[str, User] = field(default_factory=dict)
    regions_in_use: tuple[str, ...] = ()  # for sts-regions; defaults to (region,)
    outputs_dir: Path | None = None  # encrypted secrets; default <spec dir>/outputs
    checks: tuple[Check, ...] = ()  # who may do what, evaluated before any AWS write
    identity_center: IdentityCenter | None = None  # IAM Identity Center (iamlayer.spec.ic_model)
    # Users, groups, roles and policies the spec names that exist in AWS without any iamlayer
    # ownership marker are adopted (the marker is added) instead of being reported as collisions.
    adopt: bool = False
    backend: S3Backend | None = None  # None: the local folder .iamlayer/ beside the spec
    grants: tuple[Grant, ...] = ()  # temporary access that AWS ends by itself (`grants:`)
    ci: tuple[CiProvider, ...] = ()  # CI systems that plan and apply with OIDC (`ci:`)
    offboarded: tuple[Offboarding, ...] = ()  # people who left, while their sessions may live
    # --- accounts chosen by the organization (iamlayer.spec.organization) ---
    #: `accounts: {organization: true}`: the layer's accounts are the organization's ACTIVE ones
    accounts_from_organization: bool = False
    #: the spec uses OU selectors or `organization: true` and has not been resolved yet: only
    #: the accounts it names (`names:`) are in `accounts`; plan resolves it (`resolve_organization`)
    unresolved: bool = False
    #: the organization it was resolved against; None when unresolved or not needed
    organization: OrgView | None = None
    #: what each selector matched when it was resolved, for the plan to show
    selections: tuple[SelectorMatch, ...] = ()
    #: the parsed YAML tree, kept to resolve the spec against the organization at plan time
    source_tree: Any = field(default=None, compare=False, repr=False)

    @property
    def root(self) -> Path:
        """The folder the spec lives in; relative paths in the spec are relative to it."""
        return self.path.parent

    @property
    def people(self) -> Account:
        return self.accounts[self.people_account]

    def active_grants(self, now: datetime) -> tuple[Grant, ...]:
        """The grants not yet expired at `now`: the ones iamlayer writes."""
        return tuple(g for g in self.grants if g.active(now))

    def cli_of(self, user: str) -> CliMode:
        """How `user` reaches the CLI: the user's `cli:`, else their groups' (validation makes
        them agree), else `key`."""
        u = self.users[user]
        if u.cli is not None:
            return u.cli
        chosen = [g.cli for n in u.groups if (g := self.groups.get(n)) is not None and g.cli is not None]
        return chosen[0] if chosen else CliMode.KEY

    def policy_arn(self, ref: str) -> str:
        """Resolve a policy reference (ARN or name of a spec policy) to its ARN."""
        if ref.startswith("arn:"):
            return ref
        pol = self.policies[ref]
        return f"arn:aws:iam::{self.people.id}:policy{pol.path}{pol.name}"

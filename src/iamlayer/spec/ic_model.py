"""The `identity_center:` block of the spec: IAM Identity Center people, groups, permission sets
and account assignments, validated and with defaults applied (see iamlayer.spec.ic_validate).

Identity Center is not a second pipeline: these are more resource kinds of the same plan. The
instance lives in one account of the layer (`account`, the management account or the delegated
administrator) and one region; its users and groups live in the instance's identity store, its
permission sets in the instance, and each assignment gives a user or group a permission set in
one account of the layer.

Assignments are expanded: one `Assignment` per (principal, permission set, account), in spec
order, without duplicates, `accounts: all` already resolved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: The shortest and longest session a permission set may give (AWS: 1 to 12 hours).
SESSION_MIN_SECONDS = 3600
SESSION_MAX_SECONDS = 43200
DEFAULT_SESSION_DURATION = "PT1H"

_ISO_DURATION = re.compile(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?")

GROUP = "GROUP"
USER = "USER"

#: `identity_source:` values: iamlayer makes the people and groups it declares (the default), or
#: an external identity provider (Okta, Entra ID, Google...) provisions them by SCIM and
#: iamlayer only looks them up by name
IDENTITY_CENTER_SOURCE = "identity_center"
EXTERNAL_SOURCE = "external"
IDENTITY_SOURCES = (IDENTITY_CENTER_SOURCE, EXTERNAL_SOURCE)


def duration_seconds(text: str | int) -> int | None:
    """Seconds of an ISO 8601 duration as permission sets spell it (PT4H, PT1H30M); None if not one.

    An integer is taken as seconds (the emulator answers a permission set made without a
    duration with the number 3600).
    """
    if isinstance(text, int):
        return text
    m = _ISO_DURATION.fullmatch(text.strip())
    if m is None or not any(m.groups()):
        return None
    h, mi, s = (int(g) if g else 0 for g in m.groups())
    return h * 3600 + mi * 60 + s


def iso_duration(seconds: int) -> str:
    """The canonical spelling of a duration in whole minutes: 14400 -> PT4H, 5400 -> PT1H30M."""
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    return "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")


def default_portal_url(identity_store_id: str) -> str:
    """The access portal URL AWS gives an instance until someone customises its subdomain."""
    return f"https://{identity_store_id}.awsapps.com/start"


@dataclass(frozen=True)
class IcUser:
    """A person in the identity store."""

    name: str  # UserName: what they sign in with
    email: str
    given_name: str
    family_name: str
    display_name: str  # default "<given_name> <family_name>"
    #: provisioned by an external identity provider: looked up by name, never written (the
    #: name fields above are then empty)
    external: bool = False
    line: int | None = field(default=None, compare=False)  # where the spec declares it


@dataclass(frozen=True)
class IcGroup:
    """A group in the identity store; `members` are IcUser names."""

    name: str  # DisplayName, unique in the identity store
    description: str = ""
    members: tuple[str, ...] = ()
    external: bool = False  # provisioned by an external identity provider (see IcUser)
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PermissionSet:
    """A permission set: the role Identity Center provisions in each account it is assigned in."""

    name: str
    description: str = ""
    session_duration: str = DEFAULT_SESSION_DURATION  # canonical ISO 8601 (iso_duration)
    policies: tuple[str, ...] = ()  # AWS-managed policy ARNs
    customer_managed_policies: tuple[str, ...] = ()  # names under the spec's `policies:`
    inline_policy: Mapping[str, Any] | None = None
    #: an AWS-managed policy ARN or the name of a spec policy; None with `boundary_managed`
    #: means "no boundary", None without it means "leave the boundary alone"
    boundary: str | None = None
    boundary_managed: bool = False
    relay_state: str = ""


@dataclass(frozen=True, order=True)
class Assignment:
    """One principal given one permission set in one account."""

    principal_type: str  # GROUP or USER
    principal: str  # IcGroup or IcUser name
    permission_set: str
    account: str  # account name in the spec
    line: int | None = field(default=None, compare=False)  # where the spec's assignment is


@dataclass(frozen=True)
class IdentityCenter:
    """The whole `identity_center:` block."""

    account: str  # where the instance lives (the spec's account name)
    region: str
    start_url: str | None = None  # the AWS access portal URL, for people's sso-session profiles
    instance_arn: str | None = None  # needed only when the account has several instances
    #: the instance's identity store (d-xxxxxxxxxx): names the portal's default URL
    identity_store_id: str | None = None
    users: Mapping[str, IcUser] = field(default_factory=dict)
    groups: Mapping[str, IcGroup] = field(default_factory=dict)
    permission_sets: Mapping[str, PermissionSet] = field(default_factory=dict)
    assignments: tuple[Assignment, ...] = ()
    identity_source: str = IDENTITY_CENTER_SOURCE

    def external(self, principal_type: str) -> dict[str, int | None]:
        """The external principals of one type (GROUP or USER) the spec names: name -> its line."""
        found = self.groups if principal_type == GROUP else self.users
        return {p.name: p.line for p in found.values() if p.external}

    @property
    def portal_url(self) -> str | None:
        """The AWS access portal URL people sign in at: `start_url`, else the default one AWS
        gives every instance, https://<identity store id>.awsapps.com/start (None if neither is known)."""
        if self.start_url:
            return self.start_url
        return default_portal_url(self.identity_store_id) if self.identity_store_id else None

    def groups_of(self, user: str) -> tuple[str, ...]:
        return tuple(g.name for g in self.groups.values() if user in g.members)

    def access_of(self, user: str) -> tuple[tuple[str, str], ...]:
        """(account, permission set) pairs `user` reaches, directly or through a group, in spec order."""
        groups = set(self.groups_of(user))
        pairs = [
            (a.account, a.permission_set)
            for a in self.assignments
            if (a.principal_type == USER and a.principal == user)
            or (a.principal_type == GROUP and a.principal in groups)
        ]
        return tuple(dict.fromkeys(pairs))

    def policy_names(self, permission_set: PermissionSet) -> tuple[str, ...]:
        """The spec policies a permission set needs in every account it is assigned in."""
        names = list(permission_set.customer_managed_policies)
        if permission_set.boundary and not permission_set.boundary.startswith("arn:"):
            names.append(permission_set.boundary)
        return tuple(dict.fromkeys(names))

    def policies_in(self, account: str) -> tuple[str, ...]:
        """Spec policy names that must exist in `account`: those of the permission sets assigned there."""
        sets = dict.fromkeys(a.permission_set for a in self.assignments if a.account == account)
        return tuple(dict.fromkeys(n for ps in sets for n in self.policy_names(self.permission_sets[ps])))

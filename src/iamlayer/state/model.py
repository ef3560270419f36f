"""Account state in the spec's vocabulary: what is live in AWS, and what the spec wants.

The same classes describe both sides. `iamlayer.aws.read` builds the live `AccountState` from bulk
reads; `iamlayer.plan.desired` renders the wanted one from the Spec. `diff` compares the two, so
every policy document here is already normalised (`iamlayer.state.normalize`).

Ownership: users, roles and customer-managed policies carry the tag `iamlayer:project = <project>`;
groups cannot be tagged, so an owned group carries an inline marker policy named
`iamlayer-owner-<project>` that denies nothing (`Deny NotAction * Resource *` matches no action).
A policy iamlayer created also ends its description with `[iamlayer:<project>]`, which the bulk
read returns (GetAccountAuthorizationDetails gives no policy tags). A policy's description cannot
be changed once it exists, so a policy iamlayer adopted is known by its tag alone: the planner
reads the tags of the people account's policies that lack the description marker (ListPolicyTags,
one call each, bounded; see iamlayer.plan.planner).

Tags: a user or role iamlayer made or adopted may also carry tags others added (Terraform's, the
console's). The tag `iamlayer:tags` lists the keys of the tags iamlayer set from the spec, so a tag
that leaves the spec is removed from AWS and the others' stay (see `tag_manifest`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime
from typing import Any

from iamlayer.kinds import limit
from iamlayer.plan.model import Kind
from iamlayer.spec.model import PasswordPolicy

OWNER_TAG = "iamlayer:project"
#: Lists, space-separated, the keys of the spec's tags iamlayer set on a user or role.
MANAGED_TAGS_TAG = "iamlayer:tags"
#: IAM's limit of tags per user or role (iamlayer's own two included).
MAX_TAGS = limit(Kind.USER, "tags")  # the same for roles (iamlayer.kinds)
#: IAM's limit on the length of a tag value.
MAX_TAG_VALUE = 256
GROUP_MARKER_PREFIX = "iamlayer-owner-"
POLICY_MARKER = "[iamlayer:{project}]"
#: The one inline policy of a user that iamlayer writes: their grants (`grants:`). A user's other
#: inline policies are not iamlayer's, and are left alone.
GRANTS_POLICY_NAME = "iamlayer-grants"
#: The inline policy of a role (and the statements of a permission set's inline policy) that
#: deny the sessions of people who left (`offboarded:`), until those sessions have ended.
OFFBOARDED_POLICY_NAME = "iamlayer-offboarded"

Doc = dict[str, Any]


def tag_manifest(spec_tags: Mapping[str, str]) -> dict[str, str]:
    """The `iamlayer:tags` tag recording the keys of `spec_tags`, or {} when there is none to record.

    IAM tag keys may contain spaces, and a tag value has the same alphabet: such a key is not
    recorded (and so never removed by iamlayer), nor are keys beyond the value's 256 characters,
    nor any when the spec's tags leave no room for this one among IAM's 50 (the ownership tag takes
    one). Unrecorded tags are still set; they stay in AWS when they leave the spec.
    """
    if not spec_tags or len(spec_tags) > MAX_TAGS - 2:
        return {}
    value = ""
    for key in sorted(k for k in spec_tags if " " not in k and k not in (OWNER_TAG, MANAGED_TAGS_TAG)):
        longer = f"{value} {key}" if value else key
        if len(longer) > MAX_TAG_VALUE:
            break
        value = longer
    return {MANAGED_TAGS_TAG: value} if value else {}


def managed_tag_keys(tags: Mapping[str, str]) -> frozenset[str]:
    """The keys of the tags iamlayer set from the spec, as the live `iamlayer:tags` tag says, with
    that tag itself; empty when the resource has none (it was never given spec tags)."""
    if MANAGED_TAGS_TAG not in tags:
        return frozenset()
    return frozenset(tags[MANAGED_TAGS_TAG].split()) | {MANAGED_TAGS_TAG}


def group_marker_name(project: str) -> str:
    return f"{GROUP_MARKER_PREFIX}{project}"


def group_marker_document() -> Doc:
    """The ownership marker's document: a statement that matches no action, so it changes nothing."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "IamlayerOwnershipMarker", "Effect": "Deny", "NotAction": "*", "Resource": "*"}
        ],
    }


def policy_marker(project: str) -> str:
    return POLICY_MARKER.format(project=project)


_POLICY_MARKER = re.compile(r"\[iamlayer:([a-z0-9-]+)\]$")


def description_owner(description: str) -> str | None:
    """The project whose marker ends a policy description (set when iamlayer created it)."""
    m = _POLICY_MARKER.search(description)
    return m.group(1) if m else None


def strip_policy_marker(description: str) -> str:
    """A policy description without iamlayer's ownership marker: what the spec says."""
    return _POLICY_MARKER.sub("", description).rstrip()


@dataclass(frozen=True)
class AccessKey:
    id: str
    active: bool
    created: str = ""  # ISO time AWS made it, when known (per-user reads; not the credential report)


@dataclass
class UserState:
    name: str
    path: str = "/"
    tags: dict[str, str] = field(default_factory=dict)
    groups: frozenset[str] = frozenset()
    attached: frozenset[str] = frozenset()
    inline: dict[str, Doc] = field(default_factory=dict)
    # From the credential report (a hint) or per-user confirmation; None = not known.
    login_profile: bool | None = None
    access_keys: tuple[AccessKey, ...] | None = None
    mfa_devices: tuple[str, ...] | None = None
    # Desired state only: `credentials: keep`, so login profile and keys are never diffed.
    credentials_kept: bool = False
    # When AWS created this user (live state only; None: not read). Tells a user deleted by hand
    # and re-created under the same name from the one a credential report row describes.
    created: datetime | None = None

    def owned_by(self, project: str) -> bool:
        return self.tags.get(OWNER_TAG) == project


@dataclass
class GroupState:
    name: str
    path: str = "/"
    attached: frozenset[str] = frozenset()
    inline: dict[str, Doc] = field(default_factory=dict)  # without the ownership marker
    owner: str | None = None  # project named by the marker policy
    members: frozenset[str] = frozenset()

    def owned_by(self, project: str) -> bool:
        return self.owner == project


@dataclass
class RoleState:
    name: str
    path: str = "/"
    trust: Doc = field(default_factory=dict)
    max_session_duration: int = 3600
    description: str = ""
    permissions_boundary: str | None = None
    attached: frozenset[str] = frozenset()
    inline: dict[str, Doc] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    instance_profiles: tuple[str, ...] = ()

    def owned_by(self, project: str) -> bool:
        return self.tags.get(OWNER_TAG) == project


@dataclass
class PolicyState:
    name: str
    path: str = "/"
    description: str = ""
    document: Doc = field(default_factory=dict)
    arn: str = ""
    default_version: str = "v1"
    versions: tuple[str, ...] = ()  # non-default version ids, oldest first
    attachments: int = 0
    # None: not read. The bulk read gives no policy tags; see the module docstring.
    tags: dict[str, str] | None = None

    def owned_by(self, project: str) -> bool:
        return description_owner(self.description) == project or (self.tags or {}).get(OWNER_TAG) == project


@dataclass
class OidcProviderState:
    """An IAM OpenID Connect identity provider, named by its issuer's host (the ARN's last part,
    `oidc-provider/<host>`): the audiences it accepts (`client_ids`) and its tags."""

    host: str
    arn: str = ""
    client_ids: tuple[str, ...] = ()  # sorted
    tags: dict[str, str] = field(default_factory=dict)

    def owned_by(self, project: str) -> bool:
        return self.tags.get(OWNER_TAG) == project


Resource = UserState | GroupState | RoleState | PolicyState


def owner_of(resource: Resource) -> str | None:
    """The iamlayer project that owns `resource`, or None when none does (as far as was read)."""
    if isinstance(resource, GroupState):
        return resource.owner
    if isinstance(resource, PolicyState):
        return description_owner(resource.description) or (resource.tags or {}).get(OWNER_TAG)
    return resource.tags.get(OWNER_TAG)


def adoptable(resource: Resource, project: str, adopt: bool) -> bool:
    """Whether `project` may take `resource` over: the spec says `adopt: true` and no iamlayer
    project owns it. A policy whose tags were not read is never adoptable: it might be owned."""
    if not adopt or owner_of(resource) is not None:
        return False
    return not (isinstance(resource, PolicyState) and resource.tags is None)


@dataclass
class AccountState:
    """One account: the resources iamlayer may manage, keyed by name."""

    account_id: str
    alias: str | None = None
    password_policy: PasswordPolicy | None = None
    users: dict[str, UserState] = field(default_factory=dict)
    groups: dict[str, GroupState] = field(default_factory=dict)
    roles: dict[str, RoleState] = field(default_factory=dict)
    policies: dict[str, PolicyState] = field(default_factory=dict)
    oidc_providers: dict[str, OidcProviderState] = field(default_factory=dict)  # by issuer host
    # When the credential report used as a hint was generated (ISO), or None if none was read.
    credential_report_time: str | None = None

    def fingerprint(self) -> str:
        """A digest of everything a plan depends on: a saved plan is stale when this changes.

        The JSON of the state (as dataclasses.asdict would give it) without the credential
        report's time; encoded field by field as json meets each object, not deep-copied first
        (asdict took a third of a 5,000-user plan).
        """
        blob = json.dumps(self, sort_keys=True, default=_fingerprint_json, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


def _fingerprint_json(o: object) -> object:
    if isinstance(o, frozenset | set):
        return sorted(o)  # type: ignore[type-var]
    if is_dataclass(o) and not isinstance(o, type):
        data = {f.name: getattr(o, f.name) for f in fields(o)}
        if isinstance(o, AccountState):
            data.pop("credential_report_time")
        elif isinstance(o, UserState):
            # Key ids are known only for users confirmed one by one; what the plan rests on is the
            # number of active and inactive keys, which the credential report also gives.
            keys = o.access_keys
            data["access_keys"] = None if keys is None else sorted(k.active for k in keys)
            data.pop("created")  # read to judge the credential report's rows, not planned on
        return data
    raise TypeError(type(o).__name__)

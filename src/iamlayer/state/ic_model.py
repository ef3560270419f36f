"""IAM Identity Center state in the spec's vocabulary: what is live, and what the spec wants.

As for IAM (iamlayer.state.model), the same classes describe both sides: iamlayer.aws.identity_center
reads the live `IcState`, iamlayer.plan.ic_diff renders the wanted one and compares them.

Ownership. iamlayer must know what it made, and never touch the rest:
- permission sets carry the tag `iamlayer:project = <project>` (written at creation), and, since
  neither ListPermissionSets nor DescribePermissionSet returns tags (a ListTagsForResource per
  permission set would be one more call each, every plan), the marker `[iamlayer:<project>]` at
  the end of their description, which DescribePermissionSet returns;
- identity-store users and groups cannot be tagged, and ExternalIds are set only by an external
  identity provider (SCIM), not by CreateUser/CreateGroup. A group carries the marker at the end
  of its Description; a user, which has no description, carries it as its UserType (a free-text
  attribute for "the relationship to the organization", e.g. Employee; the only field of a user
  ListUsers returns that people rarely set, and one the AWS access portal never shows);
- an account assignment cannot be tagged: it is iamlayer's when both its permission set and its
  principal are. A person's assignment of an owned permission set to a group iamlayer does not
  own (or of a foreign permission set to an owned group) is never touched.
Limits: the markers are visible, editable fields. Someone who removes a marker makes the resource
foreign: iamlayer then refuses to change it (a collision naming how to adopt it back), and never
deletes it. Someone who writes a marker by hand makes a resource iamlayer's.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from iamlayer.state.model import POLICY_MARKER, Doc

_MARKER = re.compile(r"\s*\[iamlayer:([a-z0-9-]+)\]\s*$")


def with_marker(text: str, project: str) -> str:
    """`text` with the ownership marker of `project` appended ("Full access [iamlayer:acme]")."""
    return f"{text} {POLICY_MARKER.format(project=project)}".strip()


def split_marker(text: str | None) -> tuple[str, str | None]:
    """(the text without its marker, the project the marker names or None)."""
    text = text or ""
    m = _MARKER.search(text)
    if m is None:
        return text, None
    return text[: m.start()], m.group(1)


def cm_ref(path: str, name: str) -> str:
    """How a customer-managed policy reference is keyed: its path and name, "/billing-read"."""
    return f"{path}{name}"


def cm_parts(ref: str) -> tuple[str, str]:
    """("/", "billing-read") from "/billing-read": CustomerManagedPolicyReference's Path and Name."""
    path, _, name = ref.rpartition("/")
    return f"{path}/", name


@dataclass
class IcUserState:
    name: str
    id: str = ""  # UserId; "" in the desired state
    display_name: str = ""
    given_name: str = ""
    family_name: str = ""
    email: str = ""
    owner: str | None = None
    #: it has ExternalIds: an external identity provider provisioned it (SCIM)
    external: bool = False

    def owned_by(self, project: str) -> bool:
        return self.owner == project

    def fields(self) -> dict[str, str]:
        """What the diff compares (the id is not the spec's to say)."""
        return {
            "display_name": self.display_name,
            "given_name": self.given_name,
            "family_name": self.family_name,
            "email": self.email,
        }


@dataclass
class IcGroupState:
    name: str
    id: str = ""
    description: str = ""  # without the marker
    owner: str | None = None
    members: dict[str, str] = field(default_factory=dict)  # user name -> membership id ("" desired)
    external: bool = False  # it has ExternalIds (see IcUserState)

    def owned_by(self, project: str) -> bool:
        return self.owner == project


@dataclass
class PermissionSetState:
    name: str
    arn: str = ""
    description: str = ""  # without the marker
    owner: str | None = None
    session_duration: str = "PT1H"
    relay_state: str = ""
    policies: frozenset[str] = frozenset()  # AWS-managed policy ARNs
    customer_managed: frozenset[str] = frozenset()  # cm_ref() of each reference
    inline: Doc | None = None
    #: an AWS-managed ARN or a cm_ref(); only read (and compared) when the spec manages it
    boundary: str | None = None
    boundary_read: bool = False
    #: account ids where AWS holds an older version than the permission set's latest (read for
    #: the permission sets iamlayer owns; never in the desired state)
    outdated: frozenset[str] = frozenset()

    def owned_by(self, project: str) -> bool:
        return self.owner == project


@dataclass(frozen=True, order=True)
class AssignmentState:
    """One live or wanted assignment, principals and permission sets by name."""

    principal_type: str  # GROUP or USER
    principal: str  # a user or group name; "id:<uuid>" for a principal no longer in the store
    permission_set: str
    account_id: str


@dataclass(frozen=True, order=True)
class EntitlementState:
    """One entitlement of the account access manager: an Identity Center principal may use one
    IAM role (through the access portal), principals by name as for assignments."""

    role_arn: str
    principal_type: str  # GROUP or USER
    principal: str  # a user or group name; "id:<uuid>" for a principal not in the store
    id: str = field(default="", compare=False)  # AWS's entitlementId ("" when wanted)


class AssignmentReads(StrEnum):
    """The two shapes of the assignment read (iamlayer.aws.identity_center)."""

    PAIRS = "permission set and account"  # ListAccountAssignments per owned permission set and account
    PRINCIPAL = "principal"  # ListAccountAssignmentsForPrincipal per managed principal, then completions


@dataclass(frozen=True)
class AssignmentReadShape:
    """How a live read got its assignments, for `plan --stats`: the shape, and the counts it was
    chosen by (`principals`: those whose assignments iamlayer manages; `pairs`: owned permission
    set and account pairs in scope); `completions`: the ListAccountAssignments a by-principal read
    added (see iamlayer.aws.identity_center)."""

    by: AssignmentReads
    principals: int
    pairs: int
    completions: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "assignments_by": str(self.by),
            "principals": self.principals,
            "pairs": self.pairs,
            "completions": self.completions,
        }


@dataclass
class IcState:
    """One Identity Center instance: its identity store and what iamlayer may manage in it.

    `assignments` holds every assignment of the permission sets iamlayer owns, whoever the
    principal (a foreign one is needed to know where a permission set is provisioned); read by
    principal, all but other principals' where every managed principal's stays
    (iamlayer.aws.identity_center.completing_pairs: no plan differs).
    """

    instance_arn: str = ""
    identity_store_id: str = ""
    users: dict[str, IcUserState] = field(default_factory=dict)
    groups: dict[str, IcGroupState] = field(default_factory=dict)
    permission_sets: dict[str, PermissionSetState] = field(default_factory=dict)
    assignments: set[AssignmentState] = field(default_factory=set)
    #: (GROUP or USER, name) of the external principals the spec names, as resolved (live) or
    #: wanted (desired): never written, but their assignments of owned permission sets are iamlayer's
    external: set[tuple[str, str]] = field(default_factory=set)
    #: "GROUP/name" or "USER/name" of an external principal the spec names that the store lacks
    #: -> the names of that type the store has (for a did-you-mean); only in the live state
    unresolved: dict[str, list[str]] = field(default_factory=dict)
    #: the account access manager, read only when a role of the spec is `entitled`: its
    #: application for this instance ("" when none), whose it is (its iamlayer:project tag),
    #: and the entitlements to roles of the accounts of the entitled roles
    application_arn: str = ""
    application_owner: str | None = None
    entitlements: set[EntitlementState] = field(default_factory=set)
    #: how the live read got the assignments (None: not read so, or the wanted state); a cost,
    #: not a state: outside the fingerprint
    read_shape: AssignmentReadShape | None = None

    def principal_owned(self, principal_type: str, name: str, project: str) -> bool:
        """Whether iamlayer manages the principal's assignments: it made the principal, or the
        spec names it as an external identity provider's."""
        if (principal_type, name) in self.external:
            return True
        found = (self.groups if principal_type == "GROUP" else self.users).get(name)
        return found is not None and found.owned_by(project)

    def principal_id(self, principal_type: str, name: str) -> str:
        found = (self.groups if principal_type == "GROUP" else self.users).get(name)
        return found.id if found is not None else ""

    def fingerprint(self) -> str:
        """A digest of everything a plan depends on (ids included: a principal deleted and made
        again under the same name is another principal)."""
        data: dict[str, Any] = asdict(self)
        del data["read_shape"]
        data["assignments"] = sorted([*asdict(a).values()] for a in self.assignments)
        data["external"] = sorted(self.external)
        data["entitlements"] = sorted(
            [e.role_arn, e.principal_type, e.principal, e.id] for e in self.entitlements
        )
        for ps in data["permission_sets"].values():
            ps["policies"] = sorted(ps["policies"])
            ps["customer_managed"] = sorted(ps["customer_managed"])
            ps["outdated"] = sorted(ps["outdated"])
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

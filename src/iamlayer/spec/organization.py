"""Accounts chosen by where they are in AWS Organizations (issue 21).

Two spec shapes name accounts without listing them:

- OU selectors, wherever the spec takes accounts (a role's `accounts:`, an Identity Center
  assignment's): `accounts: [ou:Workloads, ou:Sandbox/Dev, shared]`, an OU path from the root,
  recursive (`{ou: Sandbox, recursive: false}`: only the accounts directly in it), with an
  optional `exclude: [apps-legacy]` beside `accounts:`;
- the accounts block from the organization: `accounts: {organization: true}` (optional
  `exclude:` and `names:`), every ACTIVE account of the organization at plan time.

The spec loads offline (`validate` checks the selectors' syntax); the accounts they stand for are
known only at plan time. `iamlayer.aws.org.read_org_view` reads the organization into an
`OrgView`, and `iamlayer.spec.load.resolve_organization(spec, view)` builds the concrete Spec the
planner understands, recording what each selector matched (`SelectorMatch`). Pure: no I/O.

Policies that name "every role R in the selected accounts" are rendered with the organization's
condition keys (iamlayer.plan.desired), so their size does not grow with the accounts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

OU_PREFIX = "ou:"
ACTIVE = "ACTIVE"


@dataclass(frozen=True)
class UnitSelector:
    """`ou:<path>`: the accounts in an organizational unit (and, by default, in the OUs below)."""

    path: str  # OU names from the root, "Sandbox/Dev"
    recursive: bool = True

    @property
    def text(self) -> str:
        return f"{OU_PREFIX}{self.path}" + ("" if self.recursive else " (recursive: false)")


@dataclass(frozen=True)
class AccountSelection:
    """How the accounts of a role were chosen, beyond the names the role lists one by one.

    `every`: `accounts: all` in a layer whose accounts come from the organization. `units`: its
    OU selectors. `names`: the accounts it names. The policies that let people assume the role
    state exactly this selection with the organization's condition keys.
    """

    every: bool = False
    units: tuple[UnitSelector, ...] = ()
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrgUnit:
    """An organizational unit: its path of names from the root, and its path of ids."""

    id: str
    path: str  # "Sandbox/Dev"
    org_path: str  # "o-abc/r-ab12/ou-ab12-11111111/ou-ab12-22222222/", as aws:ResourceOrgPaths says


@dataclass(frozen=True)
class OrgMember:
    """An account of the organization, where it is, and whether it is ACTIVE."""

    id: str
    name: str
    status: str  # ACTIVE, SUSPENDED, PENDING_CLOSURE
    ou: str  # OU path of its parent, "" at the root
    org_path: str  # its parent's path of ids: the value of aws:ResourceOrgPaths for its resources


@dataclass(frozen=True)
class OrgView:
    """The organization as one plan saw it: its id, OUs and accounts (read by
    iamlayer.aws.org.read_org_view)."""

    id: str  # o-...
    root_id: str  # r-...
    units: tuple[OrgUnit, ...] = ()
    members: tuple[OrgMember, ...] = ()
    #: the organization's management account (DescribeOrganization's MasterAccountId); "" unknown
    management_id: str = ""
    #: account id -> member: the evaluator asks it for every request on a role
    _by_id: dict[str, OrgMember] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._by_id.update((m.id, m) for m in self.members)

    @property
    def root_path(self) -> str:
        return f"{self.id}/{self.root_id}/"

    def unit(self, path: str) -> OrgUnit | None:
        return next((u for u in self.units if u.path == path), None)

    def unit_paths(self) -> list[str]:
        return [u.path for u in self.units]

    def members_of(self, unit: OrgUnit, *, recursive: bool) -> list[OrgMember]:
        """The accounts in `unit` (and, `recursive`, in every OU below it), in organization order."""
        if recursive:
            return [m for m in self.members if m.org_path.startswith(unit.org_path)]
        return [m for m in self.members if m.org_path == unit.org_path]

    def member(self, account_id: str) -> OrgMember | None:
        return self._by_id.get(account_id)

    def paths_by_account(self) -> dict[str, str]:
        """Account id -> aws:ResourceOrgPaths of its resources, for every account of the organization."""
        return {m.id: m.org_path for m in self.members}

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "root_id": self.root_id,
            "units": [asdict(u) for u in self.units],
            "members": [asdict(m) for m in self.members],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OrgView:
        return cls(
            str(data["id"]),
            str(data["root_id"]),
            tuple(OrgUnit(**u) for u in data.get("units", ())),
            tuple(OrgMember(**m) for m in data.get("members", ())),
        )


@dataclass(frozen=True)
class SelectorMatch:
    """What one selector of the spec matched at plan time, for the plan to show."""

    where: str  # key path: roles.DevOps.accounts[0], accounts
    line: int | None
    selector: str  # ou:Workloads, organization: true
    accounts: tuple[str, ...]  # the accounts of the layer it selected, by name
    skipped: tuple[str, ...] = field(default=())  # "<name> (<id>): SUSPENDED", ...

    def notice(self, limit: int | None = None) -> str:
        """One line; `limit`: name at most that many accounts (the JSON has them all)."""

        def some(items: tuple[str, ...]) -> str:
            if limit is None or len(items) <= limit:
                return ", ".join(items)
            return ", ".join(items[:limit]) + f" and {len(items) - limit} more"

        where = f"line {self.line}, " if self.line else ""
        chosen = some(self.accounts) if self.accounts else "no account"
        text = f"{self.selector} ({where}{self.where}) matched {len(self.accounts)} account(s): {chosen}"
        if self.skipped:
            text += f"; skipped {len(self.skipped)}: {some(self.skipped)}"
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "where": self.where,
            "line": self.line,
            "selector": self.selector,
            "accounts": list(self.accounts),
            "skipped": list(self.skipped),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SelectorMatch:
        return cls(
            str(d["where"]),
            d.get("line"),
            str(d["selector"]),
            tuple(d.get("accounts", ())),
            tuple(d.get("skipped", ())),
        )


def default_account_name(org_name: str, project_long: str) -> str:
    """The spec's name for an organization account: its name without the `<project_long>-`
    prefix (as `iamlayer accounts discover` writes it), other characters than the spec allows
    for account names replaced by `-`."""
    name = org_name
    if project_long and name.startswith(f"{project_long}-"):
        name = name[len(project_long) + 1 :]
    out = "".join(c if c.isascii() and (c.isalnum() or c in "_.-") else "-" for c in name.strip())
    return out.strip("-_.")[:63]


def skipped_note(member: OrgMember, name: str | None, why: str) -> str:
    return f"{name or member.name} ({member.id}): {why}"


def placeholder_view() -> OrgView:
    """What the size of a policy is measured on offline, before the organization is read: ids of
    the lengths AWS gives most organizations (o- and 10 characters, ou-<4>-<8>)."""
    return OrgView(id="o-exampleorg", root_id="r-exam")


def unit_org_path(view: OrgView, selector: UnitSelector) -> str:
    """The aws:ResourceOrgPaths path of a selector's OU; offline (an OU the view does not have),
    a placeholder of the usual length, so that policy sizes can be checked before a plan."""
    unit = view.unit(selector.path)
    if unit is not None:
        return unit.org_path
    depth = selector.path.count("/") + 1
    return view.root_path + "".join("ou-exam-examplou/" for _ in range(depth))


def sorted_unique(values: Iterable[str]) -> list[str]:
    return sorted(set(values))

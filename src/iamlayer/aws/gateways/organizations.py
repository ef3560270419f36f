"""The Organizations gateway: the organization, its roots, OUs and accounts, read whole.

Every read iamlayer makes of AWS Organizations (`accounts discover`, `import aws`, OU selectors and
`accounts: {organization: true}`) goes through here. Each method is one intent, reads every page
(typed paginators) and is sent through `base.send` (throttling retried; Organizations' limits are
low, a few requests a second, and an organization of hundreds of OUs meets them), its failure
raised as an iamlayer error naming what was attempted. Needs organizations:Describe*/List* (the
management account or a delegated administrator).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from iamlayer.aws.gateways.base import send

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_organizations.type_defs import AccountTypeDef


@dataclass(frozen=True)
class Organization:
    id: str
    management_account_id: str  # AWS's MasterAccountId


@dataclass(frozen=True)
class OrgAccount:
    id: str
    name: str
    email: str
    status: str  # ACTIVE, SUSPENDED, PENDING_CLOSURE


@dataclass(frozen=True)
class Unit:
    """An organizational unit as its parent lists it."""

    id: str
    name: str


def _account(a: AccountTypeDef) -> OrgAccount:
    return OrgAccount(str(a["Id"]), str(a.get("Name", "")), str(a.get("Email", "")), str(a.get("Status", "")))


class OrganizationsGateway:
    """AWS Organizations as the caller's credentials see it."""

    def __init__(self, client: OrganizationsClient) -> None:
        self.client = client

    def organization(self) -> Organization:
        """DescribeOrganization."""
        got = send(
            "describing the organization (organizations:DescribeOrganization)",
            self.client.describe_organization,
        )["Organization"]
        return Organization(str(got["Id"]), str(got.get("MasterAccountId", "")))

    def accounts(self) -> list[OrgAccount]:
        """Every account of the organization (ListAccounts, every page)."""
        pages = self.client.get_paginator("list_accounts")
        return send(
            "listing the organization's accounts (organizations:ListAccounts)",
            lambda: [_account(a) for p in pages.paginate() for a in p.get("Accounts", [])],
        )

    def roots(self) -> list[str]:
        """The ids of the organization's roots (ListRoots; an organization has one)."""
        pages = self.client.get_paginator("list_roots")
        return send(
            "listing the organization's roots (organizations:ListRoots)",
            lambda: [str(r["Id"]) for p in pages.paginate() for r in p.get("Roots", [])],
        )

    def units_under(self, parent_id: str) -> list[Unit]:
        """The OUs directly under `parent_id` (a root or an OU), every page."""
        pages = self.client.get_paginator("list_organizational_units_for_parent")
        return send(
            f"listing the OUs in {parent_id} (organizations:ListOrganizationalUnitsForParent)",
            lambda: [
                Unit(str(u["Id"]), str(u["Name"]))
                for p in pages.paginate(ParentId=parent_id)
                for u in p.get("OrganizationalUnits", [])
            ],
        )

    def accounts_under(self, parent_id: str) -> list[OrgAccount]:
        """The accounts directly under `parent_id` (a root or an OU), every page (20 a page)."""
        pages = self.client.get_paginator("list_accounts_for_parent")
        return send(
            f"listing the accounts in {parent_id} (organizations:ListAccountsForParent)",
            lambda: [_account(a) for p in pages.paginate(ParentId=parent_id) for a in p.get("Accounts", [])],
        )

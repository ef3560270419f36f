"""AWS Organizations: the accounts of the organization, for `accounts discover` and `import aws`,
and its OUs and accounts for OU selectors and `accounts: {organization: true}` (`read_org_view`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from iamlayer.aws.errors import aws_call
from iamlayer.aws.session import ApiStats, CredentialSource, base_session, make_client
from iamlayer.errors import IamlayerError
from iamlayer.spec.organization import OrgMember, OrgUnit, OrgView


@dataclass(frozen=True)
class OrgAccount:
    id: str
    name: str
    email: str
    status: str  # ACTIVE, SUSPENDED, PENDING_CLOSURE


def list_org_accounts(
    profile: CredentialSource, region: str | None, stats: ApiStats
) -> tuple[str, list[OrgAccount]]:
    """(management account id, every account) of the caller's organization (management credentials)."""
    org = make_client(base_session(profile, region), "organizations")
    with aws_call("describing the organization (organizations:DescribeOrganization)"):
        stats.record("management", "DescribeOrganization")
        master = str(org.describe_organization()["Organization"]["MasterAccountId"])
    accounts: list[OrgAccount] = []
    with aws_call("listing the organization's accounts (organizations:ListAccounts)"):
        for page in org.get_paginator("list_accounts").paginate():
            stats.record("management", "ListAccounts")
            accounts += [
                OrgAccount(
                    str(a["Id"]), str(a.get("Name", "")), str(a.get("Email", "")), str(a.get("Status", ""))
                )
                for a in page.get("Accounts", [])
            ]
    return master, accounts


def read_org_view(
    profile: CredentialSource, region: str | None, stats: ApiStats, *, parallelism: int = 10
) -> OrgView:
    """The caller's organization as OU selectors and `accounts: {organization: true}` need it:
    its id, every OU with its path of names and of ids, every account with its parent's path.

    One DescribeOrganization and ListRoots, then ListOrganizationalUnitsForParent and
    ListAccountsForParent for the root and each OU, paged, an OU level at a time (the OUs of a
    level concurrently, `parallelism` at most): calls grow with OUs, not accounts (20 accounts a
    page). Needs organizations:Describe*/List* (the management account or a delegated administrator).
    """
    org = make_client(base_session(profile, region), "organizations")
    with aws_call("describing the organization (organizations:DescribeOrganization)"):
        stats.record("organization", "DescribeOrganization")
        described = org.describe_organization()["Organization"]
        org_id, management_id = str(described["Id"]), str(described.get("MasterAccountId", ""))
    with aws_call("listing the organization's roots (organizations:ListRoots)"):
        roots: list[str] = []
        for page in org.get_paginator("list_roots").paginate():
            stats.record("organization", "ListRoots")
            roots += [str(r["Id"]) for r in page.get("Roots", [])]
    if not roots:
        raise IamlayerError(f"organization {org_id} has no root (organizations:ListRoots answered none)")
    root = roots[0]

    def children(parent: tuple[str, str, str]) -> tuple[list[OrgUnit], list[OrgMember]]:
        parent_id, names, ids = parent
        units: list[OrgUnit] = []
        members: list[OrgMember] = []
        with aws_call(f"listing the OUs in {parent_id} (organizations:ListOrganizationalUnitsForParent)"):
            for page in org.get_paginator("list_organizational_units_for_parent").paginate(
                ParentId=parent_id
            ):
                stats.record("organization", "ListOrganizationalUnitsForParent")
                for u in page.get("OrganizationalUnits", []):
                    path = f"{names}/{u['Name']}" if names else str(u["Name"])
                    units.append(OrgUnit(str(u["Id"]), path, f"{ids}{u['Id']}/"))
        with aws_call(f"listing the accounts in {parent_id} (organizations:ListAccountsForParent)"):
            for accounts in org.get_paginator("list_accounts_for_parent").paginate(ParentId=parent_id):
                stats.record("organization", "ListAccountsForParent")
                members += [
                    OrgMember(str(a["Id"]), str(a.get("Name", "")), str(a.get("Status", "")), names, ids)
                    for a in accounts.get("Accounts", [])
                ]
        return units, members

    all_units: list[OrgUnit] = []
    all_members: list[OrgMember] = []
    level = [(root, "", f"{org_id}/{root}/")]
    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        while level:
            found = list(pool.map(children, level))
            level = []
            for units, members in found:
                all_units += units
                all_members += members
                level += [(u.id, u.path, u.org_path) for u in units]
    return OrgView(org_id, root, tuple(all_units), tuple(all_members), management_id)

"""AWS Organizations: the accounts of the organization, for `accounts discover` and `import aws`,
and its OUs and accounts for OU selectors and `accounts: {organization: true}` (`read_org_view`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from iamlayer.aws.gateways.organizations import OrgAccount, OrganizationsGateway
from iamlayer.aws.session import AccountClients, ApiStats, CredentialSource, base_session
from iamlayer.errors import IamlayerError
from iamlayer.spec.organization import OrgMember, OrgUnit, OrgView

__all__ = ["OrgAccount", "list_org_accounts", "read_org_view"]


def _gateway(
    profile: CredentialSource, region: str | None, stats: ApiStats, label: str
) -> OrganizationsGateway:
    """Organizations with the operator's credentials, every call counted under `label`."""
    return OrganizationsGateway(AccountClients(base_session(profile, region), label, stats).organizations())


def list_org_accounts(
    profile: CredentialSource, region: str | None, stats: ApiStats
) -> tuple[str, list[OrgAccount]]:
    """(management account id, every account) of the caller's organization (management credentials)."""
    org = _gateway(profile, region, stats, "management")
    return org.organization().management_account_id, org.accounts()


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
    org = _gateway(profile, region, stats, "organization")
    described = org.organization()
    org_id, management_id = described.id, described.management_account_id
    roots = org.roots()
    if not roots:
        raise IamlayerError(f"organization {org_id} has no root (organizations:ListRoots answered none)")
    root = roots[0]

    def children(parent: tuple[str, str, str]) -> tuple[list[OrgUnit], list[OrgMember]]:
        parent_id, names, ids = parent
        units = [
            OrgUnit(u.id, f"{names}/{u.name}" if names else u.name, f"{ids}{u.id}/")
            for u in org.units_under(parent_id)
        ]
        members = [OrgMember(a.id, a.name, a.status, names, ids) for a in org.accounts_under(parent_id)]
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

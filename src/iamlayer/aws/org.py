"""AWS Organizations: the accounts of the organization, for `accounts discover` and `import aws`."""

from __future__ import annotations

from dataclasses import dataclass

from iamlayer.aws.errors import aws_call
from iamlayer.aws.session import ApiStats, CredentialSource, base_session, make_client


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

"""Read a live organization (or one account) for `iamlayer import aws`, as plan reads it.

Accounts come from AWS Organizations (the management account's credentials: DescribeOrganization,
ListAccounts), from `--account NAME=ID`, or, outside an organization, are the caller's own
account. Each is reached as plan reaches it (`connect_accounts`: the caller's own account, else
AssumeRole of `access_role`) and read with plan's bulk reads (`whole_state_read`: one paginated
GetAccountAuthorizationDetails, ListRoles, the password policy, the alias, the credential report),
so the cost per account is a handful of calls whatever its size. Two reads are added, both bounded:
the tags of the people account's policies that lack iamlayer's description marker (ListPolicyTags
each: the only way to know whether another iamlayer project adopted them), and, for users whose
PGP key was given (`--keys`), their login profile and access keys one by one (GetLoginProfile,
ListAccessKeys), since the spec will then manage them and a credential report may be 4 hours old.
IAM Identity Center is read in the management account, as plan reads it, every permission set and
group detailed (iamlayer.aws.identity_center.read_identity_center_for_import).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from iamlayer.aws.accounts import caller_account, connect_accounts
from iamlayer.aws.identity_center import read_identity_center_for_import
from iamlayer.aws.org import OrgAccount, list_org_accounts
from iamlayer.aws.read import confirm_user, read_policy_tags, whole_state_read
from iamlayer.aws.session import AccountClients, ApiStats
from iamlayer.errors import AwsError, CredentialsError, IamlayerError
from iamlayer.importer.build import likely_people_account
from iamlayer.importer.model import IcSource, ImportFinding, ImportSource, SourceAccount
from iamlayer.spec.edit import account_name
from iamlayer.spec.model import Account, Spec
from iamlayer.spec.validate import ACCOUNT_NAME
from iamlayer.state.model import AccountState, description_owner

Progress = Callable[[str], None]

_EXPLICIT = re.compile(r"([^=]+)=(\d{12})")
#: Organizations answers these when the caller is not in an organization or may not list it
_NO_ORGANIZATION = frozenset({"AWSOrganizationsNotInUseException", "AccessDeniedException", "AccessDenied"})


@dataclass(frozen=True)
class AccountChoice:
    """`--account` values: NAME=ID names an account; NAME (or ID) picks one of the organization."""

    explicit: dict[str, str]  # name -> id
    wanted: tuple[str, ...]  # names or ids to pick from the organization

    @classmethod
    def parse(cls, values: Sequence[str]) -> AccountChoice:
        explicit: dict[str, str] = {}
        wanted: list[str] = []
        for v in values:
            m = _EXPLICIT.fullmatch(v)
            if m:
                name = m.group(1)
                if not ACCOUNT_NAME.fullmatch(name):
                    raise IamlayerError(
                        f"--account {v}: {name!r} is not a valid account name (letters, digits, _ . -)"
                    )
                explicit[name] = m.group(2)
            else:
                wanted.append(v)
        return cls(explicit, tuple(wanted))


def _discover(
    choice: AccountChoice, *, profile: str | None, region: str, stats: ApiStats, findings: list[ImportFinding]
) -> tuple[list[SourceAccount], str]:
    """The accounts to read (unread yet) and how they were found."""
    accounts = [SourceAccount(id=i, state=AccountState(i), name=n) for n, i in choice.explicit.items()]
    if choice.explicit and not choice.wanted:
        return accounts, f"the accounts named on the command line ({len(accounts)})"
    try:
        master, found = list_org_accounts(profile, region, stats)
    except AwsError as exc:
        if exc.code not in _NO_ORGANIZATION:
            raise
        if choice.wanted:
            raise IamlayerError(
                f"--account {', '.join(choice.wanted)}: the organization cannot be listed ({exc.code}); "
                "name accounts as NAME=ID instead"
            ) from exc
        findings.append(
            ImportFinding(
                "note", "organization", "not read", f"{exc.code}: only the caller's own account is imported"
            )
        )
        return accounts, "the caller's own account (no AWS Organization could be listed)"
    known = {a.id for a in accounts}
    picked = pick_accounts(found, choice.wanted) if choice.wanted else found
    for acc in picked:
        if acc.id in known:
            continue
        if acc.status and acc.status != "ACTIVE":
            findings.append(
                ImportFinding("left_out", acc.name or acc.id, f"account {acc.id}", f"status {acc.status}")
            )
            continue
        accounts.append(_from_org(acc, master))
    return accounts, f"the AWS Organization of management account {master} ({len(found)} accounts)"


def pick_accounts(found: Sequence[OrgAccount], wanted: Sequence[str]) -> list[OrgAccount]:
    """The organization's accounts that `wanted` names: by id, by name, or by the end of the name
    (`security` picks acme-corp-security, as the spec will name it) when only one ends so."""
    out: list[OrgAccount] = []
    for w in wanted:
        exact = [a for a in found if w in (a.id, a.name, account_name(a.name, ""))]
        ending = [a for a in found if account_name(a.name, "").endswith("-" + w.lower())]
        match = exact or ending
        if len(match) != 1:
            names = ", ".join(f"{a.name} ({a.id})" for a in (match or found))
            problem = "names several accounts" if match else "is not in the organization"
            raise IamlayerError(f"--account {w} {problem}: {names}")
        out += [a for a in match if a not in out]
    return out


def _from_org(acc: OrgAccount, master: str) -> SourceAccount:
    return SourceAccount(
        id=acc.id, state=AccountState(acc.id), org_name=acc.name, management=acc.id == master
    )


def read_live(
    account_args: Sequence[str],
    *,
    profile: str | None,
    region: str,
    access_role: str,
    keys_dir: Path | None = None,
    people_account: str | None = None,
    stats: ApiStats | None = None,
    progress: Progress | None = None,
) -> ImportSource:
    """Read the accounts `account_args` (see AccountChoice) or the whole organization."""
    stats = stats or ApiStats()
    findings: list[ImportFinding] = []
    choice = AccountChoice.parse(account_args)
    if progress:
        progress("discovering the accounts")
    targets, how = _discover(choice, profile=profile, region=region, stats=stats, findings=findings)
    if not targets:
        # Outside an organization: the caller's own account.
        own = caller_account(profile, region, stats)
        targets = [SourceAccount(id=own, state=AccountState(own))]
    # Labels for the connection (API calls are counted per label); the builder names the accounts.
    labels = {a.id: a.name or (account_name(a.org_name, "") if a.org_name else a.id) for a in targets}
    probe = Spec(
        path=Path("iamlayer.yaml"),
        project="import",
        project_long="import",
        region=region,
        accounts={labels[a.id]: Account(labels[a.id], a.id, None, None) for a in targets},
        people_account=labels[targets[0].id],
        management_account=None,
        access_role=access_role,
    )
    if progress:
        progress(f"connecting to {len(targets)} account(s)")
    conns = connect_accounts(probe, profile=profile, stats=stats)
    unreachable = [f"{n}: {c.error}" for n, c in conns.items() if c.clients is None]
    if unreachable:
        raise CredentialsError(
            "cannot reach every account, so nothing was imported:\n  "
            + "\n  ".join(unreachable)
            + "\nimport the others with --account NAME (or NAME=ID), or fix access_role (--access-role)"
        )

    def read(acc: SourceAccount) -> None:
        conn = conns[labels[acc.id]]
        assert conn.clients is not None
        acc.state = whole_state_read(conn.clients, acc.id, credential_report=True)
        if progress:
            progress(f"read {labels[acc.id]} ({len(acc.state.users)} users, {len(acc.state.roles)} roles)")

    with ThreadPoolExecutor(max_workers=5) as pool:
        list(pool.map(read, targets))

    source = ImportSource(
        origin="aws",
        description=how,
        accounts=targets,
        region=region,
        access_role=access_role,
        findings=findings,
        stats=stats,
    )
    people = likely_people_account(targets, people_account, labels)
    source.people_account_id = people.id
    clients = conns[labels[people.id]].clients
    assert clients is not None
    # Whether another iamlayer project adopted a policy is known from its tag alone.
    read_policy_tags(
        clients,
        people.id,
        [p for p in people.state.policies.values() if description_owner(p.description) is None],
    )
    if keys_dir is not None:
        _known_keys(source, people, keys_dir)
        for user in source.user_keys:
            confirm_user(clients, people.id, people.state.users[user])
    management = _management(targets)
    _read_identity_center(source, conns[labels[management.id]].clients if management else None, labels)
    for acc in targets:
        if acc.state.credential_report_time:
            source.credential_report_time[acc.id] = acc.state.credential_report_time
    return source


def _known_keys(source: ImportSource, people: SourceAccount, keys_dir: Path) -> None:
    """Users of the people account whose key file `keys_dir/<user>` exists get it as pgp_key."""
    if not keys_dir.is_dir():
        raise IamlayerError(f"--keys {keys_dir}: not a folder")
    for user in sorted(people.state.users):
        path = keys_dir / user
        if path.is_file():
            source.key_files[user] = path.read_bytes()
            source.user_keys[user] = user


def _management(targets: Sequence[SourceAccount]) -> SourceAccount | None:
    return next((a for a in targets if a.management), None)


def _read_identity_center(
    source: ImportSource, clients: AccountClients | None, labels: Mapping[str, str]
) -> None:
    """The IAM Identity Center instance of the management account, when it has one (its users,
    groups, permission sets and assignments, as plan reads them, every one detailed)."""
    management = _management(source.accounts)
    if management is None or clients is None:
        source.findings.append(
            ImportFinding(
                "note",
                "identity center",
                "not read",
                "the organization's management account is not among the accounts read; "
                "IAM Identity Center, if any, is left out",
            )
        )
        return
    try:
        state, unread = read_identity_center_for_import(
            clients,
            source.region,
            list(labels),
            on_access_error=lambda exc: source.findings.append(
                ImportFinding(
                    "note",
                    labels[management.id],
                    "account access manager not read",
                    f"{exc}; roles are imported without `entitled:`",
                )
            ),
        )
    except IamlayerError as exc:
        source.findings.append(
            ImportFinding(
                "note", labels[management.id], "IAM Identity Center not read", f"{exc}; it is left out"
            )
        )
        return
    if state is None:
        source.findings.append(
            ImportFinding(
                "note",
                labels[management.id],
                "IAM Identity Center",
                f"no instance in {source.region}; if it is enabled in another region, import with --region there",
            )
        )
        return
    source.identity_center = IcSource(management.id, source.region, state, unread)

"""Bulk reads of an account: a constant number of calls, whatever its size. The one reader of
GetAccountAuthorizationDetails, the credential report and the password policy, for the plan
(here, into an AccountState) and the audit (iamlayer.aws.audit_reads, into its AuditInput).

One paginated GetAccountAuthorizationDetails gives users (groups, tags, policies), groups, roles
(trust policies, tags) and customer-managed policies with their versions. It lacks a role's
MaxSessionDuration and Description, so ListRoles (paginated, bulk too) fills those. Login profiles
and access keys come from the credential report, used as a hint only: `confirm_users` asks per
user, for just those users whose hint disagrees with the spec.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from iamlayer.audit.model import CredentialReport
from iamlayer.aws.errors import aws_call
from iamlayer.aws.gateways.iam import IamGateway
from iamlayer.aws.retry import settle
from iamlayer.aws.session import AccountClients
from iamlayer.errors import AwsError, NotFoundError
from iamlayer.spec.model import PasswordPolicy
from iamlayer.state.model import (
    GROUP_MARKER_PREFIX,
    AccessKey,
    AccountState,
    GroupState,
    OidcProviderState,
    PolicyState,
    RoleState,
    UserState,
)
from iamlayer.state.normalize import normalize

PAGE_SIZE = 1000
#: How long to wait for AWS to generate the credential report (usually seconds), and how often to ask.
REPORT_WAIT_SECONDS = 60.0
REPORT_POLL_SECONDS = 2.0


def read_all(client: Any, operation: str, **params: Any) -> dict[str, Any]:
    """Every page of a paginated IAM call, merged: each list in the answer holds all the items.

    AWS answers 100 items per page unless asked for more (a group's members, a policy's
    attachments), so a call made once sees only the first page. Lists that are empty may be
    missing from the result: read them with `.get(key, [])`. A throttled read starts again
    (`settle`): botocore's own retries stop once its retry quota is spent.
    """
    paginator = client.get_paginator(operation)
    result: dict[str, Any] = settle(lambda: paginator.paginate(**params).build_full_result())
    return result


def _tags(items: Iterable[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or ()}


def _where(clients: AccountClients, account_id: str) -> str:
    return f"in account {clients.label}" + (f" ({account_id})" if account_id else "")


@dataclass
class AuthorizationPages:
    """Every entry of GetAccountAuthorizationDetails, as AWS answers them, all pages together."""

    users: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    roles: list[dict[str, Any]] = field(default_factory=list)
    policies: list[dict[str, Any]] = field(default_factory=list)  # customer-managed only


def fetch_authorization_details(clients: AccountClients, account_id: str = "") -> AuthorizationPages:
    """Users, groups, roles and customer-managed policies: one paginated call (a page per 1,000)."""
    iam = clients.client("iam")
    out = AuthorizationPages()
    # LocalManagedPolicy only: the AWS-managed ones (over a thousand, every version) are not iamlayer's;
    # the audit reads the few that are attached, apart.
    pages = iam.get_paginator("get_account_authorization_details").paginate(
        Filter=["User", "Group", "Role", "LocalManagedPolicy"], PaginationConfig={"PageSize": PAGE_SIZE}
    )
    with aws_call(f"reading IAM (GetAccountAuthorizationDetails) {_where(clients, account_id)}"):
        for page in pages:
            out.users += page.get("UserDetailList", [])
            out.groups += page.get("GroupDetailList", [])
            out.roles += page.get("RoleDetailList", [])
            out.policies += page.get("Policies", [])
    return out


def fetch_password_policy(clients: AccountClients, account_id: str = "") -> dict[str, Any] | None:
    """GetAccountPasswordPolicy's PasswordPolicy, or None when the account has none (NoSuchEntity)."""
    try:
        with aws_call(f"reading the password policy {_where(clients, account_id)}"):
            policy: dict[str, Any] = clients.client("iam").get_account_password_policy()["PasswordPolicy"]
    except NotFoundError:
        return None
    return policy


def read_credential_report(
    clients: AccountClients,
    *,
    wait: float = REPORT_WAIT_SECONDS,
    poll: float = REPORT_POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> CredentialReport:
    """Ask AWS for a fresh credential report (it regenerates at most every 4 hours) and fetch it.

    A report being made is asked about again after 0.25 s, then twice as long each time, up to
    `poll` s: it is usually ready within a second (the first plan after an apply waits for one).
    Raises AwsError when the report is not ready within `wait` seconds, or a call fails.
    """
    iam = clients.client("iam")
    where = f"account {clients.label}"
    deadline = time.monotonic() + wait
    delay = min(0.25, poll)
    while True:
        with aws_call(f"generating the IAM credential report in {where}"):
            state = iam.generate_credential_report().get("State")
        if state == "COMPLETE":
            break
        if time.monotonic() >= deadline:
            raise AwsError(
                f"generating the IAM credential report in {where}: still {state} after {wait:.0f}s",
                code="ReportInProgress",
            )
        sleep(delay)
        delay = min(delay * 2, poll)
    with aws_call(f"fetching the IAM credential report of {where}"):
        resp = iam.get_credential_report()
    content = resp["Content"]
    text = content.decode("utf-8") if isinstance(content, bytes) else str(content)
    generated = resp["GeneratedTime"]
    if not isinstance(generated, datetime):
        generated = datetime.fromisoformat(str(generated).replace("Z", "+00:00"))
    return CredentialReport.parse(text, generated if generated.tzinfo else generated.replace(tzinfo=UTC))


def read_authorization_details(clients: AccountClients, account_id: str) -> AccountState:
    """The account as iamlayer manages it: users, groups, roles and customer-managed policies."""
    iam = clients.client("iam")
    state = AccountState(account_id=account_id)
    members: dict[str, set[str]] = {}
    details = fetch_authorization_details(clients, account_id)
    for u in details.users:
        name = u["UserName"]
        state.users[name] = UserState(
            name=name,
            path=u.get("Path", "/"),
            tags=_tags(u.get("Tags")),
            created=_utc(u.get("CreateDate")),
            groups=frozenset(u.get("GroupList", [])),
            attached=frozenset(p["PolicyArn"] for p in u.get("AttachedManagedPolicies", [])),
            inline={p["PolicyName"]: normalize(p["PolicyDocument"]) for p in u.get("UserPolicyList", [])},
        )
        for g in u.get("GroupList", []):
            members.setdefault(g, set()).add(name)
    for g in details.groups:
        inline = {p["PolicyName"]: normalize(p["PolicyDocument"]) for p in g.get("GroupPolicyList", [])}
        owner = next(
            (n[len(GROUP_MARKER_PREFIX) :] for n in inline if n.startswith(GROUP_MARKER_PREFIX)), None
        )
        state.groups[g["GroupName"]] = GroupState(
            name=g["GroupName"],
            path=g.get("Path", "/"),
            attached=frozenset(p["PolicyArn"] for p in g.get("AttachedManagedPolicies", [])),
            inline={k: v for k, v in inline.items() if not k.startswith(GROUP_MARKER_PREFIX)},
            owner=owner,
        )
    for r in details.roles:
        if r.get("Path", "/").startswith("/aws-service-role/"):
            continue  # service-linked roles belong to AWS services, never to us
        boundary = (r.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        state.roles[r["RoleName"]] = RoleState(
            name=r["RoleName"],
            path=r.get("Path", "/"),
            trust=normalize(r.get("AssumeRolePolicyDocument")),
            permissions_boundary=boundary,
            attached=frozenset(p["PolicyArn"] for p in r.get("AttachedManagedPolicies", [])),
            inline={p["PolicyName"]: normalize(p["PolicyDocument"]) for p in r.get("RolePolicyList", [])},
            tags=_tags(r.get("Tags")),
            instance_profiles=tuple(ip["InstanceProfileName"] for ip in r.get("InstanceProfileList", [])),
        )
    for p in details.policies:
        versions = p.get("PolicyVersionList", [])
        default = next((v for v in versions if v.get("IsDefaultVersion")), None)
        others = sorted(
            (v for v in versions if not v.get("IsDefaultVersion")),
            key=lambda v: str(v.get("CreateDate", "")),
        )
        # The emulator omits PolicyName here; the ARN's last segment is the name either way.
        pname = p.get("PolicyName") or str(p["Arn"]).rsplit("/", 1)[-1]
        state.policies[pname] = PolicyState(
            name=pname,
            path=p.get("Path", "/"),
            description=p.get("Description", "") or "",
            document=normalize(default["Document"]) if default else {},
            arn=p["Arn"],
            default_version=p.get("DefaultVersionId", "v1"),
            versions=tuple(v["VersionId"] for v in others),
            attachments=int(p.get("AttachmentCount", 0)),
        )
    for g, names in members.items():
        if g in state.groups:
            state.groups[g].members = frozenset(names)
    if state.roles:
        with aws_call(f"listing roles (ListRoles) {_where(clients, account_id)}"):
            for page in iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": PAGE_SIZE}):
                for r in page.get("Roles", []):
                    if r["RoleName"] in state.roles:
                        role = state.roles[r["RoleName"]]
                        role.max_session_duration = int(r.get("MaxSessionDuration", 3600))
                        role.description = r.get("Description", "") or ""
    return state


def read_password_policy(clients: AccountClients, account_id: str) -> PasswordPolicy | None:
    p = fetch_password_policy(clients, account_id)
    if p is None:
        return None  # no policy set: AWS answers NoSuchEntity
    return PasswordPolicy.from_aws(p)


def read_alias(clients: AccountClients, account_id: str) -> str | None:
    with aws_call(f"reading the account alias {_where(clients, account_id)}"):
        aliases = clients.client("iam").list_account_aliases().get("AccountAliases", [])
    return str(aliases[0]) if aliases else None


def read_oidc_providers(clients: AccountClients, account_id: str) -> dict[str, OidcProviderState]:
    """The account's OpenID Connect providers, by issuer host: ListOpenIDConnectProviders (it does
    not page) and GetOpenIDConnectProvider per provider for its audiences and tags."""
    iam = clients.client("iam")
    with aws_call(f"listing the OpenID Connect providers {_where(clients, account_id)}"):
        arns = [
            str(p["Arn"]) for p in iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", [])
        ]
    out: dict[str, OidcProviderState] = {}
    for arn in arns:
        host = arn.split(":oidc-provider/", 1)[-1]
        with aws_call(f"reading the OpenID Connect provider {host} {_where(clients, account_id)}"):
            try:
                got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
            except iam.exceptions.NoSuchEntityException:
                continue  # deleted between the two calls
        out[host] = OidcProviderState(
            host=host,
            arn=arn,
            client_ids=tuple(sorted(got.get("ClientIDList", []))),
            tags=_tags(got.get("Tags")),
        )
    return out


def apply_credential_report(state: AccountState, report: CredentialReport) -> None:
    """Fill login profile and access key hints from the report; users missing from it stay unknown."""
    state.credential_report_time = report.generated.isoformat()
    rows = {r.user: r for r in report.users}
    for name, user in state.users.items():
        row = rows.get(name)
        if row is None:
            continue  # created after the report was generated
        if not _same_user(row.created, user.created):
            # The row is of an earlier user of that name, deleted (by hand) and re-created since
            # the report was generated: its password and keys are not this user's. Left unknown,
            # so the planner reads this user one by one.
            continue
        user.login_profile = row.password_enabled
        # The report has no key ids; ids are filled in when a user is confirmed.
        user.access_keys = tuple(AccessKey(id="", active=True) for _ in row.active_keys)


def _utc(t: Any) -> datetime | None:
    """A timestamp boto3 parsed (or ISO text, as some emulators answer) as an aware datetime."""
    if isinstance(t, datetime):
        when = t
    elif not t:
        return None
    else:
        try:
            when = datetime.fromisoformat(str(t).replace("Z", "+00:00"))
        except ValueError:
            return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _same_user(reported: datetime | None, created: datetime | None) -> bool:
    """Whether a credential report row created at `reported` describes the user created at
    `created`. The report gives whole seconds; either time unknown is taken as the same user."""
    if reported is None or created is None:
        return True
    return abs((reported - created).total_seconds()) < 1.0


def _iso(t: Any) -> str:
    return t.isoformat() if hasattr(t, "isoformat") else str(t or "")


def access_key(meta: Mapping[str, object]) -> AccessKey:
    """An AccessKey from a ListAccessKeys entry."""
    return AccessKey(
        id=str(meta["AccessKeyId"]),
        active=meta.get("Status") == "Active",
        created=_iso(meta.get("CreateDate")),
    )


def confirm_user(clients: AccountClients, account_id: str, user: UserState, *, mfa: bool = False) -> None:
    """Replace a user's credential hints with the truth (GetLoginProfile, ListAccessKeys, ListMFADevices)."""
    iam = IamGateway(clients.iam(), where=_where(clients, account_id))
    user.login_profile = iam.has_login_profile(user.name)
    keys = iam.access_keys(user.name)
    user.access_keys = tuple(access_key(k) for k in sorted(keys, key=lambda k: str(k.get("CreateDate", ""))))
    if mfa:
        user.mfa_devices = iam.mfa_devices(user.name)


def read_policy_tags(clients: AccountClients, account_id: str, policies: Iterable[PolicyState]) -> None:
    """Fill in the tags of `policies` (ListPolicyTags: one call per policy, a few at a time).

    GetAccountAuthorizationDetails returns no policy tags, and a policy iamlayer adopted is owned
    by its tag alone (see iamlayer.state.model), so callers ask only for the few policies whose
    ownership the bulk read cannot tell.
    """
    iam = clients.client("iam")

    def one(p: PolicyState) -> None:
        with aws_call(f"reading the tags of policy {p.name} {_where(clients, account_id)}"):
            p.tags = _tags(read_all(iam, "list_policy_tags", PolicyArn=p.arn).get("Tags"))

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, list(policies)))


def whole_state_read(
    clients: AccountClients,
    account_id: str,
    *,
    credential_report: bool,
    password_policy: bool = True,
    alias: bool = True,
) -> AccountState:
    """Everything iamlayer manages in one account, in a constant number of calls.

    `password_policy` and `alias`: whether to read them (a call each). A plan reads them only in
    the accounts whose spec sets them: the diff compares nothing else of theirs, and at 1,000
    member accounts the two calls were 2 of the 5 each account cost a no-op plan.
    """
    state = read_authorization_details(clients, account_id)
    if password_policy:
        state.password_policy = read_password_policy(clients, account_id)
    if alias:
        state.alias = read_alias(clients, account_id)
    if credential_report and state.users:
        apply_credential_report(state, read_credential_report(clients))
    return state


def describe_user_for_delete(clients: AccountClients, account_id: str, user: UserState) -> dict[str, Any]:
    """What must go before a user can be deleted (shown in the plan)."""
    confirm_user(clients, account_id, user, mfa=True)
    return {
        "groups": sorted(user.groups),
        "login_profile": user.login_profile,
        "access_keys": [k.id for k in user.access_keys or ()],
        "mfa_devices": list(user.mfa_devices or ()),
        "attached_policies": sorted(user.attached),
        "inline_policies": sorted(user.inline),
    }

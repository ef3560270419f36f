"""Reaching every account of the layer: the operator's own, a named profile, or an assumed role.

The operator's credentials are usually for the management account. For any other account,
iamlayer assumes `access_role` (OrganizationAccountAccessRole by default) there, unless the account
names a `profile:`. When the caller's credentials already are in the target account, no role is
assumed (the single-account layer).
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.credentials import RefreshableCredentials

from iamlayer.aws.gateways.sts import AssumedRole, StsGateway
from iamlayer.aws.session import (
    AccountClients,
    AccountSession,
    AnySession,
    ApiStats,
    CredentialSource,
    base_session,
    make_client,
)
from iamlayer.errors import AccessDeniedError, CredentialsError, IamlayerError
from iamlayer.spec.model import Account, Spec

#: what member-account sessions are named after (`iamlayer-<caller>`), and alone when no name is found
SESSION_NAME = "iamlayer"
#: RoleSessionName and SourceIdentity: at most 64 characters of [\w+=,.@-] (`\w` being ASCII)
NAME_MAX = 64
_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9_+=,.@-]+")


def caller_name(arn: str) -> str:
    """The operator's name in their ARN, in the characters AWS allows in a session name.

    A user's name (`...:user/path/jane.doe`), an assumed role's session name
    (`...:assumed-role/AdminAccess/jane@example.com`, as IAM Identity Center sets it), a federated
    user's name, or `root`. Other characters become "-"; at most 64.
    """
    resource = arn.split(":", 5)[-1]
    return _NOT_IN_NAMES.sub("-", resource.rsplit("/", 1)[-1]).strip("-")[:NAME_MAX]


def member_session_name(caller_arn: str) -> str:
    """RoleSessionName of the operator's sessions in member accounts: `iamlayer-<caller>`, so that
    CloudTrail there says who applied (the session name ends the assumed role's ARN)."""
    name = caller_name(caller_arn)
    return f"{SESSION_NAME}-{name}"[:NAME_MAX] if name else SESSION_NAME


def source_identity(caller_arn: str) -> str | None:
    """SourceIdentity for those sessions: the caller's name (AWS wants 2 to 64 characters)."""
    name = caller_name(caller_arn)
    return name if len(name) >= 2 else None


#: (role ARN, source identity) pairs AWS refused to set: AssumeRole for them is sent without it.
#: Process-wide, so that plan then apply, and every renewal, ask AWS once per role.
_NO_SOURCE_IDENTITY: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Reach:
    """How an account was reached: for people (`via`, as the plan shows it) and for code."""

    account: str
    account_id: str
    identity: str  # the ARN the calls run as
    via: str  # "caller", "profile <name>", "role <arn>": for display only
    role_arn: str | None = None  # the role assumed from the operator's credentials, if any
    caller: str = ""  # the operator's own ARN (sts:GetCallerIdentity of their credentials)


@dataclass
class Connection:
    """An account's clients and how they were obtained, or why it could not be reached."""

    account: Account
    clients: AccountClients | None
    reach: Reach | None
    error: IamlayerError | None = None


def _caller(session: AnySession, stats: ApiStats, label: str) -> tuple[str, str]:
    ident = _sts(session, stats, label).caller_identity(
        "checking the operator's credentials (sts:GetCallerIdentity)"
    )
    return ident.account, ident.arn


def _sts(session: AnySession, stats: ApiStats, label: str) -> StsGateway:
    """STS with `session`'s credentials, its calls counted under `label`."""
    return StsGateway(AccountClients(session, label, stats).sts())


def caller_account(profile: str | None, region: str | None, stats: ApiStats) -> str:
    """The id of the account the operator's own credentials are in."""
    return _caller(base_session(profile, region), stats, "operator")[0]


def _now() -> datetime:
    """The clock temporary credentials' expiry is judged by (tests move it forward)."""
    return datetime.now(UTC)


def assumed_role_session(
    sts: StsGateway,
    role_arn: str,
    region: str | None,
    count: Callable[[], None],
    attempted: str,
    *,
    parent: boto3.Session,
    session_name: str,
    identity: str | None,
) -> tuple[AccountSession, str]:
    """A session in the role `role_arn` whose credentials renew themselves; and the ARN acted as.

    The session is named `session_name` and carries `identity` as its SourceIdentity where the
    role's trust policy allows it (sts:SetSourceIdentity); elsewhere it goes without.

    Everything but the credentials is `parent`'s (the operator's session): its profile, and with
    it the profile's `endpoint_url` and `services` sections, its config files and settings. A
    session pointed at an emulator reaches the member accounts there too, never AWS.

    AssumeRole credentials last an hour by default: an apply or audit of a large organization can
    outlive them. botocore renews refreshable credentials shortly before their expiry by calling
    `fetch` again (AssumeRole through the one `sts` client), and iamlayer.aws.session forces a
    renewal when AWS answers ExpiredToken anyway.

    The new session shares all of `parent`'s botocore session but the credentials (see below):
    each botocore session otherwise parses the IAM model again (tens of MB and ~0.1 s each: 50
    accounts made a plan take 1.6 GB), and registers its own event handlers.
    """
    arn: list[str] = []

    def assume(source_identity: str | None = None) -> AssumedRole:
        count()
        return sts.assume(role_arn, session_name, source_identity=source_identity, attempted=attempted)

    def fetch() -> dict[str, Any]:
        resp = None
        if identity and (role_arn, identity) not in _NO_SOURCE_IDENTITY:
            try:
                resp = assume(identity)
            except AccessDeniedError:
                # AWS refuses the whole AssumeRole when the trust policy allows sts:AssumeRole but
                # not sts:SetSourceIdentity (OrganizationAccountAccessRole, as Organizations makes
                # it, does not), or when the caller's own session already carries another source
                # identity (role chaining keeps the first). Sent again without; remembered.
                _NO_SOURCE_IDENTITY.add((role_arn, identity))
        if resp is None:
            resp = assume()
        c = resp.credentials
        arn[:] = [resp.arn]
        assert c.expiration is not None  # AssumeRole's credentials always expire
        return {
            "access_key": c.access_key_id,
            "secret_key": c.secret_access_key,
            "token": c.session_token,
            "expiry_time": c.expiration.isoformat(),
        }

    first = fetch()
    creds = RefreshableCredentials(
        access_key=first["access_key"],
        secret_key=first["secret_key"],
        token=first["token"],
        expiry_time=datetime.fromisoformat(first["expiry_time"]),
        refresh_using=fetch,
        method="assume-role",
        time_fetcher=lambda: _now(),
    )
    # The account's botocore session is a shallow copy of the operator's: it shares the
    # operator's event handlers, data loader (the service models, parsed once), endpoint
    # resolver, exception classes and configuration (the profile, and with it the profile's
    # endpoint_url), and has credentials of its own. A fresh botocore session per account
    # registered several hundred default event handlers and built its own exception classes:
    # with a boto3 Session around each (whose every creation also appends to the shared
    # loader's search paths), about 0.8 MiB per account in a plan, 2 MiB in an apply.
    core: Any = copy.copy(parent._session)
    # botocore has no public setter for a session's credential object; this is how it is given one.
    core._credentials = creds
    return AccountSession(core, region), arn[0]


def _connect_one(
    spec: Spec,
    account: Account,
    base: boto3.Session,
    sts: StsGateway,
    caller: tuple[str, str],
    stats: ApiStats,
) -> Connection:
    label = account.name
    assumed: str | None = None
    session: AnySession
    try:
        if account.profile:
            session = base_session(account.profile, spec.region)
            acc_id, arn = _caller(session, stats, label)
            via = f"profile {account.profile}"
        elif caller[0] == account.id:
            session, (acc_id, arn), via = base, caller, "caller"
        else:
            role_arn = f"arn:aws:iam::{account.id}:role/{spec.access_role}"
            session, arn = assumed_role_session(
                sts,
                role_arn,
                spec.region,
                lambda: stats.record(label, "AssumeRole"),
                f"assuming {role_arn} to reach account {account.name} ({account.id})",
                parent=base,
                session_name=member_session_name(caller[1]),
                identity=source_identity(caller[1]),
            )
            acc_id, via, assumed = account.id, f"role {role_arn}", role_arn
        if acc_id != account.id:
            raise CredentialsError(
                f"account {account.name}: expected id {account.id}, but the credentials are for {acc_id} ({arn})"
            )
        clients = AccountClients(session, label, stats, spec.region)
        return Connection(account, clients, Reach(account.name, account.id, arn, via, assumed, caller[1]))
    except IamlayerError as exc:
        return Connection(account, None, None, exc)


@dataclass
class _Operator:
    """What `connect_accounts` keeps of one operator session for every later call with it."""

    assume: StsGateway  # every AssumeRole, now and at each renewal (counted by the account reached)
    reached: dict[tuple[str, str, str | None, str, str | None, str], Connection]
    lock: threading.Lock


#: Where an operator session (the boto3 Session a caller passes as `profile`) keeps the accounts
#: reached with it. An apply reaches every account for its plan, its writes and each re-read of
#: its verification; with the session kept (iamlayer.api does), each account's credentials
#: (renewing themselves) and clients are made once, not once per phase. A profile name or None
#: makes a new session at each call, and so new connections. An attribute of the session, not a
#: table keyed by it: the account of the caller's own credentials is reached with the session
#: itself, so a table would keep every session alive.
_REACHED = "_iamlayer_reached"
_OPERATORS_LOCK = threading.Lock()


def _operator(base: AnySession) -> _Operator:
    with _OPERATORS_LOCK:
        op: _Operator | None = getattr(base, _REACHED, None)
        if op is None:
            op = _Operator(StsGateway(make_client(base, "sts")), {}, threading.Lock())
            setattr(base, _REACHED, op)
        return op


def connect_accounts(
    spec: Spec,
    *,
    profile: CredentialSource,
    stats: ApiStats,
    only: Iterable[str] | None = None,
    max_workers: int = 8,
) -> dict[str, Connection]:
    """Connect to the spec's accounts (or `only` those), concurrently. Failures are per account.

    An account reached before with the same operator session (`profile` a boto3 Session) is not
    reached again: its connection is reused, its calls now counted into `stats`.
    Raises CredentialsError only when the operator's own credentials do not work at all.
    """
    base = base_session(profile, spec.region)
    caller = _caller(base, stats, "operator")
    op = _operator(base)

    def one(name: str) -> Connection:
        account = spec.accounts[name]
        key = (account.name, account.id, account.profile, spec.access_role, spec.region, caller[1])
        with op.lock:
            known = op.reached.get(key)
        if known is not None and known.clients is not None:
            known.clients.stats = stats
            return known
        conn = _connect_one(spec, account, base, op.assume, caller, stats)
        if conn.clients is not None:
            with op.lock:
                op.reached[key] = conn
        return conn

    names = list(only) if only is not None else list(spec.accounts)
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = {n: pool.submit(one, n) for n in names}
        return {n: f.result() for n, f in futures.items()}

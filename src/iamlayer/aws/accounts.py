"""Reaching every account of the layer: the operator's own, a named profile, or an assumed role.

The operator's credentials are usually for the management account. For any other account,
iamlayer assumes `access_role` (OrganizationAccountAccessRole by default) there, unless the account
names a `profile:`. When the caller's credentials already are in the target account, no role is
assumed (the single-account layer).
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import boto3

from iamlayer.aws.errors import aws_call
from iamlayer.aws.session import RETRY_CONFIG, AccountClients, ApiStats, base_session
from iamlayer.errors import CredentialsError, IamlayerError
from iamlayer.spec.model import Account, Spec

SESSION_NAME = "iamlayer"


@dataclass(frozen=True)
class Reach:
    """How an account was reached, as shown in the plan."""

    account: str
    account_id: str
    identity: str  # the ARN the calls run as
    via: str  # "caller", "profile <name>", "role <arn>"


@dataclass
class Connection:
    """An account's clients and how they were obtained, or why it could not be reached."""

    account: Account
    clients: AccountClients | None
    reach: Reach | None
    error: IamlayerError | None = None


def _caller(session: boto3.Session, stats: ApiStats, label: str) -> tuple[str, str]:
    sts = session.client("sts", config=RETRY_CONFIG)
    stats.record(label, "GetCallerIdentity")
    with aws_call("checking the operator's credentials (sts:GetCallerIdentity)"):
        ident = sts.get_caller_identity()
    return str(ident["Account"]), str(ident["Arn"])


def _connect_one(
    spec: Spec, account: Account, base: boto3.Session, caller: tuple[str, str], stats: ApiStats
) -> Connection:
    label = account.name
    try:
        if account.profile:
            session = base_session(account.profile, spec.region)
            acc_id, arn = _caller(session, stats, label)
            via = f"profile {account.profile}"
        elif caller[0] == account.id:
            session, (acc_id, arn), via = base, caller, "caller"
        else:
            role_arn = f"arn:aws:iam::{account.id}:role/{spec.access_role}"
            sts = base.client("sts", config=RETRY_CONFIG)
            stats.record(label, "AssumeRole")
            with aws_call(f"assuming {role_arn} to reach account {account.name} ({account.id})"):
                resp = sts.assume_role(RoleArn=role_arn, RoleSessionName=SESSION_NAME)
            creds, arn = resp["Credentials"], str(resp["AssumedRoleUser"]["Arn"])
            session = boto3.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
                region_name=spec.region,
            )
            acc_id, via = account.id, f"role {role_arn}"
        if acc_id != account.id:
            raise CredentialsError(
                f"account {account.name}: expected id {account.id}, but the credentials are for {acc_id} ({arn})"
            )
        clients = AccountClients(session, label, stats, spec.region)
        return Connection(account, clients, Reach(account.name, account.id, arn, via))
    except IamlayerError as exc:
        return Connection(account, None, None, exc)


def connect_accounts(
    spec: Spec,
    *,
    profile: str | None,
    stats: ApiStats,
    only: Iterable[str] | None = None,
    max_workers: int = 8,
) -> dict[str, Connection]:
    """Connect to the spec's accounts (or `only` those), concurrently. Failures are per account.

    Raises CredentialsError only when the operator's own credentials do not work at all.
    """
    base = base_session(profile, spec.region)
    caller = _caller(base, stats, "operator")
    names = list(only) if only is not None else list(spec.accounts)
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = {n: pool.submit(_connect_one, spec, spec.accounts[n], base, caller, stats) for n in names}
        return {n: f.result() for n, f in futures.items()}

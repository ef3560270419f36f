"""The STS gateway: who the credentials are, and temporary credentials (AssumeRole, GetSessionToken).

Each method is one intent, sent through `base.send`: throttling is retried (a throttled request
was not served, so resending it, MFA code included, is safe), and botocore's errors come back as
iamlayer errors naming what was attempted. Every STS call iamlayer makes goes through here:
reaching member accounts (iamlayer.aws.accounts), people's sessions (iamlayer.aws.people) and the
audit's regional probes (iamlayer.aws.audit_reads).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from botocore.exceptions import ClientError

from iamlayer.aws.gateways.base import send
from iamlayer.errors import AccessDeniedError
from iamlayer.profiles.credentials import Credentials, parse_time

T = TypeVar("T")

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient
    from mypy_boto3_sts.type_defs import (
        AssumeRoleRequestTypeDef,
        CredentialsTypeDef,
        GetSessionTokenRequestTypeDef,
    )


class InvalidMfaCodeError(AccessDeniedError):
    """AWS refused an MFA code: wrong, already used, or out of its 30-second window."""


@dataclass(frozen=True)
class Identity:
    """What sts:GetCallerIdentity says about the credentials in use."""

    account: str
    arn: str
    user_id: str

    @property
    def kind(self) -> str:
        """'user', 'assumed-role', 'root', 'federated-user' or the ARN's resource type."""
        resource = self.arn.split(":", 5)[-1]
        return "root" if resource == "root" else resource.split("/", 1)[0]

    @property
    def name(self) -> str:
        """The user's name, or the role's name for an assumed role (session name dropped)."""
        parts = self.arn.split(":", 5)[-1].split("/")
        if parts[0] == "assumed-role" and len(parts) >= 3:
            return parts[1]
        return parts[-1]

    @property
    def session_name(self) -> str | None:
        parts = self.arn.split(":", 5)[-1].split("/")
        return parts[2] if parts[0] == "assumed-role" and len(parts) >= 3 else None


@dataclass(frozen=True)
class AssumedRole:
    """AssumeRole's answer: the session's credentials and the ARN it acts as."""

    credentials: Credentials
    arn: str  # arn:aws:sts::<account>:assumed-role/<role>/<session name> ("" if not said)


def _credentials(c: CredentialsTypeDef) -> Credentials:
    return Credentials(
        access_key_id=str(c["AccessKeyId"]),
        secret_access_key=str(c["SecretAccessKey"]),
        session_token=str(c["SessionToken"]),
        expiration=parse_time(c["Expiration"]),
    )


def _mfa_rejected(exc: AccessDeniedError) -> bool:
    # AWS answers a wrong, reused or stale MFA code with plain AccessDenied and this message, with
    # no code or field of its own: "MultiFactorAuthentication failed with invalid MFA one time pass
    # code." The one place iamlayer reads an STS message (see tests/unit/test_aws_boundary.py).
    cause = exc.__cause__
    if not isinstance(cause, ClientError):
        return False
    message = str(cause.response.get("Error", {}).get("Message", ""))
    return "MultiFactorAuthentication failed" in message


def _send_with_code(what: str, call: Callable[[], T], with_code: bool) -> T:
    """`send`; when the request carried an MFA code, AWS's refusal of the code is
    InvalidMfaCodeError (other denials stay AccessDeniedError)."""
    try:
        return send(what, call)
    except AccessDeniedError as exc:
        if with_code and _mfa_rejected(exc):
            raise InvalidMfaCodeError(
                f"{what}: AWS rejected the MFA code (wrong, already used, or expired)",
                code=exc.code,
                operation=exc.operation,
                status=exc.status,
            ) from exc
        raise


class StsGateway:
    """STS through one client (its endpoint decides the region asked). `where` ends every message
    ("for account shared (333333333333)")."""

    def __init__(self, client: STSClient, where: str = "") -> None:
        self.client = client
        self.where = where

    def _attempted(self, what: str) -> str:
        return f"{what} {self.where}".rstrip()

    @property
    def endpoint_host(self) -> str:
        """The host the requests go to (sts.amazonaws.com is the global endpoint)."""
        from urllib.parse import urlparse

        return urlparse(str(self.client.meta.endpoint_url)).hostname or ""

    def caller_identity(
        self, attempted: str = "checking the credentials (sts:GetCallerIdentity)"
    ) -> Identity:
        """sts:GetCallerIdentity: always allowed, even before MFA is enabled."""
        r = send(self._attempted(attempted), self.client.get_caller_identity)
        return Identity(account=str(r["Account"]), arn=str(r["Arn"]), user_id=str(r["UserId"]))

    def assume(
        self,
        role_arn: str,
        session_name: str,
        *,
        attempted: str = "",
        duration: int | None = None,
        source_identity: str | None = None,
        serial: str | None = None,
        code: str | None = None,
    ) -> AssumedRole:
        """sts:AssumeRole; with `serial`/`code` when the caller has no MFA session of its own.

        Raises InvalidMfaCodeError when AWS rejects the MFA code, AccessDeniedError for other
        refusals (the trust policy, a missing role, SetSourceIdentity not allowed)."""
        args: AssumeRoleRequestTypeDef = {"RoleArn": role_arn, "RoleSessionName": session_name}
        if duration:
            args["DurationSeconds"] = duration
        if source_identity:
            args["SourceIdentity"] = source_identity
        if serial:
            args["SerialNumber"] = serial
            args["TokenCode"] = code or ""
        what = self._attempted(attempted or f"assuming role {role_arn}")
        r = _send_with_code(what, lambda: self.client.assume_role(**args), bool(serial))
        user = r.get("AssumedRoleUser") or {}  # always in AWS's answer; optional in the model
        return AssumedRole(_credentials(r["Credentials"]), str(user.get("Arn", "")))

    def session_token(
        self,
        *,
        duration: int,
        serial: str | None = None,
        code: str | None = None,
        attempted: str = "",
    ) -> Credentials:
        """sts:GetSessionToken on long-term keys, with an MFA code when `serial` is given.

        Raises InvalidMfaCodeError when AWS rejects the code, AccessDeniedError for other denials."""
        args: GetSessionTokenRequestTypeDef = {"DurationSeconds": duration}
        if serial:
            args["SerialNumber"] = serial
            args["TokenCode"] = code or ""
        what = self._attempted(
            attempted or (f"starting an MFA session with {serial}" if serial else "starting a session")
        )
        r = _send_with_code(what, lambda: self.client.get_session_token(**args), bool(serial))
        return _credentials(r["Credentials"])


__all__ = ["AssumedRole", "Identity", "InvalidMfaCodeError", "StsGateway"]

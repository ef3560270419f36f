"""The AWS calls a person makes about their own identity: STS sessions, roles and MFA devices.

The only boto3 importer of the people's side (`iamlayer.profiles`, `iamlayer.cli.people`). Every
call runs inside `aws_call`. Clients come from a `ClientFactory` so tests can hand in a client
wrapped by botocore's Stubber where the emulator does not behave like AWS (it accepts any MFA code).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from iamlayer.aws.errors import aws_call, error_code
from iamlayer.aws.session import env_region, make_client
from iamlayer.errors import AccessDeniedError, AwsError
from iamlayer.profiles.credentials import Credentials, parse_time

#: (service, credentials or None for the standard chain / `profile`, region) -> boto3 client
ClientFactory = Callable[[str, Credentials | None, str | None], Any]


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
class MfaDevice:
    serial: str
    enabled: datetime | None


@dataclass(frozen=True)
class VirtualMfa:
    """A new virtual MFA device. `seed` is the TOTP secret (base32): treat it like a password."""

    serial: str
    seed: str

    def __repr__(self) -> str:
        return f"VirtualMfa(serial={self.serial!r})"


def make_client_factory(profile: str | None = None) -> ClientFactory:
    """Clients with explicit credentials, or from the standard chain (optionally `profile`) when None.

    Either way the clients keep `profile`'s settings: its `endpoint_url` (a sandbox reached through
    a profile) as well as AWS_ENDPOINT_URL, which botocore reads itself.
    """

    def factory(service: str, creds: Credentials | None, region: str | None) -> Any:
        with aws_call(f"creating an AWS {service} client"):
            if creds is None:
                session = boto3.Session(profile_name=profile, region_name=region or env_region())
            else:
                # Explicit keys win over any profile's (boto3 sets them on the session itself);
                # the profile still gives the endpoint and other settings.
                session = boto3.Session(
                    profile_name=profile,
                    aws_access_key_id=creds.access_key_id,
                    aws_secret_access_key=creds.secret_access_key,
                    aws_session_token=creds.session_token,
                    region_name=region or env_region() or "us-east-1",
                )
            # IAM is global and STS answers everywhere: a person with no region set still works.
            return make_client(session, service, session.region_name or "us-east-1")

    return factory


def _creds(resp: dict[str, Any]) -> Credentials:
    c = resp["Credentials"]
    return Credentials(
        access_key_id=str(c["AccessKeyId"]),
        secret_access_key=str(c["SecretAccessKey"]),
        session_token=str(c["SessionToken"]),
        expiration=parse_time(c["Expiration"]),
    )


def caller_identity(factory: ClientFactory, creds: Credentials | None, region: str | None = None) -> Identity:
    """sts:GetCallerIdentity: always allowed, even before MFA is enabled."""
    sts = factory("sts", creds, region)
    with aws_call("checking the credentials (sts:GetCallerIdentity)"):
        r = sts.get_caller_identity()
    return Identity(account=str(r["Account"]), arn=str(r["Arn"]), user_id=str(r["UserId"]))


def list_mfa_devices(factory: ClientFactory, creds: Credentials | None, user: str) -> list[MfaDevice]:
    """The MFA devices enabled for `user` (the name is passed: some endpoints do not infer it)."""
    iam = factory("iam", creds, None)
    out: list[MfaDevice] = []
    with aws_call(f"listing the MFA devices of {user}"):
        for page in iam.get_paginator("list_mfa_devices").paginate(UserName=user):
            for d in page["MFADevices"]:
                enabled = d.get("EnableDate")
                out.append(MfaDevice(str(d["SerialNumber"]), parse_time(enabled) if enabled else None))
    return out


def create_virtual_mfa(
    factory: ClientFactory, creds: Credentials | None, name: str, path: str = "/"
) -> VirtualMfa:
    """iam:CreateVirtualMFADevice. The seed is returned once by AWS and never again."""
    iam = factory("iam", creds, None)
    with aws_call(f"creating virtual MFA device {name}"):
        r = iam.create_virtual_mfa_device(VirtualMFADeviceName=name, Path=path)
    dev = r["VirtualMFADevice"]
    seed = dev["Base32StringSeed"]
    # The API returns the base32 text base64-encoded; boto3 decodes the blob to bytes of that text.
    return VirtualMfa(
        serial=str(dev["SerialNumber"]), seed=seed.decode("ascii") if isinstance(seed, bytes) else str(seed)
    )


def enable_mfa(
    factory: ClientFactory, creds: Credentials | None, user: str, serial: str, code1: str, code2: str
) -> None:
    """iam:EnableMFADevice with two consecutive codes."""
    iam = factory("iam", creds, None)
    with aws_call(f"enabling MFA device {serial} for {user}"):
        iam.enable_mfa_device(
            UserName=user, SerialNumber=serial, AuthenticationCode1=code1, AuthenticationCode2=code2
        )


def delete_virtual_mfa(factory: ClientFactory, creds: Credentials | None, serial: str) -> None:
    """iam:DeleteVirtualMFADevice; a device already gone is fine."""
    iam = factory("iam", creds, None)
    try:
        with aws_call(f"deleting unused virtual MFA device {serial}"):
            iam.delete_virtual_mfa_device(SerialNumber=serial)
    except AwsError as exc:
        if exc.code not in ("NoSuchEntity", "NoSuchEntityException"):
            raise


def _is_mfa_rejection(exc: ClientError) -> bool:
    # AWS answers a wrong, reused or stale code with AccessDenied and this message (no own code):
    # "MultiFactorAuthentication failed with invalid MFA one time pass code."
    msg = str(exc.response.get("Error", {}).get("Message", ""))
    return error_code(exc) == "AccessDenied" and "MultiFactorAuthentication failed" in msg


def get_session_token(
    factory: ClientFactory,
    creds: Credentials,
    *,
    duration: int,
    serial: str | None = None,
    code: str | None = None,
    region: str | None = None,
) -> Credentials:
    """sts:GetSessionToken on long-term keys, with an MFA code when `serial` is given.

    Raises InvalidMfaCodeError when AWS rejects the code, AccessDeniedError for other denials.
    """
    sts = factory("sts", creds, region)
    kwargs: dict[str, Any] = {"DurationSeconds": duration}
    if serial:
        kwargs.update(SerialNumber=serial, TokenCode=code)
    what = f"starting an MFA session with {serial}" if serial else "starting a session"
    with aws_call(what):
        try:
            r = sts.get_session_token(**kwargs)
        except ClientError as exc:
            if _is_mfa_rejection(exc):
                raise InvalidMfaCodeError(
                    f"{what}: AWS rejected the MFA code (wrong, already used, or expired)",
                    code="AccessDenied",
                    operation="GetSessionToken",
                ) from exc
            raise
    return _creds(r)


def assume_role(
    factory: ClientFactory,
    creds: Credentials,
    role_arn: str,
    *,
    session_name: str,
    duration: int,
    serial: str | None = None,
    code: str | None = None,
    region: str | None = None,
) -> Credentials:
    """sts:AssumeRole; with `serial`/`code` when the caller has no MFA session of its own."""
    sts = factory("sts", creds, region)
    kwargs: dict[str, Any] = {
        "RoleArn": role_arn,
        "RoleSessionName": session_name,
        "DurationSeconds": duration,
    }
    if serial:
        kwargs.update(SerialNumber=serial, TokenCode=code)
    with aws_call(f"assuming role {role_arn}"):
        r = sts.assume_role(**kwargs)
    return _creds(r)

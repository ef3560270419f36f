"""The AWS calls a person makes about their own identity: STS sessions, roles and MFA devices.

The only boto3 importer of the people's side (`iamlayer.profiles`, `iamlayer.cli.people`). Every
call runs inside `aws_call`; STS's go through its gateway (iamlayer.aws.gateways.sts). Clients come from a `ClientFactory` so tests can hand in a client
wrapped by botocore's Stubber where the emulator does not behave like AWS (it accepts any MFA code).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3

from iamlayer.aws.errors import aws_call
from iamlayer.aws.gateways.sts import Identity, InvalidMfaCodeError, StsGateway
from iamlayer.aws.session import env_region, make_client
from iamlayer.errors import AwsError
from iamlayer.profiles.credentials import Credentials, parse_time

#: (service, credentials or None for the standard chain / `profile`, region) -> boto3 client
ClientFactory = Callable[[str, Credentials | None, str | None], Any]

__all__ = [
    "ClientFactory",
    "Identity",
    "InvalidMfaCodeError",
    "MfaDevice",
    "VirtualMfa",
    "assume_role",
    "caller_identity",
    "create_virtual_mfa",
    "delete_virtual_mfa",
    "enable_mfa",
    "get_session_token",
    "list_mfa_devices",
    "make_client_factory",
]


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


def caller_identity(factory: ClientFactory, creds: Credentials | None, region: str | None = None) -> Identity:
    """sts:GetCallerIdentity: always allowed, even before MFA is enabled."""
    return StsGateway(factory("sts", creds, region)).caller_identity()


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
    return StsGateway(factory("sts", creds, region)).session_token(
        duration=duration, serial=serial, code=code
    )


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
    gateway = StsGateway(factory("sts", creds, region))
    return gateway.assume(role_arn, session_name, duration=duration, serial=serial, code=code).credentials

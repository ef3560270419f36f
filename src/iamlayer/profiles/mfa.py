"""Virtual MFA enrolment: the otpauth URI, its QR code (terminal and PNG), the enable step.

The TOTP seed is as sensitive as a password: it only ever appears inside the QR code shown to the
person, in the PNG (mode 0600) and, when asked for with --show-secret, in the otpauth URI.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import segno

from iamlayer.aws.people import (
    ClientFactory,
    Identity,
    MfaDevice,
    VirtualMfa,
    caller_identity,
    create_virtual_mfa,
    delete_virtual_mfa,
    enable_mfa,
    list_mfa_devices,
)
from iamlayer.errors import AlreadyExistsError, AwsError, CredentialsError
from iamlayer.files import remove_durably, write_private_file
from iamlayer.profiles.configure import user_name_of

ISSUER = "Amazon Web Services"
_CODE = re.compile(r"^\d{6}$")


def otpauth_uri(seed: str, user: str, account: str, issuer: str = ISSUER) -> str:
    """The otpauth:// URI authenticator apps read from a QR code (label `user@account`)."""
    label = quote(f"{issuer}:{user}@{account}")
    return f"otpauth://totp/{label}?" + urlencode({"secret": seed, "issuer": issuer})


def qr_terminal(uri: str) -> str:
    """The QR code as text for a terminal (half-block characters)."""
    out = io.StringIO()
    segno.make(uri, error="m").terminal(out=out, compact=True)
    return out.getvalue()


def qr_png(uri: str) -> bytes:
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="png", scale=8, border=4)
    return out.getvalue()


def is_code(text: str) -> bool:
    return bool(_CODE.match(text))


@dataclass(frozen=True)
class Enrolment:
    user: str
    account: str
    serial: str
    png: Path
    uri: str  # holds the seed: show only on request

    def __repr__(self) -> str:
        return f"Enrolment(user={self.user!r}, serial={self.serial!r}, png={str(self.png)!r})"


def own_device_serial(account: str, user: str) -> str:
    """The serial (ARN) of `user`'s virtual MFA device: named after them, at the default path.

    The self-management policy lets people create and delete exactly this device (see
    iamlayer.plan.desired.SELF_MFA_ARN), whatever the user's own path.
    """
    return f"arn:aws:iam::{account}:mfa/{user}"


def _create_own_device(factory: ClientFactory, user: str, serial: str) -> VirtualMfa:
    """CreateVirtualMFADevice named after `user`; a leftover unassigned one is replaced.

    A leftover is what a run killed between create and enable leaves behind. Its seed was shown
    only to that run, so it is useless: delete it (allowed without MFA for one's own device) and
    create again. AWS refuses to delete a device that is still assigned to someone (DeleteConflict).
    """
    try:
        return create_virtual_mfa(factory, None, user)
    except AlreadyExistsError:
        try:
            delete_virtual_mfa(factory, None, serial)
        except AwsError as exc:
            raise CredentialsError(
                f"a virtual MFA device {serial} already exists and cannot be replaced ({exc}); "
                "if it is enabled for you, you are done; otherwise ask an administrator to delete it"
            ) from exc
        return create_virtual_mfa(factory, None, user)


def enrol(
    factory: ClientFactory,
    *,
    name: str | None,
    png_path: Callable[[str], Path],
    show: Callable[[str, str, str], None],
    read_codes: Callable[[], tuple[str, str]],
    identity: Identity | None = None,
    devices: Sequence[MfaDevice] | None = None,
) -> Enrolment:
    """Create a virtual MFA device for the caller (an IAM user), show it, enable it with two codes.

    `png_path(user)` says where to save the QR PNG, `show(qr_text, png_path, uri)` displays it (the
    URI holds the seed: show it only when asked, for typing into an app that cannot scan) and
    `read_codes()` returns two consecutive codes. `identity` and `devices` (the user's enabled MFA
    devices) are read from AWS when not given. The device is named after the user: `name`, if
    given, must be the user name. If enabling fails the unused device is deleted, so the person
    can simply run the command again.
    """
    ident = identity or caller_identity(factory, None)
    user = user_name_of(ident.arn)
    if user is None:
        raise CredentialsError(
            f"`mfa enable` needs an IAM user's own credentials; these are {ident.arn} "
            "(use --profile <project>-<people account>)"
        )
    if name is not None and name != user:
        raise CredentialsError(
            f"the virtual MFA device must be named {user}, not {name}: the self-management policy "
            f"lets you create and delete only the device named after you (mfa/{user}), so that a "
            "failed enrolment can be cleaned up and retried; leave out --name"
        )
    serial = own_device_serial(ident.account, user)
    known = list_mfa_devices(factory, None, user) if devices is None else devices
    if any(d.serial == serial for d in known):
        raise CredentialsError(f"{user} already has the MFA device {serial} enabled; nothing to do")
    png = png_path(user)
    dev: VirtualMfa = _create_own_device(factory, user, serial)
    try:
        uri = otpauth_uri(dev.seed, user, ident.account)
        write_private_file(png, qr_png(uri))
        show(qr_terminal(uri), str(png), uri)
        code1, code2 = read_codes()
        enable_mfa(factory, None, user, dev.serial, code1, code2)
    except BaseException:
        # The first error is the one worth reporting; a failed cleanup must not hide it.
        with contextlib.suppress(AwsError):
            delete_virtual_mfa(factory, None, dev.serial)
        with contextlib.suppress(OSError):
            remove_durably(png)  # the seed of a device that no longer exists
        raise
    return Enrolment(user=user, account=ident.account, serial=dev.serial, png=png, uri=uri)

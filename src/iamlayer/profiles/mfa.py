"""Virtual MFA enrolment: the otpauth URI, its QR code (terminal and PNG), the enable step.

The TOTP seed is as sensitive as a password: it only ever appears inside the QR code shown to the
person, in the PNG (mode 0600) and, when asked for with --show-secret, in the otpauth URI.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import segno

from iamlayer.aws.people import (
    ClientFactory,
    VirtualMfa,
    caller_identity,
    create_virtual_mfa,
    delete_virtual_mfa,
    enable_mfa,
)
from iamlayer.errors import AwsError, CredentialsError
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


def enrol(
    factory: ClientFactory,
    *,
    name: str | None,
    png_path: Callable[[str], Path],
    show: Callable[[str, str, str], None],
    read_codes: Callable[[], tuple[str, str]],
) -> Enrolment:
    """Create a virtual MFA device for the caller (an IAM user), show it, enable it with two codes.

    `png_path(user)` says where to save the QR PNG, `show(qr_text, png_path, uri)` displays it (the
    URI holds the seed: show it only when asked, for typing into an app that cannot scan) and
    `read_codes()` returns two consecutive codes. If enabling fails the unused device is deleted,
    so the person can simply run the command again.
    """
    ident = caller_identity(factory, None)
    user = user_name_of(ident.arn)
    if user is None:
        raise CredentialsError(
            f"`mfa enable` needs an IAM user's own credentials; these are {ident.arn} "
            "(use --profile <project>-<people account>)"
        )
    png = png_path(user)
    dev: VirtualMfa = create_virtual_mfa(factory, None, name or user)
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

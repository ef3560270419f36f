"""Virtual MFA enrolment: the otpauth URI, its QR code (terminal and PNG), the enable step.

The TOTP seed is as sensitive as a password, and it sits next to the long-term key it protects:
it only ever appears inside the QR code shown in the terminal and, when asked for with
--show-secret, in the otpauth URI on screen. It is written to disk only where the person asks
(`--png FILE`, mode 0600, atomically), never by default.

While enrolling, iamlayer holds the seed, so it checks the two codes itself (TOTP, RFC 6238)
before sending them: a mistyped code is asked again instead of failing at AWS (and an emulator,
which accepts any code, does not let a wrong one through).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import io
import itertools
import re
import time
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


#: TOTP as authenticator apps and AWS use it: SHA-1, 6 digits, 30-second steps (RFC 6238)
TOTP_STEP = 30
#: How many steps either side of this machine's clock the codes may come from: a phone and a
#: laptop rarely disagree by more than a minute; AWS judges the codes by its own clock anyway.
TOTP_SKEW_STEPS = 10
#: How many pairs of codes are asked for before enrolment gives up (and deletes the new device).
MAX_CODE_PAIRS = 3


def totp_code(seed: str, counter: int) -> str:
    """The 6-digit code of base32 `seed` for time step `counter` (RFC 4226 HOTP over RFC 6238)."""
    key = base64.b32decode(seed.upper() + "=" * (-len(seed) % 8))
    mac = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return f"{(int.from_bytes(mac[offset : offset + 4], 'big') & 0x7FFFFFFF) % 1_000_000:06d}"


def codes_match_seed(seed: str, code1: str, code2: str, now: float | None = None) -> bool | None:
    """Whether `code1`, `code2` are two consecutive codes of `seed` near `now`; None: the seed is
    not base32, so only AWS can tell."""
    step = int((time.time() if now is None else now) // TOTP_STEP)
    try:
        codes = [totp_code(seed, n) for n in range(step - TOTP_SKEW_STEPS, step + TOTP_SKEW_STEPS + 2)]
    except (binascii.Error, ValueError):
        return None
    return any(a == code1 and b == code2 for a, b in itertools.pairwise(codes))


@dataclass(frozen=True)
class Enrolment:
    user: str
    account: str
    serial: str
    png: Path | None  # where the QR code was saved, when asked; None: shown only
    uri: str  # holds the seed: show only on request

    def __repr__(self) -> str:
        png = str(self.png) if self.png else None
        return f"Enrolment(user={self.user!r}, serial={self.serial!r}, png={png!r})"


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


def _read_matching_codes(
    seed: str, read_codes: Callable[[], tuple[str, str]], mismatch: Callable[[str], None] | None
) -> tuple[str, str]:
    """Two codes that `seed` makes, asked up to MAX_CODE_PAIRS times (once without `mismatch`)."""
    for attempt in range(1, MAX_CODE_PAIRS + 1):
        code1, code2 = read_codes()
        if codes_match_seed(seed, code1, code2) is not False:
            return code1, code2
        why = "those two codes are not consecutive codes of the device just shown"
        if mismatch is None or attempt == MAX_CODE_PAIRS:
            raise CredentialsError(
                f"{why}; nothing was enabled and the new device was deleted. Check that the "
                "authenticator app scanned this run's QR code and that the phone's clock is right, "
                "then run the command again"
            )
        mismatch(f"{why} (check the app and the phone's clock). Try {attempt + 1} of {MAX_CODE_PAIRS}")
    raise AssertionError("unreachable")


def enrol(
    factory: ClientFactory,
    *,
    name: str | None,
    show: Callable[[str, Path | None, str], None],
    read_codes: Callable[[], tuple[str, str]],
    png: Path | None = None,
    mismatch: Callable[[str], None] | None = None,
    identity: Identity | None = None,
    devices: Sequence[MfaDevice] | None = None,
) -> Enrolment:
    """Create a virtual MFA device for the caller (an IAM user), show it, enable it with two codes.

    `show(qr_text, png, uri)` displays the QR code (the URI holds the seed: show it only when
    asked, for typing into an app that cannot scan) and `read_codes()` returns two consecutive
    codes. The QR code is saved as a PNG (mode 0600, atomically) only at `png`, when given: the
    seed is never written to disk by default. The codes are checked against the seed before
    AWS sees them; `mismatch(why)`, when given, is told of a wrong pair and the codes are asked
    again (up to MAX_CODE_PAIRS), else a wrong pair fails at once. `identity` and `devices` (the
    user's enabled MFA devices) are read from AWS when not given. The device is named after the
    user: `name`, if given, must be the user name. If enabling fails the unused device (and its
    PNG) is deleted, so the person can simply run the command again.
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
    dev: VirtualMfa = _create_own_device(factory, user, serial)
    try:
        uri = otpauth_uri(dev.seed, user, ident.account)
        if png is not None:
            write_private_file(png, qr_png(uri))
        show(qr_terminal(uri), png, uri)
        code1, code2 = _read_matching_codes(dev.seed, read_codes, mismatch)
        enable_mfa(factory, None, user, dev.serial, code1, code2)
    except BaseException:
        # The first error is the one worth reporting; a failed cleanup must not hide it.
        with contextlib.suppress(AwsError):
            delete_virtual_mfa(factory, None, dev.serial)
        if png is not None:
            with contextlib.suppress(OSError):
                remove_durably(png)  # the seed of a device that no longer exists
        raise
    return Enrolment(user=user, account=ident.account, serial=dev.serial, png=png, uri=uri)

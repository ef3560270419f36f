"""Loading a person's OpenPGP public key, and deciding whether secrets can be encrypted to it.

People hand over keys in three shapes: ASCII-armored (`gpg --export --armor`), binary
(`gpg --export`) and base64 of the binary (`gpg --export NAME | base64`, the form Terraform's
`pgp_key` and keybase used). All three load to the same `PublicKey`.

A key is usable only if it has an encryption-capable (sub)key that is alive now: not expired, not
revoked, on a certificate that is itself neither expired nor revoked. pysequoia's `encrypt`
rejects revoked and sign-only keys but, as of 0.1.35, still encrypts to an expired key, so expiry
is checked here from the binding signatures, and the certificate handed to `encrypt` is trimmed to
the live encryption subkeys.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pysequoia
from pysequoia.packet import PacketPile, PublicKeyAlgorithm, SignatureType, Tag

from iamlayer.errors import KeyFileError

# Curve OIDs (hex of the DER body) as they appear in ECDH/ECDSA/EdDSA key packets.
_CURVES = {
    "2b060104019755010501": "Cv25519",
    "2b06010401da470f01": "Ed25519",
    "2a8648ce3d030107": "NIST P-256",
    "2b81040022": "NIST P-384",
    "2b81040023": "NIST P-521",
    "2b2403030208010107": "brainpoolP256r1",
    "2b240303020801010b": "brainpoolP384r1",
    "2b240303020801010d": "brainpoolP512r1",
}

_SELF_CERTIFICATIONS = (
    SignatureType.PositiveCertification,
    SignatureType.GenericCertification,
    SignatureType.CasualCertification,
    SignatureType.PersonaCertification,
    SignatureType.DirectKey,
)

# Keys made without key-flags subpackets (very old ones) are judged by what the algorithm can do.
_ENCRYPTING_ALGORITHMS = (
    PublicKeyAlgorithm.RSAEncryptSign,
    PublicKeyAlgorithm.RSAEncrypt,
    PublicKeyAlgorithm.ECDH,
    PublicKeyAlgorithm.ElGamalEncrypt,
    PublicKeyAlgorithm.ElGamalEncryptSign,
    PublicKeyAlgorithm.X25519,
    PublicKeyAlgorithm.X448,
)


@dataclass(frozen=True)
class PublicKey:
    """A public key that secrets can be encrypted to (already checked by `load_public_key`)."""

    path: Path
    fingerprint: str  # primary key, uppercase hex
    user_ids: tuple[str, ...]
    algorithm: str  # of the encryption key used, e.g. "RSA 3072", "Cv25519"
    form: str  # "armored" | "binary" | "base64"
    expires_at: datetime | None = None  # when the encryption key stops being usable; None: never
    # The key advertises SEIPDv2 (RFC 9580), so messages to it use that format, which GnuPG 2.2 to
    # 2.4 cannot decrypt; its owner needs an RFC 9580 client (sq, `iamlayer decrypt --secret-key`).
    rfc9580_only: bool = False
    # The pysequoia Cert trimmed to the live encryption subkeys; what `encrypt` is given.
    cert: Any = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        """How to name the key to a person: first user ID and fingerprint."""
        who = self.user_ids[0] if self.user_ids else "no user ID"
        return f"{self.fingerprint} ({who})"


@dataclass(eq=False)
class _Component:
    """A primary key or subkey with what its newest self-signature says about it."""

    packets: list[Any]
    primary: bool
    binding: Any = None  # newest self-signature carrying the key's flags and validity
    revoked: bool = False

    @property
    def key(self) -> Any:
        return self.packets[0]

    def can_encrypt(self) -> bool:
        flags = self.binding.key_flags if self.binding is not None else None
        if flags is None:
            return any(self.key.key_algorithm == a for a in _ENCRYPTING_ALGORITHMS)
        return bool(flags.transport_encryption or flags.storage_encryption)

    def expires_at(self) -> datetime | None:
        period: timedelta | None = self.binding.key_validity_period if self.binding is not None else None
        if period is None:
            return None
        created: datetime = self.key.key_created
        return created + period


def load_public_key(path: Path, *, now: datetime | None = None) -> PublicKey:
    """Load and check the public key in `path`; raise KeyFileError saying why it cannot be used.

    `now` is the moment expiry is judged at (default: the current time).
    """
    now = now or datetime.now(UTC)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise KeyFileError(f"{path}: cannot read the PGP key file: {e.strerror or e}") from e
    binary, form = _decode(path, raw)
    packets = _parse_packets(path, binary)
    _check_is_one_public_key(path, packets)
    try:
        cert = pysequoia.Cert.from_bytes(binary)
    except Exception as e:  # pysequoia raises bare ValueError/RuntimeError with Rust text
        raise KeyFileError(f"{path}: not a valid OpenPGP public key: {_first_line(e)}") from e

    fingerprint = str(cert.fingerprint).upper()
    user_ids = tuple(str(getattr(u, "value", u)) for u in cert.user_ids)
    who = f"{fingerprint} ({user_ids[0] if user_ids else 'no user ID'})"
    if cert.is_revoked:
        raise KeyFileError(f"{path}: the key {who} is revoked; ask its owner for their current public key")
    cert_expiry: datetime | None = cert.expiration
    if cert_expiry is not None and cert_expiry <= now:
        raise KeyFileError(
            f"{path}: the key {who} expired on {cert_expiry:%Y-%m-%d}; ask its owner to extend it "
            f"(gpg --quick-set-expire {fingerprint} 1y) and export it again"
        )

    components = _components(cert, fingerprint)
    encrypting = [c for c in components if c.can_encrypt()]
    live = [c for c in encrypting if not c.revoked and not _expired(c.expires_at(), now)]
    if not live:
        raise KeyFileError(f"{path}: the key {who} {_why_no_encryption_key(encrypting, fingerprint)}")

    # Hand pysequoia only the live encryption keys, so nothing is ever encrypted to a dead subkey.
    keep: list[Any] = []
    for c in components:
        if c.primary or c in live:
            keep.extend(c.packets)
    try:
        usable = pysequoia.Cert.from_packets(keep)
        # A trial run: pysequoia applies its own policy (signature validity, weak algorithms).
        trial = bytes(pysequoia.encrypt(b"", [usable], armor=False))
    except Exception as e:  # pysequoia raises bare RuntimeError with Rust text
        raise KeyFileError(f"{path}: the key {who} cannot be encrypted to: {_first_line(e)}") from e

    chosen = max(live, key=lambda c: c.key.key_created)
    expiries = [t for t in (cert_expiry, chosen.expires_at()) if t is not None]
    return PublicKey(
        path=path,
        fingerprint=fingerprint,
        user_ids=user_ids,
        algorithm=_algorithm_name(chosen.key),
        form=form,
        expires_at=min(expiries) if expiries else None,
        rfc9580_only=_first_packet_version(trial) == 6,
        cert=usable,
    )


def _first_packet_version(message: bytes) -> int | None:
    """The version octet of a message's first packet (a PKESK: 3 for SEIPDv1, 6 for SEIPDv2)."""
    if len(message) < 3 or not message[0] & 0x80:
        return None
    if message[0] & 0x40:  # new-format header: length octets follow the tag octet
        first = message[1]
        body = 2 if first < 192 else 3 if first < 224 else 6
    else:  # old-format header: the low two bits say how many length octets follow
        body = 1 + {0: 1, 1: 2, 2: 4}.get(message[0] & 0x03, 0)
    return message[body] if body < len(message) else None


def _decode(path: Path, raw: bytes) -> tuple[bytes, str]:
    """Return the key's bytes for the parser (armor is left on) and which form the file was in."""
    text = raw.strip()
    if not text:
        raise KeyFileError(f"{path}: the PGP key file is empty; export the key with gpg --export NAME")
    begin = text.find(b"-----BEGIN PGP ")
    if begin >= 0:
        header = text[begin : text.find(b"\n", begin) if b"\n" in text[begin:] else len(text)]
        if b"PRIVATE KEY BLOCK" in header:
            raise KeyFileError(_secret_key_message(path))
        if b"PUBLIC KEY BLOCK" not in header:
            kind = header.decode("ascii", "replace").strip("- \r")
            raise KeyFileError(
                f"{path}: this is an armored '{kind}', not a public key; export one with gpg --export"
            )
        return text[begin:], "armored"
    if raw[0] & 0x80:  # every OpenPGP packet header has the top bit set; base64 text never does
        return raw, "binary"
    try:
        decoded = base64.b64decode(b"".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if decoded and decoded[0] & 0x80:
        return decoded, "base64"
    raise KeyFileError(
        f"{path}: not an OpenPGP public key; expected the output of gpg --export NAME "
        "(binary), gpg --export --armor NAME, or gpg --export NAME | base64"
    )


def _parse_packets(path: Path, binary: bytes) -> list[Any]:
    try:
        return list(PacketPile.from_bytes(binary))
    except Exception as e:  # pysequoia raises bare ValueError/RuntimeError with Rust text
        raise KeyFileError(f"{path}: not an OpenPGP public key: {_first_line(e)}") from e


def _check_is_one_public_key(path: Path, packets: list[Any]) -> None:
    if any(p.tag in (Tag.SecretKey, Tag.SecretSubkey) for p in packets):
        raise KeyFileError(_secret_key_message(path))
    if not packets or packets[0].tag != Tag.PublicKey:
        what = packets[0].tag if packets else "nothing"
        raise KeyFileError(
            f"{path}: not an OpenPGP public key (it starts with {what}); export one with gpg --export"
        )
    count = sum(1 for p in packets if p.tag == Tag.PublicKey)
    if count > 1:
        raise KeyFileError(f"{path}: holds {count} keys; the file must hold exactly one person's public key")


def _secret_key_message(path: Path) -> str:
    return (
        f"{path}: this is a secret key; export the public key with gpg --export NAME "
        "and keep the secret key to its owner (remove it from here)"
    )


def _components(cert: Any, fingerprint: str) -> list[_Component]:
    """Split the canonicalised certificate into its primary key and subkeys, with their bindings."""
    comps: list[_Component] = []
    current: _Component | None = None
    for p in PacketPile.from_bytes(bytes(cert)):
        if p.tag == Tag.PublicKey:
            current = _Component([p], primary=True)
            comps.append(current)
            continue
        if p.tag == Tag.PublicSubkey:
            current = _Component([p], primary=False)
            comps.append(current)
            continue
        if p.tag in (Tag.UserID, Tag.UserAttribute):
            # User IDs and their certifications belong with the primary key's block.
            current = comps[0]
        assert current is not None  # a certificate always starts with its primary key
        current.packets.append(p)
        if p.tag != Tag.Signature:
            continue
        stype = p.signature_type
        if stype == SignatureType.SubkeyRevocation and not current.primary:
            current.revoked = True
        elif (current.primary and stype in _SELF_CERTIFICATIONS and _issued_by(p, fingerprint)) or (
            not current.primary and stype == SignatureType.SubkeyBinding
        ):
            newest = current.binding
            if newest is None or (p.signature_created or datetime.min.replace(tzinfo=UTC)) >= (
                newest.signature_created or datetime.min.replace(tzinfo=UTC)
            ):
                current.binding = p
    return comps


def _issued_by(sig: Any, fingerprint: str) -> bool:
    fpr = sig.issuer_fingerprint
    if fpr is not None:
        return bool(str(fpr).upper() == fingerprint)
    keyid = sig.issuer_key_id
    return keyid is not None and str(keyid).upper() == fingerprint[-16:]


def _expired(when: datetime | None, now: datetime) -> bool:
    return when is not None and when <= now


def _why_no_encryption_key(encrypting: list[_Component], fingerprint: str) -> str:
    fix = f"add one with gpg --quick-add-key {fingerprint} cv25519 encr 2y and export the key again"
    if not encrypting:
        return f"has no encryption subkey (it can only sign or certify); {fix}"
    states = []
    for c in encrypting:
        exp = c.expires_at()
        state = "revoked" if c.revoked else f"expired on {exp:%Y-%m-%d}" if exp else "unusable"
        states.append(f"{str(c.key.key_id).upper()} {state}")
    return f"has no usable encryption subkey ({', '.join(states)}); {fix}"


def _algorithm_name(key: Any) -> str:
    """A person's name for a key's algorithm: "RSA 3072", "Cv25519", "NIST P-256"..."""
    alg = key.key_algorithm
    body: bytes = key.body
    # v4 key material starts after version, creation time and algorithm; v5/v6 add a 4-octet length.
    material = body[6:] if body[0] == 4 else body[10:]
    if any(alg == a for a in (PublicKeyAlgorithm.RSAEncryptSign, PublicKeyAlgorithm.RSAEncrypt)):
        return f"RSA {int.from_bytes(material[0:2], 'big')}"
    if any(alg == a for a in (PublicKeyAlgorithm.ElGamalEncrypt, PublicKeyAlgorithm.ElGamalEncryptSign)):
        return f"ElGamal {int.from_bytes(material[0:2], 'big')}"
    if any(alg == a for a in (PublicKeyAlgorithm.ECDH, PublicKeyAlgorithm.ECDSA, PublicKeyAlgorithm.EdDSA)):
        oid = material[1 : 1 + material[0]].hex()
        return _CURVES.get(oid, f"ECC (OID {oid})")
    return str(alg).rsplit(".", 1)[-1]


def _first_line(e: BaseException) -> str:
    """pysequoia errors carry a Rust backtrace when RUST_BACKTRACE is set; keep only the message."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__

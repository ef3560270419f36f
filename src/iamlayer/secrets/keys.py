"""Loading a person's OpenPGP public key, and deciding whether secrets can be encrypted to it.

People hand over keys in three shapes: ASCII-armored (`gpg --export --armor`), binary
(`gpg --export`) and base64 of the binary (`gpg --export NAME | base64`, the form Terraform's
`pgp_key` and keybase used). All three load to the same `PublicKey`.

A key is usable only if it has an encryption-capable (sub)key that is alive now: not expired, not
revoked, strong enough, on a certificate that is itself neither expired nor revoked. All of it is
read from the key's packets (flags, validity periods, revocations, algorithms), never learnt by a
trial encryption. pysequoia's `encrypt` rejects revoked and sign-only keys but, as of 0.1.35,
still encrypts to an expired key, so expiry is checked here from the binding signatures, and the
certificate handed to `encrypt` is trimmed to the live encryption subkeys.

Each distinct key file is loaded once per process (memoised by path and content digest): a layer
of 1,000 people sharing 10 key files costs 10 loads, about 1 ms each, not 1,000.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
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


# What OpenPGP implementations refuse to encrypt to (Sequoia's standard policy, which pysequoia
# applies: RSA and ElGamal under 2048 bits are not considered secure since 2014).
MIN_KEY_BITS = 2048
_SIZED_ALGORITHMS = ("RSA", "ElGamal")
# Binding signatures made with MD5, or with SHA-1 from 2023-02-01 on, do not bind a key (Sequoia's
# standard policy for second pre-image resistance).
_SHA1_CUTOFF = datetime(2023, 2, 1, tzinfo=UTC)
# The Features signature subpacket (RFC 9580 5.2.3.32) and its SEIPDv2 bit.
_FEATURES_SUBPACKET = 30
_SEIPDV2 = 0x08


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

    def bound(self, now: datetime) -> bool:
        """Whether its binding signature binds it under a hash OpenPGP still accepts for that."""
        if self.binding is None:
            return True
        digest = str(self.binding.hash_algorithm).rsplit(".", 1)[-1].upper()
        if digest == "MD5":
            return False
        created = self.binding.signature_created
        return not (digest == "SHA1" and created is not None and created >= _SHA1_CUTOFF)


#: Keys loaded by this process, by (path, SHA-256 of the file's bytes): public data only.
_LOADED: dict[tuple[Path, bytes], PublicKey] = {}


def load_public_key(path: Path, *, now: datetime | None = None) -> PublicKey:
    """Load and check the public key in `path`; raise KeyFileError saying why it cannot be used.

    `now` is the moment expiry is judged at (default: the current time). A file already loaded
    with the same content is not parsed again (unless its key has expired since).
    """
    now = now or datetime.now(UTC)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise KeyFileError(f"{path}: cannot read the PGP key file: {e.strerror or e}") from e
    memo = (path, hashlib.sha256(raw).digest())
    known = _LOADED.get(memo)
    if known is not None and not _expired(known.expires_at, now):
        return known
    key = _load(path, raw, now)
    _LOADED[memo] = key
    return key


def _load(path: Path, raw: bytes, now: datetime) -> PublicKey:
    binary, form = _decode(path, raw)
    packets = _parse_packets(path, binary)
    _check_is_one_public_key(path, packets)
    try:
        cert = pysequoia.Cert.from_bytes(binary)
    except Exception as e:  # pysequoia raises bare ValueError/RuntimeError with Rust text
        raise KeyFileError(f"{path}: not a valid OpenPGP public key: {_first_line(e)}") from e

    fingerprint = str(cert.fingerprint).upper()
    # From the packets: pysequoia's Cert.user_ids applies its policy, and fails on a weak key.
    user_ids = tuple(str(p.user_id) for p in packets if p.tag == Tag.UserID)
    who = f"{fingerprint} ({user_ids[0] if user_ids else 'no user ID'})"
    if not _strong(packets[0]):
        raise KeyFileError(
            f"{path}: the key {who} is {_algorithm_name(packets[0])}, too weak: OpenPGP refuses keys "
            f"under {MIN_KEY_BITS} bits since 2014; ask its owner for a new key (gpg --quick-gen-key "
            "NAME default default 2y)"
        )
    try:
        revoked, cert_expiry = bool(cert.is_revoked), cert.expiration
    except Exception as e:  # pysequoia judges these under its policy: a primary key it rejects
        raise KeyFileError(f"{path}: the key {who} cannot be encrypted to: {_first_line(e)}") from e
    if revoked:
        raise KeyFileError(f"{path}: the key {who} is revoked; ask its owner for their current public key")
    if cert_expiry is not None and cert_expiry <= now:
        raise KeyFileError(
            f"{path}: the key {who} expired on {cert_expiry:%Y-%m-%d}; ask its owner to extend it "
            f"(gpg --quick-set-expire {fingerprint} 1y) and export it again"
        )

    components = _components(cert, fingerprint)
    encrypting = [c for c in components if c.can_encrypt() and c.bound(now)]
    alive = [c for c in encrypting if not c.revoked and not _expired(c.expires_at(), now)]
    live = [c for c in alive if _strong(c.key)]
    if not live:
        raise KeyFileError(f"{path}: the key {who} {_why_no_encryption_key(encrypting, fingerprint, now)}")

    # Hand pysequoia only the live encryption keys, so nothing is ever encrypted to a dead subkey.
    keep: list[Any] = []
    for c in components:
        if c.primary or c in live:
            keep.extend(c.packets)
    try:
        usable = pysequoia.Cert.from_packets(keep)
    except Exception as e:  # pysequoia raises bare RuntimeError with Rust text
        raise KeyFileError(f"{path}: the key {who} cannot be encrypted to: {_first_line(e)}") from e

    chosen = max(live, key=lambda c: c.key.key_created)
    primary = next(c for c in components if c.primary)
    expiries = [t for t in (cert_expiry, chosen.expires_at()) if t is not None]
    # Sequoia sends SEIPDv2 (RFC 9580) to a key whose features ask for it: the encryption key's
    # binding says so, else the primary key's self-signature.
    features = _features(chosen.binding) if chosen is not primary else None
    if features is None:
        features = _features(primary.binding)
    return PublicKey(
        path=path,
        fingerprint=fingerprint,
        user_ids=user_ids,
        algorithm=_algorithm_name(chosen.key),
        form=form,
        expires_at=min(expiries) if expiries else None,
        rfc9580_only=bool((features or 0) & _SEIPDV2),
        cert=usable,
    )


def _features(sig: Any) -> int | None:
    """The first octet of a signature's Features subpacket (hashed area), or None without one."""
    if sig is None:
        return None
    body: bytes = sig.body
    if not body:
        return None
    if body[0] == 4:
        size, start = int.from_bytes(body[4:6], "big"), 6
    elif body[0] == 6:
        size, start = int.from_bytes(body[4:8], "big"), 8
    else:
        return None
    area, i = body[start : start + size], 0
    while i < len(area):
        first = area[i]
        if first < 192:
            length, i = first, i + 1
        elif first < 255:
            length, i = ((first - 192) << 8) + area[i + 1] + 192, i + 2
        else:
            length, i = int.from_bytes(area[i + 1 : i + 5], "big"), i + 5
        if length and area[i] & 0x7F == _FEATURES_SUBPACKET and length > 1:
            return area[i + 1]
        i += length
    return None


def _key_bits(key: Any) -> tuple[str, int | None]:
    """The algorithm family of a key packet, and its size in bits for RSA and ElGamal."""
    name = _algorithm_name(key)
    family, _, bits = name.partition(" ")
    return family, int(bits) if family in _SIZED_ALGORITHMS and bits.isdigit() else None


def _strong(key: Any) -> bool:
    _, bits = _key_bits(key)
    return bits is None or bits >= MIN_KEY_BITS


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


def _why_no_encryption_key(encrypting: list[_Component], fingerprint: str, now: datetime) -> str:
    fix = f"add one with gpg --quick-add-key {fingerprint} cv25519 encr 2y and export the key again"
    if not encrypting:
        return f"has no encryption subkey (it can only sign or certify); {fix}"
    states = []
    for c in encrypting:
        exp = c.expires_at()
        if c.revoked:
            state = "revoked"
        elif _expired(exp, now):
            state = f"expired on {exp:%Y-%m-%d}"
        elif not _strong(c.key):
            state = f"{_algorithm_name(c.key)}, too weak: under {MIN_KEY_BITS} bits, refused since 2014"
        else:
            state = "unusable"
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

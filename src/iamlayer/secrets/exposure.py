"""Keys whose secret half lies in the layer folder: what is encrypted to them is not secret.

`iamlayer init` makes throwaway example keys and leaves their secret halves in
example-secret-keys/ so the example applies end to end. A layer that goes on to a real account
with those keys (or with any key whose secret key file sits in the layer folder, and so in its git
history) encrypts passwords and access keys to whoever has the folder. `validate` (a warning on
the user's pgp_key line) and `plan` (a banner) say so for each such user.

The layer folder is scanned once per validation or plan: files up to 1 MiB, in armored ("BEGIN PGP PRIVATE
KEY BLOCK") or binary (a Secret-Key packet first) form; .git, .iamlayer and outputs are skipped.
A key is also flagged when its user ID marks it as an `iamlayer init` example key, wherever its
secret half went.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pysequoia

from iamlayer.secrets.examplekeys import EXAMPLE_KEY_COMMENT
from iamlayer.secrets.keys import load_public_key
from iamlayer.spec.model import Spec

_ARMOR: Final = b"-----BEGIN PGP PRIVATE KEY BLOCK-----"
_MAX_SIZE: Final = 1 << 20
_SKIP_DIRS: Final = frozenset({".git", ".iamlayer", "outputs", ".venv", "node_modules", ".terraform"})
#: first octet of a Secret-Key packet: old format (tag 5, any length type), new format
_SECRET_KEY_HEADERS: Final = frozenset({0x94, 0x95, 0x96, 0x97, 0xC5})


@dataclass(frozen=True)
class Exposure:
    """A public key file whose key is not private to its owner."""

    key_file: Path
    fingerprint: str
    secret_file: Path | None  # its secret half, found in the layer folder
    example: bool  # made by `iamlayer init` as an example key

    def message(self, user: str, root: Path) -> str:
        rel = _rel(self.key_file, root)
        if self.secret_file is not None:
            why = f"its secret half is in the layer folder ({_rel(self.secret_file, root)})"
            who = "anyone with this folder or its git history"
        else:
            why = "it is an `iamlayer init` example key, not a person's own"
            who = "whoever kept its secret half (init wrote it into example-secret-keys/)"
        kind = "an `iamlayer init` example key " if self.example and self.secret_file else ""
        return (
            f"NOT SECRET: {user}'s secrets are encrypted to {kind}{rel} ({self.fingerprint}) and {why}: "
            f"{who} can decrypt {user}'s password and access key"
        )

    def hint(self, user: str, root: Path) -> str:
        text = f"put {user}'s own public key in {_rel(self.key_file, root)} before applying to a real account"
        if self.secret_file is not None:
            text += f", delete {_rel(self.secret_file, root)} (and never commit it)"
        return text + (
            f"; re-issue what was already encrypted to it (iamlayer password reset {user}, "
            f"iamlayer access-key rotate {user} --delete-old)"
        )


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _looks_secret(data: bytes) -> bool:
    return (bool(data) and data[0] in _SECRET_KEY_HEADERS) or _ARMOR in data


def secret_key_files(root: Path) -> dict[str, Path]:
    """Fingerprint (primary key, upper-case hex) -> the file under `root` holding its secret key."""
    found: dict[str, Path] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for name in sorted(files):
            path = Path(folder) / name
            try:
                if not path.is_file() or path.stat().st_size > _MAX_SIZE:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            if not _looks_secret(data):
                continue
            try:
                certs = pysequoia.Cert.split_bytes(data)
            except Exception:  # not a key after all (pysequoia raises bare errors)
                continue
            for cert in certs:
                if cert.has_secret_keys:
                    found.setdefault(str(cert.fingerprint).upper(), path)
    return found


def exposure_of(key_file: Path, secrets: dict[str, Path]) -> Exposure | None:
    """Whether the (valid) public key in `key_file` is exposed: its secret half is among `secrets`
    (`secret_key_files` of the layer folder), or it is an example key."""
    key = load_public_key(key_file)
    secret = secrets.get(key.fingerprint)
    example = any(EXAMPLE_KEY_COMMENT in uid for uid in key.user_ids)
    if secret is None and not example:
        return None
    return Exposure(key_file, key.fingerprint, secret, example)


def exposed_users(spec: Spec) -> list[tuple[str, Exposure]]:
    """Each user whose secrets (password or access key) are encrypted to an exposed key."""
    users = [u for u in spec.users.values() if u.pgp_key is not None and (u.console or u.access_key)]
    if not users:
        return []
    secrets = secret_key_files(spec.root)
    out: list[tuple[str, Exposure]] = []
    for user in users:
        assert user.pgp_key is not None
        exposure = exposure_of(user.pgp_key, secrets)
        if exposure is not None:
            out.append((user.name, exposure))
    return out

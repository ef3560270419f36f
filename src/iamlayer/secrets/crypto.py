"""Encrypting secrets to a person's public key, and decrypting them for that person.

Ciphertexts are ASCII-armored OpenPGP messages that stock `gpg --decrypt` (GnuPG 2.2 and later)
reads. iamlayer does its own armoring (RFC 4880 section 6) so it can add `Comment:` headers that
say what a file holds and for whom; GnuPG ignores comments, and they never contain the secret.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pysequoia

from iamlayer.errors import IamlayerError
from iamlayer.secrets.keys import PublicKey

_BEGIN = "-----BEGIN PGP MESSAGE-----"
_END = "-----END PGP MESSAGE-----"


def encrypt_armored(key: PublicKey, plaintext: str, *, comments: Sequence[str] = ()) -> str:
    """Encrypt `plaintext` (UTF-8) to `key`; an armored message with `comments` as headers."""
    try:
        binary = pysequoia.encrypt(plaintext.encode("utf-8"), [key.cert], armor=False)
    except Exception as e:  # pysequoia raises bare RuntimeError with Rust text
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise IamlayerError(f"Failed to encrypt to the key {key.label} from {key.path}: {first}") from e
    return armor_message(bytes(binary), comments)


def armor_message(binary: bytes, comments: Sequence[str] = ()) -> str:
    """ASCII-armor an OpenPGP message, with one `Comment:` header per entry of `comments`."""
    for c in comments:
        if not c.isprintable() or not c.isascii():
            raise ValueError(f"armor comment must be one line of printable ASCII: {c!r}")
    body = base64.b64encode(binary).decode("ascii")
    lines = [_BEGIN, *(f"Comment: {c}" for c in comments), ""]
    lines += [body[i : i + 64] for i in range(0, len(body), 64)]
    lines += ["=" + base64.b64encode(_crc24(binary).to_bytes(3, "big")).decode("ascii"), _END, ""]
    return "\n".join(lines)


def armor_comments(text: str) -> list[str]:
    """The `Comment:` headers of an armored message (empty if there are none)."""
    comments: list[str] = []
    lines = iter(text.splitlines())
    for line in lines:
        if line.strip() == _BEGIN:
            break
    for line in lines:
        if not line.strip():
            break  # headers end at the first blank line
        name, sep, value = line.partition(":")
        if sep and name.strip() == "Comment":
            comments.append(value.strip())
    return comments


def decrypt_file(path: Path, secret_key: Path | None = None, *, passphrase: str | None = None) -> str:
    """Decrypt the message in `path` and return the plaintext.

    With `secret_key` (an exported secret key file, armored or binary; `passphrase` if it is
    protected) pysequoia decrypts in-process. Without it, the local `gpg --decrypt` runs with the
    person's own keyring and agent (which may ask for the passphrase through pinentry).
    Raises IamlayerError saying what failed.
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise IamlayerError(f"Cannot read {path}: {e.strerror or e}") from e
    plain = _decrypt_with_key(path, data, secret_key, passphrase) if secret_key else _decrypt_with_gpg(path)
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError as e:
        raise IamlayerError(f"{path} decrypted, but its content is not UTF-8 text") from e


def _decrypt_with_key(path: Path, data: bytes, secret_key: Path, passphrase: str | None) -> bytes:
    try:
        key_bytes = secret_key.read_bytes()
    except OSError as e:
        raise IamlayerError(f"Cannot read the secret key file {secret_key}: {e.strerror or e}") from e
    try:
        tsk = pysequoia.Tsk.from_bytes(key_bytes)
    except Exception as e:  # pysequoia raises bare ValueError/RuntimeError with Rust text
        raise IamlayerError(
            f"{secret_key} is not an OpenPGP secret key; export one with gpg --export-secret-keys NAME"
        ) from e
    try:
        decryptor = tsk.decryptor(passphrase)
    except Exception as e:  # pysequoia: a protected key without (or with a wrong) passphrase
        hint = "the passphrase is wrong" if passphrase else "it is passphrase-protected; give the passphrase"
        raise IamlayerError(f"Cannot use the secret key {secret_key}: {hint} (or decrypt with gpg)") from e
    try:
        result = pysequoia.decrypt(data, decryptor)
    except Exception as e:  # pysequoia raises bare RuntimeError with Rust text
        raise IamlayerError(
            f"Cannot decrypt {path} with the secret key {secret_key}: it was not encrypted to this key, "
            "or the file is damaged"
        ) from e
    content = result.bytes
    if content is None:
        raise IamlayerError(f"Cannot decrypt {path}: the message holds no data")
    return bytes(content)


def _decrypt_with_gpg(path: Path) -> bytes:
    gpg = shutil.which("gpg")
    if gpg is None:
        raise IamlayerError(
            f"Cannot decrypt {path}: gpg is not installed; install GnuPG or give the secret key file"
        )
    proc = subprocess.run(
        # No --quiet: gpg says why pinentry failed only without it (see gpg_failure).
        [gpg, "--decrypt", "--batch", "--", str(path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise IamlayerError(gpg_failure(f"gpg could not decrypt {path}", proc.stderr, proc.returncode))
    return proc.stdout


#: what gpg and its agent say when pinentry could not ask for a passphrase
_PINENTRY_TROUBLE = ("pinentry", "inappropriate ioctl", "passphrase", "problem with the agent", "cancel")


def gpg_failure(what: str, stderr: bytes, returncode: int) -> str:
    """`what` failed: gpg's last line, and, when a passphrase could not be asked for and GPG_TTY is
    not set, what to set. pinentry-curses and pinentry-tty find the terminal through GPG_TTY;
    without it a passphrase-protected key fails with "Inappropriate ioctl for device" or
    "No secret key", which names neither the cause nor the fix."""
    text = stderr.decode("utf-8", "replace").strip()
    lines = text.splitlines()
    message = f"{what}: {lines[-1] if lines else f'exit code {returncode}'}"
    if not os.environ.get("GPG_TTY") and any(t in text.lower() for t in _PINENTRY_TROUBLE):
        message += (
            ". gpg could not ask for your key's passphrase: GPG_TTY is not set. Add "
            "`export GPG_TTY=$(tty)` to your shell's startup file (~/.bashrc, ~/.zshrc), open a new "
            "terminal and retry (or unlock the key once with `gpg --decrypt` on any file of yours: "
            "gpg-agent then remembers the passphrase for a while)"
        )
    return message


def _crc24(data: bytes) -> int:
    """The armor checksum of RFC 4880 section 6.1."""
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF

"""Throwaway example keys for `iamlayer init`, made the way people make theirs.

With GnuPG on the PATH the keys are made by gpg itself, in a temporary home: gpg's keys advertise
only the encryption packet format that every GnuPG reads (SEIPDv1), so what iamlayer encrypts to
them opens with stock `gpg --decrypt`. Keys made by Sequoia (as pysequoia generates them)
advertise SEIPDv2 (RFC 9580), which GnuPG 2.2 to 2.4 cannot decrypt; that is only the fallback
when gpg is absent, and `iamlayer decrypt --secret-key` reads those.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import pysequoia

#: In the user ID of every example key (`Name (iamlayer example key) <email>`): how validation
#: recognises one in a layer, wherever its secret half went (iamlayer.secrets.exposure).
EXAMPLE_KEY_COMMENT = "iamlayer example key"


@dataclass(frozen=True)
class ExampleKey:
    public: bytes  # binary transferable public key
    public_armored: bytes
    secret_armored: bytes  # unprotected: an example key, never a person's
    made_by: str  # "gpg" or "pysequoia"


def _gpg(home: str, *args: str) -> bytes:
    return subprocess.run(
        [
            "gpg",
            "--homedir",
            home,
            "--batch",
            "--quiet",
            "--no-tty",
            "--passphrase",
            "",
            "--pinentry-mode",
            "loopback",
            *args,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    ).stdout


def _with_gpg(user_id: str, suite: str) -> ExampleKey:
    home = tempfile.mkdtemp(prefix="iamlayer-gpg-")
    try:
        if suite == "Cv25519":
            _gpg(home, "--quick-gen-key", user_id, "ed25519", "sign", "never")
            fpr = next(
                line.split(":")[9]
                for line in _gpg(home, "--with-colons", "--list-keys").decode().splitlines()
                if line.startswith("fpr:")
            )
            _gpg(home, "--quick-add-key", fpr, "cv25519", "encr", "never")
        else:
            _gpg(home, "--quick-gen-key", user_id, "rsa3072", "encr", "never")
        return ExampleKey(
            public=_gpg(home, "--export"),
            public_armored=_gpg(home, "--export", "--armor"),
            secret_armored=_gpg(home, "--export-secret-keys", "--armor"),
            made_by="gpg",
        )
    finally:
        subprocess.run(
            ["gpgconf", "--homedir", home, "--kill", "gpg-agent"], capture_output=True, check=False
        )
        shutil.rmtree(home, ignore_errors=True)


def _with_pysequoia(user_id: str, suite: str) -> ExampleKey:
    # RFC 4880 (v4) keys: GnuPG 2.2, still common, cannot use the v6 keys of RFC 9580.
    tsk = pysequoia.Tsk.generate(
        user_id, profile=pysequoia.Profile.RFC4880, cipher_suite=getattr(pysequoia.CipherSuite, suite)
    )
    cert = tsk.extract_certificate()
    return ExampleKey(bytes(cert), str(cert).encode("ascii"), str(tsk).encode("ascii"), "pysequoia")


def generate_example_key(user_id: str, suite: str) -> ExampleKey:
    """A new key pair; `suite` is "Cv25519" or "RSA3k"."""
    if shutil.which("gpg") and shutil.which("gpgconf"):
        return _with_gpg(user_id, suite)
    return _with_pysequoia(user_id, suite)

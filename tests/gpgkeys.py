"""Real GnuPG keys for the secrets tests, made with the `gpg` binary in a throwaway GNUPGHOME.

Keys are made the way a person makes them (quick-gen-key, quick-add-key, export), including
broken ones: expired (generated under --faked-system-time in 2020), revoked (the revocation
certificate gpg stores at creation, imported), sign-only, and secret-key exports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

PAST = "20200101T000000"  # --faked-system-time for keys that must be expired today


class GpgHome:
    """A GNUPGHOME of its own; `close()` stops the gpg-agent that gpg started for it."""

    def __init__(self, home: Path) -> None:
        self.home = home
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.env = {**os.environ, "GNUPGHOME": str(home)}

    def gpg(self, *args: str, stdin: bytes | None = None, passphrase: str = "") -> bytes:
        """Run gpg non-interactively; `passphrase` protects new keys and unlocks existing ones."""
        proc = subprocess.run(
            [
                "gpg",
                "--batch",
                "--yes",
                "--quiet",
                "--no-tty",
                "--passphrase",
                passphrase,
                "--pinentry-mode",
                "loopback",
                *args,
            ],
            input=stdin,
            env=self.env,
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"gpg {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
        return proc.stdout

    def gen_key(
        self, uid: str, algo: str, usage: str, expire: str = "never", past: bool = False, passphrase: str = ""
    ) -> str:
        """`gpg --quick-gen-key`; returns the new primary key's fingerprint."""
        faked = ["--faked-system-time", PAST] if past else []
        self.gpg(*faked, "--quick-gen-key", uid, algo, usage, expire, passphrase=passphrase)
        return self.fingerprint(uid)

    def add_subkey(self, fpr: str, algo: str, usage: str, expire: str = "never", past: bool = False) -> None:
        faked = ["--faked-system-time", PAST] if past else []
        self.gpg(*faked, "--quick-add-key", fpr, algo, usage, expire)

    def fingerprint(self, uid: str) -> str:
        out = self.gpg("--with-colons", "--list-keys", uid).decode()
        return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))

    def revoke(self, fpr: str) -> None:
        """Import the revocation certificate gpg stored when it made the key."""
        cert = (self.home / "openpgp-revocs.d" / f"{fpr}.rev").read_text()
        # gpg prefixes the armor line with ':' so the file cannot be imported by accident.
        self.gpg("--import", stdin=cert.replace(":-----BEGIN", "-----BEGIN").encode())

    def export(self, fpr: str, form: str, dest: Path) -> Path:
        """Write the public key as "armored", "binary" or "base64" (`gpg --export | base64`)."""
        if form == "armored":
            dest.write_bytes(self.gpg("--armor", "--export", fpr))
        elif form == "binary":
            dest.write_bytes(self.gpg("--export", fpr))
        else:
            dest.write_bytes(
                subprocess.run(
                    ["base64"], input=self.gpg("--export", fpr), capture_output=True, check=True
                ).stdout
            )
        return dest

    def export_secret(self, fpr: str, dest: Path, armor: bool = True, passphrase: str = "") -> Path:
        args = ["--armor"] if armor else []
        dest.write_bytes(self.gpg(*args, "--export-secret-keys", fpr, passphrase=passphrase))
        return dest

    def decrypt(self, path: Path) -> str:
        """What a person runs: `gpg --decrypt FILE`."""
        return self.gpg("--decrypt", str(path)).decode("utf-8")

    def close(self) -> None:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=self.env, capture_output=True, check=False)


def gpg_available() -> bool:
    return shutil.which("gpg") is not None and shutil.which("gpgconf") is not None

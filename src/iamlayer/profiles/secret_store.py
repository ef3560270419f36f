"""Where a person's access key and MFA sessions live with `cli: key`: never in a plaintext file.

- The OS keyring, through the `keyring` library: macOS Keychain, Windows Credential Locker, the
  Secret Service of GNOME and KDE. One entry per secret, under the service
  `iamlayer:<folder of the AWS config file>`.
- Where no keyring is usable (a server, a container, a desktop without Secret Service): files in
  `<aws dir>/secrets/`, encrypted with gpg to the person's own PGP key, decrypted with their gpg
  (its agent and pinentry ask for the passphrase).

Which store holds a profile's secrets is written in its config section (`iamlayer_store =
keyring` or `gpg <fingerprint>`), so `iamlayer credential-process` finds them without the spec.
`StoreCache` keeps MFA sessions and role credentials in the same store, with the interface of the
plaintext `SessionCache`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from iamlayer.errors import CredentialsError
from iamlayer.files import make_private_dir, remove_durably, write_private_file
from iamlayer.profiles.credentials import Credentials

#: the config key naming a profile's store
STORE_KEY = "iamlayer_store"
KEYRING = "keyring"
GPG = "gpg"
#: the store entry of a source profile's long-term access key
KEY_ENTRY = "access-key"


class SecretStore(Protocol):
    """Named secrets (text) that never touch disk in plaintext."""

    @property
    def label(self) -> str:
        """What the config file records to find this store again."""
        ...

    def get(self, name: str) -> str | None: ...

    def put(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> None: ...

    def names(self) -> list[str]: ...


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


class KeyringStore:
    """Secrets in the OS keyring. Keyrings cannot list entries, so an index entry names them."""

    _INDEX = "index"

    def __init__(self, service: str) -> None:
        self.service = service

    @property
    def label(self) -> str:
        return KEYRING

    def _call(self, what: str, fn: Any, *args: str) -> Any:
        import keyring.errors

        try:
            return fn(self.service, *args)
        except keyring.errors.PasswordDeleteError:
            return None
        except keyring.errors.KeyringError as exc:
            raise CredentialsError(
                f"the OS keyring refused {what}: {exc}; unlock it, or rerun with --plaintext"
            ) from exc

    def get(self, name: str) -> str | None:
        import keyring

        value = self._call(f"to read {name}", keyring.get_password, name)
        return str(value) if value is not None else None

    def put(self, name: str, value: str) -> None:
        import keyring

        self._call(f"to store {name}", keyring.set_password, name, value)
        if name != self._INDEX and name not in self.names():
            self._call(
                "to store its index", keyring.set_password, self._INDEX, json.dumps([*self.names(), name])
            )

    def delete(self, name: str) -> None:
        import keyring

        self._call(f"to delete {name}", keyring.delete_password, name)
        left = [n for n in self.names() if n != name]
        self._call("to store its index", keyring.set_password, self._INDEX, json.dumps(left))

    def names(self) -> list[str]:
        raw = self.get(self._INDEX)
        try:
            names = json.loads(raw) if raw else []
        except ValueError:
            return []
        return [str(n) for n in names] if isinstance(names, list) else []


class GpgStore:
    """Secrets as `<folder>/<name>.asc`, encrypted with gpg to `fingerprint` (the person's key)."""

    def __init__(self, folder: Path, fingerprint: str, env: Mapping[str, str] | None = None) -> None:
        self.folder = folder
        self.fingerprint = fingerprint
        self.env = env

    @property
    def label(self) -> str:
        return f"{GPG} {self.fingerprint}"

    def _path(self, name: str) -> Path:
        return self.folder / f"{_slug(name)}.asc"

    def _gpg(self, what: str, args: list[str], data: bytes | None = None) -> bytes:
        from iamlayer.secrets.crypto import gpg_failure

        gpg = shutil.which("gpg")
        if gpg is None:
            raise CredentialsError(f"{what}: gpg is not installed; install GnuPG, or rerun with --plaintext")
        proc = subprocess.run(
            # No --quiet: gpg says why pinentry failed ("Inappropriate ioctl for device") only without it.
            [gpg, "--batch", *args],
            input=data,
            stdin=None if data is not None else subprocess.DEVNULL,
            capture_output=True,
            env=dict(os.environ if self.env is None else self.env),
            check=False,
        )
        if proc.returncode != 0:
            raise CredentialsError(gpg_failure(what, proc.stderr, proc.returncode))
        return proc.stdout

    def has_secret_key(self) -> bool:
        try:
            out = self._gpg(
                "listing your secret keys", ["--with-colons", "--list-secret-keys", self.fingerprint]
            )
        except CredentialsError:
            return False
        return b"sec:" in out

    def get(self, name: str) -> str | None:
        path = self._path(name)
        if not path.is_file():
            return None
        return self._gpg(f"gpg could not decrypt {path}", ["--decrypt", "--", str(path)]).decode("utf-8")

    def put(self, name: str, value: str) -> None:
        # --trust-model always: the key is the person's own, checked against the spec's copy when it
        # was chosen; an imported key that gpg was never told to trust must still work.
        armored = self._gpg(
            f"gpg could not encrypt to your key {self.fingerprint}",
            ["--armor", "--trust-model", "always", "--encrypt", "--recipient", self.fingerprint],
            value.encode("utf-8"),
        )
        make_private_dir(self.folder)
        write_private_file(self._path(name), armored)

    def delete(self, name: str) -> None:
        remove_durably(self._path(name))

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.asc")) if self.folder.is_dir() else []


def keyring_service(config: Path) -> str:
    """The keyring service of the profiles in `config`: one per folder iamlayer writes."""
    return f"iamlayer:{os.path.abspath(config.expanduser().parent)}"


def keyring_usable() -> bool:
    """True when the `keyring` library found a real keyring (not its fail or null backend)."""
    import keyring

    return bool(keyring.get_keyring().priority > 0)


def choose_store(config: Path, fingerprint: str | None) -> SecretStore:
    """The OS keyring when there is one, else gpg to `fingerprint` (the person's PGP key).

    Raises CredentialsError, saying what to do, when neither is usable.
    """
    if keyring_usable():
        return KeyringStore(keyring_service(config))
    if fingerprint is None:
        raise CredentialsError(
            "no OS keyring is usable here and you have no pgp_key in the spec to encrypt your access "
            "key with gpg instead; rerun with --plaintext to keep it in the 0600 credentials file"
        )
    store = GpgStore(config.parent / "secrets", fingerprint)
    if not store.has_secret_key():
        raise CredentialsError(
            f"no OS keyring is usable here, and gpg has no secret key {fingerprint} (your pgp_key) to "
            "keep your access key encrypted: import it (gpg --import YOUR-SECRET-KEY-FILE), or rerun "
            "with --plaintext to keep it in the 0600 credentials file"
        )
    return store


def store_from_label(config: Path, label: str) -> SecretStore:
    """The store a config section's `iamlayer_store` names."""
    kind, _, rest = label.strip().partition(" ")
    if kind == KEYRING:
        return KeyringStore(keyring_service(config))
    if kind == GPG and rest.strip():
        return GpgStore(config.parent / "secrets", rest.strip())
    raise CredentialsError(
        f"{config}: {STORE_KEY} = {label!r} is neither `keyring` nor `gpg <fingerprint>`; "
        "run `iamlayer credentials configure` again"
    )


def key_entry(source_profile: str) -> str:
    return f"{KEY_ENTRY}--{source_profile}"


def put_access_key(store: SecretStore, source_profile: str, key: Credentials) -> None:
    store.put(key_entry(source_profile), json.dumps(key.to_json()))


def get_access_key(store: SecretStore, source_profile: str) -> Credentials | None:
    raw = store.get(key_entry(source_profile))
    if raw is None:
        return None
    try:
        return Credentials.from_json(json.loads(raw))
    except (ValueError, KeyError, TypeError):
        return None


@dataclass
class StoreCache:
    """MFA sessions and role credentials in a SecretStore (the interface of `SessionCache`)."""

    store: SecretStore

    def _name(self, kind: str, key: str) -> str:
        return f"{kind}--{_slug(key)}"

    def load(self, kind: str, key: str) -> tuple[Credentials, dict[str, Any]] | None:
        try:
            raw = self.store.get(self._name(kind, key))
            if raw is None:
                return None
            data = json.loads(raw)
            return Credentials.from_json(data["Credentials"]), dict(data.get("Meta", {}))
        except (ValueError, KeyError, TypeError):
            return None

    def save(self, kind: str, key: str, creds: Credentials, meta: Mapping[str, Any]) -> None:
        self.store.put(
            self._name(kind, key), json.dumps({"Credentials": creds.to_json(), "Meta": dict(meta)})
        )

    def drop(self, kind: str, key: str) -> None:
        self.store.delete(self._name(kind, key))

    def clear(self) -> int:
        """Forget every cached session and role credential (never the access key)."""
        gone = [n for n in self.store.names() if "--" in n and not n.startswith(KEY_ENTRY + "--")]
        for name in gone:
            self.store.delete(name)
        return len(gone)

"""The outbox: where encrypted onboarding secrets wait for the people they belong to.

Layout, one folder per person and account (folders 0700, files 0600)::

    <root>/<account>/<user>/password.asc                  the console password
    <root>/<account>/<user>/password.asc.pending          a password staged, not yet known to be live
    <root>/<account>/<user>/access-key-<KEYID>.asc        an access key's secret

Every file is an armored OpenPGP message whose `Comment:` headers carry its metadata (kind,
account, user, recipient fingerprint, access key ID, creation time). The ciphertext file is thus
its own record: writing it (temp file, fsync, rename, fsync folder) is the single atomic step, and
no separate index can disagree with the files after a crash. Nothing here ever holds plaintext.

Passwords are chosen by iamlayer, so the ciphertext is written *before* the AWS call that makes
the password live, as `.pending`; `commit` promotes it once the call succeeded and `discard`
drops it when the call failed. After a crash, `pending_passwords` lists what is left and
`resolve_pending` settles each one once the caller has checked AWS (apply does, never a plan). Access key secrets are made by
AWS, so they can only be written after CreateAccessKey returns, at once.

With a shared backend (iamlayer.state.backend), every file written or removed here is then
written or removed in the backend's copy (`mirror`): this folder stays the working copy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from iamlayer.errors import IamlayerError
from iamlayer.files import make_private_dir, remove_durably, rename_durably, write_private_file
from iamlayer.secrets.crypto import armor_comments, armor_message, encrypt_armored
from iamlayer.secrets.keys import PublicKey
from iamlayer.secrets.names import PASSWORD_FILE, PENDING_SUFFIX, SecretKind
from iamlayer.state.backend import CiphertextStore

_ACCESS_KEY_FILE = re.compile(r"^access-key-([A-Z0-9]{16,128})\.asc$")
_ACCESS_KEY_ID = re.compile(r"^[A-Z0-9]{16,128}$")
_META_PREFIX = "iamlayer-"


@dataclass(frozen=True)
class SecretRecord:
    """One stored ciphertext: whose it is, what it holds, and to which key it was encrypted."""

    account: str
    user: str
    kind: SecretKind
    path: Path
    fingerprint: str  # recipient's primary key fingerprint; "" if the file does not say
    created_at: str  # ISO 8601, UTC
    access_key_id: str | None = None  # for kind == "access_key"


@dataclass(frozen=True)
class PendingSecret:
    """A password encrypted and on disk as `.pending`, not yet known to be live in AWS."""

    account: str
    user: str
    path: Path  # the .pending file
    fingerprint: str
    created_at: str

    @property
    def final_path(self) -> Path:
        return self.path.with_name(PASSWORD_FILE)


#: what `stage_password` hands back; the same thing a crash leaves behind.
StagedSecret = PendingSecret


class Outbox:
    """The encrypted secrets under `root` (the spec's outputs folder)."""

    def __init__(self, root: Path, mirror: CiphertextStore | None = None) -> None:
        self.root = root
        #: the backend's copy (iamlayer.state.backend), told of every file written and removed here
        self.mirror = mirror

    def user_dir(self, account: str, user: str) -> Path:
        """The folder holding `user`'s secrets for `account` (it may not exist yet)."""
        return self.root / _component(account, "account") / _component(user, "user")

    # -- passwords --------------------------------------------------------------------------

    def stage_password(self, account: str, user: str, key: PublicKey, password: str) -> StagedSecret:
        """Encrypt `password` to `key` and write it as `password.asc.pending`, durably.

        Call before the AWS call that sets the password. Refuses (IamlayerError) while an earlier
        pending password of this user is unresolved: it may be the live one.
        """
        folder = self.user_dir(account, user)
        pending = folder / (PASSWORD_FILE + PENDING_SUFFIX)
        if pending.exists():
            raise IamlayerError(
                f"An earlier password for {user} in {account} is still pending ({pending}), left by an "
                "interrupted apply; resolve it before setting a new one"
            )
        created = _now()
        meta = {
            "kind": "password",
            "account": account,
            "user": user,
            "recipient": key.fingerprint,
            "created": created,
        }
        self._write(
            pending, key, password, f"iamlayer console password for {user} in account {account}", meta
        )
        return PendingSecret(account, user, pending, key.fingerprint, created)

    def commit(self, staged: StagedSecret) -> Path:
        """The AWS call succeeded: promote the pending password to `password.asc` (atomic rename).

        Committing twice is harmless. Raises IamlayerError if the pending file has vanished and
        was not committed before.
        """
        final = staged.final_path
        if not staged.path.exists():
            done = self._read_meta(final) if final.exists() else {}
            if done.get("created") == staged.created_at:
                return final
            raise IamlayerError(f"The staged password {staged.path} has vanished; it was never committed")
        rename_durably(staged.path, final)
        self._copied(final)
        self._uncopied(staged.path)
        return final

    def discard(self, staged: StagedSecret) -> None:
        """The AWS call failed for good: delete the pending password (a missing file is fine)."""
        self._remove(staged.path)

    def pending_passwords(self) -> list[PendingSecret]:
        """Passwords staged but neither committed nor discarded: leftovers of an interrupted apply.

        Apply workers commit their own staged passwords meanwhile: a file gone between the listing
        and the reading was settled, and is not listed.
        """
        found: list[PendingSecret] = []
        for path in sorted(self.root.glob(f"*/*/{PASSWORD_FILE}{PENDING_SUFFIX}")):
            pending = self._pending_at(path, path.parent.parent.name, path.parent.name)
            if pending is not None:
                found.append(pending)
        return found

    def pending_password(self, account: str, user: str) -> PendingSecret | None:
        """`user`'s staged password in `account`, if one is left: one file read, whatever the
        number of users (a create of each login profile asks this)."""
        path = self.user_dir(account, user) / (PASSWORD_FILE + PENDING_SUFFIX)
        return self._pending_at(path, account, user)

    def _pending_at(self, path: Path, account: str, user: str) -> PendingSecret | None:
        try:
            created = _mtime(path)
        except FileNotFoundError:
            return None
        meta = self._read_meta(path)
        return PendingSecret(
            account=account,
            user=user,
            path=path,
            fingerprint=meta.get("recipient", ""),
            created_at=meta.get("created") or created,
        )

    def resolve_pending(self, pending: PendingSecret, *, live: bool) -> None:
        """Settle a leftover: `live` (AWS has this password) promotes it, otherwise it is deleted."""
        if live:
            self.commit(pending)
        else:
            self.discard(pending)

    # -- access keys ------------------------------------------------------------------------

    def store_access_key(
        self, account: str, user: str, key: PublicKey, access_key_id: str, secret: str
    ) -> Path:
        """Encrypt an access key's secret to `key` and write `access-key-<ID>.asc` atomically.

        The plaintext is the secret access key alone; its ID is in the file name and headers.
        """
        if not _ACCESS_KEY_ID.match(access_key_id):
            raise ValueError(f"not an access key ID: {access_key_id!r}")
        path = self.user_dir(account, user) / f"access-key-{access_key_id}.asc"
        meta = {
            "kind": "access_key",
            "account": account,
            "user": user,
            "recipient": key.fingerprint,
            "access-key-id": access_key_id,
            "created": _now(),
        }
        self._write(
            path, key, secret, f"iamlayer access key {access_key_id} for {user} in account {account}", meta
        )
        return path

    # -- secrets encrypted elsewhere ---------------------------------------------------------

    def store_ciphertext(
        self,
        account: str,
        user: str,
        kind: SecretKind,
        message: bytes,
        *,
        fingerprint: str,
        access_key_id: str | None = None,
        created: str = "",
        origin: str = "",
    ) -> Path:
        """Keep a secret that was encrypted elsewhere (by Terraform) as this outbox's own file.

        `message` is the binary OpenPGP message, armored here with the same headers iamlayer's
        own files carry, so `outputs`, `decrypt`, `onboard` and plain `gpg --decrypt` read it as
        one of iamlayer's. It is never decrypted.
        """
        if kind == "access_key":
            if not access_key_id or not _ACCESS_KEY_ID.match(access_key_id):
                raise ValueError(f"not an access key ID: {access_key_id!r}")
            path = self.user_dir(account, user) / f"access-key-{access_key_id}.asc"
            title = f"iamlayer access key {access_key_id} for {user} in account {account}"
        else:
            path = self.user_dir(account, user) / PASSWORD_FILE
            title = f"iamlayer console password for {user} in account {account}"
        meta = {"kind": kind, "account": account, "user": user, "recipient": fingerprint}
        if access_key_id:
            meta["access-key-id"] = access_key_id
        meta["created"] = created or _now()
        if origin:
            meta["imported-from"] = origin
        self._store(path, armor_message(message, self._comments(title, meta)))
        return path

    def forget_access_key(self, account: str, user: str, access_key_id: str) -> None:
        """The key was deleted in AWS: remove its ciphertext. Forgetting an unknown key is fine."""
        if not _ACCESS_KEY_ID.match(access_key_id):
            raise ValueError(f"not an access key ID: {access_key_id!r}")
        self._remove(self.user_dir(account, user) / f"access-key-{access_key_id}.asc")

    def forget_password(self, account: str, user: str) -> None:
        """The login profile is being deleted in AWS: remove its ciphertext, and a staged one (a
        missing file is fine). Called before the delete: see `apply.credentials.delete_login_profile`."""
        self._remove(self.user_dir(account, user) / PASSWORD_FILE)
        self._remove(self.user_dir(account, user) / (PASSWORD_FILE + PENDING_SUFFIX))

    def forget_user(self, account: str, user: str) -> None:
        """The user's credentials are gone from AWS (the user is about to go, or went): remove every
        ciphertext of theirs, then their folder. Called before DeleteUser: see `apply.handlers.delete_user`."""
        folder = self.user_dir(account, user)
        for path in sorted(folder.glob("*.asc*")) if folder.is_dir() else ():
            self._remove(path)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()

    # -- reading ----------------------------------------------------------------------------

    def records(self, account: str | None = None, user: str | None = None) -> list[SecretRecord]:
        """Every committed secret in the outbox (of one account and user when given), sorted by
        account, user and file name. A file that goes while it is read (apply deletes a password
        in one thread while another looks up a user's keys) is skipped: it is no longer held."""
        pattern = f"{_component(account, 'account') if account else '*'}/{_component(user, 'user') if user else '*'}/*.asc"
        out: list[SecretRecord] = []
        for path in sorted(self.root.glob(pattern)):
            if path.name == PASSWORD_FILE:
                kind: SecretKind = "password"
                key_id = None
            elif m := _ACCESS_KEY_FILE.match(path.name):
                kind, key_id = "access_key", m.group(1)
            else:
                continue
            try:
                modified = _mtime(path)
            except FileNotFoundError:
                continue
            meta = self._read_meta(path)
            out.append(
                SecretRecord(
                    account=path.parent.parent.name,
                    user=path.parent.name,
                    kind=kind,
                    path=path,
                    fingerprint=meta.get("recipient", ""),
                    created_at=meta.get("created") or modified,
                    access_key_id=key_id,
                )
            )
        return out

    def access_key_ids(self, account: str, user: str) -> set[str]:
        """The ids of `user`'s access keys in `account` whose secret the outbox holds."""
        return {r.access_key_id for r in self.records(account, user) if r.access_key_id}

    def record_for(
        self, account: str, user: str, kind: SecretKind, access_key_id: str | None = None
    ) -> SecretRecord | None:
        """The stored secret of that kind (and access key ID) for `user` in `account`, if any."""
        for r in self.records(account, user):
            if r.kind == kind and (access_key_id is None or r.access_key_id == access_key_id):
                return r
        return None

    # -- internals --------------------------------------------------------------------------

    def _write(self, path: Path, key: PublicKey, secret: str, title: str, meta: dict[str, str]) -> None:
        self._store(path, encrypt_armored(key, secret, comments=self._comments(title, meta)))

    @staticmethod
    def _comments(title: str, meta: dict[str, str]) -> list[str]:
        return [title, *(f"{_META_PREFIX}{k}: {v}" for k, v in meta.items())]

    def _store(self, path: Path, armored: str) -> None:
        make_private_dir(self.root)
        make_private_dir(path.parent)
        write_private_file(path, armored.encode("ascii"))
        self._copied(path)

    def _copied(self, path: Path) -> None:
        """Give the backend a copy of the file just written here (the local file comes first)."""
        if self.mirror is not None:
            self.mirror.put(path.relative_to(self.root).as_posix(), path.read_bytes())

    def _remove(self, path: Path) -> None:
        """Delete a file here, and the backend's copy of it (a missing file is fine)."""
        existed = path.exists()
        remove_durably(path)
        if existed:
            self._uncopied(path)

    def _uncopied(self, path: Path) -> None:
        if self.mirror is not None:
            self.mirror.delete(path.relative_to(self.root).as_posix())

    @staticmethod
    def _read_meta(path: Path) -> dict[str, str]:
        try:
            text = path.read_text("ascii", errors="replace")
        except FileNotFoundError:
            return {}
        meta: dict[str, str] = {}
        for c in armor_comments(text):
            if c.startswith(_META_PREFIX):
                name, _, value = c[len(_META_PREFIX) :].partition(": ")
                meta[name] = value
        return meta


def _component(name: str, what: str) -> str:
    """`name` as one path component; refuses anything that could escape the outbox or break headers."""
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or not name.isprintable()
        or " " in name
    ):
        raise ValueError(f"invalid {what} name for the outbox: {name!r}")
    return name


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _mtime(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")

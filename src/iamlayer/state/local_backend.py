"""The local backend, the default: iamlayer's state in the folder `.iamlayer/` beside the spec.

Locks: `.iamlayer/locks/<account>.lock` is held with flock(2) for as long as a command writes to
that account (apply, password reset, access-key rotate and retire). Two such commands at once would
race: both create the same key or password, each thinking the other's work is drift, and the
journal and outbox would be written by both. A refused command says who holds the lock and exits
(or waits, with a timeout).

The kernel releases an flock when its holder exits, however it exits (SIGKILL included), so a dead
process on this machine never leaves a lock behind, and there is nothing to break. The file also
says who holds it (JSON: id, pid, host, user, command, since), for the refusal message and `iamlayer
lock list`; it is left in place, empty, when released.

The state folder is private (0700, files 0600) to the Unix user who first ran iamlayer in the
layer folder: it holds the journal too. Another user of a shared folder cannot open the lock; that
is refused as a LockedError naming the file, its owner and what to do, not a PermissionError.

The journal is the file `.iamlayer/journal-<project>.json` (iamlayer.state.journal). Ciphertexts
live in outputs/ only, and no record of the last apply is kept: one person's layer works as it
always did.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import pwd
import socket
import stat
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iamlayer.errors import IamlayerError, LockedError
from iamlayer.files import make_private_dir
from iamlayer.spec.model import Spec
from iamlayer.state.backend import CiphertextStore, JournalStore, LastApply, LockInfo, SyncResult
from iamlayer.state.records import JOURNAL_DIR

LOCKS_DIR = "locks"
#: how often a waiting command tries a held lock again
POLL_SECONDS = 0.2


def lock_path(spec: Spec, account: str) -> Path:
    return spec.root / JOURNAL_DIR / LOCKS_DIR / f"{account}.lock"


@dataclass(frozen=True)
class LocalHeld:
    info: LockInfo
    fd: int

    def lost_reason(self) -> str | None:
        return None  # an flock lasts as long as its process: it cannot be lost while we run


class LocalBackend:
    """The folder `.iamlayer/` beside the spec (see the module docstring)."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.key = str(spec.root / JOURNAL_DIR / LOCKS_DIR)

    def describe(self) -> str:
        return f"the local folder {self.spec.root / JOURNAL_DIR}"

    # -- locks ------------------------------------------------------------------------------

    def acquire(self, account: str, command: str, timeout: float, warn: Callable[[str], None]) -> LocalHeld:
        path = lock_path(self.spec, account)
        try:
            make_private_dir(path.parent)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except PermissionError as exc:
            raise LockedError(_not_permitted(path, account, exc)) from None
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read(fd)
                    os.close(fd)
                    raise LockedError(_refusal(path, account, holder, timeout)) from None
                time.sleep(POLL_SECONDS)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        info = LockInfo(
            account=account,
            id=uuid.uuid4().hex[:12],
            caller=self.caller(),
            host=socket.gethostname(),
            pid=os.getpid(),
            command=command,
            since=now,
        )
        holder_info = {
            "id": info.id,
            "pid": info.pid,
            "host": info.host,
            "user": getpass.getuser(),
            "command": command,
            "since": now,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder_info) + "\n").encode(), 0)
        os.fsync(fd)
        return LocalHeld(info, fd)

    def release(self, held: Any) -> str | None:
        assert isinstance(held, LocalHeld)
        try:
            os.ftruncate(held.fd, 0)  # nobody holds it now
            fcntl.flock(held.fd, fcntl.LOCK_UN)
        finally:
            os.close(held.fd)
        return None

    def locks(self) -> list[LockInfo]:
        folder = self.spec.root / JOURNAL_DIR / LOCKS_DIR
        out: list[LockInfo] = []
        for path in sorted(folder.glob("*.lock")) if folder.is_dir() else ():
            holder = _holder(path)
            if holder is not None:
                out.append(_info(path.stem, holder))
        return out

    def break_lock(self, account: str, lock_id: str) -> LockInfo:
        path = lock_path(self.spec, account)
        holder = _holder(path) if path.exists() else None
        if holder is None:
            raise IamlayerError(f"account {account} is not locked ({path})")
        info = _info(account, holder)
        raise IamlayerError(
            f"account {account} is locked by {info.describe()}. A local lock is held by a live process "
            f"and ends with it, however it ends: there is nothing to break. Stop it (kill {info.pid} on "
            f"{info.host}) if it is stuck"
        )

    # -- journal, ciphertexts, last apply ----------------------------------------------------

    def journal(self) -> JournalStore:
        from iamlayer.state.journal import LocalJournalStore

        return LocalJournalStore(self.spec.root / JOURNAL_DIR / f"journal-{self.spec.project}.json")

    def ciphertexts(self) -> CiphertextStore | None:
        return None

    def sync_outputs(self, root: Any, *, push: bool) -> SyncResult:
        return SyncResult()

    def last_apply(self) -> LastApply | None:
        return None

    def record_apply(self, update: Callable[[LastApply | None], LastApply]) -> LastApply:
        return update(None)  # kept nowhere: one person's checkout is never behind itself

    def caller(self) -> str:
        return f"{getpass.getuser()}@{socket.gethostname()}"


def _holder(path: Path) -> dict[str, object] | None:
    """Who holds the lock file at `path` now, or None when nobody does."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _info(account: str, holder: dict[str, object]) -> LockInfo:
    pid = holder.get("pid")
    return LockInfo(
        account=account,
        id=str(holder.get("id", "")),
        caller=f"{holder.get('user')}@{holder.get('host')}",
        host=str(holder.get("host", "")),
        pid=pid if isinstance(pid, int) else 0,
        command=str(holder.get("command", "")),
        since=str(holder.get("since", "")),
    )


def _read(fd: int) -> dict[str, object]:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)  # no passwd entry: the number, which chown accepts too


def _not_permitted(path: Path, account: str, exc: PermissionError) -> str:
    """Why another Unix user cannot take the lock, whose the state folder is, and what to do."""
    state_dir = path.parent.parent  # <layer>/.iamlayer
    me = _user_name(os.geteuid())
    owner = None
    where = ""
    # The deepest of the lock file and its folders that this user can see says whose they are.
    for p in (path, path.parent, state_dir):
        try:
            st = p.stat()
        except OSError:
            continue
        if st.st_uid != os.geteuid():
            owner = _user_name(st.st_uid)
            where = f"; {p} belongs to user {owner} (mode {stat.S_IMODE(st.st_mode):04o})"
        break
    them = f"user {owner}" if owner else "the user who owns it"
    text = (
        f"cannot take the lock of account {account}: {path}: {exc.strerror or 'permission denied'} "
        f"for user {me}{where}. iamlayer's state folder {state_dir} (locks, journal) is private to the "
        "Unix user who first ran iamlayer in this layer folder, so two users cannot share it. Run "
        f"iamlayer here as {them}, or give each person a clone of the layer of their own"
    )
    if owner:
        text += f"; if {owner} no longer works in this folder, take it over: sudo chown -R {me} {state_dir}"
    return text


def _refusal(path: Path, account: str, holder: dict[str, object], waited: float) -> str:
    waited_text = f" (waited {waited:g} s)" if waited else ""
    if not holder:
        return (
            f"account {account} is locked by another iamlayer process that is just starting ({path}){waited_text}; "
            "wait for it to finish, then run the command again"
        )
    pid, host = holder.get("pid"), holder.get("host")
    text = (
        f"account {account} is locked{waited_text}: `{holder.get('command')}` is writing to it (pid {pid} on host "
        f"{host}, user {holder.get('user')}, since {holder.get('since')}). Wait for it to finish, then "
        f"run the command again (or wait for it: --lock-timeout 5m). The lock is released when that "
        f"process exits, even if it is killed: if it is stuck, stop it (kill {pid} on {host})."
    )
    if host != socket.gethostname():
        text += f" If host {host} is gone and the layer folder is shared with it, remove {path}."
    return text

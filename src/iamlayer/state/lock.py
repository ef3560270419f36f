"""One iamlayer writing to an account at a time: a lock file per account, in the layer folder.

`.iamlayer/locks/<account>.lock` is held with flock(2) for as long as a command writes to that
account (apply, password reset, access-key rotate and retire). Two such commands at once would
race: both create the same key or password, each thinking the other's work is drift, and the
journal and outbox would be written by both. A command takes the lock of every account it writes
to, in sorted order (so two commands never wait on each other crosswise), all or nothing, without
waiting: a refused command says who holds the lock and exits.

The kernel releases an flock when its holder exits, however it exits (SIGKILL included), so a dead
process on this machine never leaves a lock behind. The file also says who holds it (JSON: pid,
host, user, command, since), for the refusal message; it is left in place, empty, when released.
Within one process the locks are re-entrant: `apply` takes them before planning, and the library's
`apply_plan` takes them again.

The state folder is private (0700, files 0600) to the Unix user who first ran iamlayer in the
layer folder: it holds the journal too. Another user of a shared folder cannot open the lock; that
is refused as a LockedError naming the file, its owner and what to do, not a PermissionError.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import pwd
import socket
import stat
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from iamlayer.errors import LockedError
from iamlayer.files import make_private_dir
from iamlayer.spec.model import Spec
from iamlayer.state.records import JOURNAL_DIR

LOCKS_DIR = "locks"

_registry = threading.Lock()
_held: dict[Path, tuple[int, int]] = {}  # lock file -> (open descriptor, times taken in this process)


def lock_path(spec: Spec, account: str) -> Path:
    return spec.root / JOURNAL_DIR / LOCKS_DIR / f"{account}.lock"


@contextmanager
def account_locks(spec: Spec, accounts: Iterable[str], command: str) -> Iterator[None]:
    """Hold the lock of each of `accounts` (sorted, all or nothing) while the block runs.

    Raises LockedError, naming the holder and how to clear a stale lock, when one is held by
    another process. `command` is what this process is, as shown to whoever is refused.
    """
    taken: list[Path] = []
    try:
        for account in sorted(set(accounts)):
            path = lock_path(spec, account)
            _acquire(path, account, command)
            taken.append(path)
        yield
    finally:
        for path in reversed(taken):
            _release(path)


def _acquire(path: Path, account: str, command: str) -> None:
    with _registry:
        if path in _held:
            fd, count = _held[path]
            _held[path] = (fd, count + 1)
            return
        try:
            make_private_dir(path.parent)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except PermissionError as exc:
            raise LockedError(_not_permitted(path, account, exc)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise LockedError(_refusal(path, account, holder)) from None
        holder_info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "user": getpass.getuser(),
            "command": command,
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder_info) + "\n").encode(), 0)
        os.fsync(fd)
        _held[path] = (fd, 1)


def _release(path: Path) -> None:
    with _registry:
        fd, count = _held[path]
        if count > 1:
            _held[path] = (fd, count - 1)
            return
        del _held[path]
        try:
            os.ftruncate(fd, 0)  # nobody holds it now
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


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


def _refusal(path: Path, account: str, holder: dict[str, object]) -> str:
    if not holder:
        return (
            f"account {account} is locked by another iamlayer process that is just starting ({path}); "
            "wait for it to finish, then run the command again"
        )
    pid, host = holder.get("pid"), holder.get("host")
    text = (
        f"account {account} is locked: `{holder.get('command')}` is writing to it (pid {pid} on host "
        f"{host}, user {holder.get('user')}, since {holder.get('since')}). Wait for it to finish, then "
        f"run the command again. The lock is released when that process exits, even if it is killed: "
        f"if it is stuck, stop it (kill {pid} on {host})."
    )
    if host != socket.gethostname():
        text += f" If host {host} is gone and the layer folder is shared with it, remove {path}."
    return text

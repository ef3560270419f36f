"""One iamlayer writing to an account at a time: the lock of each account, in the layer's backend.

A command takes the lock of every account it writes to, in sorted order (so two commands never
wait on each other crosswise), all or nothing. A lock held by someone else is refused at once,
naming the holder (or waited for, up to `timeout` seconds: `--lock-timeout 5m`). Where the lock
lives is the backend's business (iamlayer.state.backend): an flock on a file of the local folder,
or an object in the team's S3 bucket that its holder keeps renewing.

Within one process the locks are re-entrant: `apply` takes them before planning, and the library's
`apply_plan` takes them again. When a command first takes its locks of a shared backend, the local
outputs/ folder is brought up to date from the backend's copy of the ciphertexts, so that it plans
and writes knowing every secret another operator issued.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from iamlayer.errors import LockedError
from iamlayer.spec.model import Spec
from iamlayer.state.backend import Backend, Held
from iamlayer.state.local_backend import lock_path
from iamlayer.state.outputs import outputs_root

__all__ = ["account_locks", "lock_fence", "lock_path"]

_log = logging.getLogger("iamlayer")

_registry = threading.Lock()
#: (backend key, account) -> (what the backend gave, times taken in this process)
_held: dict[tuple[str, str], tuple[Held, int]] = {}


@contextmanager
def account_locks(
    spec: Spec,
    accounts: Iterable[str],
    command: str,
    *,
    credentials: Any = None,
    timeout: float = 0.0,
    warn: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the lock of each of `accounts` (sorted, all or nothing) while the block runs.

    Raises LockedError naming the holder when one is held by another process (after waiting up to
    `timeout` s). `command` is what this process is, as shown to whoever is refused. `credentials`
    reach a shared backend (see iamlayer.state.backends); `warn` hears of a stale lock taken over.
    A lock lost while the block ran (broken, or taken over after this process stalled past its
    lease) is reported as LockedError once the block is done.
    """
    from iamlayer.state.backends import open_backend

    backend = open_backend(spec, credentials)
    say = warn or _log.warning
    taken: list[str] = []
    problems: list[str] = []
    try:
        fresh = False
        for account in sorted(set(accounts)):
            fresh |= _take(backend, account, command, timeout, say)
            taken.append(account)
        if fresh and backend.ciphertexts() is not None:
            backend.sync_outputs(outputs_root(spec), push=True)
        yield
    finally:
        for account in reversed(taken):
            problem = _give(backend, account)
            if problem:
                problems.append(problem)
    if problems:
        raise LockedError("; ".join(problems))


def lock_fence(spec: Spec, credentials: Any = None) -> Callable[[str], str | None]:
    """The check a writer makes before each write to an account: None while this process holds
    the account's lock, else why it may not write (never taken, taken over, broken, or not renewed
    for most of its lease). Apply asks it before every change, so a holder that lost its lock
    mid-apply stops writing instead of learning of it only at release."""
    from iamlayer.state.backends import open_backend

    backend_key = open_backend(spec, credentials).key

    def fence(account: str) -> str | None:
        with _registry:
            entry = _held.get((backend_key, account))
        if entry is None:
            return f"this command does not hold the lock of account {account}"
        return entry[0].lost_reason()

    return fence


def _take(backend: Backend, account: str, command: str, timeout: float, warn: Callable[[str], None]) -> bool:
    """Take (or take again) `account`'s lock; True when this process did not hold it yet."""
    key = (backend.key, account)
    with _registry:  # held while taking: two threads of one process share one holding
        if key in _held:
            held, count = _held[key]
            _held[key] = (held, count + 1)
            return False
        _held[key] = (backend.acquire(account, command, timeout, warn), 1)
    return True


def _give(backend: Backend, account: str) -> str | None:
    key = (backend.key, account)
    with _registry:
        held, count = _held[key]
        if count > 1:
            _held[key] = (held, count - 1)
            return None
        del _held[key]
    return backend.release(held)

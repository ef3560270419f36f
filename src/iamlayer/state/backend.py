"""Where iamlayer keeps its safety state: one small interface, two places (Terraform's backends).

    Backend
    ├── LocalBackend   (iamlayer.state.local_backend) the folder .iamlayer/ beside the spec: flock(2)
    │                  locks, the journal file; ciphertexts only in outputs/. The default.
    └── S3Backend      (iamlayer.aws.s3_backend) `backend: {s3: ...}`: a bucket shared by a team

What a backend holds:

- the lock of each account, taken by whoever writes to it (apply, password reset, access-key
  rotate and retire), refused at once to anyone else, naming the holder (`LockInfo`);
- the journal of creations in flight (iamlayer.state.journal), one record per account;
- the record of the last apply (`LastApply`): which spec and git commit, who, when, and the users
  it created, so that a plan from a checkout behind it is flagged and its apply refused;
- a copy of every ciphertext (`CiphertextStore`): the local outputs/ folder stays the working
  copy, written first; the backend's copy is what another operator's clone is brought up to date
  from, and what `iamlayer outputs sync` fetches for a new person.

This module is the interface and its values only: no file, network or AWS access.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

#: what a journal record of one account holds: entry ("groups", "access_keys"...) -> name -> details
AccountJournal = dict[str, dict[str, dict[str, Any]]]


@dataclass(frozen=True)
class LockInfo:
    """Who holds (or held) an account's lock, as the lock itself says."""

    account: str
    id: str  # this holding's id: `iamlayer lock break ACCOUNT --id ID` names it
    caller: str  # the holder's AWS identity (ARN), or user@host for a local lock
    host: str
    pid: int
    command: str
    since: str  # ISO 8601, UTC
    heartbeat: str = ""  # the holder's last renewal (ISO 8601, UTC); "" for a local lock
    age: float | None = None  # seconds since the last renewal, by the backend's clock
    stale: bool = False  # not renewed for longer than the lease: its holder is gone

    def describe(self) -> str:
        """The holder in one phrase, for refusals and warnings."""
        text = f"`{self.command}` (lock id {self.id}) by {self.caller}, pid {self.pid} on host {self.host}, since {self.since}"
        if self.heartbeat:
            text += f", last heartbeat {self.heartbeat}"
            if self.age is not None:
                text += f" ({self.age:.0f} s ago)"
        return text


class Held(Protocol):
    """A lock this process holds, as the backend that gave it knows it."""

    @property
    def info(self) -> LockInfo: ...

    def lost_reason(self) -> str | None:
        """Why this process may no longer write under the lock (it was taken over or broken, or
        it could not be renewed for most of its lease), or None while it is safely held."""
        ...


@dataclass(frozen=True)
class CreatedUser:
    """A user an apply created: deleting it soon after, from another checkout, is flagged."""

    account: str
    user: str
    by: str
    at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class LastApply:
    """The record of the last apply: the spec it applied, from which git commit, who and when."""

    digest: str  # sha256 of the spec file
    commit: str | None  # HEAD of the layer's git checkout; None when the layer is not in git
    by: str  # caller ARN
    host: str
    at: str  # ISO 8601, UTC
    accounts: tuple[str, ...] = ()
    #: users created by the applies of the last 24 hours (this one's and the earlier ones')
    created: tuple[CreatedUser, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "commit": self.commit,
            "by": self.by,
            "host": self.host,
            "at": self.at,
            "accounts": list(self.accounts),
            "created": [{"account": c.account, "user": c.user, "by": c.by, "at": c.at} for c in self.created],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LastApply:
        return cls(
            digest=str(data.get("digest", "")),
            commit=data.get("commit") or None,
            by=str(data.get("by", "")),
            host=str(data.get("host", "")),
            at=str(data.get("at", "")),
            accounts=tuple(data.get("accounts", ())),
            created=tuple(
                CreatedUser(str(c["account"]), str(c["user"]), str(c.get("by", "")), str(c.get("at", "")))
                for c in data.get("created", ())
                if isinstance(c, dict) and "account" in c and "user" in c
            ),
        )

    def describe(self) -> str:
        commit = f"commit {self.commit[:12]}" if self.commit else "a layer folder outside git"
        return f"{self.by} applied spec {self.digest[:12]} from {commit} on host {self.host} at {self.at}"


class JournalStore(Protocol):
    """The journal's records, one per account (iamlayer.state.journal reads and writes them)."""

    def read(self, account: str) -> AccountJournal: ...

    def write(self, account: str, data: AccountJournal) -> None: ...


class CiphertextStore(Protocol):
    """The backend's copy of the outbox: files named by their path under outputs/ (`acc/user/f.asc`)."""

    def put(self, name: str, data: bytes) -> None: ...

    def delete(self, name: str) -> None: ...


@dataclass(frozen=True)
class SyncResult:
    """What bringing the local outputs/ folder and the backend's copy together did, by file name."""

    fetched: tuple[str, ...] = ()  # new or changed in the backend: written locally
    removed: tuple[str, ...] = ()  # deleted from the backend since last seen here: removed locally
    pushed: tuple[str, ...] = ()  # only here (written before the backend had it): copied there


class Backend(Protocol):
    """The interface every backend implements. Locks are taken through iamlayer.state.lock, which
    adds re-entrancy within a process and the all-or-nothing order over accounts."""

    #: identifies the backend's lock namespace within this process (re-entrant locks)
    key: str

    def describe(self) -> str: ...

    def acquire(self, account: str, command: str, timeout: float, warn: Callable[[str], None]) -> Held:
        """Take `account`'s lock, waiting up to `timeout` s; LockedError naming the holder if not.
        `warn` is told when a stale lock was taken over (naming its dead holder)."""
        ...

    def release(self, held: Held) -> str | None:
        """Give the lock up; what went wrong with it meanwhile (it was lost), if anything."""
        ...

    def locks(self) -> list[LockInfo]:
        """Every lock held now (a stale one included)."""
        ...

    def break_lock(self, account: str, lock_id: str) -> LockInfo:
        """Remove `account`'s lock if (and only if) it is still the holding `lock_id`."""
        ...

    def journal(self) -> JournalStore: ...

    def ciphertexts(self) -> CiphertextStore | None:
        """Where ciphertexts are copied after each local write; None: outputs/ is the only copy."""
        ...

    def sync_outputs(self, root: Any, *, push: bool) -> SyncResult:
        """Bring the outputs folder `root` (a Path) up to date from the backend's copy; with `push`,
        also copy there what only the folder has."""
        ...

    def last_apply(self) -> LastApply | None: ...

    def record_apply(self, update: Callable[[LastApply | None], LastApply]) -> LastApply:
        """Replace the last-apply record by `update(current)`, without losing a concurrent update."""
        ...

    def caller(self) -> str:
        """Who this process acts as: an AWS ARN, or user@host."""
        ...

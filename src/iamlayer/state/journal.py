"""A small local record of creations in flight, where one AWS call cannot finish the job.

- Groups: a user, role or policy is created with its ownership tag in one call, but a group
  cannot be tagged: it is created, then marked with an inline policy in a second call. An apply
  killed between the two would leave a group nobody owns. The group is journaled before
  CreateGroup and cleared once the marker is written; the planner treats a journaled, unmarked
  group as ours.
- Access keys: AWS makes the secret, so its ciphertext can only be written after CreateAccessKey
  answers. The user is journaled before the call, with the ids of the keys they had then and
  the time of the attempt, and cleared once the ciphertext is on disk (or once AWS surely
  refused the call). While a user is journaled, a key with no ciphertext that is not one of
  those ids and was made around the attempt is iamlayer's and unreadable: it is replaced. Any
  other key without a ciphertext is someone's (or its file was removed) and only noted.
- Provisioning: a changed IAM Identity Center permission set reaches the accounts it is assigned
  in only when it is provisioned there again. Each "<permission set>@<account id>" is journaled
  before the permission set is changed and cleared once provisioned there; a plan re-provisions
  what an interrupted apply left journaled (the change itself no longer shows in a diff).

The journal lives in the layer's backend (iamlayer.state.backend): the file
`.iamlayer/journal-<project>.json` by default, one record per account in a shared S3 backend, so
that another operator's plan sees a creation this one left unfinished. What it records
(KeyCreation, the entry names) are pure values in iamlayer.state.records.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iamlayer.files import write_atomic
from iamlayer.spec.model import Spec
from iamlayer.state.backend import AccountJournal, JournalStore
from iamlayer.state.records import (
    JOURNAL_DIR,
    KEY_CREATION_WINDOW,
    PROVISIONING_ENTRY,
    JournalEntry,
    KeyCreation,
)

__all__ = [
    "JOURNAL_DIR",
    "KEY_CREATION_WINDOW",
    "PROVISIONING_ENTRY",
    "Journal",
    "JournalEntry",
    "KeyCreation",
    "LocalJournalStore",
]

Details = dict[str, Any]


class LocalJournalStore:
    """The journal as one file of the local backend: entry -> account -> name -> details."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, dict[str, dict[str, Details]]]:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        out: dict[str, dict[str, dict[str, Details]]] = {}
        for entry, accounts in data.items():
            for account, names in accounts.items():
                # A list of names is the journal as written before entries carried details.
                items = {n: {} for n in names} if isinstance(names, list) else dict(names)
                out.setdefault(entry, {})[account] = items
        return out

    def read(self, account: str) -> AccountJournal:
        return {entry: accs[account] for entry, accs in self._load().items() if account in accs}

    def write(self, account: str, data: AccountJournal) -> None:
        whole = self._load()
        for accs in whole.values():
            accs.pop(account, None)
        for entry, names in data.items():
            whole.setdefault(entry, {})[account] = names
        clean = {entry: {acc: n for acc, n in accs.items() if n} for entry, accs in whole.items()}
        text = json.dumps({k: v for k, v in clean.items() if v}, indent=1, sort_keys=True)
        write_atomic(self.path, text.encode())


class Journal:
    """The journal of one layer, in its backend (iamlayer.state.backend): a file of the local
    folder, or one record per account in the team's bucket. Every account's record is written only
    by whoever holds that account's lock."""

    def __init__(self, store: JournalStore | Path) -> None:
        #: the local file, for the local backend (None: the journal is in a shared backend)
        self.path = store if isinstance(store, Path) else None
        self.store: JournalStore = LocalJournalStore(store) if isinstance(store, Path) else store
        self._lock = threading.Lock()

    @classmethod
    def for_spec(cls, spec: Spec, credentials: Any = None) -> Journal:
        """The spec's journal, in its backend (reached with `credentials` when it is shared)."""
        if spec.backend is None:
            return cls(spec.root / JOURNAL_DIR / f"journal-{spec.project}.json")
        from iamlayer.state.backends import open_backend

        return cls(open_backend(spec, credentials).journal())

    def pending(self, entry: JournalEntry, account: str) -> frozenset[str]:
        """Names journaled for `entry` in `account`: creations that may not have finished."""
        with self._lock:
            return frozenset(self.store.read(account).get(entry, {}))

    def key_creations(self, account: str) -> dict[str, KeyCreation]:
        """The access key creations held open in `account`, by user."""
        with self._lock:
            users = self.store.read(account).get("access_keys", {})
        return {
            user: KeyCreation(
                before=frozenset(d["before"]) if "before" in d else None,
                at=datetime.fromisoformat(d["at"]) if d.get("at") else None,
            )
            for user, d in users.items()
        }

    def begin(self, entry: JournalEntry, account: str, name: str, **details: Any) -> bool:
        """Journal a creation (its `details` replace earlier ones). True if it was journaled already:
        an earlier run began it and did not finish."""
        with self._lock:
            data = self.store.read(account)
            names = data.setdefault(entry, {})
            already = name in names
            if not already or details:
                names[name] = {**details}
                self.store.write(account, data)
            return already

    def begin_key_creation(self, account: str, user: str, before: frozenset[str]) -> None:
        """Journal an access key creation for `user`, who has the keys `before`, attempted now."""
        self.begin(
            "access_keys",
            account,
            user,
            before=sorted(before),
            at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def end(self, entry: JournalEntry, account: str, name: str) -> None:
        with self._lock:
            data = self.store.read(account)
            names = data.get(entry, {})
            if name in names:
                del names[name]
                self.store.write(account, {e: n for e, n in data.items() if n})

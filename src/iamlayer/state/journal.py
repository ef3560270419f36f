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

This module is the file on disk; what it records (KeyCreation, the entry names) are pure values in
iamlayer.state.records.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iamlayer.files import write_atomic
from iamlayer.spec.model import Spec
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
]

Details = dict[str, Any]


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def for_spec(cls, spec: Spec) -> Journal:
        return cls(spec.root / JOURNAL_DIR / f"journal-{spec.project}.json")

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

    def _save(self, data: dict[str, dict[str, dict[str, Details]]]) -> None:
        clean = {entry: {acc: n for acc, n in accs.items() if n} for entry, accs in data.items()}
        text = json.dumps({k: v for k, v in clean.items() if v}, indent=1, sort_keys=True)
        write_atomic(self.path, text.encode())

    def pending(self, entry: JournalEntry, account: str) -> frozenset[str]:
        """Names journaled for `entry` in `account`: creations that may not have finished."""
        with self._lock:
            return frozenset(self._load().get(entry, {}).get(account, {}))

    def key_creations(self, account: str) -> dict[str, KeyCreation]:
        """The access key creations held open in `account`, by user."""
        with self._lock:
            users = self._load().get("access_keys", {}).get(account, {})
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
            data = self._load()
            names = data.setdefault(entry, {}).setdefault(account, {})
            already = name in names
            if not already or details:
                names[name] = {**details}
                self._save(data)
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
            data = self._load()
            names = data.get(entry, {}).get(account, {})
            if name in names:
                del names[name]
                self._save(data)

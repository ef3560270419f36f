"""A small local record of creations in flight, where one AWS call cannot finish the job.

- Groups: a user, role or policy is created with its ownership tag in one call, but a group
  cannot be tagged: it is created, then marked with an inline policy in a second call. An apply
  killed between the two would leave a group nobody owns. The group is journaled before
  CreateGroup and cleared once the marker is written; the planner treats a journaled, unmarked
  group as ours.
- Access keys: AWS makes the secret, so its ciphertext can only be written after CreateAccessKey
  answers. The user is journaled before the call and cleared once the ciphertext is on disk. A
  key with no ciphertext is replaced only while its user is journaled (iamlayer made it and
  died before writing it); otherwise it is someone's (or its file was removed) and only noted.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Literal

from iamlayer.files import write_atomic
from iamlayer.spec.model import Spec

JOURNAL_DIR = ".iamlayer"

Entry = Literal["groups", "access_keys"]


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def for_spec(cls, spec: Spec) -> Journal:
        return cls(spec.root / JOURNAL_DIR / f"journal-{spec.project}.json")

    def _load(self) -> dict[str, dict[str, list[str]]]:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return {entry: {acc: list(names) for acc, names in data.get(entry, {}).items()} for entry in data}

    def _save(self, data: dict[str, dict[str, list[str]]]) -> None:
        clean = {entry: {acc: sorted(n) for acc, n in accs.items() if n} for entry, accs in data.items()}
        write_atomic(self.path, json.dumps({k: v for k, v in clean.items() if v}, indent=1).encode())

    def pending(self, entry: Entry, account: str) -> frozenset[str]:
        """Names journaled for `entry` in `account`: creations that may not have finished."""
        with self._lock:
            return frozenset(self._load().get(entry, {}).get(account, []))

    def begin(self, entry: Entry, account: str, name: str) -> None:
        with self._lock:
            data = self._load()
            names = data.setdefault(entry, {}).setdefault(account, [])
            if name not in names:
                names.append(name)
                self._save(data)

    def end(self, entry: Entry, account: str, name: str) -> None:
        with self._lock:
            data = self._load()
            names = data.get(entry, {}).get(account, [])
            if name in names:
                names.remove(name)
                self._save(data)

"""A small local record of creations in flight, for the one IAM resource that cannot be created owned.

A user, role or policy is created with its ownership tag in one call. A group cannot be tagged:
it is created, then marked with an inline policy in a second call. An apply killed between the
two would leave a group nobody owns. So the group's name is journaled before CreateGroup and
cleared after the marker is written; the planner treats a journaled, unmarked group as ours.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from iamlayer.files import write_atomic
from iamlayer.spec.model import Spec

JOURNAL_DIR = ".iamlayer"


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def for_spec(cls, spec: Spec) -> Journal:
        return cls(spec.root / JOURNAL_DIR / f"journal-{spec.project}.json")

    def _load(self) -> dict[str, list[str]]:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return {k: list(v) for k, v in data.get("creating_groups", {}).items()}

    def _save(self, groups: dict[str, list[str]]) -> None:
        data = {"creating_groups": {k: sorted(v) for k, v in groups.items() if v}}
        write_atomic(self.path, json.dumps(data, indent=1).encode())

    def pending_groups(self, account: str) -> frozenset[str]:
        with self._lock:
            return frozenset(self._load().get(account, []))

    def begin_group(self, account: str, group: str) -> None:
        with self._lock:
            data = self._load()
            if group not in data.setdefault(account, []):
                data[account].append(group)
                self._save(data)

    def end_group(self, account: str, group: str) -> None:
        with self._lock:
            data = self._load()
            if group in data.get(account, []):
                data[account].remove(group)
                self._save(data)

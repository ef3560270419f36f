"""Counting AWS API calls: what every read and write reports as its cost (plan --stats, --json).

Apart from iamlayer.aws so that code which only shows or sums counts (the library's results, the
CLI) does not load boto3.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ApiStats:
    """Counts AWS API calls (attempts included) per account label and operation. Thread-safe."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, account: str, operation: str) -> None:
        with self._lock:
            self.calls[(account, operation)] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def by_account(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (account, _), n in self.calls.items():
            out[account] += n
        return dict(out)

    def by_operation(self, account: str | None = None) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (acc, op), n in self.calls.items():
            if account is None or acc == account:
                out[op] += n
        return dict(sorted(out.items()))

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_account": self.by_account(),
            "by_operation": self.by_operation(),
        }

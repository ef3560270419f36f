"""Retrying IAM's eventual consistency, by name.

botocore's adaptive retry mode handles throttling and 5xx. It does not know IAM's consistency
quirks, which answer with ordinary client errors:
- NoSuchEntity right after a create: a new user, group, role or policy is not visible everywhere
  at once (e.g. AddUserToGroup just after CreateGroup).
- EntityTemporarilyUnmodifiable: the entity is being changed by another request.
- ConcurrentModification: two writes to the same account setting raced.
These are retried with backoff for a bounded time; every other error is raised at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from iamlayer.errors import AwsError, NotFoundError

T = TypeVar("T")

CONSISTENCY_CODES = frozenset({"EntityTemporarilyUnmodifiable", "ConcurrentModification"})


def settle(
    fn: Callable[[], T],
    *,
    not_found_too: bool = False,
    timeout: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `fn`, retrying on IAM consistency errors (and NoSuchEntity if `not_found_too`)."""
    deadline = time.monotonic() + timeout
    delay = 0.25
    while True:
        try:
            return fn()
        except AwsError as exc:
            retryable = exc.code in CONSISTENCY_CODES or (not_found_too and isinstance(exc, NotFoundError))
            if not retryable or time.monotonic() + delay > deadline:
                raise
            sleep(delay)
            delay = min(delay * 2, 4.0)

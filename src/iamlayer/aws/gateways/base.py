"""What every gateway does with one AWS request: send it, retry it, translate its errors.

`send(attempted, call, ...)` is where the gateways meet botocore's exceptions: the call is retried
by `iamlayer.aws.retry.settle` (throttling and IAM's named consistency codes always; the rest only
when the gateway method asks) and its failure re-raised as an iamlayer error whose message starts
with `attempted` (iamlayer.aws.errors.translate). `gone_is_fine` makes a removal idempotent:
NotFound means it is gone already.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TypeVar

from iamlayer.aws.errors import aws_call
from iamlayer.aws.retry import settle
from iamlayer.errors import NotFoundError

T = TypeVar("T")

#: how the gateways wait between retries and polls (tests inject one that does not sleep)
Sleep = Callable[[float], None]


def send(
    attempted: str,
    call: Callable[[], T],
    *,
    not_found_too: bool = False,
    conflict_too: bool = False,
    races: bool = False,
    done: Callable[[], bool] | None = None,
    sleep: Sleep = time.sleep,
) -> T:
    """`call()` (one request, or one whole paginated read), settled and translated (see the module
    docstring; the flags are `settle`'s)."""
    with aws_call(attempted):
        return settle(
            call,
            not_found_too=not_found_too,
            conflict_too=conflict_too,
            races=races,
            done=done,
            sleep=sleep,
        )


@contextmanager
def gone_is_fine() -> Iterator[None]:
    """Deletes are idempotent: NotFound (NoSuchEntity, ResourceNotFoundException) means it is gone."""
    with suppress(NotFoundError):
        yield

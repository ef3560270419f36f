"""Waiting for IAM, by name and within one documented bound.

IAM is eventually consistent, and AWS gives no hard figure for how long a write takes to show
everywhere ("usually a few seconds"). iamlayer waits for it in one way (`Backoff`: exponential
delays up to a deadline) and for at most one bound, `consistency_timeout()`:
- `settle` retries the answers that mean "try again shortly", never "failed":
  - NoSuchEntity right after a create (a new user, group, role or policy is not visible
    everywhere at once, e.g. AddUserToGroup just after CreateGroup), when asked for;
  - EntityTemporarilyUnmodifiable: the entity is being changed by another request;
  - ConcurrentModification: two writes to the same account setting raced;
  - DeleteConflict right after detaching what blocked the delete, when asked for: the detach has
    not reached every IAM endpoint yet;
  - ConflictException from IAM Identity Center, when asked for: a write raced another one on
    the same permission set or principal ("a retry with backoff is the recommended response").
    For the creates and attaches whose ConflictException may also mean "there already"
    (iamlayer.aws.errors.CONFLICT_MAYBE_DONE), the caller's confirming read (`done`) decides
    first: there, it is AlreadyExistsError (a taken name, or our own earlier write); not there,
    a race, retried. The message is never read;
  - Throttling: botocore retries it for ordinary clients, but only while the client's retry
    quota lasts (a token bucket every failed attempt draws on): once a large apply has spent it,
    botocore raises the first Throttling at once. The clients that send non-idempotent creates
    exactly once (see iamlayer.aws.session) never retry; a throttled answer is proof the call
    was not applied, so sending it again is safe.
  Every other error is raised at once.
- the gateways (iamlayer.aws.gateways) send every request through `settle`, and `read_all`
  settles each paginated read, so no handler fails on the first throttle, whichever call it makes.
- Probes that re-read until a write shows (an access key whose answer was lost, the re-read
  after apply) use `Backoff` with the same bound.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

from iamlayer.aws.errors import translate
from iamlayer.errors import (
    AlreadyExistsError,
    AwsError,
    ConflictError,
    IamlayerError,
    NotFoundError,
    ThrottledError,
)

T = TypeVar("T")

CONSISTENCY_CODES = frozenset({"EntityTemporarilyUnmodifiable", "ConcurrentModification"})

#: How long iamlayer waits for IAM to show a write, in seconds. Generous: IAM usually settles in
#: seconds, and every wait ends as soon as the write shows.
CONSISTENCY_TIMEOUT_S = 60.0
#: Overrides CONSISTENCY_TIMEOUT_S (tests shorten it; an operator on a slow day may lengthen it).
CONSISTENCY_TIMEOUT_ENV = "IAMLAYER_CONSISTENCY_TIMEOUT"


def env_seconds(name: str, default: float) -> float:
    """A duration in seconds from the environment variable `name`, else `default`."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise IamlayerError(f"{name}={raw!r} is not a number of seconds") from None
    return max(value, 0.0)


#: The bound on Identity Center's asynchronous requests (assignments, provisioning): they take
#: minutes across many accounts, far longer than IAM's consistency lag; Terraform's AWS provider
#: waits up to 10 minutes for them too.
IC_TIMEOUT_S = 600.0
IC_TIMEOUT_ENV = "IAMLAYER_IC_TIMEOUT"


def ic_timeout() -> float:
    """The bound on each wait for an Identity Center request (IC_TIMEOUT_S or its environment variable)."""
    return env_seconds(IC_TIMEOUT_ENV, IC_TIMEOUT_S)


def consistency_timeout() -> float:
    """The bound on every wait for IAM consistency (CONSISTENCY_TIMEOUT_S or its environment variable)."""
    return env_seconds(CONSISTENCY_TIMEOUT_ENV, CONSISTENCY_TIMEOUT_S)


class Backoff:
    """Exponentially growing waits (`first`, doubling, at most `cap`) until `timeout` has passed.

    `wait()` sleeps the next delay and says True, or says False once the deadline is reached;
    the last wait is shortened to end at the deadline, so a final try happens right there.
    Time counts as the larger of the clock and the delays slept, so an injected `sleep` that does
    not sleep still ends the loop.
    """

    def __init__(
        self,
        timeout: float,
        *,
        first: float = 0.25,
        cap: float = 4.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self._delay = first
        self._cap = cap
        self._sleep = sleep
        self._clock = clock
        self._start = clock()
        self._slept = 0.0

    @property
    def elapsed(self) -> float:
        return max(self._clock() - self._start, self._slept)

    @property
    def remaining(self) -> float:
        return max(self.timeout - self.elapsed, 0.0)

    def next_delay(self) -> float:
        """How long the next `wait()` sleeps (0 once the deadline is reached)."""
        return min(self._delay, self.remaining)

    def wait(self) -> bool:
        delay = self.next_delay()
        if delay <= 0:
            return False
        self._sleep(delay)
        self._slept += delay
        self._delay = min(self._delay * 2, self._cap)
        return True


def settle(
    fn: Callable[[], T],
    *,
    not_found_too: bool = False,
    conflict_too: bool = False,
    races: bool = False,
    done: Callable[[], bool] | None = None,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `fn`, retrying on IAM consistency errors and throttling (see the module docstring).

    `not_found_too`: also NoSuchEntity (right after creating what `fn` refers to).
    `conflict_too`: also DeleteConflict (right after detaching what blocked a delete).
    `races`: also IAM Identity Center's ConflictException (ConflictError), a write that raced
    another one. When the operation's ConflictException may also mean that what it makes is there
    already (`maybe_done`), `done()`, a confirming read, is asked first: True raises
    AlreadyExistsError (the caller decides: our own earlier write, or a name someone else took);
    False retries. Without `done` such an answer cannot be told from a race and is raised as it is.
    """
    backoff = Backoff(consistency_timeout() if timeout is None else timeout, sleep=sleep)
    while True:
        try:
            return fn()
        except Exception as exc:
            # `fn` is usually a bare boto3 call inside an `aws_call` block, so botocore's own
            # exception arrives here: classify it as ours, re-raise it untouched for aws_call.
            err = exc if isinstance(exc, AwsError) else translate(exc, "")
            if races and isinstance(err, ConflictError) and err.maybe_done:
                if done is None:
                    raise
                if done():
                    raise AlreadyExistsError(
                        f"{err} (a confirming read finds it there)".lstrip(": "),
                        code=err.code,
                        operation=err.operation,
                        status=err.status,
                    ) from exc
            retryable = isinstance(err, AwsError) and (
                err.code in CONSISTENCY_CODES
                or isinstance(err, ThrottledError)
                or (not_found_too and isinstance(err, NotFoundError))
                or (conflict_too and err.code == "DeleteConflict")
                or (races and isinstance(err, ConflictError))
            )
            if not retryable or not backoff.wait():
                raise

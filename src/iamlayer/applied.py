"""What an apply did: the one result type of the executor (iamlayer.apply.executor), the apply
workflow (iamlayer.apply.run) and the library (iamlayer.api).

Apart from iamlayer.apply, as iamlayer.stats, so that code which only shows a result (the
library's types, the CLI) loads neither boto3 nor the handlers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from iamlayer.plan.model import AccountPlan, Change, Plan
from iamlayer.stats import ApiStats


class Failed(NamedTuple):
    """A change that was attempted and failed, with what AWS (or iamlayer) said."""

    change: Change
    error: str


class Skipped(NamedTuple):
    """A change not attempted because a change it depends on failed (`because`)."""

    change: Change
    because: Change


@dataclass(frozen=True)
class Applied:
    """What `apply_plan` did: the plan, each change's outcome, and the re-read that verified it.

    Every change of the plan is in exactly one of `succeeded`, `failed` and `skipped` (after a
    Ctrl-C, the changes never started are in none). A failure holds back only the changes that
    depend on it (iamlayer.apply.graph); they are `skipped`, each naming the failure.
    """

    plan: Plan
    succeeded: tuple[Change, ...] = ()
    failed: tuple[Failed, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    verify: Plan | None = None  # the plan made after applying: empty when every write shows
    waited: float = 0.0  # seconds spent waiting for IAM to show the writes
    stats: ApiStats = field(default_factory=ApiStats, compare=False)

    @property
    def all_applied(self) -> bool:
        """Every change was applied (nothing failed or was skipped); says nothing of the re-read."""
        return not self.failed and not self.skipped

    @property
    def failed_accounts(self) -> list[AccountPlan]:
        """The accounts left out because they could not be reached or read (each with its `error`)."""
        return self.plan.unreadable

    @property
    def ok(self) -> bool:
        """Every change was applied and the accounts now match the spec (or there was nothing to
        do); every account could be reached."""
        if self.failed_accounts:
            return False
        return self.all_applied and (self.plan.empty or (self.verify is not None and self.verify.empty))

    def skipped_because(self, failure: Change) -> list[Change]:
        """The changes not attempted because `failure` failed."""
        return [s.change for s in self.skipped if s.because == failure]

    # -- the names of the types this one replaced (ApplyResult, ApplyOutcome) -----------------
    @property
    def done(self) -> tuple[Change, ...]:
        """`succeeded`, by its former name."""
        return self.succeeded

    @property
    def result(self) -> Applied:
        """This result itself: `applied.result.failed` (the former Applied.result) still works."""
        return self

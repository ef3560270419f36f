"""Apply a plan: stage by stage, changes within a stage concurrently (bounded), across accounts.

Apply consumes the plan and nothing else. Before writing, each account's state is re-read and
its fingerprint compared with the plan's: a plan made from a state that has moved is refused
(stale). After a failure, no later stage starts, so dependencies are never written on top of a
missing prerequisite; a rerun (plan + apply) converges because every handler is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby

from iamlayer.apply import credentials as _credentials  # noqa: F401 - registers its handlers
from iamlayer.apply import ic_handlers as _ic_handlers  # noqa: F401 - registers its handlers
from iamlayer.apply.handlers import HANDLERS, HandlerContext
from iamlayer.errors import ApplyError, IamlayerError
from iamlayer.plan.model import Change, Plan

#: concurrent writes; IAM's write limits are low, and botocore's adaptive mode paces retries
MAX_WORKERS = 8

OnChange = Callable[[Change, str | None], None]  # (change, error message or None)


@dataclass
class ApplyResult:
    done: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, str]] = field(default_factory=list)
    skipped: list[Change] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped


def missing_handlers(plan: Plan) -> list[str]:
    return sorted(
        {
            f"{c.address.kind.value}/{c.action.value}"
            for c in plan.changes
            if (c.address.kind, c.action) not in HANDLERS
        }
    )


def execute(
    plan: Plan,
    contexts: dict[str, HandlerContext],
    *,
    on_change: OnChange | None = None,
    max_workers: int = MAX_WORKERS,
) -> ApplyResult:
    """Run every change of `plan`. `contexts` maps account name to its handler context."""
    missing = missing_handlers(plan)
    if missing:
        raise ApplyError(f"no handler for: {', '.join(missing)}")
    result = ApplyResult()
    changes = sorted(plan.changes, key=lambda c: (c.stage, c.address))
    stages = [list(g) for _, g in groupby(changes, key=lambda c: c.stage)]

    def run(change: Change) -> tuple[Change, str | None]:
        spec = HANDLERS[(change.address.kind, change.action)]
        try:
            spec.fn(contexts[change.address.account], change)
        except IamlayerError as exc:
            return change, str(exc)
        return change, None

    pool = ThreadPoolExecutor(max_workers=max_workers)
    try:
        for i, stage in enumerate(stages):
            for change, error in pool.map(run, stage):
                if error is None:
                    result.done.append(change)
                else:
                    result.failed.append((change, error))
                if on_change:
                    on_change(change, error)
            if result.failed:
                result.skipped = [c for later in stages[i + 1 :] for c in later]
                break
    except BaseException:
        # Ctrl-C: let the calls already in flight finish (each is one idempotent AWS call or a
        # staged secret), start no new one. A rerun continues from what is live.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return result


def required_permissions() -> list[str]:
    """Every IAM action the apply handlers may call: the operator's minimal write policy."""
    return sorted({p for h in HANDLERS.values() for p in h.permissions})

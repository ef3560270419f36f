"""Apply a plan: each change once the changes it depends on succeeded, concurrently (bounded),
across accounts.

Apply consumes the plan and nothing else. The order is a dependency graph over the plan's changes
(iamlayer.apply.graph), not global stages: a change starts as soon as everything it depends on
has succeeded, and a failed change holds back only the changes that depend on it, directly or
not (`skipped`, each naming the failure); other accounts and unrelated resources go on. So a
dependency is never written on top of a missing prerequisite, and a rerun (plan + apply)
converges because every handler is idempotent.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from iamlayer.applied import Applied, Failed, Skipped
from iamlayer.apply import access_handlers as _access_handlers  # noqa: F401 - registers its handlers
from iamlayer.apply import credentials as _credentials  # noqa: F401 - registers its handlers
from iamlayer.apply import graph as _graph
from iamlayer.apply import ic_handlers as _ic_handlers  # noqa: F401 - registers its handlers
from iamlayer.apply.handlers import HANDLERS, HandlerContext
from iamlayer.errors import ApplyError, IamlayerError
from iamlayer.plan.model import Change, Plan

#: concurrent writes (`--parallelism`); IAM's write limits are low, and botocore's adaptive mode
#: paces retries
MAX_WORKERS = 10

OnChange = Callable[[Change, str | None], None]  # (change, error message or None)
#: account name -> why this process may not write to it now (its lock was lost), or None
Fence = Callable[[str], str | None]


def missing_handlers(plan: Plan) -> list[str]:
    return sorted(
        {
            f"{c.address.kind.value}/{c.action.value}"
            for c in plan.changes
            if (c.address.kind, c.action) not in HANDLERS
        }
    )


def dependency_graph(plan: Plan) -> _graph.Graph:
    """The plan's changes in its order (stage, then address: what breaks ties) and their edges."""
    changes = sorted(plan.changes, key=lambda c: (c.stage, c.address))
    return _graph.build(changes, {a.account_id: a.account for a in plan.accounts})


def execute(
    plan: Plan,
    contexts: dict[str, HandlerContext],
    *,
    on_change: OnChange | None = None,
    max_workers: int = MAX_WORKERS,
    fence: Fence | None = None,
) -> Applied:
    """Run every change of `plan`. `contexts` maps account name to its handler context.

    `on_change(change, error)` runs (in this thread) after each attempted change; skipped
    changes are not attempted, and are in the result's `skipped`. `fence(account)` is asked
    before each change: a reason fails the change unwritten (the account's lock was lost).
    """
    missing = missing_handlers(plan)
    if missing:
        raise ApplyError(f"no handler for: {', '.join(missing)}")
    graph = dependency_graph(plan)
    changes = graph.changes
    waiting = [len(n) for n in graph.needs]
    ready = [i for i, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)  # the plan's order among the changes that may start
    succeeded: list[int] = []
    failed: dict[int, str] = {}
    skipped: dict[int, int] = {}  # change -> the failed change it depends on

    def run(change: Change) -> str | None:
        spec = HANDLERS[(change.address.kind, change.action)]
        stop = fence(change.address.account) if fence else None
        if stop:
            return f"not written: {stop}"
        try:
            spec.fn(contexts[change.address.account], change)
        except IamlayerError as exc:
            return str(exc)
        return None

    max_workers = max(1, max_workers)
    pool = ThreadPoolExecutor(max_workers=max_workers)
    running: dict[Future[str | None], int] = {}
    try:
        while ready or running:
            while ready and len(running) < max_workers:
                i = heapq.heappop(ready)
                running[pool.submit(run, changes[i])] = i
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: running[f]):
                i = running.pop(future)
                error = future.result()  # a bug (not an IamlayerError) stops the apply here
                if error is None:
                    succeeded.append(i)
                    for j in graph.feeds[i]:
                        waiting[j] -= 1
                        if waiting[j] == 0 and j not in skipped:
                            heapq.heappush(ready, j)
                else:
                    failed[i] = error
                    for j in graph.descendants(i):
                        skipped.setdefault(j, i)
                if on_change:
                    on_change(changes[i], error)
    except BaseException:
        # Ctrl-C: let the calls already in flight finish (each is one idempotent AWS call or a
        # staged secret), start no new one. A rerun continues from what is live.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return Applied(
        plan,
        succeeded=tuple(changes[i] for i in sorted(succeeded)),
        failed=tuple(Failed(changes[i], e) for i, e in sorted(failed.items())),
        skipped=tuple(Skipped(changes[j], changes[i]) for j, i in sorted(skipped.items())),
    )


def required_permissions() -> list[str]:
    """Every IAM action the apply handlers may call: the operator's minimal write policy."""
    return sorted({p for h in HANDLERS.values() for p in h.permissions})

"""The apply workflow around the executor: locks, stale check, contexts, execute, re-read, verify.

plan (fresh, or saved: --stale check-->) confirm --> execute --> re-plan --> must be empty
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from iamlayer.apply.executor import ApplyResult, OnChange, execute
from iamlayer.apply.handlers import HandlerContext
from iamlayer.aws.accounts import connect_accounts
from iamlayer.aws.session import ApiStats
from iamlayer.errors import ApplyError, InconsistentResultError, PlanError, StalePlanError
from iamlayer.plan.model import Plan
from iamlayer.plan.planner import make_plan, spec_digest
from iamlayer.spec.model import Spec
from iamlayer.state.journal import Journal
from iamlayer.state.lock import account_locks
from iamlayer.state.outputs import outbox_for


def check_applicable(plan: Plan, spec: Spec) -> None:
    if plan.project != spec.project:
        raise PlanError(f"the plan is for project {plan.project!r}, the spec for {spec.project!r}")
    unknown = [a.account for a in plan.accounts if a.account not in spec.accounts]
    if unknown:
        raise PlanError(f"the plan names account(s) the spec does not have: {', '.join(unknown)}")
    if plan.errors:
        names = ", ".join(f"{a.account} ({a.error})" for a in plan.errors)
        raise PlanError(f"not applying: some accounts in scope could not be planned: {names}")


def check_saved(plan: Plan, spec: Spec, *, profile: str | None, stats: ApiStats) -> None:
    """Refuse a saved plan when the spec file or any of its accounts changed since it was made."""
    if plan.spec_digest != spec_digest(spec):
        raise StalePlanError(
            f"stale plan: the spec {spec.path} changed since the plan was made ({plan.created_at}); "
            "run `iamlayer plan` again"
        )
    check_fresh(plan, spec, profile=profile, stats=stats)


def check_fresh(plan: Plan, spec: Spec, *, profile: str | None, stats: ApiStats) -> None:
    """Refuse a saved plan when any of its accounts changed since it was made."""
    now = make_plan(spec, profile=profile, only=[a.account for a in plan.accounts], stats=stats)
    moved = [
        a.account for a, b in zip(plan.accounts, now.accounts, strict=True) if a.fingerprint != b.fingerprint
    ]
    if moved:
        raise StalePlanError(
            f"stale plan: account(s) {', '.join(moved)} changed since the plan was made "
            f"({plan.created_at}); run `iamlayer plan` again"
        )


@dataclass
class ApplyOutcome:
    result: ApplyResult
    verify: Plan | None  # the plan made after apply; empty when everything converged


def apply_plan(
    plan: Plan,
    spec: Spec,
    *,
    profile: str | None,
    stats: ApiStats,
    on_change: OnChange | None = None,
    progress: Callable[[str], None] | None = None,
    confirm: Callable[[Plan], None] | None = None,
    command: str = "iamlayer apply",
) -> ApplyOutcome:
    """Execute `plan`, then re-read its accounts; anything left to do is an error.

    Holds the lock of every account the plan writes to (see iamlayer.state.lock) throughout. A
    plan read from a file (`Plan.saved`) is refused when the spec file or the state of any of
    its accounts changed since it was made (StalePlanError); a plan made in the same run is not
    read again. `confirm(plan)` runs after those checks, before the first write: it may raise
    (UserAbort) to stop.
    """
    check_applicable(plan, spec)
    if plan.empty:
        return ApplyOutcome(ApplyResult(), None)
    scope = [a.account for a in plan.accounts if a.changes]
    with account_locks(spec, scope, command):
        if plan.saved:
            if progress:
                progress("checking that the saved plan is still current")
            check_saved(plan, spec, profile=profile, stats=stats)
        if confirm:
            confirm(plan)
        return _apply_locked(
            plan, spec, scope, profile=profile, stats=stats, on_change=on_change, progress=progress
        )


def _apply_locked(
    plan: Plan,
    spec: Spec,
    scope: list[str],
    *,
    profile: str | None,
    stats: ApiStats,
    on_change: OnChange | None,
    progress: Callable[[str], None] | None,
) -> ApplyOutcome:
    conns = connect_accounts(spec, profile=profile, stats=stats, only=scope)
    outbox = outbox_for(spec)
    journal = Journal.for_spec(spec)
    contexts = {}
    for name, conn in conns.items():
        if conn.clients is None:
            raise ApplyError(f"cannot reach account {name}: {conn.error}")
        contexts[name] = HandlerContext.for_account(
            name, conn.account.id, spec.project, conn.clients, outbox, journal
        )
    result = execute(plan, contexts, on_change=on_change)
    if not result.ok:
        return ApplyOutcome(result, None)
    if progress:
        progress("re-reading the accounts to verify")
    verify = make_plan(spec, profile=profile, only=[a.account for a in plan.accounts], stats=stats)
    if not verify.empty:
        left = ", ".join(
            f"{c.action.symbol}{c.address}"
            + (f" [{', '.join(sorted(c.after))}]" if c.after and c.before else "")
            for c in verify.changes[:10]
        )
        raise InconsistentResultError(
            f"inconsistent result after apply: {len(verify.changes)} change(s) still planned ({left}). "
            "This is a bug in iamlayer or an eventual-consistency delay; run `iamlayer plan` to see them."
        )
    return ApplyOutcome(result, verify)

"""The apply workflow around the executor: locks, stale check, contexts, execute, re-read, verify.

plan (fresh, or saved: --stale check-->) confirm --> execute --> re-plan --> must be empty
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from iamlayer.applied import Applied
from iamlayer.apply.executor import MAX_WORKERS, OnChange, execute
from iamlayer.apply.handlers import HandlerContext
from iamlayer.apply.ic_handlers import attach_identity_center
from iamlayer.aws.accounts import connect_accounts
from iamlayer.aws.retry import Backoff, consistency_timeout, env_seconds
from iamlayer.aws.session import ApiStats, CredentialSource
from iamlayer.errors import ApplyError, InconsistentResultError, PlanError, StalePlanError
from iamlayer.plan.model import Action, Plan
from iamlayer.plan.planner import make_plan, spec_digest
from iamlayer.spec.model import Spec
from iamlayer.state import checkout
from iamlayer.state.journal import Journal
from iamlayer.state.lock import account_locks, lock_fence
from iamlayer.state.outputs import outbox_for, record_organization


def check_applicable(plan: Plan, spec: Spec) -> None:
    if plan.project != spec.project:
        raise PlanError(f"the plan is for project {plan.project!r}, the spec for {spec.project!r}")
    unknown = [a.account for a in plan.accounts if a.account not in spec.accounts]
    if unknown:
        raise PlanError(f"the plan names account(s) the spec does not have: {', '.join(unknown)}")
    # An account that could not be reached or read is left out (Applied.failed_accounts); one
    # whose plan found a conflict (a resource the spec names that iamlayer does not own) is a
    # problem of the spec, fixed before anything is applied.
    conflicts = [a for a in plan.errors if not a.unreadable]
    if conflicts:
        names = ", ".join(f"{a.account} ({a.error})" for a in conflicts)
        raise PlanError(f"not applying: some accounts in scope could not be planned: {names}")


def check_saved(plan: Plan, spec: Spec, *, profile: CredentialSource, stats: ApiStats) -> None:
    """Refuse a saved plan when the spec file or any of its accounts changed since it was made."""
    if plan.spec_digest != spec_digest(spec):
        raise StalePlanError(
            f"stale plan: the spec {spec.path} changed since the plan was made ({plan.created_at}); "
            "run `iamlayer plan` again"
        )
    check_fresh(plan, spec, profile=profile, stats=stats)


def check_fresh(plan: Plan, spec: Spec, *, profile: CredentialSource, stats: ApiStats) -> None:
    """Refuse a saved plan when any of its accounts changed since it was made (those it could
    not read are not applied: they are not compared)."""
    planned = [a for a in plan.accounts if not a.unreadable]
    if not planned:
        return
    now = make_plan(
        spec,
        profile=profile,
        only=[a.account for a in planned],
        stats=stats,
        refresh_credentials=plan.refresh_credentials,
    )
    moved = [a.account for a, b in zip(planned, now.accounts, strict=True) if a.fingerprint != b.fingerprint]
    if moved:
        raise StalePlanError(
            f"stale plan: account(s) {', '.join(moved)} changed since the plan was made "
            f"({plan.created_at}); run `iamlayer plan` again"
        )


#: Sets how long apply waits for IAM to show its writes (seconds); default: the consistency bound.
VERIFY_TIMEOUT_ENV = "IAMLAYER_VERIFY_TIMEOUT"


def apply_plan(
    plan: Plan,
    spec: Spec,
    *,
    profile: CredentialSource,
    stats: ApiStats,
    on_change: OnChange | None = None,
    progress: Callable[[str], None] | None = None,
    confirm: Callable[[Plan], None] | None = None,
    command: str = "iamlayer apply",
    verify_timeout: float | None = None,
    parallelism: int = MAX_WORKERS,
) -> Applied:
    """Execute `plan`, then re-read its accounts; anything left to do is an error.

    Holds the lock of every account the plan writes to (see iamlayer.state.lock) throughout, and
    records the apply in the team's backend (iamlayer.state.checkout) once its changes are made. A
    plan read from a file (`Plan.saved`) is refused when the spec file or the state of any of
    its accounts changed since it was made (StalePlanError); a plan made in the same run is not
    read again. `confirm(plan)` runs after those checks, before the first write: it may raise
    (UserAbort) to stop. The re-read waits for IAM up to `verify_timeout` s (see `verify`).
    A change that fails holds back the changes that depend on it (`skipped`); the others are
    applied, and nothing is re-read (the accounts cannot match the spec yet). An account the
    plan could not reach or read is not written to (`Applied.failed_accounts`); the others are
    applied and verified. At most `parallelism` changes run at a time.
    """
    check_applicable(plan, spec)
    if not plan.changes:
        record_organization(spec, profile)
        return Applied(plan, stats=stats)
    scope = [a.account for a in plan.accounts if a.changes]
    with account_locks(spec, scope, command, credentials=profile):
        if plan.saved:
            if progress:
                progress("checking that the saved plan is still current")
            check_saved(plan, spec, profile=profile, stats=stats)
        if confirm:
            confirm(plan)
        return _apply_locked(
            plan,
            spec,
            scope,
            profile=profile,
            stats=stats,
            on_change=on_change,
            progress=progress,
            verify_timeout=verify_timeout,
            parallelism=parallelism,
        )


def _apply_locked(
    plan: Plan,
    spec: Spec,
    scope: list[str],
    *,
    profile: CredentialSource,
    stats: ApiStats,
    on_change: OnChange | None,
    progress: Callable[[str], None] | None,
    verify_timeout: float | None,
    parallelism: int,
) -> Applied:
    conns = connect_accounts(spec, profile=profile, stats=stats, only=scope, max_workers=parallelism)
    outbox = outbox_for(spec, profile, writing=True)
    journal = Journal.for_spec(spec, profile)
    contexts = {}
    for name, conn in conns.items():
        if conn.clients is None:
            raise ApplyError(f"cannot reach account {name}: {conn.error}")
        contexts[name] = HandlerContext.for_account(
            name, conn.account.id, spec.project, conn.clients, outbox, journal
        )
    if spec.identity_center is not None and spec.identity_center.account in conns:
        attach_identity_center(spec, contexts, conns[spec.identity_center.account].clients)
    fence = lock_fence(spec, profile)
    result = replace(
        execute(plan, contexts, on_change=on_change, max_workers=parallelism, fence=fence), stats=stats
    )
    checkout.record(spec, result, profile)  # the team's backend: what was applied, by whom, when
    record_organization(spec, profile)  # the accounts people's commands will see
    if not result.all_applied:
        return result
    return verify(plan, spec, result, profile=profile, stats=stats, progress=progress, timeout=verify_timeout)


def verify_bound() -> float:
    """How long apply waits for IAM to show its writes: IAMLAYER_VERIFY_TIMEOUT, else the one
    consistency bound of iamlayer.aws.retry."""
    return env_seconds(VERIFY_TIMEOUT_ENV, consistency_timeout())


def verify(
    plan: Plan,
    spec: Spec,
    result: Applied,
    *,
    profile: CredentialSource,
    stats: ApiStats,
    progress: Callable[[str], None] | None = None,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Applied:
    """Re-read the plan's accounts until nothing is left to do, or the bound has passed.

    IAM reads lag behind its writes (eventual consistency), so a correct apply can still read as
    unfinished for a while: re-read with backoff (1, 2, 4, 8, 8... s) up to `timeout`
    (`verify_bound()` by default), then name every change still planned and what differs.
    """
    bound = verify_bound() if timeout is None else timeout
    backoff = Backoff(bound, first=1, cap=8, sleep=sleep)
    accounts = [a.account for a in plan.accounts if not a.unreadable]
    if progress:
        progress("re-reading the accounts to verify")

    def read() -> Plan:
        return make_plan(
            spec, profile=profile, only=accounts, stats=stats, refresh_credentials=plan.refresh_credentials
        )

    now = read()
    waited = False
    while not now.empty or now.errors:
        delay = backoff.next_delay()
        if delay <= 0:
            break
        if progress:
            what = f"{len(now.changes)} change(s)" + (
                f" and {len(now.errors)} unreadable account(s)" if now.errors else ""
            )
            progress(
                f"waiting for IAM to show {what}: re-reading in {delay:g} s "
                f"({backoff.elapsed:.0f} of at most {bound:g} s waited)"
            )
        backoff.wait()
        waited = True
        now = read()
    if now.errors:
        names = "; ".join(f"{a.account}: {a.error}" for a in now.errors)
        raise ApplyError(f"applied, but the accounts could not be re-read to verify it: {names}")
    if not now.empty:
        raise InconsistentResultError(_inconsistent(now, backoff.elapsed))
    # The first re-read showing every write means IAM kept nobody waiting (its read time is no wait).
    return replace(result, verify=now, waited=backoff.elapsed if waited else 0.0)


def _inconsistent(left: Plan, waited: float) -> str:
    lines = [
        f"inconsistent result after apply: {len(left.changes)} change(s) still planned after waiting "
        f"{waited:.0f} s for IAM to show the writes:"
    ]
    for c in left.changes:
        if c.action is Action.UPDATE:
            b, a = c.before or {}, c.after or {}
            # `after` may carry what the handler needs besides (a policy's ARN): `before` names the fields.
            fields = sorted(k for k in b if a.get(k) != b.get(k))
            lines.append(f"  {c.action.symbol} {c.address}: {', '.join(fields) or 'changed'} differ(s)")
        else:
            state = {Action.CREATE: "missing", Action.ADOPT: "still without its ownership marker"}
            lines.append(f"  {c.action.symbol} {c.address} ({state.get(c.action, 'still there')})")
    lines.append(
        f"This is a bug in iamlayer, or IAM needs longer to show the writes ({VERIFY_TIMEOUT_ENV} sets "
        "the wait, in seconds); `iamlayer plan` shows the details."
    )
    return "\n".join(lines)

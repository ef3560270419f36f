"""This checkout against the team's backend: outputs brought up to date, plans reviewed against the
last apply, applies refused when behind it, and recorded when done (iamlayer.state.review decides).

Every function is a no-op for the local backend, which keeps no record of the last apply.
"""

from __future__ import annotations

import socket
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from iamlayer.applied import Applied
from iamlayer.errors import BehindError
from iamlayer.plan.model import Action, Kind, Plan
from iamlayer.spec.model import Spec
from iamlayer.state import git, review
from iamlayer.state.backend import Backend, LastApply


def _shared(spec: Spec, credentials: Any) -> Backend | None:
    if spec.backend is None:
        return None
    from iamlayer.state.backends import open_backend

    return open_backend(spec, credentials)


def _digest(spec: Spec) -> str:
    from iamlayer.plan.planner import spec_digest

    return spec_digest(spec)


def refresh_outputs(spec: Spec, credentials: Any = None) -> None:
    """Fetch into outputs/ what the backend's copy has that this clone lacks, before a plan reads it."""
    backend = _shared(spec, credentials)
    if backend is not None:
        from iamlayer.state.outputs import outputs_root

        backend.sync_outputs(outputs_root(spec), push=False)


def _behind(spec: Spec, last: LastApply | None) -> str | None:
    digest = _digest(spec)
    if last is None or last.commit is None or last.digest == digest:
        return review.behind(last, digest, None)  # git need not be asked
    return review.behind(last, digest, git.has_commit(spec.root, last.commit))


def reviewed(spec: Spec, plan: Plan, credentials: Any = None) -> Plan:
    """`plan` with the warnings for its top: this checkout is behind the last apply; a user another
    operator's apply created in the last 24 h would be deleted."""
    backend = _shared(spec, credentials)
    if backend is None:
        return plan
    last = backend.last_apply()
    found = [w for w in [_behind(spec, last)] if w]
    found += review.recent_foreign_deletions(plan.changes, last, backend.caller(), datetime.now(UTC))
    return replace(plan, warnings=(*plan.warnings, *(w for w in found if w not in plan.warnings)))


def refuse_if_behind(spec: Spec, credentials: Any = None) -> None:
    """BehindError, naming who applied what and when, when this checkout is behind the last apply."""
    backend = _shared(spec, credentials)
    if backend is None:
        return
    why = _behind(spec, backend.last_apply())
    if why:
        raise BehindError(f"not applying: {why}")


def record(spec: Spec, applied: Applied, credentials: Any = None) -> LastApply | None:
    """After an apply that changed anything: record its spec, commit, who, when and the users it made."""
    backend = _shared(spec, credentials)
    if backend is None or not applied.succeeded:
        return None
    digest, commit, by = _digest(spec), git.head(spec.root), backend.caller()
    created = [
        (c.address.account, c.address.name)
        for c in applied.succeeded
        if c.address.kind is Kind.USER and c.action is Action.CREATE
    ]
    accounts = sorted({c.address.account for c in applied.succeeded})

    def update(prev: LastApply | None) -> LastApply:
        return review.next_record(
            prev,
            digest=digest,
            commit=commit,
            by=by,
            host=socket.gethostname(),
            now=datetime.now(UTC),
            accounts=accounts,
            created=created,
        )

    return backend.record_apply(update)

"""No apply from a stale checkout: what the last-apply record says about this plan. Pure.

Two operators each have a clone of the layer. If one applies a spec the other has not pulled yet,
the other's next apply would quietly revert it (delete the users it created, put back what it
removed). So after every apply the backend records the spec's digest, the git commit of the
checkout, who and when (iamlayer.state.backend.LastApply), and a plan is checked against it:

- the spec differs from the last apply's, and the checkout's git history lacks the commit it was
  applied from: this checkout is behind. The plan says so at the top; apply refuses it, naming who
  applied what and when, unless `--allow-behind`. (A spec that differs but whose history has that
  commit is newer: the normal case of a change being applied.)
- a user this plan deletes was created by another operator's apply in the last 24 hours: flagged,
  whatever the git history says (the other operator may not have pushed yet).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from iamlayer.plan.model import Action, Change, Kind
from iamlayer.state.backend import CreatedUser, LastApply

#: how long the users an apply created are remembered, to flag their deletion from elsewhere
RECENT = timedelta(hours=24)


def behind(last: LastApply | None, digest: str, has_commit: bool | None) -> str | None:
    """Why this checkout is behind the last apply, or None when it is not (or cannot be told).

    `has_commit`: whether the checkout's git history holds `last.commit` (None: not a git checkout).
    """
    if last is None or not last.digest or last.digest == digest:
        return None
    if last.commit is None:
        return None  # applied from outside git: nothing to compare histories with
    if has_commit:
        return None
    lacks = (
        "this layer folder is not a git checkout"
        if has_commit is None
        else "your git history lacks that commit"
    )
    return (
        f"this checkout is behind the last apply: {last.describe()}; the spec here differs and {lacks}. "
        "Applying it would undo that apply's changes. Pull (git pull), plan again, and apply; or pass "
        "--allow-behind to apply this checkout anyway"
    )


def recent_foreign_deletions(
    changes: Iterable[Change], last: LastApply | None, me: str, now: datetime
) -> list[str]:
    """A warning for each user the plan deletes that another operator's apply created in the last 24 h."""
    if last is None:
        return []
    made = {(c.account, c.user): c for c in last.created if c.by != me and _recent(c.at, now)}
    out: list[str] = []
    for ch in changes:
        if ch.action is not Action.DELETE or ch.address.kind is not Kind.USER:
            continue
        c = made.get((ch.address.account, ch.address.name))
        if c is not None:
            out.append(
                f"this plan deletes user {c.user} in {c.account}, created by {c.by}'s apply at {c.at} "
                "(less than 24 h ago): is their change missing from your checkout?"
            )
    return out


def next_record(
    prev: LastApply | None,
    *,
    digest: str,
    commit: str | None,
    by: str,
    host: str,
    now: datetime,
    accounts: Sequence[str],
    created: Iterable[tuple[str, str]],
) -> LastApply:
    """The record after an apply: this apply's spec, commit, who and when; the users created in the
    last 24 h (the earlier applies' and this one's, as (account, user))."""
    at = now.isoformat(timespec="seconds")
    kept = [c for c in (prev.created if prev else ()) if _recent(c.at, now)]
    new = [CreatedUser(account, user, by, at) for account, user in created]
    fresh = {(c.account, c.user) for c in new}
    return LastApply(
        digest=digest,
        commit=commit,
        by=by,
        host=host,
        at=at,
        accounts=tuple(accounts),
        created=tuple([c for c in kept if (c.account, c.user) not in fresh] + new),
    )


def _recent(at: str, now: datetime) -> bool:
    try:
        return now - datetime.fromisoformat(at) < RECENT
    except (ValueError, TypeError):
        return False

"""Who gains what: the differences a plan makes to each person's reach. Pure.

Before is the live state the plan was made from; after is that state as the plan leaves it:
what the spec renders (iamlayer.plan.desired), plus everything live that iamlayer does not own
(other people's users, roles and groups stay), minus what iamlayer owns and the spec no longer
has (the plan deletes it). Both are asked of the evaluator (iamlayer.access.reach).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from iamlayer.access.principals import model_of
from iamlayer.access.reach import Answer, reach_table, table_changes
from iamlayer.plan.desired import desired_state
from iamlayer.plan.model import AccessChange
from iamlayer.spec.model import Spec
from iamlayer.state.model import OWNER_TAG, POLICY_MARKER, AccountState, GroupState, PolicyState

T = TypeVar("T")


def _kept(want: Mapping[str, T], have: Mapping[str, T], owned: Any) -> dict[str, T]:
    """The spec's resources, and the live ones it does not name that iamlayer does not own."""
    return {**{n: r for n, r in have.items() if n not in want and not owned(r)}, **want}


def projected_state(live: AccountState, desired: AccountState, project: str) -> AccountState:
    """`live` as an apply of the plan leaves it (see the module docstring)."""

    def tagged(r: Any) -> bool:
        return bool((getattr(r, "tags", None) or {}).get(OWNER_TAG) == project)

    def group_owned(g: GroupState) -> bool:
        return g.owner == project

    def policy_owned(p: PolicyState) -> bool:
        return tagged(p) or p.description.endswith(POLICY_MARKER.format(project=project))

    return replace(
        live,
        users=_kept(desired.users, live.users, tagged),
        groups=_kept(desired.groups, live.groups, group_owned),
        roles=_kept(desired.roles, live.roles, tagged),
        policies=_kept(desired.policies, live.policies, policy_owned),
    )


def after_states(spec: Spec, live: Mapping[str, AccountState]) -> dict[str, AccountState]:
    """Each account read, as the plan made from it leaves it (see `projected_state`)."""
    return {a: projected_state(s, desired_state(spec, a), spec.project) for a, s in live.items()}


def access_changes(
    spec: Spec,
    live: Mapping[str, AccountState],
    *,
    after: Mapping[str, AccountState] | None = None,
    managed: Mapping[str, Mapping[str, Any]] | None = None,
    now: datetime,
) -> tuple[AccessChange, ...]:
    """The reach each person gains or loses if the plan made from `live` (the accounts read) is
    applied; `after` is `after_states(spec, live)` when the caller has it already. Nothing when
    the people account was not read (its users are unknown)."""
    if spec.people_account not in live:
        return ()
    after = after if after is not None else after_states(spec, live)
    answers: dict[Hashable, Answer] = {}  # what the plan leaves as it was is evaluated once
    before = reach_table(model_of(spec, live, managed=managed, source="live"), now=now, answers=answers)
    after_reach = reach_table(model_of(spec, after, managed=managed, source="spec"), now=now, answers=answers)
    return table_changes(before, after_reach, list(spec.accounts))


def unknown_policies(
    spec: Spec, live: Mapping[str, AccountState], after: Mapping[str, AccountState]
) -> set[str]:
    """ARNs of the AWS-managed policies the people's identities use, before (`live`) or after
    (`after_states`) the plan, whose documents the evaluator needs from AWS (read once each)."""
    people = spec.people_account
    if people not in live:
        return set()
    return {
        arn for states in (live, after) for arn in model_of(spec, {people: states[people]}).unknown_policies()
    }

"""Each person's reach: the roles they can assume, in which accounts, with MFA or not, admin or not.

`person_reach(model)` asks the evaluator sts:AssumeRole for every user of the people account
against every role of the model (iamlayer.access.queries.assume_access: under a long-term key, a
session without MFA and MFA sessions), and `reach_changes(before, after)` compares two such
answers: what a plan gives or takes away, for a reviewer of an identity change.

Cost: the answer for one user and one role depends only on the statements that can match
sts:AssumeRole (in the user's identity policies, boundary and the role's trust) and, where one of
those statements names the caller (a policy variable, aws:username, aws:PrincipalArn, a
principal tag, a user ARN, NotPrincipal), on the user's name, path and tags. Users with the same
such statements share one evaluation, so 200 people in a few groups cost a few dozen
evaluations per role, not 200. Roles whose trust policy cannot let in a principal of the people
account (service roles) are not asked at all.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from iamlayer.access.evaluate import PolicySource
from iamlayer.access.policy import CompiledPolicy
from iamlayer.access.principals import AccessModel, RoleModel, UserModel
from iamlayer.access.queries import assume_access
from iamlayer.plan.model import AccessChange, Reach
from iamlayer.spec.policy_grammar import grants_unconditional_admin

ASSUME = "sts:AssumeRole"
#: Text in a statement that makes its answer depend on who the caller is, not only on its groups.
_CALLER_SPECIFIC = (
    "${",
    "aws:username",
    "aws:userid",
    "aws:principalarn",
    "aws:principaltag",
    ":user/",
    "notprincipal",
)


@lru_cache(maxsize=8192)
def _caller_specific(document: str, index: int) -> bool:
    raw = json.loads(document).get("Statement", [])
    items = [raw] if isinstance(raw, Mapping) else list(raw)
    text = json.dumps(items[index]).lower() if index < len(items) else ""
    return any(word in text for word in _CALLER_SPECIFIC)


def _relevant(policy: CompiledPolicy) -> list[tuple[str, int]]:
    return [(policy.document, st.index) for st in policy.statements if st.matches_action(ASSUME)]


def _signature(user: UserModel, role: RoleModel) -> Hashable:
    """What the answer for `user` and `role` depends on (see the module docstring)."""
    sources: list[PolicySource] = [*user.identity, *([user.boundary] if user.boundary else []), role.trust]
    parts: list[Any] = []
    specific = False
    for src in sources:
        if src.policy is None:
            parts.append(("unknown", src.arn, src.label if src.arn is None else ""))
            continue
        for doc, index in _relevant(src.policy):
            parts.append((doc, index))
            specific = specific or _caller_specific(doc, index)
    who = (user.name, user.path, tuple(sorted(user.tags.items()))) if specific else None
    return (role.account, role.name, tuple(parts), who)


def _admits_people(role: RoleModel, people_account_id: str) -> bool:
    """Whether the trust policy could let a principal of the people account in (False: a
    service role, or one trusting other accounts only). Unknown trust: asked."""
    policy = role.trust.policy
    if policy is None:
        return True
    for st in policy.statements:
        if st.effect != "Allow" or not st.matches_action(ASSUME):
            continue
        p = st.principal
        if p is None or st.not_principal or p.anyone:
            return True
        if any(people_account_id in a or a == "*" for a in p.aws):
            return True
    return False


def _is_admin(role: RoleModel) -> bool:
    """The role's own policies allow every action on every resource, and its boundary does not
    narrow that (an unknown boundary or policy is not counted as admin)."""

    def admin(src: PolicySource | None) -> bool:
        return (
            src is not None
            and src.policy is not None
            and grants_unconditional_admin(json.loads(src.policy.document))
        )

    return any(admin(p) for p in role.policies) and (role.boundary is None or admin(role.boundary))


def person_reach(model: AccessModel, *, now: datetime) -> dict[tuple[str, str, str], Reach]:
    """(person, account, role) -> Reach, for every user who can assume a role of the model (an
    uncertain answer counts, marked so)."""
    people_id = model.account_ids.get(model.people_account, "")
    roles = [r for r in model.roles.values() if _admits_people(r, people_id)]
    answers: dict[Hashable, tuple[bool, str, bool]] = {}
    out: dict[tuple[str, str, str], Reach] = {}
    admins = {(r.account, r.name): _is_admin(r) for r in roles}
    for role in roles:
        for user in model.users.values():
            sig = _signature(user, role)
            hit = answers.get(sig)
            if hit is None:
                a = assume_access(model, user, role, now=now)
                mfa = "MFA" if a.needs_mfa else "no MFA" if a.can_assume else "MFA unknown"
                hit = (a.can_assume or a.uncertain, mfa, not a.uncertain)
                answers[sig] = hit
            can, mfa, certain = hit
            if can:
                out[(user.name, role.account, role.name)] = Reach(
                    user.name, role.name, role.account, admins[(role.account, role.name)], mfa, certain
                )
    return out


def reach_changes(
    before: Mapping[tuple[str, str, str], Reach],
    after: Mapping[tuple[str, str, str], Reach],
    accounts: list[str],
) -> tuple[AccessChange, ...]:
    """What changes from `before` to `after`, by person, then account (in `accounts` order), then role."""
    order = {a: i for i, a in enumerate(accounts)}
    out: list[AccessChange] = []
    for key in sorted(
        set(before) | set(after), key=lambda k: (k[0], order.get(k[1], len(order)), k[1], k[2])
    ):
        b, a = before.get(key), after.get(key)
        if b == a:
            continue
        sign = "+" if b is None else "-" if a is None else "~"
        person, account, role = key
        out.append(AccessChange(sign, person, role, account, b, a))
    return tuple(out)

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
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
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
    text = json.dumps(_without_named_session(items[index])).lower() if index < len(items) else ""
    return any(word in text for word in _CALLER_SPECIFIC)


def _without_named_session(statement: Any) -> Any:
    """`statement` without the layer's named-session condition (sts:RoleSessionName =
    ${aws:username}): the evaluator asks AssumeRole in a session named after the caller, as the
    generated profiles do, so it holds for every person alike and keys nothing on who asks.
    Without this every role of the layer would be asked once per person (300 x 4,000 at 1,000
    accounts), not once per class of people."""
    if not isinstance(statement, Mapping) or not isinstance(statement.get("Condition"), Mapping):
        return statement
    condition = {}
    for op, block in statement["Condition"].items():
        if op == "StringEquals" and isinstance(block, Mapping):
            block = {
                k: v
                for k, v in block.items()
                if not (k.lower() == "sts:rolesessionname" and v in ("${aws:username}", ["${aws:username}"]))
            }
        if block:
            condition[op] = block
    return {**statement, "Condition": condition}


def _relevant(policy: CompiledPolicy) -> list[tuple[str, int]]:
    return [(policy.document, st.index) for st in policy.statements if st.matches_action(ASSUME)]


def _parts(sources: Iterable[PolicySource | None]) -> tuple[tuple[Hashable, ...], bool]:
    """The statements of `sources` that can match sts:AssumeRole (or the unknown policies), and
    whether one of them names the caller."""
    parts: list[Hashable] = []
    specific = False
    for src in sources:
        if src is None:
            continue
        if src.policy is None:
            parts.append(("unknown", src.arn, src.label if src.arn is None else ""))
            continue
        for doc, index in _relevant(src.policy):
            parts.append((doc, index))
            specific = specific or _caller_specific(doc, index)
    return tuple(parts), specific


def _who(user: UserModel) -> Hashable:
    return (user.name, user.path, tuple(sorted(user.tags.items())))


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


#: one answer: (can assume (or uncertain), "MFA" / "no MFA" / "MFA unknown", certain)
Answer = tuple[bool, str, bool]
#: (account, role name) -> (admin, mfa, certain), for the roles one can assume
Roles = dict[tuple[str, str], tuple[bool, str, bool]]


@dataclass
class ReachTable:
    """Who can assume what in one model, kept once per class of people whose answers are the
    same (the same statements that can match sts:AssumeRole, and, where one names the caller,
    the same person): `person_reach` spelled out per person, without a row per person and role.
    At 1,000 accounts and 300 people in 4 groups that is 4 maps of 1,000 entries, not 1.2 million."""

    classes: dict[Hashable, Roles] = field(default_factory=dict)
    person_class: dict[str, Hashable] = field(default_factory=dict)
    #: per person, the roles whose trust names the caller (answered for that person alone)
    own: dict[str, Roles] = field(default_factory=dict)

    def of(self, person: str) -> Roles:
        mine = self.classes.get(self.person_class.get(person), {})
        extra = self.own.get(person)
        return {**mine, **extra} if extra else mine

    def rows(self) -> dict[tuple[str, str, str], Reach]:
        return {
            (person, account, role): Reach(person, role, account, *how)
            for person in self.person_class
            for (account, role), how in self.of(person).items()
        }


def reach_table(
    model: AccessModel, *, now: datetime, answers: dict[Hashable, Answer] | None = None
) -> ReachTable:
    """Every user's reach in `model` (see `ReachTable`). `answers` is shared by the models of one
    plan (before and after): an answer depends only on what its signature holds (the role's ARN
    and account, the statements that can match, the caller where named), so what a plan leaves
    as it was is not evaluated twice."""
    people_id = model.account_ids.get(model.people_account, "")
    roles = [r for r in model.roles.values() if _admits_people(r, people_id)]
    answers = {} if answers is None else answers
    table = ReachTable()
    members: dict[tuple[tuple[Hashable, ...], Hashable], list[UserModel]] = {}
    for user in model.users.values():
        parts, specific = _parts((*user.identity, user.boundary))
        key: tuple[tuple[Hashable, ...], Hashable] = (parts, _who(user) if specific else None)
        members.setdefault(key, []).append(user)
        table.person_class[user.name] = key
    for role in roles:
        trust, role_specific = _parts((role.trust,))
        admin = _is_admin(role)
        where = (role.account, role.name)
        for (parts, who), users in members.items():
            asked = users if role_specific and who is None else users[:1]
            for user in asked:
                sig = (
                    role.arn,
                    role.account,
                    parts,
                    trust,
                    who if who is not None else _who(user) if role_specific else None,
                )
                hit = answers.get(sig)
                if hit is None:
                    a = assume_access(model, user, role, now=now)
                    mfa = "MFA" if a.needs_mfa else "no MFA" if a.can_assume else "MFA unknown"
                    hit = answers[sig] = (a.can_assume or a.uncertain, mfa, not a.uncertain)
                can, mfa, certain = hit
                if not can:
                    continue
                if len(asked) > 1:  # the role's trust names the caller: this person's alone
                    table.own.setdefault(user.name, {})[where] = (admin, mfa, certain)
                else:
                    table.classes.setdefault((parts, who), {})[where] = (admin, mfa, certain)
    return table


def person_reach(model: AccessModel, *, now: datetime) -> dict[tuple[str, str, str], Reach]:
    """(person, account, role) -> Reach, for every user who can assume a role of the model (an
    uncertain answer counts, marked so)."""
    return reach_table(model, now=now).rows()


def table_changes(before: ReachTable, after: ReachTable, accounts: list[str]) -> tuple[AccessChange, ...]:
    """`reach_changes` of two tables, compared once per pair of classes, not per person and role."""
    order = {a: i for i, a in enumerate(accounts)}
    compared: dict[tuple[Hashable, Hashable], list[tuple[tuple[str, str], Any, Any]]] = {}
    out: list[AccessChange] = []
    for person in sorted(set(before.person_class) | set(after.person_class)):
        shared = person not in before.own and person not in after.own
        pair = (before.person_class.get(person), after.person_class.get(person))
        diff = compared.get(pair) if shared else None
        if diff is None:
            b, a = before.of(person), after.of(person)
            diff = [(k, b.get(k), a.get(k)) for k in set(b) | set(a) if b.get(k) != a.get(k)]
            diff.sort(key=lambda d: (order.get(d[0][0], len(order)), d[0][0], d[0][1]))
            if shared:
                compared[pair] = diff
        for (account, role), was, now in diff:
            sign = "+" if was is None else "-" if now is None else "~"
            out.append(
                AccessChange(
                    sign,
                    person,
                    role,
                    account,
                    Reach(person, role, account, *was) if was else None,
                    Reach(person, role, account, *now) if now else None,
                )
            )
    return tuple(out)


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

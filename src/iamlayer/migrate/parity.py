"""Who reaches what before and after the move to Identity Center, per person: pure.

Before: the evaluator's answer (iamlayer.access.reach.person_reach): every role each IAM user can
assume, in which account, with or without MFA, from the policies iamlayer renders for the spec
(identity policies, trust policies, their conditions), as AWS evaluates them.

After: what the proposed spec's Identity Center gives the user of the same name: each
(account, permission set) of its assignments, directly or through its groups, and each role it
or its groups are entitled to (the account access manager) in the role's accounts. Identity
Center has no policy to evaluate between a person and an assignment: the assignment is the access.
What the current spec's Identity Center gives already counts before as well, so a person who
only has an Identity Center user is in the table too (an existing group the move adds
assignments to would give them more: `gained`).

A row matches when the person reaches the same account with the same permissions: a permission
set's and a role's permissions are compared as documents (AWS-managed policy ARNs,
customer-managed policies, inline statements without their Sids, boundary, session duration);
an entitled role is the role itself. MFA: an IAM role asks for it in its trust policy; Identity
Center at sign-in, by the instance's settings (AWS's default for an instance asks for it), so a
row is not counted as changed for MFA, and the table shows both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from iamlayer.access.principals import model_from_spec
from iamlayer.access.reach import person_reach
from iamlayer.spec.ic_model import GROUP, USER, PermissionSet, duration_seconds
from iamlayer.spec.model import Role, Spec
from iamlayer.state.normalize import normalize_statement

#: what Identity Center asks at sign-in, shown in the MFA column of the after side
SIGN_IN_MFA = "MFA at sign-in"

SAME, LOST, GAINED = "same", "lost", "gained"


@dataclass(frozen=True)
class Access:
    """One way into one account: a role or a permission set, and the MFA it asks for."""

    kind: str  # "role", "permission set", "entitled role"
    name: str
    mfa: str

    def text(self) -> str:
        return f"{self.kind} {self.name} ({self.mfa})"


@dataclass(frozen=True)
class ParityRow:
    person: str
    account: str
    before: Access | None
    after: Access | None
    verdict: str  # same, lost, gained

    def as_json(self) -> dict[str, Any]:
        def side(a: Access | None) -> dict[str, str] | None:
            return None if a is None else {"kind": a.kind, "name": a.name, "mfa": a.mfa}

        return {
            "person": self.person,
            "account": self.account,
            "before": side(self.before),
            "after": side(self.after),
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class Parity:
    rows: tuple[ParityRow, ...]

    @property
    def differences(self) -> tuple[ParityRow, ...]:
        return tuple(r for r in self.rows if r.verdict != SAME)

    @property
    def holds(self) -> bool:
        return not self.differences


def _statements(doc: Mapping[str, Any] | None) -> list[str]:
    if not doc:
        return []
    raw = doc.get("Statement", [])
    items = raw if isinstance(raw, list) else [raw]
    return sorted(
        json.dumps(normalize_statement({k: v for k, v in dict(st).items() if k != "Sid"}), sort_keys=True)
        for st in items
    )


def role_permissions(spec: Spec, role: Role) -> tuple[Any, ...]:
    """What a session of `role` may do, as comparable data."""
    statements = [s for doc in role.inline_policies.values() for s in _statements(doc)]
    customer = sorted(p.rsplit("/", 1)[-1] for p in role.policies if not p.startswith("arn:aws:iam::aws:"))
    managed = sorted(p for p in role.policies if p.startswith("arn:aws:iam::aws:"))
    boundary = role.permissions_boundary or ""
    if boundary and not boundary.startswith("arn:aws:iam::aws:"):
        boundary = boundary.rsplit("/", 1)[-1]
    return (tuple(managed), tuple(customer), tuple(sorted(statements)), boundary, role.max_session_duration)


def set_permissions(ps: PermissionSet) -> tuple[Any, ...]:
    """What a session of permission set `ps` may do, as `role_permissions` says it of a role."""
    boundary = ps.boundary or ""
    if boundary.startswith("arn:") and not boundary.startswith("arn:aws:iam::aws:"):
        boundary = boundary.rsplit("/", 1)[-1]
    return (
        tuple(sorted(ps.policies)),
        tuple(sorted(ps.customer_managed_policies)),
        tuple(sorted(_statements(ps.inline_policy))),
        boundary,
        duration_seconds(ps.session_duration) or 3600,
    )


def _role_key(spec: Spec, name: str, account: str) -> str | None:
    return next((k for k, r in spec.roles.items() if r.name == name and account in r.accounts), None)


def before_reach(spec: Spec, *, now: datetime) -> dict[tuple[str, str], list[tuple[Access, Any]]]:
    """(person, account) -> each role the evaluator lets the IAM user assume there, and what
    the spec's Identity Center gives the person already (`after_reach`), with their permissions."""
    out = after_reach(spec)
    for (person, account, name), reach in sorted(person_reach(model_from_spec(spec), now=now).items()):
        if person not in spec.users:
            continue
        key = _role_key(spec, name, account)
        perms = role_permissions(spec, spec.roles[key]) if key else ("unknown role", name)
        out.setdefault((person, account), []).append((Access("role", name, reach.mfa), perms))
    return out


def after_reach(spec: Spec) -> dict[tuple[str, str], list[tuple[Access, Any]]]:
    """(person, account) -> each permission set and entitled role each Identity Center user
    reaches there, with its permissions."""
    ic = spec.identity_center
    out: dict[tuple[str, str], list[tuple[Access, Any]]] = {}
    if ic is None:
        return out
    for person in ic.users:
        for account, ps in ic.access_of(person):
            access = Access("permission set", ps, SIGN_IN_MFA)
            out.setdefault((person, account), []).append((access, set_permissions(ic.permission_sets[ps])))
        groups = set(ic.groups_of(person))
        for role in spec.roles.values():
            principals = {(k.upper(), n) for k, _, n in (e.partition("/") for e in role.entitled)}
            if (USER, person) not in principals and not any((GROUP, g) in principals for g in groups):
                continue
            for account in role.accounts:
                access = Access("entitled role", role.name, SIGN_IN_MFA)
                out.setdefault((person, account), []).append((access, role_permissions(spec, role)))
    return out


def parity(before_spec: Spec, after_spec: Spec, *, now: datetime) -> Parity:
    """Every person's reach before (IAM, `before_spec`) and after (Identity Center, `after_spec`),
    row by row, in person then account order of the spec."""
    before, after = before_reach(before_spec, now=now), after_reach(after_spec)
    order = {a: i for i, a in enumerate(after_spec.accounts)}
    ic = after_spec.identity_center
    people = {p: i for i, p in enumerate(dict.fromkeys([*after_spec.users, *(ic.users if ic else ())]))}
    rows: list[ParityRow] = []
    for key in sorted(
        set(before) | set(after), key=lambda k: (people.get(k[0], 0), k[0], order.get(k[1], 0))
    ):
        person, account = key
        left = list(before.get(key, []))
        right = list(after.get(key, []))
        for access, perms in left:
            match = next((i for i, (_, p) in enumerate(right) if p == perms), None)
            if match is None:
                rows.append(ParityRow(person, account, access, None, LOST))
            else:
                rows.append(ParityRow(person, account, access, right.pop(match)[0], SAME))
        rows += [ParityRow(person, account, None, access, GAINED) for access, _ in right]
    return Parity(tuple(rows))

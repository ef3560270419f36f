"""Validation of the spec's `offboarded:` block: people who left, while their sessions may live.

    offboarded:
      - {user: jane.doe, at: 2026-12-06T18:00:00Z, roles: [DevOps@shared, Auditor@security],
         permission_sets: [AdminAccess]}

`iamlayer offboard` writes these entries (iamlayer.offboard). `user` is the name that named the
person's sessions, `at` an ISO 8601 time with a zone, `roles` the roles (spec key `@` account) and
`permission_sets` the Identity Center permission sets that get the session Deny. An entry whose
every Deny has ended (`at` + the longest session) is not an error: a warning says so, and it
renders nothing, so the next plan removes the statements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from iamlayer.spec.grants_validate import time_with_zone
from iamlayer.spec.ic_model import IdentityCenter, duration_seconds
from iamlayer.spec.model import Offboarding, Role
from iamlayer.spec.nodes import Node
from iamlayer.spec.policy_grammar import did_you_mean

if TYPE_CHECKING:
    from iamlayer.spec.validate import SpecBuilder

OFFBOARDED_FIELDS: Final = ("user", "at", "roles", "permission_sets")
EXAMPLE: Final = "e.g. {user: jane.doe, at: 2026-12-06T18:00:00Z, roles: [DevOps@shared]}"


def build_offboarded(
    sb: SpecBuilder,
    node: Node,
    roles: Mapping[str, Role],
    identity_center: IdentityCenter | None,
    *,
    now: datetime | None = None,
) -> tuple[Offboarding, ...]:
    """The `offboarded:` list; wrong entries are reported and left out. `now` (default: the
    clock) decides which entries have ended (a warning, not an error)."""
    r = sb.r
    now = now or datetime.now(UTC)
    sets = identity_center.permission_sets if identity_center is not None else {}
    out: list[Offboarding] = []
    for item in r.items(node, "offboarded ({user: ..., at: ..., roles: [...]})"):
        f = r.fields(item, OFFBOARDED_FIELDS, required=("user", "at"), what="an offboarding")
        if f is None:
            continue
        user = r.string(f["user"]) if "user" in f else None
        at = time_with_zone(sb, f["at"]) if "at" in f else None
        where = _roles(sb, f["roles"], roles) if "roles" in f else ()
        named = (
            [r.reference(n, list(sets), "permission set", "identity_center.permission_sets")
             for n in r.items(f["permission_sets"], "permission set names")]
            if "permission_sets" in f
            else []
        )  # fmt: skip
        if user is None or at is None or where is None or None in named:
            continue
        entry = Offboarding(user, at, where, tuple(n for n in named if n), item.line, item.path)
        longest = max(
            [roles[k].max_session_duration for k, _ in where]
            + [duration_seconds(sets[n].session_duration) or 0 for n in entry.permission_sets]
            + [0]
        )
        if not entry.active(now, longest):
            r.warn(
                item.path,
                f"every session {user} held before {entry.at_text} has ended; the plan removes its Deny",
                "delete the entry from the spec once it is applied",
            )
        out.append(entry)
    return tuple(out)


def _roles(sb: SpecBuilder, node: Node, roles: Mapping[str, Role]) -> tuple[tuple[str, str], ...] | None:
    """`<role>@<account>` items: each a role of the spec in an account where it is."""
    out: list[tuple[str, str]] = []
    ok = True
    for item in sb.r.items(node, "roles (<role>@<account>)"):
        text = sb.r.string(item)
        key, at, account = (text or "").partition("@")
        if not at:
            sb.r.error(item, f"{item.path} {text!r} is not <role>@<account>", EXAMPLE)
            ok = False
            continue
        if key not in roles:
            guess = did_you_mean(key, list(roles))
            sb.r.error(item, f"unknown role {key!r}", f"did you mean {guess!r}?" if guess else EXAMPLE)
            ok = False
        elif account not in roles[key].accounts:
            listed = ", ".join(roles[key].accounts) or "no account"
            sb.r.error(item, f"role {key} is not in account {account!r}", f"the role is in: {listed}")
            ok = False
        else:
            out.append((key, account))
    return tuple(out) if ok else None


def role_refs(entries: Sequence[tuple[str, str]]) -> list[str]:
    """How `roles:` spells (role key, account) pairs: `DevOps@shared`."""
    return [f"{key}@{account}" for key, account in entries]

"""Validation of the spec's `grants:` block: temporary access that AWS ends by itself.

    grants:
      - {who: jane.doe, assume: DevOps, accounts: [apps-prd], until: 2026-12-11T18:00:00Z,
         reason: INC-4521}

`who` is a user of the spec, `assume` a role of the spec, `accounts` accounts the role is in
(default: every one), `until` an ISO 8601 time with a zone. A grant whose `until` has passed is
not an error: it is reported as a warning, and renders nothing, so the next plan removes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Final

from iamlayer.spec import policy_grammar as grammar
from iamlayer.spec.model import Grant, Role
from iamlayer.spec.nodes import Node

if TYPE_CHECKING:
    from iamlayer.spec.validate import SpecBuilder

GRANT_FIELDS: Final = ("who", "assume", "accounts", "until", "reason")
UNTIL_RULE: Final = "an ISO 8601 time with a zone, e.g. 2026-12-11T18:00:00Z or 2026-12-11T19:00:00+01:00"
EXAMPLE: Final = "e.g. {who: jane.doe, assume: DevOps, accounts: [apps-prd], until: 2026-12-11T18:00:00Z, reason: INC-4521}"


def parse_until(value: object) -> datetime | None:
    """A timezone-aware time from what YAML gave (a datetime for an unquoted time, else a
    string); None when it is not an ISO 8601 time with a zone (a date alone has none)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        return None
    return value


def build_grants(
    sb: SpecBuilder,
    node: Node,
    users: Sequence[str],
    roles: Mapping[str, Role],
    accounts: Sequence[str],
    *,
    now: datetime | None = None,
) -> tuple[Grant, ...]:
    """The `grants:` list; wrong grants are reported and left out. `now` (default: the clock)
    decides which grants have expired (a warning, not an error)."""
    r = sb.r
    now = now or datetime.now(UTC)
    out: list[Grant] = []
    for item in r.items(node, "grants ({who: ..., assume: ..., until: ...})"):
        f = r.fields(item, GRANT_FIELDS, required=("who", "assume", "until"), what="a grant")
        if f is None:
            continue
        who = r.reference(f["who"], users, "user", "users") if "who" in f else None
        role_key = r.reference(f["assume"], list(roles), "role", "roles") if "assume" in f else None
        role = roles.get(role_key) if role_key else None
        where = _accounts(sb, f.get("accounts"), role, accounts)
        until = time_with_zone(sb, f["until"]) if "until" in f else None
        reason = (r.string(f["reason"]) or "") if "reason" in f else ""
        if who is None or role_key is None or role is None or where is None or until is None:
            continue
        grant = Grant(who, role_key, where, until, reason, item.line, item.path)
        if not grant.active(now):
            r.warn(
                item.path,
                f"the grant of {role_key} to {who} ended at {grant.until_text}; the plan removes it",
                "delete the grant from the spec once it is applied",
            )
        out.append(grant)
    return tuple(out)


def time_with_zone(sb: SpecBuilder, node: Node) -> datetime | None:
    """The time at `node` (`until:` of a grant, `at:` of an offboarding), or None with an error."""
    until = parse_until(node.value)
    if until is None:
        shown = node.value.isoformat() if isinstance(node.value, date) else node.value
        sb.r.error(node, f"{node.path} {shown!r} is not an ISO 8601 time with a zone", UNTIL_RULE)
    return until


def _accounts(
    sb: SpecBuilder, node: Node | None, role: Role | None, accounts: Sequence[str]
) -> tuple[str, ...] | None:
    """The grant's accounts: each an account of the spec where the role is; default all of them."""
    if role is None:
        return None
    if node is None:
        return role.accounts
    out: list[str] = []
    ok = True
    for item in sb.r.items(node, "account names"):
        name = sb.r.reference(item, accounts, "account", "accounts")
        if name is None:
            ok = False
        elif name not in role.accounts:
            guess = grammar.did_you_mean(name, role.accounts)
            listed = f"the role is in: {', '.join(role.accounts) or 'no account'}"
            sb.r.error(
                item,
                f"role {role.name} is not in account {name!r}",
                f"did you mean {guess!r}? {listed}" if guess else listed,
            )
            ok = False
        else:
            out.append(name)
    if not out and ok:
        sb.r.error(node, "a grant needs at least one account", EXAMPLE)
        return None
    return tuple(out) if ok else None

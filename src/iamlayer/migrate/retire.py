"""The retirement plan for the IAM users once their people are in Identity Center: pure.

Each user's console password and access keys with their last use (from the credential report
when AWS was read, else "unknown"), the steps to retire them in iamlayer's terms, and the order:
the users whose credentials have gone unused longest first (nothing to break), those whose
parity differs or who keep access only IAM gives (a group's own policies) held back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from iamlayer.audit.model import CredentialReport, CredentialRow
from iamlayer.migrate.parity import Parity
from iamlayer.spec.model import Spec

UNKNOWN = "unknown"
NEVER = "never"


@dataclass(frozen=True)
class Credential:
    what: str  # "password", "access key 1"
    last_used: str  # ISO 8601 date and time, "never", or "unknown" (AWS not read)


@dataclass(frozen=True)
class Retirement:
    user: str
    credentials: tuple[Credential, ...]
    steps: tuple[str, ...]
    hold: str = ""  # why not yet ("" when nothing holds it back)

    def as_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "credentials": [{"what": c.what, "last_used": c.last_used} for c in self.credentials],
            "steps": list(self.steps),
            "hold": self.hold or None,
        }


def _when(value: datetime | None) -> str:
    return NEVER if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _credentials(spec: Spec, user: str, row: CredentialRow | None, live: bool) -> tuple[Credential, ...]:
    u = spec.users[user]
    if not live:
        out = [Credential("password", UNKNOWN)] if u.console else []
        return (*out, *([Credential("access key", UNKNOWN)] if u.access_key else []))
    if row is None:
        return ()
    out = [Credential("password", _when(row.password_last_used))] if row.password_enabled else []
    out += [Credential(f"access key {k.slot}", _when(k.last_used)) for k in row.active_keys]
    return tuple(out)


def _last_activity(creds: tuple[Credential, ...]) -> str:
    """The latest use of any credential ("" when none was ever used; UNKNOWN offline)."""
    used = [c.last_used for c in creds if c.last_used not in (NEVER, UNKNOWN)]
    if any(c.last_used == UNKNOWN for c in creds):
        return UNKNOWN
    return max(used, default="")


def retirement_plan(
    spec: Spec, parity: Parity, moved: set[str], kept_groups: set[str], report: CredentialReport | None
) -> tuple[Retirement, ...]:
    """One entry per IAM user of `spec`, in the order to retire them. `moved`: the users the
    proposal makes in Identity Center; `kept_groups`: IAM groups whose own policies stay with IAM;
    `report`: the people account's credential report (None: AWS not read)."""
    rows = {r.user: r for r in report.users} if report else {}
    differs = {r.person for r in parity.differences}
    out: list[tuple[tuple[int, int, str], Retirement]] = []
    for n, (name, user) in enumerate(spec.users.items()):
        creds = _credentials(spec, name, rows.get(name), report is not None)
        steps = [
            f"{name} signs in at the access portal and writes profiles: iamlayer credentials configure --sso --user {name}"
        ]
        if any(c.what.startswith("access key") for c in creds) or user.access_key:
            steps.append(
                f"deactivate the access key(s) (aws iam update-access-key --status Inactive) and wait a cycle of its "
                f"jobs; then remove access_key from users.{name}: the next apply deletes them"
            )
        if any(c.what == "password" for c in creds) or user.console:
            steps.append(f"set console: false on users.{name}: the next apply deletes the password")
        steps.append(f"remove users.{name} from the spec: the next apply deletes the IAM user")
        hold = ""
        if name not in moved:
            hold = "not moved to Identity Center"
        elif name in differs:
            hold = "parity differs for this person (see the table)"
        elif kept := sorted(set(user.groups) & kept_groups):
            hold = f"group(s) {', '.join(kept)} give access that stays with IAM"
        last = _last_activity(creds)
        # Held last; then unknown (offline) in spec order; else least recently used first.
        rank = (1 if hold else 0, 1 if last == UNKNOWN else 0, last if last != UNKNOWN else f"{n:08d}")
        out.append((rank, Retirement(name, creds, tuple(steps), hold)))
    return tuple(r for _, r in sorted(out, key=lambda item: item[0]))

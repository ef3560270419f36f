"""The plan as a value: ordered changes, each with an address, an action, before and after.

Apply consumes a Plan and nothing else, so each Change carries everything its handler needs in
`after` (and `before` for deletes). `note` is for people only and never drives apply. A plan made
from live state carries each account's state fingerprint; applying it after the state moved is
refused as stale.

JSON plan document (format_version 1):

    {
      "format_version": 1,
      "project": "acme", "spec": "/path/iamlayer.yaml", "spec_digest": "<sha256>", "created_at": "...",
      "refresh_credentials": false, "warnings": ["..."],
      "summary": {"create": 3, "update": 1, "delete": 0, "adopt": 0},
      "accounts": [
        {"account": "security", "account_id": "222222222222", "identity": "<ARN acted as>",
         "via": "caller | profile NAME | role ARN", "fingerprint": "<sha256 of the state read>",
         "error": null, "notices": [...], "api_calls": 7,
         "summary": {...},
         "changes": [{"address": "security/user.jane.doe", "account": "security", "kind": "user",
                      "name": "jane.doe", "sub": "", "action": "create", "before": null,
                      "after": {...}, "note": ""}]}
      ],
      "access_changes": [{"change": "+", "person": "jane.doe", "role": "DevOps", "account": "apps-prd",
                          "before": null, "after": {"admin": true, "mfa": "MFA", "requires_mfa": true,
                          "certain": true}, "text": "+ jane.doe can assume DevOps (admin) in apps-prd, MFA"}],
      "stats": {"total": 9, "by_account": {...}, "by_operation": {...}}
    }

`access_changes` ("who gains what") is each person's reach the plan changes: `+` a role they can
newly assume, `-` one they no longer can, `~` the same role with a different MFA requirement or
admin status (iamlayer.plan.access_changes).

No secret is ever part of a plan: passwords and keys are made during apply.

`plan_to_json` and `plan_from_json` convert; iamlayer.plan.planfile reads and writes the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from iamlayer.errors import PlanError
from iamlayer.spec.organization import SelectorMatch

PLAN_FORMAT_VERSION = 1


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    # An existing resource without any iamlayer ownership marker, named by a spec with `adopt:
    # true`: apply adds the marker (a tag, or a group's marker policy) and changes nothing else.
    ADOPT = "adopt"

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "delete": "-", "adopt": "&"}[self.value]


class Kind(StrEnum):
    """Resource kinds. What each one is (its reads, fields, ownership, quotas, place in the
    plan's order, dependencies, handlers' actions, Terraform types) is declared once, in
    iamlayer.kinds."""

    ACCOUNT_ALIAS = "account_alias"
    PASSWORD_POLICY = "password_policy"
    POLICY = "policy"
    ROLE = "role"
    GROUP = "group"
    ROLE_POLICY_ATTACHMENT = "role_policy_attachment"
    ROLE_INLINE_POLICY = "role_inline_policy"
    GROUP_POLICY_ATTACHMENT = "group_policy_attachment"
    GROUP_INLINE_POLICY = "group_inline_policy"
    USER = "user"
    # The user's inline policy of temporary grants (iamlayer-grants); no other user inline policy.
    USER_INLINE_POLICY = "user_inline_policy"
    GROUP_MEMBERSHIP = "group_membership"
    LOGIN_PROFILE = "login_profile"
    ACCESS_KEY = "access_key"
    # A console password an interrupted apply encrypted and staged (outputs/.../password.asc.pending)
    # without learning whether AWS made it live: apply promotes it (live) or discards it (never was).
    STAGED_PASSWORD = "staged_password"
    # IAM Identity Center (iamlayer.plan.ic_diff), in the account where the instance lives.
    IC_USER = "ic_user"
    IC_GROUP = "ic_group"
    PERMISSION_SET = "permission_set"
    IC_MEMBERSHIP = "ic_membership"
    IC_ASSIGNMENT = "ic_assignment"
    # Re-provisioning a changed permission set to an account where it is assigned.
    IC_PROVISION = "ic_provision"
    # The account access manager (service account-access): its one application per account, and
    # each entitlement of an Identity Center principal to an IAM role of the spec.
    ACCESS_APPLICATION = "access_application"
    ENTITLEMENT = "entitlement"
    # An IAM OpenID Connect identity provider that CI jobs federate through (`ci:`), named by its
    # issuer's host (token.actions.githubusercontent.com).
    OIDC_PROVIDER = "oidc_provider"


@dataclass(frozen=True, order=True)
class Address:
    """Where a change applies: `security/user.jane.doe`, `shared/role_inline_policy.DevOps/extra`."""

    account: str
    kind: Kind
    name: str
    sub: str = ""  # the second part of a pair: policy ARN, inline policy name, group of a membership

    def __str__(self) -> str:
        tail = f"{self.name}/{self.sub}" if self.sub else self.name
        return f"{self.account}/{self.kind.value}.{tail}"

    def to_json(self) -> dict[str, str]:
        return {"account": self.account, "kind": self.kind.value, "name": self.name, "sub": self.sub}

    @classmethod
    def from_json(cls, d: dict[str, str]) -> Address:
        return cls(d["account"], Kind(d["kind"]), d["name"], d.get("sub", ""))


@dataclass(frozen=True)
class Change:
    address: Address
    action: Action
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    note: str = ""  # for people: why, or what else goes with it

    @property
    def stage(self) -> int:
        """Place in the plan's order (iamlayer.kinds.stage): creates/updates in kind order,
        deletes after them in reverse order (except the few that go first)."""
        from iamlayer.kinds import stage  # the registry imports this module

        return stage(self.address.kind, self.action)

    def to_json(self) -> dict[str, Any]:
        return {
            "address": str(self.address),
            **self.address.to_json(),
            "action": self.action.value,
            "before": self.before,
            "after": self.after,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Change:
        return cls(
            address=Address.from_json(d),
            action=Action(d["action"]),
            before=d.get("before"),
            after=d.get("after"),
            note=d.get("note", ""),
        )


@dataclass(frozen=True)
class AccountPlan:
    """One account's part of the plan."""

    account: str
    account_id: str
    identity: str  # who iamlayer acted as there (ARN), and how: "role arn:...", "caller", "profile x"
    via: str
    fingerprint: str  # of the live state the changes were computed from
    changes: tuple[Change, ...] = ()
    error: str | None = None  # the account could not be planned
    notices: tuple[str, ...] = ()  # things a person should know that are not changes
    api_calls: int = 0
    # The error is that the account could not be reached or read (its access role missing,
    # AccessDenied, throttled past retries), not a conflict in it: apply goes on without it.
    unreadable: bool = False

    def counts(self) -> dict[str, int]:
        return {a.value: sum(1 for c in self.changes if c.action is a) for a in Action}


@dataclass(frozen=True, slots=True)
class Reach:
    """One person can assume one role: how (`mfa`: "MFA" when only an MFA session can, else "no
    MFA"), whether the role is an administrator, and whether the evaluator was certain.

    Slotted: a plan holds one per person and role they can assume, before and after (600,000 at
    1,000 accounts and 300 people), and a slotted instance is a third smaller."""

    person: str
    role: str
    account: str
    admin: bool
    mfa: str
    certain: bool = True

    def describe(self) -> str:
        admin = " (admin)" if self.admin else ""
        unsure = " (uncertain: it depends on what the evaluator could not read)" if not self.certain else ""
        return f"{self.person} can assume {self.role}{admin} in {self.account}, {self.mfa}{unsure}"

    def as_json(self) -> dict[str, Any]:
        return {
            "admin": self.admin,
            "mfa": self.mfa,
            "requires_mfa": self.mfa == "MFA",
            "certain": self.certain,
        }


@dataclass(frozen=True)
class AccessChange:
    """A difference in one person's reach: `+` gained, `-` lost, `~` changed (MFA or admin)."""

    sign: str
    person: str
    role: str
    account: str
    before: Reach | None
    after: Reach | None

    def describe(self) -> str:
        if self.after is None:
            assert self.before is not None
            return f"- {self.before.describe()}"
        if self.before is None:
            return f"+ {self.after.describe()}"
        was = []
        if self.before.mfa != self.after.mfa:
            was.append(self.before.mfa)
        if self.before.admin != self.after.admin:
            was.append("admin" if self.before.admin else "not admin")
        if self.before.certain != self.after.certain:
            was.append("certain" if self.before.certain else "uncertain")
        return f"~ {self.after.describe()}; was {', '.join(was)}"

    def as_json(self) -> dict[str, Any]:
        return {
            "change": self.sign,
            "person": self.person,
            "role": self.role,
            "account": self.account,
            "before": self.before.as_json() if self.before else None,
            "after": self.after.as_json() if self.after else None,
            "text": self.describe(),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> AccessChange:
        def reach(r: Mapping[str, Any] | None) -> Reach | None:
            if r is None:
                return None
            return Reach(
                d["person"], d["role"], d["account"], bool(r["admin"]), str(r["mfa"]), bool(r["certain"])
            )

        return cls(
            str(d["change"]),
            d["person"],
            d["role"],
            d["account"],
            reach(d.get("before")),
            reach(d.get("after")),
        )


@dataclass(frozen=True)
class Plan:
    project: str
    spec_path: str
    spec_digest: str
    accounts: tuple[AccountPlan, ...]
    created_at: str
    stats: dict[str, Any] = field(default_factory=dict)
    # Made reading every user one by one instead of trusting the credential report.
    refresh_credentials: bool = False
    # Who gains what: each person's reach (roles they can assume) that the plan changes.
    access: tuple[AccessChange, ...] = ()
    # What each OU selector (and `organization: true`) of the spec matched (iamlayer.spec.organization).
    selections: tuple[SelectorMatch, ...] = ()
    # Read from a file (`iamlayer plan --out`): apply checks it is still current before using it.
    # Where the plan came from, not what it says: not part of a plan's equality.
    saved: bool = field(default=False, compare=False)
    # For the top of the plan, from the team's backend: this checkout is behind the last apply, a
    # user another operator just created would be deleted (iamlayer.state.review). Never drive apply.
    warnings: tuple[str, ...] = ()

    @property
    def changes(self) -> tuple[Change, ...]:
        return tuple(c for a in self.accounts for c in a.changes)

    @property
    def errors(self) -> list[AccountPlan]:
        """The accounts that could not be planned (each says why in its `error`)."""
        return [a for a in self.accounts if a.error]

    @property
    def unreadable(self) -> list[AccountPlan]:
        """The accounts that could not be reached or read: apply goes on with the others."""
        return [a for a in self.accounts if a.error and a.unreadable]

    def counts(self) -> dict[str, int]:
        return {a.value: sum(1 for c in self.changes if c.action is a) for a in Action}

    @property
    def empty(self) -> bool:
        """Nothing to do: no change, and every account was planned. A plan with an account that
        could not be read is never empty, even without a change: that account's state is unknown,
        and "skip apply, all is well" would be the wrong conclusion for a caller to draw."""
        return not self.changes and not self.errors


def plan_to_json(plan: Plan) -> dict[str, Any]:
    return {
        "format_version": PLAN_FORMAT_VERSION,
        "project": plan.project,
        "spec": plan.spec_path,
        "spec_digest": plan.spec_digest,
        "created_at": plan.created_at,
        "refresh_credentials": plan.refresh_credentials,
        "warnings": list(plan.warnings),
        "summary": plan.counts(),
        "accounts": [
            {
                "account": a.account,
                "account_id": a.account_id,
                "identity": a.identity,
                "via": a.via,
                "fingerprint": a.fingerprint,
                "error": a.error,
                "unreadable": a.unreadable,
                "notices": list(a.notices),
                "api_calls": a.api_calls,
                "summary": a.counts(),
                "changes": [c.to_json() for c in a.changes],
            }
            for a in plan.accounts
        ],
        "access_changes": [c.as_json() for c in plan.access],
        "selectors": [m.as_json() for m in plan.selections],
        "stats": plan.stats,
    }


def _field(d: Any, key: str, where: str) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise PlanError(f"missing field {where}{key}; make a new plan")
    return d[key]


def plan_from_json(data: dict[str, Any]) -> Plan:
    """The Plan in a JSON plan document (see the module docstring); PlanError names what is missing."""
    if data.get("format_version") != PLAN_FORMAT_VERSION:
        raise PlanError(
            f"unsupported plan format {data.get('format_version')!r} (this iamlayer reads "
            f"{PLAN_FORMAT_VERSION}); make a new plan"
        )
    for i, a in enumerate(_field(data, "accounts", "")):
        for key in ("account", "account_id", "identity", "via", "fingerprint"):
            _field(a, key, f"accounts[{i}].")
        for j, c in enumerate(_field(a, "changes", f"accounts[{i}].")):
            for key in ("account", "kind", "name", "action"):
                _field(c, key, f"accounts[{i}].changes[{j}].")
            try:
                Change.from_json(c)
            except ValueError as exc:
                raise PlanError(f"accounts[{i}].changes[{j}]: {exc}; make a new plan") from None
    for key in ("project", "spec", "spec_digest", "created_at"):
        _field(data, key, "")
    return Plan(
        project=data["project"],
        spec_path=data["spec"],
        spec_digest=data["spec_digest"],
        created_at=data["created_at"],
        stats=data.get("stats", {}),
        refresh_credentials=bool(data.get("refresh_credentials", False)),
        access=tuple(AccessChange.from_json(c) for c in data.get("access_changes", [])),
        selections=tuple(SelectorMatch.from_json(m) for m in data.get("selectors", [])),
        saved=True,
        warnings=tuple(data.get("warnings", ())),
        accounts=tuple(
            AccountPlan(
                account=a["account"],
                account_id=a["account_id"],
                identity=a["identity"],
                via=a["via"],
                fingerprint=a["fingerprint"],
                error=a.get("error"),
                unreadable=bool(a.get("unreadable", False)),
                notices=tuple(a.get("notices", [])),
                api_calls=a.get("api_calls", 0),
                changes=tuple(Change.from_json(c) for c in a["changes"]),
            )
            for a in data["accounts"]
        ),
    )

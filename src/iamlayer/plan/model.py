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
      "stats": {"total": 9, "by_account": {...}, "by_operation": {...}}
    }

No secret is ever part of a plan: passwords and keys are made during apply.

`plan_to_json` and `plan_from_json` convert; iamlayer.plan.planfile reads and writes the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from iamlayer.errors import PlanError

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
    """Resource kinds, in the order they are created (deletes run in reverse)."""

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


#: The order of the plan's changes, for people: creates by kind, deletes after them in reverse.
#: Apply does not wait stage by stage: it follows the changes' dependencies
#: (iamlayer.apply.graph), and this order only breaks ties between changes ready together.
STAGE: dict[Kind, int] = {
    Kind.ACCOUNT_ALIAS: 0,
    Kind.PASSWORD_POLICY: 0,
    Kind.POLICY: 1,
    Kind.ROLE: 2,
    Kind.GROUP: 2,
    Kind.ROLE_POLICY_ATTACHMENT: 3,
    Kind.ROLE_INLINE_POLICY: 3,
    Kind.GROUP_POLICY_ATTACHMENT: 3,
    Kind.GROUP_INLINE_POLICY: 3,
    Kind.USER: 4,
    Kind.GROUP_MEMBERSHIP: 5,
    Kind.LOGIN_PROFILE: 6,
    Kind.ACCESS_KEY: 6,
    Kind.STAGED_PASSWORD: 6,
    # Principals and permission sets first; assignments after them, and after the policies their
    # permission sets reference are made in the target accounts (POLICY); deletes in reverse.
    Kind.IC_USER: 2,
    Kind.IC_GROUP: 2,
    Kind.PERMISSION_SET: 2,
    Kind.IC_MEMBERSHIP: 3,
    Kind.IC_ASSIGNMENT: 4,
    # After every change to the permission set itself (a detached policy included), so the
    # accounts get the final version.
    Kind.IC_PROVISION: 5,
}
LAST_STAGE = max(STAGE.values())
#: Deletes that run among the creates, in this stage, instead of after all of them. An access
#: key's delete never depends on a create, and AWS allows two keys per user: a key whose secret
#: nobody holds (left by an interrupted apply) must go before its replacement is made, or two
#: such keys block every later create with LimitExceeded.
EARLY_DELETE_STAGE: dict[Kind, int] = {Kind.ACCESS_KEY: STAGE[Kind.ACCESS_KEY] - 1}


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
        """Place in the plan's order (see STAGE): creates/updates in kind order, deletes after
        them in reverse order (except the few that go first, see EARLY_DELETE_STAGE)."""
        kind = self.address.kind
        s = STAGE[kind]
        if self.action is not Action.DELETE:
            return s
        return EARLY_DELETE_STAGE.get(kind, LAST_STAGE + 1 + (LAST_STAGE - s))

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

    def counts(self) -> dict[str, int]:
        return {a.value: sum(1 for c in self.changes if c.action is a) for a in Action}


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
                "notices": list(a.notices),
                "api_calls": a.api_calls,
                "summary": a.counts(),
                "changes": [c.to_json() for c in a.changes],
            }
            for a in plan.accounts
        ],
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
                notices=tuple(a.get("notices", [])),
                api_calls=a.get("api_calls", 0),
                changes=tuple(Change.from_json(c) for c in a["changes"]),
            )
            for a in data["accounts"]
        ),
    )

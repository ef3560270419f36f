"""The questions of `iamlayer access`, asked by name: the library the CLI calls.

    ask_can(model, spec, "jane.doe", "sts:AssumeRole", "role/DevOps@apps-prd", signing, now=...)
        -> CanAnswer       the decision, and the variants worth showing beside it
    role_accounts(model, "DevOps") -> ["shared", "apps-prd", ...]
    ask_who_can_assume(model, spec, "DevOps", "apps-prd", now=...) -> AssumeReport
    accounts_for(spec, resource) -> the accounts a live model must read for a request on it

Names are resolved against the model (the people account's users, each account's roles) and
the spec (account names). A name that is not there raises QueryError naming the part of the
question that is wrong, with a did-you-mean. Pure: the caller builds the model, from the spec
(`model_from_spec`) or from AWS (`iamlayer.aws.access_reads.read_live_model`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from iamlayer.access.context import Signing
from iamlayer.access.evaluate import Decision
from iamlayer.access.policy import ResourceMode
from iamlayer.access.principals import AccessModel, RoleModel, UserModel
from iamlayer.access.queries import (
    AssumeReport,
    Entitled,
    Target,
    can,
    is_role_arn,
    target_for_arn,
    who_can_assume,
)
from iamlayer.errors import QueryError
from iamlayer.spec.model import EVERY_ACCOUNT, Spec, parse_role_ref
from iamlayer.spec.policy_grammar import did_you_mean

#: an action as a request names it: service:Action, no wildcard
ACTION = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9]+", re.ASCII)


def hint(word: str, choices: list[str], what: str) -> str:
    """A did-you-mean for `word`, else the valid `choices` (named `what`)."""
    guess = did_you_mean(word, choices)
    if guess:
        return f"did you mean {guess!r}?"
    return f"{what}: {', '.join(choices)}" if choices else f"there are no {what}"


def check_action(action: str) -> str:
    if not ACTION.fullmatch(action):
        raise QueryError(
            f"{action!r} is not an action: write service:Action, e.g. sts:AssumeRole (no wildcards)",
            argument="action",
        )
    return action


def check_account(spec: Spec, name: str, argument: str) -> str:
    """`name`, an account of the spec; QueryError on `argument` otherwise."""
    if name not in spec.accounts:
        raise QueryError(
            f"no account {name!r} in the spec; {hint(name, list(spec.accounts), 'accounts')}",
            argument=argument,
        )
    return name


def accounts_for(spec: Spec, resource: str) -> list[str]:
    """The accounts whose state a request on `resource` needs (beyond the people account)."""
    ref = parse_role_ref(resource)
    if ref is not None and ref[1] in spec.accounts:
        return [ref[1]]
    if resource.startswith("arn:") and len(resource.split(":")) > 4:
        account_id = resource.split(":")[4]
        return [a for a, acc in spec.accounts.items() if acc.id == account_id]
    return []


def find_user(model: AccessModel, name: str) -> UserModel:
    user = model.users.get(name)
    if user is None:
        raise QueryError(
            f"no user {name!r} in the people account; {hint(name, sorted(model.users), 'users')}",
            argument="user",
        )
    return user


def role_accounts(model: AccessModel, name: str) -> list[str]:
    """The accounts that hold a role `name`; QueryError (on "role") when none does."""
    where = [r.account for r in model.roles_named(name)]
    if not where:
        raise QueryError(f"no role {name!r}; {hint(name, model.role_names(), 'roles')}", argument="role")
    return where


def find_role(model: AccessModel, name: str, account: str, argument: str) -> RoleModel:
    """Role `name` in `account`; QueryError on `argument` when it is not there."""
    role = model.role(name, account)
    if role is not None:
        return role
    where = [r.account for r in model.roles_named(name)]
    if where:
        raise QueryError(
            f"role {name} is not in account {account}; it is in: {', '.join(where)}", argument=argument
        )
    raise QueryError(f"no role {name!r}; {hint(name, model.role_names(), 'roles')}", argument=argument)


def find_target(model: AccessModel, spec: Spec, text: str) -> Target:
    """The target a resource names: an ARN, `*`, or role/<name>@<account>."""
    if text == "*":
        return Target.everything()
    ref = parse_role_ref(text)
    if ref is not None:
        name, account = ref
        if account == EVERY_ACCOUNT:
            raise QueryError(
                "name one account (role/<name>@<account>); `iamlayer access who-can-assume` covers them all",
                argument="resource",
            )
        check_account(spec, account, "resource")
        role = find_role(model, name, account, "resource")
        return Target(role.arn, role)
    if text.startswith("arn:"):
        target = target_for_arn(model, text)
        owner = model.account_of(text.split(":")[4]) if len(text.split(":")) > 4 else None
        if is_role_arn(text) and target.role is None and owner is not None:
            # A role ARN in one of the layer's accounts must name one of its roles.
            role = find_role(model, text.rsplit("/", 1)[-1], owner, "resource")
            raise QueryError(
                f"{text} is not the ARN of role {role.name} in {owner}: {role.arn}", argument="resource"
            )
        return target
    raise QueryError(
        f"{text!r} is not a resource: give an ARN, *, or role/<name>@<account>", argument="resource"
    )


@dataclass(frozen=True)
class CanAnswer:
    """May a user call an action on a target: the decision, and the variants worth knowing."""

    user: UserModel
    action: str
    target: Target
    signing: Signing
    decision: Decision
    source: str  # the model's: "spec" or "live"
    #: on `*`, when denied: whether it is allowed on some resources
    on_some: Decision | None = None
    #: on `*`, when allowed: whether that holds on every resource
    on_every: Decision | None = None
    #: asked without saying whether MFA is used: the answer with MFA
    with_mfa: Decision | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            **self.decision.as_json(),
            "user": self.user.name,
            "user_arn": self.user.arn,
            "action": self.action,
            "resource": self.target.resource,
            "target": self.target.label,
            "signing": {"credential": self.signing.credential.value, "mfa_age": self.signing.mfa_age},
            "source": self.source,
            **({"on_some_resources": self.on_some.allowed} if self.on_some is not None else {}),
            **({"on_every_resource": self.on_every.allowed} if self.on_every is not None else {}),
        }


def ask_can(
    model: AccessModel,
    spec: Spec,
    user: str,
    action: str,
    resource: str,
    signing: Signing,
    *,
    now: datetime,
    extra: Mapping[str, str | Sequence[str] | None] | None = None,
    compare_mfa: bool = False,
) -> CanAnswer:
    """May `user` call `action` on `resource` (an ARN, `*` or role/<name>@<account>)?

    On `*`, also asks on some resources (when denied) or on every one (when allowed);
    `compare_mfa`: also asks with MFA, to show what MFA would change.
    """
    check_action(action)
    who = find_user(model, user)
    target = find_target(model, spec, resource)
    d = can(model, who, action, target, signing, now=now, extra=extra)
    some = every = other = None
    if target.resource == "*" and not d.allowed:
        some = can(model, who, action, target, signing, now=now, mode=ResourceMode.ANY, extra=extra)
    elif target.resource == "*":
        every = can(model, who, action, target, signing, now=now, mode=ResourceMode.ALL, extra=extra)
    if compare_mfa:
        other = can(model, who, action, target, Signing.with_mfa(0), now=now, extra=extra)
    return CanAnswer(who, action, target, signing, d, model.source, some, every, other)


def ask_who_can_assume(
    model: AccessModel, spec: Spec, role: str, account: str, *, now: datetime
) -> AssumeReport:
    """Every user and group of the people account that can assume `role` in `account`, and how."""
    check_account(spec, account, "account")
    report = who_can_assume(model, find_role(model, role, account, "account"), now=now)
    return dataclasses.replace(report, entitled=entitled_to(spec, report.role.name, account))


def entitled_to(spec: Spec, role: str, account: str) -> tuple[Entitled, ...]:
    """The Identity Center principals `roles.<Role>.entitled` names for IAM role `role` in `account`."""
    ic = spec.identity_center
    out: list[Entitled] = []
    for r in spec.roles.values():
        if r.name != role or account not in r.accounts or ic is None:
            continue
        for item in r.entitled:
            kind, _, name = item.partition("/")
            if kind == "group":
                g = ic.groups[name]
                out.append(Entitled(kind, name, g.external, g.members))
            else:
                out.append(Entitled(kind, name, ic.users[name].external))
    return tuple(dict.fromkeys(out))

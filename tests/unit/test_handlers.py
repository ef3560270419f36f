"""Every change the diff can produce has a handler, and each handler declares what it calls."""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
from collections.abc import Callable
from typing import Any

from click.testing import CliRunner

from iamlayer.apply import access_handlers, credentials, handlers, ic_handlers
from iamlayer.apply.executor import required_permissions
from iamlayer.apply.handlers import HANDLERS
from iamlayer.aws.gateways import account_access as access_gateway
from iamlayer.aws.gateways import iam as iam_gateway
from iamlayer.aws.gateways import identity_center as ic_gateway
from iamlayer.cli.main import cli
from iamlayer.plan.model import Action, Kind

#: what diff emits: every kind can be created and deleted; these can also be updated in place
UPDATABLE = {
    Kind.ACCOUNT_ALIAS,
    Kind.PASSWORD_POLICY,
    Kind.POLICY,
    Kind.ROLE,
    Kind.GROUP,
    Kind.USER,
    Kind.ROLE_INLINE_POLICY,
    Kind.GROUP_INLINE_POLICY,
    Kind.USER_INLINE_POLICY,
    Kind.IC_USER,
    Kind.IC_GROUP,
    Kind.PERMISSION_SET,
}
#: left alone when absent from the spec (the account access manager's one application per account:
#: with no role entitled any more it holds nothing of iamlayer's)
NOT_DELETABLE = {Kind.ACCOUNT_ALIAS, Kind.PASSWORD_POLICY, Kind.ACCESS_APPLICATION}
#: settled (update: promote, delete: discard), never created
SETTLED_ONLY = {Kind.STAGED_PASSWORD}
#: only ever updated: re-provisioning a changed permission set to an account
UPDATE_ONLY = {Kind.IC_PROVISION}


def test_every_planned_change_has_a_handler() -> None:
    for kind in Kind:
        if kind in SETTLED_ONLY:
            assert (kind, Action.UPDATE) in HANDLERS and (kind, Action.DELETE) in HANDLERS, kind
            continue
        if kind in UPDATE_ONLY:
            assert (kind, Action.UPDATE) in HANDLERS, kind
            continue
        assert (kind, Action.CREATE) in HANDLERS, kind
        if kind in UPDATABLE:
            assert (kind, Action.UPDATE) in HANDLERS, kind
        if kind not in NOT_DELETABLE:
            assert (kind, Action.DELETE) in HANDLERS, kind


#: the gateways handlers call through (by the attribute or name that holds them: ctx.iam, iam,
#: ic.sso, sso, ic.store) and the IAM action prefix of the service each one speaks to
GATEWAYS: dict[str, tuple[type, str]] = {
    "iam": (iam_gateway.IamGateway, "iam"),
    "sso": (ic_gateway.SsoAdminGateway, "sso"),
    "store": (ic_gateway.IdentityStoreGateway, "identitystore"),
    "access": (access_gateway.AccountAccessGateway, "account-access"),
}
HELPER_MODULES = (
    handlers,
    credentials,
    ic_handlers,
    access_handlers,
    iam_gateway,
    ic_gateway,
    access_gateway,
)


def _gateway(target: ast.expr) -> tuple[type, str] | None:
    """The gateway class and service prefix of an expression: ctx.iam, iam, ic.sso, sso..."""
    if isinstance(target, ast.Attribute):
        return GATEWAYS.get(target.attr)
    if isinstance(target, ast.Name):
        return GATEWAYS.get(target.id)
    return None


def _calls(fn: Callable[..., Any], seen: set[str] | None = None, service: str = "") -> set[tuple[str, str]]:
    """(service, API method) called by `fn`, following gateway methods and module helpers.

    A handler names a gateway method (`ctx.iam.x`, `ic.sso.x`, `ic.store.x`; called, or passed on
    as `sso.x`); a gateway method calls its client (`self.client.x(...)`, `self.once.x(...)`),
    reads pages (`<client>.get_paginator("x")`) or another method of its own (`self.x`).
    """
    seen = seen if seen is not None else set()
    key = f"{fn.__module__}.{fn.__qualname__}"
    if key in seen:
        return set()
    seen.add(key)
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    owner = getattr(fn, "__qualname__", "").split(".")[0]
    cls = next((c for c, _ in GATEWAYS.values() if c.__name__ == owner), None)
    out: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            gateway = _gateway(node.value)
            if gateway and inspect.isfunction(getattr(gateway[0], node.attr, None)):
                out |= _calls(getattr(gateway[0], node.attr), seen, gateway[1])
            self_method = getattr(cls, node.attr, None) if cls else None
            if (
                isinstance(node.value, ast.Name)
                and node.value.id == "self"
                and inspect.isfunction(self_method)
            ):
                out |= _calls(self_method, seen, service)
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute):
            target = node.func.value
            is_client = (isinstance(target, ast.Attribute) and target.attr in ("client", "once")) or (
                isinstance(target, ast.Name) and target.id == "client"
            )
            if is_client and service:
                if node.func.attr == "get_paginator" and isinstance(node.args[0], ast.Constant):
                    out.add((service, str(node.args[0].value)))
                elif node.func.attr != "get_paginator":
                    out.add((service, node.func.attr))
        if not isinstance(node.func, ast.Name):
            continue
        for module in HELPER_MODULES:
            helper = getattr(module, node.func.id, None)
            if inspect.isfunction(helper) and helper.__module__ == module.__name__:
                out |= _calls(helper, seen, service)
    return out


def _action(call: tuple[str, str]) -> str:
    service, method = call
    return f"{service}:" + "".join(part.capitalize() for part in method.split("_")).replace(
        "Mfa", "MFA"
    ).replace("Ssh", "SSH").replace("OpenIdConnect", "OpenIDConnect").replace("ClientId", "ClientID")


def test_each_handler_declares_the_iam_actions_it_calls() -> None:
    for (kind, action), spec in HANDLERS.items():
        called = {_action(m) for m in _calls(spec.fn)}
        assert called, f"{kind}/{action} calls nothing?"
        missing = called - set(spec.permissions)
        assert not missing, f"{kind.value}/{action.value} calls {sorted(missing)} without declaring them"


def test_operator_policy_lists_every_declared_permission() -> None:
    r = CliRunner().invoke(cli, ["operator-policy"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    actions = {a for st in doc["Statement"] for a in st["Action"]}
    assert set(required_permissions()) <= actions
    assert "iam:GetAccountAuthorizationDetails" in actions and "iam:CreateLoginProfile" in actions

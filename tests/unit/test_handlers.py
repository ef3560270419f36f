"""Every change the diff can produce has a handler, and each handler declares what it calls."""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
from collections.abc import Callable
from typing import Any

from click.testing import CliRunner

from iamlayer.apply import credentials, handlers, ic_handlers
from iamlayer.apply.executor import required_permissions
from iamlayer.apply.handlers import HANDLERS
from iamlayer.aws import identity_center, read
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
    Kind.IC_USER,
    Kind.IC_GROUP,
    Kind.PERMISSION_SET,
}
NOT_DELETABLE = {Kind.ACCOUNT_ALIAS, Kind.PASSWORD_POLICY}  # left alone when absent from the spec
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


#: the client attribute names handlers call through, and the IAM action prefix of each service
CLIENTS = {"iam": "iam", "iam_once": "iam", "sso": "sso", "store": "identitystore"}
HELPER_MODULES = (handlers, credentials, read, ic_handlers, identity_center)


def _client(target: ast.expr) -> str | None:
    """The service prefix of a client expression: ctx.iam, iam, ic.sso, self.store..."""
    if isinstance(target, ast.Attribute):
        return CLIENTS.get(target.attr)
    if isinstance(target, ast.Name) and target.id == "iam":
        return "iam"
    return None


def _calls(fn: Callable[..., Any], seen: set[str] | None = None) -> set[tuple[str, str]]:
    """(service, API method) called by `fn`, following module helpers.

    A call is `ctx.iam.x(...)` / `ctx.iam_once.x(...)` / `iam.x(...)` (IAM), `ic.sso.x(...)`
    (sso-admin) or `ic.store.x(...)` (identitystore), a paginated `read_all(<client>, "x", ...)`,
    a method of the Identity Center names-to-ids directory (`ic.directory.x(...)`), or the status
    polls of `await_request(..., <kind>, ...)`.
    """
    seen = seen if seen is not None else set()
    key = f"{fn.__module__}.{fn.__qualname__}"
    if key in seen:
        return set()
    seen.add(key)
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    out: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute):
            service = _client(node.func.value)
            if service:
                out.add((service, node.func.attr))
            target = node.func.value
            in_directory = (isinstance(target, ast.Attribute) and target.attr == "directory") or (
                isinstance(target, ast.Name) and target.id == "self"
            )
            method = getattr(identity_center.Directory, node.func.attr, None)
            if in_directory and inspect.isfunction(method):
                out |= _calls(method, seen)
        if not isinstance(node.func, ast.Name):
            continue
        if node.func.id == "read_all" and isinstance(node.args[1], ast.Constant):
            out.add((_client(node.args[0]) or "iam", str(node.args[1].value)))
        if node.func.id == "await_request" and isinstance(node.args[3], ast.Name):
            out.add(("sso", getattr(identity_center, node.args[3].id)[1]))
        for module in HELPER_MODULES:
            helper = getattr(module, node.func.id, None)
            if inspect.isfunction(helper) and helper.__module__ == module.__name__:
                out |= _calls(helper, seen)
    return out


def _action(call: tuple[str, str]) -> str:
    service, method = call
    return f"{service}:" + "".join(part.capitalize() for part in method.split("_")).replace(
        "Mfa", "MFA"
    ).replace("Ssh", "SSH")


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

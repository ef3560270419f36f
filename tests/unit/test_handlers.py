"""Every change the diff can produce has a handler, and each handler declares what it calls."""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
from collections.abc import Callable
from typing import Any

from click.testing import CliRunner

from iamlayer.apply import credentials, handlers
from iamlayer.apply.executor import required_permissions
from iamlayer.apply.handlers import HANDLERS
from iamlayer.aws import read
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
}
NOT_DELETABLE = {Kind.ACCOUNT_ALIAS, Kind.PASSWORD_POLICY}  # left alone when absent from the spec
#: settled (update: promote, delete: discard), never created
SETTLED_ONLY = {Kind.STAGED_PASSWORD}


def test_every_planned_change_has_a_handler() -> None:
    for kind in Kind:
        if kind in SETTLED_ONLY:
            assert (kind, Action.UPDATE) in HANDLERS and (kind, Action.DELETE) in HANDLERS, kind
            continue
        assert (kind, Action.CREATE) in HANDLERS, kind
        if kind in UPDATABLE:
            assert (kind, Action.UPDATE) in HANDLERS, kind
        if kind not in NOT_DELETABLE:
            assert (kind, Action.DELETE) in HANDLERS, kind


def _calls(fn: Callable[..., Any], seen: set[str] | None = None) -> set[str]:
    """IAM API methods called by `fn`, following module helpers.

    A call is `ctx.iam.x(...)` / `ctx.iam_once.x(...)` / `iam.x(...)`, or a paginated
    `read_all(<client>, "x", ...)`.
    """
    seen = seen if seen is not None else set()
    if fn.__name__ in seen:
        return set()
    seen.add(fn.__name__)
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value
            is_iam = (isinstance(target, ast.Attribute) and target.attr in ("iam", "iam_once")) or (
                isinstance(target, ast.Name) and target.id == "iam"
            )
            if is_iam:
                out.add(node.func.attr)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "read_all"
            and isinstance(node.args[1], ast.Constant)
        ):
            out.add(str(node.args[1].value))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            for module in (handlers, credentials, read):
                helper = getattr(module, node.func.id, None)
                if inspect.isfunction(helper) and helper.__module__ == module.__name__:
                    out |= _calls(helper, seen)
    return out


def _action(method: str) -> str:
    return "iam:" + "".join(part.capitalize() for part in method.split("_")).replace("Mfa", "MFA").replace(
        "Ssh", "SSH"
    )


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

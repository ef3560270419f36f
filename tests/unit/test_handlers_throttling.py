"""Every call a handler makes is retried on throttling (issue 18, item 12), detaches and deletes
included, and the reads they start with.

botocore retries Throttling itself only while the client's retry quota lasts; once a large apply
has spent it, the first Throttling is raised at once. botocore's Stubber answers before botocore's
retry logic runs, so here botocore never retries, as with a spent quota: each call below is
answered Throttling first, and the handler must send it again. Every queued answer must be used.
"""

from __future__ import annotations

import ast
import inspect
from typing import Any

import pytest
from botocore.stub import Stubber

from iamlayer.apply import credentials  # noqa: F401  (importing it registers its handlers)
from iamlayer.apply.handlers import HANDLERS, HandlerContext
from iamlayer.aws.gateways.identity_center import IdentityCenter
from iamlayer.aws.session import AccountClients
from iamlayer.plan.model import Action, Address, Change, Kind

ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"
KEY_ID = "AKIAXXXXXXXXXXXXXXX2"


def throttled_then_ok(stub: Stubber, method: str, params: dict[str, Any], answer: Any = None) -> None:
    """Queue `method` answering Throttling (as AWS does: HTTP 400), then `answer`."""
    stub.add_client_error(method, "Throttling", "Rate exceeded", 400, expected_params=params)
    stub.add_response(method, answer or {}, params)


def handle(ctx: HandlerContext, kind: Kind, name: str, sub: str = "", before: Any = None) -> None:
    change = Change(Address("security", kind, name, sub), Action.DELETE, before or {}, None)
    HANDLERS[(kind, Action.DELETE)].fn(ctx, change)


DETACHES: list[tuple[Kind, str, str, str, dict[str, Any], dict[str, Any]]] = [
    # kind, name, sub, the one call it makes, with these parameters; the change's `before`
    (
        Kind.ROLE_POLICY_ATTACHMENT,
        "Auditor",
        ARN,
        "detach_role_policy",
        {"RoleName": "Auditor", "PolicyArn": ARN},
        {},
    ),
    (
        Kind.ROLE_INLINE_POLICY,
        "Auditor",
        "extra",
        "delete_role_policy",
        {"RoleName": "Auditor", "PolicyName": "extra"},
        {},
    ),
    (
        Kind.GROUP_POLICY_ATTACHMENT,
        "finops",
        ARN,
        "detach_group_policy",
        {"GroupName": "finops", "PolicyArn": ARN},
        {},
    ),
    (
        Kind.GROUP_INLINE_POLICY,
        "finops",
        "reports",
        "delete_group_policy",
        {"GroupName": "finops", "PolicyName": "reports"},
        {},
    ),
    (
        Kind.USER_INLINE_POLICY,
        "jane",
        "iamlayer-grants",
        "delete_user_policy",
        {"UserName": "jane", "PolicyName": "iamlayer-grants"},
        {},
    ),
    (
        Kind.GROUP_MEMBERSHIP,
        "jane",
        "devops",
        "remove_user_from_group",
        {"UserName": "jane", "GroupName": "devops"},
        {},
    ),
    (Kind.LOGIN_PROFILE, "jane", "", "delete_login_profile", {"UserName": "jane"}, {}),
    (
        Kind.ACCESS_KEY,
        "ci",
        "",
        "delete_access_key",
        {"UserName": "ci", "AccessKeyId": KEY_ID},
        {"access_key_id": KEY_ID},
    ),
]


@pytest.mark.parametrize(
    ("kind", "name", "sub", "method", "params", "before"), DETACHES, ids=[d[3] for d in DETACHES]
)
def test_a_detach_or_delete_is_sent_again_after_throttling(
    handler_ctx: HandlerContext,
    iam_stub: Stubber,
    kind: Kind,
    name: str,
    sub: str,
    method: str,
    params: dict[str, Any],
    before: dict[str, Any],
) -> None:
    throttled_then_ok(iam_stub, method, params)
    handle(handler_ctx, kind, name, sub, before)


def test_a_role_delete_rides_out_throttling_on_every_read_and_write(
    handler_ctx: HandlerContext, iam_stub: Stubber
) -> None:
    role = {"RoleName": "Auditor"}
    throttled_then_ok(
        iam_stub, "list_attached_role_policies", role, {"AttachedPolicies": [{"PolicyArn": ARN}]}
    )
    throttled_then_ok(iam_stub, "list_role_policies", role, {"PolicyNames": ["extra"]})
    throttled_then_ok(iam_stub, "list_instance_profiles_for_role", role, {"InstanceProfiles": []})
    throttled_then_ok(iam_stub, "detach_role_policy", {**role, "PolicyArn": ARN})
    throttled_then_ok(iam_stub, "delete_role_policy", {**role, "PolicyName": "extra"})
    throttled_then_ok(iam_stub, "delete_role", role)
    handle(handler_ctx, Kind.ROLE, "Auditor")


def test_handler_contexts_give_handlers_gateways_on_the_accounts_clients(
    offline_clients: AccountClients,
) -> None:
    """The IAM gateway sends through the account's clients: the retrying one, and for the
    send-once creates the one without botocore's retries."""
    ctx = HandlerContext.for_account("security", "222222222222", "acme", offline_clients, None, None)  # type: ignore[arg-type]
    assert ctx.iam.client is offline_clients.client("iam")
    assert ctx.iam.once is offline_clients.client("iam", retries=False)
    assert ctx.iam.once.meta.config.retries["total_max_attempts"] == 1
    ic = IdentityCenter.for_account(offline_clients, "us-east-1", "in account security (us-east-1)")
    assert ic.sso.client is offline_clients.client("sso-admin", "us-east-1")
    assert ic.store.client is offline_clients.client("identitystore", "us-east-1")


def _client_calls_outside_send(source: str) -> list[str]:
    """Calls of a gateway's client (`self.client.x(...)`, `self.once.x(...)`, `client.x(...)`)
    that are not inside a `send(...)`: such a call would be neither retried nor translated.
    `self._write(...)` (Identity Center's writes), `_await(...)` (its status polls) and IAM's
    `self._put_inline(...)` (inline policy writes) pass their call on to send()."""
    tree = ast.parse(source)
    inside: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if name in ("send", "_write", "_await", "_put_inline"):
            inside |= {id(n) for n in ast.walk(node)}
    bad = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        target = node.func.value
        is_client = (isinstance(target, ast.Attribute) and target.attr in ("client", "once")) or (
            isinstance(target, ast.Name) and target.id == "client"
        )
        # A paginator is made without a request; its pages are read inside send().
        if is_client and node.func.attr != "get_paginator" and id(node) not in inside:
            bad.append(f"line {node.lineno}: {node.func.attr}")
    return bad


def test_every_request_of_every_gateway_is_sent_through_send() -> None:
    """Every handler's calls are retried on throttling whichever call it makes, because handlers
    hold no client: they call the gateways, and every request a gateway makes goes through
    `send` (settle + translate). Paginated reads count: their pages are iterated inside it."""
    from iamlayer.aws.gateways import iam as iam_gateway
    from iamlayer.aws.gateways import identity_center as ic_gateway

    for module in (iam_gateway, ic_gateway):
        assert _client_calls_outside_send(inspect.getsource(module)) == [], module.__name__
    # the check does see a request sent outside send(), and only that one
    sample = "self.client.get_role(RoleName='x')\nsend('x', lambda: self.client.get_user())\n"
    assert _client_calls_outside_send(sample) == ["line 1: get_role"]

"""Helpers for the tests/unit/test_access_*.py tables: one policy, one request, one decision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from iamlayer.access.context import Caller, RequestContext
from iamlayer.access.evaluate import Decision, PolicySource, Request, StatementRef, evaluate
from iamlayer.access.policy import ResourceMode, compile_policy

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
ACCOUNT = "111111111111"
OTHER = "999999999999"
JANE = Caller.user(ACCOUNT, "jane")
JANE_ARN = f"arn:aws:iam::{ACCOUNT}:user/jane"


def doc(*statements: Mapping[str, Any], version: str | None = "2012-10-17") -> dict[str, Any]:
    out: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        out["Version"] = version
    return out


def allow(sid: str = "S", action: Any = "s3:GetObject", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}
    st.update(extra)
    return st


def deny(sid: str = "D", action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Sid": sid, "Effect": "Deny", "Action": action, "Resource": resource}
    st.update(extra)
    return st


def source(label: str, document: Mapping[str, Any] | None, arn: str | None = None) -> PolicySource:
    return PolicySource(label, arn, compile_policy(document) if document is not None else None)


def context(values: Mapping[str, str | Sequence[str] | None] | None = None) -> RequestContext:
    """Jane's request at NOW, with `values` set (None: the key is not present)."""
    base: dict[str, str | Sequence[str]] = {
        "aws:username": "jane",
        "aws:PrincipalAccount": ACCOUNT,
        "aws:CurrentTime": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(NOW.timestamp())),
    }
    return RequestContext(base).with_values(values or {})


def decide(
    policy: Mapping[str, Any],
    action: str = "s3:GetObject",
    resource: str = "arn:aws:s3:::bucket/key",
    ctx: Mapping[str, str | Sequence[str] | None] | None = None,
    *,
    mode: ResourceMode = ResourceMode.ALL,
    caller: Caller = JANE,
) -> Decision:
    """One identity policy labelled "p", one request."""
    request = Request(caller, action, resource, context(ctx), mode)
    return evaluate(request, [source("p", policy)])


def ref(index: int = 0, sid: str | None = "S", effect: str = "Allow", policy: str = "p") -> StatementRef:
    return StatementRef(policy, index, sid, effect)


def assert_decision(d: Decision, allowed: bool, deciding: Sequence[StatementRef] = ()) -> None:
    """The decision, and the statements that decided it (for an implicit deny: none)."""
    assert d.allowed is allowed, d.explain()
    assert list(d.deciding) == list(deciding), d.explain()

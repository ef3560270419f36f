"""Action/NotAction and Resource/NotResource matching, policy variables, and requests on `*`.

Each row is one Allow statement (Sid S) and one request; the row gives the expected decision, and
the test checks that the deciding statement is S (or that nothing decided, on a deny).
"""

from __future__ import annotations

from typing import Any

import pytest
from access_support import allow, assert_decision, decide, doc, ref

from iamlayer.access.patterns import Pattern, Var, Wild
from iamlayer.access.policy import ResourceMode

ACTION_ROWS: list[tuple[str, dict[str, Any], str, bool]] = [
    ("actions are case-insensitive", {"Action": "iam:CreateUser"}, "IAM:createuser", True),
    ("trailing star", {"Action": "iam:Create*"}, "iam:CreateUser", True),
    ("trailing star, other verb", {"Action": "iam:Create*"}, "iam:DeleteUser", False),
    ("question mark is one character", {"Action": "iam:?etUser"}, "iam:GetUser", True),
    ("question mark is not zero characters", {"Action": "iam:?etUser"}, "iam:etUser", False),
    ("no prefix match without a star", {"Action": "iam:GetUser"}, "iam:GetUsers", False),
    ("star alone is every action", {"Action": "*"}, "ec2:RunInstances", True),
    ("service star is that service only", {"Action": "s3:*"}, "s3express:CreateSession", False),
    ("one of several", {"Action": ["s3:GetObject", "iam:GetUser"]}, "iam:GetUser", True),
    ("NotAction: other service", {"NotAction": "iam:*"}, "s3:GetObject", True),
    ("NotAction: listed service", {"NotAction": "iam:*"}, "iam:GetUser", False),
]


@pytest.mark.parametrize(
    ("element", "action", "expected"), [r[1:] for r in ACTION_ROWS], ids=[r[0] for r in ACTION_ROWS]
)
def test_action(element: dict[str, Any], action: str, expected: bool) -> None:
    st = {"Sid": "S", "Effect": "Allow", "Resource": "*", **element}
    assert_decision(decide(doc(st), action=action), expected, [ref()] if expected else [])


USER = "arn:aws:iam::111111111111:user/jane"
RESOURCE_ROWS: list[tuple[str, Any, str, dict[str, str | None], bool]] = [
    ("star is every resource", "*", "arn:aws:s3:::b/k", {}, True),
    ("account wildcard", "arn:aws:iam::*:user/jane", USER, {}, True),
    ("resource names are case-sensitive", "arn:aws:iam::*:user/Jane", USER, {}, False),
    ("star spans slashes", "arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b", {}, True),
    ("bucket/* is not the bucket", "arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket", {}, False),
    (
        "wildcard inside the region segment",
        "arn:aws:ec2:us-*-1:*:instance/*",
        "arn:aws:ec2:us-east-1:1:instance/i",
        {},
        True,
    ),
    # A * inside a segment stays in it; one that ends a segment may run past colons.
    (
        "mid-segment star does not cross a colon",
        "arn:aws:ec2:us-*-1:111:instance/x",
        "arn:aws:ec2:us-east:x-1:111:instance/x",
        {},
        False,
    ),
    ("segment-ending star crosses colons", "arn:aws:s3:*", "arn:aws:s3:::bucket/key", {}, True),
    ("question mark in the account", "arn:aws:iam::11111111111?:user/jane", USER, {}, True),
    ("question mark does not match a colon", "arn:aws:iam:?:111111111111:user/jane", USER, {}, False),
    ("other service", "arn:aws:s3:::*", USER, {}, False),
    ("${aws:username}", "arn:aws:iam::*:user/${aws:username}", USER, {}, True),
    (
        "${aws:username}, another user",
        "arn:aws:iam::*:user/${aws:username}",
        "arn:aws:iam::1:user/bob",
        {},
        False,
    ),
    # issue 9: user/${aws:username} does not cover a user created with a path
    (
        "${aws:username} misses a user with a path",
        "arn:aws:iam::*:user/${aws:username}",
        "arn:aws:iam::1:user/eng/jane",
        {},
        False,
    ),
    # a caller without a user name (a role session): the variable has no value
    (
        "${aws:username} absent: no resource",
        "arn:aws:s3:::home/${aws:username}/*",
        "arn:aws:s3:::home/jane/y",
        {"aws:username": None},
        False,
    ),
    (
        "variable default",
        "arn:aws:s3:::b/${aws:PrincipalTag/team, 'shared'}/*",
        "arn:aws:s3:::b/shared/x",
        {},
        True,
    ),
    (
        "variable from a tag",
        "arn:aws:s3:::b/${aws:PrincipalTag/team}/*",
        "arn:aws:s3:::b/ops/x",
        {"aws:PrincipalTag/team": "ops"},
        True,
    ),
    ("${*} is a literal star", "arn:aws:s3:::b/${*}", "arn:aws:s3:::b/x", {}, False),
    ("${*} matches a star", "arn:aws:s3:::b/${*}", "arn:aws:s3:::b/*", {}, True),
    ("${?} is a literal question mark", "arn:aws:s3:::b/${?}", "arn:aws:s3:::b/x", {}, False),
    ("${$} is a dollar", "arn:aws:s3:::b/${$}x", "arn:aws:s3:::b/$x", {}, True),
    ("one of several", ["arn:aws:s3:::a/*", "arn:aws:s3:::b/*"], "arn:aws:s3:::b/k", {}, True),
]


@pytest.mark.parametrize(
    ("resource", "request_resource", "ctx", "expected"),
    [r[1:] for r in RESOURCE_ROWS],
    ids=[r[0] for r in RESOURCE_ROWS],
)
def test_resource(resource: Any, request_resource: str, ctx: dict[str, str | None], expected: bool) -> None:
    d = decide(doc(allow(resource=resource)), resource=request_resource, ctx=ctx)
    assert_decision(d, expected, [ref()] if expected else [])


def test_not_resource() -> None:
    st = {"Sid": "S", "Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"}
    assert_decision(decide(doc(st), resource="arn:aws:s3:::public/x"), True, [ref()])
    assert_decision(decide(doc(st), resource="arn:aws:s3:::secret/x"), False)


def test_variables_need_version_2012_10_17() -> None:
    """Without the 2012-10-17 Version, ${aws:username} is plain text (IAM "Variables and tags")."""
    old = doc(allow(resource="arn:aws:s3:::home/${aws:username}/*"), version="2008-10-17")
    assert_decision(decide(old, resource="arn:aws:s3:::home/jane/x"), False)
    assert_decision(decide(old, resource="arn:aws:s3:::home/${aws:username}/x"), True, [ref()])
    none = doc(allow(resource="arn:aws:s3:::home/${aws:username}/*"), version=None)
    assert_decision(decide(none, resource="arn:aws:s3:::home/jane/x"), False)


EVERY_ROWS = [
    # (Resource, mode, allowed): ALL asks "on every resource", ANY "on some resource".
    ("*", ResourceMode.ALL, True),
    ("*", ResourceMode.ANY, True),
    ("arn:aws:s3:::b/*", ResourceMode.ALL, False),
    ("arn:aws:s3:::b/*", ResourceMode.ANY, True),
    ("arn:aws:iam::*:user/${aws:PrincipalTag/none}", ResourceMode.ANY, False),
]


@pytest.mark.parametrize(("resource", "mode", "expected"), EVERY_ROWS)
def test_request_on_every_resource(resource: str, mode: ResourceMode, expected: bool) -> None:
    d = decide(doc(allow(resource=resource)), resource="*", mode=mode)
    assert_decision(d, expected, [ref()] if expected else [])


def test_a_deny_on_some_resources_breaks_every_resource_but_not_some() -> None:
    policy = doc(
        allow(), {"Sid": "D", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::secret/*"}
    )
    assert_decision(decide(policy, resource="*", mode=ResourceMode.ALL), False, [ref(1, "D", "Deny")])
    assert_decision(decide(policy, resource="*", mode=ResourceMode.ANY), True, [ref()])


def test_tokens() -> None:
    p = Pattern.parse("a*${aws:UserName}${*}?${t, 'x'}", variables=True)
    assert p.tokens == ("a", Wild.STAR, Var("aws:username"), "*", Wild.QMARK, Var("t", "x"))
    assert Pattern.parse("a${aws:username", variables=True).tokens == ("a${aws:username",)
    assert Pattern.parse("${x}", variables=False).tokens == ("${x}",)

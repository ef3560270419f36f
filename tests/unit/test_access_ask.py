"""iamlayer.access.ask: the questions of `iamlayer access`, asked by name from the library."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from spec_support import FIXTURES

from iamlayer.access.ask import accounts_for, ask_can, ask_who_can_assume, role_accounts
from iamlayer.access.context import Credential, Signing
from iamlayer.access.principals import model_from_spec
from iamlayer.errors import QueryError
from iamlayer.spec.load import load_spec
from iamlayer.spec.model import Spec

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DEVOPS_PRD = "arn:aws:iam::555555555555:role/DevOps"


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_spec(FIXTURES / "design_example.yaml", check_keys=False)


def test_can_with_and_without_mfa(spec: Spec) -> None:
    model = model_from_spec(spec)
    no_mfa = Signing(Credential.ACCESS_KEY)
    a = ask_can(
        model, spec, "jane.doe", "sts:AssumeRole", "role/DevOps@apps-prd", no_mfa, now=NOW, compare_mfa=True
    )
    assert not a.decision.allowed and a.with_mfa is not None and a.with_mfa.allowed
    assert a.target.resource == DEVOPS_PRD and a.as_json()["target"] == a.target.label
    assert a.as_json()["source"] == "spec"


def test_every_resource_variants(spec: Spec) -> None:
    model = model_from_spec(spec)
    a = ask_can(model, spec, "jane.doe", "iam:CreateUser", "*", Signing.with_mfa(0), now=NOW)
    assert (a.on_some is None) != (a.on_every is None)


@pytest.mark.parametrize(
    ("user", "action", "resource", "argument", "message"),
    [
        ("jane.do", "sts:AssumeRole", "*", "user", "did you mean 'jane.doe'?"),
        ("jane.doe", "iam:Create*", "*", "action", "is not an action"),
        ("jane.doe", "sts:AssumeRole", "role/DevOps@apps-prod", "resource", "did you mean 'apps-prd'?"),
        ("jane.doe", "sts:AssumeRole", "bucket", "resource", "is not a resource"),
    ],
)
def test_query_errors_name_the_argument(
    spec: Spec, user: str, action: str, resource: str, argument: str, message: str
) -> None:
    with pytest.raises(QueryError) as exc:
        ask_can(model_from_spec(spec), spec, user, action, resource, Signing(Credential.SESSION), now=NOW)
    assert exc.value.argument == argument and message in str(exc.value)


def test_who_can_assume_by_name(spec: Spec) -> None:
    model = model_from_spec(spec)
    assert "apps-prd" in role_accounts(model, "DevOps")
    report = ask_who_can_assume(model, spec, "DevOps", "apps-prd", now=NOW)
    assert report.role.arn == DEVOPS_PRD
    with pytest.raises(QueryError, match="not in account security") as exc:
        ask_who_can_assume(model, spec, "DevOps", "security", now=NOW)
    assert exc.value.argument == "account"


def test_accounts_for(spec: Spec) -> None:
    assert accounts_for(spec, "role/DevOps@apps-prd") == ["apps-prd"]
    assert accounts_for(spec, DEVOPS_PRD) == ["apps-prd"]
    assert accounts_for(spec, "*") == []

"""The `aws login` grant (issue 23): to exactly the people whose `cli:` is `login`, usable only after
an MFA console sign-in when their group enforces MFA. Asked of iamlayer's evaluator, from the spec."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from iamlayer.access.ask import ask_can
from iamlayer.access.context import Credential, Signing
from iamlayer.access.evaluate import DecisionKind
from iamlayer.access.principals import model_from_spec
from iamlayer.plan.desired import desired_state
from iamlayer.plan.signin import SIGNIN_ACTIONS, SIGNIN_POLICY_NAME, SIGNIN_RESOURCE
from iamlayer.spec.load import load_spec
from iamlayer.spec.model import CliMode, Spec

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TOKEN = "arn:aws:signin:us-east-1:123456789012:oauth2/public-client/localhost"

SPEC = """\
project: acme
project_long: acme-corp
region: us-east-1
accounts:
  security: {id: "123456789012"}
people_account: security
groups:
  devops:  {self_management: enforce_mfa, cli: login}   # everyone but bob (cli: key)
  finops:  {self_management: enforce_mfa}
  logins:  {cli: login}                                # no self-management: no MFA asked
users:
  jane.doe: {groups: [devops], console: false}
  bob:      {groups: [devops], console: false, cli: key}
  ana:      {groups: [finops], console: false, cli: login}
  carl:     {groups: [finops], console: false}
  dora:     {groups: [logins], console: false}
"""


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    path = tmp_path_factory.mktemp("signin") / "iamlayer.yaml"
    path.write_text(SPEC)
    return load_spec(path, check_keys=False)


def test_cli_modes_resolve_user_then_groups_then_key(spec: Spec) -> None:
    assert [spec.cli_of(u) for u in ("jane.doe", "bob", "ana", "carl", "dora")] == [
        CliMode.LOGIN,
        CliMode.KEY,
        CliMode.LOGIN,
        CliMode.KEY,
        CliMode.LOGIN,
    ]


def test_the_grant_names_only_the_login_users_of_mixed_groups(spec: Spec) -> None:
    groups = desired_state(spec, "security").groups
    devops, finops, logins = (
        groups[g].inline.get(SIGNIN_POLICY_NAME) for g in ("devops", "finops", "logins")
    )
    assert devops is not None and finops is not None and logins is not None
    (stmt,) = devops["Statement"]
    assert sorted(stmt["Action"]) == sorted(SIGNIN_ACTIONS) and stmt["Resource"] == [SIGNIN_RESOURCE]
    assert stmt["Condition"] == {"StringEquals": {"aws:username": ["jane.doe"]}}
    assert finops["Statement"][0]["Condition"] == {"StringEquals": {"aws:username": ["ana"]}}
    assert "Condition" not in logins["Statement"][0]  # every member uses aws login
    # a group without login members gets no grant
    spec2 = load_spec_text(SPEC.replace("cli: login", "cli: key"), spec)
    assert all(SIGNIN_POLICY_NAME not in g.inline for g in desired_state(spec2, "security").groups.values())


def load_spec_text(text: str, like: Spec) -> Spec:
    path = Path(like.path).with_name("other.yaml")
    path.write_text(text)
    return load_spec(path, check_keys=False)


MFA_SIGN_IN = Signing.with_mfa(60)  # a console sign-in with MFA, a minute ago
NO_MFA_SIGN_IN = Signing(Credential.SESSION)  # a console sign-in without MFA


@pytest.mark.parametrize(
    ("user", "signing", "allowed"),
    [
        (
            "jane.doe",
            MFA_SIGN_IN,
            True,
        ),  # login user, MFA console sign-in: the self-management deny lets it by
        ("jane.doe", NO_MFA_SIGN_IN, False),  # ...and denies it before MFA (explicit deny)
        ("bob", MFA_SIGN_IN, False),  # cli: key in the same group: not granted
        ("ana", MFA_SIGN_IN, True),
        ("ana", NO_MFA_SIGN_IN, False),
        ("carl", MFA_SIGN_IN, False),  # ana's group, no login of his own
        ("dora", NO_MFA_SIGN_IN, True),  # no self-management policy: nothing asks for MFA
    ],
)
@pytest.mark.parametrize("action", SIGNIN_ACTIONS)
def test_signin_actions_allowed_and_denied_exactly(
    spec: Spec, user: str, signing: Signing, allowed: bool, action: str
) -> None:
    answer = ask_can(model_from_spec(spec), spec, user, action, TOKEN, signing, now=NOW)
    assert answer.decision.allowed is allowed, answer.decision
    if user == "jane.doe" and not allowed:
        assert (
            answer.decision.kind is DecisionKind.EXPLICIT_DENY
        )  # the MFA deny of the self-management policy


def test_the_grant_reaches_nothing_else(spec: Spec) -> None:
    model = model_from_spec(spec)
    for action, resource in (
        ("signin:CreateOAuth2Token", "arn:aws:signin:us-east-1:123456789012:oauth2/confidential-client/x"),
        ("signin:PutConsoleAuthorizationConfiguration", "*"),
        ("iam:CreateAccessKey", "arn:aws:iam::123456789012:user/dora"),
    ):
        assert not ask_can(model, spec, "dora", action, resource, MFA_SIGN_IN, now=NOW).decision.allowed

"""The principal model built from account states, `can`, and who-can-assume, on the DESIGN.md
example as iamlayer renders it (offline) and on hand-built live states."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from access_support import NOW
from spec_support import FIXTURES

from iamlayer.access.context import Credential, Signing, UserRequestFacts, user_context
from iamlayer.access.evaluate import DecisionKind, StatementRef
from iamlayer.access.principals import AccessModel, model_from_spec
from iamlayer.access.queries import Target, can, target_for_arn, who_can_assume
from iamlayer.spec.load import load_spec
from iamlayer.spec.model import Spec
from iamlayer.state.model import AccountState, GroupState, PolicyState, RoleState, UserState

KEY = Signing(Credential.ACCESS_KEY)
SESSION = Signing(Credential.SESSION)
MFA = Signing.with_mfa(60)
VIEW_ONLY = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"


def load(tmp_path: Path, text: str | None = None) -> Spec:
    spec = tmp_path / "iamlayer.yaml"
    if text is None:
        shutil.copy(FIXTURES / "design_example.yaml", spec)
    else:
        spec.write_text(text)
    (tmp_path / "keys").mkdir(exist_ok=True)
    for name in ("jane.doe", "machine.infra"):
        (tmp_path / "keys" / name).write_text("")  # key contents are not checked here
    return load_spec(spec, check_keys=False)


@pytest.fixture
def design(tmp_path: Path) -> AccessModel:
    return model_from_spec(load(tmp_path))


def test_policies_are_labelled_by_where_they_are_attached(design: AccessModel) -> None:
    jane = design.users["jane.doe"]
    assert [p.label for p in jane.identity] == [
        "group devops / inline assume-roles",
        "group devops / inline self-management",
        "group devops / inline iamlayer-owner-acme",
    ]
    assert jane.arn == "arn:aws:iam::222222222222:user/jane.doe"
    finops = design.stand_in("finops").identity
    assert [(p.label, p.known) for p in finops] == [
        ("group finops / inline reports", True),
        ("group finops / inline iamlayer-owner-acme", True),
        ("group finops / managed billing-read", True),
        (f"group finops / managed {VIEW_ONLY}", False),
    ]
    devops = design.role("DevOps", "apps-prd")
    assert devops is not None and devops.trust.label == "trust policy of DevOps in apps-prd"
    assert [p.label for p in devops.policies] == [
        "role DevOps in apps-prd / managed arn:aws:iam::aws:policy/AdministratorAccess"
    ]
    assert devops.policies[0].known  # AdministratorAccess is built in: Allow * on *
    assert design.roles_named("DevOps") == [
        design.role("DevOps", a) for a in ("shared", "apps-devstg", "apps-prd")
    ]


def test_documents_read_from_aws_make_managed_policies_known(tmp_path: Path) -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
    }
    model = model_from_spec(load(tmp_path), managed={VIEW_ONLY: doc})
    finops = model.stand_in("finops")
    d = can(model, finops, "ec2:DescribeInstances", Target.everything(), KEY, now=NOW)
    assert d.allowed and d.certain
    assert [str(s) for s in d.deciding] == [f"group finops / managed {VIEW_ONLY}, statement 0, Allow"]
    offline = model_from_spec(load(tmp_path))
    assert not can(
        offline, offline.stand_in("finops"), "ec2:DescribeInstances", Target.everything(), KEY, now=NOW
    ).certain


def test_jane_assumes_devops_only_with_recent_mfa(design: AccessModel) -> None:
    jane, role = design.users["jane.doe"], design.role("DevOps", "apps-prd")
    assert role is not None
    target = target_for_arn(design, role.arn)
    assert target.role == role
    allowed = can(design, jane, "sts:AssumeRole", target, MFA, now=NOW)
    assert allowed.allowed and allowed.certain
    assert [str(s) for s in allowed.deciding] == [
        "group devops / inline assume-roles, statement 0 (AssumeLayerRoles), Allow",
        "trust policy of DevOps in apps-prd, statement 0, Allow",
    ]
    stale = can(design, jane, "sts:AssumeRole", target, Signing.with_mfa(43200), now=NOW)
    assert stale.kind is DecisionKind.IMPLICIT_DENY
    assert [str(m) for m in stale.near_misses] == [
        "trust policy of DevOps in apps-prd, statement 0: condition NumericLessThan "
        "aws:MultiFactorAuthAge < 43200 not met (value: 43200)"
    ]
    for signing in (KEY, SESSION):
        d = can(design, jane, "sts:AssumeRole", target, signing, now=NOW)
        assert not d.allowed
        assert any(
            "trust policy of DevOps in apps-prd, statement 0: condition Bool aws:MultiFactorAuthPresent = true not met"
            in str(m)
            for m in d.near_misses
        )


def test_who_can_assume_devops(design: AccessModel) -> None:
    role = design.role("DevOps", "apps-prd")
    assert role is not None
    report = who_can_assume(design, role, now=NOW)
    users = {u.name: u for u in report.users}
    jane = users["jane.doe"]
    assert (jane.with_access_key, jane.with_session, jane.with_mfa, jane.max_mfa_age) == (
        False,
        False,
        True,
        43199,
    )
    assert jane.conditions() == ["MFA", "MFA at most 43199 s old"]
    assert jane.via[0] == StatementRef("group devops / inline assume-roles", 0, "AssumeLayerRoles", "Allow")
    assert not users["machine.ci"].can_assume and users["machine.ci"].unknown == ()
    groups = {g.name: g for g in report.groups}
    assert groups["devops"].can_assume and groups["devops"].max_mfa_age == 43199
    assert not groups["auditors"].can_assume
    # finops carries an AWS-managed policy not known offline: it could allow sts:AssumeRole
    assert groups["finops"].unknown == (VIEW_ONLY,)
    data = report.as_json()
    assert [u["name"] for u in data["users"]] == ["jane.doe"]
    assert data["cannot"] == ["machine.ci"]


def test_who_can_assume_a_role_without_mfa_in_the_people_account(design: AccessModel) -> None:
    """Auditor is in every account, the people account too (same account), and demands no MFA."""
    role = design.role("Auditor", "security")
    assert role is not None
    ci = {u.name: u for u in who_can_assume(design, role, now=NOW).users}["machine.ci"]
    assert (ci.with_access_key, ci.with_session, ci.with_mfa, ci.max_mfa_age) == (True, True, True, None)
    assert ci.conditions() == ["no MFA needed"]


def test_live_state_with_a_user_path_and_a_trust_naming_the_user(tmp_path: Path) -> None:
    """Hand-built live states: a user with a path, named directly by a role's trust policy."""
    people = AccountState("222222222222")
    people.users["ops"] = UserState("ops", path="/eng/", groups=frozenset({"admins"}))
    people.groups["admins"] = GroupState(
        "admins",
        attached=frozenset({"arn:aws:iam::222222222222:policy/self"}),
        inline={},
        members=frozenset({"ops"}),
    )
    people.policies["self"] = PolicyState(
        "self",
        arn="arn:aws:iam::222222222222:policy/self",
        document={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "iam:CreateAccessKey",
                    "Resource": "arn:aws:iam::*:user/${aws:username}",
                }
            ],
        },
    )
    people.roles["Break"] = RoleState(
        "Break",
        trust={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Principal": {"AWS": "arn:aws:iam::222222222222:user/eng/ops"},
                }
            ],
        },
    )
    model = AccessModel.from_states(
        {"security": people}, "security", {"security": "222222222222"}, source="live"
    )
    ops = model.users["ops"]
    assert ops.arn == "arn:aws:iam::222222222222:user/eng/ops"
    own_key = can(model, ops, "iam:CreateAccessKey", target_for_arn(model, ops.arn), MFA, now=NOW)
    assert not own_key.allowed  # user/${aws:username} does not cover a user with a path
    assert "Resource arn:aws:iam::*:user/${aws:username} does not cover" in own_key.near_misses[0].reason
    role = model.role("Break", "security")
    assert role is not None
    d = can(model, ops, "sts:AssumeRole", Target(role.arn, role), KEY, now=NOW)
    # same account, named by ARN: the trust policy alone grants it, no identity-based allow needed
    assert d.allowed and [s.policy for s in d.deciding] == ["trust policy of Break in security"]


def _org_spec(people: int) -> str:
    lines = [
        "project: bench",
        "accounts:",
        *(
            f'  {n}: {{id: "{i}"}}'
            for n, i in [
                ("management", "111111111111"),
                ("security", "222222222222"),
                ("shared", "333333333333"),
                ("apps-devstg", "444444444444"),
                ("apps-prd", "555555555555"),
            ]
        ),
        "people_account: security",
        "roles:",
        "  DevOps: {accounts: [shared, apps-devstg, apps-prd], mfa_max_age: 43200, policies: [arn:aws:iam::aws:policy/AdministratorAccess]}",
        "  Auditor: {accounts: all, policies: [arn:aws:iam::aws:policy/SecurityAudit]}",
        "groups:",
        "  devops: {assume: [DevOps], self_management: enforce_mfa}",
        "  auditors: {assume: [Auditor], self_management: enforce_mfa}",
        "users:",
        *(f"  person-{u:04d}: {{groups: [{('devops', 'auditors')[u % 2]}]}}" for u in range(people)),
    ]
    return "\n".join(lines) + "\n"


def test_who_can_assume_over_200_people(tmp_path: Path) -> None:
    """Its time (under a second for 200 people) is held by bench/bench_access.py, not here: a
    unit test's wall clock measures the machine's load as much as the code."""
    model = model_from_spec(load(tmp_path, _org_spec(200)))
    role = model.role("DevOps", "apps-prd")
    assert role is not None
    report = who_can_assume(model, role, now=NOW)
    assert sum(u.can_assume for u in report.users) == 100


def test_request_context_of_a_user() -> None:
    """The global keys AWS puts in an IAM user's request, per signing, at the given time."""
    facts = UserRequestFacts("222222222222", "jane", "/eng/", tags={"team": "ops"})
    ctx = user_context(facts, MFA, now=NOW, region="eu-west-1", extra={"sts:ExternalId": "x"})
    assert dict(ctx.items()) == {
        "aws:username": ("jane",),
        "aws:principalarn": ("arn:aws:iam::222222222222:user/eng/jane",),
        "aws:principalaccount": ("222222222222",),
        "aws:principaltype": ("User",),
        "aws:requestedregion": ("eu-west-1",),
        "aws:currenttime": ("2026-06-01T12:00:00Z",),
        "aws:epochtime": (str(int(NOW.timestamp())),),
        "aws:securetransport": ("true",),
        "aws:multifactorauthpresent": ("true",),
        "aws:multifactorauthage": ("60",),
        "aws:principaltag/team": ("ops",),
        "sts:externalid": ("x",),
    }
    key = user_context(facts, KEY, now=NOW)
    assert key.values("aws:multifactorauthpresent") is None and key.values("aws:multifactorauthage") is None
    session = user_context(facts, SESSION, now=NOW)
    assert (
        session.values("aws:multifactorauthpresent") == ("false",)
        and session.values("aws:multifactorauthage") is None
    )


def test_assuming_a_role_the_layer_does_not_have_is_denied(design: AccessModel) -> None:
    """A role ARN in one of the layer's accounts that names no role of it: nothing assumes it."""
    jane = design.users["jane.doe"]
    target = target_for_arn(design, "arn:aws:iam::555555555555:role/Nope")
    d = can(design, jane, "sts:AssumeRole", target, MFA, now=NOW)
    assert not d.allowed and d.certain
    assert "arn:aws:iam::555555555555:role/Nope (no such role in the layer) does not allow" in " ".join(
        d.reasons
    )

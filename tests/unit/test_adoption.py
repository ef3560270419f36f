"""Adoption and kept credentials, pure: the diff's ADOPT changes, `credentials: keep`, the new spec
fields (adopt, credentials, trust_policy, role name) and the bounded read of policy tags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spec_support import line_of, load_errors, only, write_spec

from iamlayer.plan.desired import desired_state, trust_policy
from iamlayer.plan.diff import diff
from iamlayer.plan.model import AccountPlan, Action, Address, Change, Kind, Plan
from iamlayer.plan.planner import POLICY_TAG_READS, policies_to_tag_read
from iamlayer.plan.render import render_plan
from iamlayer.spec.load import load_spec, load_spec_with_warnings
from iamlayer.state.model import (
    OWNER_TAG,
    AccessKey,
    AccountState,
    GroupState,
    PolicyState,
    RoleState,
    UserState,
    adoptable,
    owner_of,
    policy_marker,
)
from iamlayer.state.normalize import normalize

P = "acme"
OWN = {OWNER_TAG: P}
DOC = normalize(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}
)
ARN = "arn:aws:iam::222222222222:policy/p"


def acct(**kw: Any) -> AccountState:
    return AccountState(account_id="222222222222", **kw)


def changes(desired: AccountState, live: AccountState, **kw: Any) -> list[tuple[str, str, str]]:
    r = diff("security", P, desired, live, **kw)
    assert not r.collisions, r.collisions
    return [(c.action.value, c.address.kind.value, c.address.name) for c in r.changes]


def desired() -> AccountState:
    return acct(
        policies={"p": PolicyState("p", document=DOC, description=f"d {policy_marker(P)}", arn=ARN)},
        roles={"R": RoleState("R", trust={"Version": "2012-10-17", "Statement": []}, tags=dict(OWN))},
        groups={"g": GroupState("g", attached=frozenset({ARN}), owner=P, members=frozenset({"u"}))},
        users={
            "u": UserState(
                "u",
                tags={**OWN, "team": "a"},
                groups=frozenset({"g"}),
                login_profile=True,
                access_keys=(AccessKey("", True),),
            )
        },
    )


def foreign() -> AccountState:
    """The same resources, made by someone else: no marker, foreign tags, credentials in place."""
    return acct(
        policies={"p": PolicyState("p", document=DOC, description="made by hand", arn=ARN, tags={"x": "y"})},
        roles={"R": RoleState("R", trust={"Version": "2012-10-17", "Statement": []}, tags={"tf": "1"})},
        groups={"g": GroupState("g", attached=frozenset({ARN}), members=frozenset({"u"}))},
        users={
            "u": UserState(
                "u",
                tags={"team": "a", "tf": "1"},
                groups=frozenset({"g"}),
                login_profile=True,
                access_keys=(AccessKey("AKIAEXAMPLE000000001", True),),
            )
        },
    )


def test_without_adopt_unowned_resources_are_collisions_with_the_way_out() -> None:
    r = diff("security", P, desired(), foreign())
    assert r.changes == []
    assert len(r.collisions) == 4 and all("set adopt: true in the spec" in c for c in r.collisions)
    assert any(
        "aws iam tag-policy --policy-arn ARN --tags Key=iamlayer:project,Value=acme" in c
        for c in r.collisions
    )


def test_adopt_plans_only_the_markers_when_nothing_else_differs() -> None:
    r = diff("security", P, desired(), foreign(), adopt=True)
    assert [(c.action, str(c.address)) for c in r.changes] == [
        (Action.ADOPT, "security/policy.p"),
        (Action.ADOPT, "security/group.g"),
        (Action.ADOPT, "security/role.R"),
        (Action.ADOPT, "security/user.u"),
    ]
    after = {c.address.kind: c.after for c in r.changes}
    assert after[Kind.POLICY] == {"arn": ARN, "tags": OWN}  # by tag: the description cannot change
    assert after[Kind.USER] == {"tags": OWN} and after[Kind.ROLE] == {"tags": OWN}
    assert after[Kind.GROUP] == {"marker": "iamlayer-owner-acme"}
    assert r.notices == [
        "user u: access key(s) AKIAEXAMPLE000000001 have no encrypted secret in the outputs (made by hand, or the "
        "file was removed); if nobody holds the secret: iamlayer access-key rotate u --delete-old"
    ]


def test_an_adopted_resource_is_then_compared_like_an_owned_one() -> None:
    live = foreign()
    live.users["u"].tags.pop("team")
    live.groups["g"].attached = frozenset()
    assert changes(desired(), live, adopt=True) == [
        ("adopt", "policy", "p"),
        ("adopt", "group", "g"),
        ("adopt", "role", "R"),
        ("create", "group_policy_attachment", "g"),
        ("adopt", "user", "u"),
        ("update", "user", "u"),
    ]


def test_resources_of_another_project_are_never_adopted() -> None:
    live = foreign()
    live.users["u"].tags[OWNER_TAG] = "other"
    live.groups["g"].owner = "other"
    live.policies["p"].description = f"x {policy_marker('other')}"
    r = diff("security", P, desired(), live, adopt=True)
    assert {str(c.address) for c in r.changes} == {"security/role.R"}
    assert sum("belongs to iamlayer project 'other'" in c for c in r.collisions) == 3


def test_a_policy_whose_tags_were_not_read_is_not_adopted() -> None:
    live = foreign()
    live.policies["p"].tags = None
    assert not adoptable(live.policies["p"], P, True)
    r = diff("security", P, desired(), live, adopt=True)
    assert "security/policy.p" not in {str(c.address) for c in r.changes} and r.collisions


def test_policy_ownership_by_marker_or_tag() -> None:
    marked = PolicyState("p", description=f"Read {policy_marker(P)}")
    tagged = PolicyState("p", description="Read", tags=dict(OWN))
    assert marked.owned_by(P) and tagged.owned_by(P) and owner_of(tagged) == P
    assert not PolicyState("p", description="Read", tags={}).owned_by(P)
    # An adopted policy that leaves the spec is deleted like one iamlayer created.
    r = diff("security", P, acct(), acct(policies={"p": PolicyState("p", arn=ARN, tags=dict(OWN))}))
    assert [(c.action, c.address.kind) for c in r.changes] == [(Action.DELETE, Kind.POLICY)]


def test_kept_credentials_are_never_created_deleted_or_rotated() -> None:
    want = desired()
    want.users["u"] = UserState("u", tags=dict(OWN), groups=frozenset({"g"}), credentials_kept=True)
    for have_profile, keys in ((False, ()), (True, (AccessKey("AKIAEXAMPLE000000001", True),) * 2)):
        live = foreign()
        live.users["u"].tags[OWNER_TAG] = P
        live.users["u"].login_profile = have_profile
        live.users["u"].access_keys = keys
        r = diff(
            "security", P, want, live, adopt=True, issued_keys={"u": frozenset({"AKIAEXAMPLE000000001"})}
        )
        assert not [c for c in r.changes if c.address.kind in (Kind.LOGIN_PROFILE, Kind.ACCESS_KEY)]
        assert not r.notices


def test_the_plan_says_when_it_only_adopts() -> None:
    change = Change(Address("security", Kind.USER, "u"), Action.ADOPT, {"owner": None}, {"tags": OWN})
    plan = Plan("acme", "x", "", (AccountPlan("security", "2", "arn", "caller", "f", (change,)),), "now")
    text = render_plan(plan)
    assert "& user.u" in text and "ownership marker:" in text
    assert "0 to add, 0 to change, 0 to destroy, 1 to adopt." in text and "Only adoption" in text
    assert plan.counts() == {"create": 0, "update": 0, "delete": 0, "adopt": 1}


def test_policy_tags_are_read_for_unmarked_policies_up_to_a_bound() -> None:
    marked = {f"m{i}": PolicyState(f"m{i}", description=policy_marker(P)) for i in range(3)}
    few = {f"p{i}": PolicyState(f"p{i}") for i in range(POLICY_TAG_READS)}
    read, notice = policies_to_tag_read(acct(policies={**marked, **few}), ["p1"])
    assert {p.name for p in read} == set(few) and notice is None
    many = {f"p{i}": PolicyState(f"p{i}") for i in range(POLICY_TAG_READS + 1)}
    read, notice = policies_to_tag_read(acct(policies={**marked, **many}), ["p1", "m1"])
    assert [p.name for p in read] == ["p1"]
    assert notice is not None and f"{POLICY_TAG_READS + 1} customer-managed policies" in notice


# --- the spec fields -------------------------------------------------------------------------------

SPEC = """\
project: acme
accounts:
  security: {id: "222222222222"}
  prd: {id: "333333333333"}
people_account: security
adopt: true
roles:
  Ops: {accounts: [prd], mfa_max_age: 3600}
  Ops.security: {name: Ops, accounts: [security]}
  Vendor:
    accounts: [prd]
    trust_policy:
      Version: "2012-10-17"
      Statement:
        - {Effect: Allow, Principal: {AWS: "arn:aws:iam::999999999999:root"}, Action: sts:AssumeRole,
           Condition: {StringEquals: {"sts:ExternalId": vendor-42}}}
groups:
  ops: {assume: [Ops, Ops.security]}
users:
  alice: {groups: [ops], credentials: keep}
  bob: {credentials: managed, console: false}
checks:
  - {who: alice, can: sts:AssumeRole, on: role/Ops.security@security}
"""


def test_the_new_fields_load(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, SPEC), check_keys=False)
    assert spec.adopt
    assert spec.users["alice"].keep_credentials and not spec.users["alice"].console
    assert not spec.users["bob"].keep_credentials
    assert spec.roles["Ops.security"].name == "Ops" and spec.roles["Ops.security"].accounts == ("security",)
    # checks name roles by IAM name; a spec key that differs is translated
    assert spec.checks[0].on == "role/Ops@security"
    vendor = spec.roles["Vendor"]
    assert trust_policy(spec, vendor)["Statement"][0]["Condition"] == {
        "StringEquals": {"sts:ExternalId": ["vendor-42"]}
    }
    prd, people = desired_state(spec, "prd"), desired_state(spec, "security")
    assert set(prd.roles) == {"Ops", "Vendor"} and set(people.roles) == {"Ops"}
    # Both roles are IAM role Ops: one grant, in the accounts of both.
    [statement] = people.groups["ops"].inline["assume-roles"]["Statement"]
    assert statement["Resource"] == ["arn:aws:iam::*:role/Ops"]
    assert statement["Condition"] == {
        "StringEquals": {"aws:ResourceAccount": ["222222222222", "333333333333"]}
    }
    alice = people.users["alice"]
    assert alice.credentials_kept and alice.login_profile is None and alice.access_keys is None


def test_validate_explains_how_to_hand_kept_credentials_over(tmp_path: Path) -> None:
    path = write_spec(tmp_path, SPEC)
    _, diagnostics = load_spec_with_warnings(path, check_keys=False)
    note = only(diagnostics, "users.alice.credentials", "note")
    assert note.line == line_of(path, "alice:")
    assert "1 user(s) keep their console password and access keys exactly as they are" in note.message
    assert "gpg --export NAME | base64 > keys/alice" in (note.hint or "")
    assert "set pgp_key: keys/alice" in (note.hint or "")


def test_errors_in_the_new_fields(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        SPEC.replace("alice: {groups: [ops], credentials: keep}", "alice: {credentials: keep, console: true}")
        .replace("bob: {credentials: managed, console: false}", "bob: {credentials: kept}")
        .replace(
            "Ops.security: {name: Ops, accounts: [security]}", "Ops.security: {name: Ops, accounts: [prd]}"
        )
        .replace("Vendor:\n    accounts: [prd]", "Vendor:\n    accounts: [prd]\n    mfa_max_age: 60")
        .replace("Action: sts:AssumeRole,", "Action: sts:AssumeRole, Resource: '*',")
        .replace("adopt: true", "adopt: yes please")
        .replace("checks:\n  - {who: alice, can: sts:AssumeRole, on: role/Ops.security@security}\n", ""),
    )
    diags = load_errors(path)
    assert "credentials: keep, so console has no effect" in only(diags, "users.alice.console").message
    assert "did you mean 'keep'?" in (only(diags, "users.bob.credentials").hint or "")
    assert "both IAM role Ops in account prd" in only(diags, "roles.Ops.security").message
    assert (
        "has a trust_policy, so mfa_max_age has no effect" in only(diags, "roles.Vendor.mfa_max_age").message
    )
    assert (
        "Resource is not allowed in a trust policy"
        in only(diags, "roles.Vendor.trust_policy.Statement[0].Resource").message
    )
    assert only(diags, "adopt").message == "adopt must be true or false, got a string"


def test_a_trust_policy_names_a_principal(tmp_path: Path) -> None:
    path = write_spec(tmp_path, SPEC.replace('Principal: {AWS: "arn:aws:iam::999999999999:root"}, ', ""))
    assert only(load_errors(path), "roles.Vendor.trust_policy.Statement[0]").message == "missing Principal"

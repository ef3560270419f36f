"""diff(desired, live): table tests on hand-built states. Pure, no emulator."""

from __future__ import annotations

from typing import Any

import pytest

from iamlayer.plan.desired import assume_policy, self_management_policy, trust_policy
from iamlayer.plan.diff import SecretIntent, diff
from iamlayer.plan.model import Action, Kind
from iamlayer.spec.model import Account, Group, PasswordPolicy, Role, SelfManagement, Spec, User
from iamlayer.state.model import (
    OWNER_TAG,
    AccessKey,
    AccountState,
    GroupState,
    PolicyState,
    RoleState,
    UserState,
    policy_marker,
    tag_manifest,
)
from iamlayer.state.normalize import normalize
from iamlayer.state.records import KeyCreation

P = "acme"
OWN = {OWNER_TAG: P}
DOC = normalize(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}
)
DOC2 = normalize(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)


def changes(desired: AccountState, live: AccountState, **kw: Any) -> list[tuple[str, str, str]]:
    r = diff("security", P, desired, live, **kw)
    return [
        (c.action.value, c.address.kind.value, f"{c.address.name}/{c.address.sub}".rstrip("/"))
        for c in r.changes
    ]


def acct(**kw: Any) -> AccountState:
    return AccountState(account_id="222222222222", **kw)


def test_nothing_to_do_when_equal() -> None:
    s = acct(users={"a": UserState("a", tags=dict(OWN), login_profile=False, access_keys=())})
    assert changes(s, s) == []


def test_creates_are_ordered_by_dependency() -> None:
    desired = acct(
        alias="acme-security",
        policies={"p": PolicyState("p", document=DOC, description=f"d {policy_marker(P)}")},
        groups={"g": GroupState("g", attached=frozenset({"arn:aws:iam::222222222222:policy/p"}), owner=P)},
        users={
            "u": UserState("u", tags=dict(OWN), groups=frozenset({"g"}), login_profile=False, access_keys=())
        },
    )
    kinds = [k for _, k, _ in changes(desired, acct())]
    assert kinds == [
        "account_alias",
        "policy",
        "group",
        "group_policy_attachment",
        "user",
        "group_membership",
    ]


def test_owned_user_missing_from_spec_is_deleted_with_its_details() -> None:
    live = acct(users={"old": UserState("old", tags=dict(OWN), groups=frozenset({"g"}))})
    details = {
        "old": {"groups": ["g"], "login_profile": True, "access_keys": ["AKIA1"], "mfa_devices": ["m"]}
    }
    r = diff("security", P, acct(), live, deleted_users=details)
    [c] = r.changes
    assert (c.action, c.address.kind, c.before) == (Action.DELETE, Kind.USER, details["old"])


def test_unowned_resources_are_left_alone_and_collisions_reported() -> None:
    live = acct(
        users={"bob": UserState("bob"), "jane": UserState("jane")},
        groups={"legacy": GroupState("legacy"), "devops": GroupState("devops")},
        roles={"Handmade": RoleState("Handmade")},
        policies={"p": PolicyState("p", description="someone else's")},
    )
    desired = acct(
        users={"jane": UserState("jane", tags=dict(OWN), login_profile=False, access_keys=())},
        groups={"devops": GroupState("devops", owner=P)},
        policies={"p": PolicyState("p", document=DOC, description=policy_marker(P))},
    )
    r = diff("security", P, desired, live)
    assert r.changes == []
    text = " | ".join(r.collisions)
    assert "user jane exists but is not owned" in text and "tag-user" in text
    assert "group devops exists but was not created by iamlayer" in text and "put-group-policy" in text
    assert "policy p exists but was not created" in text


def test_journaled_group_without_marker_is_finished_not_refused() -> None:
    desired = acct(groups={"g": GroupState("g", owner=P)})
    live = acct(groups={"g": GroupState("g")})
    r = diff("security", P, desired, live, adopt_groups=frozenset({"g"}))
    assert not r.collisions
    [c] = r.changes
    assert c.action is Action.UPDATE and (c.after or {})["marker"] == f"iamlayer-owner-{P}"


def test_policy_document_update_and_description_is_create_time() -> None:
    desired = acct(policies={"p": PolicyState("p", document=DOC2, description=f"new {policy_marker(P)}")})
    live = acct(
        policies={"p": PolicyState("p", document=DOC, description=f"old {policy_marker(P)}", arn="arn:p")}
    )
    r = diff("security", P, desired, live)
    [c] = r.changes
    assert c.action is Action.UPDATE and c.before == {"document": DOC}
    assert (c.after or {})["document"] == DOC2 and (c.after or {})["arn"] == "arn:p"


def test_inline_policy_create_update_delete() -> None:
    desired = acct(groups={"g": GroupState("g", owner=P, inline={"a": DOC, "b": DOC2})})
    live = acct(groups={"g": GroupState("g", owner=P, inline={"b": DOC, "c": DOC})})
    assert changes(desired, live) == [
        ("create", "group_inline_policy", "g/a"),
        ("update", "group_inline_policy", "g/b"),
        ("delete", "group_inline_policy", "g/c"),
    ]


def test_only_spec_tags_are_managed() -> None:
    desired = acct(
        users={"u": UserState("u", tags={**OWN, "team": "a"}, login_profile=False, access_keys=())}
    )
    live = acct(
        users={
            "u": UserState(
                "u", tags={**OWN, "team": "b", "AKIA123": "laptop"}, login_profile=False, access_keys=()
            )
        }
    )
    r = diff("security", P, desired, live)
    [c] = r.changes
    assert c.after == {"tags": {"team": "a"}} and c.before == {"tags": {"team": "b"}}


MANIFEST = "iamlayer:tags"


def test_tag_manifest_records_the_spec_keys_it_can() -> None:
    assert tag_manifest({}) == {}
    assert tag_manifest({"team": "a", "cost": "b"}) == {MANIFEST: "cost team"}
    # A key with a space cannot be told apart in a space-separated list: set, never recorded.
    assert tag_manifest({"Cost Center": "x", "team": "a"}) == {MANIFEST: "team"}
    assert tag_manifest({"Cost Center": "x"}) == {}
    # At most 256 characters: the keys that fit, in order.
    long = {f"{c}" * 100: "v" for c in "abc"}
    assert tag_manifest(long) == {MANIFEST: "a" * 100 + " " + "b" * 100}
    # 49 spec tags and the ownership tag fill IAM's 50: no room for the list.
    assert tag_manifest({f"k{i}": "v" for i in range(49)}) == {}
    assert tag_manifest({f"k{i}": "v" for i in range(48)})[MANIFEST].count(" ") == 47


@pytest.mark.parametrize("kind", ["user", "role"])
def test_a_tag_removed_from_the_spec_is_removed_and_others_tags_stay(kind: str) -> None:
    """Issue 18 item 9: `cost` left the spec. iamlayer set it (the live iamlayer:tags names it), so
    it goes (None); `AKIA123` (the console's) and `owner` (Terraform's) were never iamlayer's."""
    want_tags = {**OWN, "team": "a", MANIFEST: "team"}
    live_tags = {**OWN, "team": "a", "cost": "42", MANIFEST: "cost team", "AKIA123": "laptop", "owner": "tf"}
    if kind == "user":
        desired = acct(users={"u": UserState("u", tags=want_tags, login_profile=False, access_keys=())})
        live = acct(users={"u": UserState("u", tags=live_tags, login_profile=False, access_keys=())})
    else:
        desired = acct(roles={"u": RoleState("u", tags=want_tags)})
        live = acct(roles={"u": RoleState("u", tags=live_tags)})
    [c] = diff("security", P, desired, live).changes
    assert (c.action, c.address.kind.value) == (Action.UPDATE, kind)
    assert c.before == {"tags": {"cost": "42", MANIFEST: "cost team"}}
    assert c.after == {"tags": {"cost": None, MANIFEST: "team"}}


def test_the_last_spec_tag_removed_takes_the_list_with_it() -> None:
    desired = acct(users={"u": UserState("u", tags=dict(OWN), login_profile=False, access_keys=())})
    live = acct(
        users={
            "u": UserState(
                "u", tags={**OWN, "team": "a", MANIFEST: "team"}, login_profile=False, access_keys=()
            )
        }
    )
    [c] = diff("security", P, desired, live).changes
    assert c.after == {"tags": {MANIFEST: None, "team": None}}


def test_without_a_list_no_tag_is_removed() -> None:
    """A user tagged before iamlayer kept the list (or by someone else): nothing is known to be
    iamlayer's, so nothing is removed; the list is added for the spec's tags."""
    desired = acct(
        users={
            "u": UserState(
                "u", tags={**OWN, "team": "a", MANIFEST: "team"}, login_profile=False, access_keys=()
            )
        }
    )
    live = acct(
        users={
            "u": UserState("u", tags={**OWN, "team": "a", "cost": "1"}, login_profile=False, access_keys=())
        }
    )
    [c] = diff("security", P, desired, live).changes
    assert c.before == {"tags": {}} and c.after == {"tags": {MANIFEST: "team"}}


def test_memberships_only_among_managed_groups() -> None:
    desired = acct(
        groups={"g1": GroupState("g1", owner=P), "g2": GroupState("g2", owner=P)},
        users={
            "u": UserState("u", tags=dict(OWN), groups=frozenset({"g2"}), login_profile=False, access_keys=())
        },
    )
    live = acct(
        groups={
            "g1": GroupState("g1", owner=P),
            "g2": GroupState("g2", owner=P),
            "other": GroupState("other"),
        },
        users={
            "u": UserState(
                "u", tags=dict(OWN), groups=frozenset({"g1", "other"}), login_profile=False, access_keys=()
            )
        },
    )
    assert changes(desired, live) == [
        ("create", "group_membership", "u/g2"),
        ("delete", "group_membership", "u/g1"),
    ]


INTENT = SecretIntent("/keys/u", "FPR", True)


def key_user(want_key: bool, live_keys: tuple[AccessKey, ...]) -> tuple[AccountState, AccountState]:
    """Desired and live state of an owned user "u" without a console: one key wanted or none, and
    `live_keys` in AWS."""
    desired = acct(
        users={
            "u": UserState(
                "u",
                tags=dict(OWN),
                login_profile=False,
                access_keys=(AccessKey("", True),) if want_key else (),
            )
        }
    )
    return desired, acct(
        users={"u": UserState("u", tags=dict(OWN), login_profile=False, access_keys=live_keys)}
    )


@pytest.mark.parametrize(
    ("want_key", "live_keys", "issued", "in_flight", "expected"),
    [
        (True, (), set(), False, [("create", "access_key", "u")]),
        (True, (AccessKey("AK1", True),), {"AK1"}, False, []),
        # left by an apply killed before its ciphertext was written: replaced, never duplicated;
        # deleted first, so the replacement never meets AWS's two-key limit
        (
            True,
            (AccessKey("AK1", True),),
            set(),
            True,
            [("delete", "access_key", "u/AK1"), ("create", "access_key", "u")],
        ),
        # made by hand, or its file was removed: only noted (someone may hold the secret)
        (True, (AccessKey("AK1", True),), set(), False, []),
        # an interrupted rotation: the orphan goes, the key on record stays, nothing new
        (
            True,
            (AccessKey("AK1", True), AccessKey("AK2", True)),
            {"AK1"},
            True,
            [("delete", "access_key", "u/AK2")],
        ),
        # rotation in progress: two keys on record stay
        (True, (AccessKey("AK1", True), AccessKey("AK2", True)), {"AK1", "AK2"}, False, []),
        # turned off: only what iamlayer issued goes; the person's own key stays
        (
            False,
            (AccessKey("AK1", True), AccessKey("AK9", True)),
            {"AK1"},
            False,
            [("delete", "access_key", "u/AK1")],
        ),
    ],
)
def test_access_keys(
    want_key: bool,
    live_keys: tuple[AccessKey, ...],
    issued: set[str],
    in_flight: bool,
    expected: list[tuple[str, str, str]],
) -> None:
    desired, live = key_user(want_key, live_keys)
    r = diff(
        "security",
        P,
        desired,
        live,
        secret_intents={"u": INTENT},
        issued_keys={"u": frozenset(issued)},
        keys_in_flight={"u": KeyCreation()} if in_flight else {},
    )
    got = [
        (c.action.value, c.address.kind.value, f"{c.address.name}/{c.address.sub}".rstrip("/"))
        for c in r.changes
    ]
    assert got == expected
    unrecorded = [k.id for k in live_keys if k.id not in issued]
    if want_key and unrecorded and not in_flight:
        [notice] = r.notices
        assert unrecorded[0] in notice and "access-key rotate u --delete-old" in notice


@pytest.mark.parametrize(
    ("want_key", "live_keys", "issued", "expected"),
    [
        # access_key turned off; the apply that deleted AK1 died before removing its ciphertext
        (False, (), {"AK1"}, [("delete", "access_key", "u/AK1")]),
        # a rotation that died after deleting the old AK1: its ciphertext goes, AK2 stays, nothing new
        (True, (AccessKey("AK2", True),), {"AK1", "AK2"}, [("delete", "access_key", "u/AK1")]),
    ],
)
def test_ciphertexts_of_keys_aws_no_longer_has_are_removed(
    want_key: bool, live_keys: tuple[AccessKey, ...], issued: set[str], expected: list[tuple[str, str, str]]
) -> None:
    desired, live = key_user(want_key, live_keys)
    stale = frozenset(issued) - {k.id for k in live_keys}
    r = diff(
        "security",
        P,
        desired,
        live,
        secret_intents={"u": INTENT},
        issued_keys={"u": frozenset(issued)},
        stale_keys={"u": stale},
    )
    got = [(c.action.value, c.address.kind.value, f"{c.address.name}/{c.address.sub}") for c in r.changes]
    assert got == expected
    assert all("its ciphertext goes too" in c.note for c in r.changes)


def test_login_profile_carries_what_apply_needs_and_no_secret() -> None:
    pp = PasswordPolicy(minimum_length=30)
    desired = acct(
        password_policy=pp, users={"u": UserState("u", tags=dict(OWN), login_profile=True, access_keys=())}
    )
    live = acct(
        password_policy=pp, users={"u": UserState("u", tags=dict(OWN), login_profile=False, access_keys=())}
    )
    r = diff("security", P, desired, live, secret_intents={"u": INTENT})
    [c] = r.changes
    assert c.address.kind is Kind.LOGIN_PROFILE and c.action is Action.CREATE
    assert c.after is not None
    assert c.after["fingerprint"] == "FPR" and c.after["password_policy"]["minimum_length"] == 30
    assert "password" not in c.after


def test_password_policy_and_alias_updates() -> None:
    desired = acct(alias="new", password_policy=PasswordPolicy(minimum_length=30))
    live = acct(alias="old", password_policy=PasswordPolicy(minimum_length=8))
    assert changes(desired, live) == [
        ("update", "account_alias", "new"),
        ("update", "password_policy", "account"),
    ]
    # absent from the spec: left alone
    assert changes(acct(), live) == []


def spec_with_roles() -> Spec:
    accounts = {
        n: Account(n, i, None, None)
        for n, i in (("security", "222222222222"), ("shared", "333333333333"), ("prd", "555555555555"))
    }
    from pathlib import Path

    return Spec(
        path=Path("/x/iamlayer.yaml"),
        project=P,
        project_long=P,
        region="us-east-1",
        accounts=accounts,
        people_account="security",
        management_account=None,
        roles={
            "DevOps": Role("DevOps", ("shared", "prd"), "security", mfa_max_age=3600),
            "Deploy": Role("Deploy", ("prd",), "security", source_identity=True, tag_session=True),
        },
        groups={"devops": Group("devops", assume=("DevOps", "Deploy"))},
        users={"jane": User("jane", groups=("devops",))},
    )


def test_trust_policy_with_mfa_and_ci_session_features() -> None:
    spec = spec_with_roles()
    t = trust_policy(spec, spec.roles["DevOps"])
    st = t["Statement"][0]
    assert st["Principal"] == {"AWS": ["arn:aws:iam::222222222222:root"]}
    assert st["Condition"] == {
        "Bool": {"aws:MultiFactorAuthPresent": ["true"]},
        "NumericLessThan": {"aws:MultiFactorAuthAge": ["3600"]},
        # people of the people account assume it in a session named after their user
        "StringEquals": {"sts:RoleSessionName": ["${aws:username}"]},
    }
    assume, ci = trust_policy(spec, spec.roles["Deploy"])["Statement"]
    assert assume["Action"] == ["sts:AssumeRole"]
    assert assume["Condition"] == {"StringEquals": {"sts:RoleSessionName": ["${aws:username}"]}}
    # the session features are asked within the AssumeRole call, which the first statement decides
    assert ci["Action"] == ["sts:SetSourceIdentity", "sts:TagSession"]
    assert "Condition" not in ci


def test_group_assume_policy_names_each_role_and_exactly_its_accounts() -> None:
    spec = spec_with_roles()
    doc = assume_policy(spec, ("DevOps", "Deploy"))
    # One statement per distinct set of accounts, each role in every account, the accounts by id.
    assert [(s["Resource"], s["Condition"]) for s in doc["Statement"]] == [
        (
            ["arn:aws:iam::*:role/DevOps"],
            {"StringEquals": {"aws:ResourceAccount": ["333333333333", "555555555555"]}},
        ),
        (["arn:aws:iam::*:role/Deploy"], {"StringEquals": {"aws:ResourceAccount": ["555555555555"]}}),
    ]
    assert [s["Sid"] for s in doc["Statement"]] == ["AssumeLayerRoles", "AssumeLayerRoles2"]


def test_self_management_restricted_has_no_access_key_management() -> None:
    full = self_management_policy(SelfManagement.ENFORCE_MFA)
    restricted = self_management_policy(SelfManagement.RESTRICTED)
    sids = lambda d: {s["Sid"] for s in d["Statement"]}  # noqa: E731
    assert sids(full) - sids(restricted) == {"AllowManageOwnAccessKeys"}
    deny = next(s for s in full["Statement"] if s["Effect"] == "Deny")
    assert deny["Condition"] == {"BoolIfExists": {"aws:MultiFactorAuthPresent": ["false"]}}
    assert "sts:GetSessionToken" in deny["NotAction"]


def test_normalize_treats_equivalent_documents_as_equal() -> None:
    a = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Allow",
            "Action": ["s3:b", "s3:a"],
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": True}},
        },
    }
    b = {
        "Statement": [
            {
                "Resource": ["*"],
                "Action": ["s3:a", "s3:b"],
                "Effect": "Allow",
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            }
        ],
        "Version": "2012-10-17",
    }
    assert normalize(a) == normalize(b)
    assert normalize('{"Version":"2012-10-17","Statement":[]}') == {"Version": "2012-10-17", "Statement": []}


def test_adoption_writes_the_list_of_spec_tag_keys_with_the_ownership_tag() -> None:
    """An adopted user's spec tags become iamlayer's: one ADOPT change tags it with both, and no
    update follows for the list (an import's first plan only adopts)."""
    want = {**OWN, "ManagedBy": "terraform", MANIFEST: "ManagedBy"}
    desired = acct(users={"u": UserState("u", tags=want, login_profile=False, access_keys=())})
    live = acct(
        users={"u": UserState("u", tags={"ManagedBy": "terraform"}, login_profile=False, access_keys=())}
    )
    r = diff("security", P, desired, live, adopt=True)
    [c] = r.changes
    assert c.action is Action.ADOPT and c.after == {"tags": {OWNER_TAG: P, MANIFEST: "ManagedBy"}}


def test_a_password_policy_reads_the_same_from_aws_and_from_terraform() -> None:
    """GetAccountAuthorizationDetails' fields and aws_iam_account_password_policy's (snake case)
    give the same policy; 0 for age or reuse means none, absent fields AWS's defaults."""
    from iamlayer.importer.terraform import TfInstance, _password_policy

    aws = {
        "MinimumPasswordLength": 30,
        "RequireUppercaseCharacters": True,
        "RequireSymbols": True,
        "AllowUsersToChangePassword": True,
        "MaxPasswordAge": 90,
        "PasswordReusePrevention": 0,
        "HardExpiry": False,
    }
    tf = TfInstance(
        "aws_iam_account_password_policy.this",
        "aws_iam_account_password_policy",
        "p",
        "",
        {
            "minimum_password_length": 30,
            "require_uppercase_characters": True,
            "require_lowercase_characters": False,
            "require_symbols": True,
            "allow_users_to_change_password": True,
            "max_password_age": 90,
            "password_reuse_prevention": 0,
            "hard_expiry": None,
        },
    )
    want = PasswordPolicy(30, frozenset({"upper", "symbols"}), True, 90, None, False)
    assert PasswordPolicy.from_aws(aws) == want == _password_policy(tf)
    assert PasswordPolicy.from_aws({}) == PasswordPolicy(6, frozenset(), False, None, None, False)

"""Who gains what, as pure logic: each person's reach from account states, its cost, and the
state a plan leaves (iamlayer.access.reach, iamlayer.plan.access_changes)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from access_support import allow, doc

from iamlayer.access import reach
from iamlayer.access.principals import AccessModel
from iamlayer.plan.access_changes import access_changes, projected_state
from iamlayer.plan.desired import desired_state
from iamlayer.plan.model import Reach
from iamlayer.spec.load import load_spec
from iamlayer.state.model import OWNER_TAG, AccountState, GroupState, RoleState, UserState

NOW = datetime(2026, 12, 6, tzinfo=UTC)
PEOPLE, WORK = "111111111111", "222222222222"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
IDS = {"security": PEOPLE, "apps": WORK}


def trust(principal: Any, **condition: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        st["Condition"] = condition
    return doc(st)


def states(users: dict[str, list[str]], roles: dict[str, RoleState]) -> dict[str, AccountState]:
    assume = doc(allow(action="sts:AssumeRole", resource=f"arn:aws:iam::{WORK}:role/*"))
    people = AccountState(
        account_id=PEOPLE,
        users={u: UserState(u, groups=frozenset(g)) for u, g in users.items()},
        groups={"team": GroupState("team", inline={"assume": assume}), "other": GroupState("other")},
    )
    return {"security": people, "apps": AccountState(account_id=WORK, roles=roles)}


def model(s: dict[str, AccountState]) -> AccessModel:
    return AccessModel.from_states(s, "security", IDS)


def test_reach_says_admin_and_mfa_and_a_move_shows_as_gain_and_loss() -> None:
    roles = {
        "Admin": RoleState(
            "Admin",
            trust=trust({"AWS": f"arn:aws:iam::{PEOPLE}:root"}, Bool={"aws:MultiFactorAuthPresent": "true"}),
            attached=frozenset({ADMIN}),
        ),
        "Reader": RoleState("Reader", trust=trust({"AWS": f"arn:aws:iam::{PEOPLE}:root"})),
    }
    before = reach.person_reach(model(states({"ana": ["team"], "bob": ["other"]}, roles)), now=NOW)
    assert before == {
        ("ana", "apps", "Admin"): Reach("ana", "Admin", "apps", admin=True, mfa="MFA"),
        ("ana", "apps", "Reader"): Reach("ana", "Reader", "apps", admin=False, mfa="no MFA"),
    }
    after = reach.person_reach(model(states({"ana": ["other"], "bob": ["team"]}, roles)), now=NOW)
    texts = [c.describe() for c in reach.reach_changes(before, after, ["security", "apps"])]
    assert texts == [
        "- ana can assume Admin (admin) in apps, MFA",
        "- ana can assume Reader in apps, no MFA",
        "+ bob can assume Admin (admin) in apps, MFA",
        "+ bob can assume Reader in apps, no MFA",
    ]


def test_a_trust_naming_one_user_is_not_shared_with_the_rest_of_the_group() -> None:
    """The cache of answers by statements must key on the caller when a statement names it."""
    roles = {"Jane": RoleState("Jane", trust=trust({"AWS": f"arn:aws:iam::{PEOPLE}:user/jane"}))}
    got = reach.person_reach(
        model(states({"bob": ["team"], "jane": ["team"], "zoe": ["team"]}, roles)), now=NOW
    )
    assert set(got) == {("jane", "apps", "Jane")}


def test_people_in_the_same_groups_share_one_evaluation_and_service_roles_are_not_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[tuple[str, str]] = []
    real = reach.assume_access

    def counted(m: AccessModel, user: Any, role: Any, *, now: datetime) -> Any:
        asked.append((user.name, role.name))
        return real(m, user, role, now=now)

    monkeypatch.setattr(reach, "assume_access", counted)
    roles = {
        "Reader": RoleState("Reader", trust=trust({"AWS": f"arn:aws:iam::{PEOPLE}:root"})),
        "Lambda": RoleState(
            "Lambda", trust=trust({"Service": "lambda.amazonaws.com"}), attached=frozenset({ADMIN})
        ),
    }
    users = {f"p{i:03d}": ["team" if i % 2 else "other"] for i in range(200)}
    got = reach.person_reach(model(states(users, roles)), now=NOW)
    assert len(got) == 100 and all(k[2] == "Reader" for k in got)
    assert len(asked) == 2 and {r for _, r in asked} == {"Reader"}


SPEC = """\
project: acme
accounts:
  security: {id: "111111111111"}
  apps: {id: "222222222222"}
people_account: security
roles:
  Reader: {accounts: [apps]}
groups:
  readers: {assume: [Reader]}
users:
  ana: {groups: [readers], console: false}
"""


def test_after_the_plan_keeps_what_iamlayer_does_not_own_and_drops_what_it_owned(tmp_path: Path) -> None:
    path = tmp_path / "iamlayer.yaml"
    path.write_text(SPEC)
    spec = load_spec(path, check_keys=False)
    live = {a: desired_state(spec, a) for a in spec.accounts}
    owned = {OWNER_TAG: "acme"}
    people = live["security"]
    people.users["legacy"] = UserState("legacy", groups=frozenset({"readers"}))  # not ours: stays
    people.users["gone"] = UserState("gone", tags=owned, groups=frozenset({"readers"}))  # ours, left the spec
    after = projected_state(people, desired_state(spec, "security"), "acme")
    assert set(after.users) == {"ana", "legacy"}

    texts = [c.describe() for c in access_changes(spec, live, now=NOW)]
    assert texts == ["- gone can assume Reader in apps, no MFA"]


def test_tables_compare_by_class_as_rows_compare_by_person_and_share_answers_across_models(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The plan's way (reach_table + table_changes, one answer cache for before and after) gives
    exactly the per-person comparison, a trust naming one user included, and evaluates what the
    plan leaves as it was only once."""
    asked: list[str] = []
    real = reach.assume_access

    def counted(m: AccessModel, user: Any, role: Any, *, now: datetime) -> Any:
        asked.append(f"{user.name}/{role.name}")
        return real(m, user, role, now=now)

    monkeypatch.setattr(reach, "assume_access", counted)
    root = {"AWS": f"arn:aws:iam::{PEOPLE}:root"}
    roles = {
        "Admin": RoleState(
            "Admin",
            trust=trust(root, Bool={"aws:MultiFactorAuthPresent": "true"}),
            attached=frozenset({ADMIN}),
        ),
        "Reader": RoleState("Reader", trust=trust(root)),
        "Jane": RoleState("Jane", trust=trust({"AWS": f"arn:aws:iam::{PEOPLE}:user/jane"})),
    }
    users_before = {f"p{i:02d}": ["team" if i % 2 else "other"] for i in range(40)} | {"jane": ["team"]}
    users_after = {**users_before, "p00": ["team"], "p01": ["other"], "new": ["team"]}
    del users_after["p02"]
    answers: dict[Any, Any] = {}
    before = reach.reach_table(model(states(users_before, roles)), now=NOW, answers=answers)
    first = len(asked)
    after = reach.reach_table(model(states(users_after, roles)), now=NOW, answers=answers)
    # Only the role whose trust names the caller is asked again, for the people the plan moves or
    # adds; every answer by class is shared with the model before.
    assert sorted(asked[first:]) == ["new/Jane", "p00/Jane", "p01/Jane"]
    assert first < 2 * 3 + 41  # a few per class and role, not one per person and role
    got = reach.table_changes(before, after, ["security", "apps"])
    want = reach.reach_changes(before.rows(), after.rows(), ["security", "apps"])
    assert got == want and len(got) == 2 + 2 + 2  # p00 gains two, p01 loses two, new gains two
    assert ("jane", "apps", "Jane") in after.rows() and ("p01", "apps", "Jane") not in after.rows()


def test_the_layers_named_session_trust_is_asked_once_per_class_not_per_person(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """sts:RoleSessionName = ${aws:username} names the caller, but the evaluator asks in a session
    named after each person (as the profiles do), so it holds for all alike: 200 people in two
    groups cost two answers, and each answer is right (the 600-account apply took 5x longer when
    this trust was taken as caller-specific)."""
    from iamlayer.plan.desired import trust_document

    asked: list[str] = []
    real = reach.assume_access

    def counted(m: AccessModel, user: Any, role: Any, *, now: datetime) -> Any:
        asked.append(user.name)
        return real(m, user, role, now=now)

    monkeypatch.setattr(reach, "assume_access", counted)
    named = trust_document(
        PEOPLE, mfa_max_age=3600, source_identity=False, tag_session=False, named_sessions=True
    )
    assert "${aws:username}" in str(named)
    roles = {"DevOps": RoleState("DevOps", trust=named)}
    users = {f"p{i:03d}": ["team" if i % 2 else "other"] for i in range(200)}
    got = reach.person_reach(model(states(users, roles)), now=NOW)
    assert len(asked) == 2
    assert set(got) == {(f"p{i:03d}", "apps", "DevOps") for i in range(1, 200, 2)}
    assert all(r.mfa == "MFA" for r in got.values())

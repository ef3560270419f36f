"""Offboarding (issue 23, item 2), offline: role sessions named after their person (the trust
policy's sts:RoleSessionName condition, as the evaluator decides it), the Deny of a leaver's
sessions (before and after the offboarding, and gone from the desired state once no session can
be left), the permission sets' Deny, the spec's `offboarded:` block and its bad input, the spec
edit, and the reach that `offboard` reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from spec_support import FIXTURES, line_of, load_errors, offline_design_layer, only, write_spec

from iamlayer.access.context import Signing
from iamlayer.access.principals import model_from_spec
from iamlayer.access.queries import Target, can, session_can, who_can_assume
from iamlayer.cli.common import run_guarded
from iamlayer.cli.main import cli
from iamlayer.offboard import names_sessions, offboarding_entry, reach_of
from iamlayer.plan.desired import desired_state
from iamlayer.plan.diff import diff
from iamlayer.plan.ic_diff import desired_ic
from iamlayer.plan.model import Action, Kind
from iamlayer.spec.edit import without_person
from iamlayer.spec.load import load_spec, load_spec_with_warnings
from iamlayer.state.model import OFFBOARDED_POLICY_NAME
from iamlayer.state.normalize import normalize
from offboard_support import session_deny

AT = datetime(2099, 12, 6, 18, tzinfo=UTC)
AT_TEXT = "2099-12-06T18:00:00Z"
ENTRY = f"offboarded:\n  - {{user: jane.doe, at: {AT_TEXT}, roles: [DevOps@apps-prd, DevOps@shared]}}\n"
DENY = session_deny("jane.doe", AT_TEXT)


@pytest.fixture
def layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The design example (DevOps: max_session_duration 3600)."""
    return offline_design_layer(tmp_path, monkeypatch)


def offboarded(spec_file: Path) -> Path:
    """The layer after jane.doe's offboarding at AT (she stays in users: a re-hire, or not yet
    removed; the Deny does not depend on it)."""
    with spec_file.open("a") as f:
        f.write(ENTRY)
    return spec_file


# --- role sessions named after their person ---------------------------------------------------------


def test_the_trust_allows_a_session_named_after_the_user_and_denies_another_name(layer: Path) -> None:
    spec = load_spec(layer, check_keys=False)
    model = model_from_spec(spec)
    jane = model.users["jane.doe"]
    role = model.role("DevOps", "apps-prd")
    assert role is not None
    target = Target(role.arn, role)
    now = datetime.now(UTC)
    named = can(model, jane, "sts:AssumeRole", target, Signing.with_mfa(60), now=now)
    assert named.allowed and named.certain
    other = can(
        model,
        jane,
        "sts:AssumeRole",
        target,
        Signing.with_mfa(60),
        now=now,
        extra={"sts:RoleSessionName": "machine.ci"},
    )
    assert not other.allowed and other.certain
    # who-can-assume is unchanged: the person, in a session of their own name, still may
    report = who_can_assume(model, role, now=now)
    assert [u.name for u in report.users if u.can_assume] == ["jane.doe"]


def test_roles_trusted_by_the_management_account_do_not_name_sessions(tmp_path: Path) -> None:
    text = (
        (FIXTURES / "design_example.yaml")
        .read_text()
        .replace("  Auditor: {accounts: all,", "  Auditor: {accounts: all, trusted: management,")
    )
    spec_file = write_spec(tmp_path, text, keys=("jane.doe", "machine.infra"))
    spec = load_spec(spec_file, check_keys=False)
    trust = desired_state(spec, "shared").roles["Auditor"].trust
    assert "sts:RoleSessionName" not in str(trust)
    assert "sts:RoleSessionName" in str(desired_state(spec, "shared").roles["DevOps"].trust)


# --- the Deny of a leaver's sessions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("session", "issued", "denied"),
    [
        ("jane.doe", AT - timedelta(minutes=10), True),  # a session she held: denied
        ("jane.doe", AT - timedelta(seconds=1), True),
        ("jane.doe", AT, False),  # DateLessThan: issued at the offboarding itself is not hers
        ("jane.doe", AT + timedelta(minutes=5), False),  # a re-hire's, or a new hire's of that name
        ("machine.ci", AT - timedelta(minutes=10), False),  # someone else's session
        ("xjane.doe", AT - timedelta(minutes=10), False),  # another name that ends like hers
    ],
)
def test_the_session_deny_denies_exactly_her_sessions_issued_before_the_offboarding(
    layer: Path, session: str, issued: datetime, denied: bool
) -> None:
    spec = load_spec(offboarded(layer), check_keys=False)
    now = AT + timedelta(minutes=20)
    model = model_from_spec(spec, now=now)
    role = model.role("DevOps", "apps-prd")
    assert role is not None
    d = session_can(model, role, session, issued, "s3:ListAllMyBuckets", "*", now=now)
    assert d.certain
    assert d.allowed is not denied
    if denied:
        assert [(s.policy, s.sid, s.effect) for s in d.deciding] == [
            (f"role DevOps in apps-prd / inline {OFFBOARDED_POLICY_NAME}", "Offboardedjanedoe", "Deny")
        ]
    # the role in an account she was not offboarded from carries no Deny
    devstg = model.role("DevOps", "apps-devstg")
    assert devstg is not None
    assert session_can(model, devstg, session, issued, "s3:ListAllMyBuckets", "*", now=now).allowed


def test_the_deny_is_in_the_desired_state_until_her_sessions_have_ended_then_the_plan_removes_it(
    layer: Path,
) -> None:
    spec = load_spec(offboarded(layer), check_keys=False)
    ends = AT + timedelta(seconds=3600)  # DevOps: max_session_duration 3600
    live = desired_state(spec, "apps-prd", now=AT)
    assert live.roles["DevOps"].inline == {OFFBOARDED_POLICY_NAME: DENY}
    assert desired_state(spec, "apps-prd", now=ends - timedelta(seconds=1)).roles["DevOps"].inline == {
        OFFBOARDED_POLICY_NAME: DENY
    }
    assert OFFBOARDED_POLICY_NAME not in desired_state(spec, "apps-devstg", now=AT).roles["DevOps"].inline
    after = desired_state(spec, "apps-prd", now=ends)
    assert after.roles["DevOps"].inline == {}
    changes = diff("apps-prd", spec.project, after, live).changes
    assert [(c.action, c.address.kind, c.address.name, c.address.sub) for c in changes] == [
        (Action.DELETE, Kind.ROLE_INLINE_POLICY, "DevOps", OFFBOARDED_POLICY_NAME)
    ]
    # and the evaluator: past the bound, a session she held before is no longer denied by it
    model = model_from_spec(spec, now=ends)
    role = model.role("DevOps", "apps-prd")
    assert role is not None
    assert session_can(
        model, role, "jane.doe", AT - timedelta(minutes=1), "s3:ListAllMyBuckets", "*", now=ends
    ).allowed


IC_SPEC = """\
project: acme
accounts:
  management:  {id: "111111111111"}
  security:    {id: "222222222222"}
  shared:      {id: "333333333333"}
people_account: security
identity_center:
  users:
    jane.doe: {email: jane@example.com, given_name: Jane, family_name: Doe}
    john.roe: {email: john@example.com, given_name: John, family_name: Roe}
  groups:
    devops: {description: DevOps team, members: [jane.doe, john.roe]}
  permission_sets:
    DevOps:
      session_duration: PT4H
      policies: [arn:aws:iam::aws:policy/AdministratorAccess]
      inline_policy: {Version: "2012-10-17", Statement: [{Sid: Own, Effect: Deny, Action: "iam:*", Resource: "*"}]}
    ReadOnly: {policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]}
  assignments:
    - {group: devops, permission_sets: [DevOps], accounts: [shared]}
    - {user: jane.doe, permission_sets: [ReadOnly], accounts: [shared]}
"""


def test_her_permission_sets_get_the_same_deny_beside_their_own_statements(tmp_path: Path) -> None:
    spec_file = write_spec(
        tmp_path, IC_SPEC + f"offboarded:\n  - {{user: jane.doe, at: {AT_TEXT}, permission_sets: [DevOps]}}\n"
    )
    spec = load_spec(spec_file, check_keys=False)
    [entry] = spec.offboarded
    assert entry.permission_sets == ("DevOps",) and entry.roles == ()
    during = desired_ic(spec, now=AT + timedelta(hours=3)).permission_sets
    statements = during["DevOps"].inline["Statement"] if during["DevOps"].inline else []
    assert [s["Sid"] for s in statements] == ["Own", "Offboardedjanedoe"]
    assert statements[1] == DENY["Statement"][0]
    assert during["ReadOnly"].inline is None  # not in her entry
    after = desired_ic(spec, now=AT + timedelta(hours=4)).permission_sets  # PT4H: every session ended
    assert after["DevOps"].inline == normalize(
        {
            "Version": "2012-10-17",
            "Statement": [{"Sid": "Own", "Effect": "Deny", "Action": "iam:*", "Resource": "*"}],
        }
    )


def test_her_reach_names_each_role_and_permission_set_and_what_gave_it(tmp_path: Path) -> None:
    text = IC_SPEC.replace("people_account: security\n", "people_account: security\n" + _ROLES)
    spec = load_spec(write_spec(tmp_path, text), check_keys=False)
    reach = reach_of(spec, "jane.doe", now=datetime.now(UTC))
    got = {(r.account, r.kind, r.name): r.via for r in reach}
    assert set(got) == {
        ("shared", "role", "DevOps"),
        ("shared", "permission_set", "DevOps"),
        ("shared", "permission_set", "ReadOnly"),
    }
    assert got[("shared", "role", "DevOps")] == (
        "group devops / inline assume-roles, statement 0 (AssumeLayerRoles), Allow",
        "trust policy of DevOps in shared, statement 0, Allow",
    )
    assert got[("shared", "permission_set", "ReadOnly")] == ("assignment to user jane.doe",)
    assert got[("shared", "permission_set", "DevOps")] == ("assignment to group devops",)
    entry = offboarding_entry("jane.doe", AT, reach)
    assert entry == {
        "user": "jane.doe",
        "at": AT_TEXT,
        "roles": ["DevOps@shared"],
        "permission_sets": ["DevOps", "ReadOnly"],
    }


_ROLES = """\
roles:
  DevOps: {accounts: [shared]}
groups:
  devops: {assume: [DevOps]}
users:
  jane.doe: {groups: [devops], console: false}
"""


# --- the spec: offboarded:, its bad input, the edit ---------------------------------------------------


def test_an_offboarding_whose_sessions_have_ended_is_a_warning_not_an_error(layer: Path) -> None:
    text = layer.read_text() + ENTRY.replace(AT_TEXT, "2020-01-01T00:00:00Z")
    layer.write_text(text)
    spec, warnings = load_spec_with_warnings(layer, check_keys=False)
    assert spec.offboarded and not desired_state(spec, "apps-prd").roles["DevOps"].inline
    [w] = [w for w in warnings if w.key.startswith("offboarded")]
    assert "every session jane.doe held before 2020-01-01T00:00:00Z has ended" in w.message


@pytest.mark.parametrize(
    ("item", "key", "message"),
    [
        ("{user: jane.doe, at: 2026-12-06}", "offboarded[0].at", "is not an ISO 8601 time with a zone"),
        (
            "{user: jane.doe, at: 2026-12-06T18:00:00}",
            "offboarded[0].at",
            "is not an ISO 8601 time with a zone",
        ),
        (
            "{user: jane.doe, at: 2026-12-06T18:00:00Z, roles: [Ops@shared]}",
            "offboarded[0].roles[0]",
            "unknown role 'Ops'",
        ),
        (
            "{user: jane.doe, at: 2026-12-06T18:00:00Z, roles: [DevOps@security]}",
            "offboarded[0].roles[0]",
            "role DevOps is not in account 'security'",
        ),
        (
            "{user: jane.doe, at: 2026-12-06T18:00:00Z, roles: [DevOps]}",
            "offboarded[0].roles[0]",
            "is not <role>@<account>",
        ),
        (
            "{user: jane.doe, at: 2026-12-06T18:00:00Z, permission_sets: [X]}",
            "offboarded[0].permission_sets[0]",
            "unknown permission set",
        ),
        ("{at: 2026-12-06T18:00:00Z}", "offboarded[0].user", "missing required field 'user'"),
    ],
)
def test_bad_offboarded_entries_are_errors_at_their_line(
    layer: Path, item: str, key: str, message: str
) -> None:
    layer.write_text(layer.read_text() + f"offboarded:\n  - {item}\n")
    d = only(load_errors(layer), key)
    assert message in d.message
    assert d.line == line_of(layer, item)


def test_a_role_policy_of_the_reserved_name_is_an_error(layer: Path) -> None:
    text = layer.read_text().replace(
        "max_session_duration: 3600,",
        "max_session_duration: 3600, inline_policies: {iamlayer-offboarded: "
        '{Version: "2012-10-17", Statement: []}},',
    )
    layer.write_text(text)
    d = only(load_errors(layer), "roles.DevOps.inline_policies.iamlayer-offboarded")
    assert "is iamlayer's" in d.message


def test_the_edit_removes_the_person_everywhere_and_records_the_entry(tmp_path: Path) -> None:
    text = IC_SPEC.replace("people_account: security\n", "people_account: security\n" + _ROLES)
    text += "grants:\n  - {who: jane.doe, assume: DevOps, until: 2099-01-01T00:00:00Z}\n"
    text = "# the team's layer\n" + text
    spec_file = write_spec(tmp_path, text)
    entry = {"user": "jane.doe", "at": AT_TEXT, "roles": ["DevOps@shared"], "permission_sets": ["DevOps"]}
    edited = without_person(text, str(spec_file), "jane.doe", entry)
    assert edited.startswith("# the team's layer\n")  # comments stay
    spec_file.write_text(edited)
    spec = load_spec(spec_file, check_keys=False)
    assert "jane.doe" not in spec.users and not spec.grants
    ic = spec.identity_center
    assert ic is not None and "jane.doe" not in ic.users
    assert ic.groups["devops"].members == ("john.roe",)
    assert all(a.principal != "jane.doe" for a in ic.assignments)
    [o] = spec.offboarded
    assert (o.user, o.at, o.roles, o.permission_sets) == (
        "jane.doe",
        AT,
        (("DevOps", "shared"),),
        ("DevOps",),
    )


def test_offboarding_a_user_the_spec_does_not_have_is_exit_2_and_writes_nothing(
    layer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = IC_SPEC.replace("people_account: security\n", "people_account: security\n" + _ROLES)
    layer.write_text(text)  # no pgp_key to check: the command fails before it would reach AWS
    code = run_guarded(cli, ["offboard", "mallory", "--yes", "--json"])
    _, err = capsys.readouterr()
    assert code == 2
    err = " ".join(err.split())
    assert "users.mallory: no user 'mallory' in the spec: iamlayer offboards only the users it manages" in err
    assert layer.read_text() == text
    assert sorted(p.name for p in layer.parent.iterdir()) == ["iamlayer.yaml", "keys"]


def test_a_role_whose_trust_does_not_name_sessions_is_told_apart(tmp_path: Path) -> None:
    """A verbatim trust of the people account without the session name condition (what `import`
    keeps) still lets her in: offboard reaches it, and says its Deny misses other session names."""
    verbatim = (
        '  Legacy: {accounts: [shared], trust_policy: {Version: "2012-10-17", Statement: [{Effect: Allow, '
        'Principal: {AWS: "arn:aws:iam::222222222222:root"}, Action: "sts:AssumeRole"}]}}\n'
    )
    text = IC_SPEC.replace("people_account: security\n", "people_account: security\n" + _ROLES)
    text = text.replace("  DevOps: {accounts: [shared]}\n", "  DevOps: {accounts: [shared]}\n" + verbatim)
    text = text.replace("devops: {assume: [DevOps]}", "devops: {assume: [DevOps, Legacy]}")
    spec = load_spec(write_spec(tmp_path, text), check_keys=False)
    assert names_sessions(spec, "DevOps") and not names_sessions(spec, "Legacy")
    reached = {
        (r.account, r.name) for r in reach_of(spec, "jane.doe", now=datetime.now(UTC)) if r.kind == "role"
    }
    assert reached == {("shared", "DevOps"), ("shared", "Legacy")}

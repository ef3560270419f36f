"""`iamlayer migrate identity-center` offline (issue 24 item 5): the 5-account example moved both
ways with a parity table free of differences, a crafted layer whose parity fails and says how,
emails from a CSV or a tag, a user without one refused at its line with nothing written, the
spec's own text kept (the diff only adds), and the retirement plan's order from a credential
report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from iamlayer.audit.model import CredentialReport
from iamlayer.cli.common import run_guarded
from iamlayer.cli.main import cli
from iamlayer.errors import SpecError
from iamlayer.migrate.parity import GAINED, LOST, SAME
from iamlayer.migrate.proposal import Via, names_of
from iamlayer.migrate.retire import retirement_plan
from iamlayer.migrate.run import migrate_identity_center
from iamlayer.spec.load import load_spec
from iamlayer.spec.scaffold import scaffold

NOW = datetime(2026, 12, 1, tzinfo=UTC)
PEOPLE = (
    "user,email,given_name,family_name\njane.doe,jane@example.com,Jane,Doe\nmachine.ci,ci@example.com,,\n"
)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`iamlayer init`'s 5-account layer, and a people.csv for its two users."""
    root = tmp_path_factory.mktemp("example")
    scaffold(root)
    (root / "people.csv").write_text(PEOPLE)
    return root


def only_added(diff: str) -> list[str]:
    """The diff's changed lines; fails when any line of the spec was removed or changed."""
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert all(line.startswith("+") for line in changed), changed
    return [line[1:] for line in changed]


@pytest.mark.parametrize("via", list(Via))
def test_the_5_account_example_moves_with_parity(example: Path, via: Via) -> None:
    spec_path = example / "iamlayer.yaml"
    m = migrate_identity_center(spec_path, via=via, emails=example / "people.csv", now=NOW)
    assert m.parity.holds and m.parity.differences == ()
    rows = {(r.person, r.account, r.before.name if r.before else None) for r in m.parity.rows}
    assert rows == {
        *{("jane.doe", a, "DevOps") for a in ("shared", "apps-devstg", "apps-prd")},
        *{("machine.ci", a, "DeployMaster") for a in ("shared", "apps-devstg", "apps-prd")},
    }
    assert all(r.verdict == SAME and r.after is not None for r in m.parity.rows)
    jane = next(r for r in m.parity.rows if r.person == "jane.doe")
    assert jane.before is not None and jane.before.mfa == "MFA"
    assert jane.after is not None and jane.after.mfa == "MFA at sign-in"
    assert jane.after.kind == ("permission set" if via is Via.PERMISSION_SETS else "entitled role")

    added = only_added(m.diff())  # the IAM layer stays as written: side by side
    proposed = load_spec(spec_path, check_keys=False)  # the file itself is untouched
    assert proposed.identity_center is None
    assert "    jane.doe: {email: jane@example.com, given_name: Jane, family_name: Doe}" in added
    assert "    machine.ci: {email: ci@example.com, given_name: Machine, family_name: Ci}" in added
    assert '    devops: {description: "from IAM group devops", members: [jane.doe]}' in added
    if via is Via.PERMISSION_SETS:
        assert (
            "    - {group: devops, permission_sets: [DevOps], accounts: [shared, apps-devstg, apps-prd]}"
            in added
        )
        assert "    - {group: auditors, permission_sets: [Auditor], accounts: all}" in added
        assert (
            "permission set FinOps is assigned in the management account management, as role FinOps is "
            "there: AWS advises against it (validate and plan warn)"
        ) in m.proposal.notes
        assert not any("entitled:" in line for line in added)
    else:
        assert "    entitled: [group/devops]" in added and "permission_sets:" not in "\n".join(added)


def test_permission_sets_mirror_the_roles(tmp_path: Path) -> None:
    """Managed policies, inline policies merged into one, the boundary and the session duration."""
    spec_path = tmp_path / "iamlayer.yaml"
    spec_path.write_text(
        SMALL.replace(
            "  DevOps: {accounts: [shared, prd], policies: [arn:aws:iam::aws:policy/PowerUserAccess]}",
            "  DevOps:\n"
            "    accounts: [shared, prd]\n"
            "    policies: [arn:aws:iam::aws:policy/PowerUserAccess]\n"
            "    permissions_boundary: arn:aws:iam::aws:policy/PowerUserAccess\n"
            "    max_session_duration: 14400\n"
            "    inline_policies:\n"
            '      a: {Version: "2012-10-17", Statement: [{Sid: A, Effect: Deny, Action: "s3:DeleteBucket", Resource: "*"}]}\n'
            '      b: {Version: "2012-10-17", Statement: [{Effect: Deny, Action: "iam:*", Resource: "*"}]}',
        )
    )
    m = migrate_identity_center(spec_path, now=NOW)
    assert m.parity.holds, m.parity.differences
    body = m.proposal.permission_sets["DevOps"]
    assert body["session_duration"] == "PT4H"
    assert body["boundary"] == "arn:aws:iam::aws:policy/PowerUserAccess"
    assert [s["Action"] for s in body["inline_policy"]["Statement"]] == ["s3:DeleteBucket", "iam:*"]


SMALL = """\
project: acme
accounts:
  security: {id: "222222222222"}
  shared: {id: "333333333333"}
  prd: {id: "555555555555"}
people_account: security
management_account: security
roles:
  DevOps: {accounts: [shared, prd], policies: [arn:aws:iam::aws:policy/PowerUserAccess]}
groups:
  devops: {assume: [DevOps]}
users:
  jane: {groups: [devops], console: false, tags: {email: jane@example.com}}
  bob: {groups: [devops], console: false, tags: {email: bob@example.com}}
"""


def test_a_crafted_layer_whose_parity_fails_says_what_is_lost_and_gained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """DevOps trusts jane alone (a verbatim trust policy): bob, in group devops, cannot assume it
    today, yet the group's permission set would give it to him. Carol reaches Break through a
    grant, which Identity Center gets nothing of."""
    trust = (
        '{Version: "2012-10-17", Statement: [{Effect: Allow, Action: "sts:AssumeRole", '
        'Principal: {AWS: "arn:aws:iam::222222222222:user/jane"}}]}'
    )
    text = SMALL.replace(
        "policies: [arn:aws:iam::aws:policy/PowerUserAccess]}",
        f"policies: [arn:aws:iam::aws:policy/PowerUserAccess], trust_policy: {trust}}}",
    )
    text = text.replace(
        "groups:\n",
        "  Break: {accounts: [prd], policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]}\ngroups:\n",
    )
    text += "  carol: {console: false, tags: {email: carol@example.com}}\n"
    text += "grants:\n  - {who: carol, assume: Break, accounts: [prd], until: 2099-01-01T00:00:00Z}\n"
    spec_path = tmp_path / "iamlayer.yaml"
    spec_path.write_text(text)
    m = migrate_identity_center(spec_path, now=NOW)
    assert not m.parity.holds
    got = {(r.verdict, r.person, r.account) for r in m.parity.differences}
    assert got == {(GAINED, "bob", "shared"), (GAINED, "bob", "prd"), (LOST, "carol", "prd")}
    assert {(r.person, r.account) for r in m.parity.rows if r.verdict == SAME} == {
        ("jane", "shared"),
        ("jane", "prd"),
    }

    out = tmp_path / "proposed.yaml"
    code = run_guarded(cli, ["migrate", "identity-center", "-f", str(spec_path), "--out", str(out)])
    text_out = capsys.readouterr().out
    assert code == 1
    assert "Parity does not hold: 3 difference(s)" in text_out
    assert "gained: bob in prd: permission set DevOps (MFA at sign-in)" in text_out
    assert "lost: carol in prd: role Break (no MFA)" in text_out
    assert out.exists()  # a proposal to review, even when parity fails
    # the retirement plan holds back the people whose parity differs
    holds = {r.user: r.hold for r in m.retirement}
    assert holds["jane"] == "" and "parity differs" in holds["bob"] and "parity differs" in holds["carol"]

    code = run_guarded(cli, ["migrate", "identity-center", "-f", str(spec_path), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and data["parity"] is False and len(data["differences"]) == 3
    bob = next(d for d in data["differences"] if d["person"] == "bob" and d["account"] == "prd")
    assert bob == {
        "person": "bob",
        "account": "prd",
        "before": None,
        "after": {"kind": "permission set", "name": "DevOps", "mfa": "MFA at sign-in"},
        "verdict": "gained",
    }
    assert len(data["rows"]) == 5 and data["written"] is None


def test_emails_from_a_csv_and_names_from_it_or_the_user_name(tmp_path: Path) -> None:
    spec_path = tmp_path / "iamlayer.yaml"
    spec_path.write_text(
        SMALL.replace(", tags: {email: jane@example.com}", "").replace(", tags: {email: bob@example.com}", "")
    )
    people = tmp_path / "people.csv"
    people.write_text(
        "user,email,given_name,family_name\njane,j@example.org,Janet,Q. Doe\nbob,b@example.org\n"
    )
    m = migrate_identity_center(spec_path, emails=people, now=NOW)
    assert m.proposal.users == {
        "jane": {"email": "j@example.org", "given_name": "Janet", "family_name": "Q. Doe"},
        "bob": {"email": "b@example.org", "given_name": "Bob", "family_name": "Bob"},
    }
    assert names_of("jane.van-doe") == ("Jane", "Van Doe")
    # the tag: --email-tag names it
    spec_path.write_text(SMALL.replace("tags: {email:", "tags: {mail:"))
    m = migrate_identity_center(spec_path, email_tag="mail", now=NOW)
    assert m.proposal.users["bob"]["email"] == "bob@example.com"
    people.write_text("name,mail\njane,j@example.org\n")
    with pytest.raises(SpecError) as info:
        migrate_identity_center(spec_path, emails=people, now=NOW)
    assert "needs a header with the columns user,email" in info.value.diagnostics[0].message


def test_users_without_an_email_are_each_an_error_at_their_line_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_path = tmp_path / "iamlayer.yaml"
    text = SMALL.replace(", tags: {email: bob@example.com}", ", tags: {email: not-an-email}")
    text = text.replace(", tags: {email: jane@example.com}", "")
    spec_path.write_text(text)
    with pytest.raises(SpecError) as info:
        migrate_identity_center(spec_path, now=NOW)
    lines = text.splitlines()
    got = [(d.line, d.key) for d in info.value.diagnostics]
    assert got == [
        (lines.index(next(x for x in lines if x.startswith("  jane:"))) + 1, "users.jane"),
        (lines.index(next(x for x in lines if x.startswith("  bob:"))) + 1, "users.bob"),
    ]
    assert "'not-an-email' is not an email address" in info.value.diagnostics[1].message
    out = tmp_path / "proposed.yaml"
    code = run_guarded(cli, ["migrate", "identity-center", "-f", str(spec_path), "--out", str(out), "--diff"])
    captured = capsys.readouterr()
    assert code == 2 and not out.exists() and captured.out == ""
    assert "iamlayer.yaml:13: error: users.jane: IAM user jane has no email" in captured.err


def test_an_existing_identity_center_block_and_block_style_roles_are_added_to(tmp_path: Path) -> None:
    text = SMALL.replace(
        "  DevOps: {accounts: [shared, prd], policies: [arn:aws:iam::aws:policy/PowerUserAccess]}",
        "  DevOps:\n    accounts: [shared, prd]   # kept\n    policies: [arn:aws:iam::aws:policy/PowerUserAccess]\n"
        "    entitled:\n      - user/ops\n",
    )
    text += (
        "identity_center:\n"
        "  account: security\n"
        "  users:\n"
        "    ops: {email: ops@example.com, given_name: Op, family_name: S}   # hers\n"
        "  permission_sets:\n"
        "    ReadOnly: {policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]}\n"
        "  assignments:\n"
        "    - {user: ops, permission_sets: [ReadOnly], accounts: [prd]}\n"
    )
    spec_path = tmp_path / "iamlayer.yaml"
    spec_path.write_text(text)
    m = migrate_identity_center(spec_path, via=Via.ENTITLEMENTS, now=NOW)
    added = only_added(m.diff())
    assert added == [
        "      - group/devops",
        "    jane: {email: jane@example.com, given_name: Jane, family_name: Jane}",
        "    bob: {email: bob@example.com, given_name: Bob, family_name: Bob}",
        "  groups:",
        '    devops: {description: "from IAM group devops", members: [jane, bob]}',
    ]
    assert m.parity.holds
    m = migrate_identity_center(spec_path, via=Via.PERMISSION_SETS, now=NOW)
    added = only_added(m.diff())
    # the assignment at the end of `assignments:`, before the new `groups:` section
    at = added.index("    - {group: devops, permission_sets: [DevOps], accounts: [shared, prd]}")
    assert added[at + 1] == "  groups:"
    assert m.parity.holds


REPORT = """\
user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
jane,arn:aws:iam::222222222222:user/jane,2026-01-01T00:00:00+00:00,true,2026-11-30T10:00:00+00:00,N/A,N/A,true,true,N/A,2026-11-29T10:00:00+00:00,us-east-1,sts,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
bob,arn:aws:iam::222222222222:user/bob,2026-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
"""


def test_the_retirement_plan_names_each_credentials_last_use_and_retires_the_unused_first(
    tmp_path: Path,
) -> None:
    spec_path = tmp_path / "iamlayer.yaml"
    spec_path.write_text(SMALL)
    m = migrate_identity_center(spec_path, now=NOW)
    offline = {r.user: r for r in m.retirement}
    assert [(c.what, c.last_used) for c in offline["jane"].credentials] == []  # console: false, no key
    spec = load_spec(spec_path, check_keys=False)
    report = CredentialReport.parse(REPORT, NOW)
    plan = retirement_plan(spec, m.parity, {"jane", "bob"}, set(), report)
    assert [r.user for r in plan] == ["bob", "jane"]  # bob's key was never used
    jane = plan[1]
    assert [(c.what, c.last_used) for c in jane.credentials] == [
        ("password", "2026-11-30T10:00:00Z"),
        ("access key 1", "2026-11-29T10:00:00Z"),
    ]
    assert jane.steps[-1] == "remove users.jane from the spec: the next apply deletes the IAM user"
    assert any("console: false" in s for s in jane.steps) and any("access_key" in s for s in jane.steps)
    assert [(c.what, c.last_used) for c in plan[0].credentials] == [("access key 1", "never")]
    held = retirement_plan(spec, m.parity, {"jane"}, set(), report)
    assert [(r.user, r.hold) for r in held] == [("jane", ""), ("bob", "not moved to Identity Center")]


def test_a_person_with_only_an_identity_center_user_is_in_the_table(tmp_path: Path) -> None:
    """ops is no IAM user, but a member of the Identity Center group devops the spec has already:
    the move adds the IAM group's members to it and assigns it DevOps, and the table shows ops
    gaining DevOps (which only jane and bob had)."""
    text = SMALL + (
        "identity_center:\n"
        "  account: security\n"
        "  users:\n"
        "    ops: {email: ops@example.com, given_name: Op, family_name: S}\n"
        "  groups:\n"
        "    devops: {members: [ops]}   # the team's\n"
        "    audit:\n"
        "      description: Auditors\n"
        "  permission_sets:\n"
        "    ReadOnly: {policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]}\n"
        "  assignments:\n"
        "    - {user: ops, permission_sets: [ReadOnly], accounts: [prd]}\n"
    )
    spec_path = tmp_path / "iamlayer.yaml"
    spec_path.write_text(text)
    m = migrate_identity_center(spec_path, now=NOW)
    assert m.proposal.members == {"devops": ["jane", "bob"]}
    assert (
        "-    devops: {members: [ops]}   # the team's\n+    devops: {members: [ops, jane, bob]}   # the team's"
        in m.diff()
    )
    assert {(r.person, r.account, r.verdict) for r in m.parity.rows if r.person == "ops"} == {
        ("ops", "prd", SAME),  # ReadOnly, before and after
        ("ops", "shared", GAINED),
        ("ops", "prd", GAINED),
    }
    assert {(r.person, r.verdict) for r in m.parity.differences} == {("ops", GAINED)}

    # A group written as a block, without members: the list is added in its style.
    spec_path.write_text(
        text.replace("    devops: {members: [ops]}   # the team's\n", "").replace("    audit:", "    devops:")
    )
    m = migrate_identity_center(spec_path, now=NOW)
    assert "     devops:\n       description: Auditors\n+      members: [jane, bob]\n" in m.diff()
    assert m.parity.holds

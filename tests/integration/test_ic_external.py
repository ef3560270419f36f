"""Identity Center with an external identity provider, against the emulator: the people and
groups a SCIM provider made (here: made directly in the emulator's identity store) are looked up
by name with GetGroupId/GetUserId in the plan's own run, assigned, and never written; a name the
store lacks is a spec error at its line with a did-you-mean from ListGroups, and nothing is written.
An entitlement (`roles.<Role>.entitled`) to a role that exists but is not iamlayer's is a spec
error at its line too (the account access manager itself: tests/unit/test_account_access_stubbed.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_identity_center import LIGHT_ACCOUNTS, LIGHT_SPEC, Sso, apply_all, plan_of

from iamlayer.aws.session import ApiStats
from iamlayer.errors import SpecError
from iamlayer.plan.model import Action, Kind
from layer import Keys, Layer, fresh_account_ids, run_cli, session_in

EXTERNAL_BLOCK = """\
identity_center:
  account: management
  identity_source: external
  users:
    jane.doe:
  groups:
    {group}: {{}}
  permission_sets:
    ReadOnly: {{policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]}}
  assignments:
    - {{group: {group}, permission_sets: [ReadOnly], accounts: [shared]}}
    - {{user: jane.doe, permission_sets: [ReadOnly], accounts: [apps-prd]}}
"""


@pytest.fixture
def scim_layer(tmp_path: Path, aws_env: dict[str, str], gpg_keys: Keys) -> tuple[Layer, Sso]:
    ids = dict(zip(LIGHT_ACCOUNTS, fresh_account_ids(len(LIGHT_ACCOUNTS)), strict=True))
    root = tmp_path / "layer"
    root.mkdir()
    layer = Layer(root, "acme", ids, gpg_keys)
    accounts = "\n".join(f'  {name}: {{id: "{acc}"}}' for name, acc in ids.items())
    layer.write(LIGHT_SPEC.format(accounts=accounts) + EXTERNAL_BLOCK.format(group="okta-devops"))
    sso = Sso(layer)
    # What the identity provider's SCIM client would have made: no iamlayer marker.
    sso.store.create_group(IdentityStoreId=sso.store_id, DisplayName="okta-devops", Description="from Okta")
    sso.store.create_user(
        IdentityStoreId=sso.store_id,
        UserName="jane.doe",
        DisplayName="Jane Doe",
        Name={"GivenName": "Jane", "FamilyName": "Doe"},
    )
    return layer, sso


def test_external_principals_are_resolved_assigned_and_never_written(scim_layer: tuple[Layer, Sso]) -> None:
    layer, sso = scim_layer
    before_users, before_groups = sso.users(), sso.groups()
    stats = ApiStats()
    plan = plan_of(layer, stats)
    kinds = {c.address.kind for c in plan.changes}
    assert Kind.IC_USER not in kinds and Kind.IC_GROUP not in kinds and Kind.IC_MEMBERSHIP not in kinds
    group_id = before_groups["okta-devops"]["GroupId"]
    user_id = before_users["jane.doe"]["UserId"]
    assignments = {str(c.address): c for c in plan.changes if c.address.kind is Kind.IC_ASSIGNMENT}
    to_group = assignments["management/ic_assignment.group/okta-devops/ReadOnly@shared"]
    to_user = assignments["management/ic_assignment.user/jane.doe/ReadOnly@apps-prd"]
    # The plan shows (and carries) the ids resolved in this same run: no second apply.
    assert to_group.after is not None and to_group.after["principal_id"] == group_id
    assert group_id in to_group.note and user_id in to_user.note
    ops = stats.by_operation()
    # Looked up by name, one call each; the store (maybe thousands of SCIM people) is not listed.
    assert (ops.get("GetGroupId"), ops.get("GetUserId")) == (1, 1)
    assert "ListGroups" not in ops and "ListUsers" not in ops

    apply_all(layer)
    assert plan_of(layer).empty
    assert sso.assignments(layer.ids["shared"], "ReadOnly") == {("GROUP", group_id)}
    assert sso.assignments(layer.ids["apps-prd"], "ReadOnly") == {("USER", user_id)}
    # Never created, changed or deleted.
    assert sso.users() == before_users and sso.groups() == before_groups

    # Dropping an assignment deletes it (the principal is the spec's to assign), never the group.
    text = layer.spec.read_text().replace(
        "    - {group: okta-devops, permission_sets: [ReadOnly], accounts: [shared]}\n", ""
    )
    layer.write(text)
    dropped = plan_of(layer)
    assert [(str(c.address), c.action) for c in dropped.changes] == [
        ("management/ic_assignment.group/okta-devops/ReadOnly@shared", Action.DELETE)
    ]


def test_an_external_group_the_store_lacks_is_a_spec_error_at_its_line(
    scim_layer: tuple[Layer, Sso], aws_env: dict[str, str]
) -> None:
    layer, sso = scim_layer
    text = layer.spec.read_text().replace("okta-devops", "okta-devop")
    layer.write(text)
    line = text.splitlines().index("    okta-devop: {}") + 1
    with pytest.raises(SpecError) as raised:
        plan_of(layer)
    [d] = raised.value.diagnostics
    assert (d.line, d.key) == (line, "identity_center.groups.okta-devop")
    assert "not in identity store" in d.message and d.hint == "did you mean 'okta-devops'?"
    assert sso.permission_sets() == {}  # nothing written
    # As a person runs it: exit 2, file:line and the did-you-mean, and still nothing written.
    r = run_cli("apply", "--auto-approve", cwd=layer.root, env=aws_env)
    assert r.code == 2, r.err
    assert f"iamlayer.yaml:{line}" in r.out + r.err and "did you mean 'okta-devops'?" in r.out + r.err
    assert sso.permission_sets() == {}


def test_an_entitlement_to_a_role_iamlayer_does_not_own_exits_2_at_its_line(
    scim_layer: tuple[Layer, Sso], aws_env: dict[str, str]
) -> None:
    """The role exists in the account, made by hand: iamlayer does not entitle people to it."""
    layer, _ = scim_layer
    trust = '{"Version": "2012-10-17", "Statement": []}'
    iam = session_in(layer.ids["shared"]).client("iam")
    iam.create_role(RoleName="Ops", AssumeRolePolicyDocument=trust)
    text = layer.spec.read_text().replace(
        "identity_center:\n",
        "roles:\n  Ops:\n    accounts: [shared]\n    entitled: [group/okta-devops]\nidentity_center:\n",
    )
    layer.write(text)
    line = text.splitlines().index("    entitled: [group/okta-devops]") + 1
    # The plan of that account alone: the whole plan would also read the account access
    # manager, which the emulator lacks (it answers 500, retried for seconds).
    r = run_cli("plan", "--account", "shared", cwd=layer.root, env=aws_env)
    assert r.code == 2, r.out + r.err
    assert f"iamlayer.yaml:{line}" in r.out + r.err and "not created by iamlayer" in r.out + r.err
    assert iam.get_role(RoleName="Ops")["Role"]["AssumeRolePolicyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [],
    }

"""diff_ic: the Identity Center part of a plan, from tables (pure, no AWS)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from spec_support import write_spec

from iamlayer.plan.desired import desired_state
from iamlayer.plan.diff import diff
from iamlayer.plan.ic_diff import (
    copies_kept_without_identity_center,
    desired_ic,
    diff_ic,
    managed_boundaries,
    needed_policy_copies,
)
from iamlayer.plan.model import Action, Change, Kind
from iamlayer.spec.load import load_spec
from iamlayer.spec.model import Spec
from iamlayer.state.ic_model import AssignmentState, IcGroupState, IcState, IcUserState, with_marker
from iamlayer.state.model import AccountState, PolicyState

SPEC = """\
project: acme
accounts:
  management:  {id: "111111111111"}
  security:    {id: "222222222222"}
  shared:      {id: "333333333333"}
  apps-prd:    {id: "555555555555"}
people_account: security
policies:
  billing-read:
    document: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "ce:Get*", Resource: "*"}]}
identity_center:
  users:
    jane.doe: {email: jane@example.com, given_name: Jane, family_name: Doe}
  groups:
    devops: {description: DevOps team, members: [jane.doe]}
  permission_sets:
    DevOps:
      description: Full access
      session_duration: PT4H
      policies: [arn:aws:iam::aws:policy/AdministratorAccess]
      customer_managed_policies: [billing-read]
  assignments:
    - {group: devops, permission_sets: [DevOps], accounts: [shared, apps-prd]}
"""
NAMES = {
    "111111111111": "management",
    "222222222222": "security",
    "333333333333": "shared",
    "555555555555": "apps-prd",
}


@pytest.fixture
def spec(tmp_path: Path) -> Spec:
    return load_spec(write_spec(tmp_path, SPEC), check_keys=False)


def live_like(spec: Spec) -> IcState:
    """The live instance exactly as an apply of `spec` leaves it: the desired state, with ids."""
    live = copy.deepcopy(desired_ic(spec))
    live.instance_arn, live.identity_store_id = "arn:aws:sso:::instance/ssoins-1111111111111111", "d-1"
    for u in live.users.values():
        u.id = f"uid-{u.name}"
    for g in live.groups.values():
        g.id = f"gid-{g.name}"
        g.members = {m: f"mid-{m}" for m in g.members}
    for ps in live.permission_sets.values():
        ps.arn = f"{live.instance_arn}/ps-{ps.name.lower()}"
    return live


def other(tmp_path: Path, name: str, text: str) -> Spec:
    """Another version of the spec, in a folder of its own."""
    (tmp_path / name).mkdir()
    return load_spec(write_spec(tmp_path / name, text), check_keys=False)


def run(
    spec: Spec, live: IcState, pending: frozenset[str] = frozenset()
) -> tuple[list[Change], list[str], list[str]]:
    assert spec.identity_center is not None
    d = diff_ic(
        "management",
        "acme",
        desired_ic(spec),
        live,
        account_names=NAMES,
        managed_boundaries=managed_boundaries(spec.identity_center),
        pending_provisioning=pending,
    )
    return d.changes, d.collisions, d.notices


def addresses(changes: list[Change]) -> list[str]:
    return [f"{c.action.symbol} {c.address}" for c in changes]


def test_from_nothing_principals_and_sets_then_members_then_assignments(spec: Spec) -> None:
    changes, collisions, _ = run(spec, IcState())
    assert collisions == []
    assert addresses(changes) == [
        "+ management/ic_group.devops",
        "+ management/ic_user.jane.doe",
        "+ management/permission_set.DevOps",
        "+ management/ic_membership.devops/jane.doe",
        "+ management/ic_assignment.group/devops/DevOps@apps-prd",
        "+ management/ic_assignment.group/devops/DevOps@shared",
    ]
    assert [c.stage for c in changes] == [2, 2, 2, 3, 4, 4]
    user, ps, member, assignment = changes[1], changes[2], changes[3], changes[4]
    assert user.after == {
        "display_name": "Jane Doe",
        "given_name": "Jane",
        "family_name": "Doe",
        "email": "jane@example.com",
        "user_type": "[iamlayer:acme]",
    }
    assert ps.after is not None
    assert ps.after["description"] == "Full access [iamlayer:acme]"
    assert ps.after["tags"] == {"iamlayer:project": "acme"}
    assert ps.after["customer_managed_policies"] == ["/billing-read"]
    assert "boundary" not in ps.after  # the spec does not manage it
    # Ids the plan cannot know yet: the handlers resolve them by name during the same apply.
    assert member.after == {"group_id": "", "user_id": "", "user": "jane.doe"}
    assert assignment.after is not None
    assert (assignment.after["principal_id"], assignment.after["permission_set_arn"]) == ("", "")
    assert assignment.after["account_id"] == "555555555555"


def test_what_an_apply_leaves_plans_nothing(spec: Spec) -> None:
    live = live_like(spec)
    live.permission_sets["DevOps"].session_duration = "PT240M"  # the same duration, spelt otherwise
    assert run(spec, live) == ([], [], [])


def test_a_changed_permission_set_is_reprovisioned_where_it_stays_assigned(spec: Spec) -> None:
    live = live_like(spec)
    live.permission_sets["DevOps"].policies = frozenset({"arn:aws:iam::aws:policy/ReadOnlyAccess"})
    # Someone else's assignment counts too: the permission set is provisioned there.
    live.assignments.add(AssignmentState("GROUP", "their-team", "DevOps", "111111111111"))
    changes, _, _ = run(spec, live)
    update, *provisions = changes
    assert (update.address.kind, update.action) == (Kind.PERMISSION_SET, Action.UPDATE)
    assert update.before == {"policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}
    assert update.after is not None
    assert update.after["policies"] == ["arn:aws:iam::aws:policy/AdministratorAccess"]
    assert update.after["reprovision"] == ["111111111111", "333333333333", "555555555555"]
    assert update.note == "re-provisioned to management, shared, apps-prd, where it is assigned"
    assert addresses(provisions) == [
        "~ management/ic_provision.DevOps/apps-prd",
        "~ management/ic_provision.DevOps/management",
        "~ management/ic_provision.DevOps/shared",
    ]
    assert all(p.stage > update.stage for p in provisions)
    assert provisions[0].after == {
        "permission_set_arn": live.permission_sets["DevOps"].arn,
        "account_id": "555555555555",
    }


def test_a_description_alone_is_not_reprovisioned_and_sends_the_other_fields_too(spec: Spec) -> None:
    live = live_like(spec)
    live.permission_sets["DevOps"].description = "old text"
    [update] = run(spec, live)[0]
    assert update.before == {
        "description": "old text [iamlayer:acme]",
        "relay_state": "",
        "session_duration": "PT4H",
    }
    assert update.after is not None and update.after["reprovision"] == [] and update.note == ""


def test_an_account_losing_every_assignment_is_not_reprovisioned(spec: Spec, tmp_path: Path) -> None:
    live = live_like(spec)
    live.permission_sets["DevOps"].customer_managed = frozenset()
    spec2 = other(tmp_path, "2", SPEC.replace("[shared, apps-prd]", "[shared]"))
    changes, _, _ = run(spec2, live)
    assert addresses(changes) == [
        "~ management/permission_set.DevOps",
        "~ management/ic_provision.DevOps/shared",
        "- management/ic_assignment.group/devops/DevOps@apps-prd",
    ]
    delete = changes[2]
    assert delete.before is not None
    assert (delete.before["principal_id"], delete.before["permission_set_arn"]) == (
        "gid-devops",
        live.permission_sets["DevOps"].arn,
    )
    assert delete.stage > changes[1].stage  # deletes after every create and update


def test_names_taken_by_someone_else_are_collisions_never_changes(spec: Spec) -> None:
    live = IcState(
        users={"jane.doe": IcUserState("jane.doe", id="u1", owner=None)},
        groups={"devops": IcGroupState("devops", id="g1", description="theirs", owner="other-project")},
    )
    live.permission_sets = {"DevOps": copy.deepcopy(live_like(spec).permission_sets["DevOps"])}
    live.permission_sets["DevOps"].owner = None
    changes, collisions, _ = run(spec, live)
    assert len(collisions) == 3
    assert "user jane.doe exists but was not created by iamlayer project 'acme'" in collisions[0]
    assert "'[iamlayer:acme]'" in collisions[0]
    assert not [c for c in changes if c.address.kind in (Kind.IC_USER, Kind.IC_GROUP, Kind.PERMISSION_SET)]


def test_foreign_principals_members_and_assignments_are_left_alone(spec: Spec) -> None:
    live = live_like(spec)
    live.users["their.person"] = IcUserState("their.person", id="u9", owner=None)
    live.groups["their-team"] = IcGroupState("their-team", id="g9", owner=None, members={"jane.doe": "m9"})
    live.groups["devops"].members["their.person"] = "m10"  # added by hand to our group
    live.assignments |= {
        AssignmentState("USER", "their.person", "DevOps", "555555555555"),  # our set, their principal
        AssignmentState("GROUP", "their-team", "DevOps", "333333333333"),
        AssignmentState("USER", "id:0000-gone", "DevOps", "333333333333"),  # a principal since deleted
    }
    assert run(spec, live) == ([], [], [])


def test_removing_things_deletes_only_ours_members_and_assignments_first(spec: Spec, tmp_path: Path) -> None:
    live = live_like(spec)
    live.assignments.add(AssignmentState("GROUP", "their-team", "Legacy", "333333333333"))
    live.permission_sets["Legacy"] = copy.deepcopy(live.permission_sets["DevOps"])
    live.permission_sets["Legacy"].name = "Legacy"
    live.groups["their-team"] = IcGroupState("their-team", id="g9", owner=None)
    empty = other(tmp_path, "2", SPEC.split("identity_center:")[0] + "identity_center: {}\n")
    changes, _, notices = run(empty, live)
    assert addresses(changes) == [
        "- management/ic_assignment.group/devops/DevOps@apps-prd",
        "- management/ic_assignment.group/devops/DevOps@shared",
        "- management/ic_membership.devops/jane.doe",
        "- management/ic_group.devops",
        "- management/ic_user.jane.doe",
        "- management/permission_set.DevOps",
    ]
    assert changes[2].before == {
        "group_id": "gid-devops",
        "user_id": "uid-jane.doe",
        "membership_id": "mid-jane.doe",
        "user": "jane.doe",
    }
    assert [c.stage for c in changes] == sorted(c.stage for c in changes)
    # Legacy is ours, but someone else's group still has it: not deleted, and the plan says why.
    assert notices == [
        "permission set Legacy is not deleted: it is still assigned to principals iamlayer does not own "
        "(group/their-team@shared); remove those assignments first"
    ]


def test_an_interrupted_reprovisioning_is_planned_again(spec: Spec) -> None:
    live = live_like(spec)
    changes, _, _ = run(spec, live, pending=frozenset({"DevOps@555555555555", "DevOps@999999999999"}))
    # 999999999999 no longer has the permission set assigned: nothing to provision there.
    assert addresses(changes) == ["~ management/ic_provision.DevOps/apps-prd"]
    assert changes[0].note == "an interrupted apply changed it without re-provisioning it here"


def test_the_boundary_is_compared_only_where_the_spec_manages_it(spec: Spec, tmp_path: Path) -> None:
    live = live_like(spec)
    live.permission_sets["DevOps"].boundary = "arn:aws:iam::aws:policy/PowerUserAccess"
    assert run(spec, live)[0] == []  # no `boundary:`: left alone
    managed = other(
        tmp_path,
        "2",
        SPEC.replace(
            "      session_duration: PT4H\n", "      session_duration: PT4H\n      boundary: none\n"
        ),
    )
    [update, *_] = run(managed, live)[0]
    assert (update.before, update.after and update.after["boundary"]) == (
        {"boundary": "arn:aws:iam::aws:policy/PowerUserAccess"},
        None,
    )
    by_name = other(
        tmp_path,
        "3",
        SPEC.replace(
            "      session_duration: PT4H\n",
            "      session_duration: PT4H\n      boundary: billing-read\n",
        ),
    )
    assert desired_ic(by_name).permission_sets["DevOps"].boundary == "/billing-read"


def test_changed_people_and_group_descriptions_are_updates(spec: Spec) -> None:
    live = live_like(spec)
    live.users["jane.doe"].email = "old@example.com"
    live.groups["devops"].description = "old"
    changes, _, _ = run(spec, live)
    assert [(c.address.kind, c.before, c.after) for c in changes] == [
        (
            Kind.IC_GROUP,
            {"description": "old [iamlayer:acme]"},
            {"description": "DevOps team [iamlayer:acme]", "id": "gid-devops"},
        ),
        (Kind.IC_USER, {"email": "old@example.com"}, {"email": "jane@example.com", "id": "uid-jane.doe"}),
    ]


def test_customer_managed_policies_are_made_in_every_account_a_permission_set_is_assigned_in(
    spec: Spec,
) -> None:
    for account, wanted in (("shared", True), ("apps-prd", True), ("management", False)):
        policies = desired_state(spec, account).policies
        assert ("billing-read" in policies) is wanted, account
    pol = desired_state(spec, "apps-prd").policies["billing-read"]
    assert pol.arn == "arn:aws:iam::555555555555:policy/billing-read"
    assert pol.description.endswith("[iamlayer:acme]")


def test_markers() -> None:
    from iamlayer.state.ic_model import split_marker

    assert with_marker("", "acme") == "[iamlayer:acme]"
    assert split_marker("Full access [iamlayer:acme]") == ("Full access", "acme")
    assert split_marker("[iamlayer:acme] in the middle") == ("[iamlayer:acme] in the middle", None)
    assert split_marker(None) == ("", None)


def test_an_outdated_version_aws_reports_is_reprovisioned_unless_the_account_loses_it(
    spec: Spec, tmp_path: Path
) -> None:
    """AWS's word (PermissionSetState.outdated), not the journal: re-provisioned where it stays."""
    live = live_like(spec)
    live.permission_sets["DevOps"].outdated = frozenset({"333333333333", "555555555555"})
    changes, _, _ = run(spec, live)
    assert addresses(changes) == [
        "~ management/ic_provision.DevOps/apps-prd",
        "~ management/ic_provision.DevOps/shared",
    ]
    assert {c.note for c in changes} == {
        "AWS holds an outdated version here: it was changed and never re-provisioned"
    }
    spec2 = other(tmp_path, "2", SPEC.replace("[shared, apps-prd]", "[shared]"))
    changes, _, _ = run(spec2, live)
    assert addresses(changes) == [
        "~ management/ic_provision.DevOps/shared",
        "- management/ic_assignment.group/devops/DevOps@apps-prd",
    ]


def _owned_policy_copy(account_id: str) -> AccountState:
    """An account holding the copy of billing-read iamlayer made for a permission set."""
    live = AccountState(account_id)
    live.policies["billing-read"] = PolicyState(
        name="billing-read",
        path="/",
        description="[iamlayer:acme]",
        document={"Version": "2012-10-17", "Statement": []},
        arn=f"arn:aws:iam::{account_id}:policy/billing-read",
    )
    return live


def test_a_policy_a_permission_set_still_references_is_never_planned_for_deletion(
    spec: Spec, tmp_path: Path
) -> None:
    """DevOps leaves apps-prd in the spec, but someone else's group keeps it assigned there: the
    copy of billing-read stays (IAM Identity Center attaches it to the role there), and the plan
    says why. Without that assignment, the copy goes (nothing needs it any more)."""
    spec2 = other(tmp_path, "2", SPEC.replace("[shared, apps-prd]", "[shared]"))
    live_ic = live_like(spec)
    live_ic.groups["their-team"] = IcGroupState("their-team", id="gid-theirs")
    theirs = AssignmentState("GROUP", "their-team", "DevOps", "555555555555")
    live_ic.assignments.add(theirs)
    desired = desired_state(spec2, "apps-prd")
    assert "billing-read" not in desired.policies

    needed = needed_policy_copies(spec2, live_ic)
    result = diff("apps-prd", "acme", desired, _owned_policy_copy("555555555555"),
                  needed_policies=needed.get("555555555555"))  # fmt: skip
    assert [c for c in result.changes if c.address.kind is Kind.POLICY] == []
    assert result.notices == [
        "policy billing-read is not deleted: permission set DevOps references it and stays assigned "
        "here (group/their-team)"
    ]

    live_ic.assignments.discard(theirs)
    needed = needed_policy_copies(spec2, live_ic)
    result = diff("apps-prd", "acme", desired, _owned_policy_copy("555555555555"),
                  needed_policies=needed.get("555555555555"))  # fmt: skip
    assert [(str(c.address), c.action) for c in result.changes if c.address.kind is Kind.POLICY] == [
        ("apps-prd/policy.billing-read", Action.DELETE)
    ]

    # A plan that did not read the instance (--account apps-prd): every referenced policy stays.
    unread = needed_policy_copies(spec2, None)["555555555555"]
    assert unread == {
        "/billing-read": "permission set DevOps references it, and this plan did not read where DevOps "
        "is assigned (plan account management too)"
    }


def test_a_copy_a_kept_permission_set_stops_referencing_goes_after_its_re_provisioning(
    spec: Spec, tmp_path: Path
) -> None:
    """DevOps stays assigned in apps-prd but drops billing-read: the same plan updates DevOps,
    re-provisions it there and deletes the copy, the delete after the re-provisioning (the
    convergence proof found the copy left for a second apply, and the first apply's verify failing)."""
    spec2 = other(tmp_path, "2", SPEC.replace("      customer_managed_policies: [billing-read]\n", ""))
    live_ic = live_like(spec)
    changes, _, _ = run(spec2, live_ic)
    provision = next(c for c in changes if str(c.address) == "management/ic_provision.DevOps/apps-prd")
    assert "555555555555" not in needed_policy_copies(spec2, live_ic)
    result = diff("apps-prd", "acme", desired_state(spec2, "apps-prd"), _owned_policy_copy("555555555555"),
                  needed_policies=needed_policy_copies(spec2, live_ic).get("555555555555"))  # fmt: skip
    [delete] = [c for c in result.changes if c.address.kind is Kind.POLICY]
    assert delete.action is Action.DELETE and delete.stage > provision.stage


def test_without_identity_center_the_copies_in_member_accounts_stay(tmp_path: Path) -> None:
    """A spec with no identity_center: block (removed, or an import that could not read the
    instance) leaves the permission sets in place; the copies they reference stay too, said so.
    The people account's own policies are the spec's `policies:` as ever."""
    bare = other(tmp_path, "bare", SPEC.split("identity_center:")[0])
    kept = copies_kept_without_identity_center(bare, "apps-prd", _owned_policy_copy("555555555555"))
    result = diff("apps-prd", "acme", desired_state(bare, "apps-prd"), _owned_policy_copy("555555555555"),
                  needed_policies=kept)  # fmt: skip
    assert [c for c in result.changes if c.address.kind is Kind.POLICY] == []
    assert result.notices == [
        "policy billing-read is not deleted: iamlayer made it for IAM Identity Center permission sets, "
        "which the spec no longer manages (no identity_center:) and which may still reference it"
    ]
    assert copies_kept_without_identity_center(bare, "security", _owned_policy_copy("222222222222")) == {}


def test_a_principal_the_spec_now_names_external_is_never_deleted_and_keeps_its_assignments(
    spec: Spec, tmp_path: Path
) -> None:
    """iamlayer made jane.doe and devops; the spec now says an identity provider owns them (the
    store moved to SCIM): they are left to it, and the assignment stays iamlayer's."""
    live = live_like(spec)
    text = SPEC.replace(
        "jane.doe: {email: jane@example.com, given_name: Jane, family_name: Doe}",
        "jane.doe: {external: true}",
    ).replace("devops: {description: DevOps team, members: [jane.doe]}", "devops: {external: true}")
    external = other(tmp_path, "external", text)
    live.external = {("USER", "jane.doe"), ("GROUP", "devops")}
    changes, collisions, _ = run(external, live)
    assert (changes, collisions) == ([], [])
    # Its assignment dropped from the spec is deleted, as any of iamlayer's.
    dropped = other(tmp_path, "dropped", text.replace("accounts: [shared, apps-prd]", "accounts: [shared]"))
    assert addresses(run(dropped, live)[0]) == ["- management/ic_assignment.group/devops/DevOps@apps-prd"]

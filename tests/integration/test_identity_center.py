"""IAM Identity Center end to end over HTTP against the emulator: plan -> apply -> empty plan, a
second apply changes nothing, a changed permission set is re-provisioned, a removed assignment is
deleted, and principals and assignments iamlayer does not own are never touched.

The emulator's sso-admin and identitystore answer SUCCEEDED at once and lack some calls
(DescribePermissionSetProvisioningStatus, tags of permission sets, UpdateUser, UpdateGroup;
boundaries iamlayer's emulator launcher adds): what depends on those is covered with botocore's Stubber in
tests/unit/test_ic_stubbed.py. Each test has account ids of its own, so the Identity Center
instance the emulator keeps per account is fresh.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from iamlayer.apply.run import apply_plan
from iamlayer.aws.session import ApiStats
from iamlayer.errors import InconsistentResultError, PlanError
from iamlayer.kinds import ic_operations
from iamlayer.plan.model import Action, Kind, Plan
from iamlayer.plan.planner import make_plan
from iamlayer.spec.load import load_spec
from iamlayer.state.journal import Journal
from layer import Keys, Layer, fresh_account_ids, run_cli, session_in

IC_BLOCK = """\
identity_center:
  account: management
  users:
    jane.doe: {email: jane@example.com, given_name: Jane, family_name: Doe}
    john.roe: {email: john@example.com, given_name: John, family_name: Roe}
  groups:
    devops: {description: DevOps team, members: [jane.doe]}
  permission_sets:
    DevOps:
      description: Full access for DevOps
      session_duration: PT4H
      policies: [arn:aws:iam::aws:policy/AdministratorAccess]
      customer_managed_policies: [billing-read]
      inline_policy: {Version: "2012-10-17", Statement: [{Effect: Deny, Action: "s3:DeleteBucket", Resource: "*"}]}
    ReadOnly:
      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
  assignments:
    - {group: devops, permission_sets: [DevOps], accounts: [shared, apps-devstg, apps-prd]}
    - {user: john.roe, permission_sets: [ReadOnly], accounts: [management]}
"""

# Only Identity Center and the policy its permission sets reference, in three accounts (the
# emulator spends a while on each new account): quick to apply.
LIGHT_ACCOUNTS = ("management", "shared", "apps-prd")
LIGHT_SPEC = """\
project: acme
accounts:
{accounts}
people_account: management
policies:
  billing-read:
    description: Read billing data
    document: {{Version: "2012-10-17", Statement: [{{Effect: Allow, Action: "ce:Get*", Resource: "*"}}]}}
"""


@pytest.fixture
def ic_layer(tmp_path: Path, aws_env: dict[str, str], gpg_keys: Keys) -> Layer:
    return light_ic_layer(tmp_path, gpg_keys)


def light_ic_layer(tmp_path: Path, gpg_keys: Keys) -> Layer:
    """LIGHT_SPEC with IC_BLOCK in tmp_path/layer, on account ids of its own."""
    ids = dict(zip(LIGHT_ACCOUNTS, fresh_account_ids(len(LIGHT_ACCOUNTS)), strict=True))
    root = tmp_path / "layer"
    root.mkdir()
    layer = Layer(root, "acme", ids, gpg_keys)
    accounts = "\n".join(f'  {name}: {{id: "{acc}"}}' for name, acc in ids.items())
    block = IC_BLOCK.replace("[shared, apps-devstg, apps-prd]", "[management, shared, apps-prd]")
    layer.write(LIGHT_SPEC.format(accounts=accounts) + block)
    return layer


class Sso:
    """The instance of a layer's management account, as a person would look at it."""

    def __init__(self, layer: Layer) -> None:
        session = session_in(layer.ids["management"])
        self.admin: Any = session.client("sso-admin")
        self.store: Any = session.client("identitystore")
        instance = self.admin.list_instances()["Instances"][0]
        self.arn, self.store_id = instance["InstanceArn"], instance["IdentityStoreId"]

    def users(self) -> dict[str, dict[str, Any]]:
        return {u["UserName"]: u for u in self.store.list_users(IdentityStoreId=self.store_id)["Users"]}

    def groups(self) -> dict[str, dict[str, Any]]:
        return {g["DisplayName"]: g for g in self.store.list_groups(IdentityStoreId=self.store_id)["Groups"]}

    def permission_sets(self) -> dict[str, str]:
        arns = self.admin.list_permission_sets(InstanceArn=self.arn)["PermissionSets"]
        return {
            self.admin.describe_permission_set(InstanceArn=self.arn, PermissionSetArn=a)["PermissionSet"][
                "Name"
            ]: a
            for a in arns
        }

    def assignments(self, account_id: str, ps: str) -> set[tuple[str, str]]:
        """(principal type, principal id) of the assignments of `ps` in `account_id`."""
        got = self.admin.list_account_assignments(
            InstanceArn=self.arn, AccountId=account_id, PermissionSetArn=self.permission_sets()[ps]
        )["AccountAssignments"]
        return {(a["PrincipalType"], a["PrincipalId"]) for a in got}


def plan_of(layer: Layer, stats: ApiStats | None = None) -> Plan:
    return make_plan(load_spec(layer.spec), profile=None, stats=stats)


def apply_all(layer: Layer, stats: ApiStats | None = None) -> Plan:
    spec = load_spec(layer.spec)
    p = make_plan(spec, profile=None)
    outcome = apply_plan(p, spec, profile=None, stats=stats or ApiStats())
    assert outcome.ok, outcome.failed
    assert outcome.verify is not None and outcome.verify.empty  # nothing left for a second apply
    return p


def addresses(p: Plan, action: Action | None = None) -> list[str]:
    return [str(c.address) for c in p.changes if action is None or c.action is action]


def test_iam_and_identity_center_in_one_plan_then_empty_then_a_second_apply_changes_nothing(
    layer: Layer,
) -> None:
    """The DESIGN.md example with the issue's block: IAM and Identity Center in one plan, one
    apply; groups and users made by the apply are assigned by it (no second apply)."""
    layer.write(layer.spec.read_text() + IC_BLOCK)
    first = plan_of(layer)
    assert not first.errors
    management = next(a for a in first.accounts if a.account == "management")
    kinds = {c.address.kind for c in management.changes}
    assert {Kind.ROLE, Kind.IC_GROUP, Kind.IC_USER, Kind.PERMISSION_SET, Kind.IC_ASSIGNMENT} <= kinds
    assert "management/ic_assignment.group/devops/DevOps@apps-prd" in addresses(first)
    # The policy a permission set references is made in every account it is assigned in.
    assert {f"{a}/policy.billing-read" for a in ("shared", "apps-devstg", "apps-prd")} <= set(
        addresses(first)
    )

    apply_all(layer)
    stats = ApiStats()
    again = plan_of(layer, stats)
    assert again.empty, addresses(again)
    spec = load_spec(layer.spec)
    outcome = apply_plan(again, spec, profile=None, stats=ApiStats())
    assert outcome.succeeded == () and outcome.verify is None

    sso, ids = Sso(layer), layer.ids
    users, groups = sso.users(), sso.groups()
    assert users["jane.doe"]["UserType"] == "[iamlayer:acme]"
    assert users["jane.doe"]["Emails"][0]["Value"] == "jane@example.com"
    assert groups["devops"]["Description"] == "DevOps team [iamlayer:acme]"
    members = sso.store.list_group_memberships(
        IdentityStoreId=sso.store_id, GroupId=groups["devops"]["GroupId"]
    )
    assert [m["MemberId"]["UserId"] for m in members["GroupMemberships"]] == [users["jane.doe"]["UserId"]]
    devops_group = ("GROUP", groups["devops"]["GroupId"])
    for account in ("shared", "apps-devstg", "apps-prd"):
        assert sso.assignments(ids[account], "DevOps") == {devops_group}
    assert sso.assignments(ids["management"], "DevOps") == set()
    assert sso.assignments(ids["management"], "ReadOnly") == {("USER", users["john.roe"]["UserId"])}
    ps = sso.permission_sets()["DevOps"]
    described = sso.admin.describe_permission_set(InstanceArn=sso.arn, PermissionSetArn=ps)["PermissionSet"]
    assert (described["SessionDuration"], described["Description"]) == (
        "PT4H",
        "Full access for DevOps [iamlayer:acme]",
    )
    refs = sso.admin.list_customer_managed_policy_references_in_permission_set(
        InstanceArn=sso.arn, PermissionSetArn=ps
    )
    assert refs["CustomerManagedPolicyReferences"] == [{"Name": "billing-read", "Path": "/"}]
    assert (
        "s3:DeleteBucket"
        in sso.admin.get_inline_policy_for_permission_set(InstanceArn=sso.arn, PermissionSetArn=ps)[
            "InlinePolicy"
        ]
    )
    policy_arn = f"arn:aws:iam::{ids['apps-prd']}:policy/billing-read"
    assert layer.iam("apps-prd").get_policy(PolicyArn=policy_arn)["Policy"]["PolicyName"] == "billing-read"

    # The no-op plan's Identity Center calls: bounded by permission sets and principals, not
    # people or accounts (the assignments read by principal: 3 principals, against 2 permission
    # sets x 5 accounts).
    ops = stats.by_operation("management")
    ic_ops = {k: v for k, v in ops.items() if k in ic_operations()}
    assert ic_ops == {
        "ListInstances": 1,
        "ListUsers": 1,
        "ListGroups": 1,
        "ListGroupMemberships": 1,  # per owned group
        "ListPermissionSets": 1,
        "DescribePermissionSet": 2,  # per permission set
        "ListManagedPoliciesInPermissionSet": 2,  # per owned permission set...
        "ListCustomerManagedPolicyReferencesInPermissionSet": 2,
        "GetInlinePolicyForPermissionSet": 2,
        # every account it is provisioned to, and those with an outdated version (a filter)
        "ListAccountsForProvisionedPermissionSet": 4,
        "ListAccountAssignmentsForPrincipal": 3,  # per owned user or group, one page each
    }
    assert again.stats["identity_center"] == {
        "assignments_by": "principal",
        "principals": 3,
        "pairs": 10,
        "completions": 0,
        "calls": ic_ops,
    }


def test_a_change_never_re_provisioned_is_planned_from_aws_with_an_empty_iamlayer_folder(
    ic_layer: Layer,
) -> None:
    """An apply that changed DevOps and died before re-provisioning it, run from another clone:
    the next plan, with no .iamlayer/ at all, asks AWS which accounts hold an outdated version and
    re-provisions there, and loses nothing else. (The emulator provisions a permission set to the
    instance's own account only, so that is the one it reports; the launcher teaches it the
    ProvisioningStatus filter, see iamlayer.sandbox.moto_launcher. Every account AWS reports is
    covered with the Stubber in tests/unit/test_ic_stubbed.py.)"""
    layer = ic_layer
    apply_all(layer)
    layer.edit("      session_duration: PT4H\n", "      session_duration: PT2H\n")
    apply_all(layer)  # provisions DevOps (the emulator then lists it as provisioned)
    layer.edit("      session_duration: PT2H\n", "      session_duration: PT3H\n")
    spec = load_spec(layer.spec)
    p = plan_of(layer)
    killed = replace(
        p,
        accounts=tuple(
            replace(a, changes=tuple(c for c in a.changes if c.address.kind is not Kind.IC_PROVISION))
            for a in p.accounts
        ),
    )
    assert addresses(killed) == ["management/permission_set.DevOps"]
    # Its own re-read still sees the re-provisioning to do (here, from the journal).
    with pytest.raises(InconsistentResultError, match=r"ic_provision\.DevOps/shared"):
        apply_plan(killed, spec, profile=None, stats=ApiStats(), verify_timeout=0)
    shutil.rmtree(layer.root / ".iamlayer")  # another clone: no journal

    stats = ApiStats()
    again = plan_of(layer, stats)
    assert addresses(again) == ["management/ic_provision.DevOps/management"]
    [change] = again.changes
    assert change.note == "AWS holds an outdated version here: it was changed and never re-provisioned"
    # One call per owned permission set for each of the two lists, not one per account.
    assert stats.by_operation("management")["ListAccountsForProvisionedPermissionSet"] == 4
    apply_all(layer)
    assert plan_of(layer).empty


def test_lifecycle_reprovision_remove_and_leave_foreign_things_alone(
    ic_layer: Layer, aws_env: dict[str, str]
) -> None:
    """One layer through its life, as a person runs it (the CLI first): apply, no-op plan with
    its calls, a changed permission set, a removed assignment, someone else's additions."""
    layer, ids = ic_layer, ic_layer.ids
    r = run_cli("apply", "--auto-approve", "--json", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.err
    # 3 aliases, billing-read in the 3 accounts DevOps is assigned in (management is also the
    # people account), 2 users, a group, its member, 2 permission sets and 4 assignments.
    assert r.json()["applied"] == 3 + 3 + 2 + 1 + 1 + 2 + 4
    r = run_cli("plan", "--stats", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.err
    assert "No changes." in r.out
    # 3 managed principals against 2 sets x 3 accounts: read by principal, one call each
    assert "ListAccountAssignmentsForPrincipal 3," in r.out and "DescribePermissionSet 2," in r.out
    assert "ListAccountAssignments " not in r.out
    assert (
        "Identity Center: assignments read by principal (3 managed principal(s), 6 permission set and "
        "account pair(s), 0 completing read(s))"
    ) in r.out

    # The audit reads the instance too: DevOps has AdministratorAccess, john.roe an assignment of
    # his own; the other accounts report nothing for these controls.
    r = run_cli(
        "audit",
        "--format",
        "json",
        "--account",
        "management",
        "--account",
        "shared",
        cwd=layer.root,
        env=aws_env,
    )
    assert r.code == 0, r.err
    ic_findings = {
        (f["control_id"], f["status"], f["account"], f["resource"])
        for f in r.json()["findings"]
        if f["control"].startswith("ic-")
    }
    assert ic_findings == {
        ("IL-7", "FAIL", "management", "permission-set/DevOps"),
        ("IL-7", "PASS", "management", "permission-set/ReadOnly"),
        ("IL-8", "PASS", "management", "permission-set/DevOps"),
        ("IL-8", "PASS", "management", "permission-set/ReadOnly"),
        ("IL-9", "FAIL", "management", "user/john.roe"),
    }

    # A changed permission set is re-provisioned to every account where it is assigned.
    layer.edit(
        "      policies: [arn:aws:iam::aws:policy/AdministratorAccess]\n",
        "      policies: [arn:aws:iam::aws:policy/AdministratorAccess, arn:aws:iam::aws:policy/SecurityAudit]\n",
    )
    p = plan_of(layer)
    [update] = [c for c in p.changes if c.address.kind is Kind.PERMISSION_SET]
    assert update.note == "re-provisioned to management, shared, apps-prd, where it is assigned"
    assert addresses(p) == [
        "management/permission_set.DevOps",
        "management/ic_provision.DevOps/apps-prd",
        "management/ic_provision.DevOps/management",
        "management/ic_provision.DevOps/shared",
    ]
    stats = ApiStats()
    apply_all(layer, stats)
    assert stats.by_operation("management")["ProvisionPermissionSet"] == 3
    assert stats.by_operation("management")["AttachManagedPolicyToPermissionSet"] == 1
    sso = Sso(layer)
    ps = sso.permission_sets()["DevOps"]
    attached = sso.admin.list_managed_policies_in_permission_set(InstanceArn=sso.arn, PermissionSetArn=ps)
    assert {a["Name"] for a in attached["AttachedManagedPolicies"]} == {
        "AdministratorAccess",
        "SecurityAudit",
    }
    provisioned = sso.admin.list_permission_sets_provisioned_to_account(
        InstanceArn=sso.arn, AccountId=ids["shared"]
    )
    assert ps in provisioned["PermissionSets"]
    # The journal of re-provisioning to do is empty again: every account got the new version.
    assert Journal.for_spec(load_spec(layer.spec)).pending("provisioning", "management") == frozenset()

    # A removed assignment is deleted, and so is the policy copy only it needed.
    layer.edit("accounts: [management, shared, apps-prd]", "accounts: [management, shared]")
    p = plan_of(layer)
    assert addresses(p) == [
        "management/ic_assignment.group/devops/DevOps@apps-prd",
        "apps-prd/policy.billing-read",
    ]
    apply_all(layer)
    assert sso.assignments(ids["apps-prd"], "DevOps") == set()
    assert len(sso.assignments(ids["shared"], "DevOps")) == 1
    local = layer.iam("apps-prd").list_policies(Scope="Local")["Policies"]
    assert "billing-read" not in {p["PolicyName"] for p in local}

    # A person's own additions, made by hand in the console, are never touched.
    theirs = sso.store.create_user(
        IdentityStoreId=sso.store_id,
        UserName="their.person",
        DisplayName="Their Person",
        Name={"GivenName": "Their", "FamilyName": "Person"},
    )["UserId"]
    team = sso.store.create_group(IdentityStoreId=sso.store_id, DisplayName="their-team")["GroupId"]
    devops = sso.groups()["devops"]["GroupId"]
    sso.store.create_group_membership(
        IdentityStoreId=sso.store_id, GroupId=devops, MemberId={"UserId": theirs}
    )
    their_set = sso.admin.create_permission_set(InstanceArn=sso.arn, Name="TheirSet", SessionDuration="PT1H")[
        "PermissionSet"
    ]["PermissionSetArn"]
    for target, kind, principal in ((ps, "GROUP", team), (their_set, "GROUP", devops), (ps, "USER", theirs)):
        sso.admin.create_account_assignment(
            InstanceArn=sso.arn,
            TargetId=ids["shared"],
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=target,
            PrincipalType=kind,
            PrincipalId=principal,
        )
    assert plan_of(layer).empty

    # The spec then drops everything: only what iamlayer made goes; DevOps stays while their team
    # still uses it, and the plan says why.
    layer.write(
        layer.spec.read_text().split("identity_center:")[0] + "identity_center: {account: management}\n"
    )
    p = plan_of(layer)
    [management] = [a for a in p.accounts if a.account == "management"]
    assert any(
        "permission set DevOps is not deleted" in n and "group/their-team@shared" in n
        for n in management.notices
    )
    deleted = addresses(p, Action.DELETE)
    assert "management/ic_user.jane.doe" in deleted and "management/permission_set.ReadOnly" in deleted
    assert "management/permission_set.DevOps" not in deleted
    assert not [a for a in deleted if "their" in a.lower()]
    apply_all(layer)
    assert set(sso.users()) == {"their.person"}
    assert set(sso.groups()) == {"their-team"}
    assert set(sso.permission_sets()) == {"DevOps", "TheirSet"}
    assert sso.assignments(ids["shared"], "DevOps") == {("GROUP", team), ("USER", theirs)}
    assert sso.assignments(ids["shared"], "TheirSet") == {("GROUP", devops)}  # a group id since gone

    # A name the spec wants that someone else holds: a collision, never adopted silently.
    layer.write(
        layer.spec.read_text().replace(
            "identity_center: {account: management}\n",
            "identity_center:\n  users:\n    their.person: {email: t@example.com, given_name: T, family_name: P}\n",
        )
    )
    p = plan_of(layer)
    [management] = [a for a in p.accounts if a.account == "management"]
    assert management.error and "user their.person exists but was not created by iamlayer" in management.error
    with pytest.raises(PlanError, match="could not be planned"):
        apply_plan(p, load_spec(layer.spec), profile=None, stats=ApiStats())


@pytest.mark.proof  # a long walk: make proof (make test keeps under 5 minutes)
def test_both_assignment_reads_give_the_same_plan_through_aws_s_pages(
    ic_layer: Layer, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21 item 5: the same organization read by permission set and account, and by
    principal (through tests/awsharness.py's proxy with AWS's pages of 100: the emulator itself
    answers every list in one), gives the same plan: its changes, notes and notices, with
    someone else's group holding owned permission sets, a hand-made assignment of an owned user
    (deleted), and a principal with 113 assignments (two pages). Then with devops' DevOps dropped
    in apps-prd, where contractors keep it (the read by principal lists that pair in full: the
    policy copy DevOps' role uses there stays), and with ReadOnly dropped from the spec (its
    every pair listed: still assigned to someone else, it is not deleted)."""
    import iamlayer.aws.identity_center as ic_read
    from awsharness import AwsHarness, Pages
    from iamlayer.state.ic_model import AssignmentReads

    layer, ids = ic_layer, ic_layer.ids
    apply_all(layer)
    sso = Sso(layer)
    sets, users, groups = sso.permission_sets(), sso.users(), sso.groups()
    contractors = sso.store.create_group(IdentityStoreId=sso.store_id, DisplayName="contractors")["GroupId"]
    wide = sso.admin.create_permission_set(InstanceArn=sso.arn, Name="Wide")["PermissionSet"][
        "PermissionSetArn"
    ]

    def assign(ps_arn: str, account: str, kind: str, principal: str) -> None:
        sso.admin.create_account_assignment(
            InstanceArn=sso.arn,
            TargetId=account,
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=ps_arn,
            PrincipalType=kind,
            PrincipalId=principal,
        )

    for account in ("shared", "apps-prd"):  # beside devops
        assign(sets["DevOps"], ids[account], "GROUP", contractors)
    assign(sets["ReadOnly"], ids["apps-prd"], "GROUP", contractors)  # held by no managed principal
    assign(sets["ReadOnly"], ids["shared"], "USER", users["jane.doe"]["UserId"])  # by hand: deleted
    for n in range(110):  # a foreign set (dropped from the state) that makes devops' list 2 pages
        assign(wide, f"{n:012d}", "GROUP", groups["devops"]["GroupId"])

    def plan_by(shape: AssignmentReads, harness: AwsHarness) -> tuple[Plan, list[Any], dict[str, int]]:
        monkeypatch.setattr(ic_read, "choose_assignment_reads", lambda principals, pairs: shape)
        before = len(harness.calls)
        p = plan_of(layer)
        assert p.stats["identity_center"]["assignments_by"] == str(shape)
        seen = [(str(c.address), c.action, c.before, c.after, c.note) for c in p.changes] + [
            (a.account, a.notices, a.error) for a in p.accounts
        ]
        ops: dict[str, int] = {}
        for c in harness.calls[before:]:
            if c.action.startswith("ListAccountAssignments"):
                ops[c.action] = ops.get(c.action, 0) + 1
        return p, seen, ops

    with AwsHarness(aws_env["AWS_ENDPOINT_URL"], pages=Pages()) as harness:
        monkeypatch.setenv("AWS_ENDPOINT_URL", harness.url)
        _, seen_pairs, ops_pairs = plan_by(AssignmentReads.PAIRS, harness)
        by_principal, seen_principal, ops_principal = plan_by(AssignmentReads.PRINCIPAL, harness)
        assert seen_principal == seen_pairs
        assert addresses(by_principal) == ["management/ic_assignment.user/jane.doe/ReadOnly@shared"]
        assert ops_pairs == {"ListAccountAssignments": 6}  # 2 sets x 3 accounts
        # devops' 113 assignments in 2 pages, jane's and john's in one each; the pair of jane's
        # unwanted assignment listed in full
        assert ops_principal == {"ListAccountAssignmentsForPrincipal": 4, "ListAccountAssignments": 1}
        assert by_principal.stats["identity_center"]["completions"] == 1
        assert by_principal.stats["expected_bulk_reads"]["ListAccountAssignmentsForPrincipal"] == 3

        layer.edit(
            "[DevOps], accounts: [management, shared, apps-prd]}", "[DevOps], accounts: [management, shared]}"
        )
        _, seen_pairs, _ = plan_by(AssignmentReads.PAIRS, harness)
        fewer, seen_principal, _ = plan_by(AssignmentReads.PRINCIPAL, harness)
        assert seen_principal == seen_pairs
        assert "management/ic_assignment.group/devops/DevOps@apps-prd" in addresses(fewer, Action.DELETE)
        assert "apps-prd/policy.billing-read" not in addresses(fewer)  # contractors' DevOps role uses it

        layer.edit("    - {user: john.roe, permission_sets: [ReadOnly], accounts: [management]}\n", "")
        layer.edit("    ReadOnly:\n      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]\n", "")
        _, seen_pairs, _ = plan_by(AssignmentReads.PAIRS, harness)
        dropped, seen_principal, _ = plan_by(AssignmentReads.PRINCIPAL, harness)
        assert seen_principal == seen_pairs
        [notice] = [n for a in dropped.accounts for n in a.notices if "ReadOnly" in n]
        assert "still assigned to principals iamlayer does not own (group/contractors@apps-prd)" in notice

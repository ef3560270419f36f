"""The core engine against the emulator over HTTP: plan, apply, converge, own, delete, refuse stale.

Every test runs in account ids of its own (see tests/layer.py), through boto3 and AssumeRole,
exactly as iamlayer reaches a real organization.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest

from awsharness import AwsHarness, Rule
from iamlayer.apply.run import apply_plan, check_fresh
from iamlayer.aws.session import ApiStats
from iamlayer.errors import StalePlanError
from iamlayer.plan.model import Action, Kind, Plan
from iamlayer.plan.planner import make_plan
from iamlayer.spec.load import load_spec
from layer import Layer


def plan_of(layer: Layer, **kw: object) -> Plan:
    return make_plan(load_spec(layer.spec), profile=None, **kw)  # type: ignore[arg-type]


def apply_all(layer: Layer) -> Plan:
    spec = load_spec(layer.spec)
    p = make_plan(spec, profile=None)
    outcome = apply_plan(p, spec, profile=None, stats=ApiStats())
    assert outcome.ok, outcome.failed
    return p


def addresses(p: Plan, action: Action | None = None) -> set[str]:
    return {str(c.address) for c in p.changes if action is None or c.action is action}


def test_plan_apply_plan_is_empty_and_second_apply_is_noop(layer: Layer) -> None:
    first = plan_of(layer)
    assert not first.errors
    assert first.counts() == {"create": len(first.changes), "update": 0, "delete": 0, "adopt": 0}
    assert "security/user.jane.doe" in addresses(first)
    assert "security/login_profile.jane.doe" in addresses(first)
    assert "security/access_key.machine.ci" in addresses(first)
    # roles only in their accounts
    assert "management/role.DevOps" not in addresses(first)
    assert {f"{a}/role.DevOps" for a in ("shared", "apps-devstg", "apps-prd")} <= addresses(first)
    assert {
        f"{a}/role.Auditor" for a in ("management", "security", "shared", "apps-devstg", "apps-prd")
    } <= addresses(first)

    apply_all(layer)
    again = plan_of(layer)
    assert again.empty, [str(c.address) for c in again.changes]
    # apply with nothing to do changes nothing
    spec = load_spec(layer.spec)
    outcome = apply_plan(again, spec, profile=None, stats=ApiStats())
    assert outcome.succeeded == () and outcome.verify is None

    iam = layer.iam("security")
    assert set(u["UserName"] for u in iam.list_users()["Users"]) == {"jane.doe", "machine.ci"}
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName="machine.ci")["AccessKeyMetadata"]]
    assert iam.list_account_aliases()["AccountAliases"] == ["acme-corp-security"]
    pp = iam.get_account_password_policy()["PasswordPolicy"]
    assert (
        pp["MinimumPasswordLength"] == 30
        and pp["PasswordReusePrevention"] == 24
        and pp["MaxPasswordAge"] == 60
    )


def test_roles_trust_and_group_assume_policies(layer: Layer) -> None:
    apply_all(layer)
    ids = layer.ids
    devops = layer.iam("apps-prd").get_role(RoleName="DevOps")["Role"]
    st = devops["AssumeRolePolicyDocument"]["Statement"][0]
    assert st["Principal"] == {"AWS": [f"arn:aws:iam::{ids['security']}:root"]} or st["Principal"] == {
        "AWS": f"arn:aws:iam::{ids['security']}:root"
    }
    assert st["Condition"]["Bool"]["aws:MultiFactorAuthPresent"] in ("true", ["true"])
    assert st["Condition"]["NumericLessThan"]["aws:MultiFactorAuthAge"] in ("43200", ["43200"])
    for acc in ("management", "security"):
        names = [r["RoleName"] for r in layer.iam(acc).list_roles()["Roles"]]
        assert "DevOps" not in names and "Auditor" in names

    sec = layer.iam("security")
    doc = sec.get_group_policy(GroupName="devops", PolicyName="assume-roles")["PolicyDocument"]
    # DevOps in every account, the accounts it is in by id (issue 21: the size does not grow
    # with one ARN per account)
    [statement] = doc["Statement"]
    assert statement["Resource"] in ("arn:aws:iam::*:role/DevOps", ["arn:aws:iam::*:role/DevOps"])
    assert sorted(statement["Condition"]["StringEquals"]["aws:ResourceAccount"]) == sorted(
        ids[a] for a in ("shared", "apps-devstg", "apps-prd")
    )
    sm = sec.get_group_policy(GroupName="devops", PolicyName="self-management")["PolicyDocument"]
    deny = next(s for s in sm["Statement"] if s["Effect"] == "Deny")
    assert "BoolIfExists" in deny["Condition"]


def test_adding_an_account_to_a_role_updates_the_group_in_the_same_plan(layer: Layer) -> None:
    apply_all(layer)
    layer.edit("accounts: [shared, apps-devstg, apps-prd]", "accounts: [shared, apps-prd]")
    p = plan_of(layer)
    assert addresses(p) == {"apps-devstg/role.DevOps", "security/group_inline_policy.devops/assume-roles"}
    assert addresses(p, Action.DELETE) == {"apps-devstg/role.DevOps"}
    apply_all(layer)
    assert plan_of(layer).empty
    # and back: the role with its attachment, and the group's policy, in one plan
    layer.edit("accounts: [shared, apps-prd]", "accounts: [shared, apps-devstg, apps-prd]")
    p = plan_of(layer)
    assert addresses(p) == {
        "apps-devstg/role.DevOps",
        "apps-devstg/role_policy_attachment.DevOps/arn:aws:iam::aws:policy/AdministratorAccess",
        "security/group_inline_policy.devops/assume-roles",
    }
    assert addresses(p, Action.UPDATE) == {"security/group_inline_policy.devops/assume-roles"}
    apply_all(layer)
    assert plan_of(layer).empty


def test_removed_user_is_deleted_with_everything_that_must_go_first(layer: Layer) -> None:
    apply_all(layer)
    iam = layer.iam("security")
    mfa = iam.create_virtual_mfa_device(VirtualMFADeviceName="jane.doe")["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName="jane.doe", SerialNumber=mfa, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    iam.create_access_key(UserName="jane.doe")  # made by the person herself
    text = layer.spec.read_text()
    layer.write(text.replace("  jane.doe:   {pgp_key: keys/jane.doe, groups: [devops]}\n", ""))

    p = plan_of(layer)
    deletes = [c for c in p.changes if c.action is Action.DELETE]
    assert [str(c.address) for c in deletes] == ["security/user.jane.doe"]
    before = deletes[0].before or {}
    assert before["login_profile"] is True
    assert before["groups"] == ["devops"]
    assert before["mfa_devices"] == [mfa]
    assert len(before["access_keys"]) == 1

    apply_all(layer)
    assert "jane.doe" not in {u["UserName"] for u in iam.list_users()["Users"]}
    assert not (layer.root / "outputs" / "security" / "jane.doe" / "password.asc").exists()
    assert plan_of(layer).empty


def test_a_ciphertext_left_by_an_apply_killed_after_a_delete_is_removed(layer: Layer) -> None:
    """An apply deleting machine.ci's key (access_key turned off) died after DeleteAccessKey went
    through, before the key's ciphertext was removed. The next plan reads the user's keys, sees the
    ciphertext's key gone from AWS and plans its removal; apply removes it; then nothing is left."""
    apply_all(layer)
    iam = layer.iam("security")
    folder = layer.root / "outputs" / "security" / "machine.ci"
    [asc] = list(folder.glob("access-key-*.asc"))
    key_id = asc.name[len("access-key-") : -len(".asc")]
    layer.edit("console: false, access_key: true}", "console: false}")
    iam.delete_access_key(UserName="machine.ci", AccessKeyId=key_id)  # what the killed apply did

    p = plan_of(layer)
    [c] = p.changes
    assert (str(c.address), c.action) == (f"security/access_key.machine.ci/{key_id}", Action.DELETE)
    apply_all(layer)
    assert not list(folder.glob("access-key-*.asc"))
    assert plan_of(layer).empty


def delete_user_by_hand(iam: Any, name: str) -> None:
    """Delete a user as a person would with boto3: AWS refuses DeleteUser while the user still has
    group memberships, access keys or a login profile, so those go first."""
    for g in iam.list_groups_for_user(UserName=name)["Groups"]:
        iam.remove_user_from_group(GroupName=g["GroupName"], UserName=name)
    for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=name, AccessKeyId=k["AccessKeyId"])
    with contextlib.suppress(iam.exceptions.NoSuchEntityException):  # no console password
        iam.delete_login_profile(UserName=name)
    iam.delete_user(UserName=name)


def test_users_deleted_by_hand_are_re_created_in_one_apply(layer: Layer) -> None:
    """Issue 18 item 6: the ciphertext of machine.ci's old key stayed in the outputs, so the
    verification after apply planned its removal, waited 60 s and failed ("a bug in iamlayer"),
    and the next plan blamed an interrupted apply. The plan that re-creates a user removes the
    ciphertexts of the keys AWS deleted with the old one."""
    apply_all(layer)
    iam = layer.iam("security")
    folder = layer.root / "outputs" / "security" / "machine.ci"
    [old_key] = [p.name[len("access-key-") : -len(".asc")] for p in folder.glob("access-key-*.asc")]
    for name in ("jane.doe", "machine.ci"):
        delete_user_by_hand(iam, name)

    p = plan_of(layer)
    gone = [c for c in p.changes if c.action is Action.DELETE]
    assert [str(c.address) for c in gone] == [f"security/access_key.machine.ci/{old_key}"]
    assert "with its user" in gone[0].note and "interrupted" not in gone[0].note
    assert {"security/user.jane.doe", "security/user.machine.ci"} <= addresses(p, Action.CREATE)

    spec = load_spec(layer.spec)
    outcome = apply_plan(p, spec, profile=None, stats=ApiStats())
    assert outcome.ok, outcome.failed
    assert outcome.verify is not None and outcome.verify.empty
    [new_key] = [k["AccessKeyId"] for k in iam.list_access_keys(UserName="machine.ci")["AccessKeyMetadata"]]
    assert [p.name for p in folder.glob("access-key-*.asc")] == [f"access-key-{new_key}.asc"]
    assert iam.get_login_profile(UserName="jane.doe")["LoginProfile"]
    assert plan_of(layer).empty


def test_tags_removed_from_the_spec_are_removed_and_others_tags_stay(layer: Layer) -> None:
    """Issue 18 item 9: UntagUser/UntagRole for the tags iamlayer set that left the spec; a tag
    added by hand and the ownership tag stay."""
    layer.edit("groups: [devops]}", "groups: [devops], tags: {team: platform, cost: '42'}}")
    layer.edit("max_session_duration: 3600,", "max_session_duration: 3600, tags: {team: ops, tier: '1'},")
    apply_all(layer)
    people, shared = layer.iam("security"), layer.iam("shared")
    people.tag_user(UserName="jane.doe", Tags=[{"Key": "laptop", "Value": "by hand"}])
    shared.tag_role(RoleName="DevOps", Tags=[{"Key": "laptop", "Value": "by hand"}])
    layer.edit("tags: {team: platform, cost: '42'}", "tags: {team: platform}")
    layer.edit("tags: {team: ops, tier: '1'},", "")

    p = plan_of(layer)
    tags = {str(c.address): c.after for c in p.changes}
    assert tags["security/user.jane.doe"] == {"tags": {"cost": None, "iamlayer:tags": "team"}}
    assert tags["shared/role.DevOps"] == {"tags": {"iamlayer:tags": None, "team": None, "tier": None}}
    apply_all(layer)

    def live(tags: list[dict[str, str]]) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in tags}

    assert live(people.list_user_tags(UserName="jane.doe")["Tags"]) == {
        "iamlayer:project": layer.project,
        "iamlayer:tags": "team",
        "team": "platform",
        "laptop": "by hand",
    }
    assert live(shared.list_role_tags(RoleName="DevOps")["Tags"]) == {
        "iamlayer:project": layer.project,
        "laptop": "by hand",
    }
    assert plan_of(layer).empty


def test_deletes_run_after_creates_and_in_reverse_dependency_order(layer: Layer) -> None:
    apply_all(layer)
    text = layer.spec.read_text()
    text = text.replace("  finops:   {policies: [billing-read", "  money:    {policies: [billing-read")
    layer.write(text)
    p = plan_of(layer)
    order = [(c.action, c.address.kind) for c in p.changes if c.address.account == "security"]
    creates = [i for i, (a, _) in enumerate(order) if a is not Action.DELETE]
    deletes = [i for i, (a, _) in enumerate(order) if a is Action.DELETE]
    assert max(creates) < min(deletes)
    assert (Action.CREATE, Kind.GROUP) in order and (Action.DELETE, Kind.GROUP) in order
    apply_all(layer)
    groups = {g["GroupName"] for g in layer.iam("security").list_groups()["Groups"]}
    assert "money" in groups and "finops" not in groups


def test_unowned_resources_are_never_touched(layer: Layer) -> None:
    apply_all(layer)
    iam = layer.iam("security")
    iam.create_user(UserName="bob")
    iam.create_group(GroupName="legacy")
    iam.add_user_to_group(UserName="bob", GroupName="legacy")
    iam.add_user_to_group(UserName="bob", GroupName="devops")
    shared = layer.iam("shared")
    shared.create_role(
        RoleName="handmade",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    assert plan_of(layer).empty

    # naming an unowned user in the spec is a clear error, and nothing is planned for it
    layer.edit("  machine.ci:", "  bob: {groups: [devops]}\n  machine.ci:")
    p = plan_of(layer)
    errs = {a.account: a.error for a in p.errors}
    assert "security" in errs and "user bob exists but is not owned" in (errs["security"] or "")
    assert "tag-user" in (errs["security"] or "")


def test_unowned_group_collision_and_adoption(layer: Layer) -> None:
    iam = layer.iam("security")
    iam.create_group(GroupName="auditors")
    p = plan_of(layer)
    assert p.errors and "group auditors exists but was not created by iamlayer" in (p.errors[0].error or "")
    iam.put_group_policy(
        GroupName="auditors",
        PolicyName="iamlayer-owner-acme",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Sid": "IamlayerOwnershipMarker", "Effect": "Deny", "NotAction": "*", "Resource": "*"}
                ],
            }
        ),
    )
    p = plan_of(layer)
    assert not p.errors
    assert "security/group.auditors" not in addresses(p)  # adopted, not re-created


def test_stale_saved_plan_is_refused(layer: Layer) -> None:
    apply_all(layer)
    layer.edit('Action: "s3:GetObject"', 'Action: ["s3:GetObject", "s3:ListBucket"]')
    spec = load_spec(layer.spec)
    saved = make_plan(spec, profile=None)
    assert addresses(saved) == {"security/group_inline_policy.finops/reports"}
    check_fresh(saved, spec, profile=None, stats=ApiStats())  # nothing moved yet
    layer.iam("security").put_group_policy(
        GroupName="devops",
        PolicyName="extra",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        ),
    )
    with pytest.raises(StalePlanError, match="security"):
        check_fresh(saved, spec, profile=None, stats=ApiStats())


def test_policy_document_change_is_an_update_with_readable_diff(layer: Layer) -> None:
    apply_all(layer)
    layer.edit('"cur:Describe*"', '"cur:Describe*", "budgets:View*"')
    p = plan_of(layer)
    [change] = p.changes
    assert str(change.address) == "security/policy.billing-read" and change.action is Action.UPDATE
    assert "budgets:View*" in json.dumps(change.after)
    assert "budgets:View*" not in json.dumps(change.before)
    apply_all(layer)
    assert plan_of(layer).empty


def test_no_op_plan_reads_with_a_constant_number_of_calls(layer: Layer) -> None:
    apply_all(layer)
    # shared's alias and password policy are left alone from now on: nothing of theirs is read
    layer.edit('shared:      {id: "', 'shared:      {alias: false, password_policy: false, id: "')
    stats = ApiStats()
    p = make_plan(load_spec(layer.spec), profile=None, stats=stats)
    assert p.empty
    per_account = stats.by_account()
    # sts:AssumeRole, GetAccountAuthorizationDetails, ListRoles; GetAccountPasswordPolicy and
    # ListAccountAliases only where the spec sets them; the people account adds the credential
    # report (generate + get). Without `ci:`, no OIDC read.
    for acc in ("management", "apps-devstg", "apps-prd"):
        assert per_account[acc] <= 5, stats.by_operation(acc)
        assert {"ListAccountAliases", "GetAccountPasswordPolicy"} <= set(stats.by_operation(acc))
    assert per_account["shared"] <= 3, stats.by_operation("shared")
    assert not {"ListAccountAliases", "GetAccountPasswordPolicy"} & set(stats.by_operation("shared"))
    # the plan's statement of the reads it expects says the same (`plan --stats`)
    for op in ("ListAccountAliases", "GetAccountPasswordPolicy"):
        assert p.stats["expected_bulk_reads"][op] == stats.by_operation()[op] == 4
    assert per_account["security"] <= 7, stats.by_operation("security")
    assert "ListOpenIDConnectProviders" not in stats.by_operation()
    assert "GetLoginProfile" not in stats.by_operation() and "ListAccessKeys" not in stats.by_operation()


def test_single_account_layer_uses_the_callers_credentials(
    tmp_path: Path, gpg_keys: object, aws_env: dict[str, str]
) -> None:
    spec = tmp_path / "iamlayer.yaml"
    project = f"solo{tmp_path.name[-6:].replace('_', '').lower()}"
    spec.write_text(f"""project: {project}
accounts:
  main: {{id: "123456789012"}}
users:
  robot-{project}: {{console: false, groups: [bots-{project}]}}
groups:
  bots-{project}: {{policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]}}
""")
    s = load_spec(spec)
    stats = ApiStats()
    p = make_plan(s, profile=None, stats=stats)
    assert p.accounts[0].via == "caller"
    assert "AssumeRole" not in stats.by_operation()
    outcome = apply_plan(p, s, profile=None, stats=ApiStats())
    assert outcome.ok
    assert make_plan(s, profile=None).empty


def test_a_per_account_profile_is_used_instead_of_the_access_role(
    layer: Layer, aws_env: dict[str, str]
) -> None:
    shared = layer.ids["shared"]
    Path(aws_env["AWS_CONFIG_FILE"]).write_text(
        "[profile shared-admin]\n"
        f"role_arn = arn:aws:iam::{shared}:role/OrganizationAccountAccessRole\n"
        "credential_source = Environment\nregion = us-east-1\n"
    )
    layer.edit(f'shared:      {{id: "{shared}"}}', f'shared:      {{id: "{shared}", profile: shared-admin}}')
    p = plan_of(layer)
    by = {a.account: a for a in p.accounts}
    assert by["shared"].via == "profile shared-admin"
    assert by["management"].via.startswith("role arn:aws:iam::")
    apply_all(layer)
    assert {r["RoleName"] for r in layer.iam("shared").list_roles()["Roles"]} >= {"DevOps", "Auditor"}
    assert plan_of(layer).empty


def test_role_options_and_per_account_settings(layer: Layer) -> None:
    ids = layer.ids
    text = layer.spec.read_text()
    text = text.replace(
        f'  apps-prd:    {{id: "{ids["apps-prd"]}"}}',
        f'  apps-prd:    {{id: "{ids["apps-prd"]}", alias: prd-acme, password_policy: {{minimum_length: 40}}}}',
    )
    text = text.replace(
        f'  shared:      {{id: "{ids["shared"]}"}}', f'  shared:      {{id: "{ids["shared"]}", alias: false}}'
    )
    text = text.replace(
        "roles:\n",
        """roles:
  DeployMaster:
    accounts: [apps-prd]
    trusted: management
    source_identity: true
    tag_session: true
    max_session_duration: 7200
    description: CI deploys
    permissions_boundary: arn:aws:iam::aws:policy/PowerUserAccess
    tags: {team: platform}
    inline_policies:
      passrole: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "iam:PassRole", Resource: "*"}]}
""",
        1,
    )
    layer.write(text)
    apply_all(layer)
    prd = layer.iam("apps-prd")
    role = prd.get_role(RoleName="DeployMaster")["Role"]
    st = role["AssumeRolePolicyDocument"]["Statement"][0]
    principal = st["Principal"]["AWS"]
    assert principal in (f"arn:aws:iam::{ids['management']}:root", [f"arn:aws:iam::{ids['management']}:root"])
    assert sorted(st["Action"]) == ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]
    assert "Condition" not in st
    assert role["MaxSessionDuration"] == 7200 and role["Description"] == "CI deploys"
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == "arn:aws:iam::aws:policy/PowerUserAccess"
    assert {t["Key"]: t["Value"] for t in role["Tags"]} == {
        "team": "platform",
        "iamlayer:project": "acme",
        "iamlayer:tags": "team",  # the keys iamlayer set, to remove them once they leave the spec
    }
    assert prd.list_role_policies(RoleName="DeployMaster")["PolicyNames"] == ["passrole"]
    assert prd.list_account_aliases()["AccountAliases"] == ["prd-acme"]
    pp = prd.get_account_password_policy()["PasswordPolicy"]
    assert (
        pp["MinimumPasswordLength"] == 40 and pp["PasswordReusePrevention"] == 24
    )  # merged over the default
    assert layer.iam("shared").list_account_aliases()["AccountAliases"] == []
    assert plan_of(layer).empty

    # changing role settings is an in-place update
    layer.edit("max_session_duration: 7200", "max_session_duration: 3600")
    layer.edit("tag_session: true", "tag_session: false")
    p = plan_of(layer)
    [change] = p.changes
    assert str(change.address) == "apps-prd/role.DeployMaster" and change.action is Action.UPDATE
    assert set(change.after or {}) == {"description", "max_session_duration", "trust"}
    assert (change.before or {})["description"] == (change.after or {})["description"] == "CI deploys"
    apply_all(layer)
    assert plan_of(layer).empty


def test_access_denied_in_one_account_holds_back_only_what_depends_on_it(
    layer: Layer, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """CreateRole DevOps is refused in apps-prd only. Its attachment there is skipped, naming the
    failure; every other change goes on, later stages in other accounts (users, memberships,
    keys in security; attachments in shared and apps-devstg) and apps-prd's own Auditor role."""
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"]) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        proxy.add(Rule("CreateRole", "deny", contains="RoleName=DevOps", account=layer.ids["apps-prd"]))
        spec = load_spec(layer.spec)
        plan = make_plan(spec, profile=None)
        outcome = apply_plan(plan, spec, profile=None, stats=ApiStats())
        [(failed, error)] = outcome.failed
        assert str(failed.address) == "apps-prd/role.DevOps" and "AccessDenied" in error
        assert [(str(s.change.address), s.because) for s in outcome.skipped] == [
            (f"apps-prd/role_policy_attachment.DevOps/{admin}", failed)
        ]
        done = {str(c.address) for c in outcome.succeeded}
        assert len(done) == len(plan.changes) - 2
        assert {
            f"shared/role_policy_attachment.DevOps/{admin}",
            f"apps-devstg/role_policy_attachment.DevOps/{admin}",
            "apps-prd/role.Auditor",
            "apps-prd/role_policy_attachment.Auditor/arn:aws:iam::aws:policy/ReadOnlyAccess",
            "security/user.jane.doe",
            "security/group_membership.jane.doe/devops",
            "security/login_profile.jane.doe",
            "security/access_key.machine.ci",
        } <= done
        assert not outcome.ok and outcome.verify is None  # not verified: it cannot match yet
        assert layer.iam("shared").list_attached_role_policies(RoleName="DevOps")["AttachedPolicies"]
        # once allowed, the next apply does what is left: the role and its attachment
        proxy.clear()
        left = make_plan(spec, profile=None)
        assert addresses(left) == {"apps-prd/role.DevOps", f"apps-prd/role_policy_attachment.DevOps/{admin}"}
        assert apply_plan(left, spec, profile=None, stats=ApiStats()).ok

"""`iamlayer import aws` against the emulator: round trips, and adopting a layer iamlayer did not make.

Organizations are emulated (moto): a fresh management account creates its organization and the
member accounts, and the CLI runs, as a person runs it, with that account's credentials.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from iamlayer.spec.load import load_spec
from layer import fresh_account_ids, run_cli, session_in

ACCOUNTS = ("security", "shared", "apps-devstg", "apps-prd")


def make_org(prefix: str = "acme-corp") -> tuple[str, dict[str, str], dict[str, str]]:
    """A fresh organization: (management id, name -> id of its accounts, env with its credentials)."""
    [mgmt] = fresh_account_ids(1)
    session = session_in(mgmt)
    org = session.client("organizations")
    org.create_organization(FeatureSet="ALL")
    ids = {"management": mgmt}
    for name in ACCOUNTS:
        status = org.create_account(Email=f"{name}@example.com", AccountName=f"{prefix}-{name}")
        ids[name] = status["CreateAccountStatus"]["AccountId"]
    creds = session.get_credentials().get_frozen_credentials()
    env = {
        "AWS_ACCESS_KEY_ID": creds.access_key,
        "AWS_SECRET_ACCESS_KEY": creds.secret_key,
        "AWS_SESSION_TOKEN": creds.token or "",
    }
    return mgmt, ids, env


def plan_json(folder: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    r = run_cli("plan", "--json", cwd=folder, env=env)
    assert r.code == 0, r.out + r.err
    data: dict[str, Any] = r.json()
    return data


def changes(plan: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["action"], c["address"]) for a in plan["accounts"] for c in a["changes"]]


def applied_init_layer(tmp_path: Path, extra: str = "") -> tuple[dict[str, str], dict[str, str]]:
    """`init` into tmp_path/layer in a fresh organization's account ids (plus `extra` spec text),
    applied; the accounts' ids and the management account's credentials."""
    _, ids, mgmt_env = make_org()
    layer = tmp_path / "layer"
    assert run_cli("init", str(layer), cwd=tmp_path).code == 0
    text = (layer / "iamlayer.yaml").read_text()
    for name, old in zip(
        ("management", *ACCOUNTS),
        ("111111111111", "222222222222", "333333333333", "444444444444", "555555555555"),
        strict=True,
    ):
        text = text.replace(old, ids[name])
    (layer / "iamlayer.yaml").write_text(text + extra)
    r = run_cli("apply", "--auto-approve", cwd=layer)
    assert r.code == 0, r.err
    return ids, mgmt_env


def test_the_init_example_round_trips_to_an_empty_plan(tmp_path: Path, aws_env: dict[str, str]) -> None:
    """init -> apply -> import aws (the organization, with the management account's credentials)
    -> the imported spec validates and plans empty against the same accounts."""
    ids, mgmt_env = applied_init_layer(tmp_path)
    layer = tmp_path / "layer"

    out = tmp_path / "imported"
    r = run_cli("import", "aws", "--out", str(out), "--json", cwd=tmp_path, env=mgmt_env)
    assert r.code == 0, r.err
    result = r.json()
    assert result["project"] == "acme"  # the ownership markers name the project
    assert result["adopt"] == []  # everything is owned already
    assert {a["name"]: a["id"] for a in result["accounts"]} == ids  # names from the aliases
    assert result["people_account"] == "security"
    assert set(result["credentials_kept"]) == {"jane.doe", "machine.ci"}
    assert result["api_calls"]["total"] < 60

    spec = load_spec(out / "iamlayer.yaml")
    original = load_spec(layer / "iamlayer.yaml")
    assert spec.project_long == "acme-corp"
    assert {
        k: (set(r.accounts), r.mfa_max_age, r.policies, r.source_identity, r.tag_session, r.trusted_account)
        for k, r in spec.roles.items()
    } == {
        k: (
            set(r.accounts),
            r.mfa_max_age,
            tuple(sorted(r.policies)),
            r.source_identity,
            r.tag_session,
            r.trusted_account,
        )
        for k, r in original.roles.items()
    }
    assert {k: (g.assume, g.self_management) for k, g in spec.groups.items()} == {
        k: (g.assume, g.self_management) for k, g in original.groups.items()
    }
    assert spec.groups["finops"].policies == ("billing-read",)
    assert spec.policies["billing-read"].description == "Read cost and usage data"
    assert all(a.password_policy == original.accounts[n].password_policy for n, a in spec.accounts.items())
    assert not spec.adopt and "adopt:" not in (out / "iamlayer.yaml").read_text()

    r = run_cli("validate", cwd=out)
    assert r.code == 0, r.err
    plan = plan_json(out)
    assert changes(plan) == [] and not [a for a in plan["accounts"] if a["error"]]
    report = (out / "IMPORT.md").read_text()
    assert "Nothing to adopt" in report and "credentials: keep" in report


@pytest.mark.proof  # a long walk: make proof (make test keeps under 5 minutes)
def test_a_generated_500_user_organization_round_trips(tmp_path: Path, aws_env: dict[str, str]) -> None:
    """Several hundred users in 5 accounts: apply, import aws, plan empty; the import's cost is a
    handful of calls per account, whatever the number of users."""
    _, ids, mgmt_env = make_org()
    layer = tmp_path / "layer"
    layer.mkdir()
    (layer / "iamlayer.yaml").write_text(generated_spec(ids, users=500))
    r = run_cli("apply", "--auto-approve", "--json", cwd=layer, timeout=600)
    assert r.code == 0, r.err

    out = tmp_path / "imported"
    r = run_cli("import", "aws", "--out", str(out), "--json", cwd=tmp_path, env=mgmt_env)
    assert r.code == 0, r.err
    result = r.json()
    assert result["counts"]["users"] == 500 and result["counts"]["accounts"] == 5
    calls = result["api_calls"]
    print(
        f"import aws, 5 accounts, 500 users: {result['seconds']} s, {calls['total']} API calls {calls['by_operation']}"
    )
    assert calls["total"] <= 5 * 8 + 5  # per account: GAAD, ListRoles, policy, alias, report (2), AssumeRole
    assert not calls["by_operation"].get("GetLoginProfile") and not calls["by_operation"].get(
        "ListAccessKeys"
    )
    assert result["split_roles"] == [
        {
            "name": "Deploy",
            "entries": [
                {"key": "Deploy", "accounts": ["apps-devstg", "shared"]},
                {"key": "Deploy.apps-prd", "accounts": ["apps-prd"]},
            ],
            "differences": ["max_session_duration"],
        }
    ]
    plan = plan_json(out)
    assert changes(plan) == [], changes(plan)[:5]
    assert (
        "Deploy.apps-prd:\n    accounts: [apps-prd]\n    name: Deploy" in (out / "iamlayer.yaml").read_text()
    )


def generated_spec(ids: dict[str, str], users: int) -> str:
    """A layer of `users` users in 10 groups over 5 accounts; some roles differ between accounts."""
    groups = [f"team-{g:02d}" for g in range(10)]
    lines = [
        "project: gen",
        "project_long: gen-corp",
        "accounts:",
        *[f'  {n}: {{id: "{i}"}}' for n, i in ids.items()],
        "people_account: security",
        "password_policy: {minimum_length: 20, reuse_prevention: 5}",
        "policies:",
        "  read-logs:",
        "    description: Read logs",
        '    document: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "logs:Get*", Resource: "*"}]}',
        "roles:",
        "  Admin: {accounts: all, mfa_max_age: 3600, policies: [arn:aws:iam::aws:policy/AdministratorAccess]}",
        "  Reader: {accounts: [shared, apps-devstg, apps-prd], policies: [arn:aws:iam::aws:policy/ReadOnlyAccess],"
        " tags: {tier: read}}",
        "  Deploy: {accounts: [shared, apps-devstg], source_identity: true, max_session_duration: 7200}",
        "  Deploy-prd: {name: Deploy, accounts: [apps-prd], source_identity: true}",
        "groups:",
        *[
            f"  {g}: {{assume: [{'Admin' if i % 3 == 0 else 'Reader'}], self_management: enforce_mfa,"
            f" policies: [read-logs]}}"
            for i, g in enumerate(groups)
        ],
        "  deployers: {assume: [Deploy, Deploy-prd]}",
        "users:",
        *[
            f"  user-{u:04d}: {{groups: [{groups[u % 10]}], console: false, tags: {{n: '{u}'}}}}"
            for u in range(users)
        ],
    ]
    return "\n".join(lines) + "\n"


# --- a layer iamlayer did not make --------------------------------------------------------------------

TRUST_MFA = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::{people}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "Bool": {"aws:MultiFactorAuthPresent": "true"},
                "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"},
            },
        }
    ],
}
TRUST_EXTERNAL = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "vendor-42"}},
        }
    ],
}
DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def _trust(people: str) -> str:
    return json.dumps(TRUST_MFA).replace("{people}", people)


def hand_made_layer(ids: dict[str, str]) -> dict[str, Any]:
    """What a team made by hand (or with another tool): returns the ids and secrets to compare."""
    iam = session_in(ids["security"]).client("iam")
    found: dict[str, Any] = {}
    pol = iam.create_policy(
        PolicyName="read-reports",
        PolicyDocument=json.dumps(DOC),
        Description="Read reports",
        Tags=[{"Key": "owner", "Value": "finance"}],
    )["Policy"]
    found["policy"] = (pol["Arn"], pol["PolicyId"])
    for g in ("ops", "finance"):
        found[f"group/{g}"] = iam.create_group(GroupName=g)["Group"]["GroupId"]
    iam.attach_group_policy(GroupName="finance", PolicyArn=pol["Arn"])
    iam.put_group_policy(GroupName="ops", PolicyName="extra", PolicyDocument=json.dumps(DOC))
    iam.attach_group_policy(GroupName="ops", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    for u, groups in (("alice", ["ops", "finance"]), ("bob", ["ops"]), ("robot", [])):
        found[f"user/{u}"] = iam.create_user(UserName=u, Tags=[{"Key": "ManagedBy", "Value": "terraform"}])[
            "User"
        ]["UserId"]
        for g in groups:
            iam.add_user_to_group(UserName=u, GroupName=g)
    iam.create_login_profile(UserName="alice", Password="Alice-Password-123!")
    found["keys"] = {
        u: iam.create_access_key(UserName=u)["AccessKey"]["AccessKeyId"] for u in ("alice", "robot")
    }
    iam.put_user_policy(UserName="robot", PolicyName="direct", PolicyDocument=json.dumps(DOC))
    for account in ("shared", "apps-prd"):
        member = session_in(ids[account]).client("iam")
        found[f"role/{account}/Ops"] = member.create_role(
            RoleName="Ops",
            AssumeRolePolicyDocument=_trust(ids["security"]),
            MaxSessionDuration=7200,
            Tags=[{"Key": "team", "Value": "ops"}],
        )["Role"]["RoleId"]
        member.attach_role_policy(RoleName="Ops", PolicyArn="arn:aws:iam::aws:policy/PowerUserAccess")
    vendor = session_in(ids["apps-prd"]).client("iam")
    found["role/apps-prd/Vendor"] = vendor.create_role(
        RoleName="Vendor", AssumeRolePolicyDocument=json.dumps(TRUST_EXTERNAL)
    )["Role"]["RoleId"]
    vendor.create_instance_profile(InstanceProfileName="vendor-ip")
    vendor.add_role_to_instance_profile(InstanceProfileName="vendor-ip", RoleName="Vendor")
    return found


def live_ids(ids: dict[str, str]) -> dict[str, Any]:
    iam = session_in(ids["security"]).client("iam")
    out: dict[str, Any] = {}
    pol = next(p for p in iam.list_policies(Scope="Local")["Policies"] if p["PolicyName"] == "read-reports")
    out["policy"] = (pol["Arn"], pol["PolicyId"])
    for g in ("ops", "finance"):
        out[f"group/{g}"] = iam.get_group(GroupName=g)["Group"]["GroupId"]
    for u in ("alice", "bob", "robot"):
        out[f"user/{u}"] = iam.get_user(UserName=u)["User"]["UserId"]
    out["keys"] = {
        u: iam.list_access_keys(UserName=u)["AccessKeyMetadata"][0]["AccessKeyId"] for u in ("alice", "robot")
    }
    for account in ("shared", "apps-prd"):
        out[f"role/{account}/Ops"] = (
            session_in(ids[account]).client("iam").get_role(RoleName="Ops")["Role"]["RoleId"]
        )
    out["role/apps-prd/Vendor"] = (
        session_in(ids["apps-prd"]).client("iam").get_role(RoleName="Vendor")["Role"]["RoleId"]
    )
    return out


def test_a_hand_made_layer_is_adopted_and_nothing_else_changes(
    tmp_path: Path, aws_env: dict[str, str]
) -> None:
    """Named accounts (no organization): import, the plan only adopts, apply adopts, the next plan
    is empty; ids, passwords, keys, foreign tags and what the spec cannot model all stay."""
    ids = dict(zip(("security", "shared", "apps-prd"), fresh_account_ids(3), strict=True))
    before = hand_made_layer(ids)
    out = tmp_path / "imported"
    r = run_cli(
        "import",
        "aws",
        "--out",
        str(out),
        "--project",
        "acme",
        "--all-roles",  # Vendor trusts another organization's account: imported on request only
        "--json",
        *[f"--account={n}={i}" for n, i in ids.items()],
        cwd=tmp_path,
    )
    assert r.code == 0, r.err
    result = r.json()
    assert sorted(result["adopt"]) == sorted(
        [
            "security/policy/read-reports",
            "security/group/finance",
            "security/group/ops",
            "security/user/alice",
            "security/user/bob",
            "security/user/robot",
            "shared/role/Ops",
            "apps-prd/role/Ops",
            "apps-prd/role/Vendor",
        ]
    )
    # Ops trusts the people account with MFA but does not require sessions named after the person:
    # not the trust iamlayer renders for people (iamlayer.plan.desired.trust_document), so it is
    # kept verbatim and the import changes nothing.
    assert result["verbatim_trust_policies"] == ["Ops", "Vendor"]
    text = (out / "iamlayer.yaml").read_text()
    spec = yaml.safe_load(text)
    assert spec["roles"]["Ops"]["accounts"] == ["apps-prd", "shared"]
    assert spec["roles"]["Ops"]["trust_policy"]["Statement"][0]["Condition"] == {
        "Bool": {"aws:MultiFactorAuthPresent": ["true"]},
        "NumericLessThan": {"aws:MultiFactorAuthAge": ["3600"]},
    }
    assert spec["roles"]["Vendor"]["trust_policy"]["Statement"][0]["Condition"] == {
        "StringEquals": {"sts:ExternalId": ["vendor-42"]}
    }
    assert spec["users"]["alice"] == {
        "groups": ["finance", "ops"],
        "credentials": "keep",
        "tags": {"ManagedBy": "terraform"},
    }
    assert spec["groups"]["finance"] == {"policies": ["read-reports"]}
    assert spec["adopt"] is True
    report = (out / "IMPORT.md").read_text()
    assert "robot: policies direct" in report  # not modelled, kept

    r = run_cli("validate", cwd=out)
    assert r.code == 0, r.err
    assert "note: users.alice.credentials: 3 user(s) keep their console password" in r.err
    assert "gpg --export NAME | base64 > keys/alice" in r.err  # how to hand them over later
    r = run_cli("plan", cwd=out)
    assert r.code == 0, r.err
    assert "Only adoption" in r.out and "0 to add, 0 to change, 0 to destroy, 9 to adopt" in r.out
    plan = plan_json(out)
    assert {a for a, _ in changes(plan)} == {"adopt"} and len(changes(plan)) == 9
    r = run_cli("apply", "--auto-approve", cwd=out)
    assert r.code == 0, r.err
    assert "9 adopted" in r.out
    assert changes(plan_json(out)) == []

    assert live_ids(ids) == {k: v for k, v in before.items()}  # every id kept, no key rotated
    iam = session_in(ids["security"]).client("iam")
    assert iam.get_login_profile(UserName="alice")["LoginProfile"]["UserName"] == "alice"
    assert iam.list_user_policies(UserName="robot")["PolicyNames"] == ["direct"]
    assert {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName="bob")["Tags"]} == {
        "ManagedBy": "terraform",
        "iamlayer:project": "acme",
        "iamlayer:tags": "ManagedBy",  # the spec's tags, now iamlayer's (issue 18 item 9)
    }
    arn = before["policy"][0]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Description"] == "Read reports"  # never changed
    assert {t["Key"]: t["Value"] for t in iam.list_policy_tags(PolicyArn=arn)["Tags"]} == {
        "owner": "finance",
        "iamlayer:project": "acme",
    }
    assert "iamlayer-owner-acme" in iam.list_group_policies(GroupName="ops")["PolicyNames"]
    vendor = session_in(ids["apps-prd"]).client("iam")
    assert vendor.list_instance_profiles_for_role(RoleName="Vendor")["InstanceProfiles"]

    # The adopted policy is owned by its tag: leaving the spec, it is planned for deletion.
    (out / "iamlayer.yaml").write_text(
        re.sub(r"\npolicies:\n(  .*\n|    .*\n)+", "\n", text).replace(
            "finance: {policies: [read-reports]}", "finance: {}"
        )
    )
    plan = plan_json(out)
    assert ("delete", "security/policy.read-reports") in changes(plan)
    assert ("delete", "security/group_policy_attachment.finance/" + arn) in changes(plan)


# --- roles that are not the layer's -------------------------------------------------------------------


def _trusting(principal: dict[str, str]) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
        }
    )


def test_roles_that_are_not_the_layers_are_left_out_unless_all_roles(
    tmp_path: Path, aws_env: dict[str, str]
) -> None:
    """Member accounts hold roles Lambda, ECS, EC2, Control Tower and StackSets made: `import aws`
    imports only the layer's (owned, or trusting a principal of the people account) and
    lists the others as left out, so that no later plan deletes them or pulls them from their
    instance profiles; `--all-roles` imports them too."""
    mgmt, ids, mgmt_env = make_org()
    session_in(ids["security"]).client("iam").create_user(UserName="alice")  # the people account
    foreign = {
        "orders-lambda": ("/", _trusting({"Service": "lambda.amazonaws.com"})),
        "ecsTaskExecutionRole": ("/", _trusting({"Service": "ecs-tasks.amazonaws.com"})),
        "app-ec2": ("/", _trusting({"Service": "ec2.amazonaws.com"})),
        "codebuild-app": ("/service-role/", _trusting({"AWS": f"arn:aws:iam::{ids['security']}:root"})),
        "AWSControlTowerExecution": ("/", _trusting({"AWS": f"arn:aws:iam::{mgmt}:root"})),
        "aws-controltower-ReadOnlyExecutionRole": (
            "/",
            _trusting({"AWS": f"arn:aws:iam::{ids['security']}:role/aws-controltower-AuditReadOnlyRole"}),
        ),
        "stacksets-exec-0123456789abcdef": ("/", _trusting({"AWS": f"arn:aws:iam::{mgmt}:root"})),
        "Vendor": ("/", json.dumps(TRUST_EXTERNAL)),
    }
    layers = {
        "Ops": _trust(ids["security"]),  # iamlayer's shape
        "Deploy": _trusting({"AWS": f"arn:aws:iam::{ids['security']}:role/ci"}),  # the people account's
    }
    for account in ("shared", "apps-prd"):
        iam = session_in(ids[account]).client("iam")
        for name, (path, trust) in foreign.items():
            iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust)
        for name, trust in layers.items():
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
        iam.create_instance_profile(InstanceProfileName="app-ec2")
        iam.add_role_to_instance_profile(InstanceProfileName="app-ec2", RoleName="app-ec2")
    # a service's role that an iamlayer project owns is the layer's whatever its trust
    session_in(ids["shared"]).client("iam").create_role(
        RoleName="batch-runner",
        AssumeRolePolicyDocument=_trusting({"Service": "batch.amazonaws.com"}),
        Tags=[{"Key": "iamlayer:project", "Value": "acme"}],
    )

    out = tmp_path / "imported"
    names = ("--project-long", "acme-corp")  # accounts named shared, apps-prd... (no aliases here)
    r = run_cli("import", "aws", "--out", str(out), *names, "--json", cwd=tmp_path, env=mgmt_env)
    assert r.code == 0, r.err
    result = r.json()
    assert set(load_spec(out / "iamlayer.yaml").roles) == {"Ops", "Deploy", "batch-runner"}
    left = {(x["account"], x["role"]): x["why"] for x in result["roles_left_out"]}
    assert set(left) == {(a, n) for a in ("shared", "apps-prd") for n in foreign}
    assert "lambda.amazonaws.com" in left[("shared", "orders-lambda")]
    assert "/service-role/" in left[("shared", "codebuild-app")]
    assert "Control Tower" in left[("apps-prd", "AWSControlTowerExecution")]
    assert "Control Tower" in left[("apps-prd", "aws-controltower-ReadOnlyExecutionRole")]
    assert "StackSets" in left[("apps-prd", "stacksets-exec-0123456789abcdef")]
    assert "trusts no principal of the people account" in left[("shared", "Vendor")]
    summary = {(f["where"], f["what"]) for f in result["findings"] if f["kind"] == "left_out"}
    assert ("shared", f"{len(foreign)} role(s): {', '.join(sorted(foreign))}") in summary
    assert not [a for a in result["adopt"] if a.split("/")[-1] in foreign]
    assert (
        "`orders-lambda`: a service's role: it trusts lambda.amazonaws.com" in (out / "IMPORT.md").read_text()
    )
    plan = plan_json(out, mgmt_env)
    assert {a for a, _ in changes(plan)} == {"adopt"}, changes(plan)

    r = run_cli("import", "aws", "--out", str(tmp_path / "plain"), *names, cwd=tmp_path, env=mgmt_env)
    assert r.code == 0, r.err
    assert f"{2 * len(foreign)} role(s) left out as not the layer's" in " ".join(r.out.split())

    every = tmp_path / "every"
    r = run_cli(
        "import", "aws", "--out", str(every), *names, "--all-roles", "--json", cwd=tmp_path, env=mgmt_env
    )
    assert r.code == 0, r.err
    assert r.json()["roles_left_out"] == []
    assert set(load_spec(every / "iamlayer.yaml").roles) == {*foreign, *layers, "batch-runner"}


IC_BLOCK = """\
identity_center:
  account: management
  users:
    jane.doe: {email: jane@example.com, given_name: Jane, family_name: Doe}
    john.roe: {email: john@example.com, given_name: John, family_name: Roe, display_name: Johnny}
  groups:
    devops: {description: DevOps team, members: [jane.doe]}
    auditors: {}
  permission_sets:
    DevOps:
      description: Full access for DevOps
      session_duration: PT4H
      policies: [arn:aws:iam::aws:policy/AdministratorAccess]
      customer_managed_policies: [billing-read]
      inline_policy: {Version: "2012-10-17", Statement: [{Effect: Deny, Action: "s3:DeleteBucket", Resource: "*"}]}
    ReadOnly:
      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
      relay_state: https://console.aws.amazon.com/billing/home
  assignments:
    - {group: devops, permission_sets: [DevOps], accounts: [shared, apps-devstg, apps-prd]}
    - {user: john.roe, permission_sets: [ReadOnly, DevOps], accounts: [management, apps-prd]}
"""


@pytest.mark.proof  # a long walk: make proof (make test keeps under 5 minutes)
def test_a_layer_with_identity_center_round_trips_to_an_empty_plan(
    tmp_path: Path, aws_env: dict[str, str]
) -> None:
    """apply a layer with identity_center -> import aws into a fresh folder -> the first plan
    creates, updates and deletes nothing: the block is carried whole (people, groups, members,
    permission sets with their policies, session and relay state, assignments), and the copies of
    billing-read the permission set needs in the member accounts stay."""
    from iamlayer.plan.ic_diff import desired_ic

    _, mgmt_env = applied_init_layer(tmp_path, extra=IC_BLOCK)
    layer = tmp_path / "layer"

    out = tmp_path / "imported"
    r = run_cli("import", "aws", "--out", str(out), "--json", cwd=tmp_path, env=mgmt_env)
    assert r.code == 0, r.err
    plan = plan_json(out)
    assert not [a for a in plan["accounts"] if a["error"]]
    assert changes(plan) == []  # no create, update or delete: billing-read stays in every account
    counts = r.json()["counts"]
    # The emulator has no account access manager: the import says so and goes on, at once (its
    # 5xx answers are not retried: 26 s when they were).
    [note] = [f for f in r.json()["findings"] if f["what"] == "account access manager not read"]
    assert note["kind"] == "note" and "imported without `entitled:`" in note["why"]
    assert r.json()["seconds"] < 10
    assert (counts["ic_users"], counts["ic_groups"], counts["permission_sets"], counts["ic_assignments"]) == (
        2,
        2,
        2,
        7,
    )
    spec, original = load_spec(out / "iamlayer.yaml"), load_spec(layer / "iamlayer.yaml")
    assert spec.identity_center is not None and original.identity_center is not None
    assert spec.identity_center.account == "management"
    # The instance's identity store names the access portal people sign in at (no start_url needed).
    portal = spec.identity_center.portal_url
    assert portal is not None and re.fullmatch(r"https://d-[0-9a-z]{10}\.awsapps\.com/start", portal)
    assert not [n for a in plan["accounts"] for n in a["notices"] if "access portal" in n]
    imported, wanted = desired_ic(spec), desired_ic(original)
    assert (imported.users, imported.groups, imported.assignments) == (
        wanted.users,
        wanted.groups,
        wanted.assignments,
    )
    assert imported.permission_sets == wanted.permission_sets
    report = (out / "IMPORT.md").read_text()
    assert "IAM Identity Center: 2 users, 2 groups, 2 permission sets, 7 assignments" in report

    # Without the block (an import that could not read the instance, or a person removing it) the
    # permission sets stay, and so do the copies of billing-read they reference.
    spec_file = out / "iamlayer.yaml"
    spec_file.write_text(spec_file.read_text().split("# IAM Identity Center:")[0])
    plan = plan_json(out)
    assert changes(plan) == []
    notices = [n for a in plan["accounts"] for n in a["notices"] if n.startswith("policy billing-read")]
    assert len(notices) == 4  # management, shared, apps-devstg, apps-prd

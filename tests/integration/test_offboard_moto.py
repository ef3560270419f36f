"""`iamlayer offboard` end to end on the emulator, on the 5-account design example (issue 23,
item 2): every role she could assume carries the Deny of her sessions after the apply; her user,
access key, MFA device and membership are gone; the spec records the offboarding; a later plan,
once her sessions can no longer be alive, removes the statements. The emulator enforces no IAM
policy and lacks AWS Sign-In: what the Deny decides is proven by the evaluator
(tests/unit/test_offboard.py), the revocation call with Stubber (tests/unit/test_signin_stubbed.py).

"Later" is made by moving the recorded `at` back past the roles' longest session (DevOps: 3600 s),
rather than by faking the clock of a subprocess.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from test_identity_center import Sso, light_ic_layer

from iamlayer.access.queries import session_can
from iamlayer.aws.access_reads import read_live_model
from iamlayer.aws.session import ApiStats
from iamlayer.spec.load import load_spec
from iamlayer.state.model import OFFBOARDED_POLICY_NAME
from iamlayer.state.normalize import normalize
from layer import Keys, Layer, apply_now, run_cli
from offboard_support import session_deny

DEVOPS_ACCOUNTS = ("shared", "apps-devstg", "apps-prd")


@pytest.mark.proof  # a long walk: make proof (make test keeps under 5 minutes)
def test_offboarding_jane_denies_her_sessions_everywhere_she_reached_and_removes_her(
    layer: Layer, aws_env: dict[str, str]
) -> None:
    layer.edit("groups: [devops]}", "groups: [devops], access_key: true}")
    apply_now(layer)
    people = layer.iam("security")
    device = people.create_virtual_mfa_device(VirtualMFADeviceName="jane.doe")["VirtualMFADevice"]
    people.enable_mfa_device(
        UserName="jane.doe",
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )
    assert people.list_access_keys(UserName="jane.doe")["AccessKeyMetadata"]
    started = datetime.now(UTC).replace(microsecond=0)

    r = run_cli("offboard", "jane.doe", "--yes", "--json", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.out + r.err
    out = r.json()

    # What she could reach: DevOps in its three accounts, through the devops group's policy.
    reach = {(x["account"], x["kind"], x["name"]) for x in out["reach"]}
    assert reach == {(a, "role", "DevOps") for a in DEVOPS_ACCOUNTS}, json.dumps(out["reach"])
    assert all(any("group devops / inline assume-roles" in v for v in x["via"]) for x in out["reach"]), out[
        "reach"
    ]
    at = out["at"]
    assert started <= datetime.fromisoformat(at) <= datetime.now(UTC)
    assert out["offboarded"] == {
        "user": "jane.doe",
        "at": at,
        "roles": [f"DevOps@{a}" for a in sorted(DEVOPS_ACCOUNTS)],
    }
    # What was done: the Deny on each role, her user and what hung on it; the sign-in sessions
    # could not be revoked on the emulator (no AWS Sign-In there), which is said, not hidden.
    for a in DEVOPS_ACCOUNTS:
        assert f"{a}/role_inline_policy.DevOps/{OFFBOARDED_POLICY_NAME}" in out["applied"]
    assert "security/user.jane.doe" in out["applied"]
    # (the user's deletion removes her key, password, MFA device and membership first: checked below)
    assert "spec: removed users.jane.doe and their grants" in out["actions"]
    assert any(
        line.startswith("could not revoke the sign-in sessions of jane.doe: AWS Sign-In sends ListSessions")
        and "not sent" in line
        for line in out["actions"]
    ), out["actions"]
    assert out["sign_in_sessions"]["revoked"] == [] and "not sent" in out["sign_in_sessions"]["error"]
    assert out["verified"] and out["ok"]

    for a in DEVOPS_ACCOUNTS:
        doc = layer.iam(a).get_role_policy(RoleName="DevOps", PolicyName=OFFBOARDED_POLICY_NAME)[
            "PolicyDocument"
        ]
        assert normalize(doc) == session_deny("jane.doe", at)
    for a in ("management", "security"):  # Auditor only, which she could not assume
        assert layer.iam(a).list_role_policies(RoleName="Auditor")["PolicyNames"] == []
    with pytest.raises(ClientError) as gone:
        people.get_user(UserName="jane.doe")
    assert gone.value.response["Error"]["Code"] == "NoSuchEntity"
    assert [
        d for d in people.list_virtual_mfa_devices()["VirtualMFADevices"] if "jane.doe" in d["SerialNumber"]
    ] == []
    assert people.get_group(GroupName="devops")["Users"] == []

    spec = load_spec(layer.spec)
    assert "jane.doe" not in spec.users
    [entry] = spec.offboarded
    assert entry.user == "jane.doe" and entry.at_text == at

    # What AWS decides on what the emulator holds (it enforces nothing itself): a session she held,
    # issued before the offboarding, is denied in every role she reached; a new hire's is not.
    model = read_live_model(spec, accounts=list(DEVOPS_ACCOUNTS), profile=None, stats=ApiStats())
    issued_at = datetime.fromisoformat(at)
    now = issued_at + timedelta(minutes=10)
    for a in DEVOPS_ACCOUNTS:
        role = model.role("DevOps", a)
        assert role is not None
        held = session_can(
            model, role, "jane.doe", issued_at - timedelta(minutes=5), "ec2:RunInstances", "*", now=now
        )
        assert not held.allowed and held.certain, held.explain()
        hired = session_can(
            model, role, "jane.doe", issued_at + timedelta(minutes=5), "ec2:RunInstances", "*", now=now
        )
        assert hired.allowed and hired.certain, hired.explain()
    assert out["roles_without_named_sessions"] == []

    # The roles' trust names sessions after their person.
    trust = layer.iam("apps-prd").get_role(RoleName="DevOps")["Role"]["AssumeRolePolicyDocument"]
    assert normalize(trust)["Statement"][0]["Condition"]["StringEquals"] == {
        "sts:RoleSessionName": ["${aws:username}"]
    }

    r = run_cli("plan", "--json", cwd=layer.root, env=aws_env)
    assert r.code == 0 and not [c for a in r.json()["accounts"] for c in a["changes"]], r.out + r.err

    # Later: every session she held has ended (DevOps: 3600 s). The plan removes the statements.
    earlier = (datetime.fromisoformat(at) - timedelta(seconds=3601)).strftime("%Y-%m-%dT%H:%M:%SZ")
    layer.edit(at, earlier)
    r = run_cli("validate", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.err
    assert "the plan removes its Deny" in " ".join(r.err.split())
    r = run_cli("plan", "--json", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.err
    changes = [(c["action"], c["address"]) for a in r.json()["accounts"] for c in a["changes"]]
    assert sorted(changes) == sorted(
        ("delete", f"{a}/role_inline_policy.DevOps/{OFFBOARDED_POLICY_NAME}") for a in DEVOPS_ACCOUNTS
    ), changes
    apply_now(layer)
    for a in DEVOPS_ACCOUNTS:
        assert layer.iam(a).list_role_policies(RoleName="DevOps")["PolicyNames"] == []


def test_an_unconfirmed_offboarding_and_one_of_a_user_iamlayer_does_not_own_write_nothing(
    layer: Layer, aws_env: dict[str, str]
) -> None:
    apply_now(layer)
    before = layer.spec.read_text()
    # Not confirmed (no terminal, no --yes): the spec goes back as it was, nothing is applied.
    r = run_cli("offboard", "jane.doe", cwd=layer.root, env=aws_env)
    assert r.code == 1, r.out + r.err
    assert "Not applying: no terminal to confirm on" in " ".join(r.err.split())
    assert "jane.doe could reach:" in r.out and "apps-prd: role DevOps" in r.out
    assert layer.spec.read_text() == before
    assert layer.iam("apps-prd").list_role_policies(RoleName="DevOps")["PolicyNames"] == []

    layer.iam("security").untag_user(UserName="jane.doe", TagKeys=["iamlayer:project"])
    r = run_cli("offboard", "jane.doe", "--yes", "--json", cwd=layer.root, env=aws_env)
    assert r.code == 2, r.out + r.err
    assert "is not owned by iamlayer project 'acme'" in " ".join(r.err.split())
    assert layer.spec.read_text() == before
    assert layer.iam("security").get_user(UserName="jane.doe")["User"]["UserName"] == "jane.doe"
    assert layer.iam("apps-prd").list_role_policies(RoleName="DevOps")["PolicyNames"] == []


@pytest.fixture
def ic_layer(tmp_path: Path, aws_env: dict[str, str], gpg_keys: Keys) -> Layer:
    return light_ic_layer(tmp_path, gpg_keys)


@pytest.mark.proof  # a long walk: make proof (make test keeps under 5 minutes)
def test_an_identity_center_person_is_removed_and_her_permission_sets_deny_her_sessions(
    ic_layer: Layer, aws_env: dict[str, str]
) -> None:
    """jane.doe is an Identity Center user only, in group devops (DevOps, PT4H, in three accounts):
    her user goes, and the permission set's one inline policy gets the Deny beside its own
    statement until every session she held has ended (4 h)."""
    apply_now(ic_layer)
    sso = Sso(ic_layer)
    assert "jane.doe" in sso.users()
    r = run_cli("offboard", "jane.doe", "--yes", "--json", cwd=ic_layer.root, env=aws_env)
    assert r.code == 0, r.out + r.err
    out = r.json()
    assert {(x["account"], x["kind"], x["name"], tuple(x["via"])) for x in out["reach"]} == {
        (a, "permission_set", "DevOps", ("assignment to group devops",))
        for a in ("management", "shared", "apps-prd")
    }
    at = out["at"]
    assert out["offboarded"] == {"user": "jane.doe", "at": at, "roles": [], "permission_sets": ["DevOps"]}
    assert out["identity_center_user_removed"] and out["verified"] and out["ok"]
    assert "no IAM user" in out["sign_in_sessions"]["error"]
    assert "jane.doe" not in sso.users() and "john.roe" in sso.users()
    ps = sso.permission_sets()["DevOps"]
    inline = json.loads(
        sso.admin.get_inline_policy_for_permission_set(InstanceArn=sso.arn, PermissionSetArn=ps)[
            "InlinePolicy"
        ]
    )
    statements = normalize(inline)["Statement"]
    assert [s.get("Sid") for s in statements] == [None, "Offboardedjanedoe"]
    assert statements[1] == session_deny("jane.doe", at)["Statement"][0]
    readonly = sso.permission_sets()["ReadOnly"]
    assert (
        sso.admin.get_inline_policy_for_permission_set(InstanceArn=sso.arn, PermissionSetArn=readonly)[
            "InlinePolicy"
        ]
        == ""
    )
    r = run_cli("plan", "--json", cwd=ic_layer.root, env=aws_env)
    assert r.code == 0 and not [c for a in r.json()["accounts"] for c in a["changes"]], r.out + r.err

    # Later than PT4H after `at`: the plan takes the statement out again (and re-provisions).
    ic_layer.edit(
        at, (datetime.fromisoformat(at) - timedelta(hours=4, seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    r = run_cli("plan", "--json", cwd=ic_layer.root, env=aws_env)
    assert r.code == 0, r.err
    changed = [(c["action"], c["address"]) for a in r.json()["accounts"] for c in a["changes"]]
    assert ("update", "management/permission_set.DevOps") in changed, changed
    apply_now(ic_layer)
    inline = json.loads(
        sso.admin.get_inline_policy_for_permission_set(InstanceArn=sso.arn, PermissionSetArn=ps)[
            "InlinePolicy"
        ]
    )
    assert [s.get("Sid") for s in normalize(inline)["Statement"]] == [None]

"""`iamlayer access --live` against the emulator: the DESIGN.md example applied into fresh
accounts, then changed behind iamlayer's back, so that only a live read can know the answer.

The emulator enforces no policy (it would let jane assume DevOps without MFA); what is tested
here is that the live state is read in bulk, that AWS-managed documents are fetched once per
distinct ARN, and that the evaluator then answers from what is in AWS rather than the spec.
"""

from __future__ import annotations

import json

from layer import Layer, all_users, run_cli

REPORTS = "arn:aws:s3:::acme-reports/q1.csv"
VIEW_ONLY = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
PER_USER_OPERATIONS = {
    "GetUser",
    "ListGroupsForUser",
    "ListAttachedUserPolicies",
    "ListUserPolicies",
    "GetLoginProfile",
}


def test_access_live_reads_what_aws_holds(layer: Layer, aws_env: dict[str, str]) -> None:
    r = run_cli("apply", "--auto-approve", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.err

    # As applied, live and offline agree; reading costs a few bulk calls and no managed policy.
    r = run_cli(
        "access", "can", "jane.doe", "sts:AssumeRole", "role/DevOps@apps-prd", "--mfa", "--live", "--json",
        cwd=layer.root, env=aws_env,
    )  # fmt: skip
    assert r.code == 0, r.err
    data = r.json()
    assert (data["decision"], data["source"], data["certain"]) == ("allow", "live", True)
    assert data["resource"] == f"arn:aws:iam::{layer.ids['apps-prd']}:role/DevOps"
    ops = data["stats"]["by_operation"]
    assert ops["GetAccountAuthorizationDetails"] == 2  # the people account and apps-prd only
    assert "GetPolicy" not in ops and not PER_USER_OPERATIONS & set(ops)

    # Behind iamlayer's back: jane joins finops (AWS-managed ViewOnlyAccess) and DevOps in
    # apps-prd stops asking for a recent MFA sign-in.
    security = layer.iam("security")
    security.add_user_to_group(GroupName="finops", UserName="jane.doe")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{layer.ids['security']}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            }
        ],
    }
    layer.iam("apps-prd").update_assume_role_policy(RoleName="DevOps", PolicyDocument=json.dumps(trust))

    offline = run_cli(
        "access", "can", "jane.doe", "s3:GetObject", REPORTS, "--mfa", "--json", cwd=layer.root, env=aws_env
    )
    assert offline.code == 3 and offline.json()["decision"] == "deny"  # the spec keeps her out of finops
    # An S3 ARN does not name the bucket's account: without it the answer is uncertain (issue 22).
    r = run_cli(
        "access", "can", "jane.doe", "s3:GetObject", REPORTS, "--mfa", "--live", "--json",
        cwd=layer.root, env=aws_env,
    )  # fmt: skip
    assert r.code == 4 and r.json()["unknown_context_keys"] == ["aws:ResourceAccount"], r.out + r.err
    r = run_cli(
        "access", "can", "jane.doe", "s3:GetObject", REPORTS, "--mfa", "--live", "--json", "--stats",
        "--context", f"aws:ResourceAccount={layer.ids['security']}",
        cwd=layer.root, env=aws_env,
    )  # fmt: skip
    assert r.code == 0, r.out + r.err
    data = r.json()
    assert data["decision"] == "allow" and data["certain"] is True  # ViewOnlyAccess was read from AWS
    assert [s["policy"] for s in data["deciding_statements"]] == ["group finops / inline reports"]
    ops = data["stats"]["by_operation"]
    assert (ops["GetPolicy"], ops["GetPolicyVersion"]) == (1, 1)  # one distinct AWS-managed ARN
    assert not PER_USER_OPERATIONS & set(ops)

    r = run_cli(
        "access", "who-can-assume", "DevOps", "--account", "apps-prd", "--live", "--json",
        cwd=layer.root, env=aws_env,
    )  # fmt: skip
    assert r.code == 0, r.err
    data = r.json()
    jane = next(u for u in data["users"] if u["name"] == "jane.doe")
    # still MFA (her self-management policy and the trust policy say so), but no age limit now
    assert (jane["requires_mfa"], jane["max_mfa_age"], jane["certain"]) == (True, None, True)
    assert sorted(jane["groups"]) == ["devops", "finops"]
    assert data["source"] == "live" and data["stats"]["by_operation"]["GetPolicy"] == 1

    offline = run_cli(
        "access", "who-can-assume", "DevOps", "--account", "apps-prd", "--json", cwd=layer.root, env=aws_env
    )
    assert next(u for u in offline.json()["users"] if u["name"] == "jane.doe")["max_mfa_age"] == 43199

    # Names are checked against the live account too.
    r = run_cli("access", "can", "jane.do", "iam:GetUser", "*", "--live", cwd=layer.root, env=aws_env)
    assert r.code == 2 and "did you mean 'jane.doe'?" in r.err


def test_plan_reads_the_aws_managed_policies_a_check_depends_on(
    layer: Layer, aws_env: dict[str, str]
) -> None:
    """Offline, a check on finops depends on ViewOnlyAccess; plan reads it (one GetPolicy and one
    GetPolicyVersion) and decides the check before planning; a check that then fails stops plan
    and apply with exit 2, and nothing is written."""
    spec = layer.spec.read_text()
    holds = "checks:\n  - {who: group/finops, can: ec2:DescribeInstances, on: '*', mfa: true}\n"
    layer.write(spec + holds)
    r = run_cli("validate", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.err
    assert f"cannot be decided offline: it depends on {VIEW_ONLY}" in " ".join(r.err.split())
    r = run_cli("plan", "--json", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.err
    ops = r.json()["stats"]["by_operation"]
    assert (ops["GetPolicy"], ops["GetPolicyVersion"]) == (1, 1)

    fails = "checks:\n  - {who: group/finops, cannot: ec2:DescribeInstances, on: '*', mfa: true}\n"
    layer.write(spec + fails)
    for command in (["plan"], ["apply", "--auto-approve"]):
        r = run_cli(*command, cwd=layer.root, env=aws_env)
        assert r.code == 2, r.out + r.err
        err = " ".join(r.err.split())
        assert (
            "error: checks[0]: check {who: group/finops, cannot: ec2:DescribeInstances, on: *, mfa: true} does not hold"
            in err
        )
        assert f"allowed by group finops / managed {VIEW_ONLY}, statement" in err
    assert list(all_users(layer.iam("security"))) == []  # nothing was applied

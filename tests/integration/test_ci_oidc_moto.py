"""CI identities with OIDC (`ci:`, issue 20 item 5) on the emulator, with the 5-account layer:
apply makes each provider and its plan and apply roles with exact-sub trust and the operator
policies inline; a second plan is a no-op; `access who-can-assume --live` lists the web
identity; `audit` FAILs a hand-made role that trusts the provider without `sub`. The emulator
enforces no IAM policy, so what STS would decide on the live trust is asked of iamlayer's
evaluator: the exact `sub` may assume the apply role, another repository's or branch's may not.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from iamlayer.access.context import Caller, CallerKind, RequestContext
from iamlayer.access.evaluate import PolicySource, Request, evaluate
from iamlayer.access.policy import compile_policy
from iamlayer.api import operator_policy
from iamlayer.plan.ci import OPERATOR_POLICY_NAME, ci_trust
from iamlayer.spec.load import load_spec
from iamlayer.state.model import OWNER_TAG
from iamlayer.state.normalize import normalize
from layer import Layer, apply_now, run_cli

CI = """
ci:
  github: {repository: acme/infrastructure, account: management,
           plan: {pull_requests: true}, apply: {environment: production}}
  gitlab: {project: acme/infrastructure, apply: {branch: main}}
"""
GITHUB = "token.actions.githubusercontent.com"
APPLY_SUB = "repo:acme/infrastructure:environment:production"


def _provider(iam: Any, account_id: str, host: str) -> dict[str, Any]:
    arn = f"arn:aws:iam::{account_id}:oidc-provider/{host}"
    listed = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    assert arn in listed, listed
    got: dict[str, Any] = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    return got


def _may_assume(trust: dict[str, Any], role_arn: str, provider_arn: str, sub: str, aud: str) -> bool:
    caller = Caller(CallerKind.FEDERATED, provider_arn)
    ctx = RequestContext({f"{GITHUB}:sub": sub, f"{GITHUB}:aud": aud})
    decision = evaluate(
        Request(caller, "sts:AssumeRoleWithWebIdentity", role_arn, ctx),
        [],
        resource_policy=PolicySource("trust", role_arn, compile_policy(trust)),
        resource_account=role_arn.split(":")[4],
    )
    return decision.allowed


@pytest.mark.proof  # a long walk: make proof (make test keeps under 5 minutes)
def test_ci_roles_are_applied_converge_and_are_audited(layer: Layer, aws_env: dict[str, str]) -> None:
    layer.write(layer.spec.read_text() + CI)
    apply_now(layer)
    spec = load_spec(layer.spec)
    github, gitlab = spec.ci
    mgmt, security = layer.iam("management"), layer.iam("security")

    p = _provider(mgmt, layer.ids["management"], GITHUB)
    assert p["ClientIDList"] == ["sts.amazonaws.com"]
    assert {t["Key"]: t["Value"] for t in p["Tags"]}[OWNER_TAG] == "acme"
    g = _provider(security, layer.ids["security"], "gitlab.com")  # default: the people account
    assert g["ClientIDList"] == ["https://gitlab.com"]

    reads, writes = operator_policy(spec, read_only=True), operator_policy(spec)
    for iam, account, role, sub, policy in (
        (mgmt, "management", "iamlayer-ci-github-plan", "repo:acme/infrastructure:pull_request", reads),
        (mgmt, "management", "iamlayer-ci-github-apply", APPLY_SUB, writes),
        (security, "security", "iamlayer-ci-gitlab-plan", None, reads),
        (security, "security", "iamlayer-ci-gitlab-apply", None, writes),
    ):
        live = iam.get_role(RoleName=role)["Role"]
        provider = github if "github" in role else gitlab
        subs = provider.plan_subs if role.endswith("plan") else provider.apply_subs
        assert normalize(live["AssumeRolePolicyDocument"]) == ci_trust(layer.ids[account], provider, subs)
        if sub is not None:
            assert subs == (sub,)
        inline = iam.get_role_policy(RoleName=role, PolicyName=OPERATOR_POLICY_NAME)["PolicyDocument"]
        assert normalize(inline) == normalize(policy)
    # GitLab without `plan:`: the plan role trusts what apply trusts (the main branch's drift job)
    assert (
        gitlab.plan_subs
        == gitlab.apply_subs
        == ("project_path:acme/infrastructure:ref_type:branch:ref:main",)
    )

    r = run_cli("plan", "--json", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.err
    assert [c["address"] for a in r.json()["accounts"] for c in a["changes"]] == []
    # the providers are read where `ci:` puts them only: the other accounts keep their calls
    ops = r.json()["stats"]["by_operation"]
    assert ops["ListOpenIDConnectProviders"] == 2 and ops["GetOpenIDConnectProvider"] == 2, ops

    r = run_cli(
        "access", "who-can-assume", "iamlayer-ci-github-apply", "--account", "management", "--live",
        "--json", cwd=layer.root, env=aws_env,
    )  # fmt: skip
    assert r.code == 0, r.out + r.err
    assert r.json()["web_identities"] == [
        {"provider": GITHUB, "sub": [APPLY_SUB], "aud": ["sts.amazonaws.com"], "exact": True, "missing": []}
    ]
    r = run_cli(
        "access", "who-can-assume", "iamlayer-ci-github-apply", "--account", "management",
        cwd=layer.root, env=aws_env,
    )  # fmt: skip
    assert f"web identity {GITHUB}: sub {APPLY_SUB}; aud sts.amazonaws.com" in " ".join(r.out.split())

    # What STS decides on the live trust of the apply role.
    role_arn = f"arn:aws:iam::{layer.ids['management']}:role/iamlayer-ci-github-apply"
    provider_arn = f"arn:aws:iam::{layer.ids['management']}:oidc-provider/{GITHUB}"
    trust = normalize(mgmt.get_role(RoleName="iamlayer-ci-github-apply")["Role"]["AssumeRolePolicyDocument"])
    aud = "sts.amazonaws.com"
    assert _may_assume(trust, role_arn, provider_arn, APPLY_SUB, aud)
    assert not _may_assume(trust, role_arn, provider_arn, "repo:acme/other:environment:production", aud)
    assert not _may_assume(trust, role_arn, provider_arn, "repo:acme/infrastructure:ref:refs/heads/main", aud)
    assert not _may_assume(trust, role_arn, provider_arn, "repo:acme/infrastructure:pull_request", aud)
    assert not _may_assume(trust, role_arn, provider_arn, APPLY_SUB, "https://gitlab.com")

    # A role made by hand that trusts the provider with the audience alone: audit FAILs it.
    loose = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {f"{GITHUB}:aud": aud}},
            }
        ],
    }
    mgmt.create_role(RoleName="hand-made-deployer", AssumeRolePolicyDocument=json.dumps(loose))
    r = run_cli("audit", "--account", "management", "--format", "json", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.err
    found = {f["resource"]: f for f in r.json()["findings"] if f["control"] == "oidc-trust"}
    assert found["role/hand-made-deployer"]["status"] == "FAIL"
    assert found["role/hand-made-deployer"]["evidence"]["missing"] == ["sub"]
    assert found["role/iamlayer-ci-github-apply"]["status"] == "PASS"
    assert found["role/iamlayer-ci-github-plan"]["status"] == "PASS"

    # `ci:` removed: its providers and roles go (found through the roles that trust them)
    layer.write(layer.spec.read_text().replace(CI, ""))
    apply_now(layer)
    assert mgmt.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    assert security.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    names = {r["RoleName"] for r in mgmt.list_roles()["Roles"]}
    assert "iamlayer-ci-github-apply" not in names and "hand-made-deployer" in names
    r = run_cli("plan", "--json", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.err
    assert [c["address"] for a in r.json()["accounts"] for c in a["changes"]] == []
    assert "ListOpenIDConnectProviders" not in r.json()["stats"]["by_operation"]

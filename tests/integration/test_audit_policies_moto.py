"""Audit reads and the issue-14 controls against the emulator (moto server over HTTP), each in an
account id of its own (reached by AssumeRole, as iamlayer reaches member accounts).

What moto lacks is said where it matters: iam:ListOrganizationsFeatures is not implemented (the
control says ERROR with the reason; Stubber tests in tests/unit/test_audit_reads.py cover the
answers AWS gives), and moto's account summary has no AccountPasswordPresent.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from iamlayer.audit.controls import Finding, Status, audit_permissions, run_controls
from iamlayer.audit.model import AuditInput, AuthorizationDetails, Unavailable
from iamlayer.aws.audit_reads import AwsPolicyDocuments, read_audit_input, read_root_access_features
from iamlayer.aws.session import AccountClients, ApiStats
from layer import Layer, fresh_account_ids, run_cli, session_in

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
ADMIN_DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def trust(account: str, *, mfa: bool = False) -> str:
    st: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "sts:AssumeRole",
    }
    if mfa:
        st["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    return json.dumps({"Version": "2012-10-17", "Statement": [st]})


def account(aws_env: dict[str, str]) -> tuple[str, Any, AccountClients]:
    """A fresh account: its id, a boto3 IAM client in it, and iamlayer's clients for it."""
    [acct] = fresh_account_ids(1)
    session = session_in(acct)
    return acct, session.client("iam"), AccountClients(session, "apps", ApiStats())


def read(clients: AccountClients, acct: str, cache: AwsPolicyDocuments | None = None) -> AuditInput:
    return read_audit_input(
        clients, "apps", ["us-east-1"], account_id=acct, report_wait=10, aws_policies=cache
    )


def by_resource(inp: AuditInput, control: str) -> dict[str, Finding]:
    return {f.resource: f for f in run_controls([inp], inp.read_at) if f.control == control}


def test_aws_managed_admin_on_a_role_fails_1_16_and_reads_stay_bounded(aws_env: dict[str, str]) -> None:
    acct, iam, clients = account(aws_env)
    iam.create_role(RoleName="DevOps", AssumeRolePolicyDocument=trust(acct, mfa=True))
    iam.attach_role_policy(RoleName="DevOps", PolicyArn=ADMIN)
    iam.create_group(GroupName="readers")
    iam.attach_group_policy(GroupName="readers", PolicyArn=READ_ONLY)
    for n in range(30):  # many users and attachments, still one read per distinct policy
        iam.create_user(UserName=f"u{n}")
        iam.add_user_to_group(GroupName="readers", UserName=f"u{n}")
        iam.attach_user_policy(UserName=f"u{n}", PolicyArn=READ_ONLY)
    inp = read(clients, acct)

    f = by_resource(inp, "no-full-admin-policy")["aws-policy/AdministratorAccess"]
    assert f.status is Status.FAIL and "AWS-managed" in f.detail and "role/DevOps" in f.detail
    assert f.spec_field == "roles.DevOps.policies"
    role = by_resource(inp, "admin-access-attached")["role/DevOps"]
    assert role.status is Status.FAIL and "trust policy requires MFA" in role.detail
    ops = clients.stats.by_operation("apps")
    # moto ignores MaxItems, so the paginated reads are one page each here.
    assert ops["ListPolicies"] == 1 and ops["GetPolicyVersion"] == 2  # AdministratorAccess, ReadOnlyAccess
    assert ops["GetAccountAuthorizationDetails"] == 1
    assert "ListAttachedUserPolicies" not in ops and "GetPolicy" not in ops and "ListUsers" not in ops
    # Every call the audit made is declared by some control (the operator policy covers it).
    assert set(ops) <= {p.split(":", 1)[1] for p in audit_permissions()}


def test_aws_managed_documents_are_read_once_per_audit_across_accounts(aws_env: dict[str, str]) -> None:
    cache = AwsPolicyDocuments()
    stats = ApiStats()
    inputs = []
    for _ in range(3):
        acct, iam, _clients = account(aws_env)
        iam.create_role(RoleName="Ops", AssumeRolePolicyDocument=trust(acct))
        iam.attach_role_policy(RoleName="Ops", PolicyArn=ADMIN)
        clients = AccountClients(session_in(acct), f"acct-{acct}", stats)
        inputs.append(read(clients, acct, cache))
    assert stats.by_operation()["GetPolicyVersion"] == 1 and stats.by_operation()["ListPolicies"] == 3
    assert len(cache) == 1
    for inp in inputs:
        assert (
            by_resource(inp, "no-full-admin-policy")["aws-policy/AdministratorAccess"].status is Status.FAIL
        )


def test_inline_and_unattached_admin_policies_and_trust_documents(aws_env: dict[str, str]) -> None:
    acct, iam, clients = account(aws_env)
    iam.create_role(RoleName="Builder", AssumeRolePolicyDocument=trust(acct))
    iam.put_role_policy(RoleName="Builder", PolicyName="everything", PolicyDocument=json.dumps(ADMIN_DOC))
    iam.create_policy(PolicyName="spare-admin", PolicyDocument=json.dumps(ADMIN_DOC))
    inp = read(clients, acct)
    assert isinstance(inp.authorization, AuthorizationDetails)
    [builder] = [r for r in inp.authorization.roles if r.name == "Builder"]
    assert builder.inline["everything"] == ADMIN_DOC and builder.trust is not None
    inline = by_resource(inp, "inline-admin-policy")["role/Builder/inline-policy/everything"]
    assert inline.status is Status.FAIL and inline.spec_field == "roles.Builder.inline_policies.everything"
    spare = by_resource(inp, "unattached-admin-policy")["policy/spare-admin"]
    assert spare.status is Status.FAIL
    # 1.16 counts attached policies only (CIS); the unattached one is reported by its own control.
    assert by_resource(inp, "no-full-admin-policy")["policy/spare-admin"].status is Status.PASS


def test_federation_providers_and_users_outside_the_people_account(aws_env: dict[str, str]) -> None:
    acct, iam, clients = account(aws_env)
    inp = read(clients, acct)
    [ok] = by_resource(inp, "federation").values()
    assert ok.status is Status.PASS and "no IAM users" in ok.detail
    iam.create_saml_provider(
        SAMLMetadataDocument="<EntityDescriptor>" + "x" * 1000 + "</EntityDescriptor>", Name="Okta"
    )
    iam.create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com",
        ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["a" * 40],
    )
    iam.create_user(UserName="stray")
    inp = read(clients, acct)
    stray = by_resource(inp, "federation")["user/stray"]
    assert stray.status is Status.FAIL and "SAML Okta" in stray.detail
    assert "OIDC token.actions.githubusercontent.com" in stray.detail
    ops = clients.stats.by_operation("apps")
    assert ops["ListSAMLProviders"] == 2 and ops["ListOpenIDConnectProviders"] == 2


def test_privilege_escalation_read_from_the_emulator(aws_env: dict[str, str]) -> None:
    acct, iam, clients = account(aws_env)
    esc = iam.create_policy(
        PolicyName="deploy",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["iam:PassRole", "lambda:*"], "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    iam.create_group(GroupName="deployers")
    iam.attach_group_policy(GroupName="deployers", PolicyArn=esc)
    iam.create_user(UserName="ci")
    iam.add_user_to_group(GroupName="deployers", UserName="ci")
    iam.create_user(UserName="reader")
    iam.attach_user_policy(UserName="reader", PolicyArn=READ_ONLY)
    # The admin the path reaches: a role Lambda may assume (issue 22: IL-4 asks on real targets).
    iam.create_role(
        RoleName="Worker",
        AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        ),
    )  # fmt: skip
    iam.attach_role_policy(RoleName="Worker", PolicyArn=ADMIN)
    found = by_resource(read(clients, acct), "privilege-escalation")
    assert set(found) == {"user/ci"}
    assert found["user/ci"].status is Status.FAIL and "PassRole+Lambda role/Worker" in found["user/ci"].detail
    assert "group deployers / attached deploy" in found["user/ci"].detail


def test_missing_list_organizations_features_is_an_error_with_the_reason(aws_env: dict[str, str]) -> None:
    """moto does not implement iam:ListOrganizationsFeatures: never a silent PASS."""
    acct, _iam, clients = account(aws_env)
    features = read_root_access_features(clients, "management")
    assert isinstance(features, Unavailable) and "root access features" in features.why
    inp = replace(
        read(clients, acct), root_access=features, management_account=True, organization_reader=True
    )
    [f] = by_resource(inp, "root-credentials-management").values()
    assert f.status is Status.ERROR and f.resource == "organization" and "could not check" in f.detail
    assert "root access features" in f.detail


def test_the_design_example_audited_end_to_end(layer: Layer, aws_env: dict[str, str], tmp_path: Path) -> None:
    """The README's example, applied, then audited as a person runs it: AdministratorAccess on the
    DevOps role fails 1.16 in each account it is in; IAM users live in the people account only."""
    assert run_cli("apply", "--auto-approve", cwd=layer.root).code == 0
    run = run_cli("audit", "--format", "json", cwd=layer.root)
    assert run.code == 0, run.err
    doc = run.json()
    findings = doc["findings"]

    def of(control: str, acct: str) -> list[dict[str, Any]]:
        return [f for f in findings if f["control"] == control and f["account"] == acct]

    for acct in ("shared", "apps-devstg", "apps-prd"):
        [admin] = [f for f in of("no-full-admin-policy", acct) if f["status"] == "FAIL"]
        assert admin["resource"] == "aws-policy/AdministratorAccess" and "role/DevOps" in admin["detail"]
        assert admin["control_id"] == "1.16"
    assert {f["status"] for f in of("no-full-admin-policy", "security")} == {"PASS"}
    assert {f["status"] for f in of("federation", "security")} == {"PASS"}
    for acct in ("management", "shared", "apps-devstg", "apps-prd"):
        assert {f["status"] for f in of("federation", acct)} == {"PASS"}, acct
    # iamlayer's own policies (self-management scoped to the user, assume-roles on named roles)
    # open no escalation path; the DevOps role is an admin, left to the admin controls.
    for acct in ("management", "security", "shared", "apps-devstg", "apps-prd"):
        [esc] = of("privilege-escalation", acct)
        assert esc["status"] == "PASS", esc
    assert "role/DevOps" in of("privilege-escalation", "shared")[0]["detail"]
    [org] = [f for f in of("root-credentials-management", "management") if f["resource"] == "organization"]
    assert org["status"] == "ERROR" and "root access features" in org["detail"]
    row = next(r for r in doc["controls"] if r["control_id"] == "1.16" and r["account"] == "shared")
    assert "iam_aws_attached_policy_no_administrative_privileges" in row["prowler"]
    calls = doc["api_calls"]
    assert calls["total"] > 0 and calls["by_operation"]["GetAccountAuthorizationDetails"] == 5
    # AWS-managed documents are fetched once per audit, not once per account.
    distinct = {"AdministratorAccess", "ReadOnlyAccess", "SecurityAudit", "ViewOnlyAccess"}
    assert calls["by_operation"]["GetPolicyVersion"] <= len(distinct)


def test_new_controls_render_in_html(layer: Layer, aws_env: dict[str, str]) -> None:
    out = layer.root / "audit.html"
    run = run_cli("audit", "--format", "html", "-o", str(out), "--account", "security", cwd=layer.root)
    assert run.code == 0, run.err
    html = out.read_text()
    assert "IL-1" in html and "iam_check_saml_providers_sts" in html and "AWS calls" in run.err

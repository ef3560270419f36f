"""The controls issue 14 added or corrected, on hand-built inputs: a passing state, a failing one,
ERROR on missing input. Dates matter for some of them and the emulator back-dates nothing, so
those states are built here (one from a recorded credential report).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from test_audit_controls import ACCT, NOW, ORG, ROOT_OK, good_input, key, results, row, statuses, with_report

from iamlayer.audit.controls import Status, controls_by_key, run_controls
from iamlayer.audit.model import (
    AuditInput,
    AuthorizationDetails,
    CredentialReport,
    IdentityProvider,
    LiveManagedPolicy,
    Principal,
    RootAccessFeatures,
    Unavailable,
    VirtualMfaDevice,
)
from iamlayer.audit.report import AuditReport, render_html, report_json

ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
ADMIN_DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
AWS_ADMIN = LiveManagedPolicy("AdministratorAccess", ADMIN_ARN, 1, ADMIN_DOC)
MFA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "43200"}},
        }
    ],
}


def _auth(inp: AuditInput) -> AuthorizationDetails:
    assert isinstance(inp.authorization, AuthorizationDetails)
    return inp.authorization


def with_principals(inp: AuditInput, **kinds: tuple[Principal, ...]) -> AuditInput:
    return replace(inp, authorization=replace(_auth(inp), **kinds))


def devops_role(*attached: str, inline: dict[str, object] | None = None) -> Principal:
    return Principal(
        "role",
        "DevOps",
        f"arn:aws:iam::{ACCT}:role/DevOps",
        attached=attached,
        inline=inline or {},
        trust=MFA_TRUST,
    )


# --- 1.16 ----------------------------------------------------------------------------------------


def test_1_16_reports_aws_managed_administrator_access_attached_to_a_role() -> None:
    """The README's own example: AdministratorAccess on a role. iamlayer used to say PASS here."""
    inp = with_principals(good_input(), roles=(devops_role(ADMIN_ARN),))
    inp = replace(inp, aws_managed_policies=(AWS_ADMIN,))
    [f] = results(inp, "no-full-admin-policy")
    assert f.status is Status.FAIL and f.resource == "aws-policy/AdministratorAccess"
    assert "AWS-managed policy AdministratorAccess" in f.detail and "role/DevOps" in f.detail
    assert f.spec_field == "roles.DevOps.policies" and "Detach AdministratorAccess" in f.fix
    assert "customer- or AWS-managed" in f.title


def test_1_16_names_the_kind_of_each_failing_policy_and_counts_what_passed() -> None:
    god = LiveManagedPolicy("god", f"arn:aws:iam::{ACCT}:policy/god", 1, ADMIN_DOC)
    group = Principal("group", "ops", "arn:ops", attached=(god.arn,))
    inp = with_principals(good_input(), groups=(group,), policies=(god,))
    [f] = results(inp, "no-full-admin-policy")
    assert f.status is Status.FAIL and f.resource == "policy/god"
    assert "customer-managed policy god" in f.detail and "group/ops" in f.detail
    assert f.spec_field == "policies.god.document"
    [ok] = results(good_input(), "no-full-admin-policy")
    assert ok.status is Status.PASS
    assert (
        ok.detail == 'none of the 3 attached policies (1 customer-managed, 2 AWS-managed) allows "*" on "*"'
    )


def test_1_16_without_the_aws_managed_documents_is_an_error_not_a_pass() -> None:
    inp = replace(good_input(), aws_managed_policies=Unavailable("AccessDenied: iam:GetPolicyVersion"))
    [f] = results(inp, "no-full-admin-policy")
    assert f.status is Status.ERROR and "iam:GetPolicyVersion" in f.detail
    assert "iam:ListPolicies" in f.fix


def test_1_16_counts_admin_among_other_resources_and_under_conditions() -> None:
    mixed = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": ["arn:aws:s3:::b", "*"]}]}
    conditional = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            }
        ]
    }
    a = LiveManagedPolicy("mixed", f"arn:aws:iam::{ACCT}:policy/mixed", 1, mixed)
    b = LiveManagedPolicy("cond", f"arn:aws:iam::{ACCT}:policy/cond", 1, conditional)
    inp = with_principals(good_input(), policies=(a, b))
    found = {f.resource: f for f in results(inp, "no-full-admin-policy")}
    assert found["policy/mixed"].status is Status.FAIL
    assert (
        found["policy/cond"].status is Status.FAIL and "only under a Condition" in found["policy/cond"].detail
    )


# --- evidence that says what was found ------------------------------------------------------------


def test_1_12_pass_names_never_used_credentials_with_their_age() -> None:
    fresh = with_report(
        good_input(),
        ROOT_OK,
        row("jane", pw_used_days=None, created_days=10),
        row(
            "ci",
            password=False,
            mfa=False,
            keys=(key(1, rotated_days=3, used_days=None), key(2, used_days=2)),
        ),
    )
    found = {f.resource: f for f in results(fresh, "unused-credentials")}
    assert found["user/jane"].status is Status.PASS
    assert found["user/jane"].detail == "within 45 days: password never used, set 10 days ago"
    ci = found["user/ci"]
    assert ci.status is Status.PASS and "access key 1 never used, created 3 days ago" in ci.detail
    assert "access key 2 last used 2 days ago" in ci.detail
    assert "used within" not in ci.detail


def test_1_12_credential_without_any_date_is_an_error() -> None:
    undated = replace(row("bob", pw_used_days=None), password_last_changed=None, created=None)
    [f] = results(with_report(good_input(), ROOT_OK, undated), "unused-credentials")
    assert f.status is Status.ERROR and "password" in f.detail


def test_1_6_fix_matches_what_root_has() -> None:
    [none] = results(replace(good_input(), summary={"AccountMFAEnabled": 0}), "root-hardware-mfa")
    assert none.status is Status.FAIL and "no MFA device at all" in none.detail
    assert "assign a hardware MFA device" in none.fix and "virtual" not in none.fix
    serial = f"arn:aws:iam::{ACCT}:mfa/root-account-mfa-device"
    virtual = replace(
        good_input(), virtual_mfa_devices=(VirtualMfaDevice(serial, f"arn:aws:iam::{ACCT}:root"),)
    )
    [v] = results(virtual, "root-hardware-mfa")
    assert v.status is Status.FAIL and "virtual device" in v.detail
    assert f"remove the virtual device {serial}" in v.fix


# --- 1.21 federation -------------------------------------------------------------------------------

PROVIDERS = (
    IdentityProvider("SAML", f"arn:aws:iam::{ACCT}:saml-provider/Okta"),
    IdentityProvider("OIDC", f"arn:aws:iam::{ACCT}:oidc-provider/token.actions.githubusercontent.com"),
)


def test_federation_people_account_passes_and_lists_providers() -> None:
    [f] = results(replace(good_input(), identity_providers=PROVIDERS), "federation")
    assert f.status is Status.PASS and "people account" in f.detail
    assert "SAML Okta" in f.detail and "OIDC token.actions.githubusercontent.com" in f.detail
    assert f.control_id == "1.21"


def test_federation_users_outside_the_people_account_fail_by_name() -> None:
    member = replace(good_input(), account="apps", people_account=False, identity_providers=PROVIDERS[:1])
    [f] = results(member, "federation")
    assert f.status is Status.FAIL and f.resource == "user/jane" and "SAML Okta" in f.detail
    empty = with_principals(member, users=())
    [ok] = results(empty, "federation")
    assert ok.status is Status.PASS and "through roles" in ok.detail and "SAML Okta" in ok.detail
    [err] = results(
        replace(member, identity_providers=Unavailable("AccessDenied: iam:ListSAMLProviders")), "federation"
    )
    assert err.status is Status.ERROR and "ListSAMLProviders" in err.detail


# --- admin access attached, inline, unattached -------------------------------------------------------


def test_admin_access_attached_names_principal_and_policy() -> None:
    god = LiveManagedPolicy("god", f"arn:aws:iam::{ACCT}:policy/god", 2, ADMIN_DOC)
    inp = with_principals(
        good_input(),
        users=(
            Principal("user", "jane", "arn:jane", groups=("admins",)),
            Principal("user", "bob", "arn:bob", attached=(god.arn,)),
        ),
        groups=(Principal("group", "admins", "arn:admins", attached=(ADMIN_ARN,)),),
        roles=(
            devops_role(ADMIN_ARN),
            Principal(
                "role", "AWSServiceRoleForX", "arn:slr", attached=(ADMIN_ARN,), path="/aws-service-role/x/"
            ),
        ),
        policies=(god,),
    )
    inp = replace(inp, aws_managed_policies=(AWS_ADMIN,))
    found = {f.resource: f for f in results(inp, "admin-access-attached")}
    assert set(found) == {"user/bob", "group/admins", "role/DevOps"}  # the service-linked role is skipped
    assert all(f.status is Status.FAIL for f in found.values())
    assert "customer-managed policy god" in found["user/bob"].detail and found["user/bob"].spec_field is None
    assert "AWS-managed policy AdministratorAccess" in found["group/admins"].detail
    assert "members: jane" in found["group/admins"].detail
    assert found["group/admins"].spec_field == "groups.admins.policies"
    assert "trust policy requires MFA" in found["role/DevOps"].detail
    [ok] = results(good_input(), "admin-access-attached")
    assert ok.status is Status.PASS and "3 users, groups and roles" in ok.detail


def test_admin_access_attached_policy_not_read_is_an_error() -> None:
    inp = with_principals(good_input(), roles=(devops_role("arn:aws:iam::aws:policy/Vanished"),))
    found = results(inp, "admin-access-attached")
    assert [f.status for f in found] == [Status.ERROR] and "Vanished" in found[0].detail


def test_inline_admin_policy() -> None:
    inp = with_principals(
        good_input(), roles=(devops_role(inline={"all": ADMIN_DOC, "s3": {"Statement": []}}),)
    )
    [f] = results(inp, "inline-admin-policy")
    assert f.status is Status.FAIL and f.resource == "role/DevOps/inline-policy/all"
    assert (
        f.spec_field == "roles.DevOps.inline_policies.all" and "inline policy all of role DevOps" in f.detail
    )
    [ok] = results(good_input(), "inline-admin-policy")
    assert ok.status is Status.PASS


def test_unattached_admin_policy() -> None:
    spare = LiveManagedPolicy("spare", f"arn:aws:iam::{ACCT}:policy/spare", 0, ADMIN_DOC)
    used = LiveManagedPolicy("used", f"arn:aws:iam::{ACCT}:policy/used", 1, ADMIN_DOC)
    [f] = results(with_principals(good_input(), policies=(spare, used)), "unattached-admin-policy")
    assert (
        f.status is Status.FAIL and f.resource == "policy/spare" and f.spec_field == "policies.spare.document"
    )
    [ok] = results(good_input(), "unattached-admin-policy")
    assert ok.status is Status.PASS


# --- users' hardware MFA: reported, not failed --------------------------------------------------------


def test_user_hardware_mfa_is_info_not_fail() -> None:
    virtual = VirtualMfaDevice(f"arn:aws:iam::{ACCT}:mfa/bob", f"arn:aws:iam::{ACCT}:user/bob")
    inp = replace(
        with_report(
            good_input(),
            ROOT_OK,
            row("jane"),
            row("bob"),
            row("eve", mfa=False),
            row("ci", password=False, mfa=False),
        ),
        virtual_mfa_devices=(virtual,),
    )
    found = {f.resource: f for f in results(inp, "user-hardware-mfa")}
    assert set(found) == {"user/jane", "user/bob", "user/eve"}
    assert found["user/jane"].status is Status.PASS
    assert found["user/bob"].status is Status.INFO and virtual.serial in found["user/bob"].detail
    assert found["user/eve"].status is Status.INFO and "without any MFA" in found["user/eve"].detail
    assert virtual.serial in found["user/bob"].fix  # reported with how to fix it
    assert "virtual" not in found["user/eve"].fix  # nothing virtual to remove there
    report = AuditReport.build(
        [inp], [f for f in run_controls([inp], NOW) if f.control == "user-hardware-mfa"], "cis-4.0", NOW
    )
    assert not report.failed and report.counts()["INFO"] == 2
    assert report_json(report)["totals"]["INFO"] == 2
    assert 'class="INFO"' in render_html(report)


# --- root access management across the organization -----------------------------------------------

# A member account's credential report as AWS returns it (root row first; dates as AWS writes them).
RECORDED_MEMBER_REPORT = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,"
    "cert_2_active,cert_2_last_rotated\n"
    "<root_account>,arn:aws:iam::444444444444:root,2019-03-04T10:11:12+00:00,not_supported,"
    "2024-01-20T08:00:00+00:00,not_supported,not_supported,true,true,2019-03-05T10:00:00+00:00,"
    "2024-11-02T09:15:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,true,2019-03-05T10:00:00+00:00,false,N/A\n"
    "deploy,arn:aws:iam::444444444444:user/deploy,2024-02-01T00:00:00+00:00,false,N/A,N/A,N/A,false,"
    "true,2024-02-01T00:05:00+00:00,2025-05-31T23:45:00+00:00,us-east-1,sts,false,N/A,N/A,N/A,N/A,"
    "false,N/A,false,N/A\n"
)
CLEAN_ROOT_ROW = (
    "<root_account>,arn:aws:iam::444444444444:root,2019-03-04T10:11:12+00:00,not_supported,"
    "no_information,not_supported,not_supported,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,"
    "false,N/A,false,N/A\n"
)


def member(
    report_csv: str, summary: dict[str, int] | Unavailable, features: RootAccessFeatures | Unavailable = ORG
) -> AuditInput:
    header = RECORDED_MEMBER_REPORT.split("\n", 1)[0] + "\n"
    body = report_csv if report_csv.startswith("user,") else header + report_csv
    return replace(
        good_input(),
        account="apps",
        account_id="444444444444",
        credential_report=CredentialReport.parse(body, NOW - timedelta(hours=2)),
        summary=summary,
        root_access=features,
        people_account=False,
        management_account=False,
        organization_reader=False,
    )


def test_member_root_credentials_from_a_recorded_credential_report() -> None:
    inp = member(RECORDED_MEMBER_REPORT, {"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 1})
    [f] = results(inp, "root-credentials-management")
    assert f.status is Status.FAIL and f.resource == "root"
    assert "access key 1, signing certificate 1, an MFA device" in f.detail
    assert (
        "credential report and account summary" in f.detail
        and "centralized root access is enabled" in f.detail
    )
    assert "Delete root user credentials" in f.fix and "enable-organizations" not in f.fix
    # The same report read on its own says the rest of the story right, too.
    assert statuses(inp, "root-access-keys") == {Status.FAIL}
    [usage] = results(inp, "root-usage")
    assert usage.status is Status.PASS and "2024-11-02" in usage.detail


def test_member_root_without_credentials_passes_only_when_the_password_is_known() -> None:
    clean = member(CLEAN_ROOT_ROW, {"AccountMFAEnabled": 0, "AccountPasswordPresent": 0})
    [ok] = results(clean, "root-credentials-management")
    assert ok.status is Status.PASS and "no password, access key, signing certificate or MFA" in ok.detail
    with_password = member(CLEAN_ROOT_ROW, {"AccountMFAEnabled": 0, "AccountPasswordPresent": 1})
    [f] = results(with_password, "root-credentials-management")
    assert f.status is Status.FAIL and "a password" in f.detail
    # The credential report says not_supported for root's password; without the summary nobody knows.
    unknown = member(CLEAN_ROOT_ROW, Unavailable("AccessDenied: iam:GetAccountSummary"))
    [e] = results(unknown, "root-credentials-management")
    assert e.status is Status.ERROR and "password is unknown" in e.detail
    nothing = member(CLEAN_ROOT_ROW, Unavailable("AccessDenied"))
    nothing = replace(nothing, credential_report=Unavailable("AccessDenied: iam:GetCredentialReport"))
    [e2] = results(nothing, "root-credentials-management")
    assert e2.status is Status.ERROR and "GetCredentialReport" in e2.detail


def test_member_fix_says_to_enable_centralized_root_access_first_when_it_is_off() -> None:
    off = RootAccessFeatures("o-abcdefghij", (), read_from="management")
    inp = member(RECORDED_MEMBER_REPORT, {"AccountPasswordPresent": 1}, off)
    [f] = results(inp, "root-credentials-management")
    assert f.status is Status.FAIL and "centralized root access is off" in f.detail
    assert "enable-organizations-root-credentials-management" in f.fix


def test_organization_features_on_the_account_that_read_them() -> None:
    [on] = results(good_input(), "root-credentials-management")
    assert on.status is Status.PASS and on.resource == "organization" and "RootSessions on" in on.detail
    off = RootAccessFeatures(
        "",
        why_off="trusted access for IAM is not enabled in AWS Organizations (ServiceAccessNotEnabledException)",
    )
    [f] = results(replace(good_input(), root_access=off), "root-credentials-management")
    assert f.status is Status.FAIL and "trusted access for IAM" in f.detail
    assert "enable-aws-service-access" in f.fix
    [alone] = results(
        replace(good_input(), root_access=RootAccessFeatures(None)), "root-credentials-management"
    )
    assert alone.status is Status.PASS and "not in an AWS Organization" in alone.detail
    missing = Unavailable("ListOrganizationsFeatures: the endpoint gave an unreadable answer")
    [e] = results(replace(good_input(), root_access=missing), "root-credentials-management")
    assert e.status is Status.ERROR and "unreadable answer" in e.detail and e.fix


def test_the_people_account_reads_for_the_organization_and_reports_its_own_root_too() -> None:
    """No management account in the spec: the people account (maybe the IAM delegated
    administrator) answers for the organization, and is a member account itself."""
    inp = replace(
        member(CLEAN_ROOT_ROW, {"AccountPasswordPresent": 0}),
        account="security",
        people_account=True,
        organization_reader=True,
    )
    found = {f.resource: f.status for f in results(inp, "root-credentials-management")}
    assert found == {"organization": Status.PASS, "root": Status.PASS}


def test_new_controls_have_iamlayer_ids_permissions_and_prowler_equivalents() -> None:
    c = controls_by_key()
    for k in (
        "admin-access-attached",
        "inline-admin-policy",
        "unattached-admin-policy",
        "user-hardware-mfa",
        "root-credentials-management",
    ):
        assert c[k].ids["cis-4.0"].startswith("IL-") and c[k].ids["cis-4.0"] == c[k].ids["cis-5.0"], k
        assert c[k].prowler and c[k].requires, k
    assert "iam:ListOrganizationsFeatures" in c["root-credentials-management"].requires
    assert c["federation"].prowler == ("iam_check_saml_providers_sts",)
    assert set(c["no-full-admin-policy"].prowler) == {
        "iam_aws_attached_policy_no_administrative_privileges",
        "iam_customer_attached_policy_no_administrative_privileges",
    }


def test_member_root_credentials_are_an_error_when_the_organization_setting_cannot_be_read() -> None:
    """Issue 22: whether centralized root access is on decides CIS 7.0 2.1.1 and its fix; unread, the
    control says ERROR (naming what it did find), not FAIL."""
    denied = Unavailable("AccessDenied: iam:ListOrganizationsFeatures")
    inp = member(RECORDED_MEMBER_REPORT, {"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 1}, denied)
    [e] = results(inp, "root-credentials-management")
    assert e.status is Status.ERROR and e.resource == "root"
    assert "AccessDenied: iam:ListOrganizationsFeatures" in e.detail and "access key 1" in e.detail
    assert "management account" in e.fix

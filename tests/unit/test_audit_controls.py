"""Every CIS IAM control on hand-built inputs: a passing state, a failing one, ERROR on missing input.

Root-user states (root keys, root MFA, hardware MFA, recent root use) cannot be built in the
emulator (moto's credential report has no <root_account> row and its account summary is fixed),
so this file is where they are covered.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from iamlayer.audit.controls import (
    BENCHMARKS,
    CONTROLS,
    Finding,
    Status,
    audit_operator_policy,
    audit_permissions,
    control_order,
    controls_by_key,
    has_full_admin_statement,
    run_controls,
)
from iamlayer.audit.model import (
    ROOT_ROW,
    AccessKeySlot,
    Analyzer,
    AuditInput,
    AuthorizationDetails,
    CredentialReport,
    CredentialRow,
    IcAssignment,
    IcPermissionSet,
    IdentityCenterAudit,
    LiveManagedPolicy,
    PasswordPolicyState,
    Principal,
    RootAccessFeatures,
    ServerCertificate,
    Unavailable,
    VirtualMfaDevice,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ACCT = "123456789012"
SUPPORT_ARN = "arn:aws:iam::aws:policy/AWSSupportAccess"
READ_ONLY_DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:Get*"], "Resource": "*"}],
}
SUPPORT_DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["support:*"], "Resource": "*"}],
}


def key(
    slot: int, *, active: bool = True, rotated_days: int = 10, used_days: int | None = 1
) -> AccessKeySlot:
    return AccessKeySlot(
        slot,
        active,
        NOW - timedelta(days=rotated_days),
        None if used_days is None else NOW - timedelta(days=used_days),
    )


NO_KEY = AccessKeySlot(2, False, None, None)


def row(
    user: str,
    *,
    password: bool = True,
    pw_used_days: int | None = 1,
    created_days: int = 100,
    mfa: bool = True,
    keys: tuple[AccessKeySlot, AccessKeySlot] = (AccessKeySlot(1, False, None, None), NO_KEY),
) -> CredentialRow:
    return CredentialRow(
        user=user,
        arn=f"arn:aws:iam::{ACCT}:user/{user}" if user != ROOT_ROW else f"arn:aws:iam::{ACCT}:root",
        created=NOW - timedelta(days=created_days),
        password_enabled=password,
        password_last_used=None if pw_used_days is None else NOW - timedelta(days=pw_used_days),
        password_last_changed=NOW - timedelta(days=created_days),
        mfa_active=mfa,
        keys=keys,
    )


ROOT_OK = row(ROOT_ROW, pw_used_days=30, mfa=True)


ORG = RootAccessFeatures("o-abcdefghij", ("RootCredentialsManagement", "RootSessions"), read_from="security")


def good_input() -> AuditInput:
    """An account where every control passes: the people account, which is also the management account.

    jane's MFA is hardware (active in the report, no virtual device assigned to her).
    """
    return AuditInput(
        account="security",
        account_id=ACCT,
        credential_report=CredentialReport(
            NOW - timedelta(hours=1),
            (ROOT_OK, row("jane"), row("ci", password=False, mfa=False, keys=(key(1), NO_KEY))),
        ),
        summary={"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 0, "GlobalEndpointTokenVersion": 2},
        password_policy=PasswordPolicyState(minimum_length=14, reuse_prevention=24),
        authorization=AuthorizationDetails(
            users=(Principal("user", "jane", "arn:jane", groups=("devops",)),),
            groups=(
                Principal(
                    "group", "devops", "arn:devops", attached=("arn:aws:iam::aws:policy/ReadOnlyAccess",)
                ),
            ),
            roles=(
                Principal(
                    "role", "Support", "arn:support", attached=("arn:aws:iam::aws:policy/AWSSupportAccess",)
                ),
            ),
            policies=(
                LiveManagedPolicy(
                    "billing",
                    f"arn:aws:iam::{ACCT}:policy/billing",
                    1,
                    {"Statement": [{"Effect": "Allow", "Action": "ce:Get*", "Resource": "*"}]},
                ),
            ),
        ),
        virtual_mfa_devices=(),
        server_certificates=(ServerCertificate("web", "arn:cert", NOW + timedelta(days=30)),),
        analyzers={"us-east-1": (Analyzer("default", "ACCOUNT", "ACTIVE"),)},
        aws_managed_policies=(
            LiveManagedPolicy("ReadOnlyAccess", "arn:aws:iam::aws:policy/ReadOnlyAccess", 1, READ_ONLY_DOC),
            LiveManagedPolicy("AWSSupportAccess", SUPPORT_ARN, 1, SUPPORT_DOC),
        ),
        identity_providers=(),
        root_access=ORG,
        people_account=True,
        management_account=True,
        organization_reader=True,
        # It also holds the Identity Center instance: a read-only set, to a group, for 4 hours.
        identity_center=IdentityCenterAudit(
            "arn:aws:sso:::instance/ssoins-1234567890abcdef",
            "us-east-1",
            (IcPermissionSet("ReadOnly", "arn:ps", 4 * 3600, ("arn:aws:iam::aws:policy/ReadOnlyAccess",)),),
            (IcAssignment("GROUP", "auditors", "ReadOnly", "security"),),
        ),
    )


def results(inp: AuditInput, control: str, now: datetime = NOW) -> list[Finding]:
    return controls_by_key()[control].evaluate(inp, now, "cis-4.0")


def statuses(inp: AuditInput, control: str, now: datetime = NOW) -> set[Status]:
    return {f.status for f in results(inp, control, now)}


def with_report(inp: AuditInput, *rows: CredentialRow) -> AuditInput:
    assert isinstance(inp.credential_report, CredentialReport)
    return replace(inp, credential_report=replace(inp.credential_report, rows=rows))


def test_the_good_account_passes_every_control() -> None:
    findings = run_controls([good_input()], NOW)
    bad = [f for f in findings if f.status is not Status.PASS]
    assert bad == []
    assert {f.control for f in findings} == {c.key for c in CONTROLS}


# --- numbering and declarations -------------------------------------------------------------------


def test_benchmark_numbering_moves_down_by_one_from_1_4_in_cis_5() -> None:
    ids = {c.key: (c.ids["cis-4.0"], c.ids["cis-5.0"]) for c in CONTROLS}
    assert ids["root-access-keys"] == ("1.4", "1.3")
    assert ids["root-mfa"] == ("1.5", "1.4")
    assert ids["password-length"] == ("1.8", "1.7")
    assert ids["password-reuse"] == ("1.9", "1.8")
    assert ids["console-mfa"] == ("1.10", "1.9")
    assert ids["unused-credentials"] == ("1.12", "1.11")
    assert ids["key-rotation"] == ("1.14", "1.13")
    assert ids["no-full-admin-policy"] == ("1.16", "1.15")
    assert ids["support-role"] == ("1.17", "1.16")
    assert ids["expired-server-certificates"] == ("1.19", "1.18")
    assert ids["access-analyzer"] == ("1.20", "1.19")
    f5 = run_controls([good_input()], NOW, "cis-5.0")
    assert [f.control_id for f in f5 if f.control == "password-length"] == ["1.7"]
    cis = [tuple(int(p) for p in f.control_id.split(".")) for f in f5 if not f.control_id.startswith("IL-")]
    assert cis == sorted(cis)
    ordered = [control_order(f.control_id) for f in f5]
    assert ordered == sorted(ordered)
    # iamlayer's own controls come after every CIS one, numbered IL-1, IL-2...
    own = [f.control_id for f in f5 if f.control_id.startswith("IL-")]
    assert own and f5[-1].control_id.startswith("IL-") and own[0] == "IL-1"
    assert ids["federation"] == ("1.21", "1.20")


def test_ids_are_unique_per_benchmark_and_unknown_benchmark_is_refused() -> None:
    for b in BENCHMARKS:
        ids = [c.ids[b] for c in CONTROLS]
        assert len(ids) == len(set(ids)), b
    with pytest.raises(ValueError, match=r"cis-4\.0"):
        run_controls([good_input()], NOW, "cis-9")


def test_every_control_declares_permissions_and_a_fix() -> None:
    for c in CONTROLS:
        assert c.requires and all(":" in p for p in c.requires), c.key
        assert c.fix and c.title, c.key
    perms = audit_permissions()
    assert "iam:GetAccountPasswordPolicy" in perms and "access-analyzer:ListAnalyzers" in perms
    assert audit_operator_policy()["Statement"][0]["Action"] == perms


@pytest.mark.parametrize("control", [c.key for c in CONTROLS])
def test_every_control_reports_error_with_why_when_nothing_is_readable(control: str) -> None:
    inp = AuditInput.unreachable("apps", "444444444444", "AccessDenied: iam:Get*", ("us-east-1",))
    # As the audit reads the account that holds the Identity Center instance.
    inp = replace(inp, identity_center=Unavailable("AccessDenied: iam:Get*, sso:ListInstances"))
    found = results(inp, control)
    assert found and {f.status for f in found} == {Status.ERROR}
    assert all("AccessDenied" in f.detail and f.fix for f in found)


# --- root --------------------------------------------------------------------------------------------


def test_root_access_keys() -> None:
    assert statuses(good_input(), "root-access-keys") == {Status.PASS}
    root_key = replace(ROOT_OK, keys=(key(1), NO_KEY))
    bad = with_report(good_input(), root_key)
    assert statuses(bad, "root-access-keys") == {Status.FAIL}
    # Without a root row, the account summary decides.
    no_root = with_report(good_input())
    assert statuses(no_root, "root-access-keys") == {Status.PASS}
    assert statuses(replace(no_root, summary={"AccountAccessKeysPresent": 1}), "root-access-keys") == {
        Status.FAIL
    }
    assert statuses(replace(no_root, summary=Unavailable("AccessDenied")), "root-access-keys") == {
        Status.ERROR
    }


def test_root_mfa() -> None:
    assert statuses(good_input(), "root-mfa") == {Status.PASS}
    assert statuses(with_report(good_input(), replace(ROOT_OK, mfa_active=False)), "root-mfa") == {
        Status.FAIL
    }
    no_root = with_report(good_input())
    assert statuses(replace(no_root, summary={"AccountMFAEnabled": 0}), "root-mfa") == {Status.FAIL}
    assert statuses(replace(no_root, summary=Unavailable("denied")), "root-mfa") == {Status.ERROR}


def test_root_hardware_mfa() -> None:
    assert statuses(good_input(), "root-hardware-mfa") == {Status.PASS}
    virtual = VirtualMfaDevice(
        f"arn:aws:iam::{ACCT}:mfa/root-account-mfa-device", f"arn:aws:iam::{ACCT}:root"
    )
    assert statuses(replace(good_input(), virtual_mfa_devices=(virtual,)), "root-hardware-mfa") == {
        Status.FAIL
    }
    assert statuses(replace(good_input(), summary={"AccountMFAEnabled": 0}), "root-hardware-mfa") == {
        Status.FAIL
    }
    denied = replace(good_input(), virtual_mfa_devices=Unavailable("AccessDenied"))
    assert statuses(denied, "root-hardware-mfa") == {Status.ERROR}


def test_root_usage() -> None:
    assert statuses(good_input(), "root-usage") == {Status.PASS}
    used = with_report(good_input(), replace(ROOT_OK, password_last_used=NOW - timedelta(hours=3)))
    [f] = results(used, "root-usage")
    assert f.status is Status.FAIL and "password used" in f.detail
    [f] = results(with_report(good_input()), "root-usage")
    assert f.status is Status.ERROR and "<root_account>" in f.detail


# --- password policy ------------------------------------------------------------------------------


def test_password_policy_length_and_reuse() -> None:
    assert statuses(good_input(), "password-length") == {Status.PASS}
    assert statuses(good_input(), "password-reuse") == {Status.PASS}
    weak = replace(good_input(), password_policy=PasswordPolicyState(minimum_length=8, reuse_prevention=5))
    [f] = results(weak, "password-length")
    assert f.status is Status.FAIL and f.spec_field == "password_policy.minimum_length" and "8" in f.detail
    [f] = results(weak, "password-reuse")
    assert f.status is Status.FAIL and f.spec_field == "password_policy.reuse_prevention"
    assert f.detail == "PasswordReusePrevention = 5"
    at_the_line = replace(
        good_input(), password_policy=PasswordPolicyState(minimum_length=14, reuse_prevention=24)
    )
    [f] = results(at_the_line, "password-length")
    assert (f.status, f.detail) == (Status.PASS, "MinimumPasswordLength = 14")
    [f] = results(at_the_line, "password-reuse")
    assert (f.status, f.detail) == (Status.PASS, "PasswordReusePrevention = 24")
    none = replace(good_input(), password_policy=None)
    assert statuses(none, "password-length") == {Status.FAIL}
    assert statuses(none, "password-reuse") == {Status.FAIL}
    denied = replace(good_input(), password_policy=Unavailable("AccessDenied"))
    assert statuses(denied, "password-length") == {Status.ERROR}


# --- users' credentials --------------------------------------------------------------------------


def test_console_mfa() -> None:
    bad = with_report(good_input(), ROOT_OK, row("jane", mfa=False), row("bob"))
    found = {f.resource: f.status for f in results(bad, "console-mfa")}
    assert found == {"user/jane": Status.FAIL, "user/bob": Status.PASS}
    no_console = with_report(good_input(), ROOT_OK, row("ci", password=False, mfa=False))
    [f] = results(no_console, "console-mfa")
    assert f.status is Status.PASS and "no user" in f.detail
    assert statuses(replace(good_input(), credential_report=Unavailable("x")), "console-mfa") == {
        Status.ERROR
    }


def test_no_setup_access_keys() -> None:
    bad = with_report(good_input(), row("jane", keys=(key(1, used_days=None), NO_KEY)))
    [f] = results(bad, "no-setup-access-keys")
    assert f.status is Status.FAIL and f.spec_field == "users.jane.access_key"
    used = with_report(good_input(), row("jane", keys=(key(1, used_days=2), NO_KEY)))
    assert statuses(used, "no-setup-access-keys") == {Status.PASS}


def test_unused_credentials_counts_never_used_ones_from_creation() -> None:
    assert statuses(good_input(), "unused-credentials") == {Status.PASS}
    stale_pw = with_report(good_input(), row("jane", pw_used_days=46))
    [f] = results(stale_pw, "unused-credentials")
    assert f.status is Status.FAIL and "46 days" in f.detail and f.spec_field == "users.jane.console"
    # Never used, set 50 days ago: unused (Prowler passes this one).
    never = with_report(good_input(), row("jane", pw_used_days=None, created_days=50))
    [f] = results(never, "unused-credentials")
    assert f.status is Status.FAIL and "never used" in f.detail
    # Never used, but set 10 days ago: not yet.
    fresh = with_report(good_input(), row("jane", pw_used_days=None, created_days=10))
    assert statuses(fresh, "unused-credentials") == {Status.PASS}
    old_key = with_report(
        good_input(),
        row("ci", password=False, mfa=False, keys=(key(1, rotated_days=60, used_days=None), NO_KEY)),
    )
    [f] = results(old_key, "unused-credentials")
    assert f.status is Status.FAIL and "access key 1 never used" in f.detail
    assert f.spec_field == "users.ci.access_key"


def test_one_active_key() -> None:
    two = with_report(good_input(), row("ci", password=False, keys=(key(1), key(2))))
    [f] = results(two, "one-active-key")
    assert f.status is Status.FAIL and "2 active" in f.detail
    assert statuses(good_input(), "one-active-key") == {Status.PASS}


def test_key_rotation() -> None:
    old = with_report(good_input(), row("ci", password=False, keys=(key(1, rotated_days=91), NO_KEY)))
    [f] = results(old, "key-rotation")
    assert f.status is Status.FAIL and f.resource == "user/ci/access-key-1" and "91 days" in f.detail
    inactive_old = with_report(
        good_input(), row("ci", password=False, keys=(key(1, active=False, rotated_days=300), NO_KEY))
    )
    [f] = results(inactive_old, "key-rotation")
    assert f.status is Status.PASS and "no active access key" in f.detail


# --- permissions -----------------------------------------------------------------------------------


def _auth(inp: AuditInput) -> AuthorizationDetails:
    assert isinstance(inp.authorization, AuthorizationDetails)
    return inp.authorization


def test_permissions_via_groups() -> None:
    assert statuses(good_input(), "permissions-via-groups") == {Status.PASS}
    direct = replace(
        _auth(good_input()),
        users=(
            Principal(
                "user", "jane", "arn", attached=("arn:aws:iam::aws:policy/ReadOnlyAccess",), inline={"x": {}}
            ),
        ),
    )
    [f] = results(replace(good_input(), authorization=direct), "permissions-via-groups")
    assert f.status is Status.FAIL and "inline x" in f.detail and "ReadOnlyAccess" in f.detail


def test_no_full_admin_policy() -> None:
    admin_doc = {"Statement": [{"Effect": "Allow", "Action": ["*"], "Resource": "*"}]}
    attached = replace(_auth(good_input()), policies=(LiveManagedPolicy("god", "arn:god", 2, admin_doc),))
    [f] = results(replace(good_input(), authorization=attached), "no-full-admin-policy")
    assert f.status is Status.FAIL and f.spec_field == "policies.god.document"
    unattached = replace(_auth(good_input()), policies=(LiveManagedPolicy("god", "arn:god", 0, admin_doc),))
    assert statuses(replace(good_input(), authorization=unattached), "no-full-admin-policy") == {Status.PASS}


def test_full_admin_detection_minds_not_action_and_deny() -> None:
    assert has_full_admin_statement({"Statement": {"Effect": "Allow", "Action": "*", "Resource": ["*"]}})
    assert not has_full_admin_statement(
        {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}
    )
    assert not has_full_admin_statement({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})
    assert not has_full_admin_statement(
        {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b"}]}
    )


def test_support_role() -> None:
    [f] = results(good_input(), "support-role")
    assert f.status is Status.PASS and f.resource == "role/Support"
    none = replace(_auth(good_input()), roles=())
    [f] = results(replace(good_input(), authorization=none), "support-role")
    assert f.status is Status.FAIL and f.spec_field == "roles.<role>.policies"


def test_expired_server_certificates() -> None:
    expired = (ServerCertificate("old", "arn:old", NOW - timedelta(days=1)),)
    [f] = results(replace(good_input(), server_certificates=expired), "expired-server-certificates")
    assert f.status is Status.FAIL and f.resource == "server-certificate/old"
    assert statuses(good_input(), "expired-server-certificates") == {Status.PASS}


def test_access_analyzer_per_region_with_errors() -> None:
    inp = replace(
        good_input(),
        analyzers={
            "us-east-1": (Analyzer("a", "ACCOUNT", "ACTIVE"),),
            "eu-west-1": (Analyzer("b", "ACCOUNT", "DISABLED"),),
            "eu-west-2": Unavailable("AccessDeniedException"),
        },
    )
    found = {f.resource: f.status for f in results(inp, "access-analyzer")}
    assert found == {
        "region/us-east-1": Status.PASS,
        "region/eu-west-1": Status.FAIL,
        "region/eu-west-2": Status.ERROR,
    }
    [f] = results(replace(good_input(), analyzers={}), "access-analyzer")
    assert f.status is Status.ERROR


def test_cloudshell_full_access() -> None:
    shell = replace(
        _auth(good_input()),
        groups=(
            Principal("group", "devs", "arn", attached=("arn:aws:iam::aws:policy/AWSCloudShellFullAccess",)),
        ),
    )
    [f] = results(replace(good_input(), authorization=shell), "cloudshell-full-access")
    assert f.status is Status.FAIL and f.resource == "group/devs" and f.spec_field == "groups.devs.policies"
    assert statuses(good_input(), "cloudshell-full-access") == {Status.PASS}


def test_credential_report_parsing_reads_placeholders_as_none() -> None:
    csv_text = (
        "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
        "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
        "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
        "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
        "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,"
        "cert_2_active,cert_2_last_rotated\n"
        "<root_account>,arn:aws:iam::1:root,2020-01-01T00:00:00+00:00,not_supported,2025-05-01T00:00:00+00:00,"
        "not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
        "jane,arn:aws:iam::1:user/jane,2025-01-01T00:00:00+00:00,true,no_information,"
        "2025-01-01T00:00:00+00:00,N/A,false,true,2025-01-02T00:00:00+00:00,N/A,N/A,N/A,"
        "false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
    )
    report = CredentialReport.parse(csv_text, datetime(2025, 6, 1, 11, 0))
    assert report.generated.tzinfo is not None
    assert report.root is not None and report.root.mfa_active and report.root.password_enabled
    [jane] = report.users
    assert jane.password_last_used is None and not jane.mfa_active
    assert jane.keys[0].active and jane.keys[0].last_used is None
    assert jane.keys[0].last_rotated == datetime(2025, 1, 2, tzinfo=UTC)

"""Audit reads where the emulator cannot help, with botocore Stubber: Access Analyzer and
iam:ListOrganizationsFeatures (moto lacks both), pagination of ListPolicies (moto ignores
MaxItems), AccessDenied mapped to an Unavailable input, and the bounded credential-report wait."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from iamlayer.audit.controls import Status, controls_by_key
from iamlayer.audit.model import Analyzer, AuditInput, RootAccessFeatures, Unavailable
from iamlayer.aws.audit_reads import (
    AwsPolicyDocuments,
    _read,
    brief,
    quick_client,
    read_analyzers,
    read_audit_password_policy,
    read_aws_managed_policies,
    read_credential_report,
    read_root_access_features,
)
from iamlayer.aws.session import AccountClients
from iamlayer.errors import AwsError


def test_access_analyzers_pass_and_fail(offline_clients: AccountClients) -> None:
    aa = quick_client(offline_clients, "accessanalyzer", "eu-west-1")
    arn = "arn:aws:access-analyzer:eu-west-1:123456789012:analyzer/"
    with Stubber(aa) as stub:
        stub.add_response(
            "list_analyzers",
            {
                "analyzers": [
                    {
                        "arn": arn + "a",
                        "name": "a",
                        "type": "ACCOUNT",
                        "createdAt": "2024-01-01T00:00:00Z",
                        "status": "ACTIVE",
                    }
                ]
            },
            {},
        )
        stub.add_response("list_analyzers", {"analyzers": []}, {})
        active = read_analyzers(offline_clients, "eu-west-1")
        empty = read_analyzers(offline_clients, "eu-west-1")
    assert active == (Analyzer("a", "ACCOUNT", "ACTIVE"),)
    control = controls_by_key()["access-analyzer"]
    base = AuditInput.unreachable("security", "123456789012", "n/a")
    [ok] = control.evaluate(
        AuditInput(**{**base.__dict__, "analyzers": {"eu-west-1": active}}), base.read_at, "cis-4.0"
    )
    [bad] = control.evaluate(
        AuditInput(**{**base.__dict__, "analyzers": {"eu-west-1": empty}}), base.read_at, "cis-4.0"
    )
    assert ok.status is Status.PASS and bad.status is Status.FAIL


def test_access_denied_becomes_unavailable_and_no_policy_is_none(
    offline_clients: AccountClients, iam_stub: Stubber
) -> None:
    iam_stub.add_client_error("get_account_password_policy", "AccessDenied", "User is not authorized", 403)
    iam_stub.add_client_error("get_account_password_policy", "NoSuchEntity", "no policy", 404)
    denied = _read(lambda: read_audit_password_policy(offline_clients))
    assert (
        isinstance(denied, Unavailable) and "AccessDenied" in denied.why and "password policy" in denied.why
    )
    assert read_audit_password_policy(offline_clients) is None


def test_credential_report_wait_is_bounded(offline_clients: AccountClients, iam_stub: Stubber) -> None:
    for _ in range(3):
        iam_stub.add_response("generate_credential_report", {"State": "INPROGRESS"})
    slept: list[float] = []
    with pytest.raises(AwsError, match="still INPROGRESS") as info:
        read_credential_report(offline_clients, wait=0.0, poll=0.5, sleep=slept.append)
    assert info.value.code == "ReportInProgress"
    # polled until COMPLETE, then fetched
    iam_stub.add_response("generate_credential_report", {"State": "COMPLETE"})
    iam_stub.add_response(
        "get_credential_report",
        {
            "Content": b"user,arn,user_creation_time,password_enabled,mfa_active\n",
            "ReportFormat": "text/csv",
            "GeneratedTime": "2025-06-01T10:00:00Z",
        },
    )
    report = read_credential_report(offline_clients, wait=5, poll=0.01, sleep=slept.append)
    assert report.rows == () and report.generated.isoformat() == "2025-06-01T10:00:00+00:00"


def test_a_report_being_made_is_asked_about_soon_then_less_often(
    offline_clients: AccountClients, iam_stub: Stubber
) -> None:
    """A report is usually ready within a second: the first plan after an apply waited 2 s for it
    (the audit's fixed poll), where 0.25 s do (issue 13)."""
    for state in ("STARTED", "INPROGRESS", "INPROGRESS", "INPROGRESS", "COMPLETE"):
        iam_stub.add_response("generate_credential_report", {"State": state})
    iam_stub.add_response(
        "get_credential_report",
        {"Content": b"user,arn\n", "ReportFormat": "text/csv", "GeneratedTime": "2025-06-01T10:00:00Z"},
    )
    slept: list[float] = []
    read_credential_report(offline_clients, sleep=slept.append)
    assert slept == [0.25, 0.5, 1.0, 2.0]


# --- centralized root access: moto lacks iam:ListOrganizationsFeatures ----------------------------


def test_root_access_features_enabled_off_standalone_and_denied(
    offline_clients: AccountClients, iam_stub: Stubber
) -> None:
    iam_stub.add_response(
        "list_organizations_features",
        {"OrganizationId": "o-abcdefghij", "EnabledFeatures": ["RootCredentialsManagement"]},
    )
    # The API reference spells the codes without "Exception", botocore's model with it: both count.
    iam_stub.add_client_error("list_organizations_features", "ServiceAccessNotEnabledException", "no", 400)
    iam_stub.add_client_error("list_organizations_features", "OrganizationNotInAllFeaturesMode", "no", 400)
    iam_stub.add_client_error("list_organizations_features", "OrganizationNotFoundException", "none", 400)
    iam_stub.add_client_error(
        "list_organizations_features",
        "AccountNotManagementOrDelegatedAdministratorException",
        "not here",
        400,
    )
    on = read_root_access_features(offline_clients, "management")
    assert (
        isinstance(on, RootAccessFeatures)
        and on.credentials_management
        and on.organization_id == "o-abcdefghij"
    )
    assert on.read_from == "management"
    off = read_root_access_features(offline_clients, "management")
    assert isinstance(off, RootAccessFeatures) and not off.credentials_management
    assert off.why_off is not None and "trusted access for IAM" in off.why_off
    partial_org = read_root_access_features(offline_clients, "management")
    assert isinstance(partial_org, RootAccessFeatures) and "all features" in (partial_org.why_off or "")
    alone = read_root_access_features(offline_clients, "management")
    assert isinstance(alone, RootAccessFeatures) and alone.organization_id is None
    denied = read_root_access_features(offline_clients, "security")
    assert isinstance(denied, Unavailable) and "AccountNotManagementOrDelegatedAdministrator" in denied.why
    assert offline_clients.stats.by_operation()["ListOrganizationsFeatures"] == 5


def test_attached_aws_managed_policies_page_and_share_documents(
    offline_clients: AccountClients, iam_stub: Stubber
) -> None:
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    ro = "arn:aws:iam::aws:policy/ReadOnlyAccess"

    def listed(arn: str, count: int) -> dict[str, object]:
        return {
            "PolicyName": arn.rsplit("/", 1)[-1],
            "Arn": arn,
            "DefaultVersionId": "v3",
            "AttachmentCount": count,
        }

    doc = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'
    params = {"Scope": "AWS", "OnlyAttached": True}
    # Every page is listed first, then each document not yet cached is fetched.
    iam_stub.add_response(
        "list_policies", {"Policies": [listed(admin, 2)], "IsTruncated": True, "Marker": "m"}, params
    )
    iam_stub.add_response(
        "list_policies", {"Policies": [listed(ro, 40)], "IsTruncated": False}, {**params, "Marker": "m"}
    )
    iam_stub.add_response(
        "get_policy_version",
        {"PolicyVersion": {"Document": doc, "VersionId": "v3", "IsDefaultVersion": True}},
        {"PolicyArn": admin, "VersionId": "v3"},
    )
    iam_stub.add_response(
        "get_policy_version",
        {"PolicyVersion": {"Document": "%7B%7D", "VersionId": "v3", "IsDefaultVersion": True}},
        {"PolicyArn": ro, "VersionId": "v3"},
    )
    cache = AwsPolicyDocuments()
    first = read_aws_managed_policies(offline_clients, cache)
    assert [(p.name, p.attachment_count, p.aws_managed) for p in first] == [
        ("AdministratorAccess", 2, True),
        ("ReadOnlyAccess", 40, True),
    ]
    assert first[0].document["Statement"] == [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
    # A second account with the same policies: listed again, documents from the cache.
    iam_stub.add_response("list_policies", {"Policies": [listed(admin, 1), listed(ro, 1)]}, params)
    second = read_aws_managed_policies(offline_clients, cache)
    assert [p.document for p in second] == [p.document for p in first]
    ops = offline_clients.stats.by_operation()
    assert ops["ListPolicies"] == 3 and ops["GetPolicyVersion"] == 2


def test_brief_keeps_what_was_attempted_and_drops_the_parser_noise() -> None:
    raw = (
        "listing the organization's root access features from management: the endpoint gave an unreadable "
        "answer (Unable to parse response (syntax error: line 1, column 0), invalid XML received. Further "
        "retries may succeed:\nb'<!DOCTYPE html><html><body>500</body></html>')"
    )
    assert brief(raw) == (
        "listing the organization's root access features from management: the endpoint gave an unreadable "
        "answer: the endpoint answered with an HTML error page (API not implemented?)"
    )

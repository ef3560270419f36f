"""Audit reads where the emulator cannot help, with botocore Stubber: Access Analyzer (moto lacks
it), AccessDenied mapped to an Unavailable input, and the bounded credential-report wait."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from iamlayer.audit.controls import Status, controls_by_key
from iamlayer.audit.model import Analyzer, AuditInput, Unavailable
from iamlayer.aws.audit_reads import (
    _read,
    quick_client,
    read_analyzers,
    read_credential_report,
    read_password_policy,
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
    denied = _read(lambda: read_password_policy(offline_clients))
    assert (
        isinstance(denied, Unavailable) and "AccessDenied" in denied.why and "password policy" in denied.why
    )
    assert read_password_policy(offline_clients) is None


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

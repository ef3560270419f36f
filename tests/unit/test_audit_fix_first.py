"""The audit report says what to fix first (issue 22, item 3): a first section "who is or can
become admin", severities, and repeated findings folded into one entry naming every resource."""

from __future__ import annotations

import io
from dataclasses import replace

from rich.console import Console
from test_audit_controls import NOW, good_input

from escalation_seed import ACCT, seeded_account
from iamlayer.audit.controls import Severity, Status, run_controls
from iamlayer.audit.model import AuthorizationDetails, Principal
from iamlayer.audit.report import AuditReport, render_html, render_table, report_json


def _seeded_report() -> AuditReport:
    auth, aws, _ = seeded_account()
    inp = replace(good_input(), account_id=ACCT, authorization=auth, aws_managed_policies=aws)
    return AuditReport.build([inp], run_controls([inp], NOW), "cis-4.0", NOW)


REPORT = _seeded_report()
DOC = report_json(REPORT)


def test_the_first_section_says_who_is_admin_and_how() -> None:
    rows = {r["source"]: r for r in DOC["admins"]}
    assert rows["user/admin-user"]["how"] == "direct"
    assert rows["role/AdminEc2"]["how"] == "direct"
    assert rows["user/devops"]["how"] == "assume" and rows["user/devops"]["reaches"] == "role/AdminMfa"
    dev = rows["user/dev"]
    assert dev["how"] == "escalation" and dev["certain"] and dev["reaches"] == "role/Deployer"
    assert [s["method"] for s in dev["steps"]] == ["AssumeRole", "AttachRolePolicy"]
    assert rows["user/maybe"]["certain"] is False
    assert "user/reader" not in rows and "user/attach-only" not in rows


def test_a_member_of_an_admin_group_is_admin_through_the_group() -> None:
    auth, aws, _ = seeded_account()
    member = Principal("user", "joiner", f"arn:aws:iam::{ACCT}:user/joiner", groups=("admins",))
    inp = replace(
        good_input(), account_id=ACCT, authorization=replace(auth, users=(member,)), aws_managed_policies=aws
    )
    doc = report_json(AuditReport.build([inp], run_controls([inp], NOW), "cis-4.0", NOW))
    [row] = [r for r in doc["admins"] if r["source"] == "user/joiner"]
    assert row["how"] == "group" and "group admins" in row["reaches"]


def test_findings_carry_severities_and_fix_first_folds_them_most_severe_first() -> None:
    findings = {(f["control"], f["resource"]): f for f in DOC["findings"]}
    assert findings[("privilege-escalation", "user/named-03")]["severity"] == "critical"
    assert findings[("privilege-escalation", "user/maybe")]["severity"] == "medium"
    assert findings[("privilege-escalation", "role/AdminNoMfa")]["severity"] == "high"
    assert all(f["severity"] == "none" for f in DOC["findings"] if f["status"] == "PASS")
    order = [Severity(g["severity"]).rank for g in DOC["fix_first"]]
    assert order == sorted(order) and DOC["fix_first"][0]["severity"] == "critical"
    assert all(g["status"] != "PASS" for g in DOC["fix_first"])
    assert sum(g["count"] for g in DOC["fix_first"]) == sum(
        1 for f in DOC["findings"] if f["status"] != "PASS"
    )


def test_twenty_users_with_their_own_policies_are_one_folded_finding_with_twenty_names() -> None:
    auth = good_input().authorization
    assert isinstance(auth, AuthorizationDetails)
    users = tuple(Principal("user", f"u{i:02d}", f"arn:u{i}", inline={"x": {}}) for i in range(20))
    inp = replace(good_input(), authorization=replace(auth, users=users))
    report = AuditReport.build([inp], run_controls([inp], NOW), "cis-4.0", NOW)
    assert sum(1 for f in report.findings if f.control_id == "1.15" and f.status is Status.FAIL) == 20
    [folded] = [g for g in report_json(report)["fix_first"] if g["control_id"] == "1.15"]
    assert folded["count"] == 20 and folded["severity"] == "low"
    assert [r["resource"] for r in folded["resources"]] == [f"user/u{i:02d}" for i in range(20)]


def test_the_table_and_html_open_with_who_is_admin() -> None:
    out = io.StringIO()
    render_table(REPORT, Console(file=out, width=120, highlight=False))
    text = out.getvalue()
    assert "Who is or can become admin" in text and "(critical)" in text
    assert text.index("Who is or can become admin") < text.index("(critical)")
    assert "security: user/dev" in text
    html = render_html(REPORT)
    assert (
        html.index('id="admins"')
        < html.index('id="summary"')
        < html.index('id="fix-first"')
        < html.index('id="details"')
    )

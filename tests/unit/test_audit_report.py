"""Report rendering: the documented JSON shape, escaping in HTML and in the terminal table."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import timedelta

from rich.console import Console
from test_audit_controls import NOW, good_input

from iamlayer.audit.controls import Status, run_controls
from iamlayer.audit.model import AuditInput, AuthorizationDetails, Principal
from iamlayer.audit.report import AuditReport, human_age, render_html, render_table, report_json


def _report() -> AuditReport:
    evil = "<script>alert(1)</script>"
    auth = good_input().authorization
    assert isinstance(auth, AuthorizationDetails)
    bad = replace(
        good_input(),
        account="apps",
        authorization=replace(auth, users=(Principal("user", evil, "arn", inline={"[bold]x": {}}),)),
    )
    down = AuditInput.unreachable("shared", "333333333333", "AccessDenied <b>role</b>", ("us-east-1",))
    inputs = [good_input(), bad, down]
    return AuditReport.build(inputs, run_controls(inputs, NOW), "cis-4.0", NOW)


def test_json_shape_and_credential_report_age() -> None:
    doc = report_json(_report())
    json.dumps(doc)  # serialisable
    # the documented keys, and issue 22's additions (the first section and the folded findings)
    assert set(doc) == {"benchmark", "generated_at", "totals", "accounts", "controls", "findings"} | {
        "admins",
        "admin_errors",
        "fix_first",
    }
    assert doc["admin_errors"] == [
        {"account": "shared", "error": "authorization details unavailable: AccessDenied <b>role</b>"}
    ]
    sec = doc["accounts"][0]
    assert sec["credential_report"]["age_seconds"] == 3600 and sec["credential_report"]["age"] == "1h 0m"
    assert doc["accounts"][2]["credential_report"]["error"].startswith("AccessDenied")
    assert doc["totals"]["FAIL"] == 1 and doc["totals"]["ERROR"] == len(
        [f for f in doc["findings"] if f["account"] == "shared"]
    )
    fail = next(f for f in doc["findings"] if f["status"] == "FAIL")
    assert fail["control_id"] == "1.15" and fail["spec_field"] == "groups.<group>.policies" and fail["fix"]
    row = next(r for r in doc["controls"] if r["control_id"] == "1.15" and r["account"] == "apps")
    assert (row["PASS"], row["FAIL"], row["ERROR"]) == (0, 1, 0)


def test_html_is_self_contained_and_escaped() -> None:
    html = render_html(_report())
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;role" in html
    assert "http://" not in html and "https://" not in html and "<link" not in html and "src=" not in html
    assert html.index('id="summary"') < html.index('id="controls"') < html.index('id="details"')


def test_table_escapes_markup_and_shows_failures() -> None:
    out = io.StringIO()
    render_table(_report(), Console(file=out, width=200, highlight=False))
    text = out.getvalue()
    assert "[bold]x" in text and "<script>alert(1)</script>" in text
    assert "1h 0m" in text and "FAIL" in text


def test_human_age() -> None:
    assert human_age(None) == "unavailable"
    assert human_age(int(timedelta(days=2, hours=3).total_seconds())) == "2d 3h"
    assert human_age(59) == "0m"
    assert Status.PASS.value == "PASS"


def test_the_table_folds_one_control_failing_in_many_accounts_and_fits_80_columns() -> None:
    """Issue 18 P3: the table was 863 lines at 80 columns, a row per finding in six folded columns.
    One control failing the same way in five accounts is one entry; every line fits 80 columns."""
    auth = good_input().authorization
    assert isinstance(auth, AuthorizationDetails)
    bad = replace(
        good_input(), authorization=replace(auth, users=(Principal("user", "ops", "arn", inline={"x": {}}),))
    )
    inputs = [replace(bad, account=f"account-{i}", account_id=f"10000000000{i}") for i in range(5)]
    report = AuditReport.build(inputs, run_controls(inputs, NOW), "cis-4.0", NOW)
    fails = [f for f in report.findings if f.status is Status.FAIL]
    assert len(fails) == 5 and len({(f.control_id, f.fix) for f in fails}) == 1
    out = io.StringIO()
    render_table(report, Console(file=out, width=80, highlight=False))
    lines = out.getvalue().splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert sum(1 for line in lines if line.split()[:2] == ["FAIL", fails[0].control_id]) == 1
    text = " ".join(out.getvalue().split())
    assert "user/ops in 5 accounts: account-0, account-1, account-2, account-3, account-4" in text
    assert len(lines) < 30, len(lines)


def test_an_age_aws_cannot_give_is_not_shown_in_the_table_and_kept_in_json() -> None:
    """The emulator's report says 2015: the table says "not known", the JSON keeps its figures."""
    report = _report()
    old = replace(report.accounts[0], report_generated=NOW - timedelta(days=4000))
    report = replace(report, accounts=(old, *report.accounts[1:]))
    out = io.StringIO()
    render_table(report, Console(file=out, width=120, highlight=False))
    assert "not known" in out.getvalue() and "4000d" not in out.getvalue()
    assert report_json(report)["accounts"][0]["credential_report"]["age"] == "4000d 0h"

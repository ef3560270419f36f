"""The credential report is a hint up to 4 hours old: the plan says so, and can do without it.

moto makes a fresh report on every request; AWS makes one at most every 4 hours. The report is
aged here by wrapping the real read: same rows as AWS's last report, generated 3 hours ago.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from iamlayer.apply.run import apply_plan
from iamlayer.audit.model import CredentialReport
from iamlayer.aws import read
from iamlayer.aws.session import ApiStats
from iamlayer.cli.main import cli
from iamlayer.plan.planner import credential_report_notice, make_plan
from iamlayer.spec.load import load_spec
from layer import Layer, apply_now

ONLY = ["security"]


def test_the_notice_names_the_age_once_it_is_more_than_a_few_minutes() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert credential_report_notice((now - timedelta(minutes=3)).isoformat(), 2, now) is None
    notice = credential_report_notice((now - timedelta(minutes=17)).isoformat(), 2, now) or ""
    assert notice.startswith("the credential report is 17 min old") and "for 2 user(s)" in notice
    notice = credential_report_notice((now - timedelta(hours=2, minutes=13)).isoformat(), 1, now) or ""
    assert "is 2 h 13 min old" in notice and "--refresh-credentials" in notice


def test_an_age_aws_cannot_give_is_not_told() -> None:
    """Issue 18 P3: the emulator's report says GeneratedTime 2015-02-02T20:02:02Z, which every plan
    in the sandbox told as "103790 h old". AWS answers a report at most 4 hours old right after
    GenerateCredentialReport, so an older time is not when the report was made: nothing is said."""
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert credential_report_notice("2015-02-02T20:02:02+00:00", 2, now) is None
    assert credential_report_notice((now - timedelta(hours=4, minutes=16)).isoformat(), 2, now) is None
    assert credential_report_notice((now - timedelta(hours=3, minutes=59)).isoformat(), 2, now)


def test_a_password_removed_by_hand_is_unseen_in_an_old_report_and_seen_with_refresh(
    layer: Layer, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply_now(layer, ONLY)
    spec = load_spec(layer.spec)
    real = read.read_credential_report
    before = real(_people(layer)[0])  # the report as AWS made it, with jane's password
    layer.iam("security").delete_login_profile(UserName="jane.doe")  # by hand, after it

    def three_hours_old(*args: Any, **kwargs: Any) -> CredentialReport:
        real(*args, **kwargs)
        return replace(before, generated=datetime.now(UTC) - timedelta(hours=3))

    monkeypatch.setattr(read, "read_credential_report", three_hours_old)
    plan = make_plan(spec, profile=None, only=ONLY)
    assert plan.empty  # the hint is trusted: jane still has a password, as far as the report knows
    [notice] = [n for n in plan.accounts[0].notices if "credential report" in n]
    assert notice.startswith("the credential report is 3 h 0 min old") and "for 2 user(s)" in notice

    stats = ApiStats()
    fresh = make_plan(spec, profile=None, only=ONLY, stats=stats, refresh_credentials=True)
    assert [str(c.address) for c in fresh.changes] == ["security/login_profile.jane.doe"]
    assert not any("credential report" in n for n in fresh.accounts[0].notices)
    ops = stats.by_operation()
    assert "GenerateCredentialReport" not in ops and "GetCredentialReport" not in ops
    assert ops["GetLoginProfile"] == 2 and ops["ListAccessKeys"] == 2  # one each per owned user
    assert fresh.refresh_credentials
    outcome = apply_plan(fresh, spec, profile=None, stats=ApiStats())
    assert outcome.ok and outcome.verify is not None and outcome.verify.empty


def test_a_report_row_of_a_user_since_re_created_by_hand_is_not_trusted(
    layer: Layer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """jane.doe is deleted and re-created by hand (tagged as iamlayer's, no console password) after
    AWS made the report: her row, with a password, is the old user's (its user_creation_time is
    not the new user's CreateDate). The plan reads her one by one and creates her login profile."""
    apply_now(layer, ONLY)
    spec = load_spec(layer.spec)
    real = read.read_credential_report
    before = real(_people(layer)[0])  # the report as AWS made it, with the old jane's password
    iam = layer.iam("security")
    iam.remove_user_from_group(GroupName="devops", UserName="jane.doe")
    iam.delete_login_profile(UserName="jane.doe")
    iam.delete_user(UserName="jane.doe")
    time.sleep(1.1)  # the report and CreateDate count whole seconds
    iam.create_user(UserName="jane.doe", Tags=[{"Key": "iamlayer:project", "Value": layer.project}])
    iam.add_user_to_group(GroupName="devops", UserName="jane.doe")

    def three_hours_old(*args: Any, **kwargs: Any) -> CredentialReport:
        real(*args, **kwargs)
        return replace(before, generated=datetime.now(UTC) - timedelta(hours=3))

    monkeypatch.setattr(read, "read_credential_report", three_hours_old)
    plan = make_plan(spec, profile=None, only=ONLY)
    assert [str(c.address) for c in plan.changes] == ["security/login_profile.jane.doe"]


def _people(layer: Layer) -> tuple[Any, str]:
    from iamlayer.aws.accounts import connect_accounts

    conn = connect_accounts(load_spec(layer.spec), profile=None, stats=ApiStats(), only=ONLY)["security"]
    assert conn.clients is not None
    return conn.clients, layer.ids["security"]


def test_plan_and_apply_document_the_flag() -> None:
    for command in ("plan", "apply"):
        r = CliRunner().invoke(cli, [command, "--help"])
        assert "--refresh-credentials" in r.output and "every 4 hours" in r.output

"""Assumed-role sessions as AWS has them: they expire, and they are shared by threads.

moto's AssumeRole credentials never expire and moto never answers ExpiredToken, so expiry is shown
two ways: the harness (tests/awsharness.py) answers ExpiredToken in front of the emulator (what
AWS answers past a session's end), and the clock that botocore judges expiry by is moved forward.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from awsharness import AwsHarness, Expire, Fault, Rule
from iamlayer.aws import accounts
from iamlayer.aws.accounts import connect_accounts
from iamlayer.aws.session import ApiStats
from iamlayer.plan.planner import make_plan
from iamlayer.spec.load import load_spec
from layer import Layer


def test_an_expired_token_answer_renews_the_role_session_and_resends_the_call(
    layer: Layer, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_spec(layer.spec)
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"]) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        rule = proxy.add(Rule("GetAccountAuthorizationDetails", "expired", times=1))
        stats = ApiStats()
        plan = make_plan(spec, profile=None, stats=stats)
        assert not plan.errors, [a.error for a in plan.errors]
        assert rule.hits == 1
        # one AssumeRole per account, plus one renewal for the account that met ExpiredToken
        assert proxy.seen.count("AssumeRole") == 6 and stats.by_operation()["AssumeRole"] == 6
        assert proxy.seen.count("GetAccountAuthorizationDetails") == 6


def test_a_session_still_refused_after_renewal_is_an_error_not_a_loop(
    layer: Layer, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_spec(layer.spec)
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"]) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        proxy.add(Rule("GetAccountAuthorizationDetails", "expired"))
        plan = make_plan(spec, profile=None, only=["shared"])
        [failed] = plan.errors
        assert "ExpiredToken" in (failed.error or "")
        assert proxy.seen.count("AssumeRole") == 2  # the session, and one renewal
        assert proxy.seen.count("GetAccountAuthorizationDetails") == 2  # the call, and one resend


@pytest.mark.proof  # a long walk: make proof (make test keeps under 5 minutes)
def test_sessions_that_end_seconds_apart_are_each_renewed(
    layer: Layer, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local clock is an hour slow, so botocore never renews a session in time: each end is met
    by ExpiredToken, answered by renewing and resending. Sessions here last 1.5 s (time compressed
    by the harness), so one ends seconds after the renewal before it; a renewal is owed whenever
    the refused call was signed with the session still current."""
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"], expire=Expire(after=1.0, grace=0.5)) as h:
        monkeypatch.setenv("AWS_ENDPOINT_URL", h.url)
        slow = datetime.now(UTC) - timedelta(hours=1)
        monkeypatch.setattr(accounts, "_now", lambda: slow)
        stats = ApiStats()
        conn = connect_accounts(load_spec(layer.spec), profile=None, stats=stats, only=["shared"])["shared"]
        assert conn.clients is not None
        iam = conn.clients.client("iam")
        for _ in range(3):
            time.sleep(3.0)  # past the session's end (judged by the signing time, in whole seconds)
            iam.list_roles()
        assert h.count("ListRoles", fault=Fault.EXPIRED) == 3 and h.count("ListRoles") == 6
        assert stats.by_operation()["AssumeRole"] == 1 + 3


def test_member_sessions_are_named_after_the_caller_with_a_source_identity_where_trusted(
    layer: Layer, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """CloudTrail in a member account names the operator (issue 18, item 10): the session is
    `iamlayer-<caller>` (moto's caller is user/moto) and carries SourceIdentity where the role's
    trust allows sts:SetSourceIdentity. moto checks no trust policy and accepts SourceIdentity; the
    harness answers AccessDenied as AWS does when the trust lacks it (OrganizationAccountAccessRole
    as Organizations makes it): the role is assumed without, and later sessions do not ask again."""
    spec = load_spec(layer.spec)
    others = [a for a in layer.ids if a != "shared"]
    with AwsHarness(aws_env["AWS_ENDPOINT_URL"]) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)

        def assumed() -> list[tuple[str, str, str, bool]]:
            """(account, RoleSessionName, SourceIdentity, refused) of each AssumeRole so far."""
            calls = [c for c in proxy.calls if c.action == "AssumeRole"]
            return [
                (
                    c.params["RoleArn"].split(":")[4],
                    c.params["RoleSessionName"],
                    c.params.get("SourceIdentity", ""),
                    c.faulted,
                )
                for c in calls
            ]

        conn = connect_accounts(spec, profile=None, stats=ApiStats(), only=["shared"])["shared"]
        assert conn.reach is not None
        assert conn.reach.identity.endswith(":assumed-role/OrganizationAccountAccessRole/iamlayer-moto")
        assert assumed() == [(layer.ids["shared"], "iamlayer-moto", "moto", False)]

        proxy.add(Rule("AssumeRole", "deny", contains="SourceIdentity="))
        stats = ApiStats()
        plan = make_plan(spec, profile=None, stats=stats, only=others)
        assert not plan.errors, [a.error for a in plan.errors]
        assert all(a.identity.endswith("/iamlayer-moto") for a in plan.accounts)
        tried = assumed()[1:]
        assert sorted(tried) == sorted(
            [(layer.ids[a], "iamlayer-moto", "moto", True) for a in others]
            + [(layer.ids[a], "iamlayer-moto", "", False) for a in others]
        )
        assert stats.by_operation()["AssumeRole"] == 2 * len(others)  # both attempts are counted

        make_plan(spec, profile=None, stats=ApiStats(), only=others)
        assert sorted(assumed()[1 + len(tried) :]) == sorted(
            (layer.ids[a], "iamlayer-moto", "", False) for a in others
        )


def test_role_credentials_renew_themselves_before_they_expire(
    layer: Layer, monkeypatch: pytest.MonkeyPatch
) -> None:
    stats = ApiStats()
    conn = connect_accounts(load_spec(layer.spec), profile=None, stats=stats, only=["shared"])["shared"]
    assert conn.clients is not None
    sts = conn.clients.client("sts")
    first = sts.get_caller_identity()
    key = conn.clients.session.get_credentials().get_frozen_credentials().access_key
    assert stats.by_operation()["AssumeRole"] == 1
    # 55 minutes on, the hour-long session is within botocore's mandatory renewal window
    later = datetime.now(UTC) + timedelta(minutes=55)
    monkeypatch.setattr(accounts, "_now", lambda: later)
    again = sts.get_caller_identity()
    assert stats.by_operation()["AssumeRole"] == 2
    assert conn.clients.session.get_credentials().get_frozen_credentials().access_key != key
    assert again["Arn"] == first["Arn"] and again["Arn"].endswith(
        ":assumed-role/OrganizationAccountAccessRole/iamlayer-moto"  # named after the caller, user/moto
    )


def test_clients_are_created_one_at_a_time(layer: Layer, monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3 sessions are not thread-safe; accounts are connected and read from several threads."""
    guard = threading.Lock()
    active, peak = 0, 0
    real = boto3.Session.client

    def watched(self: boto3.Session, *args: Any, **kwargs: Any) -> Any:
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)  # long enough for a second thread to arrive, if one could
        try:
            return real(self, *args, **kwargs)
        finally:
            with guard:
                active -= 1

    monkeypatch.setattr(boto3.Session, "client", watched)
    plan = make_plan(load_spec(layer.spec), profile=None)
    assert not plan.errors
    assert peak == 1


def test_every_account_session_shares_one_model_loader(layer: Layer, aws_env: dict[str, str]) -> None:
    """Each botocore session parses the IAM service model again unless it shares a loader: a
    50-account plan took 1.6 GB and seconds of parsing before its first call (issue 13)."""
    spec = load_spec(layer.spec)
    conns = connect_accounts(spec, profile=None, stats=ApiStats())
    sessions = [c.clients.session for c in conns.values() if c.clients is not None]
    assert len(sessions) == 5 and all(c.reach and c.reach.role_arn for c in conns.values())
    loaders = {id(s._session.get_component("data_loader")) for s in sessions}  # type: ignore[attr-defined]
    assert len(loaders) == 1
    # and the IAM model (service-2, paginators...) is read from disk once, whatever the accounts
    first = sessions[0].client("iam")
    files = sessions[0]._session.get_component("data_loader").file_loader  # type: ignore[attr-defined]
    read: list[str] = []
    real = files.load_file
    files.load_file = lambda path: read.append(str(path)) or real(path)
    try:
        for s in sessions[1:]:
            assert s.client("iam").meta.service_model.service_name == "iam"
    finally:
        del files.load_file
    assert [p for p in read if "/iam/" in p] == [], read
    assert first.meta.service_model.service_name == "iam"


def test_a_kept_operator_session_reaches_each_account_once(layer: Layer, aws_env: dict[str, str]) -> None:
    """An apply reaches every account for its plan, its writes and each re-read; with the
    operator's session kept (iamlayer.api does), the role is assumed and the clients made once,
    and later calls count into the later run's stats. A new session reaches them anew."""
    spec = load_spec(layer.spec)
    operator = boto3.Session(region_name=spec.region)
    before, later, fresh = ApiStats(), ApiStats(), ApiStats()
    first = connect_accounts(spec, profile=operator, stats=before)
    again = connect_accounts(spec, profile=operator, stats=later)
    assumed = sum(1 for c in first.values() if c.reach and c.reach.role_arn)
    assert assumed >= 4 and before.by_operation()["AssumeRole"] == assumed
    assert all(again[n] is first[n] for n in first) and "AssumeRole" not in later.by_operation()
    shared = again["shared"].clients
    assert shared is not None
    shared.iam().list_roles()
    assert later.by_operation()["ListRoles"] == 1 and "ListRoles" not in before.by_operation()
    connect_accounts(spec, profile=None, stats=fresh)
    assert fresh.by_operation()["AssumeRole"] == assumed

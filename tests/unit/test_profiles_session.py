"""MFA sessions and role credentials with botocore's Stubber.

The Stubber stands in for AWS here because the emulator (moto) accepts any MFA code: it cannot
answer a wrong code with AWS's real AccessDenied, and its credentials expire only in real time.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from iamlayer.aws.people import InvalidMfaCodeError
from iamlayer.errors import AccessDeniedError, CredentialsError
from iamlayer.profiles.credentials import Credentials
from iamlayer.profiles.inifile import sync_file
from iamlayer.profiles.render import Section
from iamlayer.profiles.session import (
    AwsFiles,
    SessionBroker,
    SessionCache,
    child_env,
    credential_process_output,
    locate_files,
)

SERIAL = "arn:aws:iam::222222222222:mfa/jane.doe"
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
WRONG_CODE = "MultiFactorAuthentication failed with invalid MFA one time pass code. "


def sts_creds(n: int, expires: datetime) -> dict[str, Any]:
    return {
        "AccessKeyId": f"ASIA{n:016d}",
        "SecretAccessKey": f"secret{n}",
        "SessionToken": f"token{n}",
        "Expiration": expires,
    }


class Calls:
    """A client factory handing out one stubbed STS client, recording the credentials each call used."""

    def __init__(self) -> None:
        self.client = boto3.client(
            "sts", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
        )
        self.stub = Stubber(self.client)
        self.used: list[str] = []

    def __call__(self, service: str, creds: Credentials | None, region: str | None) -> Any:
        assert service == "sts"
        self.used.append(creds.access_key_id if creds else "chain")
        return self.client


class Codes:
    def __init__(self, *codes: str) -> None:
        self.codes = list(codes)
        self.asked: list[tuple[int, str | None]] = []

    def __call__(self, serial: str, attempt: int, why: str | None) -> str:
        assert serial == SERIAL
        self.asked.append((attempt, why))
        return self.codes.pop(0)


@pytest.fixture
def files(tmp_path: Path) -> AwsFiles:
    f = AwsFiles(tmp_path / "acme" / "config", tmp_path / "acme" / "credentials")
    sync_file(
        f.credentials,
        "acme",
        [Section("acme-security", (("aws_access_key_id", "AKIAJANE"), ("aws_secret_access_key", "long")))],
    )
    config = [Section("profile acme-security", (("mfa_serial", SERIAL), ("region", "us-east-1")))]
    for acct, acct_id in (("apps-devstg", "444444444444"), ("apps-prd", "555555555555")):
        config.append(
            Section(
                f"profile acme-{acct}-devops",
                (
                    ("role_arn", f"arn:aws:iam::{acct_id}:role/DevOps"),
                    ("source_profile", "acme-security"),
                    ("mfa_serial", SERIAL),
                    ("role_session_name", "jane.doe"),
                    ("region", "us-east-1"),
                ),
            )
        )
    config.append(
        Section(
            "profile acme-shared-auditor",
            (("role_arn", "arn:aws:iam::333333333333:role/Auditor"), ("source_profile", "acme-security")),
        )
    )
    sync_file(f.config, "acme", config)
    return f


@pytest.fixture
def calls() -> Iterator[Calls]:
    c = Calls()
    with c.stub:
        yield c
    c.stub.assert_no_pending_responses()


def broker(files: AwsFiles, calls: Calls, codes: Codes, now: datetime = NOW) -> SessionBroker:
    return SessionBroker(files, factory=calls, code_provider=codes, now=lambda: now)


def expect_session(calls: Calls, code: str, n: int, expires: datetime) -> None:
    calls.stub.add_response(
        "get_session_token",
        {"Credentials": sts_creds(n, expires)},
        {"DurationSeconds": 43200, "SerialNumber": SERIAL, "TokenCode": code},
    )


def expect_assume(calls: Calls, account: str, n: int, expires: datetime, duration: int = 3600) -> None:
    calls.stub.add_response(
        "assume_role",
        {
            "Credentials": sts_creds(n, expires),
            "AssumedRoleUser": {
                "AssumedRoleId": "AROAEXAMPLE1:jane.doe",
                "Arn": f"arn:aws:sts::{account}:assumed-role/DevOps/jane.doe",
            },
        },
        {
            "RoleArn": f"arn:aws:iam::{account}:role/DevOps",
            "RoleSessionName": "jane.doe",
            "DurationSeconds": duration,
        },
    )


def test_wrong_code_is_retried_then_one_session_serves_every_role(files: AwsFiles, calls: Calls) -> None:
    for _ in range(2):
        calls.stub.add_client_error("get_session_token", "AccessDenied", WRONG_CODE, 403)
    expect_session(calls, "333333", 1, NOW + timedelta(hours=12))
    expect_assume(calls, "444444444444", 2, NOW + timedelta(hours=1))
    expect_assume(calls, "555555555555", 3, NOW + timedelta(hours=1))
    codes = Codes("111111", "222222", "333333")
    b = broker(files, calls, codes)

    p, creds = b.credentials("acme-apps-devstg-devops")
    assert creds.access_key_id == "ASIA0000000000000002" and creds.session_token == "token2"
    assert p.region == "us-east-1"
    assert [a for a, _ in codes.asked] == [1, 2, 3]
    assert codes.asked[0][1] is None and "rejected the MFA code" in str(codes.asked[1][1])
    # The role was assumed with the MFA session's credentials, not the long-term key.
    assert calls.used == ["AKIAJANE", "AKIAJANE", "AKIAJANE", "ASIA0000000000000001"]

    _, other = b.credentials("acme-apps-prd-devops")  # no code asked: Codes would raise IndexError
    assert other.session_token == "token3"
    assert calls.used[-1] == "ASIA0000000000000001"
    for f in files.cache_dir.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.cache_dir.stat().st_mode) == 0o700

    # Cached role credentials are served without any AWS call.
    n = len(calls.used)
    assert broker(files, calls, Codes()).credentials("acme-apps-prd-devops")[1] == other
    assert len(calls.used) == n


def test_three_wrong_codes_fail_clearly_and_cache_nothing(files: AwsFiles, calls: Calls) -> None:
    for _ in range(3):
        calls.stub.add_client_error("get_session_token", "AccessDenied", WRONG_CODE, 403)
    with pytest.raises(InvalidMfaCodeError, match=r"3 tries.*clock"):
        broker(files, calls, Codes("111111", "222222", "333333")).credentials("acme-apps-prd-devops")
    assert not files.cache_dir.exists() or not list(files.cache_dir.iterdir())


def test_other_access_denied_is_not_retried(files: AwsFiles, calls: Calls) -> None:
    calls.stub.add_client_error(
        "get_session_token", "AccessDenied", "User is not authorized to perform: sts:GetSessionToken", 403
    )
    codes = Codes("111111")
    with pytest.raises(AccessDeniedError) as exc:
        broker(files, calls, codes).credentials("acme-apps-prd-devops")
    assert not isinstance(exc.value, InvalidMfaCodeError) and "not authorized" in str(exc.value)
    assert len(codes.asked) == 1


def test_expiring_role_and_expired_session_are_refreshed(files: AwsFiles, calls: Calls) -> None:
    expect_session(calls, "111111", 1, NOW + timedelta(hours=12))
    expect_assume(calls, "555555555555", 2, NOW + timedelta(hours=1))
    broker(files, calls, Codes("111111")).credentials("acme-apps-prd-devops")

    # 57 minutes later the role has 3 minutes left (< 5): AssumeRole again, same MFA session.
    later = NOW + timedelta(minutes=57)
    expect_assume(calls, "555555555555", 3, later + timedelta(hours=1))
    _, creds = broker(files, calls, Codes(), now=later).credentials("acme-apps-prd-devops")
    assert creds.session_token == "token3" and calls.used[-1] == "ASIA0000000000000001"

    # 13 hours later the MFA session is over too: a new code, a new session, then the role.
    much_later = NOW + timedelta(hours=13)
    expect_session(calls, "222222", 4, much_later + timedelta(hours=12))
    expect_assume(calls, "555555555555", 5, much_later + timedelta(hours=1))
    codes = Codes("222222")
    _, creds = broker(files, calls, codes, now=much_later).credentials("acme-apps-prd-devops")
    assert creds.session_token == "token5" and len(codes.asked) == 1
    assert calls.used[-1] == "ASIA0000000000000004"


def test_session_refused_by_role_is_renewed_once(files: AwsFiles, calls: Calls) -> None:
    """A cached session older than the role's MFA age limit: AccessDenied, then a fresh session."""
    expect_session(calls, "111111", 1, NOW + timedelta(hours=12))
    expect_assume(calls, "444444444444", 2, NOW + timedelta(hours=1))
    broker(files, calls, Codes("111111")).credentials("acme-apps-devstg-devops")
    calls.stub.add_client_error(
        "assume_role", "AccessDenied", "not authorized to perform: sts:AssumeRole", 403
    )
    expect_session(calls, "222222", 3, NOW + timedelta(hours=12))
    expect_assume(calls, "555555555555", 4, NOW + timedelta(hours=1))
    codes = Codes("222222")
    _, creds = broker(files, calls, codes).credentials("acme-apps-prd-devops")
    assert creds.session_token == "token4" and len(codes.asked) == 1


def test_role_without_mfa_is_assumed_with_the_long_term_key(files: AwsFiles, calls: Calls) -> None:
    """The profile names no role_session_name: the session is named after the caller's IAM user
    (sts:GetCallerIdentity), as the layer's trust policies require."""
    calls.stub.add_response(
        "get_caller_identity",
        {"Account": "222222222222", "Arn": "arn:aws:iam::222222222222:user/jane.doe", "UserId": "AIDAJANE"},
        {},
    )
    calls.stub.add_response(
        "assume_role",
        {"Credentials": sts_creds(1, NOW + timedelta(hours=1))},
        {
            "RoleArn": "arn:aws:iam::333333333333:role/Auditor",
            "RoleSessionName": "jane.doe",
            "DurationSeconds": 3600,
        },
    )
    broker(files, calls, Codes()).credentials("acme-shared-auditor")
    assert calls.used == ["AKIAJANE", "AKIAJANE"]


def test_unknown_profile_says_did_you_mean(files: AwsFiles) -> None:
    with pytest.raises(CredentialsError, match="did you mean 'acme-apps-prd-devops'"):
        SessionBroker(files, factory=Calls(), code_provider=Codes()).credentials("acme-app-prd-devops")


def test_cache_logout_and_outputs(files: AwsFiles) -> None:
    creds = Credentials("ASIA1", "sekrit", "tok", NOW + timedelta(hours=1))
    cache = SessionCache(files.cache_dir)
    cache.save("role", "acme-apps-prd-devops", creds, {"RoleArn": "x"})
    assert cache.load("role", "acme-apps-prd-devops") == (creds, {"RoleArn": "x"})
    assert "sekrit" not in repr(creds) and "tok" not in str(creds)
    out = json.loads(credential_process_output(creds))
    assert out == {
        "Version": 1,
        "AccessKeyId": "ASIA1",
        "SecretAccessKey": "sekrit",
        "SessionToken": "tok",
        "Expiration": "2025-01-01T13:00:00Z",
    }
    env = child_env(creds, "eu-west-1", {"AWS_PROFILE": "admin", "PATH": "/bin"}, profile="p")
    assert "AWS_PROFILE" not in env and env["AWS_SESSION_TOKEN"] == "tok" and env["AWS_REGION"] == "eu-west-1"
    assert cache.clear() == 1 and cache.load("role", "acme-apps-prd-devops") is None


def test_locate_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert locate_files(tmp_path / "x").config == tmp_path / "x" / "config"
    env = {"AWS_CONFIG_FILE": str(tmp_path / "c" / "config")}
    assert locate_files(None, None, env) == AwsFiles(
        tmp_path / "c" / "config", tmp_path / "c" / "credentials"
    )
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".aws" / "acme").mkdir(parents=True)
    (tmp_path / ".aws" / "acme" / "config").write_text("")
    assert locate_files(None, "acme-apps-prd-devops", {}).cache_dir == tmp_path / ".aws" / "acme" / "cache"
    with pytest.raises(CredentialsError, match="--aws-dir"):
        locate_files(None, "other-x", {})


def test_own_profiles_are_the_key_profiles_iamlayer_wrote(tmp_path: Path) -> None:
    """What a bare `whoami` picks: the marked source profile with a key, not a hand-written one."""
    from iamlayer.profiles.session import AwsFiles, default_person_profile, own_profiles

    files = AwsFiles(tmp_path / "config", tmp_path / "credentials")
    sync_file(
        files.config,
        "acme",
        [
            Section("profile acme-security", (("region", "us-east-1"),)),
            Section(
                "profile acme-shared-devops",
                (("role_arn", "arn:aws:iam::3:role/DevOps"), ("source_profile", "acme-security")),
            ),
        ],
    )
    with files.config.open("a") as f:  # a person's own role profile, from their own key profile
        f.write(
            "[profile mine]\nregion = eu-west-1\n[profile my-role]\nrole_arn = x\nsource_profile = mine\n"
        )
    files.credentials.write_text(
        "[acme-security]\naws_access_key_id = AKIA1\naws_secret_access_key = s\n"
        "[mine]\naws_access_key_id = AKIA2\naws_secret_access_key = t\n"
    )
    assert own_profiles(files) == ["acme-security"]
    env = {"AWS_CONFIG_FILE": str(files.config), "AWS_SHARED_CREDENTIALS_FILE": str(files.credentials)}
    assert default_person_profile(None, env) == ("acme-security", files)
    files.credentials.write_text("[mine]\naws_access_key_id = AKIA2\naws_secret_access_key = t\n")
    assert own_profiles(files) == [] and default_person_profile(None, env) is None


def test_whoami_of_the_own_profile_with_a_notice(files: AwsFiles) -> None:
    """The library behind `iamlayer whoami`: the own key profile, found without being named."""
    from iamlayer.profiles.whoami import whoami

    calls = Calls()
    calls.stub.add_response(
        "get_caller_identity",
        {"Account": "222222222222", "Arn": "arn:aws:iam::222222222222:user/jane.doe", "UserId": "AIDA1"},
    )
    env = {
        "AWS_CONFIG_FILE": str(files.config),
        "AWS_SHARED_CREDENTIALS_FILE": str(files.credentials),
        "AWS_ACCESS_KEY_ID": "AKIAOTHER",
    }
    notices: list[str] = []
    with calls.stub:
        me = whoami(factory_for=lambda profile: calls, notice=notices.append, env=env)
    assert (me.profile, me.type, me.name, me.credentials) == (
        "acme-security",
        "user",
        "jane.doe",
        "long-term key",
    )
    assert me.mfa_session is False and me.as_json()["account"] == "222222222222"
    assert calls.used == ["AKIAJANE"]
    assert len(notices) == 1 and "AWS_ACCESS_KEY_ID is also set" in notices[0]


def test_whoami_falls_back_to_the_standard_chain(tmp_path: Path) -> None:
    from iamlayer.profiles.whoami import whoami

    calls = Calls()
    calls.stub.add_response(
        "get_caller_identity",
        {"Account": "111111111111", "Arn": "arn:aws:sts::111111111111:assumed-role/Ops/s", "UserId": "AROA1"},
    )
    env = {"AWS_CREDENTIAL_EXPIRATION": "2030-01-01T00:00:00Z"}
    with calls.stub:
        me = whoami(aws_dir=tmp_path, factory_for=lambda profile: calls, env=env)
    assert (me.profile, me.type, me.name, me.credentials) == (None, "assumed-role", "Ops", "standard chain")
    assert me.mfa_session is None and me.expires == "2030-01-01T00:00:00Z" and calls.used == ["chain"]

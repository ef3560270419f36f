"""botocore resolves every kind of profile `cli: login` and `cli: key` write (issue 23), against the
emulator: the `aws login` profile, its role profiles (AssumeRole with the MFA code), their
`-process` twins, and the `credential_process` profiles of `key`. (`sso` profiles:
tests/e2e/test_sso_profiles.py, through a stand-in access portal.)

The emulator has no AWS Sign-in service, and `aws login` needs a browser: the login session is a
token cache as `aws login` leaves it (botocore's own loader writes it), holding an access key the
emulator issued to the person, valid for an hour, so botocore uses it without refreshing (a refresh
is the signin:CreateOAuth2Token call the grant allows; iamlayer takes no part in it). The twin's
`aws configure export-credentials` (AWS CLI v2) is a stand-in script on PATH that answers only
the exact command AWS documents.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.credentials
import pytest
from botocore.utils import JSONFileCache, LoginTokenLoader

from iamlayer.aws.people import Identity
from iamlayer.profiles.configure import write_profiles
from iamlayer.profiles.credentials import Credentials
from iamlayer.profiles.login import write_login_profiles
from iamlayer.profiles.secret_store import KeyringStore
from iamlayer.profiles.session import AwsFiles, read_config_profiles
from iamlayer.spec.load import load_spec
from iamlayer.spec.model import Spec
from layer import fresh_account_ids


@pytest.fixture
def world(aws_env: dict[str, str], iam: Any, tmp_path: Path) -> dict[str, Any]:
    (prd,) = fresh_account_ids(1)
    user = f"kinds.{prd}"  # the emulator's default account is shared by the tests
    path = tmp_path / "iamlayer.yaml"
    path.write_text(
        "project: acme\nregion: us-east-1\n"
        f'accounts:\n  security: {{id: "123456789012"}}\n  apps-prd: {{id: "{prd}"}}\n'
        "people_account: security\nroles:\n  DevOps: {accounts: [apps-prd], mfa_max_age: 3600}\n"
        "groups:\n  devops: {assume: [DevOps], self_management: enforce_mfa, cli: login}\n"
        f"users:\n  {user}: {{groups: [devops], console: false}}\n"
    )
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return {"spec": load_spec(path, check_keys=False), "key": key, "prd": prd, "user": user}


def session(files: AwsFiles, profile: str, monkeypatch: pytest.MonkeyPatch) -> boto3.Session:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(files.config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(files.credentials))
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    return boto3.Session(profile_name=profile)


def test_login_role_and_twin_profiles_resolve(
    world: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec: Spec = world["spec"]
    key, prd, user = world["key"], world["prd"], world["user"]
    files = AwsFiles(tmp_path / "aws" / "config", tmp_path / "aws" / "credentials")
    done = write_login_profiles(spec, user, files, mfa_serial=None)
    profiles = read_config_profiles(files.config)
    serial = f"arn:aws:iam::123456789012:mfa/{user}"
    assert profiles["acme-login"]["login_session"] == f"arn:aws:iam::123456789012:user/{user}"
    role = profiles["acme-apps-prd-devops"]
    assert (
        (role["source_profile"], role["mfa_serial"])
        == ("acme-login", serial)
        == ("acme-login", done.mfa_serial)
    )
    assert not files.credentials.exists()

    # The session `aws login` would have cached (botocore's loader, botocore's file names).
    cache = tmp_path / "login-cache"
    monkeypatch.setenv("AWS_LOGIN_CACHE_DIRECTORY", str(cache))
    expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    LoginTokenLoader(JSONFileCache(str(cache))).save_token(
        profiles["acme-login"]["login_session"],
        {
            "accessToken": {
                "accessKeyId": key["AccessKeyId"],
                "secretAccessKey": key["SecretAccessKey"],
                "sessionToken": "emulator-accepts-any-token",
                "expiresAt": expires,
                "accountId": "123456789012",
            },
            "refreshToken": "unused-while-valid",
            "dpopKey": "unused-while-valid",
            "clientId": "arn:aws:signin:::devtools/same-device",
        },
    )
    # botocore asks for awscrt's EC up front, though only a refresh signs with it.
    if botocore.credentials.EC is None:
        monkeypatch.setattr(botocore.credentials, "EC", object())

    login = session(files, "acme-login", monkeypatch)
    creds = login.get_credentials()
    assert creds is not None and creds.method == "login"
    assert login.client("sts").get_caller_identity()["Arn"].endswith(f":user/{user}")

    # The role profile: botocore assumes DevOps from the login session, with the MFA code.
    s = session(files, "acme-apps-prd-devops", monkeypatch)
    asked: list[str] = []
    provider = s._session.get_component("credential_provider").get_provider("assume-role")
    provider._prompter = lambda prompt: asked.append(prompt) or "123456"
    sent: list[dict[str, Any]] = []
    s._session.register("provide-client-params.sts.AssumeRole", lambda params, **_: sent.append(dict(params)))
    ident = s.client("sts").get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{prd}:assumed-role/DevOps/{user}"
    assert asked and sent[0]["SerialNumber"] == serial and sent[0]["TokenCode"] == "123456"

    # The twin: botocore runs the bridge AWS documents, exactly.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "aws"
    wanted = ["configure", "export-credentials", "--profile", "acme-apps-prd-devops", "--format", "process"]
    answer = {"Version": 1, "AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}
    fake.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"if sys.argv[1:] != {wanted!r}:\n    sys.exit('unexpected: ' + ' '.join(sys.argv[1:]))\n"
        f"print(json.dumps({answer!r}))\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    twin = session(files, "acme-apps-prd-devops-process", monkeypatch)
    tc = twin.get_credentials()
    assert tc is not None and tc.method == "custom-process"
    assert twin.client("sts").get_caller_identity()["Arn"].endswith(f":user/{user}")


class MemoryKeyring:
    """Just enough of a keyring backend for `keyring.set_keyring` (never the machine's)."""

    priority = 1

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.data.pop((service, username), None)


def test_key_profiles_resolve_through_credential_process_not_assume_role(
    world: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring.core
    from keyring.backend import KeyringBackend

    class Ring(MemoryKeyring, KeyringBackend):
        pass

    ring = Ring()
    # keyring.set_keyring for this test only: later tests in this process get the fail backend again.
    monkeypatch.setattr(keyring.core, "_keyring_backend", ring)
    spec: Spec = world["spec"]
    user = world["user"]
    key = Credentials(world["key"]["AccessKeyId"], world["key"]["SecretAccessKey"])
    files = AwsFiles(tmp_path / "aws" / "config", tmp_path / "aws" / "credentials")
    # The command line stands in for `iamlayer credential-process --aws-dir ...`: it answers for the
    # profile botocore names, with the key iamlayer put in the keyring.
    script = tmp_path / "cp.py"
    script.write_text(
        "import json, sys\n"
        f"print(json.dumps({{'Version': 1, 'AccessKeyId': {key.access_key_id!r}, "
        f"'SecretAccessKey': {key.secret_access_key!r}, 'Profile': sys.argv[1]}}))\n"
    )
    store = KeyringStore("iamlayer:test")
    write_profiles(
        spec,
        user,
        key,
        files,
        mfa_serial="arn:aws:iam::123456789012:mfa/x",
        identity=Identity("123456789012", f"arn:aws:iam::123456789012:user/{user}", "AIDA"),
        store=store,
        command=f"{sys.executable} {script}",
    )
    assert not files.credentials.exists()
    assert json.loads(ring.data[("iamlayer:test", "access-key--acme-security")])["SecretAccessKey"] == (
        key.secret_access_key
    )
    for profile in ("acme-security", "acme-apps-prd-devops"):
        s = session(files, profile, monkeypatch)
        creds = s.get_credentials()
        assert creds is not None and creds.method == "custom-process", profile
        assert s.client("sts").get_caller_identity()["Arn"].endswith(f":user/{user}")


def test_configure_and_onboard_follow_the_spec_cli_login_with_no_key_and_no_aws_call(
    world: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from iamlayer.cli.people import commands

    cmds = {c.name: c for c in commands()}
    spec: Spec = world["spec"]
    user = world["user"]
    aws_dir = tmp_path / "a"
    # A plaintext key written before: choosing login removes it (no key is needed any more).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", world["key"]["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", world["key"]["SecretAccessKey"])
    args = ["-f", str(spec.path), "--user", user, "--aws-dir", str(aws_dir)]
    r = CliRunner().invoke(cmds["credentials"], ["configure", *args, "--cli", "key", "--plaintext"])
    assert r.exit_code == 0, r.output
    assert world["key"]["SecretAccessKey"] in (aws_dir / "credentials").read_text()
    # No AWS call from here on: an unreachable endpoint would fail any.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    r = CliRunner().invoke(cmds["credentials"], ["configure", *args, "--json"])  # the spec says login
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["cli"] == "login" and doc["login_profile"] == "acme-login"
    assert [(p["profile"], p["process_profile"]) for p in doc["profiles"]] == [
        ("acme-apps-prd-devops", "acme-apps-prd-devops-process")
    ]
    assert doc["next"] == ["aws login --profile acme-login"]
    for f in aws_dir.rglob("*"):
        if f.is_file():
            assert world["key"]["SecretAccessKey"].encode() not in f.read_bytes(), f
    before = (aws_dir / "config").read_bytes()
    r = CliRunner().invoke(cmds["onboard"], [*args, "--json"])  # nothing to decrypt, same profiles
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["files"]["config"]["changed"] is False
    assert (aws_dir / "config").read_bytes() == before

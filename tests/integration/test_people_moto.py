"""The people's side against the emulator (moto server over HTTP): enrol MFA, configure, get role credentials.

moto accepts any MFA code, so codes here come from the real seed (pyotp) for realism only; code
rejection and expiry are covered with the Stubber in tests/unit/test_profiles_session.py.
"""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pyotp
import pytest

from iamlayer.aws.people import ClientFactory, caller_identity, make_client_factory
from iamlayer.errors import CredentialsError
from iamlayer.profiles.configure import configure, read_access_key_csv
from iamlayer.profiles.credentials import Credentials
from iamlayer.profiles.mfa import enrol
from iamlayer.profiles.session import AwsFiles, SessionBroker, read_config_profiles
from iamlayer.sandbox.emulator import Emulator
from iamlayer.spec.model import Account, Group, Role, Spec, User

OWN_EMULATOR = "the default account is the people account, reset per test"

PEOPLE = "123456789012"  # moto's default account acts as the people account
DEVSTG, PRD = "444444444444", "555555555555"


def people_spec(tmp: Path) -> Spec:
    accounts = {
        "security": Account("security", PEOPLE, None, None),
        "apps-devstg": Account("apps-devstg", DEVSTG, None, None),
        "apps-prd": Account("apps-prd", PRD, None, None),
    }
    return Spec(
        path=tmp / "iamlayer.yaml",
        project="acme",
        project_long="acme-corp",
        region="us-east-1",
        accounts=accounts,
        people_account="security",
        management_account=None,
        roles={"DevOps": Role("DevOps", ("apps-devstg", "apps-prd"), "security", mfa_max_age=43200)},
        groups={"devops": Group("devops", assume=("DevOps",))},
        users={"jane.doe": User("jane.doe", groups=("devops",))},
    )


def create_role(account: str) -> None:
    """Create DevOps in a member account through OrganizationAccountAccessRole (moto allows it)."""
    c = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="setup"
    )["Credentials"]
    iam = boto3.client(
        "iam",
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{PEOPLE}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            }
        ],
    }
    iam.create_role(RoleName="DevOps", AssumeRolePolicyDocument=json.dumps(trust))


@pytest.fixture
def world(emulator: Emulator, aws_env: dict[str, str], iam: Any) -> Iterator[dict[str, Any]]:
    emulator.reset()
    iam.create_user(UserName="jane.doe")
    key = iam.create_access_key(UserName="jane.doe")["AccessKey"]
    for account in (DEVSTG, PRD):
        create_role(account)
    yield {"key": Credentials(key["AccessKeyId"], key["SecretAccessKey"]), "iam": iam}


def as_user(key: Credentials) -> ClientFactory:
    """Clients with jane's own key where the code would use the standard chain."""
    base = make_client_factory()
    return lambda service, creds, region: base(service, creds or key, region)


def test_enrol_configure_and_assume_roles_with_one_mfa_session(world: dict[str, Any], tmp_path: Path) -> None:
    key: Credentials = world["key"]
    seen: dict[str, str] = {}

    def show(qr: str, png: Path | None, uri: str) -> None:
        seen.update(qr=qr, png=str(png), uri=uri)

    def codes() -> tuple[str, str]:
        totp = pyotp.parse_uri(seen["uri"])
        assert isinstance(totp, pyotp.TOTP)
        return totp.now(), totp.at(time.time(), counter_offset=1)

    enrolment = enrol(as_user(key), name=None, png=tmp_path / "jane.doe.png", show=show, read_codes=codes)
    assert enrolment.serial == f"arn:aws:iam::{PEOPLE}:mfa/jane.doe"
    assert "secret=" not in repr(enrolment)
    png = Path(seen["png"])
    assert png.read_bytes().startswith(b"\x89PNG") and stat.S_IMODE(png.stat().st_mode) == 0o600
    assert seen["qr"].count("\n") > 10
    devices = world["iam"].list_mfa_devices(UserName="jane.doe")["MFADevices"]
    assert [d["SerialNumber"] for d in devices] == [enrolment.serial]

    spec = people_spec(tmp_path)
    files = AwsFiles(tmp_path / "aws" / "config", tmp_path / "aws" / "credentials")
    res = configure(spec, "jane.doe", key, files, factory=make_client_factory())
    assert res.mfa_serial == enrolment.serial and res.config.changed and res.credentials.changed
    profiles = read_config_profiles(files.config)
    assert profiles["acme-apps-prd-devops"]["mfa_serial"] == enrolment.serial
    assert profiles["acme-apps-prd-devops"]["role_arn"] == f"arn:aws:iam::{PRD}:role/DevOps"

    asked: list[int] = []

    def code(serial: str, attempt: int, why: str | None) -> str:
        asked.append(attempt)
        return pyotp.parse_uri(seen["uri"]).now()  # type: ignore[union-attr]

    broker = SessionBroker(files, factory=make_client_factory(), code_provider=code)
    for profile, account in (("acme-apps-devstg-devops", DEVSTG), ("acme-apps-prd-devops", PRD)):
        _, creds = broker.credentials(profile)
        ident = caller_identity(make_client_factory(), creds)
        assert (ident.account, ident.arn) == (account, f"arn:aws:sts::{account}:assumed-role/DevOps/jane.doe")
        assert creds.expiration is not None and creds.temporary
    assert asked == [1]  # one code for both roles
    status = broker.status("acme-apps-prd-devops")
    assert status.using == "role" and status.mfa_session_expires is not None

    again = configure(spec, "jane.doe", key, files, factory=make_client_factory())
    assert not again.config.changed and not again.credentials.changed


def test_configure_refuses_a_key_that_is_not_the_users(world: dict[str, Any], tmp_path: Path) -> None:
    iam = world["iam"]
    iam.create_user(UserName="someone.else")
    other = iam.create_access_key(UserName="someone.else")["AccessKey"]
    files = AwsFiles(tmp_path / "config", tmp_path / "credentials")
    with pytest.raises(CredentialsError, match=r"not user jane\.doe"):
        configure(
            people_spec(tmp_path),
            "jane.doe",
            Credentials(other["AccessKeyId"], other["SecretAccessKey"]),
            files,
            factory=make_client_factory(),
        )
    assert not files.config.exists() and not files.credentials.exists()


def test_console_csv_with_bom(tmp_path: Path) -> None:
    csv = tmp_path / "accessKeys.csv"
    csv.write_bytes("\ufeffAccess key ID,Secret access key\r\nAKIAEXAMPLE,abc/def+ghi\r\n".encode())
    key = read_access_key_csv(csv)
    assert (key.access_key_id, key.secret_access_key) == ("AKIAEXAMPLE", "abc/def+ghi")
    (tmp_path / "bad.csv").write_text("User,Password\nx,y\n")
    with pytest.raises(CredentialsError, match="Access key ID"):
        read_access_key_csv(tmp_path / "bad.csv")


def test_whoami_on_the_standard_chain_and_human_configure_output(
    world: dict[str, Any], tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from iamlayer.cli.people import commands

    cmds = {c.name: c for c in commands()}
    r = CliRunner().invoke(cmds["whoami"], ["--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    who = json.loads(r.output)
    assert who["account"] == PEOPLE and who["mfa_session"] is None and who["credentials"] == "standard chain"
    r = CliRunner().invoke(cmds["whoami"], [], catch_exceptions=False)
    assert r.exit_code == 0 and f"in account {PEOPLE}" in r.output and "MFA session: unknown" in r.output

    (tmp_path / "iamlayer.yaml").write_text(
        "project: acme\nproject_long: acme-corp\nregion: us-east-1\n"
        f'accounts:\n  security: {{id: "{PEOPLE}"}}\n  apps-prd: {{id: "{PRD}"}}\n'
        "people_account: security\nroles:\n  DevOps: {accounts: [apps-prd], mfa_max_age: 3600}\n"
        "groups:\n  devops: {assume: [DevOps]}\nusers:\n  jane.doe: {groups: [devops], console: false}\n"
    )
    key: Credentials = world["key"]
    env = {"AWS_ACCESS_KEY_ID": key.access_key_id, "AWS_SECRET_ACCESS_KEY": key.secret_access_key}
    args = [
        "configure",
        "-f",
        str(tmp_path / "iamlayer.yaml"),
        "--user",
        "jane.doe",
        "--aws-dir",
        str(tmp_path / "a"),
        "--plaintext",
    ]
    r = CliRunner().invoke(cmds["credentials"], args, env=env, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert (
        "acme-apps-prd-devops" in r.output
        and f"export AWS_CONFIG_FILE={tmp_path / 'a' / 'config'}" in r.output
    )
    assert key.secret_access_key not in r.output
    assert (
        "requires MFA" in r.output
    )  # no device yet: the profile is written without mfa_serial, with a warning


def _ui(tmp_path: Path) -> dict[str, Any]:
    seen: dict[str, str] = {}

    def show(qr: str, png: Path | None, uri: str) -> None:
        seen["uri"] = uri

    def codes() -> tuple[str, str]:
        totp = pyotp.parse_uri(seen["uri"])
        assert isinstance(totp, pyotp.TOTP)
        return totp.now(), totp.at(time.time(), counter_offset=1)

    return {"png": tmp_path / "jane.doe.png", "show": show, "read_codes": codes}


def test_enrol_replaces_a_leftover_unassigned_device(world: dict[str, Any], tmp_path: Path) -> None:
    """A run killed between create and enable leaves `mfa/jane.doe` unassigned: it is replaced."""
    iam = world["iam"]
    leftover = iam.create_virtual_mfa_device(VirtualMFADeviceName="jane.doe")["VirtualMFADevice"]
    old_seed = leftover["Base32StringSeed"]
    enrolment = enrol(as_user(world["key"]), name=None, **_ui(tmp_path))
    assert enrolment.serial == leftover["SerialNumber"]
    assert str(old_seed) not in enrolment.uri  # a new device, with a seed only this run showed
    devices = iam.list_mfa_devices(UserName="jane.doe")["MFADevices"]
    assert [d["SerialNumber"] for d in devices] == [enrolment.serial]


def test_enrol_cleans_up_when_enabling_fails(world: dict[str, Any], tmp_path: Path) -> None:
    ui = _ui(tmp_path)

    def typo() -> tuple[str, str]:
        raise CredentialsError("no valid 6-digit MFA code was entered")

    with pytest.raises(CredentialsError):
        enrol(as_user(world["key"]), name=None, **{**ui, "read_codes": typo})
    iam = world["iam"]
    assert iam.list_virtual_mfa_devices()["VirtualMFADevices"] == []  # nothing left to block a retry
    assert not (tmp_path / "jane.doe.png").exists()
    assert enrol(as_user(world["key"]), name=None, **ui).serial.endswith(":mfa/jane.doe")


def test_enrol_refuses_other_names_and_a_second_enrolment(world: dict[str, Any], tmp_path: Path) -> None:
    """Only the device named after the user can be created and cleaned up under the policy."""
    iam = world["iam"]
    with pytest.raises(CredentialsError, match=r"must be named jane\.doe, not my-phone"):
        enrol(as_user(world["key"]), name="my-phone", **_ui(tmp_path))
    assert iam.list_virtual_mfa_devices()["VirtualMFADevices"] == []
    enrol(as_user(world["key"]), name="jane.doe", **_ui(tmp_path))
    with pytest.raises(CredentialsError, match="already has the MFA device"):
        enrol(as_user(world["key"]), name=None, **_ui(tmp_path))
    assert len(iam.list_virtual_mfa_devices()["VirtualMFADevices"]) == 1

"""The test emulator loads only the AWS-managed policies it is given (tests/emulator_policies.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from iamlayer.sandbox.emulator import SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY, Emulator, start_emulator


def client(emu: Emulator, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=emu.url,
        region_name="us-east-1",
        aws_access_key_id=SANDBOX_ACCESS_KEY,
        aws_secret_access_key=SANDBOX_SECRET_KEY,
    )


def test_the_trimmed_emulator_knows_only_its_set(tmp_path: Path) -> None:
    emu = start_emulator(
        log_path=tmp_path / "moto.log", managed_policies=["arn:aws:iam::aws:policy/job-function/Billing"]
    )
    try:
        iam = client(emu, "iam")
        assert iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/job-function/Billing")["Policy"]
        with pytest.raises(ClientError) as info:
            iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
        assert info.value.response["Error"]["Code"] == "NoSuchEntity"
    finally:
        emu.stop()


def test_the_emulator_keeps_permission_set_boundaries(tmp_path: Path) -> None:
    """moto lacks the three boundary calls (HTTP 500, which botocore retried for 26 s per read in
    `import aws`); the launcher adds them as AWS answers them."""
    emu = start_emulator(log_path=tmp_path / "moto.log", managed_policies=[])
    try:
        sso = client(emu, "sso-admin")
        instance = sso.list_instances()["Instances"][0]["InstanceArn"]
        ps = sso.create_permission_set(Name="X", InstanceArn=instance)["PermissionSet"]["PermissionSetArn"]
        ask = {"InstanceArn": instance, "PermissionSetArn": ps}
        with pytest.raises(ClientError) as none:
            sso.get_permissions_boundary_for_permission_set(**ask)
        assert none.value.response["Error"]["Code"] == "ResourceNotFoundException"
        boundary = {"CustomerManagedPolicyReference": {"Name": "b", "Path": "/x/"}}
        sso.put_permissions_boundary_to_permission_set(**ask, PermissionsBoundary=boundary)
        assert sso.get_permissions_boundary_for_permission_set(**ask)["PermissionsBoundary"] == boundary
        sso.delete_permissions_boundary_from_permission_set(**ask)
        with pytest.raises(ClientError) as gone:
            sso.get_permissions_boundary_for_permission_set(**ask)
        assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    finally:
        emu.stop()


def test_the_emulator_finds_each_keys_account_as_moto_does_and_logs_no_requests(tmp_path: Path) -> None:
    """The launcher indexes which account an access key is of (moto scans every account on every
    request); the answers are moto's: the account holding the key, the default account for a key
    nobody holds, and the default again once the key is deleted. Requests are not logged."""
    emu = start_emulator(log_path=tmp_path / "moto.log", managed_policies=[])
    try:
        org = client(emu, "organizations")
        org.create_organization(FeatureSet="ALL")
        member = org.create_account(Email="m@example.com", AccountName="m")["CreateAccountStatus"][
            "AccountId"
        ]
        creds = client(emu, "sts").assume_role(
            RoleArn=f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole", RoleSessionName="test"
        )["Credentials"]

        def who(key: str, secret: str = "x", token: str | None = None) -> str:
            sts = boto3.client(
                "sts",
                endpoint_url=emu.url,
                region_name="us-east-1",
                aws_access_key_id=key,
                aws_secret_access_key=secret,
                aws_session_token=token,
            )
            return str(sts.get_caller_identity()["Account"])

        for _ in range(2):  # found by the scan, then from the index
            assert who(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]) == member
        assert who("AKIAUNKNOWN0000000000") == who("AKIAUNKNOWN0000000000") == "123456789012"
        member_iam = boto3.client(
            "iam",
            endpoint_url=emu.url,
            region_name="us-east-1",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        member_iam.create_user(UserName="u")
        key = member_iam.create_access_key(UserName="u")["AccessKey"]
        assert who(key["AccessKeyId"]) == member
        member_iam.delete_access_key(UserName="u", AccessKeyId=key["AccessKeyId"])
        assert who(key["AccessKeyId"]) == "123456789012"
        log = (tmp_path / "moto.log").read_text()
        assert "GetCallerIdentity" not in log and '"POST / HTTP' not in log, log[-2000:]
    finally:
        emu.stop()

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

"""`iamlayer operator-policy`: --read-only for a role that only plans, and the S3 backend's bucket
and KMS key when the spec has one (issue 20)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spec_support import MINIMAL, write_spec

from iamlayer import api
from iamlayer.kinds import read_permissions
from iamlayer.spec.load import load_spec

TWO = MINIMAL + '  shared: {id: "333333333333"}\npeople_account: security\n'
BACKEND = "backend:\n  s3: {bucket: acme-iamlayer, prefix: identities, kms_key: alias/iamlayer}\n"


def by_sid(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"]}


def test_read_only_is_the_reads_alone() -> None:
    full, reads = by_sid(api.operator_policy()), by_sid(api.operator_policy(read_only=True))
    assert set(full) == {"IamlayerRead", "IamlayerWrite"} and set(reads) == {"IamlayerRead"}
    assert reads["IamlayerRead"]["Action"] == sorted(read_permissions()) == full["IamlayerRead"]["Action"]
    assert not any(
        a.split(":")[1].startswith(("Create", "Delete", "Put", "Attach", "Update"))
        for a in reads["IamlayerRead"]["Action"]
    )


def test_a_backend_adds_its_bucket_objects_and_key(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, TWO + BACKEND), check_keys=False)
    full = by_sid(api.operator_policy(spec))
    assert full["IamlayerBackendList"]["Resource"] == "arn:aws:s3:::acme-iamlayer"
    assert full["IamlayerBackendList"]["Condition"] == {"StringLike": {"s3:prefix": ["identities/*"]}}
    assert full["IamlayerBackendObjects"] == {
        "Sid": "IamlayerBackendObjects",
        "Effect": "Allow",
        "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
        "Resource": "arn:aws:s3:::acme-iamlayer/identities/*",
    }
    key = full["IamlayerBackendKey"]
    assert key["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"] and key["Resource"] == "*"
    assert key["Condition"]["StringEquals"] == {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    reads = by_sid(api.operator_policy(spec, read_only=True))
    assert reads["IamlayerBackendObjects"]["Action"] == ["s3:GetObject"] and "IamlayerWrite" not in reads

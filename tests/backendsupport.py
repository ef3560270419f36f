"""Test support for the shared S3 backend: a layer with a `backend:` block, and reading its bucket."""

from __future__ import annotations

import json
from typing import Any

import boto3

from layer import Layer, session_in


def add_backend(
    layer: Layer, *, lease: str = "5m", prefix: str = "identities", kms_key: str | None = None
) -> str:
    """Give `layer` an S3 backend in its security account (a bucket of its own); returns the bucket."""
    bucket = f"iamlayer-{layer.ids['security']}"
    kms = f", kms_key: {kms_key}" if kms_key else ""
    layer.spec.write_text(
        layer.spec.read_text()
        + f"backend:\n  s3: {{bucket: {bucket}, prefix: {prefix}, account: security, region: us-east-1, "
        + f"lock_lease: {lease}{kms}}}\n"
    )
    return bucket


def s3_in(layer: Layer, account: str = "security", endpoint: str | None = None) -> Any:
    """A boto3 S3 client inside `account` of `layer` (through `endpoint`, e.g. a harness, if given)."""
    session: boto3.Session = session_in(layer.ids[account])
    return session.client("s3", endpoint_url=endpoint) if endpoint else session.client("s3")


def objects(s3: Any, bucket: str, prefix: str = "") -> dict[str, bytes]:
    """Every object under `prefix` (its latest version), by key."""
    out: dict[str, bytes] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            out[o["Key"]] = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
    return out


def lock_object(s3: Any, bucket: str, account: str, prefix: str = "identities") -> dict[str, Any] | None:
    """The lock of `account` as the bucket holds it, or None."""
    found = objects(s3, bucket, f"{prefix}/locks/{account}.json")
    body = found.get(f"{prefix}/locks/{account}.json")
    return json.loads(body) if body is not None else None

"""Validation of the spec's `backend:` block, and the durations it (and `--lock-timeout`) are written in.

    backend:
      s3: {bucket: acme-iamlayer, prefix: identities, account: security, region: us-east-1,
           kms_key: alias/iamlayer, lock_lease: 5m}

Without the block the backend is the local folder `.iamlayer/` beside the spec, as it always was.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from iamlayer.spec.model import S3Backend
from iamlayer.spec.nodes import Node

if TYPE_CHECKING:
    from iamlayer.spec.validate import SpecBuilder

BACKEND_FIELDS: Final = ("s3",)
S3_FIELDS: Final = ("bucket", "prefix", "account", "region", "kms_key", "lock_lease")
DEFAULT_PREFIX: Final = "iamlayer"
DEFAULT_LEASE: Final = 300.0
#: a lease shorter than this leaves a heartbeat (every third of it) no time to arrive
MIN_LEASE: Final = 3.0
MAX_LEASE: Final = 24 * 3600.0

# S3's rules for a general purpose bucket's name (no dots next to each other or to a hyphen, not an IP).
BUCKET: Final = re.compile(r"(?!\d+\.\d+\.\d+\.\d+$)(?!xn--)[a-z0-9](?:[a-z0-9]|[.-](?![.-])){1,61}[a-z0-9]")
BUCKET_RULE: Final = "3-63 characters of a-z, 0-9, . and -, starting and ending with a letter or digit"
PREFIX: Final = re.compile(r"[A-Za-z0-9!_.*'()-]+(?:/[A-Za-z0-9!_.*'()-]+)*")
PREFIX_RULE: Final = (
    "folder names of letters, digits and ! _ . * ' ( ) - joined by /, without a leading or trailing /"
)
KMS_KEY: Final = re.compile(
    r"alias/[A-Za-z0-9/_-]{1,250}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}"
    r"|arn:aws(?:-[a-z]+)*:kms:[a-z0-9-]+:\d{12}:(?:key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)"
)
KMS_KEY_RULE: Final = "a KMS key id, key ARN, alias/NAME or alias ARN"

DURATION: Final = re.compile(r"(\d+)(s|m|h)")
DURATION_RULE: Final = "a number and a unit: 30s, 5m or 1h"
_UNITS: Final = {"s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> float | None:
    """`30s`, `5m`, `1h` -> seconds; None when `text` is not written that way."""
    m = DURATION.fullmatch(text.strip())
    return float(int(m.group(1)) * _UNITS[m.group(2)]) if m else None


def format_duration(seconds: float) -> str:
    """Seconds as the spec writes them: 300 -> 5m (the largest unit that divides it)."""
    whole = int(seconds)
    for unit in ("h", "m"):
        if whole and whole % _UNITS[unit] == 0:
            return f"{whole // _UNITS[unit]}{unit}"
    return f"{whole}s"


def build_backend(
    sb: SpecBuilder, node: Node, accounts: Sequence[str], people: str | None, region: str
) -> S3Backend | None:
    """The `backend:` block; None (after reporting why) when it is wrong."""
    r = sb.r
    top = r.fields(node, BACKEND_FIELDS, required=("s3",), what="backend")
    if top is None or "s3" not in top:
        return None
    s3 = top["s3"]
    f = r.fields(s3, S3_FIELDS, required=("bucket",), what="backend.s3")
    if f is None:
        return None
    lines = {"": s3.line or node.line or 0, **{k: n.line or 0 for k, n in f.items()}}
    bucket = r.string(f["bucket"], pattern=BUCKET, rule=BUCKET_RULE) if "bucket" in f else None
    prefix = r.string(f["prefix"], pattern=PREFIX, rule=PREFIX_RULE) if "prefix" in f else DEFAULT_PREFIX
    account = r.reference(f["account"], accounts, "account", "accounts") if "account" in f else people
    from iamlayer.spec.validate import REGION, REGION_RULE

    where = r.string(f["region"], pattern=REGION, rule=REGION_RULE) if "region" in f else region
    kms_key = r.string(f["kms_key"], pattern=KMS_KEY, rule=KMS_KEY_RULE) if "kms_key" in f else None
    lease = _lease(sb, f["lock_lease"]) if "lock_lease" in f else DEFAULT_LEASE
    if not (bucket and prefix and account and where and lease) or ("kms_key" in f and not kms_key):
        return None
    return S3Backend(bucket, prefix, account, where, kms_key, lease, lines)


def _lease(sb: SpecBuilder, node: Node) -> float | None:
    text = sb.r.string(node, pattern=DURATION, rule=DURATION_RULE)
    seconds = parse_duration(text) if text else None
    if seconds is None:
        return None
    if not MIN_LEASE <= seconds <= MAX_LEASE:
        sb.r.error(
            node,
            f"lock_lease {text} is out of range",
            f"between {format_duration(MIN_LEASE)} and {format_duration(MAX_LEASE)}: the holder renews "
            "its lock every third of the lease",
        )
        return None
    return seconds

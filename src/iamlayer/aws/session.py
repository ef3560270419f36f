"""Sessions and clients: the standard AWS credential chain, one session per account, call counting.

iamlayer honours what the AWS CLI honours: `--profile`/AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL
(how the sandbox is reached; botocore reads it itself), AWS_CONFIG_FILE and
AWS_SHARED_CREDENTIALS_FILE. Nothing is created at import time.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from iamlayer.aws.errors import aws_call

# Adaptive mode backs off on throttling with a client-side rate limiter; IAM and STS limits are low
# and cannot be raised, so a large apply must slow down instead of failing.
RETRY_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 10},
    max_pool_connections=32,
    connect_timeout=10,
    read_timeout=60,
)


@dataclass
class ApiStats:
    """Counts AWS API calls (attempts included) per account label and operation. Thread-safe."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, account: str, operation: str) -> None:
        with self._lock:
            self.calls[(account, operation)] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def by_account(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (account, _), n in self.calls.items():
            out[account] += n
        return dict(out)

    def by_operation(self, account: str | None = None) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (acc, op), n in self.calls.items():
            if account is None or acc == account:
                out[op] += n
        return dict(sorted(out.items()))

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_account": self.by_account(),
            "by_operation": self.by_operation(),
        }


def env_region() -> str | None:
    """AWS_REGION, as the AWS CLI and SDKs read it (botocore itself reads only AWS_DEFAULT_REGION)."""
    return os.environ.get("AWS_REGION") or None


def base_session(profile: str | None = None, region: str | None = None) -> boto3.Session:
    """The operator's session from the standard credential chain (profile, env, SSO, IMDS...)."""
    with aws_call(f"loading AWS profile {profile!r}" if profile else "loading AWS credentials"):
        return boto3.Session(profile_name=profile, region_name=region or env_region())


ClientFactory = Callable[[str], Any]


class AccountClients:
    """Clients for one account, all counting their calls into `stats` under `label`.

    Clients are cached per service: boto3 clients are thread-safe, sessions are not, so clients are
    created under a lock and then shared by the apply worker threads.
    """

    def __init__(
        self, session: boto3.Session, label: str, stats: ApiStats, region: str | None = None
    ) -> None:
        self.session = session
        self.label = label
        self.stats = stats
        self.region = region or session.region_name or "us-east-1"
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        with self._lock:
            if key not in self._clients:
                c = self.session.client(service, region_name=key[1], config=RETRY_CONFIG)  # type: ignore[call-overload]
                label = self.label
                stats = self.stats

                # Counted once per call (botocore retries inside it are not counted).
                def count(model: Any, **_: Any) -> None:
                    stats.record(label, model.name)

                c.meta.events.register("before-call.*.*", count)
                self._clients[key] = c
            return self._clients[key]

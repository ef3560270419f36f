"""AWS credentials as a value that does not leak: no secret in repr, str or logs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Credentials:
    """An access key, with a session token and expiry when temporary."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    expiration: datetime | None = None  # timezone-aware; None for long-term keys

    def __repr__(self) -> str:
        exp = self.expiration.isoformat() if self.expiration else None
        return (
            f"Credentials(access_key_id={self.access_key_id!r}, temporary={self.temporary}, expiration={exp})"
        )

    __str__ = __repr__

    @property
    def temporary(self) -> bool:
        return self.session_token is not None

    def valid_for(self, at_least: timedelta, now: datetime | None = None) -> bool:
        """True when these credentials stay valid for `at_least` longer (long-term keys always do)."""
        if self.expiration is None:
            return True
        return self.expiration - (now or datetime.now(UTC)) >= at_least

    def to_json(self) -> dict[str, Any]:
        """The shape of STS's Credentials (and of credential_process output, plus Version)."""
        out: dict[str, Any] = {"AccessKeyId": self.access_key_id, "SecretAccessKey": self.secret_access_key}
        if self.session_token is not None:
            out["SessionToken"] = self.session_token
        if self.expiration is not None:
            out["Expiration"] = self.expiration.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Credentials:
        exp = data.get("Expiration")
        return cls(
            access_key_id=str(data["AccessKeyId"]),
            secret_access_key=str(data["SecretAccessKey"]),
            session_token=str(data["SessionToken"]) if data.get("SessionToken") else None,
            expiration=parse_time(exp) if exp else None,
        )


def parse_time(value: str | datetime) -> datetime:
    """An ISO 8601 time (STS's `...Z` form included) as an aware datetime in UTC."""
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)

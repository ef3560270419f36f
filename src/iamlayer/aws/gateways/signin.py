"""AWS Sign-In (service `signin`): the sign-in sessions `aws login` makes for an IAM user.

Operation names and shapes are botocore's model of the service (signin 2023-01-01). The emulator
lacks the service: tests/unit/test_signin_stubbed.py proves these calls with botocore's Stubber on
that model, which validates every request's parameters.

A session cannot be revoked without its ARN, so the person's ACTIVE sessions are listed first
(ListSessions filtered by principalArn), then revoked five at a time (BatchRevokeSessions takes at
most five). Revoking a session already revoked succeeds; a session that cannot be revoked is
reported in the answer's `errors`, not as a failure of the call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from iamlayer.aws.gateways.base import send
from iamlayer.errors import EndpointError

#: the domains of AWS's own endpoints: an endpoint in neither is a configured one (a sandbox)
AWS_DOMAINS = (".amazonaws.com", ".api.aws")

#: BatchRevokeSessions takes at most this many session ARNs (SessionArnList, max 5)
REVOKE_BATCH = 5


@dataclass(frozen=True)
class Revoked:
    """What a revocation did: the sessions revoked, and those that could not be (ARN, reason)."""

    revoked: tuple[str, ...]
    errors: tuple[tuple[str, str], ...] = ()


class SigninGateway:
    """Intent-level calls of AWS Sign-In in one account and region."""

    def __init__(self, client: Any, where: str) -> None:
        self.client = client
        self.where = where
        client.meta.events.register("before-send.signin.*", self._stay_on_the_configured_endpoint)

    def _stay_on_the_configured_endpoint(self, request: Any, event_name: str = "", **_: Any) -> None:
        """Refuse to send a request away from a configured endpoint (AWS_ENDPOINT_URL: a sandbox).

        The service's endpoint rules put its control-plane operations (ListSessions,
        BatchRevokeSessions: static context parameter IsControlPlane) on
        signin.<region>.api.aws BEFORE they look at a configured endpoint, so botocore would send
        them to AWS itself with the sandbox's credentials."""
        configured = urlsplit(self.client.meta.endpoint_url).hostname or ""
        target = urlsplit(request.url).hostname or ""
        if target != configured and not configured.endswith(AWS_DOMAINS):
            operation = event_name.rpartition(".")[2]
            raise EndpointError(
                f"AWS Sign-In sends {operation} to {target}, not to the configured endpoint "
                f"{configured} (its control-plane calls ignore AWS_ENDPOINT_URL): not sent",
                operation=operation,
            )

    def active_sessions(self, principal_arn: str) -> list[str]:
        """The ARNs of `principal_arn`'s sign-in sessions that are still active."""
        pages = self.client.get_paginator("list_sessions")
        found: list[str] = send(
            f"listing the sign-in sessions of {principal_arn} {self.where}",
            lambda: [
                s["sessionArn"]
                for page in pages.paginate(principalArn=principal_arn, status="ACTIVE")
                for s in page["items"]
            ],
        )
        return found

    def revoke_sessions(self, principal_arn: str, reason: str) -> Revoked:
        """Revoke every active sign-in session of `principal_arn` (an IAM user's ARN)."""
        arns = self.active_sessions(principal_arn)
        revoked: list[str] = []
        errors: list[tuple[str, str]] = []
        for i in range(0, len(arns), REVOKE_BATCH):
            got = self._revoke(principal_arn, arns[i : i + REVOKE_BATCH], reason)
            revoked += [r["sessionArn"] for r in got.get("revokedSessions", [])]
            errors += [(e["sessionArn"], f"{e['code']}: {e['message']}") for e in got.get("errors", [])]
        return Revoked(tuple(revoked), tuple(errors))

    def _revoke(self, principal_arn: str, batch: list[str], reason: str) -> dict[str, Any]:
        got: dict[str, Any] = send(
            f"revoking {len(batch)} sign-in session(s) of {principal_arn} {self.where}",
            lambda: self.client.batch_revoke_sessions(
                principalArn=principal_arn, sessionArns=batch, reason=reason
            ),
        )
        return got

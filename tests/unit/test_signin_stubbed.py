"""AWS Sign-In (`aws login` sessions) with botocore's Stubber on botocore's own model of the
service (signin 2023-01-01): the emulator lacks the service. The Stubber checks every request
against the operation's input shape (botocore validates and serializes the parameters before the
stub answers) and every queued answer against its output shape, so these are the real service's
operations, parameter names and structures.

Proven here: offboarding lists the person's ACTIVE sessions and revokes them five at a time
(BatchRevokeSessions takes at most five ARNs), reports the sessions AWS could not revoke, asks
nothing when there is no session; the batch size is the model's limit.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber
from botocore.validate import validate_parameters

from iamlayer.aws.gateways.signin import REVOKE_BATCH, SigninGateway
from iamlayer.aws.session import AccountClients, ApiStats
from iamlayer.errors import EndpointError

USER = "arn:aws:iam::222222222222:user/jane.doe"
REASON = "iamlayer offboard jane.doe"


def session_arn(n: int) -> str:
    return f"arn:aws:signin:us-east-1:222222222222:session/jane.doe/s-{n:04d}"


@pytest.fixture
def signin(offline_clients: AccountClients) -> Iterator[tuple[SigninGateway, Stubber]]:
    client = offline_clients.signin("us-east-1")
    assert client.meta.service_model.service_name == "signin"
    with Stubber(client) as stub:
        yield SigninGateway(client, "in account security (222222222222)"), stub
        stub.assert_no_pending_responses()


def _listed(arns: list[str], next_token: str | None = None) -> dict[str, object]:
    items = [
        {
            "sessionArn": a,
            "principalArn": USER,
            "issuedAt": 1796580000,
            "expiresAt": 1796623200,
            "status": "ACTIVE",
        }
        for a in arns
    ]
    return {"items": items, **({"nextToken": next_token} if next_token else {})}


def test_her_active_sessions_are_listed_and_revoked_five_at_a_time(
    signin: tuple[SigninGateway, Stubber],
) -> None:
    gateway, stub = signin
    arns = [session_arn(n) for n in range(7)]
    stub.add_response(
        "list_sessions", _listed(arns[:4], "page-2"), {"principalArn": USER, "status": "ACTIVE"}
    )
    stub.add_response(
        "list_sessions", _listed(arns[4:]), {"principalArn": USER, "status": "ACTIVE", "nextToken": "page-2"}
    )
    first, rest = arns[:REVOKE_BATCH], arns[REVOKE_BATCH:]
    stub.add_response(
        "batch_revoke_sessions",
        {"revokedSessions": [{"sessionArn": a} for a in first], "errors": []},
        {"principalArn": USER, "sessionArns": first, "reason": REASON},
    )
    stub.add_response(
        "batch_revoke_sessions",
        {
            "revokedSessions": [{"sessionArn": rest[0]}],
            "errors": [{"sessionArn": rest[1], "code": "ResourceNotFound", "message": "no such session"}],
        },
        {"principalArn": USER, "sessionArns": rest, "reason": REASON},
    )
    done = gateway.revoke_sessions(USER, REASON)
    assert done.revoked == tuple(arns[:6])
    assert done.errors == ((arns[6], "ResourceNotFound: no such session"),)


def test_no_session_means_nothing_to_revoke(signin: tuple[SigninGateway, Stubber]) -> None:
    gateway, stub = signin
    stub.add_response("list_sessions", _listed([]), {"principalArn": USER, "status": "ACTIVE"})
    done = gateway.revoke_sessions(USER, REASON)
    assert done.revoked == () and done.errors == ()


def test_the_batch_is_the_models_most_sessions_per_request(signin: tuple[SigninGateway, Stubber]) -> None:
    """botocore checks a list's minimum length, not its maximum: the batch size must be the
    model's `max` of SessionArnList, or AWS would refuse the request."""
    gateway, _ = signin
    shape = gateway.client.meta.service_model.operation_model("BatchRevokeSessions").input_shape
    assert shape.members["sessionArns"].metadata == {"min": 1, "max": REVOKE_BATCH}
    assert shape.required_members == ["sessionArns"]
    with pytest.raises(ParamValidationError):
        validate_parameters({"principalArn": USER, "sessionArns": []}, shape)


def test_with_a_configured_endpoint_nothing_is_sent_to_aws_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """The service's endpoint rules send its control-plane calls to signin.<region>.api.aws even
    when AWS_ENDPOINT_URL names a sandbox: the gateway refuses before anything leaves."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    session = boto3.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x", region_name="us-east-1"
    )
    client = AccountClients(session, "security", ApiStats()).signin("us-east-1")
    sent: list[str] = []
    client.meta.events.register_last("before-send.signin.*", lambda request, **_: sent.append(request.url))
    gateway = SigninGateway(client, "in account security (222222222222)")
    with pytest.raises(
        EndpointError,
        match=r"sends ListSessions to signin\.us-east-1\.api\.aws, not to the configured endpoint 127\.0\.0\.1",
    ):
        gateway.revoke_sessions(USER, REASON)
    assert sent == []

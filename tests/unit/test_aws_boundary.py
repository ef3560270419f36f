"""The AWS boundary where the emulator cannot show it: pagination, error mapping, consistency retries.

botocore's Stubber stands in for AWS here (moto ignores MaxItems/Marker and never answers
EntityTemporarilyUnmodifiable), asserting the exact parameters sent.
"""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber

import iamlayer
from iamlayer.aws.errors import aws_call, refused_on_loopback
from iamlayer.aws.people import make_client_factory
from iamlayer.aws.read import read_authorization_details
from iamlayer.aws.retry import Backoff, settle
from iamlayer.aws.session import AccountClients, base_session, make_client
from iamlayer.errors import AccessDeniedError, AwsError, EndpointError, NotFoundError
from iamlayer.sandbox.emulator import free_port

FILTER = ["User", "Group", "Role", "LocalManagedPolicy"]


def user(name: str, groups: list[str]) -> dict[str, object]:
    return {
        "Path": "/",
        "UserName": name,
        "UserId": "AIDA" + name.upper().ljust(16, "X")[:16],
        "Arn": f"arn:aws:iam::222222222222:user/{name}",
        "GroupList": groups,
        "Tags": [{"Key": "iamlayer:project", "Value": "acme"}],
    }


def test_authorization_details_reads_every_page_with_max_items_1000(
    offline_clients: AccountClients, iam_stub: Stubber
) -> None:
    iam_stub.add_response(
        "get_account_authorization_details",
        {
            "UserDetailList": [user("a", ["g"])],
            "GroupDetailList": [],
            "RoleDetailList": [],
            "Policies": [],
            "IsTruncated": True,
            "Marker": "page2",
        },
        {"Filter": FILTER, "MaxItems": 1000},
    )
    iam_stub.add_response(
        "get_account_authorization_details",
        {
            "UserDetailList": [user("b", ["g"])],
            "GroupDetailList": [
                {
                    "Path": "/",
                    "GroupName": "g",
                    "GroupId": "AGPAXXXXXXXXXXXXXXXX",
                    "Arn": "arn:aws:iam::222222222222:group/g",
                    "GroupPolicyList": [],
                    "AttachedManagedPolicies": [],
                }
            ],
            "RoleDetailList": [],
            "Policies": [],
            "IsTruncated": False,
        },
        {"Filter": FILTER, "MaxItems": 1000, "Marker": "page2"},
    )
    state = read_authorization_details(offline_clients, "222222222222")
    assert set(state.users) == {"a", "b"}
    assert state.groups["g"].members == frozenset({"a", "b"})
    assert offline_clients.stats.by_operation() == {"GetAccountAuthorizationDetails": 2}


def test_client_errors_become_our_errors_naming_the_attempt() -> None:
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "CreateUser")
    with (
        pytest.raises(AccessDeniedError) as info,
        aws_call("creating user jane.doe in account security (2222)"),
    ):
        raise denied
    assert str(info.value) == "creating user jane.doe in account security (2222): AccessDenied: not allowed"
    assert info.value.__cause__ is denied
    with pytest.raises(EndpointError, match="is the sandbox running"), aws_call("reading IAM"):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")


@pytest.mark.parametrize("client_of", ["operator", "person"])
def test_a_local_endpoint_where_nothing_listens_is_reported_at_once(
    client_of: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore retries a refused connection with backoff (over 20 s); on this machine nothing will
    start listening meanwhile, so the first refusal is the answer, naming the endpoint."""
    url = f"http://127.0.0.1:{free_port()}"  # a port nothing listens on
    for k, v in {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_CONFIG_FILE": "/nonexistent",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    if client_of == "operator":
        sts = make_client(base_session(None, "us-east-1"), "sts")
    else:
        sts = make_client_factory()("sts", None, "us-east-1")
    started = time.monotonic()
    with pytest.raises(EndpointError) as info, aws_call("checking the credentials"):
        sts.get_caller_identity()
    assert time.monotonic() - started < 3
    assert (
        str(info.value)
        == f"checking the credentials: nothing answers at {url}: is `iamlayer sandbox` running?"
    )


def test_every_client_is_made_by_make_client() -> None:
    """So every client gets the fail-fast hook above (and the lock and timestamp parser): outside
    make_client, clients come from AccountClients (`clients.client(...)`), which uses it."""
    src = Path(iamlayer.__file__).parent
    made_elsewhere = []
    for path in sorted(src.rglob("*.py")):
        tree = ast.parse(path.read_text())
        in_make_client = {
            id(n)
            for f in ast.walk(tree)
            if isinstance(f, ast.FunctionDef) and f.name == "make_client"
            for n in ast.walk(f)
        }
        for node in ast.walk(tree):
            if (
                id(node) not in in_make_client
                and isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "client"
                and ast.unparse(node.func.value) != "clients"
            ):
                made_elsewhere.append(f"{path.relative_to(src)}:{node.lineno}")
    assert made_elsewhere == []


def test_a_refused_connection_elsewhere_is_left_to_botocores_retries() -> None:
    remote = EndpointConnectionError(
        endpoint_url="https://sts.amazonaws.com/", error=ConnectionRefusedError()
    )
    local = EndpointConnectionError(endpoint_url="http://localhost:5000/", error=ConnectionRefusedError())
    assert not refused_on_loopback(remote) and refused_on_loopback(local)


def test_settle_retries_named_consistency_errors_only() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise AwsError("x", code="EntityTemporarilyUnmodifiable")
        return "ok"

    assert settle(flaky, sleep=sleeps.append) == "ok"
    assert len(calls) == 3 and sleeps == [0.25, 0.5]

    def missing() -> None:
        raise NotFoundError("no such group", code="NoSuchEntity")

    with pytest.raises(NotFoundError):
        settle(missing, sleep=sleeps.append)  # NoSuchEntity is final unless asked for
    calls.clear()

    def new_then_visible() -> str:
        calls.append(1)
        if len(calls) < 2:
            raise NotFoundError("not yet", code="NoSuchEntity")
        return "ok"

    assert settle(new_then_visible, not_found_too=True, sleep=sleeps.append) == "ok"

    def denied() -> None:
        raise AccessDeniedError("no", code="AccessDenied")

    before = len(sleeps)
    with pytest.raises(AccessDeniedError):
        settle(denied, sleep=sleeps.append)
    assert len(sleeps) == before


def test_settle_retries_botocores_own_errors_inside_aws_call() -> None:
    """Handlers write `with aws_call(...): settle(lambda: iam.x(...))`: the lambda raises botocore's
    ClientError, not ours, and settle must still recognise the code (and aws_call still names it)."""
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ClientError({"Error": {"Code": "DeleteConflict", "Message": "detaching"}}, "DeleteRole")
        return "ok"

    with aws_call("deleting role r"):
        assert settle(flaky, conflict_too=True, sleep=lambda s: None) == "ok"
    assert len(calls) == 3

    def conflict() -> None:
        calls.append(1)
        raise ClientError({"Error": {"Code": "DeleteConflict", "Message": "detaching"}}, "DeleteRole")

    calls.clear()
    with (
        pytest.raises(AwsError, match=r"^deleting role r: DeleteConflict: detaching$"),
        aws_call("deleting role r"),
    ):
        settle(conflict, conflict_too=True, timeout=1, sleep=lambda s: None)
    assert len(calls) == 4  # 0.25 + 0.5 + the last 0.25 up to the 1 s bound, then given up
    calls.clear()
    with pytest.raises(AwsError, match="DeleteConflict"), aws_call("deleting role r"):
        settle(conflict, timeout=1, sleep=lambda s: None)  # a conflict is final unless asked for
    assert len(calls) == 1


def test_backoff_doubles_up_to_its_cap_and_ends_at_the_deadline() -> None:
    slept: list[float] = []
    b = Backoff(20, first=1, cap=8, sleep=slept.append, clock=lambda: 0.0)
    while b.wait():
        pass
    assert slept == [1, 2, 4, 8, 5]  # the last wait is cut to end at the 20 s deadline
    assert Backoff(0, sleep=slept.append).wait() is False


def test_timestamps_are_read_without_dateutil_and_mean_the_same() -> None:
    """botocore parses each timestamp with dateutil's general parser (5,000 users' CreateDate took
    longer than the rest of the answer, issue 13); clients iamlayer makes read ISO 8601 with
    datetime itself: the same instants, timezone-aware, and every other form as botocore does."""
    import boto3
    from botocore.utils import parse_timestamp as botocore_parse

    from iamlayer.aws.session import make_client, parse_timestamp

    for text in (
        "2026-11-30T12:40:22Z",
        "2026-11-30T12:40:22.123Z",
        "2026-11-30T12:40:22+00:00",
        "2026-11-30T12:40:22.5-05:00",
        "Tue, 29 Apr 2014 18:30:38 GMT",
        1700000000,
        "1700000000",
    ):
        ours, theirs = parse_timestamp(text), botocore_parse(text)
        assert ours == theirs and ours.tzinfo is not None, text
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1")
    client = make_client(session, "iam")
    # what botocore parses each answer with: the endpoint's parser factory (private attributes)
    parser = client._endpoint._response_parser_factory.create_parser("query")
    assert parser._timestamp_parser is parse_timestamp

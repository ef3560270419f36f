"""The AWS boundary where the emulator cannot show it: pagination, error mapping, consistency retries.

botocore's Stubber stands in for AWS here (moto ignores MaxItems/Marker and never answers
EntityTemporarilyUnmodifiable), asserting the exact parameters sent.
"""

from __future__ import annotations

import ast
import time
from pathlib import Path
from typing import Any

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
    make_client, clients come from AccountClients (`clients.client(...)`, and its typed accessors
    `self.client(...)`), which uses it."""
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
                and not (path.name == "session.py" and ast.unparse(node.func.value) == "self")
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


def _conflict(operation: str, message: str, reason: str | None = None) -> ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": "ConflictException", "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 409},
    }
    if reason:
        response["Reason"] = reason
    return ClientError(response, operation)  # type: ignore[arg-type]


def test_a_conflict_is_classified_by_operation_and_reason_never_by_its_message() -> None:
    """A ConflictException is a race, or (creates and attaches) perhaps done already, which only
    a confirming read can tell; the identity store's Reason is structured data and decides where
    it is given. The word "already" in the message changes nothing."""
    from iamlayer.aws.errors import CONFLICT_MAYBE_DONE, translate
    from iamlayer.errors import AlreadyExistsError, ConflictError

    for message in ("PermissionSet with name DevOps already exists.", "Conflict", ""):
        maybe = translate(_conflict("CreatePermissionSet", message), "creating")
        assert type(maybe) is ConflictError and maybe.maybe_done, message
        race = translate(_conflict("PutInlinePolicyToPermissionSet", message), "writing")
        assert type(race) is ConflictError and not race.maybe_done, message
        taken = translate(_conflict("CreateUser", message, "UNIQUENESS_CONSTRAINT_VIOLATION"), "creating")
        assert type(taken) is AlreadyExistsError, message
        concurrent = translate(_conflict("CreateUser", message, "CONCURRENT_MODIFICATION"), "creating")
        assert type(concurrent) is ConflictError and not concurrent.maybe_done, message
        unreasoned = translate(_conflict("CreateGroupMembership", message), "adding")
        assert type(unreasoned) is ConflictError and unreasoned.maybe_done, message
    assert set(CONFLICT_MAYBE_DONE) == {
        "CreatePermissionSet",
        "AttachManagedPolicyToPermissionSet",
        "AttachCustomerManagedPolicyReferenceToPermissionSet",
        "CreateAccountAssignment",
        "CreateUser",
        "CreateGroup",
        "CreateGroupMembership",
        "CreateEntitlement",
    }


def test_settle_asks_the_confirming_read_before_retrying_a_conflict_that_may_be_done() -> None:
    from iamlayer.errors import AlreadyExistsError, ConflictError

    calls: list[str] = []
    there = [False, True]

    def attach() -> None:
        calls.append("attach")
        raise _conflict("AttachManagedPolicyToPermissionSet", "already attached")

    def done() -> bool:
        calls.append("read")
        return there.pop(0)

    with pytest.raises(AlreadyExistsError, match=r"a confirming read finds it there"):
        settle(attach, races=True, done=done, sleep=lambda s: None)
    assert calls == ["attach", "read", "attach", "read"]  # the race retried, then found done
    calls.clear()
    with pytest.raises(ClientError):  # no way to tell without a read: not retried blindly
        settle(attach, races=True, sleep=lambda s: None)
    assert calls == ["attach"]
    with pytest.raises(ClientError):  # not asked to: a conflict is final
        settle(attach, done=done, sleep=lambda s: None)
    with pytest.raises(ConflictError), aws_call("attaching"):
        settle(lambda: attach(), races=True, done=lambda: False, timeout=0.5, sleep=lambda s: None)


#: The services whose ConflictException iamlayer classifies, and the model of each operation.
CONFLICT_SERVICES = {"sso": "sso-admin", "identitystore": "identitystore", "account-access": "account-access"}


def test_every_operation_a_handler_calls_that_may_answer_conflict_is_classified() -> None:
    """Each sso-admin and identitystore operation a handler declares whose real service model
    lists ConflictException is in CONFLICT_MAYBE_DONE (a confirming read decides) or
    CONFLICT_RACE_ONLY (a race, retried); both tables name only such operations."""
    import botocore.session

    from iamlayer.apply.handlers import HANDLERS
    from iamlayer.aws.errors import CONFLICT_MAYBE_DONE, CONFLICT_RACE_ONLY

    session = botocore.session.get_session()
    models = {prefix: session.get_service_model(name) for prefix, name in CONFLICT_SERVICES.items()}
    answers_conflict = {
        op
        for model in models.values()
        for op in model.operation_names
        if "ConflictException" in {e.name for e in model.operation_model(op).error_shapes}
    }
    declared = {
        action.split(":", 1)[1]
        for spec in HANDLERS.values()
        for action in spec.permissions
        if action.split(":", 1)[0] in models
    }
    unclassified = (declared & answers_conflict) - set(CONFLICT_MAYBE_DONE) - CONFLICT_RACE_ONLY
    assert not unclassified, f"say what their ConflictException means: {sorted(unclassified)}"
    assert set(CONFLICT_MAYBE_DONE) <= answers_conflict
    assert answers_conflict >= CONFLICT_RACE_ONLY
    assert not set(CONFLICT_MAYBE_DONE) & CONFLICT_RACE_ONLY


#: Where src reads an AWS error's message text on purpose, and why it is not a classification
#: of ConflictException (each is a follow-up: IAM and STS have no structured field for these).
MESSAGE_READERS_ALLOWED = {
    ("iamlayer/aws/gateways/sts.py", "MultiFactorAuthentication failed"),  # STS: a wrong MFA code
    ("iamlayer/aws/audit_reads.py", "session credentials"),  # STS refusing GetSessionToken from a session
    ("iamlayer/cli/secrets_cmds.py", "passphrase"),  # a PGP decryption error, not AWS's
}


def _mentions_message(node: ast.AST) -> bool:
    """True when an expression is (derived from) an AWS error's message or an exception's text:
    the names iamlayer gives them (msg, message, why), a "Message" key, str(exc)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id.lower() in {"msg", "message", "why"}:
            return True
        if isinstance(sub, ast.Attribute) and sub.attr in {"message", "msg", "args"}:
            return True
        if isinstance(sub, ast.Constant) and sub.value == "Message":
            return True
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Name)
            and sub.func.id in {"str", "repr"}
            and sub.args
            and isinstance(sub.args[0], ast.Name)
            and sub.args[0].id in {"exc", "e", "err", "error"}
        ):
            return True
    return False


def test_no_error_is_classified_by_its_message_text() -> None:
    """No code in src looks for words in an AWS error's message to decide what it means: that
    is prose AWS may reword (a ConflictException told "taken" from "race" by the word "already"
    was the bug). Codes, Reason fields and confirming reads decide. Flags `"..." in <message>`
    and `<message>.startswith/endswith/find("...")` and regular expressions applied to them."""
    root = Path(iamlayer.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = f"iamlayer/{path.relative_to(root).as_posix()}"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            words: list[str] = []
            if (
                isinstance(node, ast.Compare)
                and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)
                and isinstance(node.left, ast.Constant)
                and isinstance(node.left.value, str)
                and any(_mentions_message(c) for c in node.comparators)
            ):
                words.append(node.left.value)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"startswith", "endswith", "find", "search", "match", "count"}
                and _mentions_message(node)
                and any(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args)
            ):
                words.extend(str(a.value) for a in node.args if isinstance(a, ast.Constant))
            for word in words:
                if "already" in word.lower() or (rel, word) not in MESSAGE_READERS_ALLOWED:
                    found.append(f"{rel}:{getattr(node, 'lineno', 0)}: {word!r}")
    assert not found, "classified by message text:\n" + "\n".join(found)

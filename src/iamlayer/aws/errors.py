"""Translate botocore's exceptions into iamlayer's (see iamlayer.errors for the tree).

Every boto3 call in iamlayer runs inside `aws_call(...)`, which names what was being attempted,
so a failure reads "creating user jane.doe in account security (222222222222): AccessDenied: ...".
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from botocore.parsers import ResponseParserError

from iamlayer.errors import (
    AccessDeniedError,
    AlreadyExistsError,
    AwsError,
    ConflictError,
    CredentialsError,
    EndpointError,
    NotFoundError,
    ThrottledError,
)

NOT_FOUND_CODES = frozenset(
    {"NoSuchEntity", "NoSuchEntityException", "ResourceNotFoundException", "NotFound"}
)
ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
)
# AlreadyCreatedException: the account access manager's CreateApplication (one per account).
ALREADY_EXISTS_CODES = frozenset(
    {"EntityAlreadyExists", "EntityAlreadyExistsException", "AlreadyCreatedException"}
)
THROTTLE_CODES = frozenset(
    {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"}
)
# IAM is eventually consistent: right after a create, or while another change settles, these
# codes mean "try again shortly", not "failed" (see iamlayer.aws.retry).
TRANSIENT_CODES = frozenset({"EntityTemporarilyUnmodifiable", "ConcurrentModification", "ServiceFailure"})


#: AWS answers that do not prove the call was not applied: the service failed somewhere, perhaps
#: after the write. (Non-idempotent creates are sent by clients without SDK retries, see
#: iamlayer.aws.session, so their EntityAlreadyExists is about someone else's work, never a
#: retry of their own: the caller tells which.)
AMBIGUOUS_CODES = frozenset({"ServiceFailure", "InternalFailure", "ServiceUnavailable", "InternalError"})


def surely_not_applied(exc: AwsError) -> bool:
    """True when AWS answered with an error that means the write did not happen.

    Network failures, timeouts, unreadable answers and 5xx answers leave the outcome unknown, as
    do the ambiguous codes above; only an AWS 4xx error response (an operation is named) is proof.
    """
    return bool(exc.operation) and exc.code not in AMBIGUOUS_CODES and exc.status < 500


def error_code(exc: BaseException) -> str:
    """AWS's error code of a botocore ClientError, or '' for anything else."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


#: sso-admin and identitystore answer ConflictException both for a write that raced another one on
#: the same resource ("a retry with appropriate backoff is the recommended response") and, for
#: some operations, for what is there already (a name taken, a policy attached). Which one is
#: decided by structured data only, never by the message, which is prose AWS may reword:
#: - the identity store's Reason field: UNIQUENESS_CONSTRAINT_VIOLATION is a taken name
#:   (AlreadyExistsError), CONCURRENT_MODIFICATION a race;
#: - else the operation: those in CONFLICT_MAYBE_DONE may mean either, and the caller makes a
#:   confirming read (is it there?) before retrying (iamlayer.aws.retry.settle, `done`); every
#:   other operation's ConflictException is a race, retried.
RETRY_CONFLICT_CODE = "ConflictException"
UNIQUENESS = "UNIQUENESS_CONSTRAINT_VIOLATION"
CONCURRENT_MODIFICATION = "CONCURRENT_MODIFICATION"

#: operation -> what its ConflictException can mean besides a race, and the confirming read
#: (iamlayer.aws.gateways.identity_center: has_...) that tells: it is there (done, or the name taken) or
#: not (a race, retried). Keyed by operation name: only sso-admin, identitystore and account-access answer
#: ConflictException among the services iamlayer calls (IAM says EntityAlreadyExists).
CONFLICT_MAYBE_DONE: Mapping[str, str] = {
    # sso-admin
    "CreatePermissionSet": "a permission set of that name exists: ListPermissionSets + DescribePermissionSet",
    "AttachManagedPolicyToPermissionSet": "attached already: ListManagedPoliciesInPermissionSet",
    "AttachCustomerManagedPolicyReferenceToPermissionSet": (
        "attached already: ListCustomerManagedPolicyReferencesInPermissionSet"
    ),
    "CreateAccountAssignment": "assigned already: ListAccountAssignments",
    # identitystore, when its answer has no Reason
    "CreateUser": "a user of that name exists: GetUserId",
    "CreateGroup": "a group of that name exists: GetGroupId",
    "CreateGroupMembership": "a member already: GetGroupMembershipId",
    # account-access
    "CreateEntitlement": "entitled already: ListEntitlements",
}
#: operations whose ConflictException is only ever a race (retried, no read): overwrites
#: (Put..., Update...), removals, and provisioning. Listed to state the decision; any operation
#: in neither table is treated as a race too.
CONFLICT_RACE_ONLY = frozenset(
    {
        "PutInlinePolicyToPermissionSet",
        "PutPermissionsBoundaryToPermissionSet",
        "ProvisionPermissionSet",
        "UpdatePermissionSet",
        "DeletePermissionSet",
        "DetachManagedPolicyFromPermissionSet",
        "DetachCustomerManagedPolicyReferenceFromPermissionSet",
        "DeleteInlinePolicyFromPermissionSet",
        "DeletePermissionsBoundaryFromPermissionSet",
        "DeleteAccountAssignment",
        "TagResource",
        "UntagResource",
        "UpdateUser",
        "UpdateGroup",
        "DeleteUser",
        "DeleteGroup",
        "DeleteGroupMembership",
        # account-access: one application per account is AlreadyCreatedException, not a conflict
        "CreateApplication",
        "DeleteEntitlement",
    }
)


def _conflict_class(operation: str, response: Mapping[str, Any]) -> tuple[type[AwsError], bool]:
    """(error class, maybe_done) of a ConflictException answered to `operation`."""
    reason = response.get("Reason")
    if reason == UNIQUENESS:
        return AlreadyExistsError, False
    maybe_done = reason != CONCURRENT_MODIFICATION and operation in CONFLICT_MAYBE_DONE
    return ConflictError, maybe_done


def translate(exc: Exception, attempted: str) -> Exception:
    """Map a botocore exception to an iamlayer error whose message starts with `attempted`."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        msg = exc.response.get("Error", {}).get("Message", "") or str(exc)
        op = getattr(exc, "operation_name", "")
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        text = f"{attempted}: {code}: {msg}"
        cls: type[AwsError] = AwsError
        if code == RETRY_CONFLICT_CODE:
            cls, maybe_done = _conflict_class(op, exc.response)
            if cls is ConflictError:
                return ConflictError(text, code=code, operation=op, status=status, maybe_done=maybe_done)
        elif code in ACCESS_DENIED_CODES:
            cls = AccessDeniedError
        elif code in NOT_FOUND_CODES:
            cls = NotFoundError
        elif code in ALREADY_EXISTS_CODES:
            cls = AlreadyExistsError
        elif code in THROTTLE_CODES:
            cls = ThrottledError
        return cls(text, code=code, operation=op, status=status)
    if isinstance(exc, EndpointConnectionError):
        url = str(exc.kwargs.get("endpoint_url", ""))
        if refused_on_loopback(exc):
            return EndpointError(
                f"{attempted}: nothing answers at {origin(url)}: is `iamlayer sandbox` running?",
                code="EndpointConnectionError",
            )
        return EndpointError(
            f"{attempted}: cannot reach {url or 'the AWS endpoint'}"
            " (is AWS_ENDPOINT_URL right, and is the sandbox running?)",
            code="EndpointConnectionError",
        )
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return CredentialsError(
            f"{attempted}: no AWS credentials found. Set AWS_PROFILE or pass --profile, or export "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (for the sandbox: see `iamlayer sandbox`)."
        )
    if isinstance(exc, NoRegionError):
        return CredentialsError(f"{attempted}: no AWS region set; set AWS_REGION or `region:` in the spec.")
    if isinstance(exc, ResponseParserError):
        return AwsError(f"{attempted}: {unreadable_answer(str(exc))}", code="InvalidResponse")
    if isinstance(exc, BotoCoreError):
        return AwsError(f"{attempted}: {exc}", code=type(exc).__name__)
    return exc


def origin(url: str) -> str:
    """`scheme://host[:port]` of `url`: the endpoint, without the request's path."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else url


def is_loopback_url(url: str) -> bool:
    """True when `url`'s host is this machine (localhost, 127.0.0.0/8, ::1): an emulator's."""
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refused_on_loopback(exc: BaseException | None) -> bool:
    """True for a connection refused by this machine: nothing listens at a local endpoint.

    That will not change within a retry's backoff (unlike a remote endpoint's hiccup), so such a
    failure is reported at once. botocore raises EndpointConnectionError whose `error` is
    urllib3's NewConnectionError, caused by the socket's ConnectionRefusedError.
    """
    if not isinstance(exc, EndpointConnectionError):
        return False
    if not is_loopback_url(str(exc.kwargs.get("endpoint_url", ""))):
        return False
    cause: BaseException | None = exc.kwargs.get("error")
    seen = 0
    while cause is not None and seen < 10:
        if isinstance(cause, ConnectionRefusedError):
            return True
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return False


_HTML_TITLE = re.compile(r"<title>\s*([^<]{1,120}?)\s*</title>", re.IGNORECASE)


def unreadable_answer(detail: str) -> str:
    """What to say about an answer that is not AWS's protocol, without the page itself.

    An endpoint that does not implement an API (the sandbox's emulator lacks a few) answers with
    an HTML error page; botocore's parser error quotes it whole. Its <title> says enough.
    """
    lowered = detail.lower()
    if "<html" in lowered or "<!doctype" in lowered:
        title = _HTML_TITLE.search(detail)
        status = f" ({title.group(1)})" if title else ""
        return (
            f"the endpoint answered with an HTML error page{status}, not an AWS answer: it does not "
            "implement this API (the sandbox's emulator lacks a few), or something between is failing"
        )
    return f"the endpoint gave an unreadable answer ({' '.join(detail.split())[:300]})"


@contextmanager
def aws_call(attempted: str) -> Iterator[None]:
    """Run boto3 calls, re-raising botocore errors as iamlayer errors that name `attempted`."""
    try:
        yield
    except (ClientError, BotoCoreError, ResponseParserError) as exc:
        raise translate(exc, attempted) from exc

"""A realistic-AWS harness: an HTTP proxy in front of the moto server that behaves as AWS does.

The emulator is consistent at once, never loses an answer, returns every list in one page and never
expires a session. AWS does all of that. Each AWS behaviour below is a switch a test turns on, alone
or together, by passing its settings to `AwsHarness` (or assigning the attribute at any time; `None`
is off). Every switch is off by default, so `AwsHarness(url)` is a plain forwarding proxy with the
per-action `Rule`s of the old fault proxy (hold, kill, deny...). Point a client at `harness.url`
(`harness.env(base_env)` gives the environment for a subprocess).

Seeded choices: where a switch acts on a share of calls, the choice for the k-th call of an action
is drawn from `Random(f"{seed}:{switch}:{action}:{k}")`, so a run is reproducible whatever the
interleaving of other actions (concurrent calls of the same action may swap their draws).

Accounts: every request is signed with an access key (`Credential=AKID/...` in the
Authorization header). Keys the harness has not seen belong to moto's default account 123456789012
(moto maps the root key `testing` there); keys handed out by AssumeRole belong to the role's account
(the AssumedRoleUser ARN), keys from GetSessionToken and CreateAccessKey to the caller's account,
and GetCallerIdentity teaches the account of any other key. Lag, expiry and the call record are
per account. `harness.map_key(key, account)` adds a key obtained elsewhere.

The switches and their model:

`Lag(seconds=2.0)`: IAM read-after-write lag, per account. IAM (not STS, not Organizations) only.
- Writes: every IAM call that is not Get*/List*/Simulate*/Generate*. A write counts
  from the moment it is forwarded (so a read racing it is never trusted) until `seconds` after the
  emulator answered it; a write that failed (HTTP >= 300) changed nothing and is forgotten.
- Reads are always forwarded, and every answer the emulator gives is recorded per (account,
  normalised request: action and parameters, without Version, and without Marker/MaxItems when
  `Pages` is on, so paging slices a lagged full answer). While some write of the account is not yet
  visible, the harness serves, of the answers recorded for that request, the one that saw the
  fewest invisible writes (a write that started before the answer counts as seen), the newest of
  those: the state before the first invisible write when the request was made before it. So a
  re-read right after CreateUser does not show the user, and shows it `seconds` after CreateUser
  answered. The harness cannot invent a state it never saw: a request first made after the write
  gets the fresh answer; and where an old record is all it has, it errs on the stale side (writes
  already visible may be missing too). GetCredentialReport is a read like any other, so the report
  lags too (GenerateCredentialReport is passed through). Reads and writes are recorded only while
  the switch is on: turn it on before the reads that are to go stale.
- A Get*/List* naming (UserName, GroupName, RoleName, PolicyArn; the login profile for
  Get/Update/DeleteLoginProfile) an entity created (CreateUser, CreateGroup, CreateRole,
  CreatePolicy, CreateLoginProfile) within `seconds` answers NoSuchEntity, as AWS does.
- A write naming such an entity other than the one it creates (AddUserToGroup right after
  CreateGroup or CreateUser, AttachGroupPolicy right after CreatePolicy, CreateLoginProfile right
  after CreateUser...) answers NoSuchEntity on a seeded `refer_share` of calls (1.0: always), and
  is not applied. AssumeRole of a role created within `seconds` answers AccessDenied likewise (a
  new role is not assumable at once).
- DeleteUser/DeleteGroup/DeleteRole/DeletePolicy/DeleteLoginProfile within `seconds` after a
  successful Detach*/Remove*/Delete*/Deactivate* naming that entity (DeleteGroup right after
  RemoveUserFromGroup, DeletePolicy right after DetachGroupPolicy, DeleteUser right after
  DeleteAccessKey...) answers DeleteConflict (HTTP 409) and is not applied (`delete_conflict`).

`Lose(actions=..., share=..., how="500"|"drop"|"either", times=None)`: lost responses. The call is
forwarded and applied by the emulator, then the client gets HTTP 500 InternalFailure ("500") or the
connection is closed without an answer ("drop": what a timeout looks like to botocore; both are
retried by botocore). It hits every call of `actions` and a seeded `share` of all other writes
(IAM, Organizations, sso-admin and identitystore), only when the emulator applied it (HTTP < 300;
with IcAsync, accepted it IN_PROGRESS), at most `times` in all (counted afresh whenever a new `Lose`
is assigned).
Each lost point is in the call record with the emulator's answer (`Call.upstream`: e.g. the id of
the access key the client never heard of).

`Throttle(share=0.2)`: AWS's Throttling error (HTTP 400, not forwarded) on a seeded share of calls
of the chosen services (IAM and STS by default; TooManyRequestsException for JSON services).

`Pages()`: AWS page sizes. For every operation in botocore's IAM paginator model
(`get_paginator_model("iam")`: its input/output tokens, limit key and result keys), the harness
strips Marker and MaxItems, asks the emulator for everything (MaxItems=1000000: moto pages a few
lists at 100 itself), and slices the XML answer: MaxItems honoured (1..1000, else ValidationError),
100 items when absent, IsTruncated set, an opaque Marker, resumed from the Marker. Each list is
served in the order of its items' identity (ARN, else id, serial number, tag key or name), and a
Marker stands for the last item served (the harness keeps the table; a Marker it never issued, or
issued for another request, answers ValidationError): the next page starts after that item in the
list as it is then, so deleting the items already served (removing a page of members, then asking
for the next page) skips nothing, and an item added before the cursor is not seen. An operation with
several result keys (GetAccountAuthorizationDetails, ListEntitiesForPolicy) pages across its lists
in the model's order, as one sequence. Organizations' paginated calls (ListAccounts...) are sliced
the same way in JSON: NextToken/MaxResults, 20 by default and at most (InvalidInputException above).

`Expire(after=5.0, grace=1.0)`: assumed-role sessions that expire, with compressed time. AssumeRole
answers report `Expiration = issue time + after + 15 min`: botocore refreshes refreshable
credentials once less than 15 min remain (advisory; 10 min is mandatory), so a client that
refreshes as botocore does switches to a new session `after` seconds after the issue, as it would
at minute 45 of a one-hour session. The harness answers ExpiredToken (HTTP 403, the query-protocol
error XML; ExpiredTokenException in JSON) to any request signed with that session's key once it was
signed (its X-Amz-Date, whole seconds: up to 1 s late) more than `after + grace` seconds after the
issue. Judging by the signing time, not the arrival, stands for the 15 minutes AWS leaves between
refresh and expiry: botocore's adaptive rate limiter holds a signed request for seconds under
throttling, and on AWS that wait never outlasts the session. A client holding static credentials
from AssumeRole (no refresh) fails once `after + grace` has passed. Only sessions issued while the
switch is on expire.

`StaleReport(seconds=4 * 3600)`: AWS regenerates the credential report at most every 4 hours.
The first GetCredentialReport answer of an account is served for `seconds` after it was made,
whatever changed since (issue 10, item 12).

`Dependents()`: AWS refuses (DeleteConflict, HTTP 409, not applied) DeleteGroup while the group has
members, attached or inline policies; DeletePolicy while the policy is attached anywhere or has
versions besides the default; DeleteUser while the user is in a group or has access keys, a login
profile, MFA devices, signing certificates or SSH keys. The emulator checks only roles and a
user's policies. The harness asks the emulator (whole lists, whatever `Pages` says) just before
forwarding the delete, with the client's own headers (moto does not check signatures).

Identity Center (sso-admin, which signs as "sso", and identitystore). The emulator answers every
asynchronous call SUCCEEDED at once, never answers ConflictException and is consistent at once:

`IcAsync(seconds=1.0, fail_share=0.0, fail_times=None)`: CreateAccountAssignment,
DeleteAccountAssignment and ProvisionPermissionSet answer IN_PROGRESS with a request id, and the
request is done `seconds` later whether anyone polls or not (a killed apply leaves it running, as
AWS does): then it is forwarded to the emulator (SUCCEEDED; an error of the emulator's: FAILED with
its message), or, for a seeded `fail_share` (at most `fail_times` in all), not at all: FAILED with
AWS-like FailureReason `reason`, nothing changed. Until done, what it makes is not listed and what it
deletes still is. Describe...Status of those request ids is answered by the harness (the emulator
lacks DescribePermissionSetProvisioningStatus). A DeleteAccountAssignment of an assignment that does
not exist answers ResourceNotFoundException at once, as the emulator does; a CreateAccountAssignment
of one that exists SUCCEEDS without a second one (the emulator would list it twice).

`IcConflict(share=1.0)`: a write naming a PermissionSetArn (attach, detach, put, update, provision,
create or delete an assignment, delete) while an IN_PROGRESS request on that permission set is not
done, or while another write to it is being forwarded, answers ConflictException (HTTP 409, no
Reason, not forwarded) on a seeded `share`. Reads are never refused.

`StoreLag(seconds=2.0)`: identitystore read-after-write lag, per account. Its writes and list
answers are recorded as `Lag` does for IAM (ListUsers, ListGroups, ListGroupMemberships are served
the state before writes younger than `seconds`); DescribeUser/DescribeGroup/DescribeGroupMembership,
GetUserId/GetGroupId (by name) and GetGroupMembershipId naming a user, group or membership created
within `seconds` answer ResourceNotFoundException. Writes are not refused.

`Pages` also slices sso-admin's and identitystore's paginated lists (botocore's paginator models:
NextToken/MaxResults; `ic_default` 100 items when MaxResults is absent, at most `ic_max` 100, else
ValidationException), identitystore items by their id, sso-admin items (ARNs, account ids,
assignments, policy references) by their whole value.

S3 (iamlayer's shared backend: locks, journal, ciphertexts). Its REST requests are named as AWS names
them (PutObject, GetObject, DeleteObject, ListObjectsV2, HeadBucket, PutBucketVersioning...), with
params Bucket, Key and the conditional headers If-Match / If-None-Match; a Rule's `contains` also
matches the request's path (`/bucket/prefix/locks/security.json`). `Lose` and rules act on them as
on any call (a PutObject or DeleteObject is a write; a lost one answers S3's InternalError XML).
AWS applies a conditional write atomically; the emulator checks the condition, then writes, with
no lock between: the harness forwards the writes of one object one at a time, as S3 orders them.

Where the emulator lacks an IAM API iamlayer calls, the harness answers as AWS would for what the
emulator can hold (always, whatever the switches; `Fault.EMULATED` in the record):
ListServiceSpecificCredentials (moto answers an HTML error page) lists none, since the emulator
cannot make service-specific credentials, or answers NoSuchEntity for a user that does not exist.
iamlayer's DeleteUser looks for them after a DeleteConflict, which Lag and Dependents cause.
Likewise for identitystore: a second CreateGroupMembership of a user already in the group answers
ConflictException with Reason UNIQUENESS_CONSTRAINT_VIOLATION (the emulator makes a duplicate), and
(without IcAsync) a CreateAccountAssignment of an existing assignment answers SUCCEEDED unforwarded.
`harness.ic_settled()` waits until every request answered IN_PROGRESS is done.

The call record (`harness.calls`, `harness.count(...)`, `harness.lost`): one `Call` per request
with its service, action, account, access key, parameters, its arrival (seconds since the harness
started, and wall-clock time), the status the client got (0: dropped), whether the emulator applied
it, the fault injected (a `Fault` value, or "rule:<mode>" for a Rule; "" for none), and the `label`
the test set (`harness.label`) for the command being run. It holds request parameters (passwords
included) in memory only, as the old `bodies` did.

Sessions (`harness.sessions`): from every successful GetSessionToken and AssumeRole answer the
harness learns the temporary key: who asked for it, whether MFA was used (a SerialNumber and
TokenCode in that request, or inherited from the MFA session that signed it) and when the code was
checked. With the call record, this is what evaluating each call as AWS would needs
(tests/e2e/test_person_path.py).

`Rule`s (kept from the fault proxy) act before the switches (only an expired session comes first),
per action and body substring:
- `throttle`: answer Throttling instead of forwarding (the first `times` matches);
- `deny`: answer AccessDenied instead of forwarding;
- `hold_before`: block, then drop the request: the call never reaches AWS;
- `hold_after`: forward, then block before answering (AWS did it, the caller never hears);
- `applied_then_conflict`: forward, then answer EntityAlreadyExists, as AWS answers a retried
  create whose first attempt went through;
- `applied_then_500`: forward, then answer HTTP 500 (AWS did it, the answer was lost: one chosen
  call, where `Lose` picks by action or share);
- `error`: answer the rule's `code`, `message` and `status` instead of forwarding (e.g. the
  InvalidAuthenticationCode AWS gives for a mistyped MFA code, which the emulator never does);
- `expired`: answer ExpiredToken instead of forwarding, as AWS answers temporary credentials past
  their expiry (one chosen call, where `Expire` models the session's lifetime).
Holding lets a test SIGKILL a real `iamlayer apply` at an exact point of its protocol.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import hashlib
import http.client
import json
import random
import re
import sys
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import botocore.session

DEFAULT_ACCOUNT = "123456789012"  # moto's account for keys it does not know (the root key `testing`)
NAMESPACES = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}
READ_PREFIXES = ("Get", "List", "Describe", "Simulate", "Generate")
STS_CALLS = frozenset(
    {"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "DecodeAuthorizationMessage"}
)
DETACH_PREFIXES = ("Detach", "Remove", "Delete", "Deactivate")
ALL_ITEMS = "1000000"  # what the harness asks the emulator for when it pages itself

# Entities a request names, by parameter; the login profile is named by the calls about it.
NAME_PARAMS = {"UserName": "user", "GroupName": "group", "RoleName": "role", "PolicyArn": "policy"}
LOGIN_PROFILE_CALLS = frozenset({"GetLoginProfile", "UpdateLoginProfile", "DeleteLoginProfile"})
CREATES = {
    "CreateUser": "user",
    "CreateGroup": "group",
    "CreateRole": "role",
    "CreatePolicy": "policy",
    "CreateLoginProfile": "login_profile",
}
DELETES = {
    "DeleteUser": "user",
    "DeleteGroup": "group",
    "DeleteRole": "role",
    "DeletePolicy": "policy",
    "DeleteLoginProfile": "login_profile",
}
# What AWS requires gone before it deletes an entity: (call listing it, its parameter, the lists in
# its answer (none: any answer but an error), how many make a conflict, AWS's message).
DEPENDENTS: dict[str, list[tuple[str, str, tuple[str, ...], int, str]]] = {
    "DeleteGroup": [
        ("GetGroup", "GroupName", ("Users",), 1, "Cannot delete entity, must remove users from group first."),
        (
            "ListAttachedGroupPolicies",
            "GroupName",
            ("AttachedPolicies",),
            1,
            "Cannot delete entity, must detach all policies first.",
        ),
        (
            "ListGroupPolicies",
            "GroupName",
            ("PolicyNames",),
            1,
            "Cannot delete entity, must delete policies first.",
        ),
    ],
    "DeletePolicy": [
        (
            "ListEntitiesForPolicy",
            "PolicyArn",
            ("PolicyGroups", "PolicyUsers", "PolicyRoles"),
            1,
            "Cannot delete a policy attached to entities.",
        ),
        (
            "ListPolicyVersions",
            "PolicyArn",
            ("Versions",),
            2,
            "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
        ),
    ],
    "DeleteUser": [
        (
            "ListGroupsForUser",
            "UserName",
            ("Groups",),
            1,
            "Cannot delete entity, must remove user from all groups first.",
        ),
        (
            "ListAccessKeys",
            "UserName",
            ("AccessKeyMetadata",),
            1,
            "Cannot delete entity, must delete access keys first.",
        ),
        ("GetLoginProfile", "UserName", (), 1, "Cannot delete entity, must delete login profile first."),
        (
            "ListMFADevices",
            "UserName",
            ("MFADevices",),
            1,
            "Cannot delete entity, must delete MFA device first.",
        ),
        (
            "ListSigningCertificates",
            "UserName",
            ("Certificates",),
            1,
            "Cannot delete entity, must delete signing certificates first.",
        ),
        (
            "ListSSHPublicKeys",
            "UserName",
            ("SSHPublicKeys",),
            1,
            "Cannot delete entity, must delete SSH public keys first.",
        ),
    ],
}
# -- Identity Center (sso-admin signs as "sso"; identitystore) ------------------------------------
IC_SERVICES = frozenset({"sso", "identitystore"})
#: asynchronous sso-admin calls: (the status key of the answer, the call that polls it, its id parameter)
ASYNC_CALLS: dict[str, tuple[str, str, str]] = {
    "CreateAccountAssignment": (
        "AccountAssignmentCreationStatus",
        "DescribeAccountAssignmentCreationStatus",
        "AccountAssignmentCreationRequestId",
    ),
    "DeleteAccountAssignment": (
        "AccountAssignmentDeletionStatus",
        "DescribeAccountAssignmentDeletionStatus",
        "AccountAssignmentDeletionRequestId",
    ),
    "ProvisionPermissionSet": (
        "PermissionSetProvisioningStatus",
        "DescribePermissionSetProvisioningStatus",
        "ProvisionPermissionSetRequestId",
    ),
}
STATUS_CALLS = {describe: (key, param) for key, describe, param in ASYNC_CALLS.values()}
ASSIGNMENT_FIELDS = ("TargetId", "TargetType", "PermissionSetArn", "PrincipalType", "PrincipalId")
#: the item identity of each identitystore list (sso-admin items are identified by their whole JSON)
_IC_ITEM_IDS = {"Users": "UserId", "Groups": "GroupId", "GroupMemberships": "MembershipId"}
IC_RESULT_KEYS = frozenset(
    {
        "PermissionSets",
        "AccountAssignments",
        "AttachedManagedPolicies",
        "CustomerManagedPolicyReferences",
        "AccountIds",
        "Instances",
    }
)
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/[^/]+/([^/]+)/aws4_request")
_ACCOUNT_IN_ARN = re.compile(r"arn:aws:(?:iam|sts)::(\d{12}):")


class Fault(StrEnum):
    """What the harness did instead of (or on top of) the emulator's plain answer."""

    NONE = ""
    THROTTLED = "throttled"
    EXPIRED = "expired_token"
    LOST_500 = "lost:500"
    LOST_DROP = "lost:drop"
    STALE = "lag:stale_read"  # an older recorded answer was served
    LAG_NOT_FOUND = "lag:not_found"  # an entity created within the lag
    LAG_NOT_ASSUMABLE = "lag:not_assumable"
    LAG_DELETE_CONFLICT = "lag:delete_conflict"
    REPORT_CACHED = "report:cached"
    DEPENDENTS = "dependents:delete_conflict"  # a delete AWS refuses while dependents remain
    BAD_PAGE = "pages:invalid"  # MaxItems out of range or a Marker the harness never issued
    EMULATED = "emulated"  # an API the emulator lacks, answered by the harness
    IC_ASYNC = "ic:async"  # an asynchronous sso-admin call answered IN_PROGRESS (done later)
    IC_IN_PROGRESS = "ic:in_progress"  # a status poll answered IN_PROGRESS
    IC_FAILED = "ic:failed"  # a status poll answered FAILED (the request did nothing)
    IC_CONFLICT = "ic:conflict"  # ConflictException: another operation on the permission set runs
    IC_CONFLICT_OTHERS = "ic:conflict_others"  # the same, caused by someone else (IcConflict.others)
    STORE_LAG_NOT_FOUND = "store_lag:not_found"  # an identitystore entity created within the lag
    UPSTREAM_ERROR = "upstream:error"  # the emulator did not answer (not a switch: a broken test run)


# -- the switches ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lag:
    seconds: float = 2.0
    refer_share: float = 1.0  # share of writes naming a just-created entity answered NoSuchEntity
    delete_conflict: bool = True
    accounts: frozenset[str] | None = None  # None: every account


@dataclass(frozen=True)
class Lose:
    actions: frozenset[str] = frozenset()  # every call of these (that the emulator applied)
    share: float = 0.0  # and this share of all other writes
    how: str = "500"  # "500" | "drop" | "either" (seeded)
    times: int | None = None  # at most this many lost responses in all
    accounts: frozenset[str] | None = None


@dataclass(frozen=True)
class Throttle:
    share: float = 0.2
    services: frozenset[str] = frozenset({"iam", "sts"})
    actions: frozenset[str] | None = None  # None: every action of those services


@dataclass(frozen=True)
class Pages:
    iam_default: int = 100
    iam_max: int = 1000
    org_default: int = 20
    org_max: int = 20
    ic_default: int = 100  # sso-admin and identitystore
    ic_max: int = 100


@dataclass(frozen=True)
class IcAsync:
    """Identity Center's asynchronous requests: IN_PROGRESS for `seconds`, then SUCCEEDED or FAILED."""

    seconds: float = 1.0
    fail_share: float = 0.0  # seeded share of requests that end FAILED (and change nothing)
    fail_times: int | None = None  # at most this many FAILED in all
    reason: str = "Received a 500 status error: The request could not be completed; retry it."


@dataclass(frozen=True)
class IcConflict:
    """ConflictException on a write to a permission set while another of its operations runs."""

    share: float = 1.0  # seeded share of such writes refused
    # A seeded share of the writes to a permission set that is not busy here refused all the
    # same, as when another operator or the console is working on it (at most `others_times`).
    others: float = 0.0
    others_times: int = 3


@dataclass(frozen=True)
class StoreLag:
    """identitystore read-after-write lag."""

    seconds: float = 2.0


@dataclass(frozen=True)
class Expire:
    after: float = 5.0
    grace: float = 1.0
    accounts: frozenset[str] | None = None  # sessions into these accounts expire; None: all


@dataclass(frozen=True)
class StaleReport:
    seconds: float = 4 * 3600.0


@dataclass(frozen=True)
class Dependents:
    """AWS's DeleteConflict for IAM entities that still have dependents (no settings)."""


# -- records --------------------------------------------------------------------------------------


@dataclass
class Rule:
    action: str  # AWS query Action, e.g. "CreateLoginProfile"
    # throttle | deny | error | expired | hold_before | hold_after | applied_then_conflict | applied_then_500
    mode: str
    contains: str = ""  # a substring the (URL-decoded) body must contain
    account: str = ""  # the account id the call must be made in (its access key's), if set
    times: int = 1_000_000  # how many matches the rule applies to
    code: str = ""  # for `error`
    message: str = ""  # for `error`
    status: int = 400  # for `error`
    hits: int = 0
    reached: threading.Event = field(default_factory=threading.Event)  # set on the first match
    release: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Call:
    """One request as the harness saw it and what the client got."""

    seq: int
    t: float  # seconds since the harness started, on arrival
    time: float  # time.time() on arrival
    label: str  # what the test was running (`AwsHarness.label` at the time)
    service: str  # from the signature's credential scope: iam, sts, organizations...
    action: str
    account: str  # the account of the access key
    access_key: str
    params: Mapping[str, str]
    status: int  # HTTP status the client got; 0 when the connection was dropped
    applied: bool  # forwarded to the emulator
    fault: str = Fault.NONE
    upstream: str = ""  # the emulator's answer, kept only when the client did not get it (lost)
    done: float = 0.0  # seconds since the harness started, when the answer was sent (or dropped)

    @property
    def faulted(self) -> bool:
        return bool(self.fault)

    @property
    def name(self) -> str:
        """The IAM action name: service:Action."""
        return f"{self.service}:{self.action}"

    @property
    def write(self) -> bool:
        """A call that changes something, by the rule `Lag` and `Lose` use (not STS, not a read)."""
        return (
            self.service not in ("", "sts")
            and not self.action.startswith(READ_PREFIXES)
            and self.action not in STS_CALLS
        )


@dataclass(frozen=True)
class Session:
    """A temporary access key, learned from a GetSessionToken or AssumeRole answer."""

    access_key_id: str
    via: str  # "GetSessionToken" or "AssumeRole"
    signer: str  # the access key that asked for it
    mfa: bool  # MFA was used to get it (in that request, or by the session that signed it)
    mfa_time: float | None  # when the MFA code was checked (time.time())
    arn: str | None  # AssumedRoleUser.Arn for role sessions


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    service: str
    access_key: str
    action: str
    protocol: str  # "query" | "json" | "rest" (S3) | "other"
    params: dict[str, str]  # query: form fields; json: top-level scalar fields as text
    text: str  # URL-decoded body, for Rule.contains and `bodies`
    arrived: float = field(default_factory=time.time)  # time.time() on arrival


def _error(service: str, protocol: str, code: str, message: str, status: int) -> Answer:
    if protocol == "rest":
        code = {"InternalFailure": "InternalError"}.get(code, code)  # S3's name for it
        body = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>aws-harness</RequestId></Error>"
        return Answer(status, [("Content-Type", "application/xml")], body.encode())
    if protocol == "query":
        ns = NAMESPACES.get(service, NAMESPACES["iam"])
        body = (
            f'<ErrorResponse xmlns="{ns}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{message}</Message></Error><RequestId>aws-harness</RequestId></ErrorResponse>"
        )
        return Answer(status, [("Content-Type", "text/xml")], body.encode())
    return Answer(
        status,
        [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)],
        json.dumps({"__type": code, "message": message}).encode(),
    )


def _parse_request(handler: BaseHTTPRequestHandler, body: bytes) -> Request:
    headers = dict(handler.headers.items())
    lower = {k.lower(): v for k, v in headers.items()}
    m = _CREDENTIAL.search(lower.get("authorization", ""))
    key, service = (m.group(1), m.group(2)) if m else ("", "")
    decoded = body.decode("utf-8", "replace")
    target = lower.get("x-amz-target", "")
    params: dict[str, str] = {}
    if target:
        protocol, action = "json", target.rsplit(".", 1)[-1]
        try:
            data = json.loads(decoded or "{}")
        except ValueError:
            data = {}
        if isinstance(data, dict):
            params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
    elif "x-www-form-urlencoded" in lower.get("content-type", "") or "Action=" in decoded:
        protocol = "query"
        params = dict(urllib.parse.parse_qsl(decoded, keep_blank_values=True))
        action = params.get("Action", "")
    elif service == "s3":
        protocol = "rest"
        action, params = _s3_request(handler.command, handler.path, lower)
    else:
        protocol, action = "other", f"{handler.command} {urllib.parse.urlparse(handler.path).path}"
    if protocol == "rest":
        decoded = urllib.parse.unquote(handler.path) + "\n" + decoded
    return Request(
        method=handler.command,
        path=handler.path,
        headers=headers,
        body=body,
        service=service,
        access_key=key,
        action=action,
        protocol=protocol,
        params=params,
        text=urllib.parse.unquote_plus(decoded) if protocol == "query" else decoded,
    )


#: S3's bucket subresources (a query parameter without value) -> the name in its actions
S3_SUBRESOURCES = {
    "versioning": "BucketVersioning",
    "encryption": "BucketEncryption",
    "publicAccessBlock": "PublicAccessBlock",
    "policy": "BucketPolicy",
    "policyStatus": "BucketPolicyStatus",
    "acl": "BucketAcl",
    "lifecycle": "BucketLifecycleConfiguration",
    "tagging": "BucketTagging",
    "location": "BucketLocation",
    "ownershipControls": "BucketOwnershipControls",
}
_S3_VERBS = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "HEAD": "Head", "POST": "Post"}
S3_OBJECT_ACTIONS = {"GET": "GetObject", "PUT": "PutObject", "DELETE": "DeleteObject", "HEAD": "HeadObject"}
S3_BUCKET_ACTIONS = {
    "PUT": "CreateBucket",
    "DELETE": "DeleteBucket",
    "HEAD": "HeadBucket",
    "GET": "ListObjects",
}


def _s3_request(method: str, path: str, headers: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """(action, params) of a path-style S3 request: `/bucket/key?query`."""
    url = urllib.parse.urlsplit(path)
    bucket, _, key = url.path.lstrip("/").partition("/")
    query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
    params = {"Bucket": bucket, "Key": urllib.parse.unquote(key)}
    params |= {h: headers[h.lower()] for h in ("If-Match", "If-None-Match") if h.lower() in headers}
    sub = next((S3_SUBRESOURCES[q] for q in query if q in S3_SUBRESOURCES), None)
    if key:
        action = "CopyObject" if "x-amz-copy-source" in headers else S3_OBJECT_ACTIONS.get(method, method)
    elif sub:
        action = _S3_VERBS.get(method, method) + sub
    elif method == "GET" and query.get("list-type") == "2":
        action = "ListObjectsV2"
    elif method == "GET" and "versions" in query:
        action = "ListObjectVersions"
    elif method == "POST" and "delete" in query:
        action = "DeleteObjects"
    else:
        action = S3_BUCKET_ACTIONS.get(method, method)
    return action, params


def _signed_at(req: Request) -> float:
    """When the request was signed (X-Amz-Date, whole seconds, UTC), else now."""
    stamp = next((v for k, v in req.headers.items() if k.lower() == "x-amz-date"), "")
    try:
        return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return time.time()


def _is_write(req: Request) -> bool:
    if req.protocol == "rest":
        return req.method in ("PUT", "POST", "DELETE")
    return (
        req.protocol != "other"
        and req.service != "sts"
        and not req.action.startswith(READ_PREFIXES)
        and req.action not in STS_CALLS
    )


def _entities(action: str, params: Mapping[str, str]) -> set[str]:
    """The IAM entities a request names, as "kind:name" (names are case-insensitive in IAM)."""
    named = {f"{kind}:{params[p].lower()}" for p, kind in NAME_PARAMS.items() if params.get(p)}
    if action in LOGIN_PROFILE_CALLS and params.get("UserName"):
        named.add(f"login_profile:{params['UserName'].lower()}")
    return named


def _own_entity(kinds: Mapping[str, str], action: str, params: Mapping[str, str]) -> str | None:
    """The entity a Create*/Delete* call is about (the user of CreateUser...)."""
    kind = kinds.get(action)
    if kind is None:
        return None
    if kind == "login_profile":
        return f"login_profile:{params.get('UserName', '').lower()}"
    param = next(p for p, k in NAME_PARAMS.items() if k == kind)
    return f"{kind}:{params.get(param, '').lower()}" if params.get(param) else None


def _xml_text(body: bytes, tag: str) -> str | None:
    m = re.search(rf"<{tag}>([^<]*)</{tag}>".encode(), body)
    return m.group(1).decode() if m else None


# -- paging ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Paginated:
    input_token: str
    output_token: str
    limit_key: str
    more_results: str | None
    result_keys: tuple[str, ...]


def _paginator_model(service: str) -> dict[str, _Paginated]:
    """botocore's paginator model of `service`: per operation, its tokens, page size key and lists."""
    session = botocore.session.get_session()
    model = session.get_paginator_model(service)
    out = {}
    for op in session.get_service_model(service).operation_names:
        try:
            c = model.get_paginator(op)
        except ValueError:
            continue  # not paginated
        if not all(isinstance(c.get(k), str) for k in ("input_token", "output_token", "limit_key")):
            continue  # several tokens or no page size: none of the calls iamlayer makes
        keys = c["result_key"]
        out[op] = _Paginated(
            c["input_token"],
            c["output_token"],
            c["limit_key"],
            c.get("more_results"),
            tuple(keys if isinstance(keys, list) else [keys]),
        )
    return out


class _PageError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _digest(action: str, params: Mapping[str, str]) -> str:
    text = action + "&" + urllib.parse.urlencode(sorted(params.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# An item's identity, for its order and the cursor: the first child whose tag ends with one of these.
_IDENTITY_TAGS = ("Arn", "Id", "SerialNumber", "Key", "Name")

Cursor = tuple[int, str]  # (index of the result list, identity of the last item served)


def _xml_identity(member: ET.Element) -> str:
    if len(member) == 0:
        return member.text or ""
    for suffix in _IDENTITY_TAGS:
        for child in member:
            if child.tag.rsplit("}", 1)[-1].endswith(suffix):
                return child.text or ""
    return ET.tostring(member, encoding="unicode")


def _json_identity(item: Any, key: str = "") -> str:
    if key in _IC_ITEM_IDS and isinstance(item, dict):
        return str(item.get(_IC_ITEM_IDS[key], ""))
    if key in IC_RESULT_KEYS:
        return json.dumps(item, sort_keys=True, default=str)  # e.g. an assignment: all its fields
    if isinstance(item, dict):
        for suffix in _IDENTITY_TAGS:
            for k, v in item.items():
                if k.endswith(suffix) and isinstance(v, str):
                    return v
    return json.dumps(item, sort_keys=True, default=str)


def _window(keys: list[Cursor], cursor: Cursor | None, limit: int) -> tuple[int, int]:
    """[start, end) of the page after `cursor` in the sorted `keys`."""
    start = bisect.bisect_right(keys, cursor) if cursor is not None else 0
    return start, min(start + limit, len(keys))


def _slice_xml(
    body: bytes, model: _Paginated, cursor: Cursor | None, limit: int, token: Callable[[Cursor], str]
) -> bytes:
    """The page after `cursor` of a query-protocol answer, across the result lists in order."""
    root = ET.fromstring(body)
    ns = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""

    def q(name: str) -> str:
        return f"{{{ns}}}{name}" if ns else name

    result = next(c for c in root if c.tag.endswith("Result"))
    items: list[tuple[Cursor, ET.Element, ET.Element]] = []
    for i, key in enumerate(model.result_keys):
        container = result.find(q(key))
        if container is not None:
            items += sorted((((i, _xml_identity(m)), container, m) for m in container), key=lambda t: t[0])
    start, end = _window([k for k, _, _ in items], cursor, limit)
    for _, container, member in items:
        container.remove(member)
    for _, container, member in items[start:end]:
        container.append(member)
    for name in (model.output_token, model.more_results):
        for old in result.findall(q(name)) if name else ():
            result.remove(old)
    truncated = end < len(items)
    if model.more_results:
        ET.SubElement(result, q(model.more_results)).text = "true" if truncated else "false"
    if truncated:
        ET.SubElement(result, q(model.output_token)).text = token(items[end - 1][0])
    return ET.tostring(root, encoding="unicode", default_namespace=ns or None).encode()


def _slice_json(
    body: bytes, model: _Paginated, cursor: Cursor | None, limit: int, token: Callable[[Cursor], str]
) -> bytes:
    """The same for a JSON-protocol answer (Organizations)."""
    data = json.loads(body)
    items = [
        ((i, _json_identity(x, key)), key, x)
        for i, key in enumerate(model.result_keys)
        for x in data.get(key, [])
    ]
    items.sort(key=lambda t: t[0])
    start, end = _window([k for k, _, _ in items], cursor, limit)
    for key in model.result_keys:
        if key in data:
            data[key] = [x for _, k, x in items[start:end] if k == key]
    data.pop(model.output_token, None)
    if end < len(items):
        data[model.output_token] = token(items[end - 1][0])
    return json.dumps(data, default=str).encode()


# -- lag bookkeeping ------------------------------------------------------------------------------


@dataclass
class _Record:
    end: float  # when the emulator answered
    answer: Answer


@dataclass
class _Write:
    start: float
    end: float = float("inf")  # in flight until answered


@dataclass
class _AccountLag:
    writes: list[_Write] = field(default_factory=list)
    created: dict[str, float] = field(default_factory=dict)  # entity -> when its create answered
    detached: dict[str, float] = field(default_factory=dict)  # entity -> last detach from it
    reads: dict[tuple[str, ...], list[_Record]] = field(default_factory=dict)


@dataclass
class _IcOp:
    """An asynchronous Identity Center request the harness answered IN_PROGRESS."""

    action: str
    permission_set: str
    status: dict[str, Any]  # what the status poll answers (Status, RequestId, the request's fields)
    done: bool = False


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _json_params(req: Request) -> dict[str, Any]:
    return _json_body(req.body)


def _store_named(action: str, data: Mapping[str, Any]) -> set[str]:
    """The identitystore entities a read names, as "kind:id:..." / "kind:name:..."."""
    if action == "DescribeUser":
        return {f"user:id:{data.get('UserId', '')}"}
    if action == "DescribeGroup":
        return {f"group:id:{data.get('GroupId', '')}"}
    if action == "DescribeGroupMembership":
        return {f"membership:id:{data.get('MembershipId', '')}"}
    if action in ("GetUserId", "GetGroupId"):
        unique = (data.get("AlternateIdentifier") or {}).get("UniqueAttribute") or {}
        kind = "user" if action == "GetUserId" else "group"
        return {f"{kind}:name:{str(unique.get('AttributeValue', '')).lower()}"}
    if action == "GetGroupMembershipId":
        user = (data.get("MemberId") or {}).get("UserId", "")
        return {f"membership:pair:{data.get('GroupId', '')}/{user}"}
    return set()


def _store_created(action: str, data: Mapping[str, Any], answer: Mapping[str, Any]) -> set[str]:
    """The identitystore entities a successful create made (by id and by name or pair)."""
    if action == "CreateUser":
        return {f"user:id:{answer.get('UserId', '')}", f"user:name:{str(data.get('UserName', '')).lower()}"}
    if action == "CreateGroup":
        return {
            f"group:id:{answer.get('GroupId', '')}",
            f"group:name:{str(data.get('DisplayName', '')).lower()}",
        }
    if action == "CreateGroupMembership":
        user = (data.get("MemberId") or {}).get("UserId", "")
        return {
            f"membership:id:{answer.get('MembershipId', '')}",
            f"membership:pair:{data.get('GroupId', '')}/{user}",
        }
    return set()


# -- the harness ----------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (a killed apply, a dropped answer) is no error of the harness's."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class AwsHarness:
    """A threaded HTTP proxy in front of the emulator with AWS's behaviours as switches (see module)."""

    IAM_PAGES = _paginator_model("iam")
    ORG_PAGES = _paginator_model("organizations")
    IC_PAGES: ClassVar[dict[tuple[str, str], _Paginated]] = {
        **{("sso", op): m for op, m in _paginator_model("sso-admin").items()},
        **{("identitystore", op): m for op, m in _paginator_model("identitystore").items()},
    }

    def __init__(
        self,
        upstream: str,
        *,
        seed: int = 0,
        lag: Lag | None = None,
        lose: Lose | None = None,
        throttle: Throttle | None = None,
        pages: Pages | None = None,
        expire: Expire | None = None,
        stale_report: StaleReport | None = None,
        dependents: Dependents | None = None,
        ic_async: IcAsync | None = None,
        ic_conflict: IcConflict | None = None,
        store_lag: StoreLag | None = None,
    ) -> None:
        u = urllib.parse.urlparse(upstream)
        self.host, self.port_up = u.hostname or "127.0.0.1", u.port or 80
        self.seed = seed
        self.lag, self.lose, self.throttle = lag, lose, throttle
        self.pages, self.expire, self.stale_report = pages, expire, stale_report
        self.dependents = dependents
        self.ic_async, self.ic_conflict, self.store_lag = ic_async, ic_conflict, store_lag
        self._ic_ops: dict[str, _IcOp] = {}  # request id -> the request answered IN_PROGRESS
        self._ic_busy: Counter[str] = Counter()  # permission set ARN -> its writes being forwarded
        self._ic_others = 0  # ConflictExceptions answered for someone else's operation
        self._ic_failed = 0
        self.rules: list[Rule] = []
        self.seen: list[str] = []  # actions, in arrival order
        self.bodies: dict[str, list[str]] = {}  # action -> URL-decoded request bodies, in order
        self._calls: list[Call] = []
        self._keys: dict[str, str] = {}  # access key -> account
        self.sessions: dict[str, Session] = {}  # temporary access key -> what it is (see module)
        self.label = ""  # stamped on each Call: what the test is running
        self._deadlines: dict[str, float] = {}  # session access key -> epoch second it is rejected after
        self._lag_state: dict[str, _AccountLag] = {}
        self._reports: dict[str, _Record] = {}  # account -> the pinned credential report answer
        self._markers: dict[str, tuple[str, Cursor]] = {}  # Marker handed out -> (request digest, cursor)
        self._draws: Counter[tuple[str, str]] = Counter()
        self._lost, self._lost_for = 0, lose
        self._lock = threading.Lock()
        self._object_locks: dict[tuple[str, str], threading.Lock] = {}  # S3 (bucket, key): see _object_guard
        self._t0 = time.monotonic()
        harness = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                answer = harness._process(_parse_request(self, body))
                if answer is None:
                    self.close_connection = True  # no answer at all: the client sees a dropped connection
                    return
                self.send_response(answer.status)
                for k, v in answer.headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @classmethod
    def realistic(cls, upstream: str, *, seed: int = 0, **overrides: Any) -> AwsHarness:
        """Every switch on with AWS-like defaults (2 s lag, 20% throttling, 5% lost writes, AWS page
        sizes, sessions expiring after 30 s, delete conflicts, Identity Center's requests in progress
        for 1 s and its conflicts, 2 s identitystore lag; not the hours-old credential report);
        `overrides` replace any of them (None turns one off)."""
        switches: dict[str, Any] = {
            "lag": Lag(2.0),
            "lose": Lose(share=0.05, how="either"),
            "throttle": Throttle(0.2),
            "pages": Pages(),
            "expire": Expire(after=30.0),
            "dependents": Dependents(),
            "ic_async": IcAsync(1.0),
            "ic_conflict": IcConflict(),
            "store_lag": StoreLag(2.0),
        }
        return cls(upstream, seed=seed, **{**switches, **overrides})

    # -- the public record --------------------------------------------------------------------

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` with AWS_ENDPOINT_URL pointing at the harness (for a CLI subprocess)."""
        return {**base, "AWS_ENDPOINT_URL": self.url}

    def reseed(self, seed: int) -> None:
        """Start the seeded draws afresh from `seed`, as a new harness would."""
        with self._lock:
            self.seed = seed
            self._draws.clear()

    def map_key(self, access_key: str, account: str) -> None:
        with self._lock:
            self._keys[access_key] = account

    def account_of(self, access_key: str) -> str:
        with self._lock:
            return self._keys.get(access_key, DEFAULT_ACCOUNT)

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    @property
    def lost(self) -> list[Call]:
        """Calls the emulator applied whose answer the client never got (by `Lose`, or by the
        rules `applied_then_500` and `applied_then_conflict`)."""
        return [c for c in self.calls if c.applied and c.upstream]

    def count(
        self,
        action: str | None = None,
        *,
        account: str | None = None,
        fault: str | Iterable[str] | None = None,
        service: str | None = None,
    ) -> int:
        faults = {fault} if isinstance(fault, str) else set(fault) if fault is not None else None
        return sum(
            1
            for c in self.calls
            if (action is None or c.action == action)
            and (account is None or c.account == account)
            and (service is None or c.service == service)
            and (faults is None or c.fault in faults)
        )

    # -- rules (the old fault proxy's API) -------------------------------------------------------

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Release every held call and forget the rules (the switches stay as they are)."""
        with self._lock:
            for r in self.rules:
                r.release.set()
            self.rules.clear()

    def _match(self, action: str, text: str, account: str = "") -> Rule | None:
        with self._lock:
            for r in self.rules:
                if (
                    r.action == action
                    and r.contains in text
                    and r.account in ("", account)
                    and r.hits < r.times
                ):
                    r.hits += 1
                    return r
        return None

    def __enter__(self) -> AwsHarness:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.clear()
        self.server.shutdown()
        self.server.server_close()

    # -- the pipeline -------------------------------------------------------------------------

    def _draw(self, switch: str, action: str) -> float:
        with self._lock:
            k = self._draws[(switch, action)]
            self._draws[(switch, action)] += 1
        return random.Random(f"{self.seed}:{switch}:{action}:{k}").random()

    def _now(self) -> float:
        return time.monotonic()

    def _process(self, req: Request) -> Answer | None:
        arrived = self._now()
        account = self.account_of(req.access_key)
        sent = dict(req.params)  # paging rewrites the request; the record keeps what the client sent
        self.seen.append(req.action)
        self.bodies.setdefault(req.action, []).append(req.text)
        status, applied, fault, upstream = 0, False, Fault.NONE, ""
        answer: Answer | None = None
        try:
            answer, applied, fault, upstream = self._respond(req, account)
            status = answer.status if answer else 0
            return answer
        except OSError as exc:
            # The emulator did not answer (refused, reset, timed out): the client sees the
            # connection dropped, and the record says why (the write may or may not be applied).
            fault, upstream = Fault.UPSTREAM_ERROR, f"{type(exc).__name__}: {exc}"
            return None
        finally:
            with self._lock:
                self._calls.append(
                    Call(
                        seq=len(self._calls),
                        t=arrived - self._t0,
                        time=req.arrived,
                        label=self.label,
                        service=req.service,
                        action=req.action,
                        account=account,
                        access_key=req.access_key,
                        params=sent,
                        status=status,
                        applied=applied,
                        fault=fault,
                        upstream=upstream,
                        done=self._now() - self._t0,
                    )
                )

    def _respond(self, req: Request, account: str) -> tuple[Answer | None, bool, str, str]:
        """(answer or None to drop, applied by the emulator, fault, the lost upstream answer)."""
        err = self._pre_faults(req, account)
        if err is not None:
            return err[0], False, err[1], ""
        rule = self._match(req.action, req.text, account)
        if rule and rule.mode == "throttle":
            return self._throttling(req), False, "rule:throttle", ""
        if rule and rule.mode == "deny":
            msg = f"User is not authorized to perform: {req.service}:{req.action}"
            return _error(req.service, req.protocol, "AccessDenied", msg, 403), False, "rule:deny", ""
        if rule and rule.mode == "error":
            failure = _error(req.service, req.protocol, rule.code, rule.message, rule.status)
            return failure, False, "rule:error", ""
        if rule and rule.mode == "expired":
            return self._expired(req), False, "rule:expired", ""
        if rule and rule.mode == "hold_before":
            rule.reached.set()
            rule.release.wait(120)
            return None, False, "rule:hold_before", ""  # the call never reaches AWS, even once released
        if (t := self.throttle) and self._throttled(t, req):
            return self._throttling(req), False, Fault.THROTTLED, ""
        lagged = self._lag_prechecks(req, account) or self._store_lag_prechecks(req, account)
        if lagged is not None:
            return lagged[0], False, lagged[1], ""
        emulated = self._emulate_missing(req)
        if emulated is not None:
            return emulated, False, Fault.EMULATED, ""
        polled = self._ic_status(req)
        if polled is not None:
            return polled[0], False, polled[1], ""
        claimed = self._ic_claim(req)
        if isinstance(claimed, tuple):
            return claimed[0], False, claimed[1], ""
        try:
            return self._respond_forwarded(req, account, rule)
        finally:
            self._ic_release(claimed)

    def _respond_forwarded(
        self, req: Request, account: str, rule: Rule | None
    ) -> tuple[Answer | None, bool, str, str]:
        refused = self._dependents_conflict(req)
        if refused is not None:
            return _error("iam", "query", "DeleteConflict", refused, 409), False, Fault.DEPENDENTS, ""

        try:
            page = self._page_request(req)
        except _PageError as e:
            return _error(req.service, req.protocol, e.code, e.message, 400), False, Fault.BAD_PAGE, ""
        submitted = self._ic_submit(req)
        if submitted is not None:
            answer, fault = submitted
        else:
            with self._object_guard(req):
                answer, fault = self._forward_with_lag(req, account, page)
        answer, report_fault = self._pin_report(req, account, answer)
        fault = report_fault or fault
        self._learn(req, account, answer)

        lost_how = self._lose_how(req, account, answer)
        if rule and rule.mode == "applied_then_conflict":
            conflict = _error(
                req.service,
                req.protocol,
                "EntityAlreadyExists",
                "Login Profile for user already exists.",
                409,
            )
            return conflict, True, "rule:applied_then_conflict", answer.body.decode("utf-8", "replace")
        if rule and rule.mode == "applied_then_500":
            failure = _error(req.service, req.protocol, "InternalFailure", "An internal error occurred.", 500)
            return failure, True, "rule:applied_then_500", answer.body.decode("utf-8", "replace")
        if lost_how is not None:
            upstream = answer.body.decode("utf-8", "replace")
            if lost_how == "drop":
                return None, True, Fault.LOST_DROP, upstream
            failure = _error(req.service, req.protocol, "InternalFailure", "An internal error occurred.", 500)
            return failure, True, Fault.LOST_500, upstream
        if page is not None and answer.status == 200:
            answer = self._page_answer(req, page, answer)
        if rule and rule.mode == "hold_after":
            rule.reached.set()
            rule.release.wait(120)
            fault = fault or "rule:hold_after"
        return answer, True, fault, ""

    def _object_guard(self, req: Request) -> threading.Lock | contextlib.nullcontext[None]:
        """One write at a time per S3 object: S3 applies a conditional write atomically, the emulator
        checks then writes (two If-None-Match writes let through together would both succeed)."""
        if req.protocol != "rest" or not _is_write(req) or not req.params.get("Key"):
            return contextlib.nullcontext()
        with self._lock:
            return self._object_locks.setdefault((req.params["Bucket"], req.params["Key"]), threading.Lock())

    def _forward(self, req: Request, body: bytes) -> Answer:
        conn = http.client.HTTPConnection(self.host, self.port_up, timeout=120)
        skip = ("host", "connection", "content-length")
        headers = {k: v for k, v in req.headers.items() if k.lower() not in skip}
        conn.request(req.method, req.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        hdrs = [
            (k, v)
            for k, v in resp.getheaders()
            if k.lower() not in ("transfer-encoding", "connection", "content-length")
        ]
        conn.close()
        return Answer(resp.status, hdrs, data)

    # -- expiry and throttling ------------------------------------------------------------------

    def _pre_faults(self, req: Request, account: str) -> tuple[Answer, str] | None:
        with self._lock:
            deadline = self._deadlines.get(req.access_key)
        if deadline is not None and _signed_at(req) > deadline:
            return self._expired(req), Fault.EXPIRED
        return None

    def _expired(self, req: Request) -> Answer:
        msg = "The security token included in the request is expired"
        code = "ExpiredToken" if req.protocol == "query" else "ExpiredTokenException"
        return _error(req.service, req.protocol, code, msg, 403 if req.protocol == "query" else 400)

    def _throttled(self, t: Throttle, req: Request) -> bool:
        if req.service not in t.services or (t.actions is not None and req.action not in t.actions):
            return False
        return self._draw("throttle", req.action) < t.share

    def _throttling(self, req: Request) -> Answer:
        code = "Throttling" if req.protocol == "query" else "TooManyRequestsException"
        return _error(req.service, req.protocol, code, "Rate exceeded", 400)

    # -- lost responses -------------------------------------------------------------------------

    def _lose_how(self, req: Request, account: str, answer: Answer) -> str | None:
        lose = self.lose
        if lose is None or answer.status >= 300 or req.protocol == "other":
            return None
        if lose.accounts is not None and account not in lose.accounts:
            return None
        chosen = req.action in lose.actions or (
            lose.share > 0 and _is_write(req) and self._draw("lose", req.action) < lose.share
        )
        if not chosen:
            return None
        with self._lock:
            if self._lost_for is not lose:  # a new Lose setting counts its `times` afresh
                self._lost_for, self._lost = lose, 0
            if lose.times is not None and self._lost >= lose.times:
                return None
            self._lost += 1
        if lose.how == "either":
            return "drop" if self._draw("lose-how", req.action) < 0.5 else "500"
        return lose.how

    # -- what the harness learns from answers (keys, accounts, sessions) ----------------------------

    def _learn(self, req: Request, account: str, answer: Answer) -> None:
        if answer.status != 200:
            return
        key = _xml_text(answer.body, "AccessKeyId")
        if req.action in ("AssumeRole", "GetSessionToken") and key:
            self._learn_session(req, key, answer)
        if req.action == "AssumeRole" and key:
            arn = _xml_text(answer.body, "Arn") or req.params.get("RoleArn", "")
            m = _ACCOUNT_IN_ARN.search(arn)
            target = m.group(1) if m else account
            self.map_key(key, target)
            exp = self.expire
            if exp is not None and (exp.accounts is None or target in exp.accounts):
                with self._lock:
                    self._deadlines[key] = time.time() + exp.after + exp.grace
                reported = datetime.now(UTC) + timedelta(seconds=exp.after, minutes=15)
                stamp = reported.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                answer.body = re.sub(
                    rb"<Expiration>[^<]*</Expiration>",
                    f"<Expiration>{stamp}</Expiration>".encode(),
                    answer.body,
                )
        elif req.action in ("GetSessionToken", "CreateAccessKey") and key:
            self.map_key(key, account)
        elif req.action == "GetCallerIdentity" and req.access_key:
            learnt = _xml_text(answer.body, "Account")
            if learnt:
                with self._lock:
                    self._keys.setdefault(req.access_key, learnt)

    def _learn_session(self, req: Request, key: str, answer: Answer) -> None:
        with self._lock:
            parent = self.sessions.get(req.access_key)
        if req.params.get("SerialNumber") and req.params.get("TokenCode"):
            mfa, mfa_time = True, req.arrived
        elif parent is not None and parent.mfa:
            mfa, mfa_time = True, parent.mfa_time  # a role session keeps its caller's MFA context
        else:
            mfa, mfa_time = False, None
        arn = _xml_text(answer.body, "Arn") if req.action == "AssumeRole" else None
        with self._lock:
            self.sessions[key] = Session(key, req.action, req.access_key, mfa, mfa_time, arn)

    # -- paging -------------------------------------------------------------------------------

    def _page_request(self, req: Request) -> tuple[_Paginated, Cursor | None, int, str] | None:
        """For a paginated call with Pages on: (model, cursor, page size, request digest), and the
        request rewritten to ask the emulator for everything."""
        pages = self.pages
        if pages is None:
            return None
        if req.service == "iam" and req.protocol == "query":
            model, default, top = self.IAM_PAGES.get(req.action), pages.iam_default, pages.iam_max
        elif req.service == "organizations" and req.protocol == "json":
            model, default, top = self.ORG_PAGES.get(req.action), pages.org_default, pages.org_max
        elif req.service in IC_SERVICES and req.protocol == "json":
            model, default, top = self.IC_PAGES.get((req.service, req.action)), pages.ic_default, pages.ic_max
        else:
            return None
        if model is None:
            return None
        invalid = {
            "query": "ValidationError",
            "sso": "ValidationException",
            "identitystore": "ValidationException",
        }
        invalid = invalid.get(
            req.protocol if req.protocol == "query" else req.service, "InvalidInputException"
        )
        params = dict(req.params)
        raw_limit = params.pop(model.limit_key, None)
        token = params.pop(model.input_token, None)
        digest = _digest(req.action, {k: v for k, v in params.items() if k != "Version"})
        try:
            limit = int(raw_limit) if raw_limit is not None else default
        except ValueError:
            limit = -1
        if not 1 <= limit <= top:
            raise _PageError(
                invalid,
                f"1 validation error detected: Value '{raw_limit}' at '{model.limit_key}' failed to satisfy "
                f"constraint: Member must have value between 1 and {top}",
            )
        cursor = None
        if token is not None:
            with self._lock:
                issued = self._markers.get(token)
            if issued is None or issued[0] != digest:
                raise _PageError(invalid, f"Invalid pagination token {token!r} for this request")
            cursor = issued[1]
        params[model.limit_key] = ALL_ITEMS
        if req.protocol == "query":
            req.body = urllib.parse.urlencode(params).encode()
        else:
            data = json.loads(req.body or b"{}")
            data.pop(model.input_token, None)
            data[model.limit_key] = int(ALL_ITEMS)
            req.body = json.dumps(data).encode()
        req.params = params
        return model, cursor, limit, digest

    def _marker(self, digest: str, cursor: Cursor) -> str:
        """An opaque token the harness resolves itself, as AWS's markers are opaque to clients."""
        token = base64.urlsafe_b64encode(hashlib.sha256(f"{digest}:{cursor}".encode()).digest()[:18]).decode()
        with self._lock:
            self._markers[token] = (digest, cursor)
        return token

    def _page_answer(
        self, req: Request, page: tuple[_Paginated, Cursor | None, int, str], answer: Answer
    ) -> Answer:
        model, cursor, limit, digest = page
        slicer = _slice_xml if req.protocol == "query" else _slice_json
        body = slicer(answer.body, model, cursor, limit, lambda last: self._marker(digest, last))
        return Answer(answer.status, answer.headers, body)

    # -- lag ----------------------------------------------------------------------------------

    def _lag_on(self, account: str) -> Lag | None:
        lag = self.lag
        if lag is None or (lag.accounts is not None and account not in lag.accounts):
            return None
        return lag

    def _acct(self, account: str) -> _AccountLag:
        return self._lag_state.setdefault(account, _AccountLag())

    def _recent(self, when: float | None, lag: Lag) -> bool:
        return when is not None and self._now() - when < lag.seconds

    def _lag_prechecks(self, req: Request, account: str) -> tuple[Answer, str] | None:
        if req.action == "AssumeRole":
            m = re.match(r"arn:aws:iam::(\d{12}):role/(?:.*/)?([^/]+)$", req.params.get("RoleArn", ""))
            lag = self._lag_on(m.group(1)) if m else None
            if m and lag is not None:
                with self._lock:
                    created = self._acct(m.group(1)).created.get(f"role:{m.group(2).lower()}")
                if self._recent(created, lag) and self._draw("lag-refer", req.action) < lag.refer_share:
                    msg = f"User is not authorized to perform: sts:AssumeRole on resource: {req.params['RoleArn']}"
                    return _error("sts", "query", "AccessDenied", msg, 403), Fault.LAG_NOT_ASSUMABLE
            return None
        lag = self._lag_on(account)
        if lag is None or req.service != "iam" or req.protocol != "query":
            return None
        named = _entities(req.action, req.params)
        with self._lock:
            state = self._acct(account)
            created = {e: state.created.get(e) for e in named}
            detached = state.detached.get(_own_entity(DELETES, req.action, req.params) or "")
        fresh = sorted(e for e, when in created.items() if self._recent(when, lag))
        if not _is_write(req):
            if fresh:
                return self._no_such_entity(fresh[0]), Fault.LAG_NOT_FOUND
            return None
        own = _own_entity(CREATES, req.action, req.params)
        refers = [e for e in fresh if e != own]
        if refers and self._draw("lag-refer", req.action) < lag.refer_share:
            return self._no_such_entity(refers[0]), Fault.LAG_NOT_FOUND
        if lag.delete_conflict and self._recent(detached, lag):
            msg = "Cannot delete entity, must remove dependent entities first (they are still being removed)."
            return _error("iam", "query", "DeleteConflict", msg, 409), Fault.LAG_DELETE_CONFLICT
        return None

    def _no_such_entity(self, entity: str) -> Answer:
        kind, name = entity.split(":", 1)
        what = {"login_profile": "Login Profile for User", "policy": "Policy"}.get(
            kind, f"The {kind} with name"
        )
        return _error("iam", "query", "NoSuchEntity", f"{what} {name} cannot be found.", 404)

    def _lag_scope(self, req: Request, account: str) -> tuple[str, float] | None:
        """(the key of the lag state, the lag in seconds) for a call some lag switch covers."""
        if req.service == "iam" and req.protocol == "query":
            lag = self._lag_on(account)
            return (account, lag.seconds) if lag is not None else None
        store = self.store_lag
        if req.service == "identitystore" and req.protocol == "json" and store is not None:
            return f"identitystore@{account}", store.seconds
        return None

    def _forward_with_lag(
        self, req: Request, account: str, page: tuple[_Paginated, Cursor | None, int, str] | None
    ) -> tuple[Answer, str]:
        scope = self._lag_scope(req, account)
        if scope is None:
            return self._forward(req, req.body), Fault.NONE
        where, seconds = scope
        if _is_write(req):
            return self._forward_write(req, where, seconds), Fault.NONE
        if req.action == "GenerateCredentialReport":
            return self._forward(req, req.body), Fault.NONE
        skip = {"Version"} | ({page[0].input_token, page[0].limit_key} if page else set())
        key = (req.action, *sorted(f"{k}={v}" for k, v in req.params.items() if k not in skip))
        fresh = self._forward(req, req.body)
        now = self._now()
        with self._lock:
            state = self._acct(where)
            records = state.reads.setdefault(key, [])
            if fresh.status < 500:
                records.append(_Record(now, fresh))
                self._prune(records, now, seconds)
            invisible = [w.start for w in state.writes if w.end > now - seconds]
            if not invisible or not records:
                return fresh, Fault.NONE
            # A record reflects every write that started before it was answered (racing ones count
            # as seen): serve the one that saw the fewest still-invisible writes, the newest of those.
            best = min(records, key=lambda r: (sum(s < r.end for s in invisible), -r.end))
        if best.answer is fresh:
            return fresh, Fault.NONE
        return Answer(best.answer.status, list(best.answer.headers), best.answer.body), Fault.STALE

    @staticmethod
    def _prune(records: list[_Record], now: float, seconds: float) -> None:
        horizon = now - seconds - 30.0
        old = [r for r in records if r.end < horizon]
        for r in old[:-1]:  # the newest old record may still be the state before a write
            records.remove(r)
        del records[:-50]

    def _forward_write(self, req: Request, account: str, seconds: float) -> Answer:
        """Forward a write, recorded in the lag state `account` (an account, or identitystore@account)."""
        write = _Write(self._now())
        with self._lock:
            self._acct(account).writes.append(write)
        try:
            answer = self._forward(req, req.body)
        except BaseException:
            write.end = self._now()
            raise
        now = self._now()
        with self._lock:
            state = self._acct(account)
            if answer.status >= 300:
                state.writes.remove(write)  # it changed nothing
                return answer
            write.end = now
            state.writes = [w for w in state.writes if w.end > now - 600.0]
            if req.service == "identitystore":
                for entity in _store_created(req.action, _json_params(req), _json_body(answer.body)):
                    state.created[entity] = now
                return answer
            own_created = _own_entity(CREATES, req.action, req.params)
            if req.action == "CreatePolicy":
                arn = _xml_text(answer.body, "Arn")
                own_created = f"policy:{arn.lower()}" if arn else None
            if own_created:
                state.created[own_created] = now
            if req.action.startswith(DETACH_PREFIXES):
                own_deleted = _own_entity(DELETES, req.action, req.params)
                for entity in _entities(req.action, req.params) - {own_deleted}:
                    state.detached[entity] = now
        return answer

    # -- what AWS requires gone before a delete -------------------------------------------------

    def _dependents_conflict(self, req: Request) -> str | None:
        """AWS's DeleteConflict message when the entity still has dependents; the emulator deletes
        groups and managed policies whatever hangs on them, and users with keys or memberships."""
        checks = DEPENDENTS.get(req.action) if self.dependents is not None and req.service == "iam" else None
        for action, param, lists, least, message in checks or ():
            params = {
                "Action": action,
                "Version": req.params.get("Version", "2010-05-08"),
                param: req.params.get(param, ""),
            }
            if action in self.IAM_PAGES:
                params["MaxItems"] = ALL_ITEMS
            # The emulator reads the account from the access key and does not check signatures, so
            # the client's own headers carry the harness's question.
            answer = self._forward(req, urllib.parse.urlencode(params).encode())
            if answer.status != 200:
                continue  # no such entity: the delete itself will say so
            if not lists:
                return message
            result = next(c for c in ET.fromstring(answer.body) if c.tag.endswith("Result"))
            found = sum(len(c) for c in result if c.tag.rsplit("}", 1)[-1] in lists)
            if found >= least:
                return message
        return None

    # -- APIs the emulator lacks ----------------------------------------------------------------

    def _emulate_missing(self, req: Request) -> Answer | None:
        if req.service == "identitystore" and req.action == "CreateGroupMembership":
            return self._member_already(req)
        if req.service != "iam" or req.action != "ListServiceSpecificCredentials":
            return None
        params = {"Action": "GetUser", "Version": req.params.get("Version", "2010-05-08")}
        if req.params.get("UserName"):
            params["UserName"] = req.params["UserName"]
        user = self._forward(
            req, urllib.parse.urlencode(params).encode()
        )  # headers: see _dependents_conflict
        if user.status != 200:
            return user  # NoSuchEntity, as AWS answers for a user that does not exist
        ns = NAMESPACES["iam"]
        body = (
            f'<ListServiceSpecificCredentialsResponse xmlns="{ns}"><ListServiceSpecificCredentialsResult>'
            "<ServiceSpecificCredentials/></ListServiceSpecificCredentialsResult><ResponseMetadata>"
            "<RequestId>aws-harness</RequestId></ResponseMetadata></ListServiceSpecificCredentialsResponse>"
        )
        return Answer(200, [("Content-Type", "text/xml")], body.encode())

    # -- Identity Center ---------------------------------------------------------------------

    def _store_lag_prechecks(self, req: Request, account: str) -> tuple[Answer, str] | None:
        """A read naming an identitystore entity created within the lag: ResourceNotFoundException."""
        store = self.store_lag
        if store is None or req.service != "identitystore" or _is_write(req):
            return None
        named = _store_named(req.action, _json_params(req))
        with self._lock:
            state = self._acct(f"identitystore@{account}")
            fresh = sorted(e for e in named if self._now() - state.created.get(e, -1e9) < store.seconds)
        if not fresh:
            return None
        kind = fresh[0].split(":", 1)[0]
        body = {
            "__type": "ResourceNotFoundException",
            "Message": f"{kind.capitalize()} not found",
            "ResourceType": {"membership": "GROUP_MEMBERSHIP"}.get(kind, kind.upper()),
            "ResourceId": fresh[0].rsplit(":", 1)[-1],
            "RequestId": "aws-harness",
        }
        headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-ErrorType", "ResourceNotFoundException"),
        ]
        return Answer(404, headers, json.dumps(body).encode()), Fault.STORE_LAG_NOT_FOUND

    def _ask(self, req: Request, action: str, payload: Mapping[str, Any]) -> Answer:
        """The emulator's answer to another call of the same JSON service, with the client's headers
        (see _dependents_conflict)."""
        headers = dict(req.headers)
        for k, v in req.headers.items():
            if k.lower() == "x-amz-target":
                headers[k] = f"{v.rsplit('.', 1)[0]}.{action}"
        asked = Request(
            req.method, req.path, headers, b"", req.service, req.access_key, action, "json", {}, ""
        )
        return self._forward(asked, json.dumps(payload).encode())

    def _assigned(self, req: Request, data: Mapping[str, Any]) -> bool:
        """The assignment a Create/DeleteAccountAssignment names exists in the emulator."""
        answer = self._ask(
            req,
            "ListAccountAssignments",
            {
                "InstanceArn": data.get("InstanceArn"),
                "AccountId": data.get("TargetId"),
                "PermissionSetArn": data.get("PermissionSetArn"),
                "MaxResults": int(ALL_ITEMS),
            },
        )
        if answer.status != 200:
            return False
        found = json.loads(answer.body).get("AccountAssignments") or []
        wanted = (data.get("PrincipalType"), data.get("PrincipalId"))
        return any((a.get("PrincipalType"), a.get("PrincipalId")) == wanted for a in found)

    def _ic_claim(self, req: Request) -> tuple[Answer, str] | str | None:
        """With IcConflict: a write to a permission set while another of its operations runs (an
        asynchronous request in progress, or a write being forwarded) answers ConflictException,
        and so does a seeded share of the others (someone else's operation); else the permission
        set is claimed (returned) until `_ic_release`."""
        if req.service != "sso" or req.protocol != "json" or not _is_write(req):
            return None
        ps = _json_params(req).get("PermissionSetArn")
        if not isinstance(ps, str) or not ps:
            return None
        conflict = self.ic_conflict
        with self._lock:
            busy = self._ic_busy[ps] > 0 or any(
                not op.done and op.permission_set == ps for op in self._ic_ops.values()
            )
            if conflict is None or (
                not busy and (conflict.others <= 0 or self._ic_others >= conflict.others_times)
            ):
                self._ic_busy[ps] += 1
                return ps
        msg = "Could not complete the operation due to a concurrent operation on the permission set. Retry."
        # `_draw` takes the lock itself: drawn outside it.
        if busy:
            if self._draw("ic-conflict", req.action) < conflict.share:
                return _error("sso", "json", "ConflictException", msg, 409), Fault.IC_CONFLICT
        elif self._draw("ic-conflict-others", req.action) < conflict.others:
            with self._lock:
                refuse = self._ic_others < conflict.others_times
                self._ic_others += refuse
            if refuse:
                return _error("sso", "json", "ConflictException", msg, 409), Fault.IC_CONFLICT_OTHERS
        with self._lock:
            self._ic_busy[ps] += 1
        return ps

    def _ic_release(self, claimed: tuple[Answer, str] | str | None) -> None:
        if isinstance(claimed, str):
            with self._lock:
                self._ic_busy[claimed] -= 1

    def _ic_submit(self, req: Request) -> tuple[Answer, str] | None:
        """With IcAsync: an asynchronous call answered IN_PROGRESS at once, done `seconds` later
        (forwarded to the emulator then: SUCCEEDED) or never (FAILED, a seeded share)."""
        ic = self.ic_async
        if req.service != "sso" or req.action not in ASYNC_CALLS:
            return None
        data = _json_params(req)
        if ic is None:
            if req.action == "CreateAccountAssignment" and self._assigned(req, data):
                return self._status_answer(
                    req.action, self._new_status(req.action, data, "SUCCEEDED")
                ), Fault.EMULATED
            return None
        if req.action == "DeleteAccountAssignment" and not self._assigned(req, data):
            msg = "Could not find the account assignment"
            return _error("sso", "json", "ResourceNotFoundException", msg, 404), Fault.NONE  # as the emulator
        failing = ic.fail_share > 0 and self._draw("ic-fail", req.action) < ic.fail_share
        status = self._new_status(req.action, data, "IN_PROGRESS")
        op = _IcOp(req.action, str(data.get("PermissionSetArn", "")), status)
        with self._lock:
            if failing and ic.fail_times is not None and self._ic_failed >= ic.fail_times:
                failing = False
            self._ic_failed += failing
            self._ic_ops[status["RequestId"]] = op
        timer = threading.Timer(
            ic.seconds, self._ic_complete, (op, req, data, ic.reason if failing else None)
        )
        timer.daemon = True
        timer.start()
        return self._status_answer(req.action, dict(status)), Fault.IC_ASYNC

    @staticmethod
    def _new_status(action: str, data: Mapping[str, Any], status: str) -> dict[str, Any]:
        out: dict[str, Any] = {"Status": status, "RequestId": str(uuid.uuid4()), "CreatedDate": time.time()}
        if action == "ProvisionPermissionSet":
            out.update(AccountId=data.get("TargetId"), PermissionSetArn=data.get("PermissionSetArn"))
        else:
            out.update({f: data.get(f) for f in ASSIGNMENT_FIELDS})
        return out

    @staticmethod
    def _status_answer(action: str, status: Mapping[str, Any]) -> Answer:
        key = ASYNC_CALLS[action][0]
        return Answer(
            200, [("Content-Type", "application/x-amz-json-1.1")], json.dumps({key: status}).encode()
        )

    def _ic_complete(self, op: _IcOp, req: Request, data: Mapping[str, Any], failure: str | None) -> None:
        outcome: dict[str, Any] = {"Status": "SUCCEEDED"}
        try:
            if failure is not None:
                outcome = {"Status": "FAILED", "FailureReason": failure}
            elif op.action == "CreateAccountAssignment" and self._assigned(req, data):
                pass  # AWS makes no second assignment of the same
            else:
                answer = self._forward(req, req.body)
                if answer.status >= 300:
                    error = _json_body(answer.body)
                    message = (
                        error.get("message") or error.get("Message") or answer.body.decode("utf-8", "replace")
                    )
                    outcome = {"Status": "FAILED", "FailureReason": str(message)}
        except OSError as exc:
            outcome = {"Status": "FAILED", "FailureReason": f"the emulator did not answer: {exc}"}
        with self._lock:
            op.status.update(outcome)
            op.done = True

    def _ic_status(self, req: Request) -> tuple[Answer, str] | None:
        """A status poll of a request the harness answered IN_PROGRESS: answered from its record."""
        if req.service != "sso" or req.action not in STATUS_CALLS:
            return None
        key, param = STATUS_CALLS[req.action]
        with self._lock:
            op = self._ic_ops.get(str(_json_params(req).get(param, "")))
            status = dict(op.status) if op is not None else None
        if status is None:
            return None  # not one of the harness's: the emulator answers
        fault = {"IN_PROGRESS": Fault.IC_IN_PROGRESS, "FAILED": Fault.IC_FAILED}.get(
            status["Status"], Fault.NONE
        )
        return Answer(
            200, [("Content-Type", "application/x-amz-json-1.1")], json.dumps({key: status}).encode()
        ), fault

    def ic_settled(self, timeout: float = 30.0) -> None:
        """Wait until every asynchronous request the harness answered IN_PROGRESS is done."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = [op for op in self._ic_ops.values() if not op.done]
            if not pending:
                return
            assert time.monotonic() < deadline, f"{len(pending)} Identity Center requests still in progress"
            time.sleep(0.05)

    def _member_already(self, req: Request) -> Answer | None:
        """AWS refuses a second membership of a user in a group (the emulator makes a duplicate)."""
        data = _json_params(req)
        asked = {k: data.get(k) for k in ("IdentityStoreId", "GroupId", "MemberId")}
        if self._ask(req, "GetGroupMembershipId", asked).status != 200:
            return None
        body = {
            "__type": "ConflictException",
            "Message": "Member and Group relationship already exists",
            "Reason": "UNIQUENESS_CONSTRAINT_VIOLATION",
            "RequestId": "aws-harness",
        }
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", "ConflictException")]
        return Answer(409, headers, json.dumps(body).encode())

    # -- the credential report's 4 hours ----------------------------------------------------------

    def _pin_report(self, req: Request, account: str, answer: Answer) -> tuple[Answer, str]:
        stale = self.stale_report
        if stale is None or req.action != "GetCredentialReport" or answer.status != 200:
            return answer, Fault.NONE
        now = self._now()
        with self._lock:
            pinned = self._reports.get(account)
            if pinned is None or now - pinned.end >= stale.seconds:
                self._reports[account] = _Record(now, answer)
                return answer, Fault.NONE
        return Answer(
            pinned.answer.status, list(pinned.answer.headers), pinned.answer.body
        ), Fault.REPORT_CACHED

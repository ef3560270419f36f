"""Sessions and clients: the standard AWS credential chain, call counting, and what accounts share.

Memory at 1,000 accounts (issue 21): every account reached by a role gets an `AccountSession`, its
own credentials over the operator's botocore session (one set of event handlers, model loader and
exception classes), and the clients made from those sessions share each service's model and
client class (`_share_per_service_work`): about 0.13 MiB per account's IAM client, where a boto3
Session and client per account took about 0.8 MiB (2 MiB in an apply, which reached every account
again for its writes and its re-reads: see iamlayer.aws.accounts.connect_accounts).

iamlayer honours what the AWS CLI honours: `--profile`/AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL
or a profile's `endpoint_url`/`services` (how the sandbox is reached; botocore reads them itself,
and sessions made from the operator's keep them: see iamlayer.aws.accounts), AWS_CONFIG_FILE and
AWS_SHARED_CREDENTIALS_FILE. Every client is made by `make_client`. Nothing is created at import time.
"""

from __future__ import annotations

import os
import re
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Union, overload

import boto3
from botocore.client import ClientCreator
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.utils import parse_timestamp as botocore_parse_timestamp

from iamlayer.aws.errors import aws_call, refused_on_loopback
from iamlayer.stats import ApiStats as ApiStats  # where it was first: many import it from here

if TYPE_CHECKING:  # boto3-stubs types the clients; nothing of them is needed at run time
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_identitystore import IdentityStoreClient
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_sso_admin import SSOAdminClient
    from mypy_boto3_sts import STSClient

# Adaptive mode backs off on throttling with a client-side rate limiter; IAM and STS limits are low
# and cannot be raised, so a large apply must slow down instead of failing.
RETRY_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 10},
    max_pool_connections=32,
    connect_timeout=10,
    read_timeout=60,
)


#: For the non-idempotent creates (CreateAccessKey, CreateLoginProfile, CreateGroup,
#: CreatePolicyVersion): botocore would resend one after a timeout or a 5xx even when the first
#: attempt went through, making a second key whose secret nobody holds. Their callers send them
#: once and handle every outcome themselves (see iamlayer.apply.credentials).
ONCE_CONFIG = Config(
    retries={"mode": "adaptive", "total_max_attempts": 1},
    max_pool_connections=32,
    connect_timeout=10,
    read_timeout=60,
)


def env_region() -> str | None:
    """AWS_REGION, as the AWS CLI and SDKs read it (botocore itself reads only AWS_DEFAULT_REGION)."""
    return os.environ.get("AWS_REGION") or None


#: Where the operator's credentials come from: a profile name, a boto3 Session the caller made
#: (the library's callers: SSO, assumed roles, explicit keys...), or None for the standard chain.
CredentialSource = Union[str, "boto3.Session", None]


def base_session(profile: CredentialSource = None, region: str | None = None) -> boto3.Session:
    """The operator's session: the one given, or from the standard credential chain (`profile`,
    env, SSO, IMDS...)."""
    if isinstance(profile, boto3.Session):
        return profile
    with aws_call(f"loading AWS profile {profile!r}" if profile else "loading AWS credentials"):
        return boto3.Session(profile_name=profile, region_name=region or env_region())


class AccountSession:
    """One account's credentials over the operator's botocore session (shallow-copied: see
    iamlayer.aws.accounts.assumed_role_session): what iamlayer needs of a boto3 Session.

    Not a boto3 Session: creating one appends boto3's data path to the shared data loader's
    search paths and registers boto3's handlers on the shared event emitter again, once per
    account. Its region is its own: setting one on the copy would set it on the operator's.
    """

    def __init__(self, core: Any, region_name: str | None) -> None:
        self._session = core
        self.region_name: str | None = region_name or core.get_config_variable("region")

    def client(self, service: str, region_name: str | None = None, config: Config | None = None) -> Any:
        return self._session.create_client(
            service, region_name=region_name or self.region_name, config=config
        )

    def get_credentials(self) -> Any:
        return self._session.get_credentials()


#: a boto3 Session (the operator's, a profile's) or an account's view of the operator's
AnySession = Union["boto3.Session", AccountSession]


#: boto3 sessions are not thread-safe (clients are): every client is created under this one lock,
#: whichever session it comes from, since several accounts may share the operator's session.
_CLIENT_LOCK = threading.Lock()


def parse_timestamp(value: Any) -> datetime:
    """AWS's timestamps as botocore gives them (timezone-aware datetimes), without dateutil.

    botocore parses each with dateutil's general parser: the CreateDate of 5,000 users took longer
    than the rest of the answer. AWS writes ISO 8601, which datetime reads itself; anything else
    goes to botocore's parser.
    """
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return botocore_parse_timestamp(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return botocore_parse_timestamp(value)


@overload
def make_client(
    session: AnySession, service: Literal["iam"], region: str | None = ..., config: Config = ...
) -> IAMClient: ...
@overload
def make_client(
    session: AnySession, service: Literal["sts"], region: str | None = ..., config: Config = ...
) -> STSClient: ...
@overload
def make_client(
    session: AnySession, service: Literal["organizations"], region: str | None = ..., config: Config = ...
) -> OrganizationsClient: ...
@overload
def make_client(
    session: AnySession, service: Literal["sso-admin"], region: str | None = ..., config: Config = ...
) -> SSOAdminClient: ...
@overload
def make_client(
    session: AnySession, service: Literal["identitystore"], region: str | None = ..., config: Config = ...
) -> IdentityStoreClient: ...
@overload
def make_client(session: AnySession, service: str, region: str | None = ..., config: Config = ...) -> Any: ...
def make_client(
    session: AnySession, service: str, region: str | None = None, config: Config = RETRY_CONFIG
) -> Any:
    """A boto3 client from `session`, created under the process-wide client lock."""
    with _CLIENT_LOCK:
        core: Any = session._session
        _share_per_service_work(core)
        # Read when the client is made: its response parser keeps the defaults of that moment.
        core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_timestamp)
        client = session.client(service, region_name=region, config=config)  # type: ignore[call-overload]
    client.meta.events.register_first("needs-retry.*.*", _fail_fast_on_dead_loopback)
    return client


#: Where each event emitter of the sessions iamlayer makes clients from (the operator's, shared by
#: every account's: see AccountSession) keeps each service's model and client class, built once.
#: An attribute of the emitter, not a table keyed by it: the classes refer to their emitter, so a
#: table would keep every emitter, and all it holds, alive.
_SHARED = "_iamlayer_per_service"
_SHARING_INSTALLED = False


def _share_per_service_work(core: Any) -> None:
    """Make the clients of `core`'s sessions share each service's model and client class.

    botocore builds both again for every client: a ServiceModel from the (cached) JSON, then a
    client class with a method, docstring and operation model per operation (IAM has ~170), about
    0.3 MiB per client. One IAM client per account made that most of a 1,000-account plan's
    memory. Both depend only on the service, its API version and the session's event handlers
    (which may add base classes), so clients of the same emitter can share them. botocore has no
    option for it: ClientCreator's two builders are wrapped, once per process, and share only for
    the emitters marked here; every other botocore user in the process is served as before.
    Called under _CLIENT_LOCK.
    """
    global _SHARING_INSTALLED
    emitter = core.get_component("event_emitter")
    if not hasattr(emitter, _SHARED):
        setattr(emitter, _SHARED, {})
    if _SHARING_INSTALLED:
        return
    _SHARING_INSTALLED = True
    creator: Any = ClientCreator
    load_model = creator._load_service_model
    create_class = creator._create_client_class

    def shared_model(self: Any, service_name: str, api_version: str | None = None) -> Any:
        cache = getattr(self._event_emitter, _SHARED, None)
        if cache is None:
            return load_model(self, service_name, api_version)
        key = ("model", service_name, api_version)
        if key not in cache:
            cache[key] = load_model(self, service_name, api_version)
        return cache[key]

    def shared_class(self: Any, service_name: str, service_model: Any) -> Any:
        cache = getattr(self._event_emitter, _SHARED, None)
        if cache is None:
            return create_class(self, service_name, service_model)
        key = ("class", service_name, service_model.api_version)
        if key not in cache:
            cache[key] = create_class(self, service_name, service_model)
        return cache[key]

    creator._load_service_model = shared_model
    creator._create_client_class = shared_class


def _fail_fast_on_dead_loopback(caught_exception: Exception | None = None, **_: Any) -> None:
    """botocore's needs-retry hook: a local endpoint that refuses the connection fails the call now.

    botocore retries a refused connection like any network error, with backoff (10 attempts took
    over 20 s to report a sandbox that is not running); nothing will start listening meanwhile.
    Raising here ends botocore's retry loop with the original error (see refused_on_loopback).
    """
    if caught_exception is not None and refused_on_loopback(caught_exception):
        raise caught_exception


#: AWS's answers for temporary credentials that have expired (STS, and most services)
EXPIRED_TOKEN_CODES = frozenset({"ExpiredToken", "ExpiredTokenException"})

#: the request context key holding the access key a request was signed with
SIGNED_WITH = "iamlayer_signed_with"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


def _note_signing_key(request: Any, **_: Any) -> None:
    """Once botocore has signed a request: keep the access key it used, in the request's context
    (shared by every attempt of the call, where the needs-retry hook reads it)."""
    m = _CREDENTIAL.search(str(request.headers.get("Authorization", "")))
    if m:
        request.context[SIGNED_WITH] = m.group(1)


def force_refresh(credentials: Any) -> bool:
    """Fetch new temporary credentials now, whatever their expiry time says. False for static keys.

    botocore refreshes temporary credentials shortly before their expiry time, as judged by the
    local clock; a skewed clock, or a request signed just before the boundary and checked after it,
    still meets ExpiredToken. botocore has no public call to refresh at once, so this takes the
    credential object's own lock and runs its mandatory refresh, as botocore itself does.
    """
    if not isinstance(credentials, RefreshableCredentials):
        return False
    creds: Any = credentials
    with creds._refresh_lock:
        creds._protected_refresh(is_mandatory=True)
    return True


class AccountClients:
    """Clients for one account, all counting their calls into `stats` under `label`.

    Clients are cached per service: boto3 clients are thread-safe, sessions are not, so clients are
    created under a lock and then shared by the apply worker threads. A call answered ExpiredToken
    is sent once more after refreshing the session's temporary credentials (see `force_refresh`),
    unless another thread has renewed them since the call was signed.
    """

    def __init__(self, session: AnySession, label: str, stats: ApiStats, region: str | None = None) -> None:
        self.session = session
        self.label = label
        self.stats = stats
        self.region = region or session.region_name or "us-east-1"
        self._clients: dict[tuple[str, str, bool], Any] = {}
        self._lock = threading.Lock()

    def iam(self, *, retries: bool = True) -> IAMClient:
        """The account's IAM client (typed); `retries=False`: see `client`."""
        client: IAMClient = self.client("iam", retries=retries)
        return client

    def sts(self, region: str | None = None) -> STSClient:
        """The account's STS client (typed; the account's region unless `region`)."""
        client: STSClient = self.client("sts", region)
        return client

    def organizations(self) -> OrganizationsClient:
        """The account's Organizations client (typed)."""
        client: OrganizationsClient = self.client("organizations")
        return client

    def sso_admin(self, region: str) -> SSOAdminClient:
        """The account's sso-admin client in `region` (typed)."""
        client: SSOAdminClient = self.client("sso-admin", region)
        return client

    def identitystore(self, region: str) -> IdentityStoreClient:
        """The account's identitystore client in `region` (typed)."""
        client: IdentityStoreClient = self.client("identitystore", region)
        return client

    def account_access(self, region: str) -> Any:
        """The account's account access manager client in `region` (no stubs are published for
        it: iamlayer.aws.gateways.account_access is its typed face)."""
        return self.client("account-access", region)

    def signin(self, region: str) -> Any:
        """The account's AWS Sign-In client in `region` (no stubs are published for it:
        iamlayer.aws.gateways.signin is its typed face)."""
        return self.client("signin", region)

    def client(self, service: str, region: str | None = None, *, retries: bool = True) -> Any:
        """The account's client for `service`; `retries=False`: one without botocore's retries,
        for calls that must not be sent twice unless the caller knows the first did nothing.
        Untyped: the gateways (iamlayer.aws.gateways) and reads use the typed accessors above."""
        key = (service, region or self.region, retries)
        with self._lock:
            if key not in self._clients:
                c = make_client(self.session, service, key[1], RETRY_CONFIG if retries else ONCE_CONFIG)

                # Counted once per call (botocore retries inside it are not counted), into the
                # stats of the moment (a connection reused by a later run counts into that run's).
                def count(model: Any, **_: Any) -> None:
                    self.stats.record(self.label, model.name)

                c.meta.events.register("before-call.*.*", count)
                # Handlers on "request-created" run after the signer (registered one level deeper).
                c.meta.events.register("request-created", _note_signing_key)
                c.meta.events.register_first("needs-retry.*.*", self._retry_expired)
                self._clients[key] = c
            return self._clients[key]

    def _retry_expired(self, response: Any, request_dict: dict[str, Any], **_: Any) -> float | None:
        """botocore's needs-retry hook: after ExpiredToken, refresh and resend the call, once.

        The request was refused before anything was done, so resending is safe for any call.
        Several threads meet the end of one session together: the credentials are renewed only
        when the refused call was signed with the ones still current (another thread may have
        renewed them meanwhile; a renewed session may also end soon after, so no time window says
        whether a renewal is due). Returns the delay before the retry, or None to leave the
        decision to botocore.
        """
        if response is None:
            return None
        code = (response[1] or {}).get("Error", {}).get("Code")
        context = request_dict.setdefault("context", {})
        if code not in EXPIRED_TOKEN_CODES or context.get("iamlayer_expired_retry"):
            return None
        context["iamlayer_expired_retry"] = True
        with self._lock:
            credentials = self.session.get_credentials()
            current = credentials.get_frozen_credentials().access_key if credentials else None
            if context.get(SIGNED_WITH) in (None, current) and not force_refresh(credentials):
                return None
        return 0.0

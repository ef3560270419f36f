"""Bulk reads for `iamlayer audit` and `iamlayer sts-regions`: the only AWS calls the audit makes.

Per account: the credential report (generated, then fetched), GetAccountSummary,
GetAccountPasswordPolicy, one paginated GetAccountAuthorizationDetails (users, groups, roles with
their inline policies and trust policies, customer-managed policies), ListPolicies of the attached
AWS-managed policies, ListVirtualMFADevices, ListServerCertificates, ListSAMLProviders,
ListOpenIDConnectProviders and, per region, accessanalyzer ListAnalyzers. Once per audit:
ListOrganizationsFeatures (centralized root access) in the management account.

The documents of attached AWS-managed policies are the same in every account (per partition and
version), so one `AwsPolicyDocuments` cache serves the whole audit: one GetPolicyVersion per
distinct attached AWS-managed policy, whatever the number of accounts, users or attachments.

A read that fails becomes `Unavailable(why)` in the AuditInput, so the controls that need it say
ERROR with why.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
import weakref
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from botocore.config import Config

from iamlayer.audit.model import (
    Analyzer,
    AuditInput,
    AuthorizationDetails,
    IdentityProvider,
    LiveManagedPolicy,
    PasswordPolicyState,
    PolicyDoc,
    Principal,
    RootAccessFeatures,
    ServerCertificate,
    Unavailable,
    VirtualMfaDevice,
)
from iamlayer.audit.sts import RegionProbe, RegionStatus, StsInput, regions_to_probe
from iamlayer.aws.errors import aws_call
from iamlayer.aws.gateways.sts import StsGateway
from iamlayer.aws.read import (
    REPORT_WAIT_SECONDS,
    fetch_authorization_details,
    fetch_password_policy,
    read_credential_report,
)
from iamlayer.aws.session import AccountClients, make_client
from iamlayer.errors import AwsError, IamlayerError

T = TypeVar("T")

PROBE_SESSION_NAME = "iamlayer-sts-probe"
#: The shortest session STS issues; a probe's credentials are dropped at once anyway.
PROBE_DURATION = 900

# Optional, non-IAM reads (Access Analyzer, STS probes) fail fast: a region that does not answer
# must not stall the audit for the minutes the adaptive retry mode would spend on it.
QUICK_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=20)
_quick_lock = threading.Lock()
_quick_clients: weakref.WeakKeyDictionary[AccountClients, dict[tuple[str, str], Any]] = (
    weakref.WeakKeyDictionary()
)


def quick_client(clients: AccountClients, service: str, region: str) -> Any:
    """A fail-fast client for an account (cached per service and region), counting into its stats."""
    with _quick_lock:  # sessions are not thread-safe; clients are
        cache = _quick_clients.setdefault(clients, {})
        if (service, region) not in cache:
            c = make_client(clients.session, service, region, QUICK_CONFIG)
            label, stats = clients.label, clients.stats

            def count(model: Any, **_: Any) -> None:
                stats.record(label, model.name)

            c.meta.events.register("before-call", count)
            cache[(service, region)] = c
        return cache[(service, region)]


def brief(text: str, limit: int = 300) -> str:
    """An error message fit for a report line: one line, no HTML error page, bounded length."""
    lowered = text.lower()
    cut = min((i for i in (lowered.find("<!doctype"), lowered.find("<html")) if i >= 0), default=-1)
    if cut >= 0:
        # An endpoint that does not implement the API (e.g. the sandbox) answers with an HTML page;
        # botocore's parser error around it ("Unable to parse response ... b'<!DOCTYPE") is noise.
        noise = text.find("(Unable to parse response")
        head = text[:noise] if 0 <= noise < cut else text[:cut]
        text = head.rstrip(":( ") + ": the endpoint answered with an HTML error page (API not implemented?)"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read(fn: Callable[[], T]) -> T | Unavailable:
    """Run one read; any AWS failure (AccessDenied, throttled past retries...) becomes Unavailable."""
    try:
        return fn()
    except IamlayerError as exc:
        return Unavailable(brief(str(exc)))
    except (KeyError, TypeError, ValueError) as exc:
        # A response without a field AWS documents: report it, do not crash the whole audit.
        return Unavailable(f"unexpected response: {type(exc).__name__}: {brief(str(exc))}")


def _ts(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- other IAM reads -----------------------------------------------------------------------------


def read_account_summary(clients: AccountClients) -> dict[str, int]:
    with aws_call(f"reading the account summary of {clients.label}"):
        resp = clients.client("iam").get_account_summary()
    return {str(k): int(v) for k, v in resp["SummaryMap"].items()}


def read_audit_password_policy(clients: AccountClients) -> PasswordPolicyState | None:
    """The password policy, or None when the account has none (NoSuchEntity)."""
    p = fetch_password_policy(clients)
    if p is None:
        return None
    return PasswordPolicyState(
        minimum_length=p.get("MinimumPasswordLength"),
        reuse_prevention=p.get("PasswordReusePrevention"),
        max_age_days=p.get("MaxPasswordAge"),
        require_symbols=bool(p.get("RequireSymbols")),
        require_numbers=bool(p.get("RequireNumbers")),
        require_upper=bool(p.get("RequireUppercaseCharacters")),
        require_lower=bool(p.get("RequireLowercaseCharacters")),
        allow_users_to_change=bool(p.get("AllowUsersToChangePassword")),
        hard_expiry=bool(p.get("HardExpiry")),
    )


def _document(doc: Any) -> PolicyDoc:
    # botocore decodes IAM policy documents itself; the raw API sends them URL-encoded JSON.
    if isinstance(doc, str):
        loaded = json.loads(urllib.parse.unquote(doc))
        return loaded if isinstance(loaded, dict) else {}
    return doc if isinstance(doc, dict) else {}


def _principal(kind: str, d: Mapping[str, Any], name_key: str, inline_key: str) -> Principal:
    trust = d.get("AssumeRolePolicyDocument")
    return Principal(
        kind=kind,
        name=str(d[name_key]),
        arn=str(d.get("Arn", "")),
        attached=tuple(str(a["PolicyArn"]) for a in d.get("AttachedManagedPolicies", [])),
        inline={str(p["PolicyName"]): _document(p.get("PolicyDocument")) for p in d.get(inline_key, [])},
        groups=tuple(str(g) for g in d.get("GroupList", [])),
        path=str(d.get("Path") or "/"),
        trust=_document(trust) if trust is not None else None,
        boundary=(d.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
    )


def read_audit_authorization(clients: AccountClients) -> AuthorizationDetails:
    """Users, groups, roles and customer-managed policies in one paginated read."""
    # The AWS-managed policies (over a thousand, every version) are not in it: those attached are
    # read apart (read_aws_managed_policies).
    details = fetch_authorization_details(clients)
    policies: list[LiveManagedPolicy] = []
    for p in details.policies:
        default = next((v for v in p.get("PolicyVersionList", []) if v.get("IsDefaultVersion")), None)
        policies.append(
            LiveManagedPolicy(
                # moto leaves PolicyName out; the ARN's last segment is the name.
                name=str(p.get("PolicyName") or str(p["Arn"]).rsplit("/", 1)[-1]),
                arn=str(p["Arn"]),
                attachment_count=int(p.get("AttachmentCount", 0)),
                document=_document(default.get("Document")) if default else {},
            )
        )
    return AuthorizationDetails(
        tuple(_principal("user", u, "UserName", "UserPolicyList") for u in details.users),
        tuple(_principal("group", g, "GroupName", "GroupPolicyList") for g in details.groups),
        tuple(_principal("role", r, "RoleName", "RolePolicyList") for r in details.roles),
        tuple(policies),
    )


class AwsPolicyDocuments:
    """AWS-managed policy documents by (ARN, version), shared by every account of one audit.

    AWS-managed policies are global: `arn:aws:iam::aws:policy/X` at version vN is the same
    document in every account of the partition, so each is fetched once per audit. Thread-safe, and
    each (ARN, version) is fetched at most once even when accounts ask for it concurrently.
    """

    def __init__(self) -> None:
        self._docs: dict[tuple[str, str], PolicyDoc] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: tuple[str, str], fetch: Callable[[], PolicyDoc]) -> PolicyDoc:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._docs:
                self._docs[key] = fetch()
            return self._docs[key]

    def __len__(self) -> int:
        return len(self._docs)


def read_aws_managed_policies(
    clients: AccountClients, documents: AwsPolicyDocuments | None = None
) -> tuple[LiveManagedPolicy, ...]:
    """The AWS-managed policies attached in the account, with their default version's document.

    ListPolicies(Scope=AWS, OnlyAttached) (a page per 100 attached policies), then one
    GetPolicyVersion per policy not yet in `documents`: bounded by the distinct attached
    AWS-managed policies, never by users or attachments (the CIS 1.16 audit procedure lists the
    same set with `aws iam list-policies --only-attached`).
    """
    documents = documents if documents is not None else AwsPolicyDocuments()
    iam = clients.client("iam")
    listed: list[Mapping[str, Any]] = []
    with aws_call(f"listing the AWS-managed policies attached in {clients.label}"):
        for page in iam.get_paginator("list_policies").paginate(Scope="AWS", OnlyAttached=True):
            listed += page.get("Policies", [])
    out: list[LiveManagedPolicy] = []
    for p in listed:
        arn, version = str(p["Arn"]), str(p["DefaultVersionId"])

        def fetch(arn: str = arn, version: str = version) -> PolicyDoc:
            with aws_call(f"reading AWS-managed policy {arn} version {version} in {clients.label}"):
                resp = iam.get_policy_version(PolicyArn=arn, VersionId=version)
            return _document(resp["PolicyVersion"].get("Document"))

        out.append(
            LiveManagedPolicy(
                name=str(p.get("PolicyName") or arn.rsplit("/", 1)[-1]),
                arn=arn,
                attachment_count=int(p.get("AttachmentCount", 0)),
                document=documents.get((arn, version), fetch),
            )
        )
    return tuple(out)


def read_identity_providers(clients: AccountClients) -> tuple[IdentityProvider, ...]:
    """The account's SAML and OpenID Connect providers (two calls; neither API pages)."""
    iam = clients.client("iam")
    with aws_call(f"listing the SAML providers of {clients.label}"):
        saml = iam.list_saml_providers().get("SAMLProviderList", [])
    with aws_call(f"listing the OpenID Connect providers of {clients.label}"):
        oidc = iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", [])
    return tuple(IdentityProvider("SAML", str(p["Arn"])) for p in saml) + tuple(
        IdentityProvider("OIDC", str(p["Arn"])) for p in oidc
    )


#: ListOrganizationsFeatures errors that answer the question: the features are off, and why.
ROOT_ACCESS_OFF_CODES = {
    "ServiceAccessNotEnabledException": "trusted access for IAM is not enabled in AWS Organizations",
    "OrganizationNotInAllFeaturesModeException": "the organization does not have all features enabled",
}


def read_root_access_features(clients: AccountClients, account_name: str) -> RootAccessFeatures | Unavailable:
    """Centralized root access (iam:ListOrganizationsFeatures), asked once per audit in the
    management account (or the IAM delegated administrator). Never raises.

    An account in no organization answers OrganizationNotFoundException: organization_id None.
    Answers that mean "off" (trusted access not enabled, not all features) give the features off
    with why. Other failures (AccountNotManagementOrDelegatedAdministrator, AccessDenied, an
    endpoint that lacks the API) give Unavailable(why): the control reports ERROR, never PASS.
    """
    return _read(partial(_root_access_features, clients, account_name))


def _root_access_features(clients: AccountClients, account_name: str) -> RootAccessFeatures:
    try:
        with aws_call(f"listing the organization's root access features from {account_name}"):
            resp = clients.client("iam").list_organizations_features()
    except AwsError as exc:
        # The API reference names these errors without the "Exception" suffix, botocore's model
        # with it: accept both spellings of the code.
        code = exc.code.removesuffix("Exception") + "Exception" if exc.code else ""
        if code == "OrganizationNotFoundException":
            return RootAccessFeatures(None, read_from=account_name)
        if code in ROOT_ACCESS_OFF_CODES:
            return RootAccessFeatures(
                "", why_off=f"{ROOT_ACCESS_OFF_CODES[code]} ({exc.code})", read_from=account_name
            )
        raise
    return RootAccessFeatures(
        str(resp.get("OrganizationId") or ""),
        tuple(str(f) for f in resp.get("EnabledFeatures", [])),
        read_from=account_name,
    )


def read_virtual_mfa_devices(clients: AccountClients) -> tuple[VirtualMfaDevice, ...]:
    out: list[VirtualMfaDevice] = []
    paginator = clients.client("iam").get_paginator("list_virtual_mfa_devices")
    with aws_call(f"listing virtual MFA devices of {clients.label}"):
        for page in paginator.paginate(AssignmentStatus="Assigned"):
            for d in page.get("VirtualMFADevices", []):
                user = d.get("User") or {}
                out.append(VirtualMfaDevice(str(d["SerialNumber"]), user.get("Arn")))
    return tuple(out)


def read_server_certificates(clients: AccountClients) -> tuple[ServerCertificate, ...]:
    out: list[ServerCertificate] = []
    paginator = clients.client("iam").get_paginator("list_server_certificates")
    with aws_call(f"listing server certificates of {clients.label}"):
        for page in paginator.paginate():
            for c in page.get("ServerCertificateMetadataList", []):
                out.append(
                    ServerCertificate(str(c["ServerCertificateName"]), str(c["Arn"]), _ts(c["Expiration"]))
                )
    return tuple(out)


def read_analyzers(clients: AccountClients, region: str) -> tuple[Analyzer, ...]:
    client = quick_client(clients, "accessanalyzer", region)
    out: list[Analyzer] = []
    with aws_call(f"listing IAM Access Analyzer analyzers of {clients.label} in {region}"):
        for page in client.get_paginator("list_analyzers").paginate():
            for a in page.get("analyzers", []):
                out.append(Analyzer(str(a["name"]), str(a.get("type", "")), str(a.get("status", ""))))
    return tuple(out)


def read_audit_input(
    clients: AccountClients,
    account_name: str,
    regions: Sequence[str],
    *,
    account_id: str = "",
    report_wait: float = REPORT_WAIT_SECONDS,
    aws_policies: AwsPolicyDocuments | None = None,
) -> AuditInput:
    """Everything the IAM controls need from one account. Never raises for a failed read.

    `aws_policies` is the audit-wide cache of AWS-managed policy documents. What the account is in
    the layer (people, management account) and the organization-wide reads (`root_access`, read
    once by `read_root_access_features`) are the caller's to set on the result.
    """
    analyzers: dict[str, tuple[Analyzer, ...] | Unavailable] = {}
    for region in dict.fromkeys(regions):
        analyzers[region] = _read(partial(read_analyzers, clients, region))
    return AuditInput(
        account=account_name,
        account_id=account_id,
        credential_report=_read(lambda: read_credential_report(clients, wait=report_wait)),
        summary=_read(lambda: read_account_summary(clients)),
        password_policy=_read(lambda: read_audit_password_policy(clients)),
        authorization=_read(lambda: read_audit_authorization(clients)),
        virtual_mfa_devices=_read(lambda: read_virtual_mfa_devices(clients)),
        server_certificates=_read(lambda: read_server_certificates(clients)),
        analyzers=analyzers,
        read_at=datetime.now(UTC),
        aws_managed_policies=_read(lambda: read_aws_managed_policies(clients, aws_policies)),
        identity_providers=_read(lambda: read_identity_providers(clients)),
    )


# --- STS ----------------------------------------------------------------------------------------


def read_enabled_regions(clients: AccountClients) -> dict[str, str]:
    """account:ListRegions: the account's enabled regions with their opt status."""
    out: dict[str, str] = {}
    client = quick_client(clients, "account", clients.region)
    with aws_call(f"listing the enabled regions of {clients.label} (account:ListRegions)"):
        paginator = client.get_paginator("list_regions")
        for page in paginator.paginate(RegionOptStatusContains=["ENABLED", "ENABLED_BY_DEFAULT"]):
            for r in page.get("Regions", []):
                out[str(r["RegionName"])] = str(r.get("RegionOptStatus", ""))
    return out


def probe_sts_region(
    clients: AccountClients, region: str, *, assume_role_arn: str | None = None
) -> RegionProbe:
    """Ask region's STS endpoint for credentials; RegionDisabledException means STS is off there.

    With `assume_role_arn`, `clients` are the operator's and the probe is AssumeRole into the
    audited account (STS checks the *target* account's regional setting); otherwise
    GetSessionToken with the account's own long-term credentials. The credentials a probe gets
    are discarded unread.
    """
    sts = StsGateway(quick_client(clients, "sts", region))
    host = sts.endpoint_host
    if host in ("sts.amazonaws.com", "sts.amazonaws.com.cn"):
        # sts_regional_endpoints=legacy sends this region's calls to the global endpoint.
        return RegionProbe(
            region,
            RegionStatus.UNKNOWN,
            f"requests go to the global endpoint {host} (sts_regional_endpoints=legacy in the AWS config?)",
        )
    call = "AssumeRole" if assume_role_arn else "GetSessionToken"
    attempted = f"probing STS in {region} for {clients.label} ({call})"
    try:
        if assume_role_arn:
            sts.assume(assume_role_arn, PROBE_SESSION_NAME, duration=PROBE_DURATION, attempted=attempted)
        else:
            sts.session_token(duration=PROBE_DURATION, attempted=attempted)
    except AwsError as exc:
        if exc.code == "RegionDisabledException":
            return RegionProbe(region, RegionStatus.INACTIVE, f"{call}: RegionDisabledException")
        why = str(exc)
        if call == "GetSessionToken" and "session credentials" in why.lower():
            why = (
                "GetSessionToken needs long-term credentials, and this account is reached with temporary "
                "ones; probe through the access role instead"
            )
        return RegionProbe(region, RegionStatus.UNKNOWN, brief(why))
    except IamlayerError as exc:
        return RegionProbe(region, RegionStatus.UNKNOWN, brief(str(exc)))
    return RegionProbe(region, RegionStatus.ACTIVE, f"{call} succeeded")


def read_sts_input(
    clients: AccountClients,
    account_name: str,
    regions_in_use: Sequence[str],
    *,
    account_id: str = "",
    probe_clients: AccountClients | None = None,
    probe_role_arn: str | None = None,
    max_workers: int = 8,
) -> StsInput:
    """Token version, enabled regions and one probe per candidate region, for one account."""

    def version() -> int:
        return int(read_account_summary(clients).get("GlobalEndpointTokenVersion", 1))

    token_version = _read(version)
    enabled = _read(lambda: read_enabled_regions(clients))
    regions = regions_to_probe(enabled, regions_in_use)
    prober = probe_clients or clients
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        probes = list(
            pool.map(lambda r: probe_sts_region(prober, r, assume_role_arn=probe_role_arn), regions)
        )
    return StsInput(account_name, account_id, token_version, enabled, tuple(probes))


def set_token_version(clients: AccountClients, version: str = "v2") -> None:
    """SetSecurityTokenServicePreferences: make the global endpoint issue v1 or v2 tokens."""
    if version not in ("v1", "v2"):
        raise ValueError(f"token version must be v1 or v2, not {version!r}")
    attempted = f"setting the STS global endpoint token version to {version} in {clients.label}"
    with aws_call(attempted):
        clients.client("iam").set_security_token_service_preferences(
            GlobalEndpointTokenVersion=f"{version}Token"
        )


__all__ = [
    "AwsPolicyDocuments",
    "probe_sts_region",
    "quick_client",
    "read_audit_input",
    "read_credential_report",
    "read_enabled_regions",
    "read_root_access_features",
    "read_sts_input",
    "set_token_version",
]

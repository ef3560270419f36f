"""The CIS AWS Foundations Benchmark IAM controls, each a small pure function over an AuditInput.

A control is registered with its id in each benchmark (CIS 4.0 numbering, shared with 3.0; in 5.0
the items from 1.4 on move down by one), its title, the IAM permissions its inputs need, and how
to fix a failure (naming the spec field when the spec can fix it).

A check returns Outcomes; `evaluate` turns them into Findings for the chosen benchmark. A check
that needs an unavailable input calls `need(...)`, and the runner reports ERROR with why: a
control is never skipped silently. A check with nothing in scope still reports one PASS saying so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from iamlayer.audit.model import AuditInput, CredentialReport, CredentialRow, MissingInput, Unavailable, need

BENCHMARKS = ("cis-4.0", "cis-5.0")
DEFAULT_BENCHMARK = "cis-4.0"

UNUSED_DAYS = 45
ROTATION_DAYS = 90
ROOT_RECENT_USE = timedelta(days=1)
SUPPORT_POLICY_ARN = "arn:aws:iam::aws:policy/AWSSupportAccess"
CLOUDSHELL_POLICY_ARN = "arn:aws:iam::aws:policy/AWSCloudShellFullAccess"

# Permissions per input, so each control declares exactly what its reads need.
P_CREDENTIAL_REPORT = ("iam:GenerateCredentialReport", "iam:GetCredentialReport")
P_SUMMARY = ("iam:GetAccountSummary",)
P_PASSWORD_POLICY = ("iam:GetAccountPasswordPolicy",)
P_AUTH_DETAILS = ("iam:GetAccountAuthorizationDetails",)
P_VIRTUAL_MFA = ("iam:ListVirtualMFADevices",)
P_SERVER_CERTS = ("iam:ListServerCertificates",)
P_ANALYZERS = ("access-analyzer:ListAnalyzers",)


class Status(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"


@dataclass(frozen=True)
class Outcome:
    """What a check found about one resource; `fix`/`spec_field` override the control's defaults."""

    status: Status
    resource: str
    detail: str
    fix: str | None = None
    spec_field: str | None = None


@dataclass(frozen=True)
class Finding:
    """One result of the audit, as reported."""

    control_id: str  # in the chosen benchmark, e.g. "1.8"
    title: str
    status: Status
    account: str
    resource: str
    detail: str
    fix: str  # empty for PASS
    spec_field: str | None = None
    control: str = ""  # the stable control key, e.g. "password-length"


Check = Callable[[AuditInput, datetime], list[Outcome]]


@dataclass(frozen=True)
class Control:
    key: str
    ids: Mapping[str, str]  # benchmark -> control id
    title: str
    requires: tuple[str, ...]  # IAM permissions the inputs need
    fix: str
    check: Check
    spec_field: str | None = None
    manual: bool = False  # "manual" in the benchmark; iamlayer can still decide it from IAM data

    def evaluate(self, inp: AuditInput, now: datetime, benchmark: str) -> list[Finding]:
        """Run the check on one account: never raises for missing input, never returns nothing."""
        cid = self.ids[benchmark]
        try:
            outcomes = self.check(inp, now)
        except MissingInput as exc:
            return [
                Finding(
                    cid,
                    self.title,
                    Status.ERROR,
                    inp.account,
                    exc.what,
                    f"could not check: {exc}",
                    f"make the {exc.what} readable (needs {', '.join(self.requires)}), then re-run",
                    None,
                    self.key,
                )
            ]
        if not outcomes:
            outcomes = [Outcome(Status.PASS, inp.account, "nothing in scope")]
        return [
            Finding(
                cid,
                self.title,
                o.status,
                inp.account,
                o.resource,
                o.detail,
                "" if o.status is Status.PASS else (o.fix or self.fix),
                None if o.status is Status.PASS else (o.spec_field or self.spec_field),
                self.key,
            )
            for o in outcomes
        ]


CONTROLS: list[Control] = []


def control(
    key: str,
    cis4: str,
    title: str,
    *,
    requires: Sequence[str],
    fix: str,
    spec_field: str | None = None,
    manual: bool = False,
) -> Callable[[Check], Check]:
    """Register a check. The CIS 5.0 id is derived: items from 1.4 on move down by one."""
    major, minor = cis4.split(".")
    cis5 = f"{major}.{int(minor) - 1}" if int(minor) >= 4 else cis4

    def register(fn: Check) -> Check:
        CONTROLS.append(
            Control(
                key, {"cis-4.0": cis4, "cis-5.0": cis5}, title, tuple(requires), fix, fn, spec_field, manual
            )
        )
        return fn

    return register


def _days(delta: timedelta) -> int:
    return int(delta.total_seconds() // 86400)


def _fmt(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M UTC") if ts else "never"


def _root_row(inp: AuditInput) -> CredentialRow | None:
    report = inp.credential_report
    return report.root if isinstance(report, CredentialReport) else None


# --- root user ---------------------------------------------------------------------------------


@control(
    "root-access-keys",
    "1.4",
    "No root user access keys exist",
    requires=P_CREDENTIAL_REPORT + P_SUMMARY,
    fix="Sign in as the root user > Security credentials > Access keys: delete every key.",
)
def root_access_keys(inp: AuditInput, now: datetime) -> list[Outcome]:
    root = _root_row(inp)
    if root is not None:
        active = [f"access key {k.slot}" for k in root.active_keys]
        if active:
            return [
                Outcome(Status.FAIL, "root", f"root has active {' and '.join(active)} (credential report)")
            ]
        return [Outcome(Status.PASS, "root", "no active root access key (credential report)")]
    # No root row (credential report unavailable or partial): GetAccountSummary says it too.
    summary = need(inp.summary, "account summary")
    if summary.get("AccountAccessKeysPresent", 0):
        return [Outcome(Status.FAIL, "root", "GetAccountSummary: AccountAccessKeysPresent = 1")]
    return [Outcome(Status.PASS, "root", "GetAccountSummary: AccountAccessKeysPresent = 0")]


@control(
    "root-mfa",
    "1.5",
    "MFA is enabled for the root user",
    requires=P_CREDENTIAL_REPORT + P_SUMMARY,
    fix="Sign in as the root user > Security credentials > Multi-factor authentication: assign a device.",
)
def root_mfa(inp: AuditInput, now: datetime) -> list[Outcome]:
    root = _root_row(inp)
    if root is not None:
        ok = root.mfa_active
        return [Outcome(Status.PASS if ok else Status.FAIL, "root", f"root mfa_active = {str(ok).lower()}")]
    summary = need(inp.summary, "account summary")
    ok = bool(summary.get("AccountMFAEnabled", 0))
    return [
        Outcome(
            Status.PASS if ok else Status.FAIL, "root", f"GetAccountSummary: AccountMFAEnabled = {int(ok)}"
        )
    ]


@control(
    "root-hardware-mfa",
    "1.6",
    "Hardware MFA is enabled for the root user",
    requires=P_SUMMARY + P_VIRTUAL_MFA,
    fix="Sign in as the root user and replace its virtual MFA with a hardware MFA device (security key).",
    manual=True,
)
def root_hardware_mfa(inp: AuditInput, now: datetime) -> list[Outcome]:
    summary = need(inp.summary, "account summary")
    devices = need(inp.virtual_mfa_devices, "virtual MFA devices")
    if not summary.get("AccountMFAEnabled", 0):
        return [Outcome(Status.FAIL, "root", "the root user has no MFA at all")]
    virtual = [d.serial for d in devices if d.user_arn and d.user_arn.endswith(":root")]
    if virtual:
        return [Outcome(Status.FAIL, "root", f"the root user's MFA is virtual: {virtual[0]}")]
    return [Outcome(Status.PASS, "root", "root MFA enabled and not a virtual device")]


@control(
    "root-usage",
    "1.7",
    "The root user is not used for everyday tasks",
    requires=P_CREDENTIAL_REPORT,
    fix="Stop using the root user: sign in as an IAM user or role; keep root for the tasks that need it.",
    manual=True,
)
def root_usage(inp: AuditInput, now: datetime) -> list[Outcome]:
    report = need(inp.credential_report, "credential report")
    root = report.root
    if root is None:
        raise MissingInput("credential report root row", Unavailable("the report has no <root_account> row"))
    uses = [("password", root.password_last_used)] + [
        (f"access key {k.slot}", k.last_used) for k in root.keys
    ]
    recent = [f"{what} used {_fmt(ts)}" for what, ts in uses if ts and now - ts <= ROOT_RECENT_USE]
    if recent:
        return [Outcome(Status.FAIL, "root", "root used in the last day: " + "; ".join(recent))]
    last = max((ts for _, ts in uses if ts), default=None)
    return [Outcome(Status.PASS, "root", f"root last used {_fmt(last)}")]


# --- password policy ---------------------------------------------------------------------------


@control(
    "password-length",
    "1.8",
    "IAM password policy requires a minimum length of 14 or more",
    requires=P_PASSWORD_POLICY,
    fix="Set password_policy.minimum_length to 14 or more in the spec, then `iamlayer apply`.",
    spec_field="password_policy.minimum_length",
)
def password_length(inp: AuditInput, now: datetime) -> list[Outcome]:
    policy = need(inp.password_policy, "password policy")
    if policy is None:
        return [Outcome(Status.FAIL, "password-policy", "the account has no password policy")]
    n = policy.minimum_length or 0
    return [
        Outcome(Status.PASS if n >= 14 else Status.FAIL, "password-policy", f"MinimumPasswordLength = {n}")
    ]


@control(
    "password-reuse",
    "1.9",
    "IAM password policy prevents password reuse (24 remembered)",
    requires=P_PASSWORD_POLICY,
    fix="Set password_policy.reuse_prevention: 24 in the spec, then `iamlayer apply`.",
    spec_field="password_policy.reuse_prevention",
)
def password_reuse(inp: AuditInput, now: datetime) -> list[Outcome]:
    policy = need(inp.password_policy, "password policy")
    if policy is None:
        return [Outcome(Status.FAIL, "password-policy", "the account has no password policy")]
    n = policy.reuse_prevention or 0
    return [
        Outcome(Status.PASS if n >= 24 else Status.FAIL, "password-policy", f"PasswordReusePrevention = {n}")
    ]


# --- users' credentials ------------------------------------------------------------------------


@control(
    "console-mfa",
    "1.10",
    "MFA is enabled for every IAM user with a console password",
    requires=P_CREDENTIAL_REPORT,
    fix="The user enables MFA (`iamlayer mfa enable`); use a group with self_management: enforce_mfa.",
    spec_field="groups.<group>.self_management",
)
def console_mfa(inp: AuditInput, now: datetime) -> list[Outcome]:
    report = need(inp.credential_report, "credential report")
    out = []
    for row in report.users:
        if not row.password_enabled:
            continue
        if row.mfa_active:
            out.append(Outcome(Status.PASS, f"user/{row.user}", "console password with MFA"))
        else:
            out.append(Outcome(Status.FAIL, f"user/{row.user}", "console password without MFA"))
    return out or [Outcome(Status.PASS, inp.account, "no user has a console password")]


@control(
    "no-setup-access-keys",
    "1.11",
    "No access keys are created at set-up for users with a console password",
    requires=P_CREDENTIAL_REPORT,
    fix="Delete the unused access key; console users get keys only when they need them.",
    spec_field="users.<user>.access_key",
    manual=True,
)
def no_setup_access_keys(inp: AuditInput, now: datetime) -> list[Outcome]:
    report = need(inp.credential_report, "credential report")
    out = []
    for row in report.users:
        if not row.password_enabled:
            continue
        unused = [k for k in row.active_keys if k.last_used is None]
        if unused:
            slots = ", ".join(f"access key {k.slot} (created {_fmt(k.last_rotated)})" for k in unused)
            out.append(
                Outcome(
                    Status.FAIL,
                    f"user/{row.user}",
                    f"console user with never-used active {slots}",
                    spec_field=f"users.{row.user}.access_key",
                )
            )
        else:
            out.append(Outcome(Status.PASS, f"user/{row.user}", "no never-used active access key"))
    return out or [Outcome(Status.PASS, inp.account, "no user has a console password")]


@control(
    "unused-credentials",
    "1.12",
    f"Credentials unused for {UNUSED_DAYS} days or more are disabled",
    requires=P_CREDENTIAL_REPORT,
    fix="Remove the unused password or key (spec: console: false / access_key: false), then apply.",
    spec_field="users.<user>.console",
)
def unused_credentials(inp: AuditInput, now: datetime) -> list[Outcome]:
    report = need(inp.credential_report, "credential report")
    limit = timedelta(days=UNUSED_DAYS)
    out = []
    for row in report.users:
        stale: list[str] = []
        field = f"users.{row.user}.console"
        # Never-used credentials count from when they were set (Prowler passes them: it should not).
        if row.password_enabled:
            since = row.password_last_used or row.password_last_changed or row.created
            if since and now - since > limit:
                how = "last used" if row.password_last_used else "never used, set"
                stale.append(f"password {how} {_days(now - since)} days ago")
        for k in row.active_keys:
            since = k.last_used or k.last_rotated or row.created
            if since and now - since > limit:
                how = "last used" if k.last_used else "never used, created"
                stale.append(f"access key {k.slot} {how} {_days(now - since)} days ago")
                if not row.password_enabled or len(stale) == 1:
                    field = f"users.{row.user}.access_key"
        if stale:
            out.append(Outcome(Status.FAIL, f"user/{row.user}", "; ".join(stale), spec_field=field))
        elif row.password_enabled or row.active_keys:
            out.append(
                Outcome(Status.PASS, f"user/{row.user}", f"every credential used within {UNUSED_DAYS} days")
            )
    return out or [Outcome(Status.PASS, inp.account, "no user has a password or an active access key")]


@control(
    "one-active-key",
    "1.13",
    "At most one active access key per IAM user",
    requires=P_CREDENTIAL_REPORT,
    fix="Retire the key no longer in use: `iamlayer access-key retire USER [KEY_ID]`.",
)
def one_active_key(inp: AuditInput, now: datetime) -> list[Outcome]:
    report = need(inp.credential_report, "credential report")
    out = []
    for row in report.users:
        n = len(row.active_keys)
        if n > 1:
            out.append(Outcome(Status.FAIL, f"user/{row.user}", f"{n} active access keys"))
        elif n == 1:
            out.append(Outcome(Status.PASS, f"user/{row.user}", "one active access key"))
    return out or [Outcome(Status.PASS, inp.account, "no user has an active access key")]


@control(
    "key-rotation",
    "1.14",
    f"Access keys are rotated every {ROTATION_DAYS} days or less",
    requires=P_CREDENTIAL_REPORT,
    fix="Rotate the key: `iamlayer access-key rotate USER`.",
)
def key_rotation(inp: AuditInput, now: datetime) -> list[Outcome]:
    report = need(inp.credential_report, "credential report")
    out = []
    for row in report.users:
        for k in row.active_keys:
            res = f"user/{row.user}/access-key-{k.slot}"
            if k.last_rotated is None:
                out.append(Outcome(Status.FAIL, res, "active key with no rotation date in the report"))
            elif now - k.last_rotated > timedelta(days=ROTATION_DAYS):
                out.append(Outcome(Status.FAIL, res, f"last rotated {_days(now - k.last_rotated)} days ago"))
            else:
                out.append(Outcome(Status.PASS, res, f"rotated {_days(now - k.last_rotated)} days ago"))
    return out or [Outcome(Status.PASS, inp.account, "no active access key")]


# --- permissions ------------------------------------------------------------------------------


@control(
    "permissions-via-groups",
    "1.15",
    "IAM users receive permissions only through groups (or roles)",
    requires=P_AUTH_DETAILS,
    fix="Move the user's policies to a group and add the user to it.",
    spec_field="groups.<group>.policies",
)
def permissions_via_groups(inp: AuditInput, now: datetime) -> list[Outcome]:
    auth = need(inp.authorization, "authorization details")
    out = []
    for user in auth.users:
        direct = [f"attached {a}" for a in user.attached] + [f"inline {n}" for n in user.inline]
        if direct:
            out.append(
                Outcome(Status.FAIL, f"user/{user.name}", "policies on the user: " + ", ".join(direct))
            )
        else:
            out.append(Outcome(Status.PASS, f"user/{user.name}", "no policy on the user"))
    return out or [Outcome(Status.PASS, inp.account, "no IAM users")]


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else [value]


def grants_full_admin(document: Mapping[str, object]) -> bool:
    """True if a statement allows Action "*" on Resource "*" (NotAction is not "*": not counted)."""
    for stmt in _as_list(document.get("Statement", [])):
        if not isinstance(stmt, Mapping) or stmt.get("Effect") != "Allow" or "Action" not in stmt:
            continue
        if "*" in _as_list(stmt.get("Action")) and "*" in _as_list(stmt.get("Resource", [])):
            return True
    return False


@control(
    "no-full-admin-policy",
    "1.16",
    'No attached customer-managed policy allows "*" on "*"',
    requires=P_AUTH_DETAILS,
    fix="Narrow the policy's Action/Resource; use AWS-managed AdministratorAccess on a role that needs it.",
    spec_field="policies.<policy>.document",
)
def no_full_admin_policy(inp: AuditInput, now: datetime) -> list[Outcome]:
    auth = need(inp.authorization, "authorization details")
    out = []
    for pol in auth.policies:
        if not grants_full_admin(pol.document):
            continue
        res = f"policy/{pol.name}"
        if pol.attachment_count > 0:
            out.append(
                Outcome(
                    Status.FAIL,
                    res,
                    f'allows "*" on "*" and is attached {pol.attachment_count} time(s)',
                    spec_field=f"policies.{pol.name}.document",
                )
            )
        else:
            out.append(Outcome(Status.PASS, res, 'allows "*" on "*" but is not attached'))
    return out or [Outcome(Status.PASS, inp.account, 'no customer-managed policy allows "*" on "*"')]


@control(
    "support-role",
    "1.17",
    "A support role exists to manage incidents with AWS Support",
    requires=P_AUTH_DETAILS,
    fix="Create a role with AWSSupportAccess, e.g. in the spec: roles: {Support: {policies: "
    "[arn:aws:iam::aws:policy/AWSSupportAccess]}}.",
    spec_field="roles.<role>.policies",
)
def support_role(inp: AuditInput, now: datetime) -> list[Outcome]:
    auth = need(inp.authorization, "authorization details")
    roles = [r.name for r in auth.roles if SUPPORT_POLICY_ARN in r.attached]
    if roles:
        return [Outcome(Status.PASS, f"role/{roles[0]}", f"AWSSupportAccess attached to {', '.join(roles)}")]
    return [Outcome(Status.FAIL, inp.account, "no role has AWSSupportAccess attached")]


@control(
    "expired-server-certificates",
    "1.19",
    "No expired SSL/TLS certificates are stored in IAM",
    requires=P_SERVER_CERTS,
    fix="Delete the expired certificate: aws iam delete-server-certificate --server-certificate-name NAME.",
)
def expired_server_certificates(inp: AuditInput, now: datetime) -> list[Outcome]:
    certs = need(inp.server_certificates, "server certificates")
    out = []
    for cert in certs:
        res = f"server-certificate/{cert.name}"
        if cert.expiration <= now:
            out.append(Outcome(Status.FAIL, res, f"expired {_fmt(cert.expiration)}"))
        else:
            out.append(Outcome(Status.PASS, res, f"valid until {_fmt(cert.expiration)}"))
    return out or [Outcome(Status.PASS, inp.account, "no server certificates stored in IAM")]


@control(
    "access-analyzer",
    "1.20",
    "IAM Access Analyzer is enabled in every region in use",
    requires=P_ANALYZERS,
    fix="Create an analyzer in the region: aws accessanalyzer create-analyzer --analyzer-name default "
    "--type ACCOUNT --region REGION.",
)
def access_analyzer(inp: AuditInput, now: datetime) -> list[Outcome]:
    if not inp.analyzers:
        raise MissingInput("access analyzers", Unavailable("no region was read"))
    out = []
    for region, analyzers in sorted(inp.analyzers.items()):
        if isinstance(analyzers, tuple):
            active = [a.name for a in analyzers if a.status == "ACTIVE"]
            if active:
                out.append(Outcome(Status.PASS, f"region/{region}", f"active analyzer: {', '.join(active)}"))
            else:
                out.append(Outcome(Status.FAIL, f"region/{region}", "no active analyzer"))
        else:
            out.append(
                Outcome(
                    Status.ERROR,
                    f"region/{region}",
                    f"could not check: access analyzers unavailable: {analyzers.why}",
                    fix="make the analyzers readable (needs access-analyzer:ListAnalyzers), then re-run",
                )
            )
    return out


@control(
    "cloudshell-full-access",
    "1.22",
    "Access to AWSCloudShellFullAccess is restricted",
    requires=P_AUTH_DETAILS,
    fix="Detach AWSCloudShellFullAccess; grant a narrower CloudShell policy where needed.",
    spec_field="groups.<group>.policies",
)
def cloudshell_full_access(inp: AuditInput, now: datetime) -> list[Outcome]:
    auth = need(inp.authorization, "authorization details")
    holders = [p for p in auth.principals if CLOUDSHELL_POLICY_ARN in p.attached]
    out = [
        Outcome(
            Status.FAIL,
            f"{p.kind}/{p.name}",
            "AWSCloudShellFullAccess attached",
            spec_field=f"{p.kind}s.{p.name}.policies" if p.kind != "user" else "groups.<group>.policies",
        )
        for p in holders
    ]
    return out or [Outcome(Status.PASS, inp.account, "AWSCloudShellFullAccess is attached to nobody")]


# --- running -----------------------------------------------------------------------------------


def controls_by_key() -> dict[str, Control]:
    return {c.key: c for c in CONTROLS}


def evaluate(
    inputs: Iterable[AuditInput], now: datetime, benchmark: str = DEFAULT_BENCHMARK
) -> list[Finding]:
    """Every control on every account, in benchmark order."""
    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; valid: {', '.join(BENCHMARKS)}")
    ordered = sorted(CONTROLS, key=lambda c: tuple(int(p) for p in c.ids[benchmark].split(".")))
    findings: list[Finding] = []
    for inp in inputs:
        for c in ordered:
            findings.extend(c.evaluate(inp, now, benchmark))
    return findings


def required_permissions() -> list[str]:
    """Every IAM permission the audit needs: the minimal operator policy's actions."""
    return sorted({p for c in CONTROLS for p in c.requires})


def operator_policy() -> dict[str, Any]:
    """The minimal IAM policy for the identity that runs `iamlayer audit`."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "IamlayerAudit", "Effect": "Allow", "Action": required_permissions(), "Resource": "*"}
        ],
    }

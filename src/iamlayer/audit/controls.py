"""The CIS AWS Foundations Benchmark IAM controls, and iamlayer's own, each a small pure function.

A control is registered with its id in each benchmark (CIS 4.0 numbering, shared with 3.0; in 5.0
the items from 1.4 on move down by one), its title, the IAM permissions its inputs need, how to
fix a failure (naming the spec field when the spec can fix it), and the equivalent Prowler check
ids, so people moving from Prowler can compare. Controls that no CIS version numbers (admin access
attached to principals, privilege escalation, ...) get an iamlayer id, `IL-<n>`, in every
benchmark, and are reported after the CIS ones.

A check returns Outcomes; `Control.evaluate` turns them into Findings for the chosen benchmark. A check
that needs an unavailable input calls `need(...)`, and the runner reports ERROR with why: a
control is never skipped silently. A check with nothing in scope still reports one PASS saying so.
INFO is for what a benchmark asks to report but not to fail (e.g. users' virtual MFA: CIS asks
hardware MFA only of the root user); it never makes `--fail-on` fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from iamlayer.access.web_identity import web_identities
from iamlayer.audit.escalation import PATHS, Reach, account_escalation
from iamlayer.audit.model import (
    ROOT_SESSIONS,
    AuditInput,
    AuthorizationDetails,
    CredentialReport,
    CredentialRow,
    LiveManagedPolicy,
    MissingInput,
    PasswordPolicyState,
    PolicyDoc,
    Principal,
    RootAccessFeatures,
    Unavailable,
    need,
)
from iamlayer.spec.grants_validate import parse_until
from iamlayer.spec.policy_grammar import full_admin_statements
from iamlayer.state.model import GRANTS_POLICY_NAME

BENCHMARKS = ("cis-4.0", "cis-5.0")
DEFAULT_BENCHMARK = "cis-4.0"

UNUSED_DAYS = 45
ROTATION_DAYS = 90
ROOT_RECENT_USE = timedelta(days=1)
SUPPORT_POLICY_ARN = "arn:aws:iam::aws:policy/AWSSupportAccess"
CLOUDSHELL_POLICY_ARN = "arn:aws:iam::aws:policy/AWSCloudShellFullAccess"
#: iamlayer's own control ids (no CIS version numbers these controls)
OWN_ID_PREFIX = "IL-"

# Permissions per input, so each control declares exactly what its reads need.
P_CREDENTIAL_REPORT = ("iam:GenerateCredentialReport", "iam:GetCredentialReport")
P_SUMMARY = ("iam:GetAccountSummary",)
P_PASSWORD_POLICY = ("iam:GetAccountPasswordPolicy",)
P_AUTH_DETAILS = ("iam:GetAccountAuthorizationDetails",)
P_AWS_POLICIES = ("iam:ListPolicies", "iam:GetPolicyVersion")
P_VIRTUAL_MFA = ("iam:ListVirtualMFADevices",)
P_SERVER_CERTS = ("iam:ListServerCertificates",)
P_ANALYZERS = ("access-analyzer:ListAnalyzers",)
P_PROVIDERS = ("iam:ListSAMLProviders", "iam:ListOpenIDConnectProviders")
P_ORG_FEATURES = ("iam:ListOrganizationsFeatures",)


class Status(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    INFO = "INFO"  # reported, not failed: the benchmark does not require it
    WARN = "WARN"  # a weakness to look at, not failed (`--fail-on` ignores it): e.g. a wildcard `sub`


class Severity(StrEnum):
    """What to fix first: a FAIL or ERROR has its control's severity (an outcome may say
    otherwise, e.g. a possible escalation path is lower than a certain one); PASS and INFO none."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NONE = "none"

    @property
    def rank(self) -> int:
        """0 for critical, the most urgent."""
        return list(Severity).index(self)


@dataclass(frozen=True)
class Outcome:
    """What a check found about one resource; `fix`/`spec_field` override the control's defaults."""

    status: Status
    resource: str
    detail: str
    fix: str | None = None
    spec_field: str | None = None
    severity: Severity | None = None  # None: the control's
    #: structured evidence for machines (e.g. an escalation's source, steps and the admin it reaches)
    evidence: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Finding:
    """One result of the audit, as reported."""

    control_id: str  # in the chosen benchmark, e.g. "1.8", or "IL-2" for iamlayer's own
    title: str
    status: Status
    account: str
    resource: str
    detail: str
    fix: str  # empty for PASS
    spec_field: str | None = None
    control: str = ""  # the stable control key, e.g. "password-length"
    severity: Severity = Severity.NONE
    evidence: Mapping[str, Any] | None = None


ControlFn = Callable[[AuditInput, datetime], list[Outcome]]


@dataclass(frozen=True)
class Control:
    key: str
    ids: Mapping[str, str]  # benchmark -> control id
    title: str
    requires: tuple[str, ...]  # IAM permissions the inputs need
    fix: str
    check: ControlFn
    spec_field: str | None = None
    manual: bool = False  # "manual" in the benchmark; iamlayer can still decide it from IAM data
    prowler: tuple[str, ...] = ()  # the equivalent Prowler check ids
    #: the accounts the control is about (None: every account); e.g. Identity Center's controls
    #: run in the account that holds the instance, and report nothing for the others
    applies: Callable[[AuditInput], bool] | None = None
    severity: Severity = Severity.MEDIUM  # of its FAIL and ERROR findings, unless an outcome says

    @property
    def cis(self) -> bool:
        """Numbered by the CIS benchmarks (not one of iamlayer's own)."""
        return not self.ids[DEFAULT_BENCHMARK].startswith(OWN_ID_PREFIX)

    def evaluate(self, inp: AuditInput, now: datetime, benchmark: str) -> list[Finding]:
        """Run the check on one account: never raises for missing input, never returns nothing
        (except in an account the control is not about, see `applies`)."""
        if self.applies is not None and not self.applies(inp):
            return []
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
                    self.severity,
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
                self._severity(o),
                o.evidence,
            )
            for o in outcomes
        ]

    def _severity(self, o: Outcome) -> Severity:
        if o.status in (Status.PASS, Status.INFO):
            return Severity.NONE
        return o.severity or self.severity


CONTROLS: list[Control] = []


def control(
    key: str,
    cis4: str | None,
    title: str,
    *,
    requires: Sequence[str],
    fix: str,
    spec_field: str | None = None,
    manual: bool = False,
    prowler: Sequence[str] = (),
    applies: Callable[[AuditInput], bool] | None = None,
    severity: Severity = Severity.MEDIUM,
) -> Callable[[ControlFn], ControlFn]:
    """Register a check. The CIS 5.0 id is derived: items from 1.4 on move down by one.

    `cis4=None` registers one of iamlayer's own controls, numbered IL-1, IL-2... in registration order.
    """
    if cis4 is None:
        own = sum(1 for c in CONTROLS if not c.cis) + 1
        ids = {b: f"{OWN_ID_PREFIX}{own}" for b in BENCHMARKS}
    else:
        major, minor = cis4.split(".")
        ids = {"cis-4.0": cis4, "cis-5.0": f"{major}.{int(minor) - 1}" if int(minor) >= 4 else cis4}

    def register(fn: ControlFn) -> ControlFn:
        CONTROLS.append(
            Control(
                key,
                ids,
                title,
                tuple(requires),
                fix,
                fn,
                spec_field,
                manual,
                tuple(prowler),
                applies,
                severity,
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
    prowler=("iam_no_root_access_key",),
    fix="Sign in as the root user > Security credentials > Access keys: delete every key.",
    severity=Severity.CRITICAL,
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
    prowler=("iam_root_mfa_enabled",),
    fix="Sign in as the root user > Security credentials > Multi-factor authentication: assign a device.",
    severity=Severity.CRITICAL,
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
    fix="Sign in as the root user > Security credentials > Multi-factor authentication: assign a hardware "
    "MFA device (a FIDO security key or a hardware TOTP token).",
    manual=True,
    prowler=("iam_root_hardware_mfa_enabled",),
    severity=Severity.MEDIUM,
)
def root_hardware_mfa(inp: AuditInput, now: datetime) -> list[Outcome]:
    summary = need(inp.summary, "account summary")
    devices = need(inp.virtual_mfa_devices, "virtual MFA devices")
    if not summary.get("AccountMFAEnabled", 0):
        # The control's own fix (assign a hardware device) is the whole answer: there is nothing to replace.
        return [
            Outcome(Status.FAIL, "root", "the root user has no MFA device at all (AccountMFAEnabled = 0)")
        ]
    virtual = [d.serial for d in devices if d.user_arn and d.user_arn.endswith(":root")]
    if virtual:
        return [
            Outcome(
                Status.FAIL,
                "root",
                f"the root user's MFA is a virtual device: {virtual[0]}",
                fix="Sign in as the root user > Security credentials > Multi-factor authentication: assign a "
                f"hardware MFA device (security key), then remove the virtual device {virtual[0]}.",
            )
        ]
    return [Outcome(Status.PASS, "root", "root MFA enabled, and no virtual MFA device is assigned to root")]


@control(
    "root-usage",
    "1.7",
    "The root user is not used for everyday tasks",
    requires=P_CREDENTIAL_REPORT,
    prowler=("iam_avoid_root_usage",),
    fix="Stop using the root user: sign in as an IAM user or role; keep root for the tasks that need it.",
    manual=True,
    severity=Severity.HIGH,
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
    if last is None:
        return [Outcome(Status.PASS, "root", "no use of the root user's password or keys in the report")]
    return [Outcome(Status.PASS, "root", f"root last used {_fmt(last)} ({_days(now - last)} days ago)")]


# --- password policy ---------------------------------------------------------------------------


def _password_setting(
    inp: AuditInput, aws_name: str, value: Callable[[PasswordPolicyState], int | None], *, at_least: int
) -> list[Outcome]:
    """One number of the password policy (AWS's name for it in the detail) at `at_least` or more;
    an account without a password policy fails."""
    policy = need(inp.password_policy, "password policy")
    if policy is None:
        return [Outcome(Status.FAIL, "password-policy", "the account has no password policy")]
    n = value(policy) or 0
    return [Outcome(Status.PASS if n >= at_least else Status.FAIL, "password-policy", f"{aws_name} = {n}")]


@control(
    "password-length",
    "1.8",
    "IAM password policy requires a minimum length of 14 or more",
    requires=P_PASSWORD_POLICY,
    prowler=("iam_password_policy_minimum_length_14",),
    fix="Set password_policy.minimum_length to 14 or more in the spec, then `iamlayer apply`.",
    spec_field="password_policy.minimum_length",
    severity=Severity.MEDIUM,
)
def password_length(inp: AuditInput, now: datetime) -> list[Outcome]:
    return _password_setting(inp, "MinimumPasswordLength", lambda p: p.minimum_length, at_least=14)


@control(
    "password-reuse",
    "1.9",
    "IAM password policy prevents password reuse (24 remembered)",
    requires=P_PASSWORD_POLICY,
    prowler=("iam_password_policy_reuse_24",),
    fix="Set password_policy.reuse_prevention: 24 in the spec, then `iamlayer apply`.",
    spec_field="password_policy.reuse_prevention",
    severity=Severity.LOW,
)
def password_reuse(inp: AuditInput, now: datetime) -> list[Outcome]:
    return _password_setting(inp, "PasswordReusePrevention", lambda p: p.reuse_prevention, at_least=24)


# --- users' credentials ------------------------------------------------------------------------


@control(
    "console-mfa",
    "1.10",
    "MFA is enabled for every IAM user with a console password",
    requires=P_CREDENTIAL_REPORT,
    prowler=("iam_user_mfa_enabled_console_access",),
    fix="The user enables MFA (`iamlayer mfa enable`); use a group with self_management: enforce_mfa.",
    spec_field="groups.<group>.self_management",
    severity=Severity.HIGH,
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
    prowler=("iam_user_no_setup_initial_access_key",),
    fix="Delete the unused access key; console users get keys only when they need them.",
    spec_field="users.<user>.access_key",
    manual=True,
    severity=Severity.LOW,
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
    prowler=(
        "iam_user_console_access_unused",
        "iam_user_accesskey_unused",
    ),
    fix="Remove the unused password or key (spec: console: false / access_key: false), then apply.",
    spec_field="users.<user>.console",
    severity=Severity.MEDIUM,
)
def unused_credentials(inp: AuditInput, now: datetime) -> list[Outcome]:
    report = need(inp.credential_report, "credential report")
    limit = timedelta(days=UNUSED_DAYS)
    out = []
    for row in report.users:
        stale: list[str] = []
        fresh: list[str] = []
        undated: list[str] = []
        field = f"users.{row.user}.console"
        creds: list[tuple[str, datetime | None, datetime | None, str]] = []
        if row.password_enabled:
            creds.append(
                ("password", row.password_last_used, row.password_last_changed or row.created, "set")
            )
        creds += [
            (f"access key {k.slot}", k.last_used, k.last_rotated or row.created, "created")
            for k in row.active_keys
        ]
        for what, used, since, verb in creds:
            # Never-used credentials count from when they were set (Prowler passes them: it should not).
            when = used or since
            if when is None:
                undated.append(what)
                continue
            age = _days(now - when)
            text = f"{what} last used {age} days ago" if used else f"{what} never used, {verb} {age} days ago"
            if now - when > limit:
                stale.append(text)
                if what != "password" and (not row.password_enabled or len(stale) == 1):
                    field = f"users.{row.user}.access_key"
            else:
                fresh.append(text)
        res = f"user/{row.user}"
        if stale:
            out.append(Outcome(Status.FAIL, res, "; ".join(stale), spec_field=field))
        elif undated:
            out.append(
                Outcome(
                    Status.ERROR,
                    res,
                    f"no last-used, creation or set date in the credential report for {', '.join(undated)}",
                    fix="Regenerate the credential report and re-run; check the user's credentials in the console.",
                )
            )
        elif fresh:
            out.append(Outcome(Status.PASS, res, f"within {UNUSED_DAYS} days: " + "; ".join(fresh)))
    return out or [Outcome(Status.PASS, inp.account, "no user has a password or an active access key")]


@control(
    "one-active-key",
    "1.13",
    "At most one active access key per IAM user",
    requires=P_CREDENTIAL_REPORT,
    prowler=("iam_user_two_active_access_key",),
    fix="Retire the key no longer in use: `iamlayer access-key retire USER [KEY_ID]`.",
    severity=Severity.LOW,
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
    prowler=("iam_rotate_access_key_90_days",),
    fix="Rotate the key: `iamlayer access-key rotate USER`.",
    severity=Severity.MEDIUM,
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
    prowler=("iam_policy_attached_only_to_group_or_roles",),
    fix="Move the user's policies to a group and add the user to it.",
    spec_field="groups.<group>.policies",
    severity=Severity.LOW,
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


def has_full_admin_statement(document: PolicyDoc) -> bool:
    """True if a statement allows Action "*" on Resource "*", with or without a Condition (CIS 1.16).

    NotAction is not "*": not counted, as in the CIS audit procedure. (The spec lint's
    `grants_unconditional_admin` counts only statements without a Condition.)
    """
    return bool(full_admin_statements(document))


def _admin_note(document: PolicyDoc) -> str:
    """' (only under a Condition)' when every "*"-on-"*" statement of the document is conditional."""
    stmts = full_admin_statements(document)
    return " (only under a Condition)" if stmts and all(st.get("Condition") for st in stmts) else ""


def _managed_policies(inp: AuditInput) -> tuple[AuthorizationDetails, dict[str, LiveManagedPolicy]]:
    """Principals, and every managed policy that matters by ARN: customer-managed and attached AWS-managed."""
    auth = need(inp.authorization, "authorization details")
    aws = need(inp.aws_managed_policies, "attached AWS-managed policies")
    return auth, {p.arn: p for p in (*auth.policies, *aws)}


def _refs(principals: Iterable[Principal]) -> str:
    return ", ".join(p.ref for p in principals)


def _policies_field(p: Principal) -> str | None:
    """The spec field that attaches managed policies to a principal (users get theirs through groups)."""
    return f"{p.kind}s.{p.name}.policies" if p.kind in ("group", "role") else None


def _policy_resource(pol: LiveManagedPolicy) -> str:
    # A customer-managed policy may be named like an AWS-managed one: keep them apart.
    return f"aws-policy/{pol.name}" if pol.aws_managed else f"policy/{pol.name}"


@control(
    "no-full-admin-policy",
    "1.16",
    'No attached policy (customer- or AWS-managed) allows "*" on "*"',
    requires=P_AUTH_DETAILS + P_AWS_POLICIES,
    fix="Narrow the policy's Action/Resource, or detach it; keep full access for a role people assume with MFA.",
    spec_field="policies.<policy>.document",
    prowler=(
        "iam_aws_attached_policy_no_administrative_privileges",
        "iam_customer_attached_policy_no_administrative_privileges",
    ),
    severity=Severity.HIGH,
)
def no_full_admin_policy(inp: AuditInput, now: datetime) -> list[Outcome]:
    """Every attached managed policy, AWS-managed included, as the CIS audit (`list-policies --only-attached`)."""
    auth, policies = _managed_policies(inp)
    out = []
    attached = [p for p in policies.values() if p.attachment_count > 0]
    for pol in policies.values():
        if not has_full_admin_statement(pol.document):
            continue
        res = _policy_resource(pol)
        note = _admin_note(pol.document)
        if pol.attachment_count == 0:
            out.append(
                Outcome(
                    Status.PASS,
                    res,
                    f'{pol.kind} policy {pol.name} allows "*" on "*"{note} but is not attached',
                )
            )
            continue
        holders = auth.attached_to(pol.arn)
        where = _refs(holders) or f"{pol.attachment_count} principal(s)"
        detail = f'{pol.kind} policy {pol.name} allows "*" on "*"{note} and is attached to {where}'
        if pol.aws_managed:
            fields = [f for f in map(_policies_field, holders) if f]
            out.append(
                Outcome(
                    Status.FAIL,
                    res,
                    detail,
                    fix=f"Detach {pol.name} from {where} and grant narrower policies; full access belongs only "
                    "in a role people assume with MFA (this control still reports it there).",
                    spec_field=fields[0] if len(fields) == 1 else (", ".join(fields) or None),
                )
            )
        else:
            out.append(Outcome(Status.FAIL, res, detail, spec_field=f"policies.{pol.name}.document"))
    if not any(o.status is Status.FAIL for o in out):
        kinds = sum(1 for p in attached if p.aws_managed)
        out.append(
            Outcome(
                Status.PASS,
                inp.account,
                f"none of the {len(attached)} attached policies ({len(attached) - kinds} customer-managed, "
                f'{kinds} AWS-managed) allows "*" on "*"',
            )
        )
    return out


@control(
    "support-role",
    "1.17",
    "A support role exists to manage incidents with AWS Support",
    requires=P_AUTH_DETAILS,
    prowler=("iam_support_role_created",),
    fix="Create a role with AWSSupportAccess, e.g. in the spec: roles: {Support: {policies: "
    "[arn:aws:iam::aws:policy/AWSSupportAccess]}}.",
    spec_field="roles.<role>.policies",
    severity=Severity.LOW,
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
    prowler=("iam_no_expired_server_certificates_stored",),
    fix="Delete the expired certificate: aws iam delete-server-certificate --server-certificate-name NAME.",
    severity=Severity.MEDIUM,
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
    prowler=("accessanalyzer_enabled",),
    fix="Create an analyzer in the region: aws accessanalyzer create-analyzer --analyzer-name default "
    "--type ACCOUNT --region REGION.",
    severity=Severity.MEDIUM,
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
    prowler=("iam_policy_cloudshell_admin_not_attached",),
    fix="Detach AWSCloudShellFullAccess; grant a narrower CloudShell policy where needed.",
    spec_field="groups.<group>.policies",
    severity=Severity.MEDIUM,
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


@control(
    "federation",
    "1.21",
    "IAM users are managed centrally (the people account, or identity federation)",
    requires=P_AUTH_DETAILS + P_PROVIDERS,
    fix="Move the user to the people account (users: in the spec) and reach this account through an "
    "assumable role, or federate people (IAM Identity Center, a SAML or OIDC provider); then delete the user.",
    manual=True,
    prowler=("iam_check_saml_providers_sts",),
    severity=Severity.MEDIUM,
)
def federation(inp: AuditInput, now: datetime) -> list[Outcome]:
    """CIS 1.21: in a multi-account organization, IAM users live in one identity account only.

    iamlayer's layout is that answer (users in the people account, roles everywhere else), so
    IAM users in any other account fail; the SAML and OIDC providers of each account are listed as
    evidence (Prowler's check passes on any SAML provider and fails without one).
    """
    auth = need(inp.authorization, "authorization details")
    providers = need(inp.identity_providers, "identity providers")
    listed = ", ".join(f"{p.kind} {p.name}" for p in providers) or "none"
    if inp.people_account:
        return [
            Outcome(
                Status.PASS,
                inp.account,
                f"the people account: its {len(auth.users)} IAM user(s) are managed here; identity providers: {listed}",
            )
        ]
    out = [
        Outcome(
            Status.FAIL,
            u.ref,
            f"IAM user outside the people account (identity providers here: {listed})",
        )
        for u in auth.users
    ]
    if out:
        return out
    how = f"; federation through {listed}" if providers else ""
    return [Outcome(Status.PASS, inp.account, f"no IAM users: people reach this account through roles{how}")]


# --- iamlayer's own controls (no CIS number) ------------------------------------------------------


def _trust_note(role: Principal) -> str:
    """Whether a role's trust policy demands MFA: evidence for an admin role, not an excuse."""
    text = str(role.trust or {})
    return " (its trust policy requires MFA)" if "aws:MultiFactorAuth" in text else ""


def _members(auth: AuthorizationDetails, group: str) -> list[str]:
    return [u.name for u in auth.users if group in u.groups]


@control(
    "admin-access-attached",
    None,
    'No user, group or role has a policy attached that allows "*" on "*"',
    requires=P_AUTH_DETAILS + P_AWS_POLICIES,
    fix="Detach the policy; grant narrower policies, and full access only through a role people assume with MFA.",
    prowler=(
        "iam_user_administrator_access_policy",
        "iam_group_administrator_access_policy",
        "iam_role_administratoraccess_policy",
    ),
    severity=Severity.HIGH,
)
def admin_access_attached(inp: AuditInput, now: datetime) -> list[Outcome]:
    """Principal by principal: which admin policy (AdministratorAccess or any "*"-on-"*" one) it holds.

    Service-linked roles are skipped: AWS owns them and nobody can change their policies.
    """
    auth, policies = _managed_policies(inp)
    out: list[Outcome] = []
    checked = 0
    for p in auth.principals:
        if p.service_linked:
            continue
        checked += 1
        for arn in p.attached:
            pol = policies.get(arn)
            if pol is None:
                out.append(
                    Outcome(
                        Status.ERROR,
                        p.ref,
                        f"{arn} is attached but its document was not read (changed during the audit?)",
                        fix="Re-run the audit.",
                    )
                )
                continue
            if not has_full_admin_statement(pol.document):
                continue
            detail = (
                f'{pol.kind} policy {pol.name} attached, which allows "*" on "*"{_admin_note(pol.document)}'
            )
            if p.kind == "group":
                members = _members(auth, p.name)
                detail += f"; members: {', '.join(members) or 'none'}"
                fix = (
                    f"Detach {pol.name} from group {p.name}; give its members an admin role they assume with "
                    f"MFA (spec: groups.{p.name}.assume)."
                )
            elif p.kind == "role":
                detail += _trust_note(p)
                fix = f"Detach {pol.name} from role {p.name}, or accept this for an admin role assumed with MFA."
            else:
                fix = f"Detach {pol.name} from user {p.name}; users get permissions through groups and roles."
            out.append(Outcome(Status.FAIL, p.ref, detail, fix=fix, spec_field=_policies_field(p)))
    return out or [
        Outcome(
            Status.PASS,
            inp.account,
            f'none of the {checked} users, groups and roles has a policy attached that allows "*" on "*"',
        )
    ]


@control(
    "inline-admin-policy",
    None,
    'No inline policy allows "*" on "*"',
    requires=P_AUTH_DETAILS,
    fix="Remove the inline policy or narrow its Action/Resource.",
    prowler=("iam_inline_policy_no_administrative_privileges",),
    severity=Severity.HIGH,
)
def inline_admin_policy(inp: AuditInput, now: datetime) -> list[Outcome]:
    auth = need(inp.authorization, "authorization details")
    out: list[Outcome] = []
    checked = 0
    for p in auth.principals:
        if p.service_linked:
            continue
        for name, doc in p.inline.items():
            checked += 1
            if has_full_admin_statement(doc):
                out.append(
                    Outcome(
                        Status.FAIL,
                        f"{p.ref}/inline-policy/{name}",
                        f'inline policy {name} of {p.kind} {p.name} allows "*" on "*"{_admin_note(doc)}',
                        spec_field=f"{p.kind}s.{p.name}.inline_policies.{name}" if p.kind != "user" else None,
                    )
                )
    return out or [
        Outcome(Status.PASS, inp.account, f'none of the {checked} inline policies allows "*" on "*"')
    ]


@control(
    "unattached-admin-policy",
    None,
    'No customer-managed policy allows "*" on "*", even unattached',
    requires=P_AUTH_DETAILS,
    fix="Delete the policy or narrow it: whoever may attach policies can grant it at any time.",
    spec_field="policies.<policy>.document",
    prowler=("iam_customer_unattached_policy_no_administrative_privileges",),
    severity=Severity.MEDIUM,
)
def unattached_admin_policy(inp: AuditInput, now: datetime) -> list[Outcome]:
    auth = need(inp.authorization, "authorization details")
    out = [
        Outcome(
            Status.FAIL,
            f"policy/{pol.name}",
            f'customer-managed policy {pol.name} allows "*" on "*"{_admin_note(pol.document)} and is not attached',
            spec_field=f"policies.{pol.name}.document",
        )
        for pol in auth.policies
        if pol.attachment_count == 0 and has_full_admin_statement(pol.document)
    ]
    unattached = sum(1 for pol in auth.policies if pol.attachment_count == 0)
    return out or [
        Outcome(
            Status.PASS,
            inp.account,
            f'none of the {unattached} unattached customer-managed policies allows "*" on "*"',
        )
    ]


@control(
    "privilege-escalation",
    None,
    "No user or role can escalate its own privileges (Rhino Security Labs' paths, by the policy evaluator)",
    requires=P_AUTH_DETAILS + P_AWS_POLICIES,
    fix="Remove the path's actions from the policies named, or scope them to named resources "
    "(iam:PassRole to named roles, with a Condition on iam:PassedToService).",
    prowler=("iam_policy_allows_privilege_escalation", "iam_inline_policy_allows_privilege_escalation"),
    severity=Severity.CRITICAL,
)
def privilege_escalation(inp: AuditInput, now: datetime) -> list[Outcome]:
    """Every user (with its groups) and role, asked of `iamlayer.access` on the account's own users,
    groups, roles and policies (see `iamlayer.audit.escalation`). Admins are reported by the admin
    controls; assuming an admin role is reported (INFO), and FAILs when people may do it without MFA."""
    auth = need(inp.authorization, "authorization details")
    aws = need(inp.aws_managed_policies, "attached AWS-managed policies")
    esc = account_escalation(auth, aws, inp.account_id, now)
    out = [_escalation_outcome(r) for r in esc.escalations]
    for role, users in esc.no_mfa:
        out.append(
            Outcome(
                Status.FAIL,
                role.ref,
                f"role {role.name} is or becomes admin, and {', '.join(users)} may assume it without MFA: "
                "its trust policy has no MFA condition for them",
                fix=f"Require MFA in the trust policy of {role.name} (Condition Bool "
                "aws:MultiFactorAuthPresent true; in the spec, the role's mfa_max_age).",
                spec_field=f"roles.{role.name}.mfa_max_age",
                severity=Severity.HIGH,
                evidence={"role": role.ref, "assumed_without_mfa_by": list(users)},
            )
        )
    if not any(o.status in (Status.FAIL, Status.ERROR) for o in out):
        admins = [r.principal.ref for r in esc.admins]
        also = (
            f"; {len(admins)} admin principal(s) left to the admin controls: {', '.join(admins)}"
            if admins
            else ""
        )
        out.append(
            Outcome(
                Status.PASS,
                inp.account,
                f"none of the {esc.checked - len(admins)} users and roles can escalate by the "
                f"{len(PATHS)} known paths{also}",
            )
        )
    return out


def _escalation_outcome(r: Reach) -> Outcome:
    evidence = r.as_json()
    if r.certain and all(e.method.name == "AssumeRole" for e in r.path):
        return Outcome(
            Status.INFO,
            r.principal.ref,
            f"can become admin by assuming a role: {r.describe()}",
            severity=Severity.NONE,
            evidence=evidence,
        )
    if r.certain:
        return Outcome(Status.FAIL, r.principal.ref, f"can escalate: {r.describe()}", evidence=evidence)
    if r.unknown_docs:
        return Outcome(
            Status.ERROR,
            r.principal.ref,
            f"could not tell whether {', '.join(r.methods)} is open: it depends on "
            f"{', '.join(r.unknown_docs)}, not read ({r.describe()})",
            fix="Make the policy readable (iam:GetPolicyVersion), then re-run.",
            severity=Severity.MEDIUM,
            evidence=evidence,
        )
    return Outcome(
        Status.FAIL,
        r.principal.ref,
        f"may escalate (a possible path): {r.describe()}",
        severity=Severity.MEDIUM,
        evidence=evidence,
    )


@control(
    "user-hardware-mfa",
    None,
    "IAM users sign in with hardware MFA (reported, not failed: CIS asks it of the root user only)",
    requires=P_CREDENTIAL_REPORT + P_VIRTUAL_MFA,
    fix="Assign the user a FIDO security key or a hardware TOTP token (IAM > Users > the user > "
    "Security credentials > Assign MFA device).",
    prowler=("iam_user_hardware_mfa_enabled",),
    severity=Severity.LOW,
)
def user_hardware_mfa(inp: AuditInput, now: datetime) -> list[Outcome]:
    """Users with a console password or MFA: hardware (PASS) or virtual/none (INFO).

    Bulk reads cannot list a user's hardware devices: a user with active MFA and no assigned virtual
    device has a hardware one (or a security key). A user holding both kinds shows as virtual
    (ListMFADevices per user would tell; the audit stays bulk).
    """
    report = need(inp.credential_report, "credential report")
    devices = need(inp.virtual_mfa_devices, "virtual MFA devices")
    virtual = {d.user_arn: d.serial for d in devices if d.user_arn}
    out = []
    for row in report.users:
        if not (row.password_enabled or row.mfa_active):
            continue
        res = f"user/{row.user}"
        if not row.mfa_active:
            out.append(
                Outcome(Status.INFO, res, "console password without any MFA device (1.10 fails this user)")
            )
        elif row.arn in virtual:
            serial = virtual[row.arn]
            out.append(
                Outcome(
                    Status.INFO,
                    res,
                    f"virtual MFA device {serial}, not hardware (Prowler's iam_user_hardware_mfa_enabled "
                    "fails this; CIS does not)",
                    fix="Assign the user a FIDO security key or a hardware TOTP token (IAM > Users > the user > "
                    f"Security credentials > Assign MFA device), then remove the virtual device {serial}.",
                )
            )
        else:
            out.append(
                Outcome(
                    Status.PASS,
                    res,
                    "MFA active and no virtual device assigned: hardware MFA or a security key",
                )
            )
    return out or [Outcome(Status.PASS, inp.account, "no user has a console password or an MFA device")]


def _root_credentials(inp: AuditInput) -> tuple[list[str], bool, str]:
    """(the root credentials present, whether the password is known, the sources read)."""
    root = _root_row(inp)
    summary = inp.summary if not isinstance(inp.summary, Unavailable) else None
    if root is None and summary is None:
        cr = inp.credential_report
        why = cr.why if isinstance(cr, Unavailable) else "the credential report has no <root_account> row"
        raise MissingInput("credential report and account summary", Unavailable(f"{why}; {inp.summary}"))
    present: list[str] = []
    sources: list[str] = []
    password_known = False
    if root is not None:
        sources.append("credential report")
        present += [f"access key {k.slot}" for k in root.active_keys]
        present += [f"signing certificate {i}" for i, on in enumerate(root.certs_active, 1) if on]
        if root.mfa_active:
            present.append("an MFA device")
        if root.password_known:
            password_known = True
            if root.password_enabled:
                present.append("a password")
    if summary is not None:
        sources.append("account summary")
        if root is None:
            flags = (
                ("AccountAccessKeysPresent", "access keys"),
                ("AccountSigningCertificatesPresent", "signing certificates"),
                ("AccountMFAEnabled", "an MFA device"),
            )
            present += [what for key, what in flags if summary.get(key)]
        # The credential report says not_supported for the root user's password; the summary says.
        if not password_known and "AccountPasswordPresent" in summary:
            password_known = True
            if summary["AccountPasswordPresent"]:
                present.append("a password")
    return present, password_known, " and ".join(sources)


_ENABLE_ROOT_ACCESS = (
    "in the management account: `aws organizations enable-aws-service-access --service-principal "
    "iam.amazonaws.com`, then `aws iam enable-organizations-root-credentials-management`"
)
_DELETE_ROOT_CREDENTIALS = (
    "IAM console (management account) > Root access management > the account > Delete root user "
    "credentials (or `aws sts assume-root --target-principal ACCOUNT_ID --task-policy-arn "
    "arn=arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials`, then delete each credential)"
)


def _root_access_state(features: RootAccessFeatures | Unavailable) -> str:
    if isinstance(features, Unavailable):
        return f"centralized root access unknown ({features.why})"
    if features.credentials_management:
        return "centralized root access is enabled"
    return "centralized root access is off" + (f" ({features.why_off})" if features.why_off else "")


def _organization_outcome(features: RootAccessFeatures | Unavailable) -> Outcome:
    if isinstance(features, Unavailable):
        return Outcome(
            Status.ERROR,
            "organization",
            f"could not check: centralized root access unavailable: {features.why}",
            fix="Audit with the management account's credentials (iam:ListOrganizationsFeatures works there and "
            "in the IAM delegated administrator), e.g. name it `management` in the spec, then re-run.",
        )
    if features.organization_id is None:
        return Outcome(
            Status.PASS, "organization", "not in an AWS Organization: centralized root access does not apply"
        )
    org = features.organization_id or "the organization"
    if features.credentials_management:
        sessions = "on" if ROOT_SESSIONS in features.enabled else "off"
        return Outcome(
            Status.PASS,
            "organization",
            f"{org}: RootCredentialsManagement enabled (RootSessions {sessions}), read in {features.read_from}",
        )
    why = f": {features.why_off}" if features.why_off else ""
    return Outcome(
        Status.FAIL,
        "organization",
        f"{org}: centralized root credentials management is off{why}",
        fix=f"Enable it {_ENABLE_ROOT_ACCESS}; new member accounts then get no root credentials.",
    )


@control(
    "root-credentials-management",
    None,
    "Member accounts' root credentials are managed centrally (and deleted)",
    requires=P_ORG_FEATURES + P_CREDENTIAL_REPORT + P_SUMMARY,
    fix=f"Delete the member account's root credentials: {_DELETE_ROOT_CREDENTIALS}.",
    prowler=("iam_root_credentials_management_enabled",),
    severity=Severity.HIGH,
)
def root_credentials_management(inp: AuditInput, now: datetime) -> list[Outcome]:
    """Centralized root access (since November 2024) and, per member account, its root credentials.

    The organization-wide answer (iam:ListOrganizationsFeatures) is reported once, on the account
    it was read in; every member account (not the management account, whose root stays) reports
    whether its root user still has a password, access keys, signing certificates or MFA, from its
    credential report and account summary (CIS 7.0 2.1.1).
    """
    out: list[Outcome] = []
    features = inp.root_access
    if inp.organization_reader:
        out.append(_organization_outcome(features))
    standalone = isinstance(features, RootAccessFeatures) and features.organization_id is None
    if inp.management_account or standalone:
        return out or [
            Outcome(Status.PASS, "root", "the management account: its root user is not managed centrally")
        ]
    present, password_known, sources = _root_credentials(inp)
    state = _root_access_state(features)
    enabled = isinstance(features, RootAccessFeatures) and features.credentials_management
    fix = (
        f"Delete them: {_DELETE_ROOT_CREDENTIALS}."
        if enabled
        else f"Enable centralized root access {_ENABLE_ROOT_ACCESS}; then delete them: {_DELETE_ROOT_CREDENTIALS}."
    )
    if isinstance(features, Unavailable):
        # Whether centralized root access is on decides the fix (and CIS 7.0 2.1.1 itself): not a FAIL.
        found = f"the root user has {', '.join(present)}" if present else "no root credential found"
        out.append(
            Outcome(
                Status.ERROR,
                "root",
                f"could not check: {state}; {found} ({sources})",
                fix="Audit with the management account's credentials (iam:ListOrganizationsFeatures works there "
                "and in the IAM delegated administrator), then re-run.",
            )
        )
    elif present:
        out.append(
            Outcome(
                Status.FAIL,
                "root",
                f"the root user still has {', '.join(present)} ({sources}); {state}",
                fix=fix,
            )
        )
    elif not password_known:
        out.append(
            Outcome(
                Status.ERROR,
                "root",
                f"no root access key, signing certificate or MFA device ({sources}), but whether the root user "
                "has a password is unknown: the credential report says not_supported and the account summary "
                f"has no AccountPasswordPresent; {state}",
                fix="Check in the console (IAM > Root access management) or with `aws sts assume-root` and "
                "`aws iam get-login-profile`.",
            )
        )
    else:
        out.append(
            Outcome(
                Status.PASS,
                "root",
                f"the root user has no password, access key, signing certificate or MFA ({sources}); {state}",
            )
        )
    return out


# IAM Identity Center's controls (IL-7 to IL-9) register themselves here.
from iamlayer.audit import ic_controls as _ic_controls  # noqa: E402,F401


def _grant_statements(user: Principal) -> list[tuple[str, list[str], datetime | None]]:
    """(reason, role ARNs, until) of each statement of the user's iamlayer-grants policy; until
    is None when the statement has no readable `DateLessThan aws:CurrentTime`."""
    doc = user.inline.get(GRANTS_POLICY_NAME)
    if not isinstance(doc, Mapping):
        return []
    statements = doc.get("Statement", [])
    out: list[tuple[str, list[str], datetime | None]] = []
    for st in statements if isinstance(statements, list) else [statements]:
        if not isinstance(st, Mapping) or st.get("Effect") != "Allow":
            continue
        resources = st.get("Resource", [])
        arns = [resources] if isinstance(resources, str) else [str(r) for r in resources]
        dates = {k.lower(): v for k, v in (st.get("Condition") or {}).get("DateLessThan", {}).items()}
        value = dates.get("aws:currenttime")
        until = parse_until(value[0] if isinstance(value, list) and len(value) == 1 else value)
        out.append((str(st.get("Sid", "")).removeprefix("Grant"), arns, until))
    return out


@control(
    "temporary-grants",
    None,
    "Temporary grants (iamlayer grants:) are listed with their end",
    requires=P_AUTH_DETAILS,
    fix="Grants end by themselves at their `until`; to end one sooner, delete it from grants: and apply.",
    spec_field="grants",
)
def temporary_grants(inp: AuditInput, now: datetime) -> list[Outcome]:
    """INFO per grant in AWS (the iamlayer-grants inline policy of a user): who, which role in
    which accounts, until when, and why (the reason, as its statement id keeps it: letters and
    digits). One that has ended is still listed: AWS refuses it, and the next apply removes it."""
    auth = need(inp.authorization, "authorization details")
    out: list[Outcome] = []
    for user in auth.users:
        for reason, arns, until in _grant_statements(user):
            roles = sorted({a.rsplit("/", 1)[-1] for a in arns})
            accounts = sorted({a.split(":")[4] for a in arns if a.count(":") >= 5})
            when = until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if until else "no end AWS enforces"
            state = "ended" if until is not None and until <= now else "active"
            note = "; AWS refuses it, the next `iamlayer apply` removes it" if state == "ended" else ""
            out.append(
                Outcome(
                    Status.INFO,
                    user.ref,
                    f"{state} grant: {user.name} may assume {', '.join(roles)} in {', '.join(accounts)} until "
                    f"{when}" + (f" (reason {reason})" if reason else "") + note,
                    evidence={
                        "who": user.name,
                        "roles": roles,
                        "accounts": accounts,
                        "until": when if until else None,
                        "reason": reason,
                        "active": state == "active",
                    },
                )
            )
    return out


@control(
    "oidc-trust",
    None,
    "Roles that trust an OIDC provider pin the token's audience and exact subject",
    requires=P_AUTH_DETAILS,
    fix="Require the token's audience and exact subject in the role's trust: StringEquals on <provider>:aud "
    "and on <provider>:sub (repo:OWNER/NAME:environment:production, never a wildcard). For CI, `ci:` in the "
    "spec makes such roles.",
    spec_field="ci",
    severity=Severity.HIGH,
)
def oidc_trust(inp: AuditInput, now: datetime) -> list[Outcome]:
    """Every role (iamlayer's or not) whose trust lets a web identity in (sts:AssumeRoleWithWebIdentity
    through an OIDC provider): FAIL when a statement requires no `sub` or no `aud` (any token the
    provider issues, for any repository, may assume it: GitHub's provider serves every GitHub
    repository); WARN when `sub` is only matched with a wildcard (StringLike with * or ?): other
    branches, environments or repositories that match may assume it; PASS when both are exact."""
    auth = need(inp.authorization, "authorization details")
    out: list[Outcome] = []
    for role in auth.roles:
        if role.service_linked:
            continue
        for w in web_identities(role.trust):
            evidence = {"role": role.name, **w.as_json()}
            if w.missing:
                status = Status.FAIL
                detail = (
                    f"trusts the OIDC provider {w.provider} without a {' or '.join(w.missing)} condition: "
                    "any token it issues may assume the role"
                )
            elif not w.exact:
                status = Status.WARN
                detail = (
                    f"trusts the OIDC provider {w.provider} for sub matching {', '.join(w.sub)}: a "
                    "wildcard lets other repositories, branches or environments that match assume it"
                )
            else:
                status = Status.PASS
                detail = f"trusts the OIDC provider {w.provider} for sub {', '.join(w.sub)} only"
            # a wildcard is a weakness (medium); a missing condition opens the role to any token (high)
            severity = Severity.MEDIUM if status is Status.WARN else None
            out.append(Outcome(status, role.ref, detail, severity=severity, evidence=evidence))
    return out or [Outcome(Status.PASS, inp.account, "no role trusts an OIDC provider")]


# --- running -----------------------------------------------------------------------------------


def control_order(control_id: str) -> tuple[int, ...]:
    """Sort key: CIS ids in numeric order (1.4 < 1.10), then iamlayer's own (IL-1, IL-2...)."""
    if control_id.startswith(OWN_ID_PREFIX):
        return (1, int(control_id.removeprefix(OWN_ID_PREFIX)))
    return (0, *(int(p) for p in control_id.split(".")))


def controls_by_key() -> dict[str, Control]:
    return {c.key: c for c in CONTROLS}


def run_controls(
    inputs: Iterable[AuditInput], now: datetime, benchmark: str = DEFAULT_BENCHMARK
) -> list[Finding]:
    """Every control on every account, in benchmark order."""
    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; valid: {', '.join(BENCHMARKS)}")
    ordered = sorted(CONTROLS, key=lambda c: control_order(c.ids[benchmark]))
    findings: list[Finding] = []
    for inp in inputs:
        for c in ordered:
            findings.extend(c.evaluate(inp, now, benchmark))
    return findings


def audit_permissions() -> list[str]:
    """Every IAM permission the audit needs: the minimal operator policy's actions."""
    return sorted({p for c in CONTROLS for p in c.requires})


def audit_operator_policy() -> dict[str, Any]:
    """The minimal IAM policy for the identity that runs `iamlayer audit`."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "IamlayerAudit", "Effect": "Allow", "Action": audit_permissions(), "Resource": "*"}
        ],
    }

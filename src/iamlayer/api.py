"""iamlayer as a library: what the CLI does, as functions that return values.

    import boto3
    import iamlayer

    spec = iamlayer.load_spec("acme/iamlayer.yaml")
    plan = iamlayer.make_plan(spec, credentials=boto3.Session(profile_name="acme-admin"))
    print(iamlayer.render_plan(plan, detail=False))
    if plan.errors:                                  # accounts that could not be read: not "empty"
        raise SystemExit(f"{len(plan.errors)} account(s) could not be planned")
    if not plan.empty:
        applied = iamlayer.apply_plan(spec, plan, credentials="acme-admin")   # a profile name works too
        assert applied.ok
    report = iamlayer.run_audit(spec, credentials="acme-admin").report

`credentials` is a boto3 Session, an AWS profile name, or None for the standard chain
(AWS_PROFILE, the environment, SSO, instance roles...): the operator's credentials, from which
iamlayer reaches every account of the spec (assuming `access_role`, or a per-account `profile:`).

(`make_plan`, `apply_plan` and `run_audit` are not called plan, apply and audit: those are the
names of iamlayer's subpackages, which Python would put in their place.)

Every function raises an `iamlayer.IamlayerError` (SpecError, PlanError, AwsError...) that says what
was attempted; none prints, prompts or exits: hooks (`confirm`, `progress`, `on_change`) let a caller
show progress or ask. Writes to an account hold its lock (iamlayer.state.lock) for their duration.

The CLI (iamlayer.cli) parses arguments, calls these and renders what they return.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from iamlayer.applied import Applied
from iamlayer.errors import Diagnostic, IamlayerError, PlanError, SpecError
from iamlayer.plan.model import Change, Plan
from iamlayer.spec.load import load_spec, load_spec_with_warnings
from iamlayer.spec.model import SelfManagement, Spec
from iamlayer.stats import ApiStats

if TYPE_CHECKING:  # only for annotations: boto3 and the AWS layer load when a call needs them
    import boto3

    from iamlayer.apply.access_keys import KeyInfo, OldKeys, Rotation
    from iamlayer.apply.handlers import HandlerContext
    from iamlayer.audit.report import AuditReport
    from iamlayer.audit.sts import StsAdvice
    from iamlayer.aws.accounts import Connection
    from iamlayer.aws.org import OrgAccount
    from iamlayer.aws.s3_backend import InitResult
    from iamlayer.aws.session import AccountClients
    from iamlayer.profiles.render import RenderedProfiles
    from iamlayer.state.backend import LockInfo, SyncResult

T = TypeVar("T")
Progress = Callable[[str], None]

__all__ = [
    "Applied",
    "Audit",
    "Discovery",
    "IssuedPassword",
    "Outputs",
    "PersonOutputs",
    "Retirement",
    "StsRegions",
    "Validation",
    "apply_plan",
    "backend_init",
    "discover_accounts",
    "load_spec",
    "lock_break",
    "lock_list",
    "make_plan",
    "operator_policy",
    "outputs",
    "outputs_sync",
    "read_plan",
    "render_plan",
    "render_profiles",
    "reset_password",
    "resolve_spec",
    "retire_access_keys",
    "rotate_access_key",
    "run_audit",
    "save_plan",
    "sts_regions",
    "validate",
]


# --- the spec ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Validation:
    """A valid spec, what lint warns about, and each user's key (fingerprint and first user ID)."""

    spec: Spec
    warnings: tuple[Diagnostic, ...]
    keys: dict[str, str]  # user -> key label


def validate(path: str | Path, *, now: datetime | None = None) -> Validation:
    """Everything `iamlayer validate` checks, offline: the spec, its policies and key files, IAM's
    size limits on what iamlayer renders, and the spec's access checks. SpecError lists every
    problem at once (file, line, key, hint)."""
    from iamlayer.access.checks import evaluate_checks
    from iamlayer.plan.limits import check_rendered_limits, rendered_limit_warnings

    spec, warnings = load_spec_with_warnings(Path(path))
    check_rendered_limits(spec)
    warnings += rendered_limit_warnings(spec)
    warnings += evaluate_checks(spec, now=now or datetime.now(UTC)).raise_for_failures()
    keys: dict[str, str] = {}
    if any(u.pgp_key for u in spec.users.values()):
        from iamlayer.secrets.keys import load_public_key  # loaded once per file: the spec checked them

        keys = {u.name: load_public_key(u.pgp_key).label for u in spec.users.values() if u.pgp_key}
    return Validation(spec, tuple(warnings), keys)


# --- plan and apply ----------------------------------------------------------------------------


def resolve_spec(
    spec: Spec,
    *,
    credentials: boto3.Session | str | None = None,
    stats: ApiStats | None = None,
    progress: Progress | None = None,
    parallelism: int = 10,
) -> Spec:
    """The spec with its OU selectors and `accounts: {organization: true}` resolved: the
    organization is read now (organizations:List*, management or delegated-administrator
    credentials). A spec without them is returned as it is. `make_plan` and `apply_plan` do this
    themselves; call it to know the accounts first (`spec.accounts`, `spec.selections`)."""
    from iamlayer.plan import planner

    return planner.resolve_spec(
        spec, profile=credentials, stats=stats or ApiStats(), progress=progress, parallelism=parallelism
    )


def make_plan(
    spec: Spec,
    *,
    credentials: boto3.Session | str | None = None,
    accounts: Sequence[str] | None = None,
    refresh_credentials: bool = False,
    progress: Progress | None = None,
    stats: ApiStats | None = None,
    parallelism: int = 10,
) -> Plan:
    """What apply would change in every account of the spec (or `accounts`); changes nothing.

    Accounts are read in bulk (a handful of calls each, whatever their size), `parallelism` at a
    time. An account that cannot be read carries an `error` in the plan; the others are planned.
    `refresh_credentials` reads each owned user's password and keys one by one instead of
    trusting the credential report (up to 4 hours old). With a shared backend, outputs/ is first
    brought up to date from it, and the plan's `warnings` say when this checkout is behind the last
    apply (iamlayer.state.checkout).
    """
    from iamlayer.plan import planner
    from iamlayer.state import checkout

    checkout.refresh_outputs(spec, credentials)
    p = planner.make_plan(
        spec,
        profile=credentials,
        only=accounts,
        stats=stats,
        progress=progress,
        refresh_credentials=refresh_credentials,
        parallelism=parallelism,
    )
    return checkout.reviewed(spec, p, credentials)


def save_plan(p: Plan, path: str | Path) -> None:
    """Write the plan as its JSON document (iamlayer.plan.model), mode 0600, for `apply_plan` later."""
    from iamlayer.plan.planfile import save_plan as save

    save(p, Path(path))


def read_plan(path: str | Path) -> Plan:
    """A plan saved by `save_plan` (or `iamlayer plan --out`); PlanError when it is not one."""
    from iamlayer.plan.planfile import load_plan

    return load_plan(Path(path))


def render_plan(p: Plan, *, detail: bool = True) -> str:
    """The plan as Terraform-like plain text, ready to print or log; `detail=False`: one line
    per change. (The CLI prints the same lines in colour: iamlayer.plan.render gives them as rich
    markup, which is resolved here, so no `[bold]` tag reaches a caller.)"""
    from rich.text import Text

    from iamlayer.plan.render import render_plan as render

    return Text.from_markup(render(p, detail=detail)).plain


def apply_plan(
    spec: Spec,
    saved: Plan | None = None,
    *,
    credentials: boto3.Session | str | None = None,
    accounts: Sequence[str] | None = None,
    refresh_credentials: bool = False,
    on_plan: Callable[[Plan], None] | None = None,
    confirm: Callable[[Plan], None] | None = None,
    on_change: Callable[[Change, str | None], None] | None = None,
    progress: Progress | None = None,
    stats: ApiStats | None = None,
    verify_timeout: float | None = None,
    command: str = "iamlayer apply",
    lock_timeout: float = 0.0,
    allow_behind: bool = False,
    warn: Callable[[str], None] | None = None,
    parallelism: int = 10,
) -> Applied:
    """Make the accounts match the spec: plan (or take `saved`), apply, re-read until verified.

    The accounts' locks are held from planning to the end. A `saved` plan (`read_plan`) is
    refused when the spec file or any of its accounts changed since it was made (StalePlanError).
    `on_plan(plan)` sees the plan as soon as it exists; `confirm(plan)` runs after every check,
    before the first write, and may raise (UserAbort) to stop; `on_change(change, error)` after
    each attempted change. Failures of single changes are in `failed`, the changes they held
    back (that depend on them) in `skipped`, the rest in `succeeded`; a rerun continues. An
    account that cannot be reached or read is left out (`failed_accounts`, with the reason) and
    every other account is applied. Plan reads and apply writes run `parallelism` at a time.

    A lock held by someone else is waited for up to `lock_timeout` s (then LockedError naming the
    holder); `warn` hears of a stale lock taken over. With a shared backend, a checkout behind the
    team's last apply is refused (BehindError naming who applied what, when) unless `allow_behind`.
    """
    from iamlayer.apply import run
    from iamlayer.aws.session import base_session
    from iamlayer.state import checkout
    from iamlayer.state.lock import account_locks

    stats = stats or ApiStats()
    # One operator session for the plan, the writes and the re-reads: each account is reached
    # (its role assumed, its clients made) once for all three (iamlayer.aws.accounts).
    credentials = base_session(credentials, spec.region)
    spec = resolve_spec(
        spec, credentials=credentials, stats=stats, progress=progress, parallelism=parallelism
    )
    if saved is not None:
        run.check_applicable(saved, spec)
        scope = [a.account for a in saved.accounts]
    else:
        scope = list(accounts or spec.accounts)
    with account_locks(spec, scope, command, credentials=credentials, timeout=lock_timeout, warn=warn):
        if not allow_behind:
            checkout.refuse_if_behind(spec, credentials)
        p = saved or make_plan(
            spec,
            credentials=credentials,
            accounts=accounts,
            refresh_credentials=refresh_credentials,
            progress=progress,
            stats=stats,
            parallelism=parallelism,
        )
        if on_plan:
            on_plan(p)
        return run.apply_plan(
            p,
            spec,
            profile=credentials,
            stats=stats,
            on_change=on_change,
            progress=progress,
            confirm=confirm,
            command=command,
            verify_timeout=verify_timeout,
            parallelism=parallelism,
        )


#: accounts `operator_policy` names one by one in its IamlayerReachAccounts statement
REACH_LISTED = 40


def operator_policy(spec: Spec | None = None, *, read_only: bool = False) -> dict[str, Any]:
    """The least-privilege IAM policy the operator needs for plan and apply: the reads each kind
    declares (iamlayer.kinds), the permissions each apply handler declares, and the few writes of
    the secret commands. `read_only`: the reads alone (a role that plans, e.g. CI on a pull
    request). With a `spec`: assuming `access_role` in its accounts (how member accounts are
    reached), and with an S3 backend, also what the backend needs in its bucket (and KMS key):
    reading and writing its objects under the prefix; `backend init` is left to whoever creates
    the bucket. The CI roles of `ci:` get these policies inline (`ci_operator_policies`)."""
    from iamlayer.apply.executor import required_permissions
    from iamlayer.kinds import other_write_permissions, read_permissions

    statements: list[dict[str, Any]] = [
        {"Sid": "IamlayerRead", "Effect": "Allow", "Action": sorted(read_permissions()), "Resource": "*"}
    ]
    if not read_only:
        statements.append(
            {
                "Sid": "IamlayerWrite",
                "Effect": "Allow",
                "Action": sorted({*required_permissions(), *other_write_permissions()}),
                "Resource": "*",
            }
        )
    if spec is not None and len(spec.accounts) > 1:
        # Member accounts are reached by assuming `access_role` there (iamlayer.aws.accounts),
        # carrying the caller as SourceIdentity where that role's trust allows it. Past
        # REACH_LISTED accounts one ARN for every account keeps the policy small enough to be a
        # role's inline policy (10,240 characters): each account's role trust still decides.
        ids = sorted(a.id for a in spec.accounts.values() if a.profile is None)
        listed = ids if len(ids) <= REACH_LISTED else ["*"]
        statements.append(
            {
                "Sid": "IamlayerReachAccounts",
                "Effect": "Allow",
                "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
                "Resource": [f"arn:aws:iam::{i}:role/{spec.access_role}" for i in listed],
            }
        )
    backend = spec.backend if spec is not None else None
    if backend is not None:
        prefix = backend.prefix.strip("/")
        objects = f"arn:aws:s3:::{backend.bucket}/{prefix + '/' if prefix else ''}*"
        statements += [
            {
                "Sid": "IamlayerBackendList",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": f"arn:aws:s3:::{backend.bucket}",
                **({"Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*"]}}} if prefix else {}),
            },
            {
                "Sid": "IamlayerBackendObjects",
                "Effect": "Allow",
                # Plans read the last apply and fetch ciphertexts; the lock, journal and copies are writes.
                "Action": ["s3:GetObject"]
                if read_only
                else ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                "Resource": objects,
            },
        ]
        if backend.kms_key:
            key = backend.kms_key if backend.kms_key.startswith("arn:") else "*"
            statement: dict[str, Any] = {
                "Sid": "IamlayerBackendKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"] if read_only else ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": key,
            }
            if key == "*":  # an alias: only through S3, for this bucket
                statement["Condition"] = {
                    "StringEquals": {"kms:ViaService": f"s3.{backend.region}.amazonaws.com"},
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{backend.bucket}*"},
                }
            statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def ci_operator_policies(spec: Spec) -> dict[str, Any] | None:
    """The operator policies the CI roles of `ci:` carry inline (iamlayer.plan.ci): the plan role
    the read-only one, the apply role the whole one; None when the spec has no `ci:`."""
    from iamlayer.plan.ci import READ, WRITE

    if not spec.ci:
        return None
    return {READ: operator_policy(spec, read_only=True), WRITE: operator_policy(spec)}


# --- audit and STS ------------------------------------------------------------------------------


def _for_each(
    conns: dict[str, Connection],
    fn: Callable[[Connection], T],
    on_account: Callable[[str], None] | None,
    max_workers: int = 4,
) -> list[T]:
    """fn per account, concurrently (bounded); results in spec order; `on_account` after each."""

    def run(conn: Connection) -> T:
        try:
            return fn(conn)
        finally:
            if on_account:
                on_account(conn.account.name)

    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        return list(pool.map(run, conns.values()))


def _known_accounts(spec: Spec, accounts: Sequence[str] | None) -> list[str] | None:
    unknown = [a for a in accounts or () if a not in spec.accounts]
    if unknown:
        raise PlanError(f"{', '.join(unknown)} not in the spec; valid: {', '.join(spec.accounts)}")
    return list(dict.fromkeys(accounts)) if accounts else None


@dataclass(frozen=True)
class Audit:
    report: AuditReport
    stats: ApiStats


def run_audit(
    spec: Spec,
    *,
    credentials: boto3.Session | str | None = None,
    accounts: Sequence[str] | None = None,
    benchmark: str | None = None,
    on_account: Callable[[str], None] | None = None,
    now: datetime | None = None,
) -> Audit:
    """The CIS AWS Foundations IAM controls, and iamlayer's own, in every account of the spec (or
    `accounts`). A control that could not be checked is an ERROR finding that says why, never a
    silent PASS. Organization-wide settings are read once (management account, else people)."""
    from iamlayer.audit.controls import DEFAULT_BENCHMARK, run_controls
    from iamlayer.audit.model import AuditInput, RootAccessFeatures, Unavailable
    from iamlayer.audit.report import AuditReport
    from iamlayer.aws.accounts import connect_accounts
    from iamlayer.aws.audit_reads import AwsPolicyDocuments, read_audit_input, read_root_access_features
    from iamlayer.aws.identity_center import audit_input_of

    benchmark = benchmark or DEFAULT_BENCHMARK
    stats = ApiStats()
    # OU selectors and `accounts: {organization: true}`: audit every account they choose today.
    spec = resolve_spec(spec, credentials=credentials, stats=stats)
    only = _known_accounts(spec, accounts)
    regions = spec.regions_in_use or (spec.region,)
    org_reader = spec.management_account or spec.people_account
    connect = None if only is None else list(dict.fromkeys([*only, org_reader]))
    conns = connect_accounts(spec, profile=credentials, stats=stats, only=connect)
    reader = conns[org_reader]
    root_access: RootAccessFeatures | Unavailable = (
        read_root_access_features(reader.clients, org_reader)
        if reader.clients is not None
        else Unavailable(f"account {org_reader} not reachable: {reader.error}")
    )
    audited = {name: conn for name, conn in conns.items() if only is None or name in only}
    aws_policies = AwsPolicyDocuments()

    def read(conn: Connection) -> AuditInput:
        acc = conn.account
        if conn.clients is None:
            inp = AuditInput.unreachable(
                acc.name, acc.id, f"account not reachable: {conn.error}", tuple(regions)
            )
        else:
            inp = read_audit_input(
                conn.clients, acc.name, regions, account_id=acc.id, aws_policies=aws_policies
            )
        return replace(
            inp,
            root_access=root_access,
            people_account=acc.name == spec.people_account,
            management_account=acc.name == spec.management_account,
            organization_reader=acc.name == org_reader,
            identity_center=audit_input_of(spec, conn),
        )

    inputs = _for_each(audited, read, on_account)
    at = now or datetime.now(UTC)
    return Audit(AuditReport.build(inputs, run_controls(inputs, at, benchmark), benchmark, at), stats)


@dataclass(frozen=True)
class StsRegions:
    """One account's STS advice, and what became of the token version change if one was asked."""

    advice: StsAdvice
    token_version_changed: str | None = None  # "v1 -> v2"
    token_version_error: str | None = None


def sts_regions(
    spec: Spec,
    *,
    credentials: boto3.Session | str | None = None,
    accounts: Sequence[str] | None = None,
    set_token_version: Literal["v1", "v2"] | None = None,
    on_account: Callable[[str], None] | None = None,
) -> list[StsRegions]:
    """Per account: which regional STS endpoints are active outside `regions_in_use` (to
    deactivate in the console: AWS has no API for it) and the global endpoint's token version,
    set to `set_token_version` where it differs (a failure is reported per account)."""
    from iamlayer.audit.sts import advise, unreachable_advice
    from iamlayer.aws.accounts import connect_accounts
    from iamlayer.aws.audit_reads import read_sts_input
    from iamlayer.aws.audit_reads import set_token_version as apply_token_version
    from iamlayer.aws.session import AccountClients, base_session

    only = _known_accounts(spec, accounts)
    in_use = spec.regions_in_use or (spec.region,)
    stats = ApiStats()
    conns = connect_accounts(spec, profile=credentials, stats=stats, only=only)
    operator: AccountClients | None = None
    if any(c.reach and c.reach.role_arn for c in conns.values()):
        operator = AccountClients(base_session(credentials, spec.region), "operator", stats, spec.region)
    want = int(set_token_version[1]) if set_token_version else None

    def check(conn: Connection) -> StsRegions:
        acc = conn.account
        if conn.clients is None:
            return StsRegions(
                unreachable_advice(acc.name, acc.id, in_use, f"account not reachable: {conn.error}")
            )
        # Session credentials cannot call GetSessionToken; AssumeRole into the account through the
        # region's endpoint tests the same setting (STS checks the target account's region).
        role_arn = conn.reach.role_arn if conn.reach is not None else None
        sts_input = read_sts_input(
            conn.clients,
            acc.name,
            in_use,
            account_id=acc.id,
            probe_clients=operator if role_arn else None,
            probe_role_arn=role_arn,
        )
        advice = advise(sts_input, in_use)
        if want is None or advice.token_version is None or advice.token_version == want:
            return StsRegions(advice)
        try:
            apply_token_version(conn.clients, f"v{want}")
        except IamlayerError as exc:
            return StsRegions(advice, token_version_error=str(exc))
        return StsRegions(advice, token_version_changed=f"v{advice.token_version} -> v{want}")

    return _for_each(conns, check, on_account)


# --- people's secrets ----------------------------------------------------------------------------


def signin_url(spec: Spec) -> str:
    """The console sign-in URL of the people account (its alias, else its id)."""
    acc = spec.people
    return f"https://{acc.alias or acc.id}.signin.aws.amazon.com/console"


def _user_named(spec: Spec, name: str) -> None:
    if name not in spec.users:
        from iamlayer.spec.policy_grammar import did_you_mean

        guess = did_you_mean(name, list(spec.users))
        hint = f"did you mean {guess!r}?" if guess else f"users: {', '.join(spec.users) or 'none'}"
        raise IamlayerError(f"no user {name!r} in the spec {spec.path}; {hint}")


def _people_clients(spec: Spec, credentials: boto3.Session | str | None, stats: ApiStats) -> AccountClients:
    from iamlayer.aws.accounts import connect_accounts

    conn = connect_accounts(spec, profile=credentials, stats=stats, only=[spec.people_account])[
        spec.people_account
    ]
    if conn.clients is None:
        raise IamlayerError(f"cannot reach the people account {spec.people_account}: {conn.error}")
    return conn.clients


def _people_context(spec: Spec, credentials: boto3.Session | str | None, stats: ApiStats) -> HandlerContext:
    """A handler context in the people account (its IAM clients, outbox and journal)."""
    from iamlayer.apply.handlers import HandlerContext
    from iamlayer.state.journal import Journal
    from iamlayer.state.outputs import outbox_for

    clients = _people_clients(spec, credentials, stats)
    return HandlerContext.for_account(
        spec.people_account,
        spec.people.id,
        spec.project,
        clients,
        outbox_for(spec, credentials, writing=True),
        Journal.for_spec(spec, credentials),
    )


def _owned_user(ctx: HandlerContext, name: str, project: str) -> None:
    """Refuse a user iamlayer does not own (ListUserTags: the ownership tag)."""
    from iamlayer.state.model import UserState

    if not UserState(name=name, tags=ctx.iam.user_tags(name)).owned_by(project):
        raise IamlayerError(f"user {name} {ctx.where()} is not owned by iamlayer project {project!r}")


def _key_of(spec: Spec, user: str) -> Path:
    _user_named(spec, user)
    key = spec.users[user].pgp_key
    if key is None:
        raise IamlayerError(
            f"user {user} has no pgp_key in the spec; its secrets must be encrypted to someone"
        )
    return key


@dataclass(frozen=True)
class PersonOutputs:
    """What one person receives: where to sign in, and the ciphertexts addressed to them."""

    account: str
    account_id: str
    user: str
    exists: bool
    signin_url: str
    password: bool
    access_keys: int
    access_key_ids: tuple[str, ...]  # issued by iamlayer (a ciphertext is on record)
    secrets: tuple[dict[str, Any], ...]  # kind, path, fingerprint, access_key_id, created_at, decrypt
    onboard: str | None  # the person's one setup command, when they can use it

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["access_key_ids"] = list(self.access_key_ids)
        data["secrets"] = [dict(s) for s in self.secrets]
        return data


@dataclass(frozen=True)
class Outputs:
    people: tuple[PersonOutputs, ...]
    stats: ApiStats


def outputs(
    spec: Spec, *, credentials: boto3.Session | str | None = None, users: Sequence[str] = ()
) -> Outputs:
    """Per person (or `users`): sign-in URL, whether a password and keys exist in AWS, and each
    encrypted file with the key it was encrypted to. Nothing secret."""
    from iamlayer.aws.read import confirm_user, whole_state_read
    from iamlayer.state.checkout import refresh_outputs
    from iamlayer.state.outputs import outbox_for

    names = list(users) or list(spec.users)
    for n in names:
        _user_named(spec, n)
    refresh_outputs(spec, credentials)
    stats = ApiStats()
    clients = _people_clients(spec, credentials, stats)
    state = whole_state_read(clients, spec.people.id, credential_report=True)
    records = [r for r in outbox_for(spec).records() if r.account == spec.people_account]
    people: list[PersonOutputs] = []
    for n in names:
        live = state.users.get(n)
        if live is not None and (live.login_profile is None or live.access_keys is None):
            confirm_user(clients, spec.people.id, live)  # newer than the credential report
        mine = [r for r in records if r.user == n]
        self_managing = any(
            spec.groups[g].self_management is not SelfManagement.NONE
            for g in spec.users[n].groups
            if g in spec.groups
        )
        people.append(
            PersonOutputs(
                account=spec.people_account,
                account_id=spec.people.id,
                user=n,
                exists=live is not None,
                signin_url=signin_url(spec),
                password=bool(live and live.login_profile),
                access_keys=len(live.access_keys or ()) if live else 0,
                access_key_ids=tuple(r.access_key_id for r in mine if r.access_key_id),
                secrets=tuple(
                    {
                        "kind": r.kind,
                        "path": str(r.path),
                        "fingerprint": r.fingerprint,
                        "access_key_id": r.access_key_id,
                        "created_at": r.created_at,
                        "decrypt": f"gpg --decrypt {r.path}",
                    }
                    for r in mine
                ),
                # People in a self-managing group with an issued key set themselves up in one command.
                onboard=f"iamlayer onboard --user {n}"
                if self_managing and any(r.kind == "access_key" for r in mine)
                else None,
            )
        )
    return Outputs(tuple(people), stats)


@dataclass(frozen=True)
class IssuedPassword:
    user: str
    file: Path
    fingerprint: str
    key_label: str
    signin_url: str
    reset_required: bool


def reset_password(
    spec: Spec,
    user: str,
    *,
    credentials: boto3.Session | str | None = None,
    reset_required: bool = True,
    command: str = "iamlayer password reset",
    lock_timeout: float = 0.0,
) -> IssuedPassword:
    """A new console password for `user`, encrypted to their current key (written before it goes
    live). The person must choose a new one at the next sign-in unless `reset_required=False`."""
    from iamlayer.apply.credentials import issue_password, password_policy_from
    from iamlayer.plan.diff import password_policy_json
    from iamlayer.secrets.keys import load_public_key
    from iamlayer.state.lock import account_locks

    key_file = _key_of(spec, user)
    with account_locks(spec, [spec.people_account], command, credentials=credentials, timeout=lock_timeout):
        ctx = _people_context(spec, credentials, ApiStats())
        _owned_user(ctx, user, spec.project)
        has_profile = ctx.iam.has_login_profile(user)
        staged = ctx.outbox.pending_password(ctx.account, user)
        if staged is not None:
            ctx.outbox.resolve_pending(staged, live=False)  # superseded by the password issued now
        key = load_public_key(key_file)
        policy = password_policy_from(password_policy_json(spec.people.password_policy))
        path = issue_password(ctx, user, key, policy, reset_required=reset_required, replace=has_profile)
    return IssuedPassword(user, Path(path), key.fingerprint, key.label, signin_url(spec), reset_required)


def rotate_access_key(
    spec: Spec,
    user: str,
    *,
    credentials: boto3.Session | str | None = None,
    old: OldKeys = "keep",
    command: str = "iamlayer access-key rotate",
    lock_timeout: float = 0.0,
) -> Rotation:
    """A new access key for `user`, its secret encrypted to their key at once; the key they had
    before is kept (default), deactivated or deleted. Refused when they already have two keys."""
    from iamlayer.apply.access_keys import rotate
    from iamlayer.secrets.keys import load_public_key
    from iamlayer.state.lock import account_locks

    key_file = _key_of(spec, user)
    with account_locks(spec, [spec.people_account], command, credentials=credentials, timeout=lock_timeout):
        ctx = _people_context(spec, credentials, ApiStats())
        _owned_user(ctx, user, spec.project)
        return rotate(ctx, user, load_public_key(key_file), old)


@dataclass(frozen=True)
class Retirement:
    user: str
    retired: tuple[KeyInfo, ...]
    kept: tuple[KeyInfo, ...]
    deactivated: bool  # only deactivated, not deleted


def retire_access_keys(
    spec: Spec,
    user: str,
    key_ids: Sequence[str] = (),
    *,
    credentials: boto3.Session | str | None = None,
    deactivate: bool = False,
    confirm: Callable[[list[KeyInfo]], None] | None = None,
    command: str = "iamlayer access-key retire",
    lock_timeout: float = 0.0,
) -> Retirement:
    """Delete (or deactivate) `user`'s access keys `key_ids`; without ids, every key but the newest
    iamlayer issued. `confirm(keys)` sees what is about to go and may raise (UserAbort)."""
    from iamlayer.apply.access_keys import default_retirement, list_keys, retire, select_keys
    from iamlayer.state.lock import account_locks

    _user_named(spec, user)
    with account_locks(spec, [spec.people_account], command, credentials=credentials, timeout=lock_timeout):
        ctx = _people_context(spec, credentials, ApiStats())
        _owned_user(ctx, user, spec.project)
        keys = list_keys(ctx, user)
        targets = select_keys(user, keys, key_ids) if key_ids else default_retirement(user, keys)
        if targets and confirm:
            confirm(targets)
        done = retire(ctx, user, targets, deactivate=deactivate) if targets else []
    return Retirement(user, tuple(done), tuple(k for k in keys if k not in done), deactivate)


# --- profiles, accounts --------------------------------------------------------------------------


def render_profiles(
    spec: Spec, user: str, *, access_key_id: str, secret_access_key: str, mfa_serial: str | None = None
) -> RenderedProfiles:
    """The AWS CLI config and credentials sections for `user`: one profile per role they may assume
    in each account (with mfa_serial where the role needs MFA), beside their access key's profile."""
    from iamlayer.profiles.render import render_profiles as render
    from iamlayer.state.outputs import people_spec

    return render(
        people_spec(spec),
        user,
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        mfa_serial=mfa_serial,
    )


@dataclass(frozen=True)
class Discovery:
    management_account_id: str
    accounts: dict[str, str]  # name -> id, as the spec would list them
    added_or_changed: dict[str, str]
    written: bool
    skipped: tuple[OrgAccount, ...]  # not ACTIVE
    stats: ApiStats = field(default_factory=ApiStats)


def discover_accounts(
    spec_file: str | Path, *, credentials: boto3.Session | str | None = None, dry_run: bool = False
) -> Discovery:
    """The AWS Organization's accounts into the spec's `accounts:` block (management account's
    credentials). Names lose the `<project_long>-` prefix; accounts already in the spec keep their
    name; suspended accounts are left out; the rest of the file, comments included, stays."""
    from iamlayer.aws.org import list_org_accounts
    from iamlayer.spec.edit import plan_accounts, spec_accounts, update_accounts
    from iamlayer.spec.load import parse_yaml

    path = Path(spec_file)
    try:
        data = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    except FileNotFoundError:
        raise SpecError(
            [Diagnostic(str(path), None, "", "spec file not found", "create one with: iamlayer init DIR")]
        ) from None
    top = data if isinstance(data, dict) else {}
    prefix = str(top.get("project_long") or top.get("project") or "")
    region = top.get("region")
    stats = ApiStats()
    master, found = list_org_accounts(credentials, str(region) if region else None, stats)
    existing = spec_accounts(data)
    wanted = plan_accounts(existing, found, prefix)
    new = {k: v for k, v in wanted.items() if existing.get(k) != v}
    written = False if dry_run or not new else update_accounts(path, new)
    skipped = tuple(a for a in found if a.status and a.status != "ACTIVE")
    return Discovery(master, wanted, new, written, skipped, stats)


# --- the team's backend --------------------------------------------------------------------------


def backend_init(spec: Spec, *, credentials: boto3.Session | str | None = None) -> InitResult:
    """Create the S3 backend's bucket (versioning, default encryption, Block Public Access, a policy
    denying requests without TLS), or check and complete the one there; idempotent. Returns what was
    done. A bucket that exists but is unversioned or public is refused, saying why."""
    from iamlayer.state.backends import open_backend

    if spec.backend is None:
        raise IamlayerError(
            f"the spec {spec.path} has no `backend:` block: its state is the local folder .iamlayer/, "
            "which needs no init. Add backend: {s3: {bucket: NAME, ...}} to share it with a team"
        )
    from iamlayer.aws.s3_backend import S3Backend

    backend = open_backend(spec, credentials, check=False)
    assert isinstance(backend, S3Backend)
    return backend.init()


def lock_list(spec: Spec, *, credentials: boto3.Session | str | None = None) -> list[LockInfo]:
    """Every account lock held now in the spec's backend, with its holder (stale ones included)."""
    from iamlayer.state.backends import open_backend

    return open_backend(spec, credentials).locks()


def lock_break(
    spec: Spec, account: str, lock_id: str, *, credentials: boto3.Session | str | None = None
) -> LockInfo:
    """Remove `account`'s lock, only if it is still the holding `lock_id` (from `lock_list`): for a
    holder known to be dead, before its lease runs out. Returns the holding removed."""
    from iamlayer.state.backends import open_backend

    if account not in spec.accounts:
        raise IamlayerError(f"no account {account!r} in the spec; valid: {', '.join(spec.accounts)}")
    return open_backend(spec, credentials).break_lock(account, lock_id)


def outputs_sync(spec: Spec, *, credentials: boto3.Session | str | None = None) -> SyncResult:
    """Bring the outputs folder and the backend's copy of the ciphertexts together: fetch what is
    new there, remove what was deleted there, and copy there what only this folder has."""
    from iamlayer.state.backends import open_backend
    from iamlayer.state.outputs import outputs_root

    if spec.backend is None:
        raise IamlayerError(
            f"the spec {spec.path} has no `backend:` block: outputs/ is the only copy of the ciphertexts"
        )
    return open_backend(spec, credentials).sync_outputs(outputs_root(spec), push=True)

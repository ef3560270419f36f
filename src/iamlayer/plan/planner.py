"""Make a plan: connect to every account in scope, read each in bulk, diff, assemble.

Accounts are read concurrently (bounded). A per-user call is made only for users whose
credential-report hint disagrees with the spec, or who are about to be deleted, so the number of
calls follows the number of changes, not of users.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from iamlayer.access.checks import CheckReport, evaluate_checks
from iamlayer.api import ci_operator_policies
from iamlayer.audit.model import REPORT_MAX_AGE
from iamlayer.aws.accounts import Connection, connect_accounts
from iamlayer.aws.managed_policies import read_policy_documents
from iamlayer.aws.org import read_org_view
from iamlayer.aws.read import (
    confirm_user,
    describe_user_for_delete,
    read_oidc_providers,
    read_policy_tags,
    whole_state_read,
)
from iamlayer.aws.session import ApiStats, CredentialSource
from iamlayer.errors import IamlayerError, PlanError, SpecError
from iamlayer.kinds import expected_plan_reads, ic_operations, settings_not_read
from iamlayer.plan.access_changes import access_changes, after_states, unknown_policies
from iamlayer.plan.ci import reads_oidc_providers
from iamlayer.plan.desired import desired_state
from iamlayer.plan.diff import SecretIntent, diff
from iamlayer.plan.ic_diff import foreign_entitled_roles, management_assignment_warnings
from iamlayer.plan.ic_plan import (
    SharedIcPlan,
    combined_fingerprint,
    has_identity_center,
    plan_identity_center,
)
from iamlayer.plan.limits import check_rendered_limits
from iamlayer.plan.model import AccessChange, AccountPlan, Kind, Plan
from iamlayer.secrets.keys import load_public_key
from iamlayer.spec.load import resolve_organization
from iamlayer.spec.model import Spec
from iamlayer.state.ic_model import AssignmentReads, AssignmentReadShape
from iamlayer.state.journal import Journal
from iamlayer.state.model import AccountState, PolicyState, UserState, adoptable, description_owner
from iamlayer.state.outputs import outbox_for

Progress = Callable[[str], None]


@dataclass
class AccountRead:
    """The live state of one account, with the per-user details the diff needs."""

    state: AccountState
    deleted_users: dict[str, dict[str, Any]] = field(default_factory=dict)
    issued_keys: dict[str, frozenset[str]] = field(default_factory=dict)
    # user -> ids of keys iamlayer holds a ciphertext for that AWS no longer has (read one by one)
    stale_keys: dict[str, frozenset[str]] = field(default_factory=dict)
    staged_passwords: dict[str, bool] = field(default_factory=dict)  # user -> committed file exists too
    notices: list[str] = field(default_factory=list)


def spec_digest(spec: Spec) -> str:
    return hashlib.sha256(spec.path.read_bytes()).hexdigest() if spec.path.exists() else ""


def secret_intents(spec: Spec) -> dict[str, SecretIntent]:
    """Who each user's secrets are encrypted to. Key files were checked by validation already."""
    out: dict[str, SecretIntent] = {}
    for u in spec.users.values():
        if u.pgp_key is not None and (u.console or u.access_key):
            key = load_public_key(u.pgp_key)
            out[u.name] = SecretIntent(str(u.pgp_key), key.fingerprint, u.password_reset_required)
    return out


def _needs_confirmation(want: UserState, have: UserState, issued: int) -> bool:
    if have.login_profile is None or have.access_keys is None:
        return True  # not in the credential report (created after it was generated)
    if bool(want.login_profile) != have.login_profile:
        return True
    if want.access_keys:
        return len(have.access_keys) != issued  # no key, or one without a ciphertext on record
    return issued > 0  # iamlayer issued keys that must now go


#: Beyond this many customer-managed policies without iamlayer's description marker in the people
#: account, only those the spec names have their tags read (one ListPolicyTags call each).
POLICY_TAG_READS = 100


def policies_to_tag_read(state: AccountState, named: Iterable[str]) -> tuple[list[PolicyState], str | None]:
    """The policies whose tags a plan reads, and a notice when the bound left some out.

    A policy iamlayer created carries its description marker, which the bulk read shows; one it
    adopted is known by its tag only. Reading the tags of every unmarked policy lets a plan see
    an adopted policy that left the spec (and delete it); past POLICY_TAG_READS of them, only
    those the spec names are read, so the plan's cost stays bounded.
    """
    unmarked = [p for p in state.policies.values() if description_owner(p.description) is None]
    if len(unmarked) <= POLICY_TAG_READS:
        return unmarked, None
    wanted = set(named)
    notice = (
        f"{len(unmarked)} customer-managed policies without iamlayer's description marker: only the tags of "
        f"the {len([p for p in unmarked if p.name in wanted])} the spec names were read, so a policy "
        "iamlayer adopted and that has since left the spec is not seen (and not deleted)"
    )
    return [p for p in unmarked if p.name in wanted], notice


#: A credential report older than this is named in the plan: what changed by hand since is unseen.
REPORT_NOTICE_AGE = timedelta(minutes=5)


def credential_report_notice(generated: str, trusted: int, now: datetime | None = None) -> str | None:
    """What the plan says when it trusted a credential report older than REPORT_NOTICE_AGE.

    Nothing for an age AWS cannot give (beyond REPORT_MAX_AGE): that GeneratedTime is not when
    the report was made. The emulator answers a fixed time from 2015 for a report it made at once;
    saying "103790 h old" would be false.
    """
    try:
        age = (now or datetime.now(UTC)) - datetime.fromisoformat(generated)
    except ValueError:
        return None
    if age < REPORT_NOTICE_AGE or age > REPORT_MAX_AGE:
        return None
    minutes = int(age.total_seconds() // 60)
    told = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
    return (
        f"the credential report is {told} old (AWS makes a new one at most every 4 hours): a console "
        f"password or access key added or removed by hand since then is not seen for {trusted} user(s) "
        "whose login profile and keys were taken from it; --refresh-credentials reads each user instead"
    )


def read_account(
    spec: Spec,
    account: str,
    conn: Connection,
    desired: AccountState,
    intents: dict[str, SecretIntent],
    keys_in_flight: frozenset[str] = frozenset(),
    refresh_credentials: bool = False,
) -> AccountRead:
    """Read one account and settle the credential hints that matter for this spec.

    `refresh_credentials`: no credential report; every owned user is read one by one instead.
    """
    assert conn.clients is not None
    not_read = settings_not_read(desired.alias, desired.password_policy)
    state = whole_state_read(
        conn.clients,
        conn.account.id,
        credential_report=bool(desired.users) and not refresh_credentials,
        password_policy=Kind.PASSWORD_POLICY not in not_read,
        alias=Kind.ACCOUNT_ALIAS not in not_read,
    )
    if reads_oidc_providers(spec, account, state):
        state.oidc_providers = read_oidc_providers(conn.clients, conn.account.id)
    read = AccountRead(state)
    if account != spec.people_account:
        return read
    tag_reads, bound_notice = policies_to_tag_read(state, desired.policies)
    read_policy_tags(conn.clients, conn.account.id, tag_reads)
    if bound_notice:
        read.notices.append(bound_notice)
    outbox = outbox_for(spec)
    # Read, never settled here: a plan writes nothing (apply settles them, see Kind.STAGED_PASSWORD).
    read.staged_passwords = {
        p.user: p.final_path.exists() for p in outbox.pending_passwords() if p.account == account
    }
    issued: dict[str, set[str]] = {}
    for r in outbox.records():
        if r.account != account:
            continue
        if r.kind == "access_key" and r.access_key_id:
            issued.setdefault(r.user, set()).add(r.access_key_id)
        intent = intents.get(r.user)
        if intent and r.fingerprint and r.fingerprint != intent.fingerprint:
            fix = (
                f"iamlayer password reset {r.user}"
                if r.kind == "password"
                else f"iamlayer access-key rotate {r.user} --delete-old"
            )
            read.notices.append(
                f"{r.user}: {r.path.name} is encrypted to an older key {r.fingerprint}; "
                f"the key file now holds {intent.fingerprint}. Re-issue it: {fix}"
            )
    read.issued_keys = {u: frozenset(ids) for u, ids in issued.items()}
    trusted = 0  # owned users whose login profile and keys are taken from the credential report
    for name, want in desired.users.items():
        have = state.users.get(name)
        if have is None:
            # The user was deleted outside iamlayer (its keys with it): every key iamlayer holds a
            # ciphertext for is gone, and the ciphertexts go in the same apply that re-creates it.
            if issued.get(name):
                read.stale_keys[name] = frozenset(issued[name])
            continue
        # Users adopted by this plan are the diff's to manage as much as owned ones.
        if not (have.owned_by(spec.project) or adoptable(have, spec.project, spec.adopt)):
            continue
        if want.credentials_kept and name not in read.staged_passwords:
            continue  # `credentials: keep`: login profile and keys are never compared
        # A user with an unfinished key creation or a staged password is always read one by one:
        # the credential report may predate what the interrupted apply did, and the diff needs
        # each key's id and creation time.
        if (
            name in keys_in_flight
            or name in read.staged_passwords
            or _needs_confirmation(want, have, len(issued.get(name, ())))
        ):
            confirm_user(conn.clients, conn.account.id, have)
            # An apply killed between DeleteAccessKey and removing the key's ciphertext left it.
            gone = issued.get(name, set()) - {k.id for k in have.access_keys or ()}
            if gone:
                read.stale_keys[name] = frozenset(gone)
        else:
            trusted += 1
    if trusted and state.credential_report_time:
        notice = credential_report_notice(state.credential_report_time, trusted)
        if notice:
            read.notices.append(notice)
    for name, have in state.users.items():
        if name not in desired.users and have.owned_by(spec.project):
            read.deleted_users[name] = describe_user_for_delete(conn.clients, conn.account.id, have)
    return read


def plan_account(
    spec: Spec,
    account: str,
    conn: Connection,
    intents: dict[str, SecretIntent],
    journal: Journal,
    refresh_credentials: bool = False,
    ic: SharedIcPlan | None = None,
    live: dict[str, AccountState] | None = None,
) -> AccountPlan:
    """One account's part of the plan, or the reason it could not be made.

    `ic` is the plan's one Identity Center part (see SharedIcPlan); without it, none is read.
    `live` receives the account's live state (for "who gains what").
    """
    if conn.error is not None or conn.reach is None:
        return AccountPlan(account, conn.account.id, "", "", "", error=str(conn.error), unreadable=True)
    desired = desired_state(spec, account, operator=ci_operator_policies(spec))
    keys_in_flight = journal.key_creations(account)
    try:
        read = read_account(
            spec, account, conn, desired, intents, frozenset(keys_in_flight), refresh_credentials
        )
    except IamlayerError as exc:
        return AccountPlan(
            account, conn.account.id, conn.reach.identity, conn.reach.via, "", error=str(exc), unreadable=True
        )
    if live is not None:
        live[account] = read.state
    foreign = foreign_entitled_roles(spec, account, read.state)
    if foreign is not None:
        raise foreign
    ic = ic or SharedIcPlan(None)
    ic_part = None
    if has_identity_center(spec, account):
        try:
            ic_part = ic.get()
        except SpecError:
            raise  # a name of the spec the instance lacks: the spec's error, at its line (exit 2)
        except IamlayerError as exc:
            return AccountPlan(
                account, conn.account.id, conn.reach.identity, conn.reach.via, "", error=str(exc)
            )
    result = diff(
        account,
        spec.project,
        desired,
        read.state,
        secret_intents=intents if account == spec.people_account else {},
        deleted_users=read.deleted_users,
        adopt_groups=journal.pending("groups", account),
        keys_in_flight=keys_in_flight,
        issued_keys=read.issued_keys,
        stale_keys=read.stale_keys,
        staged_passwords=read.staged_passwords,
        adopt=spec.adopt,
        needed_policies=ic.needed_policies(spec, account, read.state),
    )
    changes, collisions, notices = result.changes, result.collisions, read.notices + result.notices
    fingerprint = read.state.fingerprint()
    if ic_part is not None:
        changes = sorted([*changes, *ic_part.changes], key=lambda c: (c.stage, c.address))
        collisions, notices = collisions + ic_part.collisions, notices + ic_part.notices
        fingerprint = combined_fingerprint(fingerprint, ic_part.fingerprint)
    return AccountPlan(
        account=account,
        account_id=conn.account.id,
        identity=conn.reach.identity,
        via=conn.reach.via,
        fingerprint=fingerprint,
        changes=tuple(changes),
        error="; ".join(collisions) if collisions else None,
        notices=tuple(notices),
    )


def decide_checks(
    spec: Spec, checks: CheckReport, conns: dict[str, Connection], progress: Progress | None
) -> None:
    """Decide the access checks that depend on AWS-managed policies, now that AWS can be asked.

    Their documents are read once per distinct ARN (GetPolicy + GetPolicyVersion) through the
    people account; a check that then fails is a spec error, raised before any write.
    """
    unknown = checks.unknown_policies()
    people = conns.get(spec.people_account)
    if not unknown or people is None or people.clients is None:
        return
    if progress:
        progress(f"reading {len(unknown)} AWS-managed policy document(s) for the access checks")
    managed = read_policy_documents(people.clients, unknown)
    evaluate_checks(spec, now=datetime.now(UTC), managed=managed).raise_for_failures()


def who_gains_what(
    spec: Spec, live: dict[str, AccountState], conns: dict[str, Connection], progress: Progress | None
) -> tuple[AccessChange, ...]:
    """Each person's reach the plan changes (iamlayer.plan.access_changes). The AWS-managed
    policies people hold are read once each (GetPolicy + GetPolicyVersion) through the people
    account; one that cannot be read leaves the answers that depend on it marked uncertain."""
    after = after_states(spec, live)
    unknown = unknown_policies(spec, live, after)
    people = conns.get(spec.people_account)
    managed: dict[str, dict[str, Any]] = {}
    if unknown and people is not None and people.clients is not None:
        if progress:
            progress(f"reading {len(unknown)} AWS-managed policy document(s) for who gains what")
        try:
            managed = read_policy_documents(people.clients, unknown)
        except IamlayerError:
            managed = {}
    if progress:
        progress("asking the evaluator who gains what")
    return access_changes(spec, live, after=after, managed=managed, now=datetime.now(UTC))


#: how many accounts plan reads (and apply writes to) at a time, unless --parallelism says otherwise
DEFAULT_PARALLELISM = 10


def resolve_spec(
    spec: Spec,
    *,
    profile: CredentialSource,
    stats: ApiStats,
    progress: Progress | None = None,
    parallelism: int = DEFAULT_PARALLELISM,
) -> Spec:
    """The spec with its OU selectors and `accounts: {organization: true}` resolved against the
    organization, read now (iamlayer.aws.org.read_org_view); a spec without them as it is."""
    if not spec.unresolved:
        return spec
    if progress:
        progress("reading the organization's OUs and accounts")
    return resolve_organization(spec, read_org_view(profile, spec.region, stats, parallelism=parallelism))


def ic_assignment_units(shape: AssignmentReadShape | None) -> tuple[str, int] | None:
    """The Identity Center assignment read's shape and units (expected_plan_reads' `ic_assignments`)."""
    if shape is None:
        return None
    return str(shape.by), shape.principals if shape.by is AssignmentReads.PRINCIPAL else shape.pairs


def ic_read_stats(shape: AssignmentReadShape, stats: ApiStats) -> dict[str, Any]:
    """`plan --stats`' Identity Center part: how the assignments were read, and the calls of
    Identity Center's operations (sso-admin, identitystore) by operation."""
    ops = ic_operations()
    return {**shape.as_json(), "calls": {op: n for op, n in stats.by_operation().items() if op in ops}}


def make_plan(
    spec: Spec,
    *,
    profile: CredentialSource,
    only: Iterable[str] | None = None,
    stats: ApiStats | None = None,
    progress: Progress | None = None,
    parallelism: int = DEFAULT_PARALLELISM,
    refresh_credentials: bool = False,
) -> Plan:
    """Plan every account in scope, `parallelism` accounts at a time. Accounts that cannot be
    planned carry an `error` (an account that cannot be reached or read is `unreadable`: apply
    goes on without it); the others are planned all the same.

    A spec with OU selectors or `accounts: {organization: true}` is resolved first (`resolve_spec`).
    `refresh_credentials`: read every owned user's login profile and access keys one by one
    (GetLoginProfile, ListAccessKeys) instead of trusting the credential report, which AWS makes
    at most every 4 hours; two calls per user.
    """
    stats = stats or ApiStats()
    spec = resolve_spec(spec, profile=profile, stats=stats, progress=progress, parallelism=parallelism)
    scope = list(only) if only else list(spec.accounts)
    unknown = [a for a in scope if a not in spec.accounts]
    if unknown:
        raise PlanError(f"unknown account(s) {', '.join(unknown)}; the spec has: {', '.join(spec.accounts)}")
    check_rendered_limits(spec)
    checks = evaluate_checks(spec, now=datetime.now(UTC))
    checks.raise_for_failures()
    intents = secret_intents(spec)
    journal = Journal.for_spec(spec, profile)
    if progress:
        progress(f"connecting to {len(scope)} account(s)")
    conns = connect_accounts(spec, profile=profile, stats=stats, only=scope, max_workers=parallelism)
    decide_checks(spec, checks, conns, progress)

    ic = SharedIcPlan(None)
    if spec.identity_center is not None and spec.identity_center.account in conns:
        clients = conns[spec.identity_center.account].clients
        if clients is not None:
            ic = SharedIcPlan(partial(plan_identity_center, spec, clients, journal))

    live: dict[str, AccountState] = {}

    def one(name: str) -> AccountPlan:
        ap = plan_account(spec, name, conns[name], intents, journal, refresh_credentials, ic, live)
        if progress:
            progress(f"read {name}")
        return ap

    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        plans = list(pool.map(one, scope))
    access = who_gains_what(spec, live, conns, progress) if any(p.changes for p in plans) else ()
    # Call counts are final only once every account is read (assume-role calls count too).
    calls = stats.by_account()
    plans = [replace(p, api_calls=calls.get(p.account, 0)) for p in plans]
    shape = ic.read_shape()
    return Plan(
        project=spec.project,
        spec_path=str(spec.path),
        spec_digest=spec_digest(spec),
        accounts=tuple(plans),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        stats={
            **stats.as_json(),
            "expected_bulk_reads": expected_plan_reads(
                [p.account for p in plans if not p.error],
                spec.people_account,
                spec.identity_center.account if spec.identity_center else None,
                ic_assignment_units(shape),
                not_read={
                    a: settings_not_read(spec.accounts[a].alias, spec.accounts[a].password_policy)
                    for a in scope
                },
            ),
            **({"identity_center": ic_read_stats(shape, stats)} if shape is not None else {}),
        },
        refresh_credentials=refresh_credentials,
        access=access,
        selections=spec.selections,
        warnings=management_assignment_warnings(spec),
    )

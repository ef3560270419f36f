"""`iamlayer access`: who may do what, evaluated as AWS evaluates IAM policies.

    iamlayer access can USER ACTION RESOURCE [--mfa | --no-mfa] [--mfa-age S] [--session] [--at TIME]
    iamlayer access who-can-assume ROLE [--account NAME]

Offline by default: the policies are the ones iamlayer renders from the spec, and nothing
touches AWS. With `--live`, the accounts involved are read in bulk and the AWS-managed
policies attached to people are read once per distinct ARN (`--stats` counts the calls).
The embedded emulator enforces no IAM policy at all; this is how to know what AWS will do.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from iamlayer.access.ask import (
    accounts_for,
    ask_can,
    ask_who_can_assume,
    check_account,
    check_action,
    role_accounts,
)
from iamlayer.access.context import Credential, Signing
from iamlayer.access.evaluate import Decision
from iamlayer.access.principals import AccessModel, model_from_spec
from iamlayer.access.queries import AssumeAccess
from iamlayer.cli.common import EXIT_OK, console, json_option, profile_option, spec_option
from iamlayer.errors import QueryError
from iamlayer.plan.render import render_stats
from iamlayer.spec.grants_validate import UNTIL_RULE, parse_until
from iamlayer.spec.load import load_spec
from iamlayer.spec.model import Grant, Spec
from iamlayer.stats import ApiStats

#: exit codes of `access can`: 0 allowed, 3 denied, 4 undecided offline (1 error, 2 usage)
EXIT_DENY = 3
EXIT_UNCERTAIN = 4

live_option = click.option(
    "--live",
    is_flag=True,
    help="Evaluate what is in AWS now (bulk reads of the accounts involved) instead of the spec.",
)
stats_option = click.option(
    "--stats", "show_stats", is_flag=True, help="Print the API calls made (with --live)."
)


def _load(spec_file: Path, profile: str | None, stats: ApiStats) -> Spec:
    """The spec; with OU selectors or `accounts: {organization: true}`, resolved against the
    organization (read now, with `profile`'s credentials): answers need its accounts."""
    spec = load_spec(spec_file, check_keys=False)
    if not spec.unresolved:
        return spec
    from iamlayer.api import resolve_spec

    return resolve_spec(spec, credentials=profile, stats=stats)


def _model(spec: Spec, live: bool, accounts: list[str], profile: str | None, stats: ApiStats) -> AccessModel:
    if not live:
        return model_from_spec(spec)
    from iamlayer.aws.access_reads import read_live_model  # reaches AWS: only with --live

    return read_live_model(spec, accounts=accounts, profile=profile, stats=stats)


def _source(model: AccessModel, spec: Spec) -> str:
    if model.source == "live":
        return "evaluated against the live accounts"
    return f"evaluated offline from {spec.path.name}; AWS enforces these policies, the sandbox does not"


#: the argument of the command each part of a question is given in
_PARAM = {"user": "USER", "action": "ACTION", "resource": "RESOURCE", "role": "ROLE", "account": "--account"}


@contextmanager
def _usage_errors() -> Iterator[None]:
    """A question naming what the layer does not have is a usage error (exit 2), on its argument."""
    try:
        yield
    except QueryError as exc:
        raise click.BadParameter(str(exc), param_hint=_PARAM[exc.argument]) from None


def _signing(mfa: bool | None, mfa_age: int | None, session: bool) -> Signing:
    if mfa_age is not None and mfa is False:
        raise click.UsageError("--mfa-age needs MFA: drop --no-mfa")
    if session and (mfa or mfa_age is not None):
        raise click.UsageError("--session means a session without MFA: drop --mfa/--mfa-age")
    if mfa or mfa_age is not None:
        return Signing.with_mfa(mfa_age or 0)
    return Signing(Credential.SESSION if session else Credential.ACCESS_KEY)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _verdict(d: Decision) -> str:
    word = "ALLOW" if d.allowed else "DENY"
    if d.certain:
        return word
    if d.unknown_keys:
        return f"UNCERTAIN ({word} as far as the known policies and request context go)"
    return f"UNCERTAIN ({word} as far as the known policies go)"


@click.command("can")
@click.argument("user")
@click.argument("action")
@click.argument("resource")
@click.option(
    "--mfa/--no-mfa", "mfa", default=None, help="Signed with an MFA session, or not (default: --no-mfa)."
)
@click.option(
    "--mfa-age", type=click.IntRange(min=0), metavar="SECONDS", help="Age of the MFA sign-in (implies --mfa)."
)
@click.option(
    "--session",
    is_flag=True,
    help="Without MFA, from a session (console sign-in, GetSessionToken) rather than an access key.",
)
@click.option(
    "--context",
    "context",
    multiple=True,
    metavar="KEY=VALUE",
    help="Add a request context key (repeatable), e.g. sts:ExternalId=abc or aws:PrincipalOrgID=o-123.",
)
@click.option(
    "--at",
    "at",
    metavar="TIME",
    help="Ask at this time (aws:CurrentTime), an ISO 8601 time with a zone, e.g. 2026-12-12T00:00:00Z "
    "(default: now). What iamlayer writes today, as AWS would evaluate it then: a grant has ended.",
)
@spec_option
@profile_option
@live_option
@json_option
@stats_option
def can_command(
    user: str,
    action: str,
    resource: str,
    mfa: bool | None,
    mfa_age: int | None,
    session: bool,
    context: tuple[str, ...],
    at: str | None,
    spec_file: Path,
    profile: str | None,
    live: bool,
    as_json: bool,
    show_stats: bool,
) -> int:
    """May USER call ACTION on RESOURCE? ALLOW or DENY, and why.

    RESOURCE is an ARN, `*` (the request AWS receives for an action without resource-level
    permissions, such as iam:GetAccountPasswordPolicy; the answer also says whether it is allowed
    on every resource, or on some), or role/<name>@<account>. The answer names the policy and
    statement that decided it and, for a denial, the statements that almost allowed it and which
    condition failed.

    Keys AWS sends with every direct call are set (the caller, MFA, time, region, the resource's
    account from its ARN...); one whose value cannot be known offline (aws:SourceIp, a resource's
    tags, a request parameter) makes the answer UNCERTAIN when a statement depends on it: set it
    with --context KEY=VALUE.

    \b
    Exit codes: 0 ALLOW, 3 DENY, 4 UNCERTAIN (depends on an AWS-managed policy not known
    offline: use --live; or on a context key: use --context), 1 error, 2 bad usage. So scripts
    can write:
      if iamlayer access can jane.doe sts:AssumeRole role/DevOps@apps-prd --mfa; then ...
    """
    with _usage_errors():
        check_action(action)
    signing = _signing(mfa, mfa_age, session)
    when = parse_until(at) if at is not None else datetime.now(UTC)
    if when is None:
        raise click.BadParameter(f"{at!r} is not {UNTIL_RULE}", param_hint="--at")
    extra: dict[str, str] = {}
    for item in context:
        key, sep, value = item.partition("=")
        if not sep or ":" not in key:
            raise click.BadParameter(
                f"{item!r}: write KEY=VALUE, e.g. sts:ExternalId=abc", param_hint="--context"
            )
        extra[key] = value
    with _usage_errors():
        stats = ApiStats()
        spec = _load(spec_file, profile, stats)
        model = _model(spec, live, accounts_for(spec, resource), profile, stats)
        answer = ask_can(
            model,
            spec,
            user,
            action,
            resource,
            signing,
            now=when,
            extra=extra,
            compare_mfa=mfa is None and mfa_age is None and not session,
        )
    d, who, target = answer.decision, answer.user, answer.target
    some, every, other = answer.on_some, answer.on_every, answer.with_mfa
    if as_json:
        _print_json({**answer.as_json(), "stats": stats.as_json()})
    else:
        verb = "may" if d.allowed else "may not"
        moment = f" at {at}" if at is not None else ""
        console.print(
            f"{_verdict(d)}: {who.name} {verb} {action} on {target.label} {signing.describe()}{moment}",
            soft_wrap=True,
        )
        for line in d.explain():
            console.print(f"  {line}", soft_wrap=True)
        if some is not None and some.allowed:
            console.print("  it is allowed on some resources:", soft_wrap=True)
            for s in some.deciding:
                console.print(f"    {s}", soft_wrap=True)
        if every is not None and not every.allowed:
            console.print(
                "  not on every resource (for an action with resource-level permissions):", soft_wrap=True
            )
            for s in every.deciding:
                console.print(f"    denied by {s}", soft_wrap=True)
        if other is not None and other.allowed != d.allowed:
            console.print(f"  with --mfa: {_verdict(other)}", soft_wrap=True)
        console.print(f"[dim]({_source(model, spec)})[/]", soft_wrap=True)
        if show_stats:
            console.print(render_stats(stats.as_json()))
    if not d.certain:
        return EXIT_UNCERTAIN
    return EXIT_OK if d.allowed else EXIT_DENY


def _grants_on(spec: Spec, role: str, account: str, now: datetime) -> list[Grant]:
    """The active grants of `role` (its IAM name) in `account`."""
    return [g for g in spec.active_grants(now) if account in g.accounts and spec.roles[g.assume].name == role]


def _grant_text(g: Grant) -> str:
    return f"grant until {g.until_text}" + (f" ({g.reason})" if g.reason else "")


def _conditions(a: AssumeAccess) -> str:
    keys = f" (uncertain: depends on {', '.join(a.unknown_keys)})" if a.unknown_keys else ""
    if not a.can_assume:
        return (
            f"not by the known policies and context{keys}"
            if keys
            else "not by the known policies (uncertain)"
        )
    return ", ".join(a.conditions()) + (" (uncertain)" if a.unknown else "") + keys


@click.command("who-can-assume")
@click.argument("role")
@click.option(
    "--account", "account", metavar="NAME", help="The account the role is in (needed when it is in several)."
)
@spec_option
@profile_option
@live_option
@json_option
@stats_option
def who_can_assume_command(
    role: str,
    account: str | None,
    spec_file: Path,
    profile: str | None,
    live: bool,
    as_json: bool,
    show_stats: bool,
) -> int:
    """Every user and group of the people account that can assume ROLE, and what each needs.

    The conditions (no MFA, MFA, the oldest MFA sign-in accepted) are found by evaluating
    sts:AssumeRole for each person under an access key, a session without MFA and MFA sessions
    of different ages, against their policies and the role's trust policy. A group line is what
    the group's own policies allow a member who is in no other group. The Identity Center users
    and groups the account access manager entitles to ROLE (`entitled:`) are listed too, and the
    web identities (OIDC provider, `sub`, `aud`) its trust lets in, e.g. the CI jobs of `ci:`.
    """
    stats = ApiStats()
    spec = _load(spec_file, profile, stats)
    offline = model_from_spec(spec)
    with _usage_errors():
        where = role_accounts(offline, role)
        if account is None and len(where) > 1:
            raise click.UsageError(
                f"role {role} is in several accounts ({', '.join(where)}): choose one with --account"
            )
        account = account or where[0]
        check_account(spec, account, "account")
        model = _model(spec, live, [account], profile, stats) if live else offline
        now = datetime.now(UTC)
        report = ask_who_can_assume(model, spec, role, account, now=now)
    target = report.role
    grants = _grants_on(spec, target.name, account, now)
    if as_json:
        listed = [
            {
                "who": g.who,
                "role": g.assume,
                "accounts": list(g.accounts),
                "until": g.until_text,
                "reason": g.reason,
            }
            for g in grants
        ]
        _print_json({**report.as_json(), "grants": listed, "source": model.source, "stats": stats.as_json()})
        return EXIT_OK
    console.print(f"Who can assume {target.name} in {account} ({target.arn}):", soft_wrap=True)
    groups = [g for g in report.groups if g.can_assume or g.uncertain]
    users = [u for u in report.users if u.can_assume or u.uncertain]
    if not groups and not users and not report.entitled and not report.web_identities:
        console.print("  nobody")
    for g in groups:
        console.print(f"  group {g.name}: {_conditions(g)}", soft_wrap=True)
    for u in users:
        via = f" (groups: {', '.join(u.groups)})" if u.groups else ""
        ends = "".join(f"; {_grant_text(g)}" for g in grants if g.who == u.name)
        console.print(f"  user {u.name}{via}: {_conditions(u)}{ends}", soft_wrap=True)
    for e in report.entitled:
        who = (
            " (provisioned by the identity provider)"
            if e.external
            else (f" (members: {', '.join(e.members)})" if e.members else "")
        )
        console.print(
            f"  Identity Center {e.kind} {e.name}{who}: entitled by the account access manager, "
            "through the AWS access portal",
            soft_wrap=True,
        )
    for w in report.web_identities:
        subs = ", ".join(w.sub) or "any sub"
        auds = ", ".join(w.aud) or "any audience"
        how = "" if w.exact and not w.missing else " (not pinned: see `iamlayer audit`, IL-11)"
        console.print(f"  web identity {w.provider}: sub {subs}; aud {auds}{how}", soft_wrap=True)
    unknown = sorted({p for a in (*groups, *users) for p in a.unknown})
    if unknown:
        console.print(
            f"  uncertain: depends on {', '.join(unknown)}, not known offline (`--live` reads it from AWS)",
            soft_wrap=True,
        )
    cannot = report.as_json()["cannot"]
    if cannot:
        console.print(f"  cannot: {', '.join(cannot)}", soft_wrap=True)
    console.print(f"[dim]({_source(model, spec)})[/]", soft_wrap=True)
    if show_stats:
        console.print(render_stats(stats.as_json()))
    return EXIT_OK


@click.group("access")
def access() -> None:
    """Who may do what: IAM policies evaluated as AWS evaluates them.

    Offline from the spec by default (nothing touches AWS); --live reads the accounts. The
    sandbox's emulator enforces no policy: ask here what AWS will allow.
    """


access.add_command(can_command)
access.add_command(who_can_assume_command)


def commands() -> list[click.Command]:
    return [access]

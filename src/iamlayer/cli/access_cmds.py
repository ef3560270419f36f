"""`iamlayer access`: who may do what, evaluated as AWS evaluates IAM policies.

    iamlayer access can USER ACTION RESOURCE [--mfa | --no-mfa] [--mfa-age S] [--session]
    iamlayer access who-can-assume ROLE [--account NAME]

Offline by default: the policies are the ones iamlayer renders from the spec, and nothing
touches AWS. With `--live`, the accounts involved are read in bulk and the AWS-managed
policies attached to people are read once per distinct ARN (`--stats` counts the calls).
The embedded emulator enforces no IAM policy at all; this is how to know what AWS will do.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from iamlayer.access.context import Credential, Signing
from iamlayer.access.evaluate import Decision
from iamlayer.access.policy import ResourceMode
from iamlayer.access.principals import AccessModel, RoleModel, UserModel, model_from_spec
from iamlayer.access.queries import AssumeAccess, Target, can, is_role_arn, target_for_arn, who_can_assume
from iamlayer.aws.session import ApiStats
from iamlayer.cli.common import EXIT_OK, console, json_option, profile_option, spec_option
from iamlayer.plan.render import render_stats
from iamlayer.spec.load import load_spec
from iamlayer.spec.model import EVERY_ACCOUNT, Spec, parse_role_ref
from iamlayer.spec.policy_grammar import did_you_mean

#: exit codes of `access can`: 0 allowed, 3 denied, 4 undecided offline (1 error, 2 usage)
EXIT_DENY = 3
EXIT_UNCERTAIN = 4

ACTION = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9]+", re.ASCII)

live_option = click.option(
    "--live",
    is_flag=True,
    help="Evaluate what is in AWS now (bulk reads of the accounts involved) instead of the spec.",
)
stats_option = click.option(
    "--stats", "show_stats", is_flag=True, help="Print the API calls made (with --live)."
)


def _hint(word: str, choices: list[str], what: str) -> str:
    guess = did_you_mean(word, choices)
    if guess:
        return f"did you mean {guess!r}?"
    return f"{what}: {', '.join(choices)}" if choices else f"there are no {what}"


def _model(spec: Spec, live: bool, accounts: list[str], profile: str | None, stats: ApiStats) -> AccessModel:
    if not live:
        return model_from_spec(spec)
    from iamlayer.aws.access_reads import read_live_model  # reaches AWS: only with --live

    return read_live_model(spec, accounts=accounts, profile=profile, stats=stats)


def _source(model: AccessModel, spec: Spec) -> str:
    if model.source == "live":
        return "evaluated against the live accounts"
    return f"evaluated offline from {spec.path.name}; AWS enforces these policies, the sandbox does not"


def _account(spec: Spec, name: str, param: str) -> str:
    if name not in spec.accounts:
        raise click.BadParameter(
            f"no account {name!r} in the spec; {_hint(name, list(spec.accounts), 'accounts')}",
            param_hint=param,
        )
    return name


def _accounts_for(spec: Spec, resource: str) -> list[str]:
    """The accounts whose state a request on `resource` needs (beyond the people account)."""
    ref = parse_role_ref(resource)
    if ref is not None and ref[1] in spec.accounts:
        return [ref[1]]
    if resource.startswith("arn:") and len(resource.split(":")) > 4:
        account_id = resource.split(":")[4]
        return [a for a, acc in spec.accounts.items() if acc.id == account_id]
    return []


def _role(model: AccessModel, spec: Spec, name: str, account: str, param: str) -> RoleModel:
    role = model.role(name, account)
    if role is not None:
        return role
    where = [r.account for r in model.roles_named(name)]
    if where:
        raise click.BadParameter(
            f"role {name} is not in account {account}; it is in: {', '.join(where)}", param_hint=param
        )
    names = model.role_names()
    raise click.BadParameter(f"no role {name!r}; {_hint(name, names, 'roles')}", param_hint=param)


def _target(model: AccessModel, spec: Spec, text: str) -> Target:
    if text == "*":
        return Target.everything()
    ref = parse_role_ref(text)
    if ref is not None:
        name, account = ref
        if account == EVERY_ACCOUNT:
            raise click.BadParameter(
                "name one account (role/<name>@<account>); `iamlayer access who-can-assume` covers them all",
                param_hint="RESOURCE",
            )
        _account(spec, account, "RESOURCE")
        role = _role(model, spec, name, account, "RESOURCE")
        return Target(role.arn, role)
    if text.startswith("arn:"):
        target = target_for_arn(model, text)
        owner = model.account_of(text.split(":")[4]) if len(text.split(":")) > 4 else None
        if is_role_arn(text) and target.role is None and owner is not None:
            # A role ARN in one of the layer's accounts must name one of its roles.
            role = _role(model, spec, text.rsplit("/", 1)[-1], owner, "RESOURCE")
            raise click.BadParameter(
                f"{text} is not the ARN of role {role.name} in {owner}: {role.arn}", param_hint="RESOURCE"
            )
        return target
    raise click.BadParameter(
        f"{text!r} is not a resource: give an ARN, *, or role/<name>@<account>", param_hint="RESOURCE"
    )


def _user(model: AccessModel, name: str) -> UserModel:
    user = model.users.get(name)
    if user is None:
        raise click.BadParameter(
            f"no user {name!r} in the people account; {_hint(name, sorted(model.users), 'users')}",
            param_hint="USER",
        )
    return user


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
    if not ACTION.fullmatch(action):
        raise click.BadParameter(
            f"{action!r} is not an action: write service:Action, e.g. sts:AssumeRole (no wildcards)",
            param_hint="ACTION",
        )
    signing = _signing(mfa, mfa_age, session)
    extra: dict[str, str] = {}
    for item in context:
        key, sep, value = item.partition("=")
        if not sep or ":" not in key:
            raise click.BadParameter(
                f"{item!r}: write KEY=VALUE, e.g. sts:ExternalId=abc", param_hint="--context"
            )
        extra[key] = value
    spec = load_spec(spec_file, check_keys=False)
    stats = ApiStats()
    model = _model(spec, live, _accounts_for(spec, resource), profile, stats)
    who = _user(model, user)
    target = _target(model, spec, resource)
    now = datetime.now(UTC)
    d = can(model, who, action, target, signing, now=now, extra=extra)
    some: Decision | None = None
    every: Decision | None = None
    if target.resource == "*" and not d.allowed:
        some = can(model, who, action, target, signing, now=now, mode=ResourceMode.ANY, extra=extra)
    elif target.resource == "*":
        every = can(model, who, action, target, signing, now=now, mode=ResourceMode.ALL, extra=extra)
    other: Decision | None = None
    if mfa is None and mfa_age is None and not session:
        other = can(model, who, action, target, Signing.with_mfa(0), now=now, extra=extra)
    if as_json:
        _print_json(
            {
                **d.as_json(),
                "user": who.name,
                "user_arn": who.arn,
                "action": action,
                "resource": target.resource,
                "target": target.label,
                "signing": {"credential": signing.credential.value, "mfa_age": signing.mfa_age},
                "source": model.source,
                **({"on_some_resources": some.allowed} if some is not None else {}),
                **({"on_every_resource": every.allowed} if every is not None else {}),
                "stats": stats.as_json(),
            }
        )
    else:
        verb = "may" if d.allowed else "may not"
        console.print(
            f"{_verdict(d)}: {who.name} {verb} {action} on {target.label} {signing.describe()}",
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
    the group's own policies allow a member who is in no other group.
    """
    spec = load_spec(spec_file, check_keys=False)
    offline = model_from_spec(spec)
    where = [r.account for r in offline.roles_named(role)]
    if not where:
        raise click.BadParameter(
            f"no role {role!r}; {_hint(role, offline.role_names(), 'roles')}", param_hint="ROLE"
        )
    if account is None:
        if len(where) > 1:
            raise click.UsageError(
                f"role {role} is in several accounts ({', '.join(where)}): choose one with --account"
            )
        account = where[0]
    _account(spec, account, "--account")
    stats = ApiStats()
    model = _model(spec, live, [account], profile, stats) if live else offline
    target = _role(model, spec, role, account, "--account")
    report = who_can_assume(model, target, now=datetime.now(UTC))
    if as_json:
        _print_json({**report.as_json(), "source": model.source, "stats": stats.as_json()})
        return EXIT_OK
    console.print(f"Who can assume {target.name} in {account} ({target.arn}):", soft_wrap=True)
    groups = [g for g in report.groups if g.can_assume or g.uncertain]
    users = [u for u in report.users if u.can_assume or u.uncertain]
    if not groups and not users:
        console.print("  nobody")
    for g in groups:
        console.print(f"  group {g.name}: {_conditions(g)}", soft_wrap=True)
    for u in users:
        via = f" (groups: {', '.join(u.groups)})" if u.groups else ""
        console.print(f"  user {u.name}{via}: {_conditions(u)}", soft_wrap=True)
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

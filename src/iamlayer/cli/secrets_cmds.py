"""Onboarding secrets: outputs, decrypt, password reset, access-key rotate.

Nothing here prints a secret, except `decrypt`, which is the person's own request to read the
ciphertext addressed to them (as `gpg --decrypt` does).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from iamlayer.apply.credentials import (
    issue_access_key,
    issue_password,
    password_policy_from,
    retire_access_key,
)
from iamlayer.apply.handlers import HandlerContext
from iamlayer.aws.accounts import connect_accounts
from iamlayer.aws.errors import aws_call
from iamlayer.aws.read import confirm_user, has_login_profile, read_all, whole_state_read
from iamlayer.aws.session import AccountClients, ApiStats
from iamlayer.cli.common import EXIT_OK, console, err_console, json_option, profile_option, spec_option
from iamlayer.errors import IamlayerError
from iamlayer.plan.diff import password_policy_json
from iamlayer.secrets.crypto import decrypt_file
from iamlayer.secrets.keys import load_public_key
from iamlayer.spec.load import load_spec
from iamlayer.spec.model import Spec, User
from iamlayer.state.journal import Journal
from iamlayer.state.lock import account_locks
from iamlayer.state.model import UserState
from iamlayer.state.outputs import outbox_for


def _rel(path: str) -> str:
    """A path as short as it can be said from the current folder."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def signin_url(spec: Spec) -> str:
    acc = spec.people
    return f"https://{acc.alias or acc.id}.signin.aws.amazon.com/console"


def _people_clients(spec: Spec, profile: str | None, stats: ApiStats) -> AccountClients:
    conn = connect_accounts(spec, profile=profile, stats=stats, only=[spec.people_account])[
        spec.people_account
    ]
    if conn.clients is None:
        raise IamlayerError(f"cannot reach the people account {spec.people_account}: {conn.error}")
    return conn.clients


def _people_context(spec: Spec, profile: str | None, stats: ApiStats) -> HandlerContext:
    clients = _people_clients(spec, profile, stats)
    return HandlerContext.for_account(
        spec.people_account, spec.people.id, spec.project, clients, outbox_for(spec), Journal.for_spec(spec)
    )


def _spec_user(spec: Spec, name: str) -> User:
    if name not in spec.users:
        import difflib

        close = difflib.get_close_matches(name, list(spec.users), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else f" Users: {', '.join(spec.users)}."
        raise click.BadParameter(f"no user {name!r} in the spec.{hint}", param_hint="USER")
    return spec.users[name]


def _owned_user_with_key(
    spec_file: Path, user: str, profile: str | None
) -> tuple[Spec, Path, HandlerContext]:
    """The spec, the user's key file and a context in the people account, for a user iamlayer owns."""
    spec = load_spec(spec_file)
    u = _spec_user(spec, user)
    if u.pgp_key is None:
        raise IamlayerError(
            f"user {user} has no pgp_key in the spec; its secrets must be encrypted to someone"
        )
    lock_people_account(spec)
    ctx = _people_context(spec, profile, ApiStats())
    _live_user(ctx, user, spec.project)
    return spec, u.pgp_key, ctx


def lock_people_account(spec: Spec) -> None:
    """Hold the people account's lock until the running command ends (see iamlayer.state.lock):
    one command writing users' secrets at a time, and never beside an apply."""
    click_ctx = click.get_current_context()
    click_ctx.with_resource(account_locks(spec, [spec.people_account], click_ctx.command_path))


def _live_user(ctx: HandlerContext, name: str, project: str) -> UserState:
    """The user as AWS has it, refusing a user iamlayer does not own."""
    with aws_call(f"reading user {name} {ctx.where()}"):
        tags = {
            t["Key"]: t["Value"] for t in read_all(ctx.iam, "list_user_tags", UserName=name).get("Tags", [])
        }
    user = UserState(name=name, tags=tags)
    if not user.owned_by(project):
        raise IamlayerError(f"user {name} {ctx.where()} is not owned by iamlayer project {project!r}")
    return user


@click.command()
@spec_option
@profile_option
@click.option("--user", "users", multiple=True, metavar="NAME", help="Only this user (repeatable).")
@json_option
def outputs(spec_file: Path, profile: str | None, users: tuple[str, ...], as_json: bool) -> int:
    """What each person receives: sign-in URL, encrypted secrets and how to decrypt them.

    Per user: account, user name, console sign-in URL, whether a password and access keys exist
    (read from AWS), each encrypted file with the key fingerprint it was encrypted to, the access
    key id, and the exact `gpg --decrypt` command. Nothing secret is shown.
    """
    spec = load_spec(spec_file)
    names = list(users) or list(spec.users)
    for n in names:
        _spec_user(spec, n)
    stats = ApiStats()
    clients = _people_clients(spec, profile, stats)
    account_id = spec.people.id
    state = whole_state_read(clients, account_id, credential_report=True)
    records = [r for r in outbox_for(spec).records() if r.account == spec.people_account]
    rows: list[dict[str, Any]] = []
    for n in names:
        live = state.users.get(n)
        if live is not None and (live.login_profile is None or live.access_keys is None):
            confirm_user(clients, account_id, live)  # newer than the credential report
        mine = [r for r in records if r.user == n]
        files = [
            {
                "kind": r.kind,
                "path": str(r.path),
                "fingerprint": r.fingerprint,
                "access_key_id": r.access_key_id,
                "created_at": r.created_at,
                "decrypt": f"gpg --decrypt {r.path}",
            }
            for r in mine
        ]
        rows.append(
            {
                "account": spec.people_account,
                "account_id": account_id,
                "user": n,
                "exists": live is not None,
                "signin_url": signin_url(spec),
                "password": bool(live and live.login_profile),
                "access_keys": len(live.access_keys or ()) if live else 0,
                "access_key_ids": [r.access_key_id for r in mine if r.access_key_id],
                "secrets": files,
            }
        )
    if as_json:
        sys.stdout.write(json.dumps({"users": rows, "stats": stats.as_json()}, indent=2) + "\n")
        return EXIT_OK
    console.print(
        f"[bold]Onboarding for {spec.project}[/] (people account {spec.people_account}, {account_id})\n"
    )
    for r in rows:
        state_note = "" if r["exists"] else " [red](not created yet: run iamlayer apply)[/]"
        console.print(f"[bold]{r['user']}[/]{state_note}")
        console.print(f"  sign in:     {r['signin_url']}")
        keys = ", ".join(r["access_key_ids"]) or (
            "none" if not r["access_keys"] else f"{r['access_keys']} (not issued by iamlayer)"
        )
        console.print(f"  password:    {'yes' if r['password'] else 'no'}    access keys: {keys}")
        for sec in r["secrets"]:
            console.print(
                f"  {sec['kind']:<11}  {_rel(sec['path'])}  [dim]encrypted to {sec['fingerprint']}[/]"
            )
            console.print(f"               decrypt: [cyan]gpg --decrypt {_rel(sec['path'])}[/]")
        console.print()
    console.print(
        "Each person decrypts their file with their own key, signs in at the URL and must set a new "
        "password, then enrols MFA: [cyan]iamlayer mfa enable[/]."
    )
    return EXIT_OK


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--secret-key",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Your secret key file (armored or binary). Default: your gpg keyring and agent.",
)
def decrypt(file: Path, secret_key: Path | None) -> None:
    """Decrypt a secret iamlayer encrypted to you (the same as `gpg --decrypt FILE`)."""
    passphrase = None
    try:
        text = decrypt_file(file, secret_key)
    except IamlayerError as exc:
        if secret_key is None or "passphrase" not in str(exc).lower():
            raise
        passphrase = click.prompt("Passphrase of the secret key", hide_input=True, err=True)
        text = decrypt_file(file, secret_key, passphrase=passphrase)
    sys.stdout.write(text + ("\n" if sys.stdout.isatty() else ""))


@click.group()
def password() -> None:
    """Console passwords."""


@password.command("reset")
@click.argument("user")
@spec_option
@profile_option
@click.option("--no-reset-required", is_flag=True, help="Do not make the person choose a new password.")
@json_option
def password_reset(
    user: str, spec_file: Path, profile: str | None, no_reset_required: bool, as_json: bool
) -> int:
    """Issue USER a new console password, encrypted to their current key.

    The person must set a new password at the next sign-in (unless --no-reset-required). Use it
    when someone lost their password, or after their PGP key changed.
    """
    spec, key_file, ctx = _owned_user_with_key(spec_file, user, profile)
    has_profile = has_login_profile(ctx.iam, user, f"user {user} {ctx.where()}")
    for p in ctx.outbox.pending_passwords():
        if (p.account, p.user) == (ctx.account, user):
            ctx.outbox.resolve_pending(p, live=False)  # superseded by the password issued now
    key = load_public_key(key_file)
    policy = password_policy_from(password_policy_json(spec.people.password_policy))
    path = issue_password(ctx, user, key, policy, reset_required=not no_reset_required, replace=has_profile)
    result = {
        "user": user,
        "file": str(path),
        "fingerprint": key.fingerprint,
        "decrypt": f"gpg --decrypt {path}",
        "signin_url": signin_url(spec),
        "reset_required": not no_reset_required,
    }
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        console.print(
            f"New password for {user} encrypted to {key.label}:\n  {path}\n"
            f"They decrypt it with: [cyan]gpg --decrypt {path}[/] and sign in at {signin_url(spec)}"
        )
    return EXIT_OK


@click.group("access-key")
def access_key() -> None:
    """Access keys of (machine) users."""


@access_key.command("rotate")
@click.argument("user")
@spec_option
@profile_option
@click.option(
    "--deactivate-old", is_flag=True, help="Deactivate the user's older key(s) after the new one is made."
)
@click.option("--delete-old", is_flag=True, help="Delete the user's older key(s) after the new one is made.")
@json_option
def access_key_rotate(
    user: str, spec_file: Path, profile: str | None, deactivate_old: bool, delete_old: bool, as_json: bool
) -> int:
    """Give USER a new access key, encrypted to their key; retire the old one only when asked.

    AWS allows two keys per user. Without options the old key keeps working, so the secret can be
    swapped where it is used before `--deactivate-old` or `--delete-old`. When the user already has
    two keys, `--delete-old` deletes the older one first to make room.
    """
    if deactivate_old and delete_old:
        raise click.UsageError("choose one of --deactivate-old and --delete-old")
    _, key_file, ctx = _owned_user_with_key(spec_file, user, profile)
    with aws_call(f"listing access keys of user {user} {ctx.where()}"):
        keys = sorted(
            read_all(ctx.iam, "list_access_keys", UserName=user).get("AccessKeyMetadata", []),
            key=lambda k: str(k["CreateDate"]),
        )
    old = [k["AccessKeyId"] for k in keys]
    if len(old) >= 2:
        if not delete_old:
            raise IamlayerError(
                f"user {user} already has two access keys ({', '.join(old)}), the most AWS allows. Run with "
                "--delete-old to delete the older one first, or delete one yourself."
            )
        retire_access_key(ctx, user, old[0])
        old = old[1:]
    key_id, path = issue_access_key(ctx, user, load_public_key(key_file))
    for k in old:
        if delete_old:
            retire_access_key(ctx, user, k)
        elif deactivate_old:
            with aws_call(f"deactivating access key {k} of user {user} {ctx.where()}"):
                ctx.iam.update_access_key(UserName=user, AccessKeyId=k, Status="Inactive")
    result = {
        "user": user,
        "access_key_id": key_id,
        "file": str(path),
        "decrypt": f"gpg --decrypt {path}",
        "old_keys": old,
        "old_keys_action": "deleted" if delete_old else "deactivated" if deactivate_old else "kept",
    }
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        console.print(f"New access key {key_id} for {user}, secret encrypted in {path}")
        if old:
            err_console.print(f"Older key(s) {', '.join(old)}: {result['old_keys_action']}.")
    return EXIT_OK


def commands() -> list[click.Command]:
    return [outputs, decrypt, password, access_key]

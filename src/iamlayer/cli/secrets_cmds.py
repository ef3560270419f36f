"""Onboarding secrets: outputs, decrypt, password reset, access-key rotate/retire.

Nothing here prints a secret, except `decrypt`, which is the person's own request to read the
ciphertext addressed to them (as `gpg --decrypt` does).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from iamlayer.apply.access_keys import (
    OldKeys,
    default_retirement,
    list_keys,
    retire,
    rotate,
    select_keys,
)
from iamlayer.apply.credentials import issue_password, password_policy_from
from iamlayer.apply.handlers import HandlerContext
from iamlayer.aws.accounts import connect_accounts
from iamlayer.aws.errors import aws_call
from iamlayer.aws.read import confirm_user, has_login_profile, read_all, whole_state_read
from iamlayer.aws.session import AccountClients, ApiStats
from iamlayer.cli.common import EXIT_OK, console, err_console, json_option, profile_option, spec_option
from iamlayer.errors import IamlayerError, UserAbort
from iamlayer.plan.diff import password_policy_json
from iamlayer.secrets.crypto import decrypt_file
from iamlayer.secrets.keys import load_public_key
from iamlayer.spec.load import load_spec
from iamlayer.spec.model import SelfManagement, Spec, User
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
                # People (a self-managing group) with an issued key set themselves up in one command.
                "onboard": f"iamlayer onboard --user {n}"
                if _self_managing(spec, n) and any(r.kind == "access_key" for r in mine)
                else None,
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
        if r["onboard"]:
            console.print(f"  CLI setup:   [cyan]{r['onboard']}[/]  (in this folder; profiles and MFA)")
        console.print()
    console.print(
        "People who use the CLI run [cyan]iamlayer onboard --user NAME[/] in this folder: it decrypts "
        "their access key with their own gpg, writes their AWS CLI profiles and enrols MFA (QR code)."
    )
    console.print(
        "People who use the console decrypt their password (gpg --decrypt), sign in at the URL and set "
        "a new one, assign a virtual MFA device named exactly as their user name, then sign in again "
        "with MFA; only then may they create an access key."
    )
    return EXIT_OK


def _self_managing(spec: Spec, user: str) -> bool:
    """Whether `user` is in a group that lets its members manage their own MFA."""
    return any(
        spec.groups[g].self_management is not SelfManagement.NONE
        for g in spec.users[user].groups
        if g in spec.groups
    )


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--secret-key",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Your secret key file (armored or binary). Default: your gpg keyring and agent.",
)
def decrypt(file: Path, secret_key: Path | None) -> None:
    """Decrypt a secret iamlayer encrypted to you (the same as `gpg --decrypt FILE`)."""
    text = decrypt_as_person(file, secret_key)
    sys.stdout.write(text + ("\n" if sys.stdout.isatty() else ""))


def decrypt_as_person(file: Path, secret_key: Path | None) -> str:
    """The plaintext of `file`: with the person's gpg, or `secret_key` (asking its passphrase)."""
    try:
        return decrypt_file(file, secret_key)
    except IamlayerError as exc:
        if secret_key is None or "passphrase" not in str(exc).lower():
            raise
        passphrase = click.prompt("Passphrase of the secret key", hide_input=True, err=True)
        return decrypt_file(file, secret_key, passphrase=passphrase)


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
    staged = ctx.outbox.pending_password(ctx.account, user)
    if staged is not None:
        ctx.outbox.resolve_pending(staged, live=False)  # superseded by the password issued now
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
    """Access keys: rotate (a new key, encrypted), retire (old keys, without a new one)."""


@access_key.command("rotate")
@click.argument("user")
@spec_option
@profile_option
@click.option(
    "--deactivate-old", is_flag=True, help="Deactivate the user's older key after the new one is made."
)
@click.option("--delete-old", is_flag=True, help="Delete the user's older key after the new one is made.")
@json_option
def access_key_rotate(
    user: str, spec_file: Path, profile: str | None, deactivate_old: bool, delete_old: bool, as_json: bool
) -> int:
    """Give USER a new access key, encrypted to their key; retire the old one only when asked.

    AWS allows two keys per user. Without options the old key keeps working, so the secret can be
    swapped where it is used before `access-key retire`. With --deactivate-old or --delete-old, the
    key the user had before is retired right after the new one is made. A user who already has two
    keys is refused, with both keys listed (created, last used): retire one first.
    """
    if deactivate_old and delete_old:
        raise click.UsageError("choose one of --deactivate-old and --delete-old")
    _, key_file, ctx = _owned_user_with_key(spec_file, user, profile)
    old: OldKeys = "delete" if delete_old else "deactivate" if deactivate_old else "keep"
    done = rotate(ctx, user, load_public_key(key_file), old)
    action = {"keep": "kept", "deactivate": "deactivated", "delete": "deleted"}[old]
    result = {
        "user": user,
        "access_key_id": done.access_key_id,
        "file": str(done.file),
        "decrypt": f"gpg --decrypt {done.file}",
        "old_keys": [k.id for k in done.old_keys],
        "old_keys_action": action,
        "retired": [{**k.as_json(), "action": action} for k in done.retired],
    }
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return EXIT_OK
    console.print(f"New access key {done.access_key_id} for {user}, secret encrypted in {done.file}")
    for k in done.retired:
        console.print(f"{action.capitalize()}: {k.describe()}")
    if old == "keep" and done.old_keys:
        console.print(
            f"The old key still works: once the new one is in use, retire it with "
            f"[cyan]iamlayer access-key retire {user}[/]"
        )
    return EXIT_OK


@access_key.command("retire")
@click.argument("user")
@click.argument("key_ids", nargs=-1, metavar="[KEY_ID]...")
@spec_option
@profile_option
@click.option("--deactivate", is_flag=True, help="Only deactivate the keys (they can be reactivated).")
@click.option("--yes", "--auto-approve", "yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def access_key_retire(
    user: str,
    key_ids: tuple[str, ...],
    spec_file: Path,
    profile: str | None,
    deactivate: bool,
    yes: bool,
    as_json: bool,
) -> int:
    """Delete (or --deactivate) USER's old access keys, without making a new one.

    Without KEY_IDs: every key but the newest one iamlayer issued. Each key is listed with when it
    was created and last used before anything happens; asks for "yes" unless --yes.
    """
    spec = load_spec(spec_file)
    _spec_user(spec, user)
    lock_people_account(spec)
    ctx = _people_context(spec, profile, ApiStats())
    _live_user(ctx, user, spec.project)
    keys = list_keys(ctx, user)
    targets = select_keys(user, keys, key_ids) if key_ids else default_retirement(user, keys)
    verb = "deactivate" if deactivate else "delete"
    if not targets:
        if as_json:
            sys.stdout.write(json.dumps({"user": user, "retired": [], "kept": [k.id for k in keys]}) + "\n")
        else:
            console.print(f"Nothing to retire: {user} has only {', '.join(k.id for k in keys) or 'no key'}.")
        return EXIT_OK
    if not yes:
        if not sys.stdin.isatty():
            raise UserAbort(f"Not retiring: no terminal to confirm on. Pass --yes to {verb} them.")
        err_console.print(f"About to {verb} these access keys of {user}:")
        for k in targets:
            err_console.print(f"  {k.describe()}")
        answer = click.prompt("Only 'yes' will be accepted", default="", show_default=False, err=True)
        if answer.strip() != "yes":
            raise UserAbort("Nothing was retired.")
    done = retire(ctx, user, targets, deactivate=deactivate)
    action = "deactivated" if deactivate else "deleted"
    kept = [k for k in keys if k not in done]
    if as_json:
        out = {
            "user": user,
            "retired": [{**k.as_json(), "action": action} for k in done],
            "kept": [k.id for k in kept],
        }
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return EXIT_OK
    for k in done:
        console.print(f"{action.capitalize()}: {k.describe()}")
    if kept:
        console.print(f"Kept: {', '.join(k.id for k in kept)}")
    return EXIT_OK


def commands() -> list[click.Command]:
    return [outputs, decrypt, password, access_key]

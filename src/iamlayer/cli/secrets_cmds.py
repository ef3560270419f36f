"""Onboarding secrets: outputs, decrypt, password reset, access-key rotate/retire.

Nothing here prints a secret, except `decrypt`, which is the person's own request to read the
ciphertext addressed to them (as `gpg --decrypt` does).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from iamlayer import api
from iamlayer.cli.common import (
    EXIT_OK,
    console,
    err_console,
    json_option,
    lock_timeout_option,
    profile_option,
    spec_option,
)
from iamlayer.errors import IamlayerError, UserAbort
from iamlayer.spec.load import load_spec
from iamlayer.spec.model import Spec

if TYPE_CHECKING:
    from iamlayer.apply.access_keys import KeyInfo, OldKeys


def _rel(path: str) -> str:
    """A path as short as it can be said from the current folder."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def _spec_user(spec: Spec, name: str) -> None:
    if name not in spec.users:
        import difflib

        close = difflib.get_close_matches(name, list(spec.users), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else f" Users: {', '.join(spec.users)}."
        raise click.BadParameter(f"no user {name!r} in the spec.{hint}", param_hint="USER")


def _command() -> str:
    return click.get_current_context().command_path


@click.group(invoke_without_command=True)
@spec_option
@profile_option
@click.option("--user", "users", multiple=True, metavar="NAME", help="Only this user (repeatable).")
@json_option
@click.pass_context
def outputs(
    ctx: click.Context, spec_file: Path, profile: str | None, users: tuple[str, ...], as_json: bool
) -> int:
    """What each person receives: sign-in URL, encrypted secrets and how to decrypt them.

    Per user: account, user name, console sign-in URL, whether a password and access keys exist
    (read from AWS), each encrypted file with the key fingerprint it was encrypted to, the access
    key id, and the exact `gpg --decrypt` command. Nothing secret is shown. With a shared backend,
    outputs/ is first brought up to date from it; `iamlayer outputs sync` does only that.
    """
    if ctx.invoked_subcommand:
        return EXIT_OK
    spec = load_spec(spec_file)
    for n in users:
        _spec_user(spec, n)
    out = api.outputs(spec, credentials=profile, users=users)
    rows = [person.as_json() for person in out.people]
    stats, account_id = out.stats, spec.people.id
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


@outputs.command("sync")
@spec_option
@profile_option
def outputs_sync(spec_file: Path, profile: str | None) -> int:
    """Bring outputs/ and the shared backend's copy of the ciphertexts together.

    Fetches the ciphertexts another operator issued (new or changed in the backend), removes those
    deleted there, and copies there what only this folder has. Run it in the layer folder a new
    person reads their ciphertext from: they need no AWS credentials for `gpg --decrypt`.
    """
    spec = load_spec(spec_file, check_keys=False)
    done = api.outputs_sync(spec, credentials=profile)
    for what, names in (
        ("fetched", done.fetched),
        ("removed", done.removed),
        ("copied to the backend", done.pushed),
    ):
        for name in names:
            console.print(f"  {what}: {name}")
    console.print(
        f"outputs/ is in sync with the backend: {len(done.fetched)} fetched, {len(done.removed)} removed, "
        f"{len(done.pushed)} copied to the backend."
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
    text = decrypt_as_person(file, secret_key)
    sys.stdout.write(text + ("\n" if sys.stdout.isatty() else ""))


def decrypt_as_person(file: Path, secret_key: Path | None) -> str:
    """The plaintext of `file`: with the person's gpg, or `secret_key` (asking its passphrase)."""
    from iamlayer.secrets.crypto import decrypt_file

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
@lock_timeout_option
@json_option
def password_reset(
    user: str,
    spec_file: Path,
    profile: str | None,
    no_reset_required: bool,
    lock_timeout: float,
    as_json: bool,
) -> int:
    """Issue USER a new console password, encrypted to their current key.

    The person must set a new password at the next sign-in (unless --no-reset-required). Use it
    when someone lost their password, or after their PGP key changed.
    """
    spec = load_spec(spec_file)
    _spec_user(spec, user)
    issued = api.reset_password(
        spec,
        user,
        credentials=profile,
        reset_required=not no_reset_required,
        command=_command(),
        lock_timeout=lock_timeout,
    )
    path = issued.file
    result = {
        "user": user,
        "file": str(path),
        "fingerprint": issued.fingerprint,
        "decrypt": f"gpg --decrypt {path}",
        "signin_url": issued.signin_url,
        "reset_required": issued.reset_required,
    }
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        console.print(
            f"New password for {user} encrypted to {issued.key_label}:\n  {path}\n"
            f"They decrypt it with: [cyan]gpg --decrypt {path}[/] and sign in at {issued.signin_url}"
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
@lock_timeout_option
@json_option
def access_key_rotate(
    user: str,
    spec_file: Path,
    profile: str | None,
    deactivate_old: bool,
    delete_old: bool,
    lock_timeout: float,
    as_json: bool,
) -> int:
    """Give USER a new access key, encrypted to their key; retire the old one only when asked.

    AWS allows two keys per user. Without options the old key keeps working, so the secret can be
    swapped where it is used before `access-key retire`. With --deactivate-old or --delete-old, the
    key the user had before is retired right after the new one is made. A user who already has two
    keys is refused, with both keys listed (created, last used): retire one first.
    """
    if deactivate_old and delete_old:
        raise click.UsageError("choose one of --deactivate-old and --delete-old")
    spec = load_spec(spec_file)
    _spec_user(spec, user)
    old: OldKeys = "delete" if delete_old else "deactivate" if deactivate_old else "keep"
    done = api.rotate_access_key(
        spec, user, credentials=profile, old=old, command=_command(), lock_timeout=lock_timeout
    )
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
@lock_timeout_option
@json_option
def access_key_retire(
    user: str,
    key_ids: tuple[str, ...],
    spec_file: Path,
    profile: str | None,
    deactivate: bool,
    yes: bool,
    lock_timeout: float,
    as_json: bool,
) -> int:
    """Delete (or --deactivate) USER's old access keys, without making a new one.

    Without KEY_IDs: every key but the newest one iamlayer issued. Each key is listed with when it
    was created and last used before anything happens; asks for "yes" unless --yes.
    """
    spec = load_spec(spec_file)
    _spec_user(spec, user)
    verb = "deactivate" if deactivate else "delete"

    def confirm(targets: list[KeyInfo]) -> None:
        if yes:
            return
        if not sys.stdin.isatty():
            raise UserAbort(f"Not retiring: no terminal to confirm on. Pass --yes to {verb} them.")
        err_console.print(f"About to {verb} these access keys of {user}:")
        for k in targets:
            err_console.print(f"  {k.describe()}")
        answer = click.prompt("Only 'yes' will be accepted", default="", show_default=False, err=True)
        if answer.strip() != "yes":
            raise UserAbort("Nothing was retired.")

    done = api.retire_access_keys(
        spec,
        user,
        key_ids,
        credentials=profile,
        deactivate=deactivate,
        confirm=confirm,
        command=_command(),
        lock_timeout=lock_timeout,
    )
    if not done.retired:
        if as_json:
            sys.stdout.write(
                json.dumps({"user": user, "retired": [], "kept": [k.id for k in done.kept]}) + "\n"
            )
        else:
            console.print(
                f"Nothing to retire: {user} has only {', '.join(k.id for k in done.kept) or 'no key'}."
            )
        return EXIT_OK
    action = "deactivated" if deactivate else "deleted"
    if as_json:
        out = {
            "user": user,
            "retired": [{**k.as_json(), "action": action} for k in done.retired],
            "kept": [k.id for k in done.kept],
        }
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return EXIT_OK
    for k in done.retired:
        console.print(f"{action.capitalize()}: {k.describe()}")
    if done.kept:
        console.print(f"Kept: {', '.join(k.id for k in done.kept)}")
    return EXIT_OK


def commands() -> list[click.Command]:
    return [outputs, decrypt, password, access_key]

"""The people's commands: onboard, credentials configure, mfa enable/logout, exec, credential-process, whoami.

Register with `commands()`. Prompts (MFA codes, secret keys) go to the terminal itself (/dev/tty),
else stderr, never stdout: `credential-process` prints the credential JSON there, which is its
protocol, and the AWS CLI captures that command's stdout and stderr, so a prompt on either would
never be seen.
"""

from __future__ import annotations

import getpass
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from iamlayer.aws.people import InvalidMfaCodeError, make_client_factory
from iamlayer.cli.common import console, err_console, json_option, person_profile_option, spec_option
from iamlayer.errors import CredentialsError, IamlayerError
from iamlayer.profiles.configure import ConfigureResult, configure, known_access_key
from iamlayer.profiles.credentials import Credentials
from iamlayer.profiles.mfa import enrol, is_code
from iamlayer.profiles.render import RoleProfile
from iamlayer.profiles.secret_store import STORE_KEY, SecretStore, StoreCache, choose_store, store_from_label
from iamlayer.profiles.session import (
    MAX_CODE_TRIES,
    AwsFiles,
    CodeProvider,
    SessionBroker,
    SessionCache,
    child_env,
    credential_process_output,
    locate_files,
    read_config_profiles,
)
from iamlayer.profiles.sso import write_sso_profiles
from iamlayer.spec.model import CliMode, Spec

aws_dir_option = click.option(
    "--aws-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder of the config/credentials files (default: AWS_CONFIG_FILE's folder, or ~/.aws/<project>).",
)
mfa_code_option = click.option(
    "--mfa-code",
    envvar="IAMLAYER_MFA_CODE",
    default=None,
    help="A TOTP code, for scripts and CI (default: IAMLAYER_MFA_CODE, else asked on the terminal).",
)


def _ask(prompt: str, *, hide: bool = False) -> str:
    """Ask on the terminal itself (/dev/tty), else on stdin with the prompt on stderr.

    The terminal first, even when stdin is one: the aws CLI runs `credential-process` with the
    person's terminal as stdin but captures its stdout and stderr, so a prompt written there is
    never seen and the command seems to hang.
    """
    if hide:
        try:
            # getpass opens /dev/tty itself (echo off), and falls back to stdin without one.
            with open("/dev/tty", "rb"):
                return getpass.getpass(prompt + ": ").strip()
        except OSError:
            pass
    else:
        try:
            fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
        except OSError:
            fd = -1
        if fd >= 0:
            # A text "r+" open() of a terminal fails (not seekable); a FileIO "w+" reads and writes.
            with io.TextIOWrapper(io.FileIO(fd, "w+"), encoding="utf-8") as tty:
                tty.write(prompt + ": ")
                tty.flush()
                return tty.readline().strip()
    if sys.stdin.isatty():  # a terminal without /dev/tty (Windows)
        return str(click.prompt(prompt, hide_input=hide, err=True)).strip()
    sys.stderr.write(prompt + ": ")
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise CredentialsError(f"{prompt}: no terminal to ask on; pass --mfa-code or set IAMLAYER_MFA_CODE")
    return line.strip()


def _ask_code(prompt: str) -> str:
    for _ in range(5):
        code = _ask(prompt)
        if is_code(code):
            return code
        err_console.print("An MFA code is 6 digits.")
    raise CredentialsError("no valid 6-digit MFA code was entered")


def code_provider(fixed: str | None) -> CodeProvider:
    """MFA codes from --mfa-code/IAMLAYER_MFA_CODE (one try) or the terminal (up to 3 tries)."""

    def provide(serial: str, attempt: int, why: str | None) -> str:
        if fixed:
            if attempt > 1:
                raise InvalidMfaCodeError(
                    f"{why}; a code given with --mfa-code or IAMLAYER_MFA_CODE is not retried",
                    code="AccessDenied",
                )
            return fixed.strip()
        if why:
            err_console.print(f"[yellow]{escape(why)}[/]. Try {attempt} of {MAX_CODE_TRIES}.", soft_wrap=True)
        return _ask_code(f"MFA code for {serial}")

    return provide


def _role_json(r: RoleProfile, **extra: Any) -> dict[str, Any]:
    out = {
        "profile": r.profile,
        "account": r.account,
        "account_id": r.account_id,
        "role": r.role,
        "role_arn": r.role_arn,
        "mfa": r.mfa_required,
    }
    return {**out, **extra}


def _configure_json(res: ConfigureResult, exports: list[str]) -> dict[str, Any]:
    return {
        "user": res.rendered.user,
        "account": res.account,
        "arn": res.arn,
        "source_profile": res.rendered.source_profile,
        "mfa_serial": res.mfa_serial,
        "profiles": [_role_json(r) for r in res.rendered.roles],
        "files": {
            kind: {
                "path": str(ch.path),
                "changed": ch.changed,
                "backup": str(ch.backup) if ch.backup else None,
                "added": list(ch.added),
                "updated": list(ch.updated),
                "removed": list(ch.removed),
            }
            for kind, ch in (("config", res.config), ("credentials", res.credentials))
        },
        "exports": exports,
        "warnings": list(res.warnings),
    }


def _ask_serial_on_tty() -> Callable[[list[str]], str] | None:
    def ask_serial(serials: list[str]) -> str:
        for i, s in enumerate(serials, 1):
            err_console.print(f"  {i}. {s}")
        choice = click.prompt("Which MFA device", type=click.IntRange(1, len(serials)), err=True)
        return serials[int(choice) - 1]

    return ask_serial if sys.stdin.isatty() else None


own_user_option = click.option("--user", required=True, help="Your IAM user name in the spec.")
cli_option = click.option(
    "--cli",
    "cli",
    type=click.Choice([m.value for m in CliMode]),
    default=None,
    help="How you reach the AWS CLI: login (`aws login`, no access key), key (your access key in the "
    "OS keyring, or encrypted with gpg) or sso. Default: the spec's `cli:` for you, else key.",
)
plaintext_option = click.option(
    "--plaintext",
    is_flag=True,
    help="With key: keep the access key in the 0600 credentials file, and MFA sessions in a 0600 "
    "cache, as before (not recommended).",
)


def _mode(spec: Spec, user: str, cli: str | None) -> CliMode:
    if cli:
        return CliMode(cli)
    return spec.cli_of(user) if user in spec.users else CliMode.KEY


def _store(spec: Spec, user: str, files: AwsFiles, plaintext: bool) -> SecretStore | None:
    """The OS keyring, else gpg to the person's own key (their `pgp_key`); None with --plaintext."""
    from iamlayer.profiles.render import assumable_roles

    assumable_roles(spec, user)  # a user not in the spec: did-you-mean, before anything else
    if plaintext:
        return None
    fingerprint = None
    u = spec.users[user]
    if u.pgp_key is not None and u.pgp_key.is_file():
        from iamlayer.secrets.keys import load_public_key

        fingerprint = load_public_key(u.pgp_key).fingerprint
    return choose_store(files.config, fingerprint)


def _credential_process_command(files: AwsFiles) -> str:
    """The command line, up to the profile name, that profiles run as `credential_process`."""
    exe = shutil.which("iamlayer")
    argv = [exe] if exe else [sys.executable, "-m", "iamlayer"]
    return shlex.join([*argv, "credential-process", "--aws-dir", str(files.config.parent)])


mfa_serial_option = click.option(
    "--mfa-serial", default=None, help="Which of your MFA devices the profiles use (when you have several)."
)


@click.group("credentials")
def credentials_group() -> None:
    """A person's own AWS credentials and profiles."""


@credentials_group.command("configure")
@spec_option
@own_user_option
@click.option(
    "--credentials-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="accessKeys.csv as downloaded from the AWS console.",
)
@mfa_serial_option
@click.option(
    "--sso",
    is_flag=True,
    help="IAM Identity Center instead: --user is your Identity Center user; writes an sso-session and "
    "one profile per account and permission set you reach (no key needed).",
)
@click.option(
    "--start-url", default=None, help="With --sso: the AWS access portal URL (default: the spec's)."
)
@cli_option
@plaintext_option
@aws_dir_option
@json_option
def configure_cmd(
    spec_file: Path,
    user: str,
    credentials_file: Path | None,
    mfa_serial: str | None,
    sso: bool,
    start_url: str | None,
    cli: str | None,
    plaintext: bool,
    aws_dir: Path | None,
    as_json: bool,
) -> None:
    """Write ~/.aws/<project>/credentials and config: one profile per role you may assume.

    The access key comes from --credentials-file, else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
    else a prompt (the secret is not echoed). It is checked to be yours before anything is
    written. Only sections marked "# managed by iamlayer (<project>)" are changed; the previous
    file is kept as .bak. Rerunning changes nothing.

    The key is kept in the OS keyring (else encrypted with gpg to your pgp_key) and reached through
    `credential_process`; --plaintext writes it into the credentials file instead.

    With --sso (--cli sso): the config file only, sections marked "# managed by iamlayer (<project>
    sso)". With --cli login: profiles for `aws login`, no key.
    """
    from iamlayer.spec.load import load_spec
    from iamlayer.state.outputs import people_spec

    spec = people_spec(load_spec(spec_file, check_keys=False))  # an organization's, as last applied
    files = AwsFiles.for_project(spec.project, aws_dir)
    mode = CliMode.SSO if sso else _mode(spec, user, cli)
    if _wrote_keyless(spec, user, files, mode, mfa_serial, start_url, as_json):
        return
    store = _store(spec, user, files, plaintext)
    key = known_access_key(spec, files, credentials_file) or Credentials(
        _ask("Access key ID"), _ask("Secret access key", hide=True)
    )

    res = configure(
        spec,
        user,
        key,
        files,
        factory=make_client_factory(),
        mfa_serial=mfa_serial,
        ask_serial=_ask_serial_on_tty(),
        store=store,
        command=_credential_process_command(files),
    )
    exports = [
        f"export AWS_CONFIG_FILE={files.config}",
        f"export AWS_SHARED_CREDENTIALS_FILE={files.credentials}",
    ]
    for w in res.warnings:
        err_console.print(f"[yellow]Warning:[/] {escape(w)}", soft_wrap=True)
    if as_json:
        click.echo(json.dumps(_configure_json(res, exports), indent=2))
        return
    console.print(f"Access key checked: {res.arn}")
    if store is not None:
        console.print(f"Access key kept in {_where(store)}")
    for ch in (res.config, res.credentials):
        state = (
            f"updated (previous kept in {ch.backup})"
            if ch.backup
            else "written"
            if ch.changed
            else "unchanged"
        )
        console.print(f"{ch.path}: {state}")
    for r in res.rendered.roles:
        mfa = "  (MFA)" if r.mfa_required else ""
        console.print(f"  [bold]{r.profile}[/]  {r.role} in {r.account} ({r.account_id}){mfa}")
    console.print("To use these profiles, run:")
    for line in exports:
        click.echo(line)


def _wrote_keyless(
    spec: Spec,
    user: str,
    files: AwsFiles,
    mode: CliMode,
    mfa_serial: str | None,
    start_url: str | None,
    as_json: bool,
) -> bool:
    """Write the profiles of `sso` or `login`, which need no key; False for `key`."""
    if mode is CliMode.SSO:
        _configure_sso(spec, user, files.config, start_url, as_json)
    elif mode is CliMode.LOGIN:
        _configure_login(spec, user, files, mfa_serial, as_json)
    return mode is not CliMode.KEY


def _where(store: SecretStore) -> str:
    fingerprint = store.label.partition(" ")[2]
    return "the OS keyring" if not fingerprint else f"files encrypted with gpg to your key {fingerprint}"


def _configure_login(spec: Spec, user: str, files: AwsFiles, mfa_serial: str | None, as_json: bool) -> None:
    from iamlayer.profiles.login import write_login_profiles
    from iamlayer.profiles.modes import TWIN_SUFFIX

    done = write_login_profiles(spec, user, files, mfa_serial=mfa_serial)
    source = done.rendered.source_profile
    export = f"export AWS_CONFIG_FILE={files.config}"
    login = f"aws login --profile {source}"
    for w in done.warnings:
        err_console.print(f"[yellow]Warning:[/] {escape(w)}", soft_wrap=True)
    if as_json:
        doc = {
            "user": user,
            "cli": CliMode.LOGIN.value,
            "login_profile": source,
            "mfa_serial": done.mfa_serial,
            "profiles": [
                _role_json(r, mfa=True, process_profile=r.profile + TWIN_SUFFIX) for r in done.rendered.roles
            ],
            "files": {
                kind: {"path": str(ch.path), "changed": ch.changed, "removed": list(ch.removed)}
                for kind, ch in (("config", done.config), ("credentials", done.credentials))
            },
            "exports": [export],
            "next": [login],
            "warnings": list(done.warnings),
        }
        click.echo(json.dumps(doc, indent=2))
        return
    console.print(f"{files.config}: {'written' if done.config.changed else 'unchanged'}")
    for r in done.rendered.roles:
        console.print(
            f"  [bold]{r.profile}[/]  {r.role} in {r.account} ({r.account_id}), asks for an MFA code; "
            f"{r.profile}{TWIN_SUFFIX} for Terraform and other SDKs"
        )
    console.print("Sign in to the console with MFA, then, with AWS CLI 2.32 or later, run:")
    click.echo(export)
    click.echo(login)


def _configure_sso(spec: Spec, user: str, config: Path, start_url: str | None, as_json: bool) -> None:
    rendered, change = write_sso_profiles(spec, user, config, start_url=start_url)
    export = f"export AWS_CONFIG_FILE={config}"
    warnings = [f"{config}: took over hand-written section [{s}]" for s in change.adopted]
    for w in warnings:
        err_console.print(f"[yellow]Warning:[/] {w}", soft_wrap=True)
    if as_json:
        doc = {
            "user": user,
            "sso_session": rendered.session,
            "start_url": rendered.start_url,
            "profiles": [
                {
                    "profile": p.profile,
                    "account": p.account,
                    "account_id": p.account_id,
                    "permission_set": p.permission_set,
                }
                for p in rendered.profiles
            ],
            "files": {
                "config": {
                    "path": str(config),
                    "changed": change.changed,
                    "backup": str(change.backup) if change.backup else None,
                    "added": list(change.added),
                    "updated": list(change.updated),
                    "removed": list(change.removed),
                }
            },
            "exports": [export],
            "warnings": warnings,
        }
        click.echo(json.dumps(doc, indent=2))
        return
    state = (
        f"updated (previous kept in {change.backup})"
        if change.backup
        else "written"
        if change.changed
        else "unchanged"
    )
    console.print(f"{config}: {state}")
    for p in rendered.profiles:
        console.print(f"  [bold]{p.profile}[/]  {p.permission_set} in {p.account} ({p.account_id})")
    if not rendered.profiles:
        console.print(f"  (no assignment reaches {user} yet)")
    console.print("To use these profiles, run:")
    click.echo(export)
    click.echo(f"aws sso login --sso-session {rendered.session}")


@click.group("mfa")
def mfa_group() -> None:
    """Your MFA device and MFA session."""


def _qr_show(show_secret: bool) -> Callable[[str, Path | None, str], None]:
    """Show the QR code on stderr (and the otpauth URI, which holds the seed, only if asked)."""

    def show(qr: str, png: Path | None, uri: str) -> None:
        err_console.print("Scan this QR code with your authenticator app:")
        sys.stderr.write(qr)
        sys.stderr.flush()
        if png is not None:
            err_console.print(
                f"(also saved as {png}, mode 0600: it holds the device's secret; delete it once scanned)",
                soft_wrap=True,
            )
        if show_secret:
            err_console.print(f"otpauth URI (contains the seed): {uri}", soft_wrap=True)

    return show


def _codes_mismatch(why: str) -> None:
    err_console.print(f"[yellow]{escape(why)}[/]", soft_wrap=True)


def _read_two_codes() -> tuple[str, str]:
    first = _ask_code("First MFA code")
    second = _ask_code("Next MFA code (wait for it to change)")
    if first == second:
        raise CredentialsError("the two codes must be consecutive, not the same one twice")
    return first, second


png_option = click.option(
    "--png",
    "png",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also save the QR code as a PNG at FILE (mode 0600). It holds the device's secret: by "
    "default the QR code is only shown in the terminal and nothing is written.",
)
show_secret_option = click.option(
    "--show-secret", is_flag=True, help="Also print the otpauth:// URI, which contains the seed."
)


@mfa_group.command("enable")
@person_profile_option
@click.option(
    "--name",
    default=None,
    help="Name of the virtual MFA device: your user name (the default, and the only name the "
    "self-management policy lets you create and delete).",
)
@png_option
@show_secret_option
@json_option
def mfa_enable_cmd(
    profile: str | None, name: str | None, png: Path | None, show_secret: bool, as_json: bool
) -> None:
    """Create a virtual MFA device for yourself, show its QR code, enable it with two codes.

    The QR code is shown in the terminal only; nothing holding the device's secret is written
    unless you pass --png FILE. The two codes are checked against the device before AWS sees them.
    """
    res = enrol(
        make_client_factory(profile),
        name=name,
        png=png.expanduser() if png is not None else None,
        show=_qr_show(show_secret),
        read_codes=_read_two_codes,
        mismatch=_codes_mismatch,
    )
    if as_json:
        out: dict[str, Any] = {
            "user": res.user,
            "account": res.account,
            "serial": res.serial,
            "png": str(res.png) if res.png else None,
        }
        if show_secret:
            out["otpauth_uri"] = res.uri
        click.echo(json.dumps(out, indent=2))
        return
    console.print(f"MFA device {res.serial} enabled for {res.user}.")
    console.print(
        f"Now run `iamlayer credentials configure --user {res.user}` again so your profiles use it."
    )


@mfa_group.command("logout")
@aws_dir_option
@click.option(
    "--profile", "profile", default=None, help="A profile name, to find ~/.aws/<project> from its prefix."
)
def mfa_logout_cmd(aws_dir: Path | None, profile: str | None) -> None:
    """Forget every cached MFA session and role credential."""
    files = locate_files(aws_dir, profile)
    n = SessionCache(files.cache_dir).clear()
    console.print(f"Removed {n} cached session file(s) from {files.cache_dir}.")
    labels = {p[STORE_KEY] for p in read_config_profiles(files.config).values() if p.get(STORE_KEY)}
    for label in sorted(labels):
        store = store_from_label(files.config, label)
        console.print(f"Removed {StoreCache(store).clear()} cached session(s) from {_where(store)}.")


def _broker(aws_dir: Path | None, profile: str, mfa_code: str | None) -> SessionBroker:
    return SessionBroker(
        locate_files(aws_dir, profile), factory=make_client_factory(), code_provider=code_provider(mfa_code)
    )


@click.command("exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@aws_dir_option
@mfa_code_option
@click.argument("profile")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_cmd(aws_dir: Path | None, mfa_code: str | None, profile: str, command: tuple[str, ...]) -> int:
    """Run COMMAND with PROFILE's credentials: iamlayer exec acme-apps-prd-devops -- terraform plan.

    Asks for an MFA code once per session; later runs, for any role, reuse the session.
    """
    # Options stop at PROFILE (so COMMAND's own options pass through), which leaves a "--" in.
    argv = list(command[1:] if command[:1] == ("--",) else command)
    if not argv:
        raise click.UsageError("no COMMAND given: iamlayer exec PROFILE -- COMMAND [ARGS]...")
    p, creds = _broker(aws_dir, profile, mfa_code).credentials(profile)
    env = child_env(creds, p.region, profile=p.name)
    try:
        return subprocess.call(argv, env=env)
    except FileNotFoundError as exc:
        raise IamlayerError(f"command not found: {argv[0]}") from exc


@click.command("credential-process")
@aws_dir_option
@mfa_code_option
@click.argument("profile")
def credential_process_cmd(aws_dir: Path | None, mfa_code: str | None, profile: str) -> None:
    """Print PROFILE's credentials as credential_process JSON (for `credential_process = ...`)."""
    _, creds = _broker(aws_dir, profile, mfa_code).credentials(profile)
    click.echo(credential_process_output(creds))


@click.command("whoami")
@person_profile_option
@aws_dir_option
@json_option
def whoami_cmd(profile: str | None, aws_dir: Path | None, as_json: bool) -> None:
    """Which user or role, in which account, your credentials are; MFA session and expiry.

    Without --profile (or AWS_PROFILE, IAMLAYER_PROFILE) it shows your own profile, the one with
    your access key that `iamlayer onboard` or `credentials configure` wrote (in AWS_CONFIG_FILE's
    files, else in ~/.aws/<project>/), even when AWS_ACCESS_KEY_ID is set too (as in the sandbox's
    shell); with no such profile, the standard credential chain's identity.
    """
    from iamlayer.profiles.whoami import whoami

    info = whoami(profile, aws_dir, notice=lambda text: err_console.print(text, soft_wrap=True)).as_json()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    mfa = {True: f"active until {info['mfa_session_expires']}", False: "none", None: "unknown"}[
        info["mfa_session"]
    ]
    console.print(f"{info['type']} {info['name']} in account {info['account']}")
    console.print(f"  arn:         {info['arn']}")
    console.print(
        f"  credentials: {info['credentials']}" + (f", expire {info['expires']}" if info["expires"] else "")
    )
    console.print(f"  MFA session: {mfa}")


@click.command("onboard")
@spec_option
@own_user_option
@click.option(
    "--secret-key",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Your secret key file (armored or binary). Default: your gpg keyring and agent.",
)
@mfa_serial_option
@png_option
@show_secret_option
@cli_option
@plaintext_option
@aws_dir_option
@json_option
def onboard_cmd(
    spec_file: Path,
    user: str,
    secret_key: Path | None,
    mfa_serial: str | None,
    png: Path | None,
    show_secret: bool,
    cli: str | None,
    plaintext: bool,
    aws_dir: Path | None,
    as_json: bool,
) -> None:
    """Set yourself up from the access key the operator encrypted to you: profiles and MFA.

    Run it in the layer folder (the spec and its outputs/). It decrypts your newest access key
    with your gpg (or --secret-key), checks it is yours, writes ~/.aws/<project>/{credentials,
    config}, enrols a virtual MFA device (QR code, two codes) unless you have one, and adds
    mfa_serial to your role profiles. Rerunning changes nothing. It ends with the export line
    and the command to try.

    The key is kept in the OS keyring (else encrypted with gpg to your pgp_key), never in a
    plaintext file, unless --plaintext. With --cli login or sso (or the spec's `cli:` for you) it
    writes those profiles instead, as `credentials configure` does.
    """
    from iamlayer.cli.secrets_cmds import decrypt_as_person
    from iamlayer.profiles.onboard import MfaUI, onboard
    from iamlayer.spec.load import load_spec
    from iamlayer.state.outputs import people_spec

    spec = people_spec(load_spec(spec_file, check_keys=False))  # an organization's, as last applied
    files = AwsFiles.for_project(spec.project, aws_dir)
    if _wrote_keyless(spec, user, files, _mode(spec, user, cli), mfa_serial, None, as_json):
        return
    store = _store(spec, user, files, plaintext)
    ui = MfaUI(
        show=_qr_show(show_secret),
        read_codes=_read_two_codes,
        png=png.expanduser() if png is not None else None,
        mismatch=_codes_mismatch,
    )
    done = onboard(
        spec,
        user,
        files,
        factory=make_client_factory(),
        decrypt=lambda path: decrypt_as_person(path, secret_key),
        ui=ui,
        mfa_serial=mfa_serial,
        ask_serial=_ask_serial_on_tty(),
        progress=lambda text: err_console.print(f"[dim]{escape(text)}[/]"),
        store=store,
        command=_credential_process_command(files),
    )
    res, enrolled = done.result, done.enrolment
    for w in done.warnings:
        err_console.print(f"[yellow]Warning:[/] {escape(w)}", soft_wrap=True)
    if as_json:
        out = _configure_json(res, [f"export {e}" for e in done.exports])
        out.update(
            access_key_id=done.access_key_id,
            key_file=str(done.key_file),
            decrypted=done.decrypted,
            mfa_enrolled=enrolled is not None,
            png=str(enrolled.png) if enrolled and enrolled.png else None,
            export_line=done.export_line,
            next_command=done.next_command,
            key_store=store.label if store is not None else "plaintext",
        )
        if show_secret and enrolled is not None:
            out["otpauth_uri"] = enrolled.uri
        click.echo(json.dumps(out, indent=2))
        return
    console.print(f"Access key checked: {res.arn}")
    if store is not None:
        console.print(f"Access key kept in {_where(store)}")
    for ch in (res.config, res.credentials):
        console.print(f"{ch.path}: {'written' if ch.changed else 'unchanged'}")
    if enrolled is not None:
        console.print(f"MFA device {enrolled.serial} enabled.")
    else:
        console.print(f"MFA device {res.mfa_serial}: already enabled.")
    for r in res.rendered.roles:
        mfa = "  (asks for an MFA code)" if r.mfa_required else ""
        console.print(f"  [bold]{r.profile}[/]  {r.role} in {r.account} ({r.account_id}){mfa}")
    console.print("Done. In this shell, run:")
    click.echo(done.export_line)
    click.echo(done.next_command)


def commands() -> list[click.Command]:
    """The people's commands, for the lead to register in cli/commands.py."""
    return [onboard_cmd, credentials_group, mfa_group, exec_cmd, credential_process_cmd, whoami_cmd]

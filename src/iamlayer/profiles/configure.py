"""`credentials configure`: check a person's access key, then write their AWS CLI files.

The key comes from the CSV the AWS console downloads, the environment, or a prompt (the CLI's
job). It is checked with sts:GetCallerIdentity to really be that user in the people account
before anything is written, so a wrong or admin key never lands in someone's profile.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from iamlayer.aws.people import ClientFactory, Identity, MfaDevice, caller_identity, list_mfa_devices
from iamlayer.errors import AccessDeniedError, CredentialsError
from iamlayer.profiles.credentials import Credentials
from iamlayer.profiles.inifile import FileChange, sync_file
from iamlayer.profiles.render import RenderedProfiles, profile_name, render_profiles
from iamlayer.profiles.secret_store import SecretStore
from iamlayer.profiles.session import AwsFiles, source_keys
from iamlayer.profiles.stored import render_for, sync_credentials
from iamlayer.spec.model import Spec


def read_access_key_csv(path: Path) -> Credentials:
    """The access key in the console's accessKeys.csv ("Access key ID","Secret access key").

    Tolerates a UTF-8 BOM (the console writes one), extra columns and CRLF line ends.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise CredentialsError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CredentialsError(f"{path} is not a text CSV file") from exc
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        norm = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        key, secret = norm.get("access key id", ""), norm.get("secret access key", "")
        if key and secret:
            return Credentials(key, secret)
    raise CredentialsError(
        f"{path} has no row with 'Access key ID' and 'Secret access key' columns "
        "(expected the CSV the AWS console offers when creating an access key)"
    )


def known_access_key(
    spec: Spec, files: AwsFiles, csv_file: Path | None = None, env: Mapping[str, str] | None = None
) -> Credentials | None:
    """The access key to configure, when it is known without asking: from `csv_file` (the
    console's accessKeys.csv), else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, else the key
    configured in `files` before (a rerun, after `mfa enable` or a spec change). None: ask."""
    env = os.environ if env is None else env
    if csv_file is not None:
        return read_access_key_csv(csv_file)
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    try:
        return source_keys(files, profile_name(spec.project, spec.people_account))
    except CredentialsError:
        return None


def user_name_of(arn: str) -> str | None:
    """The user name of an IAM user ARN (paths dropped), or None for any other principal."""
    resource = arn.split(":", 5)[-1]
    return resource.rsplit("/", 1)[-1] if resource.startswith("user/") else None


def choose_mfa_serial(
    devices: Sequence[MfaDevice], wanted: str | None, ask: Callable[[list[str]], str] | None
) -> str | None:
    """The MFA device for mfa_serial: `wanted` (must be the user's), the only one, or asked for."""
    serials = [d.serial for d in devices]
    if wanted:
        if serials and wanted not in serials:
            raise CredentialsError(f"MFA device {wanted} is not one of the user's: {', '.join(serials)}")
        return wanted
    if len(serials) <= 1:
        return serials[0] if serials else None
    if ask is None:
        raise CredentialsError(
            f"the user has {len(serials)} MFA devices; pick one with --mfa-serial: {', '.join(serials)}"
        )
    return ask(serials)


@dataclass(frozen=True)
class ConfigureResult:
    rendered: RenderedProfiles
    files: AwsFiles
    identity: Identity  # whose key it is (sts:GetCallerIdentity)
    mfa_serial: str | None
    config: FileChange
    credentials: FileChange
    warnings: tuple[str, ...]
    devices: tuple[MfaDevice, ...] = ()  # the user's enabled MFA devices, as `configure` found them

    @property
    def account(self) -> str:
        return self.identity.account

    @property
    def arn(self) -> str:
        return self.identity.arn


@dataclass(frozen=True)
class CheckedKey:
    """An access key checked to be the user's, and the user's enabled MFA devices."""

    identity: Identity
    devices: tuple[MfaDevice, ...]
    warnings: tuple[str, ...]


def check_key(
    spec: Spec, user: str, key: Credentials, *, factory: ClientFactory, mfa_serial: str | None = None
) -> CheckedKey:
    """Verify `key` belongs to `user` in the people account and list the user's MFA devices.

    Raises CredentialsError when the key is someone else's or another account's, AwsError when AWS
    cannot be asked. Listing devices may be denied (a group without self-management): then no
    devices are known and a warning says so, unless `mfa_serial` names the device anyway.
    """
    if user not in spec.users:
        render_profiles(spec, user, access_key_id="", secret_access_key="", mfa_serial=None)  # raises
    ident = caller_identity(factory, key, spec.region)
    people = spec.people
    if ident.account != people.id or user_name_of(ident.arn) != user:
        raise CredentialsError(
            f"the access key {key.access_key_id} is {ident.arn}, not user {user} of the people account "
            f"{people.name} ({people.id}); use the key created for {user}"
        )
    warnings: list[str] = []
    try:
        devices = list_mfa_devices(factory, key, user)
    except AccessDeniedError as exc:
        if not mfa_serial:
            warnings.append(f"cannot list MFA devices ({exc}); pass --mfa-serial to set mfa_serial")
        devices = []
    return CheckedKey(ident, tuple(devices), tuple(warnings))


def configure(
    spec: Spec,
    user: str,
    key: Credentials,
    files: AwsFiles,
    *,
    factory: ClientFactory,
    mfa_serial: str | None = None,
    ask_serial: Callable[[list[str]], str] | None = None,
    store: SecretStore | None = None,
    command: str = "iamlayer credential-process",
) -> ConfigureResult:
    """Verify `key` belongs to `user` in the people account, find the MFA device, write both files
    (the key in `store`, when given; see `write_profiles`).

    Raises CredentialsError when the key is someone else's or another account's, AwsError when AWS
    cannot be asked.
    """
    checked = check_key(spec, user, key, factory=factory, mfa_serial=mfa_serial)
    serial = choose_mfa_serial(checked.devices, mfa_serial, ask_serial)
    res = write_profiles(
        spec, user, key, files, mfa_serial=serial, identity=checked.identity, store=store, command=command
    )
    return replace(res, warnings=(*checked.warnings, *res.warnings), devices=checked.devices)


def write_profiles(
    spec: Spec,
    user: str,
    key: Credentials,
    files: AwsFiles,
    *,
    mfa_serial: str | None,
    identity: Identity,
    store: SecretStore | None = None,
    command: str = "iamlayer credential-process",
) -> ConfigureResult:
    """Write both files for a key already checked to be `user`'s (`check_key`); no AWS call.

    Without `store` the key goes into the 0600 credentials file (`--plaintext`). With one, it goes
    into the store, the profiles reach it through `credential_process = <command>
    credential-process ...`, and no plaintext copy is left behind (iamlayer.profiles.stored).
    Only sections marked as iamlayer's change; unchanged content is not rewritten.
    """
    rendered = render_for(spec, user, key, mfa_serial=mfa_serial, store=store, command=command)
    warnings = list(rendered.warnings)
    config_change = sync_file(files.config, spec.project, rendered.config)
    creds_change = sync_credentials(files, spec.project, rendered.credentials, plaintext=store is None)
    for change in (config_change, creds_change):
        warnings.extend(f"{change.path}: took over hand-written section [{s}]" for s in change.adopted)
    return ConfigureResult(
        rendered=rendered,
        files=files,
        identity=identity,
        mfa_serial=mfa_serial,
        config=config_change,
        credentials=creds_change,
        warnings=tuple(warnings),
    )

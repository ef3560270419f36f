"""`iamlayer onboard`: a person's first day in one command, with no console step.

The operator issued the person's first access key encrypted to their PGP key (`access_key: true`
in the spec; the ciphertext is outputs/<people account>/<user>/access-key-<ID>.asc in the layer
folder). In that folder, the person's one command:

1. takes the newest such key and decrypts it with their own gpg (or secret key file); when the
   credentials file already holds that very key (a rerun), nothing is decrypted;
2. checks the key is theirs (sts:GetCallerIdentity) and lists their MFA devices (`check_key`);
3. unless an MFA device is enabled, enrols a virtual one (QR code, two codes; `enrol`);
4. writes ~/.aws/<project>/{credentials,config} once, with mfa_serial in the role profiles, so
   they ask for an MFA code (`write_profiles`). Nothing is written when a step before fails.

Every AWS call here is one the self-management policy allows without MFA (see
iamlayer.plan.desired.self_management_policy); tests/e2e/test_person_path.py proves it call by
call. Rerunning changes nothing. The secret goes only into the OS keyring or a file encrypted to the
person's key (iamlayer.profiles.secret_store), or, with `--plaintext`, the 0600 credentials file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from iamlayer.aws.people import ClientFactory
from iamlayer.errors import CredentialsError
from iamlayer.profiles.configure import ConfigureResult, check_key, choose_mfa_serial, write_profiles
from iamlayer.profiles.credentials import Credentials
from iamlayer.profiles.mfa import Enrolment, enrol
from iamlayer.profiles.render import assumable_roles, profile_name
from iamlayer.profiles.secret_store import SecretStore
from iamlayer.profiles.session import AwsFiles, source_keys
from iamlayer.secrets.outbox import SecretRecord
from iamlayer.spec.model import Spec
from iamlayer.state.outputs import outbox_for


@dataclass(frozen=True)
class MfaUI:
    """How enrolment talks to the person (see iamlayer.profiles.mfa.enrol)."""

    show: Callable[[str, Path | None, str], None]
    read_codes: Callable[[], tuple[str, str]]
    png: Path | None = None  # save the QR code there too (only when the person asks)
    mismatch: Callable[[str], None] | None = None  # told of a pair of codes the seed did not make


@dataclass(frozen=True)
class Onboarding:
    """What `onboard` did."""

    result: ConfigureResult  # the files as last written, with mfa_serial when there is a device
    access_key_id: str
    key_file: Path  # the ciphertext of the access key in use
    decrypted: bool  # False: the credentials file already held this key
    enrolment: Enrolment | None  # None: an MFA device was already enabled
    warnings: tuple[str, ...]

    @property
    def exports(self) -> list[str]:
        files = self.result.files
        return [f"AWS_CONFIG_FILE={files.config}", f"AWS_SHARED_CREDENTIALS_FILE={files.credentials}"]

    @property
    def export_line(self) -> str:
        """The one line the person pastes into their shell."""
        return "export " + " ".join(self.exports)

    @property
    def next_command(self) -> str:
        roles = self.result.rendered.roles
        profile = roles[0].profile if roles else self.result.rendered.source_profile
        return f"aws sts get-caller-identity --profile {profile}"


def newest_issued_key(spec: Spec, user: str) -> SecretRecord:
    """The newest access key iamlayer issued to `user` in the people account (its ciphertext)."""
    records = [
        r
        for r in outbox_for(spec).records()
        if (r.account, r.user, r.kind) == (spec.people_account, user, "access_key") and r.access_key_id
    ]
    if not records:
        where = outbox_for(spec).user_dir(spec.people_account, user)
        raise CredentialsError(
            f"no access key was issued to {user}: {where}/access-key-*.asc does not exist. Ask the "
            f"operator to set `access_key: true` for {user} in the spec and apply (then update this "
            "folder), or use the console path: sign in, enrol MFA, sign in again with MFA, create an "
            f"access key, then `iamlayer credentials configure --user {user} --credentials-file FILE`"
        )
    return max(records, key=lambda r: (r.created_at, r.path.name))


def _as(factory: ClientFactory, key: Credentials) -> ClientFactory:
    """Clients with `key` wherever the code would use the standard chain."""
    return lambda service, creds, region: factory(service, creds or key, region)


def onboard(
    spec: Spec,
    user: str,
    files: AwsFiles,
    *,
    factory: ClientFactory,
    decrypt: Callable[[Path], str],
    ui: MfaUI,
    mfa_serial: str | None = None,
    ask_serial: Callable[[list[str]], str] | None = None,
    progress: Callable[[str], None] = lambda _: None,
    store: SecretStore | None = None,
    command: str = "iamlayer credential-process",
) -> Onboarding:
    """Set `user` up on this machine from their encrypted access key (see the module docstring).

    Raises CredentialsError (no key issued, a key that is not theirs, the device name taken) or
    AwsError. The files are written last, once: a failure before leaves them as they were (and a
    failed enrolment deletes its device), so the person simply runs the command again. With
    `store`, the key goes there instead of the credentials file (see `write_profiles`).
    """
    assumable_roles(spec, user)  # a user not in the spec is refused before anything is read
    record = newest_issued_key(spec, user)
    key_id = str(record.access_key_id)
    source = profile_name(spec.project, spec.people_account)
    try:
        configured = source_keys(files, source)
    except CredentialsError:
        configured = None
    decrypted = configured is None or configured.access_key_id != key_id
    if decrypted:
        progress(f"Decrypting your access key {key_id} ({record.path.name}) with your PGP key")
        key = Credentials(key_id, decrypt(record.path).strip())
    else:
        assert configured is not None
        key = configured
    progress(f"Checking that access key {key_id} is yours")
    checked = check_key(spec, user, key, factory=factory, mfa_serial=mfa_serial)
    serial = choose_mfa_serial(checked.devices, mfa_serial, ask_serial)
    enrolment = None
    if serial is None:
        progress("Enrolling a virtual MFA device")
        enrolment = enrol(
            _as(factory, key),
            name=None,
            png=ui.png,
            show=ui.show,
            read_codes=ui.read_codes,
            mismatch=ui.mismatch,
            identity=checked.identity,
            devices=checked.devices,
        )
        serial = enrolment.serial
    final = write_profiles(
        spec, user, key, files, mfa_serial=serial, identity=checked.identity, store=store, command=command
    )
    final = replace(final, devices=checked.devices)
    return Onboarding(final, key_id, record.path, decrypted, enrolment, (*checked.warnings, *final.warnings))

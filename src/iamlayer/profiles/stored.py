"""`cli: key` without plaintext: the access key into a SecretStore, and no copy left on disk.

Switching a person from the plaintext credentials file to a store removes the key from that file,
and with it the two places a plaintext copy would survive: the file's `.bak` (which `sync_file`
keeps of the previous content) and the plaintext MFA session cache next to it.
"""

from __future__ import annotations

from iamlayer.files import remove_durably
from iamlayer.profiles.credentials import Credentials
from iamlayer.profiles.inifile import FileChange, sync_file
from iamlayer.profiles.modes import render_store_profiles
from iamlayer.profiles.render import RenderedProfiles, Section, profile_name, render_profiles
from iamlayer.profiles.secret_store import SecretStore, get_access_key, put_access_key
from iamlayer.profiles.session import AwsFiles, SessionCache
from iamlayer.spec.model import Spec


def render_for(
    spec: Spec,
    user: str,
    key: Credentials,
    *,
    mfa_serial: str | None,
    store: SecretStore | None,
    command: str,
) -> RenderedProfiles:
    """The profiles for `key`: in the credentials file without `store`; else the key is put in
    `store` (unless it already holds it) and the profiles reach it through credential_process."""
    if store is None:
        return render_profiles(
            spec,
            user,
            access_key_id=key.access_key_id,
            secret_access_key=key.secret_access_key,
            mfa_serial=mfa_serial,
        )
    source = profile_name(spec.project, spec.people_account)
    if get_access_key(store, source) != key:
        put_access_key(store, source, key)
    return render_store_profiles(spec, user, mfa_serial=mfa_serial, store_label=store.label, command=command)


def sync_credentials(
    files: AwsFiles, project: str, sections: tuple[Section, ...], *, plaintext: bool
) -> FileChange:
    """Bring the credentials file to `sections`. Unless `plaintext`: create no file, and remove
    the `.bak` and cached sessions that may hold a plaintext secret from before."""
    if plaintext:
        return sync_file(files.credentials, project, sections)
    SessionCache(files.cache_dir).clear()
    if not files.credentials.exists():
        return FileChange(files.credentials, changed=False, backup=None)
    change = sync_file(files.credentials, project, sections)
    if change.backup is not None:
        remove_durably(change.backup)
    return FileChange(
        change.path,
        changed=change.changed,
        backup=None,
        added=change.added,
        updated=change.updated,
        removed=change.removed,
        adopted=change.adopted,
    )

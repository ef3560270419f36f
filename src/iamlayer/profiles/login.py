"""`cli: login`: write a person's `aws login` profiles, with no key and no AWS call.

The person signs in to the console with MFA, then runs `aws login --profile <project>-login`
(AWS CLI 2.32 or later); the role profiles start from that session (iamlayer.profiles.modes).
"""

from __future__ import annotations

from dataclasses import dataclass

from iamlayer.profiles.inifile import FileChange, sync_file
from iamlayer.profiles.modes import default_mfa_serial, render_login_profiles
from iamlayer.profiles.render import RenderedProfiles, assumable_roles
from iamlayer.profiles.session import AwsFiles
from iamlayer.profiles.stored import sync_credentials
from iamlayer.spec.model import Spec


@dataclass(frozen=True)
class LoginProfiles:
    """What `credentials configure --cli login` wrote."""

    rendered: RenderedProfiles
    mfa_serial: str
    config: FileChange
    credentials: FileChange

    @property
    def warnings(self) -> tuple[str, ...]:
        adopted = (
            f"{c.path}: took over hand-written section [{s}]" for c in (self.config,) for s in c.adopted
        )
        return (*self.rendered.warnings, *adopted)


def write_login_profiles(spec: Spec, user: str, files: AwsFiles, *, mfa_serial: str | None) -> LoginProfiles:
    """Write the login profile, the role profiles and their twins. `mfa_serial` defaults to the
    device named after the user (the only one the self-management policy lets people create). A
    plaintext key iamlayer wrote before for this person is removed, with its backup and sessions."""
    assumable_roles(spec, user)  # a user not in the spec is refused before anything is written
    serial = mfa_serial or default_mfa_serial(spec, user)
    rendered = render_login_profiles(spec, user, mfa_serial=serial)
    config = sync_file(files.config, spec.project, rendered.config)
    creds = sync_credentials(files, spec.project, rendered.credentials, plaintext=False)
    return LoginProfiles(rendered, serial, config, creds)

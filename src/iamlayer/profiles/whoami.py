"""Who a person's credentials are (`iamlayer whoami`): which profile, identity, MFA session, expiry.

Without a profile named, the person's own profile (the one with their access key that `iamlayer
onboard` or `credentials configure` wrote) is used, even when AWS_ACCESS_KEY_ID is set too (as
in the sandbox's shell); with no such profile, the standard credential chain's identity. Nothing
is prompted for or refreshed: cached credentials are used as they are.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iamlayer.aws.people import ClientFactory, caller_identity, make_client_factory
from iamlayer.errors import CredentialsError
from iamlayer.profiles.session import (
    AwsFiles,
    SessionBroker,
    default_person_profile,
    locate_files,
    read_config_profiles,
)


@dataclass(frozen=True)
class WhoAmI:
    profile: str | None  # None: the standard credential chain, no profile named
    account: str
    arn: str
    type: str  # "user", "assumed-role", ...
    name: str
    credentials: str  # "role", "mfa-session", "long-term key" or "standard chain"
    mfa_session: bool | None  # None: not knowable from the credentials alone
    mfa_session_expires: str | None  # ISO 8601, UTC
    expires: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "account": self.account,
            "arn": self.arn,
            "type": self.type,
            "name": self.name,
            "credentials": self.credentials,
            "mfa_session": self.mfa_session,
            "mfa_session_expires": self.mfa_session_expires,
            "expires": self.expires,
        }


def _when(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if dt else None


def _never_asked(serial: str, attempt: int, why: str | None) -> str:
    raise CredentialsError("whoami does not ask for an MFA code")  # status() never prompts


def whoami(
    profile: str | None = None,
    aws_dir: Path | None = None,
    *,
    factory_for: Callable[[str | None], ClientFactory] = make_client_factory,
    notice: Callable[[str], None] = lambda text: None,
    env: Mapping[str, str] | None = None,
) -> WhoAmI:
    """Who `profile` (else IAMLAYER_PROFILE, else the person's own profile, else the standard
    chain) is. `factory_for(profile)` makes the AWS clients; `notice` hears what a person should
    know (their own profile is shown while AWS_ACCESS_KEY_ID is also set)."""
    env = os.environ if env is None else env
    name = profile or env.get("IAMLAYER_PROFILE")
    files: AwsFiles | None = None
    if name:
        try:
            files = locate_files(aws_dir, name, env)
        except CredentialsError:
            files = None
    elif (own := default_person_profile(aws_dir, env)) is not None:
        name, files = own
        if env.get("AWS_ACCESS_KEY_ID"):
            notice(
                f"Note: showing your profile {name}; AWS_ACCESS_KEY_ID is also set in this shell, and "
                "commands given no --profile (the aws CLI too) use those keys instead."
            )
    if files is not None and name in read_config_profiles(files.config):
        broker = SessionBroker(files, factory=factory_for(None), code_provider=_never_asked)
        st = broker.status(name)
        return WhoAmI(
            profile=name,
            account=st.identity.account,
            arn=st.identity.arn,
            type=st.identity.kind,
            name=st.identity.name,
            credentials=st.using,
            mfa_session=st.mfa_session_expires is not None,
            mfa_session_expires=_when(st.mfa_session_expires),
            expires=_when(st.credentials_expire),
        )
    try:
        ident = caller_identity(factory_for(profile), None)
    except CredentialsError as exc:
        raise CredentialsError(
            f"{exc} No profile of yours was found either: pass --profile <project>-<people "
            "account> (the profile `iamlayer onboard` wrote), or export the AWS_CONFIG_FILE line it "
            "printed."
        ) from exc
    return WhoAmI(
        profile=profile,
        account=ident.account,
        arn=ident.arn,
        type=ident.kind,
        name=ident.name,
        credentials="standard chain",
        mfa_session=None,
        mfa_session_expires=None,
        expires=env.get("AWS_CREDENTIAL_EXPIRATION"),
    )

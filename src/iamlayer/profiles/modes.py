"""The profiles of `cli: key` (kept in a store) and `cli: login`, from the spec alone (pure, no I/O).

`key`, with the access key in the OS keyring or gpg (iamlayer.profiles.secret_store):

- `[profile <project>-<people account>]`: `credential_process = iamlayer credential-process ...`,
  its `mfa_serial` and `iamlayer_store` (which store holds the key);
- one `[profile <project>-<account>-<role>]` per role, also through `credential_process`: iamlayer
  makes the MFA session and assumes the role itself, keeping both in the store. The role is named
  by `iamlayer_role_arn` and `iamlayer_source_profile`: with `role_arn` the SDKs would assume the
  role themselves (and cache its credentials in plaintext), ignoring `credential_process`;
- nothing in the credentials file.

`login`, for `aws login` (AWS CLI 2.32; no access key at all):

- `[profile <project>-login]` with `login_session` = the person's IAM user ARN;
- one role profile per role with `source_profile = <project>-login` and `mfa_serial` (always, when
  the device is known: whether an `aws login` session carries the console sign-in's MFA is not
  documented, and with the code in the AssumeRole call the role works either way);
- per role profile a twin `<profile>-process` through `credential_process = aws configure
  export-credentials --profile <profile> --format process`, the bridge AWS documents for the SDKs
  that reject a `login_session` source profile (Go, PHP, and so Terraform).
"""

from __future__ import annotations

from iamlayer.profiles.render import RenderedProfiles, Section, render_profiles
from iamlayer.spec.model import Spec

#: the config keys that name the role of a `credential_process` role profile (see the docstring)
ROLE_ARN_KEY = "iamlayer_role_arn"
SOURCE_PROFILE_KEY = "iamlayer_source_profile"
TWIN_SUFFIX = "-process"


def login_profile_name(project: str) -> str:
    return f"{project}-login"


def user_arn(spec: Spec, user: str) -> str:
    u = spec.users[user]
    return f"arn:aws:iam::{spec.people.id}:user{u.path}{user}"


def default_mfa_serial(spec: Spec, user: str) -> str:
    """The virtual MFA device the self-management policy lets a person create: named after them."""
    return f"arn:aws:iam::{spec.people.id}:mfa/{user}"


def _profile(section: Section) -> str:
    return section.header.removeprefix("profile ")


def render_store_profiles(
    spec: Spec, user: str, *, mfa_serial: str | None, store_label: str, command: str
) -> RenderedProfiles:
    """The `key` profiles with the key in a store (see the module docstring).

    `command` is the command line before the profile name (`iamlayer credential-process --aws-dir
    ...`); `store_label` is the store's `iamlayer_store` value.
    """
    plain = render_profiles(spec, user, access_key_id="", secret_access_key="", mfa_serial=mfa_serial)
    config: list[Section] = []
    for section in plain.config:
        name = _profile(section)
        items = [("credential_process", f"{command} {name}")]
        for k, v in section.items:
            if k == "role_arn":
                items.append((ROLE_ARN_KEY, v))
            elif k == "source_profile":
                items.append((SOURCE_PROFILE_KEY, v))
            else:
                items.append((k, v))
        if name == plain.source_profile:
            items.insert(1, ("iamlayer_store", store_label))
        config.append(Section(section.header, tuple(items)))
    return RenderedProfiles(
        user=plain.user,
        source_profile=plain.source_profile,
        roles=plain.roles,
        config=tuple(config),
        credentials=(),
        warnings=plain.warnings,
    )


def render_login_profiles(spec: Spec, user: str, *, mfa_serial: str) -> RenderedProfiles:
    """The `login` profiles and their credential_process twins (see the module docstring)."""
    plain = render_profiles(spec, user, access_key_id="", secret_access_key="", mfa_serial=mfa_serial)
    source = login_profile_name(spec.project)
    common = (("region", spec.region), ("output", "json"))
    config = [Section(f"profile {source}", (("login_session", user_arn(spec, user)), *common))]
    for rp in plain.roles:
        items = (("role_arn", rp.role_arn), ("source_profile", source), ("mfa_serial", mfa_serial))
        config.append(Section(f"profile {rp.profile}", (*items, ("role_session_name", user), *common)))
    for rp in plain.roles:
        bridge = f"aws configure export-credentials --profile {rp.profile} --format process"
        config.append(
            Section(f"profile {rp.profile}{TWIN_SUFFIX}", (("credential_process", bridge), *common))
        )
    return RenderedProfiles(
        user=plain.user,
        source_profile=source,
        roles=plain.roles,
        config=tuple(config),
        credentials=(),
        warnings=plain.warnings,
    )

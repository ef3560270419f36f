"""What a person's AWS CLI files should say, computed from the spec alone (pure, no I/O).

For a user of the people account this renders:

- a credentials section `[<project>-<people account>]` holding the person's long-term access key;
- a config section `[profile <project>-<people account>]` for that source profile;
- one config section `[profile <project>-<account>-<role lower>]` per role the user may assume
  (user.groups -> group.assume -> role.accounts), with role_arn, source_profile, mfa_serial (only
  when the role's trust policy requires MFA, i.e. `mfa_max_age` is set), region and output.

The AWS CLI, botocore-based tools and `iamlayer exec` all read these same sections.
"""

from __future__ import annotations

from dataclasses import dataclass

from iamlayer.spec.model import Spec, User


@dataclass(frozen=True)
class Section:
    """One INI section: its header text (without brackets) and its key/value lines, in order."""

    header: str
    items: tuple[tuple[str, str], ...]

    def __repr__(self) -> str:
        # Credential sections hold a secret access key: never let it reach a log or traceback.
        return f"Section({self.header!r}, keys={[k for k, _ in self.items]!r})"


@dataclass(frozen=True)
class RoleProfile:
    """One role the user may assume in one account, and the profile that reaches it."""

    profile: str
    account: str
    account_id: str
    role: str
    role_arn: str
    mfa_required: bool


@dataclass(frozen=True)
class RenderedProfiles:
    """Everything `credentials configure` writes for one user."""

    user: str
    source_profile: str
    roles: tuple[RoleProfile, ...]
    config: tuple[Section, ...]
    credentials: tuple[Section, ...]
    warnings: tuple[str, ...] = ()


def profile_name(project: str, account: str, role: str | None = None) -> str:
    """`<project>-<account>[-<role in lower case>]`, e.g. acme-apps-prd-devops."""
    base = f"{project}-{account}"
    return f"{base}-{role.lower()}" if role else base


def role_arn(account_id: str, role_name: str, path: str = "/") -> str:
    """The ARN of a role: arn:aws:iam::<id>:role<path><name> (path starts and ends with '/')."""
    return f"arn:aws:iam::{account_id}:role{path}{role_name}"


def _user(spec: Spec, user_name: str) -> User:
    try:
        return spec.users[user_name]
    except KeyError:
        from difflib import get_close_matches

        from iamlayer.errors import CredentialsError

        close = get_close_matches(user_name, list(spec.users), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; users in the spec: {', '.join(spec.users)}"
        raise CredentialsError(f"user {user_name!r} is not in the spec {spec.path}{hint}") from None


def assumable_roles(spec: Spec, user_name: str) -> tuple[RoleProfile, ...]:
    """The roles `user_name` may assume through its groups, in spec account order, then spec role order.

    Raises CredentialsError when the user is not in the spec.
    """
    user = _user(spec, user_name)
    role_keys = {r for g in user.groups if g in spec.groups for r in spec.groups[g].assume}
    out: list[RoleProfile] = []
    for account in spec.accounts.values():
        for key, role in spec.roles.items():
            if key not in role_keys or account.name not in role.accounts:
                continue
            out.append(
                RoleProfile(
                    profile=profile_name(spec.project, account.name, role.name),
                    account=account.name,
                    account_id=account.id,
                    role=role.name,
                    role_arn=role_arn(account.id, role.name, role.path),
                    mfa_required=role.requires_mfa,
                )
            )
    return tuple(out)


def render_profiles(
    spec: Spec,
    user_name: str,
    *,
    access_key_id: str,
    secret_access_key: str,
    mfa_serial: str | None,
) -> RenderedProfiles:
    """Render the credentials and config sections for `user_name` (see the module docstring).

    `mfa_serial` is the user's MFA device; without one, roles that require MFA still get a profile
    (without mfa_serial, so assuming them fails until MFA is enabled) and a warning says so.
    """
    roles = assumable_roles(spec, user_name)
    source = profile_name(spec.project, spec.people_account)
    common = (("region", spec.region), ("output", "json"))
    source_items: list[tuple[str, str]] = []
    if mfa_serial:
        # botocore ignores mfa_serial on a profile with static keys; `iamlayer exec` and people
        # reading the file use it to know which device the long-term key is paired with.
        source_items.append(("mfa_serial", mfa_serial))
    config = [Section(f"profile {source}", (*source_items, *common))]
    warnings: list[str] = []
    for rp in roles:
        items: list[tuple[str, str]] = [("role_arn", rp.role_arn), ("source_profile", source)]
        if rp.mfa_required:
            if mfa_serial:
                items.append(("mfa_serial", mfa_serial))
            else:
                warnings.append(
                    f"{rp.profile}: role {rp.role} requires MFA but {user_name} has no MFA device; "
                    "run `iamlayer mfa enable`, then `iamlayer credentials configure` again"
                )
        # Shows up in CloudTrail as assumed-role/<role>/<user>: who did it, not just which role.
        items.append(("role_session_name", user_name))
        config.append(Section(f"profile {rp.profile}", (*items, *common)))
    credentials = (
        Section(source, (("aws_access_key_id", access_key_id), ("aws_secret_access_key", secret_access_key))),
    )
    return RenderedProfiles(
        user=user_name,
        source_profile=source,
        roles=roles,
        config=tuple(config),
        credentials=credentials,
        warnings=tuple(warnings),
    )

"""The person's side of IAM Identity Center: AWS CLI profiles that sign in through the access portal.

`iamlayer credentials configure --sso --user NAME` writes, into the same config file as the IAM
profiles, one `[sso-session <project>]` section (the portal's start URL, the instance's region)
and one `[profile <project>-<account>-<permission set>]` per account and permission set the
person reaches, directly or through their groups (sso_session, sso_account_id, sso_role_name,
region). A permission set named like one of the spec's IAM roles (in any case) is
`<project>-<account>-sso-<permission set>` instead, in every account: the IAM profiles are
`<project>-<account>-<role in lower case>`, and two profiles whose names differ only in case
(`acme-shared-devops`, `acme-shared-DevOps`) are one typo apart. An IAM role the account access
manager entitles the person to (`roles.<Role>.entitled`, directly or through a group of theirs)
is `<project>-<account>-entitled-<Role>`, its sso_role_name the IAM role's name. `aws sso login --sso-session <project>` then signs them in once for every profile, and
botocore-based tools get each role's credentials from the portal (sso:GetRoleCredentials).

The sections are marked `# managed by iamlayer (<project> sso)`: an owner of their own, so the
IAM profiles (`# managed by iamlayer (<project>)`) and these are written by separate commands
without removing each other's, and a person's own sections are never touched. Computed from the
spec alone (no AWS call, no key): people run it before they have any credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path

from iamlayer.errors import CredentialsError
from iamlayer.profiles.inifile import FileChange, sync_file
from iamlayer.profiles.render import Section, profile_name
from iamlayer.spec.model import Spec

#: what the sso-session asks the portal for: access to accounts (AWS CLI's default scope)
REGISTRATION_SCOPES = "sso:account:access"


def sso_owner(project: str) -> str:
    """The owner named in the marker of the SSO sections (see iamlayer.profiles.inifile.marker)."""
    return f"{project} sso"


#: In the profile names of a permission set named like an IAM role of the spec (any case)
SSO_MARK = "sso"


def sso_profile_name(project: str, account: str, permission_set: str, *, marked: bool = False) -> str:
    """`<project>-<account>-<permission set>`, the permission set as spelt in the spec; with
    `marked`, `<project>-<account>-sso-<permission set>`."""
    middle = f"{SSO_MARK}-" if marked else ""
    return f"{project}-{account}-{middle}{permission_set}"


#: In the profile names of an IAM role the person is entitled to (roles.<Role>.entitled)
ENTITLED_MARK = "entitled"


def entitled_roles(spec: Spec, user: str) -> list[tuple[str, str]]:
    """(account, IAM role name) the account access manager entitles Identity Center user `user`
    to, directly or through the spec's groups they are a member of (an external group's members
    are its identity provider's: not known from the spec)."""
    ic = spec.identity_center
    if ic is None:
        return []
    mine = {f"user/{user}", *(f"group/{g}" for g in ic.groups_of(user))}
    pairs = [(a, r.name) for r in spec.roles.values() if mine & set(r.entitled) for a in r.accounts]
    return list(dict.fromkeys(pairs))


@dataclass(frozen=True)
class SsoProfile:
    profile: str
    account: str
    account_id: str
    permission_set: str


@dataclass(frozen=True)
class RenderedSso:
    user: str
    session: str  # the sso-session name: the project
    start_url: str
    profiles: tuple[SsoProfile, ...]
    config: tuple[Section, ...]


def render_sso_profiles(spec: Spec, user: str, *, start_url: str | None = None) -> RenderedSso:
    """The sso-session and profile sections for Identity Center user `user` (pure).

    Raises CredentialsError when the spec has no identity_center, the user is not in it, no
    start URL is known, or a profile name would be one the IAM profiles already use.
    """
    ic = spec.identity_center
    if ic is None:
        raise CredentialsError(f"the spec {spec.path} has no identity_center: nothing to sign in to")
    if user not in ic.users:
        close = get_close_matches(user, list(ic.users), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"its users: {', '.join(ic.users) or 'none'}"
        raise CredentialsError(f"{user!r} is not an Identity Center user of the spec {spec.path}; {hint}")
    url = start_url or ic.portal_url
    if not url:
        raise CredentialsError(
            "no AWS access portal URL: set identity_center.start_url in the spec (the URL under Settings "
            "in the IAM Identity Center console, e.g. https://d-1234567890.awsapps.com/start), or "
            "identity_center.identity_store_id for the default one (`iamlayer plan` names it), or pass --start-url"
        )
    # Profile names the IAM side writes for the same project (`<project>-<account>-<role in lower
    # case>`, a contract for the people using them). A permission set named like a role, in any
    # case, gets the sso- mark in every account: `acme-shared-sso-DevOps` next to the IAM
    # `acme-shared-devops`, never two names that differ only in case. An exact clash would make
    # one section take over the other's on every run.
    iam_names = {profile_name(spec.project, a, r.name) for r in spec.roles.values() for a in r.accounts}
    iam_names.add(profile_name(spec.project, spec.people_account))
    taken = {n.lower() for n in iam_names}
    role_names = {r.name.lower() for r in spec.roles.values()}
    profiles: list[SsoProfile] = []
    for account, ps in ic.access_of(user):
        name = sso_profile_name(spec.project, account, ps, marked=ps.lower() in role_names)
        if name.lower() in taken:
            raise CredentialsError(
                f"profile {name} would be both an IAM profile and an Identity Center one (names differing "
                f"only in case included); rename permission set {ps} (or the role) so they differ"
            )
        profiles.append(SsoProfile(name, account, spec.accounts[account].id, ps))
    for account, role in entitled_roles(spec, user):
        # The IAM role itself, which the account access manager entitles the person to: its
        # portal role name is the IAM role's; marked so it is never the IAM profile of the role.
        name = f"{spec.project}-{account}-{ENTITLED_MARK}-{role}"
        if name.lower() in taken | {p.profile.lower() for p in profiles}:
            raise CredentialsError(
                f"profile {name} would be written twice; rename permission set or role {role}"
            )
        profiles.append(SsoProfile(name, account, spec.accounts[account].id, role))
    session = Section(
        f"sso-session {spec.project}",
        (("sso_start_url", url), ("sso_region", ic.region), ("sso_registration_scopes", REGISTRATION_SCOPES)),
    )
    sections = [session] + [
        Section(
            f"profile {p.profile}",
            (
                ("sso_session", spec.project),
                ("sso_account_id", p.account_id),
                ("sso_role_name", p.permission_set),
                ("region", spec.region),
                ("output", "json"),
            ),
        )
        for p in profiles
    ]
    return RenderedSso(user, spec.project, url, tuple(profiles), tuple(sections))


def write_sso_profiles(
    spec: Spec, user: str, config: Path, *, start_url: str | None = None
) -> tuple[RenderedSso, FileChange]:
    """Bring the SSO sections of `config` to what `user` reaches; nothing else in it changes, and
    a rerun with nothing new does not rewrite the file (iamlayer.profiles.inifile.sync_file)."""
    rendered = render_sso_profiles(spec, user, start_url=start_url)
    return rendered, sync_file(config, sso_owner(spec.project), rendered.config)

"""One handler per (resource kind, action). Each declares the IAM permissions it needs.

Handlers are idempotent, so a rerun after an interrupted apply converges: a create that finds the
resource already there (EntityAlreadyExists) checks it and moves on, a delete of something already
gone (NoSuchEntity) is success. They speak to AWS through the account's gateway
(iamlayer.aws.gateways): each of its methods is one intent, names what it attempted in its
errors, and decides retries and send-once itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iamlayer.aws.errors import surely_not_applied
from iamlayer.aws.gateways.base import gone_is_fine
from iamlayer.aws.gateways.iam import IamGateway
from iamlayer.aws.retry import Backoff, consistency_timeout
from iamlayer.errors import AlreadyExistsError, ApplyError, AwsError
from iamlayer.plan.diff import adopt_hint
from iamlayer.plan.model import Action, Change, Kind
from iamlayer.state.model import OWNER_TAG

if TYPE_CHECKING:
    from iamlayer.aws.gateways.account_access import AccountAccessGateway
    from iamlayer.aws.gateways.identity_center import IdentityCenter
    from iamlayer.aws.session import AccountClients
    from iamlayer.secrets.outbox import Outbox
    from iamlayer.state.journal import Journal

#: AWS keeps at most 5 versions of a managed policy
MAX_POLICY_VERSIONS = 5
#: generated password length unless the policy asks for more
DEFAULT_PASSWORD_LENGTH = 30


@dataclass
class HandlerContext:
    """What a handler may use: the account's IAM gateway and where its local records live."""

    account: str
    account_id: str
    project: str
    iam: IamGateway
    outbox: Outbox  # for login profiles and access keys
    journal: Journal
    # In the account where the IAM Identity Center instance lives: its gateway (sso-admin,
    # identity store, the instance and names-to-ids); None elsewhere.
    ic: IdentityCenter | None = None
    # There too: the account access manager (iamlayer.apply.access_handlers); None elsewhere.
    access: AccountAccessGateway | None = None

    @classmethod
    def for_account(
        cls,
        account: str,
        account_id: str,
        project: str,
        clients: AccountClients,
        outbox: Outbox,
        journal: Journal,
    ) -> HandlerContext:
        where = f"in account {account} ({account_id})"
        return cls(account, account_id, project, IamGateway.for_account(clients, where), outbox, journal)

    def where(self) -> str:
        return f"in account {self.account} ({self.account_id})"


#: how often a create whose outcome stayed unknown (timeout, dropped connection, 5xx) is sent
CREATE_ATTEMPTS = 3


Handler = Callable[[HandlerContext, Change], None]


@dataclass(frozen=True)
class HandlerSpec:
    fn: Handler
    permissions: tuple[str, ...]


HANDLERS: dict[tuple[Kind, Action], HandlerSpec] = {}


def handles(kind: Kind, *actions: Action, permissions: tuple[str, ...]) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for action in actions:
            HANDLERS[(kind, action)] = HandlerSpec(fn, permissions)
        return fn

    return register


# -- account settings ---------------------------------------------------------------------------
@handles(
    Kind.ACCOUNT_ALIAS,
    Action.CREATE,
    Action.UPDATE,
    permissions=("iam:CreateAccountAlias", "iam:DeleteAccountAlias"),
)
def set_alias(ctx: HandlerContext, ch: Change) -> None:
    assert ch.after is not None
    ctx.iam.set_alias(ch.after["alias"], (ch.before or {}).get("alias"))


@handles(Kind.PASSWORD_POLICY, Action.CREATE, Action.UPDATE, permissions=("iam:UpdateAccountPasswordPolicy",))
def set_password_policy(ctx: HandlerContext, ch: Change) -> None:
    p = ch.after
    assert p is not None
    ctx.iam.set_password_policy(
        minimum_length=p["minimum_length"],
        require=set(p["require"]),
        allow_users_to_change=p["allow_users_to_change"],
        hard_expiry=p["hard_expiry"],
        max_age_days=p.get("max_age_days"),
        reuse_prevention=p.get("reuse_prevention"),
    )


# -- customer-managed policies -----------------------------------------------------------------
def _policy_arn(ctx: HandlerContext, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ctx.account_id}:policy{path}{name}"


@handles(
    Kind.POLICY,
    Action.CREATE,
    permissions=("iam:CreatePolicy", "iam:TagPolicy", "iam:GetPolicy", "iam:ListPolicyTags"),
)
def create_policy(ctx: HandlerContext, ch: Change) -> None:
    a = ch.after
    assert a is not None
    name = ch.address.name
    try:
        ctx.iam.create_policy(name, a["path"], a["document"], a["description"], a["tags"])
    except AlreadyExistsError:
        description, tags = ctx.iam.existing_policy(name, _policy_arn(ctx, name, a["path"]))
        if description != a["description"] and tags.get(OWNER_TAG) != ctx.project:
            raise ApplyError(
                f"creating policy {name} {ctx.where()}: a policy of that name appeared that "
                "iamlayer does not own"
            ) from None


@handles(
    Kind.POLICY,
    Action.UPDATE,
    permissions=(
        "iam:CreatePolicyVersion",
        "iam:DeletePolicyVersion",
        "iam:ListPolicyVersions",
        "iam:GetPolicyVersion",
    ),
)
def update_policy(ctx: HandlerContext, ch: Change) -> None:
    """A new default version of the policy, unless the default already holds the document.

    CreatePolicyVersion is sent once per attempt (IamGateway.create_policy_version): a lost answer
    is followed by re-reading the default version, so no second identical version is made, and
    the five-version limit is not spent on duplicates.
    """
    a = ch.after
    assert a is not None
    arn, name, want = a["arn"], ch.address.name, a["document"]
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        versions = ctx.iam.policy_versions(arn, name)
        if ctx.iam.default_policy_document(arn, name, versions) == want:
            return  # an earlier attempt went through; IAM had not shown it to the plan yet
        old = sorted(
            (v for v in versions if not v.get("IsDefaultVersion")), key=lambda v: str(v.get("CreateDate"))
        )
        if len(versions) >= MAX_POLICY_VERSIONS and old:
            # IAM keeps five versions; the oldest non-default one makes room for the new one.
            ctx.iam.delete_policy_version(arn, name, old[0]["VersionId"])
        try:
            ctx.iam.create_policy_version(arn, name, want)
            return
        except AwsError as exc:
            if surely_not_applied(exc):
                raise
            backoff = Backoff(consistency_timeout(), first=1, cap=8)
            while backoff.wait():
                if ctx.iam.default_policy_document(arn, name) == want:
                    return
            if attempt == CREATE_ATTEMPTS:
                raise ApplyError(f"{exc}. The outcome stayed unknown after {attempt} attempts") from exc


@handles(
    Kind.POLICY,
    Action.DELETE,
    permissions=(
        "iam:ListEntitiesForPolicy",
        "iam:DetachUserPolicy",
        "iam:DetachGroupPolicy",
        "iam:DetachRolePolicy",
        "iam:ListPolicyVersions",
        "iam:DeletePolicyVersion",
        "iam:DeletePolicy",
    ),
)
def delete_policy(ctx: HandlerContext, ch: Change) -> None:
    arn = (ch.before or {})["arn"]
    name = ch.address.name
    with gone_is_fine():
        entities = ctx.iam.policy_entities(arn, name)
        for group in entities.groups:
            ctx.iam.detach_group_policy(group, arn)
        for user in entities.users:
            ctx.iam.detach_user_policy(user, arn)
        for role in entities.roles:
            ctx.iam.detach_role_policy(role, arn)
        for v in ctx.iam.policy_versions(arn, name):
            if not v.get("IsDefaultVersion"):
                ctx.iam.delete_policy_version(arn, name, v["VersionId"])
        ctx.iam.delete_policy(arn, name)


# -- roles ---------------------------------------------------------------------------------------
@handles(
    Kind.ROLE,
    Action.CREATE,
    permissions=("iam:CreateRole", "iam:TagRole", "iam:PutRolePermissionsBoundary", "iam:ListRoleTags"),
)
def create_role(ctx: HandlerContext, ch: Change) -> None:
    a = ch.after
    assert a is not None
    name = ch.address.name
    try:
        ctx.iam.create_role(
            name,
            a["path"],
            a["trust"],
            a["tags"],
            a.get("permissions_boundary"),
            max_session_duration=a["max_session_duration"],
            description=a["description"],
        )
    except AlreadyExistsError:
        _check_owned(ctx, "role", name, lambda: ctx.iam.role_tags(name, just_created=True))


@handles(
    Kind.OIDC_PROVIDER,
    Action.CREATE,
    permissions=(
        "iam:CreateOpenIDConnectProvider",
        "iam:TagOpenIDConnectProvider",
        "iam:GetOpenIDConnectProvider",
    ),
)
def create_oidc_provider(ctx: HandlerContext, ch: Change) -> None:
    a = ch.after
    assert a is not None
    try:
        ctx.iam.create_oidc_provider(a["url"], a["client_ids"], a["tags"])
    except AlreadyExistsError:
        arn = f"arn:aws:iam::{ctx.account_id}:oidc-provider/{ch.address.name}"
        _check_owned(ctx, "OIDC provider", ch.address.name, lambda: ctx.iam.oidc_provider_tags(arn))


@handles(
    Kind.OIDC_PROVIDER,
    Action.UPDATE,
    permissions=("iam:AddClientIDToOpenIDConnectProvider", "iam:RemoveClientIDFromOpenIDConnectProvider"),
)
def update_oidc_provider(ctx: HandlerContext, ch: Change) -> None:
    a, b = ch.after, ch.before
    assert a is not None and b is not None
    want, have = set(a["client_ids"]), set(b["client_ids"])
    ctx.iam.set_oidc_audiences(a["arn"], sorted(want - have), sorted(have - want))


@handles(Kind.OIDC_PROVIDER, Action.DELETE, permissions=("iam:DeleteOpenIDConnectProvider",))
def delete_oidc_provider(ctx: HandlerContext, ch: Change) -> None:
    assert ch.before is not None
    ctx.iam.delete_oidc_provider(ch.before["arn"])


def _check_owned(ctx: HandlerContext, kind: str, name: str, read_tags: Callable[[], dict[str, str]]) -> None:
    """After EntityAlreadyExists: fine if it is ours (an earlier, interrupted apply made it, or
    our own attempt whose answer was lost and that botocore sent again).

    IAM is eventually consistent: the create that said EntityAlreadyExists saw the entity, but a
    read right after may still answer NoSuchEntity when it was made a moment ago (by that lost
    attempt), so `read_tags` waits for it within the consistency bound.
    """
    if read_tags().get(OWNER_TAG) != ctx.project:
        raise ApplyError(
            f"creating {kind} {name} {ctx.where()}: one of that name appeared that iamlayer "
            f"does not own (no tag {OWNER_TAG}={ctx.project})"
        )


@handles(
    Kind.ROLE,
    Action.UPDATE,
    permissions=(
        "iam:UpdateAssumeRolePolicy",
        "iam:UpdateRole",
        "iam:PutRolePermissionsBoundary",
        "iam:DeleteRolePermissionsBoundary",
        "iam:TagRole",
        "iam:UntagRole",
    ),
)
def update_role(ctx: HandlerContext, ch: Change) -> None:
    a = ch.after
    assert a is not None
    name = ch.address.name
    if "trust" in a:
        ctx.iam.update_trust(name, a["trust"])
    if "max_session_duration" in a or "description" in a:
        ctx.iam.update_role(
            name, max_session_duration=a.get("max_session_duration"), description=a.get("description")
        )
    if "permissions_boundary" in a:
        ctx.iam.set_role_boundary(name, a["permissions_boundary"] or None)
    if a.get("tags"):
        ctx.iam.retag_role(name, a["tags"])


@handles(
    Kind.ROLE,
    Action.DELETE,
    permissions=(
        "iam:ListAttachedRolePolicies",
        "iam:DetachRolePolicy",
        "iam:ListRolePolicies",
        "iam:DeleteRolePolicy",
        "iam:ListInstanceProfilesForRole",
        "iam:RemoveRoleFromInstanceProfile",
        "iam:DeleteRole",
    ),
)
def delete_role(ctx: HandlerContext, ch: Change) -> None:
    name = ch.address.name
    with gone_is_fine():
        contents = ctx.iam.role_contents(name)
        for arn in contents.attached:
            ctx.iam.detach_role_policy(name, arn)
        for policy in contents.inline:
            ctx.iam.delete_role_policy(name, policy)
        for profile in contents.instance_profiles:
            ctx.iam.remove_role_from_instance_profile(name, profile)
        ctx.iam.delete_role(name)


@handles(Kind.ROLE_POLICY_ATTACHMENT, Action.CREATE, permissions=("iam:AttachRolePolicy",))
def attach_role_policy(ctx: HandlerContext, ch: Change) -> None:
    ctx.iam.attach_role_policy(ch.address.name, ch.address.sub)


@handles(Kind.ROLE_POLICY_ATTACHMENT, Action.DELETE, permissions=("iam:DetachRolePolicy",))
def detach_role_policy(ctx: HandlerContext, ch: Change) -> None:
    ctx.iam.detach_role_policy(ch.address.name, ch.address.sub)


@handles(Kind.ROLE_INLINE_POLICY, Action.CREATE, Action.UPDATE, permissions=("iam:PutRolePolicy",))
def put_role_policy(ctx: HandlerContext, ch: Change) -> None:
    ctx.iam.put_role_policy(ch.address.name, ch.address.sub, (ch.after or {})["document"])


@handles(Kind.ROLE_INLINE_POLICY, Action.DELETE, permissions=("iam:DeleteRolePolicy",))
def delete_role_policy(ctx: HandlerContext, ch: Change) -> None:
    ctx.iam.delete_role_policy(ch.address.name, ch.address.sub)


# -- groups --------------------------------------------------------------------------------------
def _mark_group(ctx: HandlerContext, name: str, marker: str) -> None:
    ctx.iam.mark_group(name, marker, ctx.project)
    ctx.journal.end("groups", ctx.account, name)


@handles(Kind.GROUP, Action.CREATE, permissions=("iam:CreateGroup", "iam:PutGroupPolicy"))
def create_group(ctx: HandlerContext, ch: Change) -> None:
    name = ch.address.name
    a = ch.after
    assert a is not None
    # Journaled first: groups cannot be tagged, and a kill before the marker is written must not
    # leave a group that the next plan would call foreign (see iamlayer.state.journal).
    ours = ctx.journal.begin("groups", ctx.account, name)  # an earlier apply of ours began it
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            ctx.iam.create_group(name, a["path"])  # sent once per attempt
            break
        except AlreadyExistsError:
            if ours:
                break  # made by our interrupted apply, or by our attempt whose answer was lost
            ctx.journal.end("groups", ctx.account, name)
            raise ApplyError(
                f"creating group {name} {ctx.where()}: a group of that name appeared after the plan "
                f"was made, and iamlayer did not create it; it is left alone. {adopt_hint('group', name, ctx.project)}"
            ) from None
        except AwsError as exc:
            if surely_not_applied(exc):
                if not ours:
                    ctx.journal.end("groups", ctx.account, name)
                raise
            ours = True  # the group may be ours now: an EntityAlreadyExists from here on is our work
            if attempt == CREATE_ATTEMPTS:
                raise ApplyError(
                    f"{exc}. The outcome stayed unknown after {attempt} attempts; run apply again: "
                    "it finishes the group if AWS made it"
                ) from exc
    _mark_group(ctx, name, a["marker"])


@handles(Kind.GROUP, Action.UPDATE, permissions=("iam:UpdateGroup", "iam:PutGroupPolicy"))
def update_group(ctx: HandlerContext, ch: Change) -> None:
    a, b = ch.after or {}, ch.before or {}
    name = ch.address.name
    if a.get("path") and a["path"] != b.get("path"):
        ctx.iam.move_group(name, a["path"])
    if a.get("marker") and not b.get("marker", a["marker"]):
        _mark_group(ctx, name, a["marker"])


@handles(
    Kind.GROUP,
    Action.DELETE,
    permissions=(
        "iam:GetGroup",
        "iam:RemoveUserFromGroup",
        "iam:ListAttachedGroupPolicies",
        "iam:DetachGroupPolicy",
        "iam:ListGroupPolicies",
        "iam:DeleteGroupPolicy",
        "iam:DeleteGroup",
    ),
)
def delete_group(ctx: HandlerContext, ch: Change) -> None:
    name = ch.address.name
    marker = (ch.before or {}).get("marker", "")
    with gone_is_fine():
        contents = ctx.iam.group_contents(name)
        for user in contents.members:
            ctx.iam.remove_user_from_group(user, name)
        for arn in contents.attached:
            ctx.iam.detach_group_policy(name, arn)
        # The ownership marker goes last, so an interrupted delete still leaves an owned group.
        for policy in sorted(contents.inline, key=lambda p: p == marker):
            ctx.iam.delete_group_policy(name, policy)
        ctx.iam.delete_group(name)


@handles(Kind.GROUP_POLICY_ATTACHMENT, Action.CREATE, permissions=("iam:AttachGroupPolicy",))
def attach_group_policy(ctx: HandlerContext, ch: Change) -> None:
    ctx.iam.attach_group_policy(ch.address.name, ch.address.sub)


@handles(Kind.GROUP_POLICY_ATTACHMENT, Action.DELETE, permissions=("iam:DetachGroupPolicy",))
def detach_group_policy(ctx: HandlerContext, ch: Change) -> None:
    ctx.iam.detach_group_policy(ch.address.name, ch.address.sub)


@handles(Kind.GROUP_INLINE_POLICY, Action.CREATE, Action.UPDATE, permissions=("iam:PutGroupPolicy",))
def put_group_policy(ctx: HandlerContext, ch: Change) -> None:
    ctx.iam.put_group_policy(ch.address.name, ch.address.sub, (ch.after or {})["document"])


@handles(Kind.GROUP_INLINE_POLICY, Action.DELETE, permissions=("iam:DeleteGroupPolicy",))
def delete_group_policy(ctx: HandlerContext, ch: Change) -> None:
    ctx.iam.delete_group_policy(ch.address.name, ch.address.sub)


# -- users ---------------------------------------------------------------------------------------
@handles(Kind.USER, Action.CREATE, permissions=("iam:CreateUser", "iam:TagUser", "iam:ListUserTags"))
def create_user(ctx: HandlerContext, ch: Change) -> None:
    a = ch.after
    assert a is not None
    name = ch.address.name
    try:
        ctx.iam.create_user(name, a["path"], a["tags"])
    except AlreadyExistsError:
        _check_owned(ctx, "user", name, lambda: ctx.iam.user_tags(name, just_created=True))


@handles(Kind.USER, Action.UPDATE, permissions=("iam:UpdateUser", "iam:TagUser", "iam:UntagUser"))
def update_user(ctx: HandlerContext, ch: Change) -> None:
    a = ch.after or {}
    name = ch.address.name
    if "path" in a:
        ctx.iam.move_user(name, a["path"])
    if a.get("tags"):
        ctx.iam.retag_user(name, a["tags"])


@handles(
    Kind.USER,
    Action.DELETE,
    permissions=(
        "iam:DeleteLoginProfile",
        "iam:ListAccessKeys",
        "iam:DeleteAccessKey",
        "iam:ListMFADevices",
        "iam:DeactivateMFADevice",
        "iam:DeleteVirtualMFADevice",
        "iam:ListGroupsForUser",
        "iam:RemoveUserFromGroup",
        "iam:ListAttachedUserPolicies",
        "iam:DetachUserPolicy",
        "iam:ListUserPolicies",
        "iam:DeleteUserPolicy",
        "iam:ListSigningCertificates",
        "iam:DeleteSigningCertificate",
        "iam:ListSSHPublicKeys",
        "iam:DeleteSSHPublicKey",
        "iam:ListServiceSpecificCredentials",
        "iam:DeleteServiceSpecificCredential",
        "iam:DeleteUser",
    ),
)
def delete_user(ctx: HandlerContext, ch: Change) -> None:
    """Delete a user and, first, everything IAM requires gone: credentials, MFA, memberships, policies."""
    name = ch.address.name
    iam = ctx.iam
    with gone_is_fine():
        iam.delete_login_profile(name)
        contents = iam.user_contents(name)
        for key_id in contents.access_keys:
            iam.delete_access_key(name, key_id)
        for serial in contents.mfa_devices:
            iam.deactivate_mfa_device(name, serial)
            if ":mfa/" in serial:  # virtual devices are IAM resources; hardware ones are not
                iam.delete_virtual_mfa_device(serial)
        for group in contents.groups:
            iam.remove_user_from_group(name, group)
        for arn in contents.attached:
            iam.detach_user_policy(name, arn)
        for policy in contents.inline:
            iam.delete_user_policy(name, policy)
        for certificate in contents.certificates:
            iam.delete_signing_certificate(name, certificate)
        for ssh in contents.ssh_keys:
            iam.delete_ssh_public_key(name, ssh)
        # Their password and keys are gone from AWS: the ciphertexts go now, before the user. Once
        # DeleteUser went through, no later plan would see them (the user is in neither the spec
        # nor AWS), so an apply killed right after it would leave them forever.
        ctx.outbox.forget_user(ctx.account, name)
        try:
            iam.delete_user(name)
        except AwsError as exc:
            if exc.code != "DeleteConflict":
                raise
            # Rare: service-specific credentials (CodeCommit, Keyspaces) are only looked for when
            # DeleteUser says something is still attached. Otherwise the conflict is what was just
            # removed above, not yet seen everywhere in IAM.
            for credential in iam.service_specific_credentials(name):
                iam.delete_service_specific_credential(name, credential)
            iam.delete_user(name, after_conflict=True)
    ctx.outbox.forget_user(ctx.account, name)  # also when the user was gone already


@handles(Kind.USER_INLINE_POLICY, Action.CREATE, Action.UPDATE, permissions=("iam:PutUserPolicy",))
def put_user_policy(ctx: HandlerContext, ch: Change) -> None:
    ctx.iam.put_user_policy(ch.address.name, ch.address.sub, (ch.after or {})["document"])


@handles(Kind.USER_INLINE_POLICY, Action.DELETE, permissions=("iam:DeleteUserPolicy",))
def delete_user_policy(ctx: HandlerContext, ch: Change) -> None:
    ctx.iam.delete_user_policy(ch.address.name, ch.address.sub)


@handles(Kind.GROUP_MEMBERSHIP, Action.CREATE, permissions=("iam:AddUserToGroup",))
def add_membership(ctx: HandlerContext, ch: Change) -> None:
    ctx.iam.add_user_to_group(ch.address.name, ch.address.sub)


@handles(Kind.GROUP_MEMBERSHIP, Action.DELETE, permissions=("iam:RemoveUserFromGroup",))
def remove_membership(ctx: HandlerContext, ch: Change) -> None:
    ctx.iam.remove_user_from_group(ch.address.name, ch.address.sub)


# -- adoption: the ownership marker on an existing resource, nothing else ------------------------
# Each of these is one idempotent write that adds iamlayer's marker; the resource keeps its id,
# its other tags and everything else (see Action.ADOPT). A policy is adopted by its tag alone:
# its description, where iamlayer marks the policies it creates, cannot be changed.
@handles(Kind.USER, Action.ADOPT, permissions=("iam:TagUser",))
def adopt_user(ctx: HandlerContext, ch: Change) -> None:
    ctx.iam.adopt_user(ch.address.name, (ch.after or {})["tags"], ctx.project)


@handles(Kind.ROLE, Action.ADOPT, permissions=("iam:TagRole",))
def adopt_role(ctx: HandlerContext, ch: Change) -> None:
    ctx.iam.adopt_role(ch.address.name, (ch.after or {})["tags"], ctx.project)


@handles(Kind.POLICY, Action.ADOPT, permissions=("iam:TagPolicy",))
def adopt_policy(ctx: HandlerContext, ch: Change) -> None:
    a = ch.after or {}
    ctx.iam.adopt_policy(ch.address.name, a["arn"], a["tags"], ctx.project)


@handles(Kind.GROUP, Action.ADOPT, permissions=("iam:PutGroupPolicy",))
def adopt_group(ctx: HandlerContext, ch: Change) -> None:
    _mark_group(ctx, ch.address.name, (ch.after or {})["marker"])

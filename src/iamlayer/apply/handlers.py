"""One handler per (resource kind, action). Each declares the IAM permissions it needs.

Handlers are idempotent, so a rerun after an interrupted apply converges: a create that finds the
resource already there (EntityAlreadyExists) checks it and moves on, a delete of something already
gone (NoSuchEntity) is success. Each call runs inside `aws_call(...)` naming what is attempted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from typing import Any

from iamlayer.aws.errors import aws_call, surely_not_applied
from iamlayer.aws.read import read_all
from iamlayer.aws.retry import Backoff, consistency_timeout, settle, settled
from iamlayer.aws.session import AccountClients
from iamlayer.errors import AlreadyExistsError, ApplyError, AwsError, NotFoundError
from iamlayer.plan.diff import adopt_hint
from iamlayer.plan.model import Action, Change, Kind
from iamlayer.spec.policy_grammar import policy_text
from iamlayer.state.model import OWNER_TAG, group_marker_document
from iamlayer.state.normalize import normalize

#: AWS keeps at most 5 versions of a managed policy
MAX_POLICY_VERSIONS = 5
#: generated password length unless the policy asks for more
DEFAULT_PASSWORD_LENGTH = 30


@dataclass
class HandlerContext:
    """What a handler may use: the account's IAM clients and where its local records live."""

    account: str
    account_id: str
    project: str
    iam: Any  # a boto3 IAM client for the account
    outbox: Any  # iamlayer.secrets.outbox.Outbox, for login profiles and access keys
    journal: Any  # iamlayer.state.journal.Journal
    # The same without botocore's retries, for the creates that must not be sent twice
    # (CreateAccessKey, CreateLoginProfile, CreateGroup, CreatePolicyVersion): their handlers
    # handle every outcome themselves. Defaults to `iam` (a test's one stubbed client).
    iam_once: Any = None
    # In the account where the IAM Identity Center instance lives: its clients, instance and the
    # names-to-ids directory (iamlayer.apply.ic_handlers.IcContext); None elsewhere.
    ic: Any = None

    def __post_init__(self) -> None:
        if self.iam_once is None:
            self.iam_once = self.iam
        # Every call of every handler is retried on throttling and IAM's transient answers
        # (iamlayer.aws.retry): botocore stops retrying once its retry quota is spent.
        self.iam, self.iam_once = settled(self.iam), settled(self.iam_once)

    @classmethod
    def for_account(
        cls, account: str, account_id: str, project: str, clients: AccountClients, outbox: Any, journal: Any
    ) -> HandlerContext:
        return cls(
            account,
            account_id,
            project,
            clients.client("iam"),
            outbox,
            journal,
            iam_once=clients.client("iam", retries=False),
        )

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


@contextmanager
def gone_is_fine() -> Iterator[None]:
    """Deletes are idempotent: NoSuchEntity means it is already gone."""
    with suppress(NotFoundError):
        yield


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _retag(
    tags: dict[str, str | None], tag: Callable[..., Any], untag: Callable[..., Any], what: str
) -> None:
    """Apply a tag update from the plan (see iamlayer.plan.diff.tag_changes): set the tags with a
    value, remove those whose value is None. `tag`/`untag` are TagUser/UntagUser or TagRole/UntagRole
    with the entity's name bound; `what` names it for errors."""
    kept = {k: v for k, v in tags.items() if v is not None}
    gone = sorted(k for k, v in tags.items() if v is None)
    if kept:
        with aws_call(f"tagging {what}"):
            tag(Tags=_tags(kept))
    if gone:
        with aws_call(f"removing the tags {', '.join(gone)} from {what}"):
            untag(TagKeys=gone)


def _doc(d: dict[str, Any]) -> str:
    return policy_text(d)


# -- account settings ---------------------------------------------------------------------------
@handles(
    Kind.ACCOUNT_ALIAS,
    Action.CREATE,
    Action.UPDATE,
    permissions=("iam:CreateAccountAlias", "iam:DeleteAccountAlias"),
)
def set_alias(ctx: HandlerContext, ch: Change) -> None:
    assert ch.after is not None
    old = (ch.before or {}).get("alias")
    if old:
        # An account has one alias; replacing it means deleting the old one first.
        with gone_is_fine(), aws_call(f"deleting account alias {old} {ctx.where()}"):
            ctx.iam.delete_account_alias(AccountAlias=old)
    with aws_call(f"setting account alias {ch.after['alias']} {ctx.where()}"):
        settle(lambda: ctx.iam.create_account_alias(AccountAlias=ch.after["alias"]))  # type: ignore[index]


@handles(Kind.PASSWORD_POLICY, Action.CREATE, Action.UPDATE, permissions=("iam:UpdateAccountPasswordPolicy",))
def set_password_policy(ctx: HandlerContext, ch: Change) -> None:
    p = ch.after
    assert p is not None
    req = set(p["require"])
    args: dict[str, Any] = {
        "MinimumPasswordLength": p["minimum_length"],
        "RequireSymbols": "symbols" in req,
        "RequireNumbers": "numbers" in req,
        "RequireUppercaseCharacters": "upper" in req,
        "RequireLowercaseCharacters": "lower" in req,
        "AllowUsersToChangePassword": p["allow_users_to_change"],
        "HardExpiry": p["hard_expiry"],
    }
    # Leaving these out of the call is how AWS is told "no expiry" / "no reuse prevention".
    if p.get("max_age_days"):
        args["MaxPasswordAge"] = p["max_age_days"]
    if p.get("reuse_prevention"):
        args["PasswordReusePrevention"] = p["reuse_prevention"]
    with aws_call(f"setting the password policy {ctx.where()}"):
        settle(lambda: ctx.iam.update_account_password_policy(**args))


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
        with aws_call(f"creating policy {name} {ctx.where()}"):
            ctx.iam.create_policy(
                PolicyName=name,
                Path=a["path"],
                PolicyDocument=_doc(a["document"]),
                Description=a["description"],
                Tags=_tags(a["tags"]),
            )
    except AlreadyExistsError:
        arn = _policy_arn(ctx, name, a["path"])
        with aws_call(f"checking existing policy {name} {ctx.where()}"):
            # A policy our own lost attempt just made may not be readable yet (see _check_owned).
            pol = settle(lambda: ctx.iam.get_policy(PolicyArn=arn), not_found_too=True)["Policy"]
            tags = {
                t["Key"]: t["Value"]
                for t in read_all(ctx.iam, "list_policy_tags", PolicyArn=arn).get("Tags", [])
            }
        if pol.get("Description", "") != a["description"] and tags.get(OWNER_TAG) != ctx.project:
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

    CreatePolicyVersion is sent once per attempt (see HandlerContext.iam_once): a lost answer is
    followed by re-reading the default version, so no second identical version is made, and the
    five-version limit is not spent on duplicates.
    """
    a = ch.after
    assert a is not None
    arn, name, want = a["arn"], ch.address.name, a["document"]
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        with aws_call(f"listing versions of policy {name} {ctx.where()}"):
            versions = read_all(ctx.iam, "list_policy_versions", PolicyArn=arn).get("Versions", [])
        if _default_document(ctx, arn, name, versions) == want:
            return  # an earlier attempt went through; IAM had not shown it to the plan yet
        old = sorted((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: str(v["CreateDate"]))
        if len(versions) >= MAX_POLICY_VERSIONS and old:
            # IAM keeps five versions; the oldest non-default one makes room for the new one.
            with (
                gone_is_fine(),
                aws_call(f"deleting old version {old[0]['VersionId']} of policy {name}"),
            ):
                ctx.iam.delete_policy_version(PolicyArn=arn, VersionId=old[0]["VersionId"])
        try:
            with aws_call(f"updating policy {name} {ctx.where()}"):
                settle(
                    lambda: ctx.iam_once.create_policy_version(
                        PolicyArn=arn, PolicyDocument=_doc(want), SetAsDefault=True
                    )
                )
            return
        except AwsError as exc:
            if surely_not_applied(exc):
                raise
            backoff = Backoff(consistency_timeout(), first=1, cap=8)
            while backoff.wait():
                if _default_document(ctx, arn, name) == want:
                    return
            if attempt == CREATE_ATTEMPTS:
                raise ApplyError(f"{exc}. The outcome stayed unknown after {attempt} attempts") from exc


def _default_document(
    ctx: HandlerContext, arn: str, name: str, versions: list[dict[str, Any]] | None = None
) -> dict[str, Any] | None:
    """The normalised document of the policy's default version (`versions`: as listed already)."""
    with aws_call(f"reading the default version of policy {name} {ctx.where()}"):
        if versions is None:
            versions = read_all(ctx.iam, "list_policy_versions", PolicyArn=arn).get("Versions", [])
        default = next((v for v in versions if v["IsDefaultVersion"]), None)
        if default is None:
            return None
        got = ctx.iam.get_policy_version(PolicyArn=arn, VersionId=default["VersionId"])["PolicyVersion"]
    return normalize(got["Document"])


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
        with aws_call(f"listing what policy {name} is attached to {ctx.where()}"):
            ents = read_all(ctx.iam, "list_entities_for_policy", PolicyArn=arn)
        for g in ents.get("PolicyGroups", []):
            with gone_is_fine(), aws_call(f"detaching policy {name} from group {g['GroupName']}"):
                ctx.iam.detach_group_policy(GroupName=g["GroupName"], PolicyArn=arn)
        for u in ents.get("PolicyUsers", []):
            with gone_is_fine(), aws_call(f"detaching policy {name} from user {u['UserName']}"):
                ctx.iam.detach_user_policy(UserName=u["UserName"], PolicyArn=arn)
        for r in ents.get("PolicyRoles", []):
            with gone_is_fine(), aws_call(f"detaching policy {name} from role {r['RoleName']}"):
                ctx.iam.detach_role_policy(RoleName=r["RoleName"], PolicyArn=arn)
        with aws_call(f"listing versions of policy {name}"):
            versions = read_all(ctx.iam, "list_policy_versions", PolicyArn=arn).get("Versions", [])
        for v in versions:
            if not v["IsDefaultVersion"]:
                with gone_is_fine(), aws_call(f"deleting version {v['VersionId']} of policy {name}"):
                    ctx.iam.delete_policy_version(PolicyArn=arn, VersionId=v["VersionId"])
        with aws_call(f"deleting policy {name} {ctx.where()}"):
            # DeleteConflict here may be the detaches above not yet seen everywhere in IAM.
            settle(lambda: ctx.iam.delete_policy(PolicyArn=arn), conflict_too=True)


# -- roles ---------------------------------------------------------------------------------------
@handles(
    Kind.ROLE,
    Action.CREATE,
    permissions=("iam:CreateRole", "iam:TagRole", "iam:PutRolePermissionsBoundary", "iam:ListRoleTags"),
)
def create_role(ctx: HandlerContext, ch: Change) -> None:
    a = ch.after
    assert a is not None
    args: dict[str, Any] = {
        "RoleName": ch.address.name,
        "Path": a["path"],
        "AssumeRolePolicyDocument": _doc(a["trust"]),
        "MaxSessionDuration": a["max_session_duration"],
        "Description": a["description"],
        "Tags": _tags(a["tags"]),
    }
    if a.get("permissions_boundary"):
        args["PermissionsBoundary"] = a["permissions_boundary"]
    try:
        with aws_call(f"creating role {ch.address.name} {ctx.where()}"):
            ctx.iam.create_role(**args)
    except AlreadyExistsError:
        _check_owned(
            ctx,
            "role",
            ch.address.name,
            lambda: read_all(ctx.iam, "list_role_tags", RoleName=ch.address.name).get("Tags", []),
        )


def _check_owned(
    ctx: HandlerContext, kind: str, name: str, read_tags: Callable[[], list[dict[str, str]]]
) -> None:
    """After EntityAlreadyExists: fine if it is ours (an earlier, interrupted apply made it, or
    our own attempt whose answer was lost and that botocore sent again).

    IAM is eventually consistent: the create that said EntityAlreadyExists saw the entity, but a
    read right after may still answer NoSuchEntity when it was made a moment ago (by that lost
    attempt), so the read waits for it within the consistency bound.
    """
    with aws_call(f"checking existing {kind} {name} {ctx.where()}"):
        tags = {t["Key"]: t["Value"] for t in settle(read_tags, not_found_too=True)}
    if tags.get(OWNER_TAG) != ctx.project:
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
    w = f"role {name} {ctx.where()}"
    if "trust" in a:
        with aws_call(f"updating the trust policy of {w}"):
            settle(lambda: ctx.iam.update_assume_role_policy(RoleName=name, PolicyDocument=_doc(a["trust"])))
    if "max_session_duration" in a or "description" in a:
        args = {
            k2: a[k1]
            for k1, k2 in (("max_session_duration", "MaxSessionDuration"), ("description", "Description"))
            if k1 in a
        }
        with aws_call(f"updating {w}"):
            settle(lambda: ctx.iam.update_role(RoleName=name, **args))
    if "permissions_boundary" in a:
        with aws_call(f"setting the permissions boundary of {w}"):
            if a["permissions_boundary"]:
                ctx.iam.put_role_permissions_boundary(
                    RoleName=name, PermissionsBoundary=a["permissions_boundary"]
                )
            else:
                with gone_is_fine():
                    ctx.iam.delete_role_permissions_boundary(RoleName=name)
    if a.get("tags"):
        _retag(
            a["tags"], partial(ctx.iam.tag_role, RoleName=name), partial(ctx.iam.untag_role, RoleName=name), w
        )


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
    w = f"role {name} {ctx.where()}"
    with gone_is_fine():
        with aws_call(f"listing policies of {w}"):
            attached = read_all(ctx.iam, "list_attached_role_policies", RoleName=name).get(
                "AttachedPolicies", []
            )
            inline = read_all(ctx.iam, "list_role_policies", RoleName=name).get("PolicyNames", [])
            profiles = read_all(ctx.iam, "list_instance_profiles_for_role", RoleName=name).get(
                "InstanceProfiles", []
            )
        for p in attached:
            with gone_is_fine(), aws_call(f"detaching {p['PolicyArn']} from {w}"):
                ctx.iam.detach_role_policy(RoleName=name, PolicyArn=p["PolicyArn"])
        for p in inline:
            with gone_is_fine(), aws_call(f"deleting inline policy {p} of {w}"):
                ctx.iam.delete_role_policy(RoleName=name, PolicyName=p)
        for ip in profiles:
            with gone_is_fine(), aws_call(f"removing {w} from instance profile {ip['InstanceProfileName']}"):
                ctx.iam.remove_role_from_instance_profile(
                    RoleName=name, InstanceProfileName=ip["InstanceProfileName"]
                )
        with aws_call(f"deleting {w}"):
            # DeleteConflict here may be the detaches above not yet seen everywhere in IAM.
            settle(lambda: ctx.iam.delete_role(RoleName=name), conflict_too=True)


@handles(Kind.ROLE_POLICY_ATTACHMENT, Action.CREATE, permissions=("iam:AttachRolePolicy",))
def attach_role_policy(ctx: HandlerContext, ch: Change) -> None:
    with aws_call(f"attaching policy {ch.address.sub} to role {ch.address.name} {ctx.where()}"):
        settle(
            lambda: ctx.iam.attach_role_policy(RoleName=ch.address.name, PolicyArn=ch.address.sub),
            not_found_too=True,
        )


@handles(Kind.ROLE_POLICY_ATTACHMENT, Action.DELETE, permissions=("iam:DetachRolePolicy",))
def detach_role_policy(ctx: HandlerContext, ch: Change) -> None:
    with (
        gone_is_fine(),
        aws_call(f"detaching policy {ch.address.sub} from role {ch.address.name} {ctx.where()}"),
    ):
        ctx.iam.detach_role_policy(RoleName=ch.address.name, PolicyArn=ch.address.sub)


@handles(Kind.ROLE_INLINE_POLICY, Action.CREATE, Action.UPDATE, permissions=("iam:PutRolePolicy",))
def put_role_policy(ctx: HandlerContext, ch: Change) -> None:
    doc = _doc((ch.after or {})["document"])
    with aws_call(f"writing inline policy {ch.address.sub} of role {ch.address.name} {ctx.where()}"):
        settle(
            lambda: ctx.iam.put_role_policy(
                RoleName=ch.address.name, PolicyName=ch.address.sub, PolicyDocument=doc
            ),
            not_found_too=True,
        )


@handles(Kind.ROLE_INLINE_POLICY, Action.DELETE, permissions=("iam:DeleteRolePolicy",))
def delete_role_policy(ctx: HandlerContext, ch: Change) -> None:
    with (
        gone_is_fine(),
        aws_call(f"deleting inline policy {ch.address.sub} of role {ch.address.name} {ctx.where()}"),
    ):
        ctx.iam.delete_role_policy(RoleName=ch.address.name, PolicyName=ch.address.sub)


# -- groups --------------------------------------------------------------------------------------
def _mark_group(ctx: HandlerContext, name: str, marker: str) -> None:
    with aws_call(f"marking group {name} as owned by {ctx.project} {ctx.where()}"):
        settle(
            lambda: ctx.iam.put_group_policy(
                GroupName=name, PolicyName=marker, PolicyDocument=_doc(group_marker_document())
            ),
            not_found_too=True,
        )
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
            with aws_call(f"creating group {name} {ctx.where()}"):
                settle(lambda: ctx.iam_once.create_group(GroupName=name, Path=a["path"]))
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
        with aws_call(f"moving group {name} to path {a['path']} {ctx.where()}"):
            settle(lambda: ctx.iam.update_group(GroupName=name, NewPath=a["path"]))
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
    w = f"group {name} {ctx.where()}"
    marker = (ch.before or {}).get("marker", "")
    with gone_is_fine():
        with aws_call(f"reading {w}"):
            members = read_all(ctx.iam, "get_group", GroupName=name).get("Users", [])
            attached = read_all(ctx.iam, "list_attached_group_policies", GroupName=name).get(
                "AttachedPolicies", []
            )
            inline = read_all(ctx.iam, "list_group_policies", GroupName=name).get("PolicyNames", [])
        for u in members:
            with gone_is_fine(), aws_call(f"removing user {u['UserName']} from {w}"):
                ctx.iam.remove_user_from_group(GroupName=name, UserName=u["UserName"])
        for p in attached:
            with gone_is_fine(), aws_call(f"detaching {p['PolicyArn']} from {w}"):
                ctx.iam.detach_group_policy(GroupName=name, PolicyArn=p["PolicyArn"])
        # The ownership marker goes last, so an interrupted delete still leaves an owned group.
        for p in sorted(inline, key=lambda p: p == marker):
            with gone_is_fine(), aws_call(f"deleting inline policy {p} of {w}"):
                ctx.iam.delete_group_policy(GroupName=name, PolicyName=p)
        with aws_call(f"deleting {w}"):
            # DeleteConflict here may be the detaches above not yet seen everywhere in IAM.
            settle(lambda: ctx.iam.delete_group(GroupName=name), conflict_too=True)


@handles(Kind.GROUP_POLICY_ATTACHMENT, Action.CREATE, permissions=("iam:AttachGroupPolicy",))
def attach_group_policy(ctx: HandlerContext, ch: Change) -> None:
    with aws_call(f"attaching policy {ch.address.sub} to group {ch.address.name} {ctx.where()}"):
        settle(
            lambda: ctx.iam.attach_group_policy(GroupName=ch.address.name, PolicyArn=ch.address.sub),
            not_found_too=True,
        )


@handles(Kind.GROUP_POLICY_ATTACHMENT, Action.DELETE, permissions=("iam:DetachGroupPolicy",))
def detach_group_policy(ctx: HandlerContext, ch: Change) -> None:
    with (
        gone_is_fine(),
        aws_call(f"detaching policy {ch.address.sub} from group {ch.address.name} {ctx.where()}"),
    ):
        ctx.iam.detach_group_policy(GroupName=ch.address.name, PolicyArn=ch.address.sub)


@handles(Kind.GROUP_INLINE_POLICY, Action.CREATE, Action.UPDATE, permissions=("iam:PutGroupPolicy",))
def put_group_policy(ctx: HandlerContext, ch: Change) -> None:
    doc = _doc((ch.after or {})["document"])
    with aws_call(f"writing inline policy {ch.address.sub} of group {ch.address.name} {ctx.where()}"):
        settle(
            lambda: ctx.iam.put_group_policy(
                GroupName=ch.address.name, PolicyName=ch.address.sub, PolicyDocument=doc
            ),
            not_found_too=True,
        )


@handles(Kind.GROUP_INLINE_POLICY, Action.DELETE, permissions=("iam:DeleteGroupPolicy",))
def delete_group_policy(ctx: HandlerContext, ch: Change) -> None:
    with (
        gone_is_fine(),
        aws_call(f"deleting inline policy {ch.address.sub} of group {ch.address.name} {ctx.where()}"),
    ):
        ctx.iam.delete_group_policy(GroupName=ch.address.name, PolicyName=ch.address.sub)


# -- users ---------------------------------------------------------------------------------------
@handles(Kind.USER, Action.CREATE, permissions=("iam:CreateUser", "iam:TagUser", "iam:ListUserTags"))
def create_user(ctx: HandlerContext, ch: Change) -> None:
    a = ch.after
    assert a is not None
    name = ch.address.name
    try:
        with aws_call(f"creating user {name} {ctx.where()}"):
            ctx.iam.create_user(UserName=name, Path=a["path"], Tags=_tags(a["tags"]))
    except AlreadyExistsError:
        _check_owned(
            ctx, "user", name, lambda: read_all(ctx.iam, "list_user_tags", UserName=name).get("Tags", [])
        )


@handles(Kind.USER, Action.UPDATE, permissions=("iam:UpdateUser", "iam:TagUser", "iam:UntagUser"))
def update_user(ctx: HandlerContext, ch: Change) -> None:
    a = ch.after or {}
    name = ch.address.name
    if "path" in a:
        with aws_call(f"moving user {name} to path {a['path']} {ctx.where()}"):
            settle(lambda: ctx.iam.update_user(UserName=name, NewPath=a["path"]))
    if a.get("tags"):
        _retag(
            a["tags"],
            partial(ctx.iam.tag_user, UserName=name),
            partial(ctx.iam.untag_user, UserName=name),
            f"user {name} {ctx.where()}",
        )


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
    w = f"user {name} {ctx.where()}"
    iam = ctx.iam
    with gone_is_fine():
        with gone_is_fine(), aws_call(f"deleting the login profile of {w}"):
            iam.delete_login_profile(UserName=name)
        with aws_call(f"listing credentials of {w}"):
            keys = read_all(iam, "list_access_keys", UserName=name).get("AccessKeyMetadata", [])
            mfas = read_all(iam, "list_mfa_devices", UserName=name).get("MFADevices", [])
            groups = read_all(iam, "list_groups_for_user", UserName=name).get("Groups", [])
            attached = read_all(iam, "list_attached_user_policies", UserName=name).get("AttachedPolicies", [])
            inline = read_all(iam, "list_user_policies", UserName=name).get("PolicyNames", [])
            certs = read_all(iam, "list_signing_certificates", UserName=name).get("Certificates", [])
            ssh = read_all(iam, "list_ssh_public_keys", UserName=name).get("SSHPublicKeys", [])
        for k in keys:
            with gone_is_fine(), aws_call(f"deleting access key {k['AccessKeyId']} of {w}"):
                iam.delete_access_key(UserName=name, AccessKeyId=k["AccessKeyId"])
        for m in mfas:
            serial = m["SerialNumber"]
            with gone_is_fine(), aws_call(f"deactivating MFA device {serial} of {w}"):
                iam.deactivate_mfa_device(UserName=name, SerialNumber=serial)
            if ":mfa/" in serial:  # virtual devices are IAM resources; hardware ones are not
                with gone_is_fine(), aws_call(f"deleting virtual MFA device {serial}"):
                    iam.delete_virtual_mfa_device(SerialNumber=serial)
        for g in groups:
            with gone_is_fine(), aws_call(f"removing {w} from group {g['GroupName']}"):
                iam.remove_user_from_group(UserName=name, GroupName=g["GroupName"])
        for p in attached:
            with gone_is_fine(), aws_call(f"detaching {p['PolicyArn']} from {w}"):
                iam.detach_user_policy(UserName=name, PolicyArn=p["PolicyArn"])
        for p in inline:
            with gone_is_fine(), aws_call(f"deleting inline policy {p} of {w}"):
                iam.delete_user_policy(UserName=name, PolicyName=p)
        for c in certs:
            with gone_is_fine(), aws_call(f"deleting signing certificate of {w}"):
                iam.delete_signing_certificate(UserName=name, CertificateId=c["CertificateId"])
        for s in ssh:
            with gone_is_fine(), aws_call(f"deleting SSH key of {w}"):
                iam.delete_ssh_public_key(UserName=name, SSHPublicKeyId=s["SSHPublicKeyId"])
        # Their password and keys are gone from AWS: the ciphertexts go now, before the user. Once
        # DeleteUser went through, no later plan would see them (the user is in neither the spec
        # nor AWS), so an apply killed right after it would leave them forever.
        ctx.outbox.forget_user(ctx.account, name)
        try:
            with aws_call(f"deleting {w}"):
                settle(lambda: iam.delete_user(UserName=name))
        except AwsError as exc:
            if exc.code != "DeleteConflict":
                raise
            # Rare: service-specific credentials (CodeCommit, Keyspaces) are only looked for when
            # DeleteUser says something is still attached. Otherwise the conflict is what was just
            # removed above, not yet seen everywhere in IAM.
            _delete_service_credentials(ctx, name, w)
            with aws_call(f"deleting {w}"):
                settle(lambda: iam.delete_user(UserName=name), conflict_too=True)
    ctx.outbox.forget_user(ctx.account, name)  # also when the user was gone already


def _delete_service_credentials(ctx: HandlerContext, name: str, w: str) -> None:
    with aws_call(f"listing service-specific credentials of {w}"):
        creds = ctx.iam.list_service_specific_credentials(UserName=name)["ServiceSpecificCredentials"]
    for c in creds:
        with gone_is_fine(), aws_call(f"deleting service-specific credential of {w}"):
            ctx.iam.delete_service_specific_credential(
                UserName=name, ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"]
            )


@handles(Kind.GROUP_MEMBERSHIP, Action.CREATE, permissions=("iam:AddUserToGroup",))
def add_membership(ctx: HandlerContext, ch: Change) -> None:
    with aws_call(f"adding user {ch.address.name} to group {ch.address.sub} {ctx.where()}"):
        settle(
            lambda: ctx.iam.add_user_to_group(UserName=ch.address.name, GroupName=ch.address.sub),
            not_found_too=True,
        )


@handles(Kind.GROUP_MEMBERSHIP, Action.DELETE, permissions=("iam:RemoveUserFromGroup",))
def remove_membership(ctx: HandlerContext, ch: Change) -> None:
    with (
        gone_is_fine(),
        aws_call(f"removing user {ch.address.name} from group {ch.address.sub} {ctx.where()}"),
    ):
        ctx.iam.remove_user_from_group(UserName=ch.address.name, GroupName=ch.address.sub)


# -- adoption: the ownership marker on an existing resource, nothing else ------------------------
# Each of these is one idempotent write that adds iamlayer's marker; the resource keeps its id,
# its other tags and everything else (see Action.ADOPT). A policy is adopted by its tag alone:
# its description, where iamlayer marks the policies it creates, cannot be changed.
@handles(Kind.USER, Action.ADOPT, permissions=("iam:TagUser",))
def adopt_user(ctx: HandlerContext, ch: Change) -> None:
    name = ch.address.name
    with aws_call(f"adopting user {name} (tagging it {OWNER_TAG}={ctx.project}) {ctx.where()}"):
        settle(lambda: ctx.iam.tag_user(UserName=name, Tags=_tags((ch.after or {})["tags"])))


@handles(Kind.ROLE, Action.ADOPT, permissions=("iam:TagRole",))
def adopt_role(ctx: HandlerContext, ch: Change) -> None:
    name = ch.address.name
    with aws_call(f"adopting role {name} (tagging it {OWNER_TAG}={ctx.project}) {ctx.where()}"):
        settle(lambda: ctx.iam.tag_role(RoleName=name, Tags=_tags((ch.after or {})["tags"])))


@handles(Kind.POLICY, Action.ADOPT, permissions=("iam:TagPolicy",))
def adopt_policy(ctx: HandlerContext, ch: Change) -> None:
    a = ch.after or {}
    with aws_call(f"adopting policy {ch.address.name} (tagging it {OWNER_TAG}={ctx.project}) {ctx.where()}"):
        settle(lambda: ctx.iam.tag_policy(PolicyArn=a["arn"], Tags=_tags(a["tags"])))


@handles(Kind.GROUP, Action.ADOPT, permissions=("iam:PutGroupPolicy",))
def adopt_group(ctx: HandlerContext, ch: Change) -> None:
    _mark_group(ctx, ch.address.name, (ch.after or {})["marker"])

"""The IAM gateway of one account: every write and per-entity read the apply handlers make.

Each method is one intent ("attach this policy to that role") and owns how it is sent:
- errors come back as iamlayer errors naming what was attempted and where
  ("creating role DevOps in account shared (333333333333): AccessDenied: ...");
- every request is retried on throttling and IAM's transient answers (iamlayer.aws.retry.settle),
  and, where the method says so, on NoSuchEntity right after a create (writes that name what an
  earlier change just made) or DeleteConflict right after a detach (deletes);
- removals are idempotent: NoSuchEntity means gone already;
- lists are read whole, every page (typed paginators);
- the non-idempotent creates (CreateGroup, CreatePolicyVersion, CreateLoginProfile,
  CreateAccessKey) go through the client without botocore's retries (`once`), because a resend
  after a lost answer may make a second one (a second key whose secret nobody holds). Each says
  how its caller settles an unknown outcome; every other request is safe to resend.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iamlayer.aws.gateways.base import gone_is_fine, send
from iamlayer.errors import NotFoundError
from iamlayer.spec.policy_grammar import policy_text
from iamlayer.state.model import OWNER_TAG, group_marker_document
from iamlayer.state.normalize import normalize

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_iam.type_defs import (
        AccessKeyLastUsedTypeDef,
        AccessKeyMetadataTypeDef,
        AccessKeyTypeDef,
        CreateRoleRequestTypeDef,
        PolicyVersionTypeDef,
        TagTypeDef,
        UpdateAccountPasswordPolicyRequestTypeDef,
        UpdateRoleRequestTypeDef,
    )

    from iamlayer.aws.session import AccountClients


def _tags(tags: Mapping[str, str]) -> list[TagTypeDef]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _doc(d: Mapping[str, Any]) -> str:
    """As validate measured it against the quotas (iamlayer.spec.policy_grammar.policy_text)."""
    return policy_text(d)


@dataclass(frozen=True)
class PolicyEntities:
    """What a managed policy is attached to, by name."""

    groups: tuple[str, ...]
    users: tuple[str, ...]
    roles: tuple[str, ...]


@dataclass(frozen=True)
class RoleContents:
    """What must go before a role can be deleted."""

    attached: tuple[str, ...]  # managed policy ARNs
    inline: tuple[str, ...]  # inline policy names
    instance_profiles: tuple[str, ...]


@dataclass(frozen=True)
class GroupContents:
    """What must go before a group can be deleted."""

    members: tuple[str, ...]
    attached: tuple[str, ...]
    inline: tuple[str, ...]


@dataclass(frozen=True)
class UserContents:
    """What IAM requires gone before DeleteUser (service-specific credentials apart: see
    `service_specific_credentials`)."""

    access_keys: tuple[str, ...]
    mfa_devices: tuple[str, ...]  # serial numbers
    groups: tuple[str, ...]
    attached: tuple[str, ...]
    inline: tuple[str, ...]
    certificates: tuple[str, ...]
    ssh_keys: tuple[str, ...]


class IamGateway:
    """IAM in one account. `client` retries (botocore's adaptive mode); `once` does not, for the
    creates that must not be sent twice (a client, or how to make one when first needed; defaults
    to `client`: a test's one stubbed client).
    `where` ends every message ("in account security (222222222222)")."""

    def __init__(
        self,
        client: IAMClient,
        *,
        once: IAMClient | Callable[[], IAMClient] | None = None,
        where: str = "",
    ) -> None:
        self.client = client
        self._once: IAMClient | None = None
        self._make_once: Callable[[], IAMClient] | None = None
        if once is None:
            self._once = client
        elif callable(once):
            self._make_once = once
        else:
            self._once = once
        self.where = where

    @property
    def once(self) -> IAMClient:
        """The client without retries, made on first use: most accounts never need one (each
        botocore client holds its own copy of the service's methods and event handlers)."""
        if self._once is None:
            assert self._make_once is not None
            self._once = self._make_once()
        return self._once

    @classmethod
    def for_account(cls, clients: AccountClients, where: str) -> IamGateway:
        return cls(clients.iam(), once=lambda: clients.iam(retries=False), where=where)

    # -- OpenID Connect providers ---------------------------------------------------------------
    def create_oidc_provider(self, url: str, client_ids: Sequence[str], tags: Mapping[str, str]) -> str:
        """CreateOpenIDConnectProvider without thumbprints: for issuers whose certificate chains to
        a trusted root (GitHub, gitlab.com) IAM checks the certificate itself and ignores them.
        The provider's ARN; AlreadyExistsError when the issuer has one (the caller checks whose)."""
        got = send(
            f"creating the OpenID Connect provider {url} {self.where}",
            lambda: self.client.create_open_id_connect_provider(
                Url=url, ClientIDList=list(client_ids), Tags=_tags(tags)
            ),
        )
        return str(got["OpenIDConnectProviderArn"])

    def oidc_provider_tags(self, arn: str) -> dict[str, str]:
        got = send(
            f"reading the OpenID Connect provider {arn} {self.where}",
            lambda: self.client.get_open_id_connect_provider(OpenIDConnectProviderArn=arn),
            not_found_too=True,
        )
        return {t["Key"]: t["Value"] for t in got.get("Tags", [])}

    def set_oidc_audiences(self, arn: str, add: Sequence[str], remove: Sequence[str]) -> None:
        for client_id in add:
            self._add_audience(arn, client_id)
        for client_id in remove:
            self._remove_audience(arn, client_id)

    def _add_audience(self, arn: str, client_id: str) -> None:
        send(
            f"adding audience {client_id} to the OpenID Connect provider {arn} {self.where}",
            lambda: self.client.add_client_id_to_open_id_connect_provider(
                OpenIDConnectProviderArn=arn, ClientID=client_id
            ),
        )

    def _remove_audience(self, arn: str, client_id: str) -> None:
        send(
            f"removing audience {client_id} from the OpenID Connect provider {arn} {self.where}",
            lambda: self.client.remove_client_id_from_open_id_connect_provider(
                OpenIDConnectProviderArn=arn, ClientID=client_id
            ),
        )

    def delete_oidc_provider(self, arn: str) -> None:
        with gone_is_fine():
            send(
                f"deleting the OpenID Connect provider {arn} {self.where}",
                lambda: self.client.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn),
            )

    # -- account settings -----------------------------------------------------------------------
    def set_alias(self, alias: str, old: str | None = None) -> None:
        """Make `alias` the account's alias; an account has one, so `old` is deleted first."""
        if old:
            with gone_is_fine():
                send(
                    f"deleting account alias {old} {self.where}",
                    lambda: self.client.delete_account_alias(AccountAlias=old),
                )
        send(
            f"setting account alias {alias} {self.where}",
            lambda: self.client.create_account_alias(AccountAlias=alias),
        )

    def set_password_policy(
        self,
        *,
        minimum_length: int,
        require: Collection[str],
        allow_users_to_change: bool,
        hard_expiry: bool,
        max_age_days: int | None,
        reuse_prevention: int | None,
    ) -> None:
        """`require` holds upper, lower, numbers, symbols. No max age / reuse prevention is said by
        leaving them out of the call."""
        args: UpdateAccountPasswordPolicyRequestTypeDef = {
            "MinimumPasswordLength": minimum_length,
            "RequireSymbols": "symbols" in require,
            "RequireNumbers": "numbers" in require,
            "RequireUppercaseCharacters": "upper" in require,
            "RequireLowercaseCharacters": "lower" in require,
            "AllowUsersToChangePassword": allow_users_to_change,
            "HardExpiry": hard_expiry,
        }
        if max_age_days:
            args["MaxPasswordAge"] = max_age_days
        if reuse_prevention:
            args["PasswordReusePrevention"] = reuse_prevention
        send(
            f"setting the password policy {self.where}",
            lambda: self.client.update_account_password_policy(**args),
        )

    # -- customer-managed policies ----------------------------------------------------------------
    def create_policy(
        self, name: str, path: str, document: Mapping[str, Any], description: str, tags: Mapping[str, str]
    ) -> None:
        """CreatePolicy; AlreadyExistsError when the name is taken (the caller checks whose)."""
        send(
            f"creating policy {name} {self.where}",
            lambda: self.client.create_policy(
                PolicyName=name,
                Path=path,
                PolicyDocument=_doc(document),
                Description=description,
                Tags=_tags(tags),
            ),
        )

    def existing_policy(self, name: str, arn: str) -> tuple[str, dict[str, str]]:
        """(description, tags) of a policy a create found there. A policy our own lost attempt
        just made may not be readable yet: NoSuchEntity is waited out (the consistency bound)."""
        what = f"checking existing policy {name} {self.where}"
        policy = send(what, lambda: self.client.get_policy(PolicyArn=arn), not_found_too=True)["Policy"]
        pages = self.client.get_paginator("list_policy_tags")
        tags = send(what, lambda: [t for p in pages.paginate(PolicyArn=arn) for t in p.get("Tags", [])])
        return policy.get("Description", ""), {t["Key"]: t["Value"] for t in tags}

    def policy_versions(self, arn: str, name: str) -> list[PolicyVersionTypeDef]:
        pages = self.client.get_paginator("list_policy_versions")
        return send(
            f"listing versions of policy {name} {self.where}",
            lambda: [v for p in pages.paginate(PolicyArn=arn) for v in p.get("Versions", [])],
        )

    def default_policy_document(
        self, arn: str, name: str, versions: list[PolicyVersionTypeDef] | None = None
    ) -> dict[str, Any] | None:
        """The normalised document of the policy's default version (`versions`: as listed already)."""
        if versions is None:
            versions = self.policy_versions(arn, name)
        default = next((v for v in versions if v.get("IsDefaultVersion")), None)
        if default is None:
            return None
        version_id = default["VersionId"]
        got = send(
            f"reading the default version of policy {name} {self.where}",
            lambda: self.client.get_policy_version(PolicyArn=arn, VersionId=version_id),
        )["PolicyVersion"]
        return normalize(got.get("Document"))

    def delete_policy_version(self, arn: str, name: str, version_id: str) -> None:
        with gone_is_fine():
            send(
                f"deleting version {version_id} of policy {name} {self.where}",
                lambda: self.client.delete_policy_version(PolicyArn=arn, VersionId=version_id),
            )

    def create_policy_version(self, arn: str, name: str, document: Mapping[str, Any]) -> None:
        """A new default version, sent ONCE (no botocore retry: a resend after a lost answer would
        make a second identical version and spend the five-version limit). After an error that
        leaves the outcome unknown (iamlayer.aws.errors.surely_not_applied is False), the caller
        re-reads the default version (`default_policy_document`) before sending again."""
        send(
            f"updating policy {name} {self.where}",
            lambda: self.once.create_policy_version(
                PolicyArn=arn, PolicyDocument=_doc(document), SetAsDefault=True
            ),
        )

    def policy_entities(self, arn: str, name: str) -> PolicyEntities:
        pages = self.client.get_paginator("list_entities_for_policy")
        found = send(
            f"listing what policy {name} is attached to {self.where}",
            lambda: list(pages.paginate(PolicyArn=arn)),
        )
        return PolicyEntities(
            groups=tuple(g["GroupName"] for p in found for g in p.get("PolicyGroups", [])),
            users=tuple(u["UserName"] for p in found for u in p.get("PolicyUsers", [])),
            roles=tuple(r["RoleName"] for p in found for r in p.get("PolicyRoles", [])),
        )

    def delete_policy(self, arn: str, name: str) -> None:
        """Gone already is fine. DeleteConflict is retried: the detaches just made may not have
        reached every IAM endpoint yet."""
        with gone_is_fine():
            send(
                f"deleting policy {name} {self.where}",
                lambda: self.client.delete_policy(PolicyArn=arn),
                conflict_too=True,
            )

    def adopt_policy(self, name: str, arn: str, tags: Mapping[str, str], project: str) -> None:
        send(
            f"adopting policy {name} (tagging it {OWNER_TAG}={project}) {self.where}",
            lambda: self.client.tag_policy(PolicyArn=arn, Tags=_tags(tags)),
        )

    # -- roles --------------------------------------------------------------------------------------
    def create_role(
        self,
        name: str,
        path: str,
        trust: Mapping[str, Any],
        tags: Mapping[str, str],
        boundary: str | None = None,
        *,
        max_session_duration: int,
        description: str,
    ) -> None:
        """CreateRole; AlreadyExistsError when the name is taken (the caller checks whose)."""
        args: CreateRoleRequestTypeDef = {
            "RoleName": name,
            "Path": path,
            "AssumeRolePolicyDocument": _doc(trust),
            "MaxSessionDuration": max_session_duration,
            "Description": description,
            "Tags": _tags(tags),
        }
        if boundary:
            args["PermissionsBoundary"] = boundary
        send(f"creating role {name} {self.where}", lambda: self.client.create_role(**args))

    def role_tags(self, name: str, *, just_created: bool = False) -> dict[str, str]:
        """`just_created`: the role was made a moment ago (a create answered EntityAlreadyExists),
        so NoSuchEntity is IAM's lag and waited out."""
        pages = self.client.get_paginator("list_role_tags")
        tags = send(
            f"reading the tags of role {name} {self.where}",
            lambda: [t for p in pages.paginate(RoleName=name) for t in p.get("Tags", [])],
            not_found_too=just_created,
        )
        return {t["Key"]: t["Value"] for t in tags}

    def update_trust(self, name: str, trust: Mapping[str, Any]) -> None:
        send(
            f"updating the trust policy of role {name} {self.where}",
            lambda: self.client.update_assume_role_policy(RoleName=name, PolicyDocument=_doc(trust)),
        )

    def update_role(
        self, name: str, *, max_session_duration: int | None = None, description: str | None = None
    ) -> None:
        """Set what is given (None: left as it is)."""
        args: UpdateRoleRequestTypeDef = {"RoleName": name}
        if max_session_duration is not None:
            args["MaxSessionDuration"] = max_session_duration
        if description is not None:
            args["Description"] = description
        send(f"updating role {name} {self.where}", lambda: self.client.update_role(**args))

    def set_role_boundary(self, name: str, boundary: str | None) -> None:
        """Put the permissions boundary `boundary`, or remove it (None; none there is fine)."""
        what = f"setting the permissions boundary of role {name} {self.where}"
        if boundary:
            send(
                what,
                lambda: self.client.put_role_permissions_boundary(
                    RoleName=name, PermissionsBoundary=boundary
                ),
            )
            return
        with gone_is_fine():
            send(what, lambda: self.client.delete_role_permissions_boundary(RoleName=name))

    def retag_role(self, name: str, tags: Mapping[str, str | None]) -> None:
        """A tag update from the plan (iamlayer.plan.diff.tag_changes): set the tags with a value,
        remove those whose value is None."""
        kept, gone = _split_tags(tags)
        what = f"role {name} {self.where}"
        if kept:
            send(f"tagging {what}", lambda: self.client.tag_role(RoleName=name, Tags=_tags(kept)))
        if gone:
            send(
                f"removing the tags {', '.join(gone)} from {what}",
                lambda: self.client.untag_role(RoleName=name, TagKeys=gone),
            )

    def adopt_role(self, name: str, tags: Mapping[str, str], project: str) -> None:
        send(
            f"adopting role {name} (tagging it {OWNER_TAG}={project}) {self.where}",
            lambda: self.client.tag_role(RoleName=name, Tags=_tags(tags)),
        )

    def role_contents(self, name: str) -> RoleContents:
        """NotFoundError when the role is gone."""
        what = f"listing policies of role {name} {self.where}"
        attached = self.client.get_paginator("list_attached_role_policies")
        inline = self.client.get_paginator("list_role_policies")
        profiles = self.client.get_paginator("list_instance_profiles_for_role")
        return RoleContents(
            attached=send(
                what,
                lambda: tuple(
                    a["PolicyArn"]
                    for p in attached.paginate(RoleName=name)
                    for a in p.get("AttachedPolicies", [])
                ),
            ),
            inline=send(
                what, lambda: tuple(n for p in inline.paginate(RoleName=name) for n in p["PolicyNames"])
            ),
            instance_profiles=send(
                what,
                lambda: tuple(
                    ip["InstanceProfileName"]
                    for p in profiles.paginate(RoleName=name)
                    for ip in p["InstanceProfiles"]
                ),
            ),
        )

    def remove_role_from_instance_profile(self, name: str, profile: str) -> None:
        with gone_is_fine():
            send(
                f"removing role {name} {self.where} from instance profile {profile}",
                lambda: self.client.remove_role_from_instance_profile(
                    RoleName=name, InstanceProfileName=profile
                ),
            )

    def delete_role(self, name: str) -> None:
        """Gone already is fine. DeleteConflict is retried: the detaches just made may not have
        reached every IAM endpoint yet."""
        with gone_is_fine():
            send(
                f"deleting role {name} {self.where}",
                lambda: self.client.delete_role(RoleName=name),
                conflict_too=True,
            )

    def attach_role_policy(self, role: str, arn: str) -> None:
        """NoSuchEntity is waited out: the role or policy may have been made a moment ago."""
        send(
            f"attaching policy {arn} to role {role} {self.where}",
            lambda: self.client.attach_role_policy(RoleName=role, PolicyArn=arn),
            not_found_too=True,
        )

    def detach_role_policy(self, role: str, arn: str) -> None:
        with gone_is_fine():
            send(
                f"detaching policy {arn} from role {role} {self.where}",
                lambda: self.client.detach_role_policy(RoleName=role, PolicyArn=arn),
            )

    def _put_inline(
        self, owner: str, policy: str, put: Callable[[str], object], document: Mapping[str, Any]
    ) -> None:
        """Write an inline policy of `owner` ("role DevOps") with `put` (PutRolePolicy, PutGroupPolicy
        or PutUserPolicy). NoSuchEntity is waited out: the owner may have been made a moment ago."""
        send(
            f"writing inline policy {policy} of {owner} {self.where}",
            lambda: put(_doc(document)),
            not_found_too=True,
        )

    def put_role_policy(self, role: str, policy: str, document: Mapping[str, Any]) -> None:
        self._put_inline(
            f"role {role}",
            policy,
            lambda doc: self.client.put_role_policy(RoleName=role, PolicyName=policy, PolicyDocument=doc),
            document,
        )

    def delete_role_policy(self, role: str, policy: str) -> None:
        with gone_is_fine():
            send(
                f"deleting inline policy {policy} of role {role} {self.where}",
                lambda: self.client.delete_role_policy(RoleName=role, PolicyName=policy),
            )

    # -- groups -------------------------------------------------------------------------------------
    def create_group(self, name: str, path: str) -> None:
        """CreateGroup, sent ONCE (no botocore retry). Groups cannot be tagged, so a resend after a
        lost answer would meet EntityAlreadyExists with nothing to tell whose group it is: the
        caller journals the creation first and treats EntityAlreadyExists after an unknown outcome
        (iamlayer.aws.errors.surely_not_applied is False) as its own work."""
        send(
            f"creating group {name} {self.where}",
            lambda: self.once.create_group(GroupName=name, Path=path),
        )

    def mark_group(self, name: str, marker: str, project: str) -> None:
        """Write the inline policy that marks a group as `project`'s (groups cannot be tagged)."""
        send(
            f"marking group {name} as owned by {project} {self.where}",
            lambda: self.client.put_group_policy(
                GroupName=name, PolicyName=marker, PolicyDocument=_doc(group_marker_document())
            ),
            not_found_too=True,
        )

    def move_group(self, name: str, path: str) -> None:
        send(
            f"moving group {name} to path {path} {self.where}",
            lambda: self.client.update_group(GroupName=name, NewPath=path),
        )

    def group_contents(self, name: str) -> GroupContents:
        """NotFoundError when the group is gone."""
        what = f"reading group {name} {self.where}"
        members = self.client.get_paginator("get_group")
        attached = self.client.get_paginator("list_attached_group_policies")
        inline = self.client.get_paginator("list_group_policies")
        return GroupContents(
            members=send(
                what,
                lambda: tuple(u["UserName"] for p in members.paginate(GroupName=name) for u in p["Users"]),
            ),
            attached=send(
                what,
                lambda: tuple(
                    a["PolicyArn"]
                    for p in attached.paginate(GroupName=name)
                    for a in p.get("AttachedPolicies", [])
                ),
            ),
            inline=send(
                what, lambda: tuple(n for p in inline.paginate(GroupName=name) for n in p["PolicyNames"])
            ),
        )

    def delete_group(self, name: str) -> None:
        """Gone already is fine. DeleteConflict is retried: the removals just made may not have
        reached every IAM endpoint yet."""
        with gone_is_fine():
            send(
                f"deleting group {name} {self.where}",
                lambda: self.client.delete_group(GroupName=name),
                conflict_too=True,
            )

    def attach_group_policy(self, group: str, arn: str) -> None:
        """NoSuchEntity is waited out: the group or policy may have been made a moment ago."""
        send(
            f"attaching policy {arn} to group {group} {self.where}",
            lambda: self.client.attach_group_policy(GroupName=group, PolicyArn=arn),
            not_found_too=True,
        )

    def detach_group_policy(self, group: str, arn: str) -> None:
        with gone_is_fine():
            send(
                f"detaching policy {arn} from group {group} {self.where}",
                lambda: self.client.detach_group_policy(GroupName=group, PolicyArn=arn),
            )

    def put_group_policy(self, group: str, policy: str, document: Mapping[str, Any]) -> None:
        self._put_inline(
            f"group {group}",
            policy,
            lambda doc: self.client.put_group_policy(GroupName=group, PolicyName=policy, PolicyDocument=doc),
            document,
        )

    def delete_group_policy(self, group: str, policy: str) -> None:
        with gone_is_fine():
            send(
                f"deleting inline policy {policy} of group {group} {self.where}",
                lambda: self.client.delete_group_policy(GroupName=group, PolicyName=policy),
            )

    # -- users --------------------------------------------------------------------------------------
    def create_user(self, name: str, path: str, tags: Mapping[str, str]) -> None:
        """CreateUser; AlreadyExistsError when the name is taken (the caller checks whose)."""
        send(
            f"creating user {name} {self.where}",
            lambda: self.client.create_user(UserName=name, Path=path, Tags=_tags(tags)),
        )

    def user_tags(self, name: str, *, just_created: bool = False) -> dict[str, str]:
        """`just_created`: as `role_tags`."""
        pages = self.client.get_paginator("list_user_tags")
        tags = send(
            f"reading the tags of user {name} {self.where}",
            lambda: [t for p in pages.paginate(UserName=name) for t in p.get("Tags", [])],
            not_found_too=just_created,
        )
        return {t["Key"]: t["Value"] for t in tags}

    def move_user(self, name: str, path: str) -> None:
        send(
            f"moving user {name} to path {path} {self.where}",
            lambda: self.client.update_user(UserName=name, NewPath=path),
        )

    def retag_user(self, name: str, tags: Mapping[str, str | None]) -> None:
        """As `retag_role`."""
        kept, gone = _split_tags(tags)
        what = f"user {name} {self.where}"
        if kept:
            send(f"tagging {what}", lambda: self.client.tag_user(UserName=name, Tags=_tags(kept)))
        if gone:
            send(
                f"removing the tags {', '.join(gone)} from {what}",
                lambda: self.client.untag_user(UserName=name, TagKeys=gone),
            )

    def adopt_user(self, name: str, tags: Mapping[str, str], project: str) -> None:
        send(
            f"adopting user {name} (tagging it {OWNER_TAG}={project}) {self.where}",
            lambda: self.client.tag_user(UserName=name, Tags=_tags(tags)),
        )

    def user_contents(self, name: str) -> UserContents:
        """NotFoundError when the user is gone."""
        what = f"listing credentials of user {name} {self.where}"
        keys = self.client.get_paginator("list_access_keys")
        mfa = self.client.get_paginator("list_mfa_devices")
        groups = self.client.get_paginator("list_groups_for_user")
        attached = self.client.get_paginator("list_attached_user_policies")
        inline = self.client.get_paginator("list_user_policies")
        certs = self.client.get_paginator("list_signing_certificates")
        ssh = self.client.get_paginator("list_ssh_public_keys")
        return UserContents(
            access_keys=send(
                what,
                lambda: tuple(
                    k["AccessKeyId"] for p in keys.paginate(UserName=name) for k in p["AccessKeyMetadata"]
                ),
            ),
            mfa_devices=send(
                what,
                lambda: tuple(
                    d["SerialNumber"] for p in mfa.paginate(UserName=name) for d in p["MFADevices"]
                ),
            ),
            groups=send(
                what,
                lambda: tuple(g["GroupName"] for p in groups.paginate(UserName=name) for g in p["Groups"]),
            ),
            attached=send(
                what,
                lambda: tuple(
                    a["PolicyArn"]
                    for p in attached.paginate(UserName=name)
                    for a in p.get("AttachedPolicies", [])
                ),
            ),
            inline=send(
                what, lambda: tuple(n for p in inline.paginate(UserName=name) for n in p["PolicyNames"])
            ),
            certificates=send(
                what,
                lambda: tuple(
                    x["CertificateId"] for p in certs.paginate(UserName=name) for x in p["Certificates"]
                ),
            ),
            ssh_keys=send(
                what,
                lambda: tuple(
                    s["SSHPublicKeyId"]
                    for p in ssh.paginate(UserName=name)
                    for s in p.get("SSHPublicKeys", [])
                ),
            ),
        )

    def deactivate_mfa_device(self, user: str, serial: str) -> None:
        with gone_is_fine():
            send(
                f"deactivating MFA device {serial} of user {user} {self.where}",
                lambda: self.client.deactivate_mfa_device(UserName=user, SerialNumber=serial),
            )

    def delete_virtual_mfa_device(self, serial: str) -> None:
        with gone_is_fine():
            send(
                f"deleting virtual MFA device {serial}",
                lambda: self.client.delete_virtual_mfa_device(SerialNumber=serial),
            )

    def remove_user_from_group(self, user: str, group: str) -> None:
        with gone_is_fine():
            send(
                f"removing user {user} from group {group} {self.where}",
                lambda: self.client.remove_user_from_group(UserName=user, GroupName=group),
            )

    def add_user_to_group(self, user: str, group: str) -> None:
        """NoSuchEntity is waited out: the user or group may have been made a moment ago."""
        send(
            f"adding user {user} to group {group} {self.where}",
            lambda: self.client.add_user_to_group(UserName=user, GroupName=group),
            not_found_too=True,
        )

    def detach_user_policy(self, user: str, arn: str) -> None:
        with gone_is_fine():
            send(
                f"detaching {arn} from user {user} {self.where}",
                lambda: self.client.detach_user_policy(UserName=user, PolicyArn=arn),
            )

    def put_user_policy(self, user: str, policy: str, document: Mapping[str, Any]) -> None:
        self._put_inline(
            f"user {user}",
            policy,
            lambda doc: self.client.put_user_policy(UserName=user, PolicyName=policy, PolicyDocument=doc),
            document,
        )

    def delete_user_policy(self, user: str, policy: str) -> None:
        with gone_is_fine():
            send(
                f"deleting inline policy {policy} of user {user} {self.where}",
                lambda: self.client.delete_user_policy(UserName=user, PolicyName=policy),
            )

    def delete_signing_certificate(self, user: str, certificate: str) -> None:
        with gone_is_fine():
            send(
                f"deleting signing certificate of user {user} {self.where}",
                lambda: self.client.delete_signing_certificate(UserName=user, CertificateId=certificate),
            )

    def delete_ssh_public_key(self, user: str, key_id: str) -> None:
        with gone_is_fine():
            send(
                f"deleting SSH key of user {user} {self.where}",
                lambda: self.client.delete_ssh_public_key(UserName=user, SSHPublicKeyId=key_id),
            )

    def service_specific_credentials(self, user: str) -> list[str]:
        """The ids of the user's service-specific credentials (CodeCommit, Keyspaces...)."""
        found = send(
            f"listing service-specific credentials of user {user} {self.where}",
            lambda: self.client.list_service_specific_credentials(UserName=user),
        )
        return [c["ServiceSpecificCredentialId"] for c in found.get("ServiceSpecificCredentials", [])]

    def delete_service_specific_credential(self, user: str, credential: str) -> None:
        with gone_is_fine():
            send(
                f"deleting service-specific credential of user {user} {self.where}",
                lambda: self.client.delete_service_specific_credential(
                    UserName=user, ServiceSpecificCredentialId=credential
                ),
            )

    def delete_user(self, name: str, *, after_conflict: bool = False) -> None:
        """DeleteUser; DeleteConflict is raised (something is still attached), unless
        `after_conflict`: then it is retried, what was just removed not yet seen everywhere."""
        send(
            f"deleting user {name} {self.where}",
            lambda: self.client.delete_user(UserName=name),
            conflict_too=after_conflict,
        )

    # -- console passwords and access keys ------------------------------------------------------------
    def create_login_profile(self, user: str, password: str, *, reset_required: bool) -> None:
        """CreateLoginProfile, sent ONCE (no botocore retry), NoSuchEntity waited out (the user may
        be new). After an unknown outcome the caller sends it again with the same password, so an
        EntityAlreadyExists then means the lost attempt went through."""
        send(
            f"creating the console password of user {user} {self.where}",
            lambda: self.once.create_login_profile(
                UserName=user, Password=password, PasswordResetRequired=reset_required
            ),
            not_found_too=True,
        )

    def update_login_profile(self, user: str, password: str, *, reset_required: bool) -> None:
        """Sets the same password however often it is sent: botocore may retry it."""
        send(
            f"resetting the console password of user {user} {self.where}",
            lambda: self.client.update_login_profile(
                UserName=user, Password=password, PasswordResetRequired=reset_required
            ),
        )

    def has_login_profile(self, user: str) -> bool:
        """Whether `user` has a console password (GetLoginProfile; NoSuchEntity means no)."""
        try:
            send(
                f"reading the login profile of user {user} {self.where}",
                lambda: self.client.get_login_profile(UserName=user),
            )
        except NotFoundError:
            return False
        return True

    def delete_login_profile(self, user: str) -> None:
        with gone_is_fine():
            send(
                f"deleting the console password of user {user} {self.where}",
                lambda: self.client.delete_login_profile(UserName=user),
            )

    def create_access_key(self, user: str) -> AccessKeyTypeDef:
        """CreateAccessKey, sent ONCE (no botocore retry: a resend after a lost answer makes a
        second key whose secret nobody holds), NoSuchEntity waited out (the user may be new).
        After an unknown outcome the caller looks for the orphan key (`access_keys`) and deletes
        it before sending again (iamlayer.apply.credentials.issue_access_key)."""
        return send(
            f"creating an access key for user {user} {self.where}",
            lambda: self.once.create_access_key(UserName=user),
            not_found_too=True,
        )["AccessKey"]

    def access_keys(self, user: str, *, just_created: bool = False) -> list[AccessKeyMetadataTypeDef]:
        """`just_created`: NoSuchEntity is IAM's lag behind the user's create, waited out."""
        pages = self.client.get_paginator("list_access_keys")
        return send(
            f"listing access keys of user {user} {self.where}",
            lambda: [k for p in pages.paginate(UserName=user) for k in p["AccessKeyMetadata"]],
            not_found_too=just_created,
        )

    def mfa_devices(self, user: str) -> tuple[str, ...]:
        """The serial numbers of the user's MFA devices."""
        pages = self.client.get_paginator("list_mfa_devices")
        return send(
            f"listing MFA devices of user {user} {self.where}",
            lambda: tuple(d["SerialNumber"] for p in pages.paginate(UserName=user) for d in p["MFADevices"]),
        )

    def access_key_last_used(self, user: str, key_id: str) -> AccessKeyLastUsedTypeDef | None:
        got = send(
            f"reading when access key {key_id} of user {user} {self.where} was last used",
            lambda: self.client.get_access_key_last_used(AccessKeyId=key_id),
        )
        return got.get("AccessKeyLastUsed")

    def deactivate_access_key(self, user: str, key_id: str) -> None:
        send(
            f"deactivating access key {key_id} of user {user} {self.where}",
            lambda: self.client.update_access_key(UserName=user, AccessKeyId=key_id, Status="Inactive"),
        )

    def delete_access_key(self, user: str, key_id: str, why: str = "") -> None:
        """Gone already is fine. `why` ends the message (", made by a lost call")."""
        with gone_is_fine():
            send(
                f"deleting access key {key_id} of user {user} {self.where}{why}",
                lambda: self.client.delete_access_key(UserName=user, AccessKeyId=key_id),
            )


def _split_tags(tags: Mapping[str, str | None]) -> tuple[dict[str, str], list[str]]:
    """(tags to set, sorted keys to remove) of a plan's tag update."""
    kept = {k: v for k, v in tags.items() if v is not None}
    return kept, sorted(k for k, v in tags.items() if v is None)

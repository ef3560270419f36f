"""Render the spec into the state each account should have, in the live state's vocabulary.

This is where the spec's shorthands become IAM documents: the trust policy of each role, the
assume-role policy of each group, the self-management policy, the ownership tags and markers.
Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from iamlayer.spec.model import Role, SelfManagement, Spec
from iamlayer.state.model import (
    OWNER_TAG,
    AccessKey,
    AccountState,
    Doc,
    GroupState,
    PolicyState,
    RoleState,
    UserState,
    policy_marker,
)
from iamlayer.state.normalize import normalize

ASSUME_POLICY_NAME = "assume-roles"
SELF_MANAGEMENT_POLICY_NAME = "self-management"

_SELF = "arn:aws:iam::*:user/${aws:username}"


def role_arn(spec: Spec, role: Role, account: str) -> str:
    return f"arn:aws:iam::{spec.accounts[account].id}:role{role.path}{role.name}"


def trust_policy(spec: Spec, role: Role) -> Doc:
    """Who may assume `role`: principals of the trusted account; with MFA when `mfa_max_age` is set.

    In an Allow statement a plain `Bool` is the safe choice: when the MFA key is absent (long-term
    keys), the condition is false and nothing is allowed. BoolIfExists here would fail open.
    """
    actions = ["sts:AssumeRole"]
    if role.source_identity:
        actions.append("sts:SetSourceIdentity")
    if role.tag_session:
        actions.append("sts:TagSession")
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{spec.accounts[role.trusted_account].id}:root"},
        "Action": actions,
    }
    if role.mfa_max_age is not None:
        statement["Condition"] = {
            "Bool": {"aws:MultiFactorAuthPresent": "true"},
            "NumericLessThan": {"aws:MultiFactorAuthAge": str(role.mfa_max_age)},
        }
    return normalize({"Version": "2012-10-17", "Statement": [statement]})


def assume_policy(spec: Spec, role_names: tuple[str, ...]) -> Doc:
    """sts:AssumeRole on exactly the named roles, in every account where each one exists."""
    arns = sorted(role_arn(spec, spec.roles[r], a) for r in role_names for a in spec.roles[r].accounts)
    return normalize(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "AssumeLayerRoles", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arns}
            ],
        }
    )


def self_management_policy(mode: SelfManagement) -> Doc:
    """Let people manage their own password, MFA (and access keys), and deny all else until MFA.

    The Deny uses BoolIfExists: a person signing in for the first time has no MFA yet, and the key
    is absent for long-term access keys, so plain Bool would let those requests through unchecked.
    """
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AllowViewAccountInfo",
            "Effect": "Allow",
            "Action": ["iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices"],
            "Resource": "*",
        },
        {
            "Sid": "AllowManageOwnPasswords",
            "Effect": "Allow",
            "Action": ["iam:ChangePassword", "iam:GetUser", "iam:GetLoginProfile"],
            "Resource": _SELF,
        },
        {
            "Sid": "AllowManageOwnVirtualMFADevice",
            "Effect": "Allow",
            "Action": ["iam:CreateVirtualMFADevice", "iam:DeleteVirtualMFADevice"],
            "Resource": "arn:aws:iam::*:mfa/*",
        },
        {
            "Sid": "AllowManageOwnUserMFA",
            "Effect": "Allow",
            "Action": [
                "iam:DeactivateMFADevice",
                "iam:EnableMFADevice",
                "iam:ListMFADevices",
                "iam:ResyncMFADevice",
            ],
            "Resource": _SELF,
        },
    ]
    if mode is SelfManagement.ENFORCE_MFA:
        statements.append(
            {
                "Sid": "AllowManageOwnAccessKeys",
                "Effect": "Allow",
                "Action": [
                    "iam:CreateAccessKey",
                    "iam:DeleteAccessKey",
                    "iam:ListAccessKeys",
                    "iam:UpdateAccessKey",
                    "iam:GetAccessKeyLastUsed",
                ],
                "Resource": _SELF,
            }
        )
    statements.append(
        {
            "Sid": "DenyAllExceptListedIfNoMFA",
            "Effect": "Deny",
            "NotAction": [
                "iam:CreateVirtualMFADevice",
                "iam:EnableMFADevice",
                "iam:GetUser",
                "iam:ChangePassword",
                "iam:GetAccountPasswordPolicy",
                "iam:ListMFADevices",
                "iam:ListVirtualMFADevices",
                "iam:ResyncMFADevice",
                "sts:GetSessionToken",
            ],
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        }
    )
    return normalize({"Version": "2012-10-17", "Statement": statements})


def desired_state(spec: Spec, account: str) -> AccountState:
    """What `account` should hold according to the spec."""
    acc = spec.accounts[account]
    owner = {OWNER_TAG: spec.project}
    state = AccountState(account_id=acc.id, alias=acc.alias, password_policy=acc.password_policy)
    for role in spec.roles.values():
        if account not in role.accounts:
            continue
        state.roles[role.name] = RoleState(
            name=role.name,
            path=role.path,
            trust=trust_policy(spec, role),
            max_session_duration=role.max_session_duration,
            description=role.description,
            permissions_boundary=role.permissions_boundary,
            attached=frozenset(role.policies),
            inline={k: normalize(v) for k, v in role.inline_policies.items()},
            tags={**role.tags, **owner},
        )
    if account != spec.people_account:
        return state
    for pol in spec.policies.values():
        state.policies[pol.name] = PolicyState(
            name=pol.name,
            path=pol.path,
            description=f"{pol.description} {policy_marker(spec.project)}".strip(),
            document=normalize(pol.document),
            arn=spec.policy_arn(pol.name),
        )
    for group in spec.groups.values():
        inline = {k: normalize(v) for k, v in group.inline_policies.items()}
        if group.assume:
            inline[ASSUME_POLICY_NAME] = assume_policy(spec, group.assume)
        if group.self_management is not SelfManagement.NONE:
            inline[SELF_MANAGEMENT_POLICY_NAME] = self_management_policy(group.self_management)
        state.groups[group.name] = GroupState(
            name=group.name,
            path=group.path,
            attached=frozenset(spec.policy_arn(p) for p in group.policies),
            inline=inline,
            owner=spec.project,
            members=frozenset(u.name for u in spec.users.values() if group.name in u.groups),
        )
    for user in spec.users.values():
        state.users[user.name] = UserState(
            name=user.name,
            path=user.path,
            tags={**user.tags, **owner},
            groups=frozenset(user.groups),
            login_profile=user.console,
            access_keys=(AccessKey(id="", active=True),) if user.access_key else (),
        )
    return state

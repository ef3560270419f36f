"""Render the spec into the state each account should have, in the live state's vocabulary.

This is where the spec's shorthands become IAM documents: the trust policy of each role, the
assume-role policy of each group, the self-management policy, the ownership tags and markers.
Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from iamlayer.plan.ci import OperatorPolicies, ci_providers, ci_roles
from iamlayer.plan.signin import SIGNIN_POLICY_NAME, signin_policy
from iamlayer.spec.model import Grant, Offboarding, Role, SelfManagement, Spec
from iamlayer.spec.organization import placeholder_view, unit_org_path
from iamlayer.state.model import (
    GRANTS_POLICY_NAME,
    OFFBOARDED_POLICY_NAME,
    OWNER_TAG,
    AccessKey,
    AccountState,
    Doc,
    GroupState,
    PolicyState,
    RoleState,
    UserState,
    policy_marker,
    tag_manifest,
)
from iamlayer.state.normalize import normalize

ASSUME_POLICY_NAME = "assume-roles"
SELF_MANAGEMENT_POLICY_NAME = "self-management"

#: The caller's own user, with or without a path. IAM ARNs carry the path (user/people/jane.doe), and
#: `${aws:username}` is the bare name, so `user/${aws:username}` alone never matches a user with a
#: path. The second pattern needs a `/` right before the name: user `doe` matches user/doe and
#: user/people/doe (the same user: names are unique whatever the path), never user/jane.doe.
SELF_USER_ARNS = ("arn:aws:iam::*:user/${aws:username}", "arn:aws:iam::*:user/*/${aws:username}")
#: The caller's own virtual MFA device: the one named after them, at the default path "/".
#: `iamlayer mfa enable` and `iamlayer onboard` name devices this way.
SELF_MFA_ARN = "arn:aws:iam::*:mfa/${aws:username}"


def role_arn(spec: Spec, role: Role, account: str) -> str:
    """The ARN `role` has in `account` (an account of the spec)."""
    return f"arn:aws:iam::{spec.accounts[account].id}:role{role.path}{role.name}"


def trust_policy(spec: Spec, role: Role) -> Doc:
    """Who may assume `role`: its verbatim `trust_policy`, or the one rendered by `trust_document`
    from the trusted account and the role's MFA and session settings."""
    if role.trust_policy is not None:
        doc = normalize(role.trust_policy)
    else:
        doc = trust_document(
            spec.accounts[role.trusted_account].id,
            mfa_max_age=role.mfa_max_age,
            source_identity=role.source_identity,
            tag_session=role.tag_session,
            named_sessions=role.trusted_account == spec.people_account,
        )
    if role.entitled:
        doc = normalize({**doc, "Statement": [*doc["Statement"], ACCOUNT_ACCESS_TRUST]})
    return doc


#: what the account access manager needs of a role it entitles people to: it assumes the role for
#: them, sets the context (which Identity Center user) and tags the session (AWS's documented trust)
ACCOUNT_ACCESS_TRUST: dict[str, Any] = {
    "Sid": "AccountAccessManager",
    "Effect": "Allow",
    "Principal": {"Service": "account-access.amazonaws.com"},
    "Action": ["sts:AssumeRole", "sts:SetContext", "sts:TagSession"],
}


#: The session of a person must be named after their IAM user: then every role session's
#: aws:userid ends with `:<user name>`, which is what an offboarding's Deny matches.
SESSION_NAMED_AFTER_USER: dict[str, Any] = {"StringEquals": {"sts:RoleSessionName": "${aws:username}"}}


def trust_document(
    trusted_account_id: str,
    *,
    mfa_max_age: int | None,
    source_identity: bool,
    tag_session: bool,
    named_sessions: bool = False,
) -> Doc:
    """Principals of the trusted account may assume the role; with MFA when `mfa_max_age` is set;
    with `named_sessions` (roles the people account's users assume), only in a session named after
    the caller's user (`sts:RoleSessionName` = `${aws:username}`).

    In an Allow statement a plain `Bool` is the safe choice: when the MFA key is absent (long-term
    keys), the condition is false and nothing is allowed. BoolIfExists here would fail open.
    sts:SetSourceIdentity and sts:TagSession get a statement of their own without the session
    name condition: AWS documents sts:RoleSessionName for the AssumeRole request only, and they are
    only ever asked within an AssumeRole call, which the first statement already decides.
    """
    actions = ["sts:AssumeRole"]
    extra = [
        a for a, on in (("sts:SetSourceIdentity", source_identity), ("sts:TagSession", tag_session)) if on
    ]
    principal = {"AWS": f"arn:aws:iam::{trusted_account_id}:root"}
    condition: dict[str, Any] = {}
    if mfa_max_age is not None:
        condition = {
            "Bool": {"aws:MultiFactorAuthPresent": "true"},
            "NumericLessThan": {"aws:MultiFactorAuthAge": str(mfa_max_age)},
        }
    statements: list[dict[str, Any]] = []
    if named_sessions:
        statements.append(
            {"Effect": "Allow", "Principal": principal, "Action": actions,
             "Condition": {**condition, **SESSION_NAMED_AFTER_USER}}
        )  # fmt: skip
        actions = extra
    else:
        actions += extra
    if actions:
        statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": actions}
        if condition:
            statement["Condition"] = condition
        statements.append(statement)
    return normalize({"Version": "2012-10-17", "Statement": statements})


#: A condition block of an assume-roles statement, e.g. {"StringEquals": {"aws:ResourceAccount": [...]}}
Condition = dict[str, dict[str, Any]]


def assume_policy(spec: Spec, role_names: tuple[str, ...]) -> Doc:
    """sts:AssumeRole on exactly the named roles, in exactly the accounts where each one is.

    Each role is named once, in every account (`arn:aws:iam::*:role/<path><name>`), and the
    accounts are stated by condition keys AWS puts in the request context of sts:AssumeRole
    (`role_conditions`), so the policy does not grow with the number of accounts an OU selector or
    `organization: true` selects: 10 or 10,000 accounts, the same size.
    """
    grants: list[tuple[str, Condition]] = []
    for name in role_names:
        role = spec.roles[name]
        arn = f"arn:aws:iam::*:role{role.path}{role.name}"
        grants += [(arn, cond) for cond in role_conditions(spec, role)]
    return assume_document(grants)


def _by_account(arn: str, cond: Condition) -> list[str] | None:
    """The account ids of a grant that names its accounts one by one, else None."""
    if list(cond) == ["StringEquals"] and list(cond["StringEquals"]) == ["aws:ResourceAccount"]:
        return list(cond["StringEquals"]["aws:ResourceAccount"])
    return None


def role_conditions(spec: Spec, role: Role) -> list[Condition]:
    """The conditions that hold for a request on `role` exactly in the accounts where it is.

    - accounts named one by one: `aws:ResourceAccount` is one of their ids;
    - `all` in a layer whose accounts come from the organization: `aws:ResourceOrgID` is the
      organization's, and `aws:ResourceAccount` none of its accounts outside the layer (excluded,
      suspended);
    - OU selectors: one of `aws:ResourceOrgPaths` (the path of ids of the account's parent OU)
      matches `<OU's path>/*` (recursive) or is the OU's path (`recursive: false`), and
      `aws:ResourceAccount` is none of the accounts there outside the selection (`exclude:`...);
      accounts named beside selectors get a statement of their own.
    Until the organization is read (validate), OU paths are placeholders of the usual length.

    AWS documents aws:ResourceAccount as in the request context of most actions (sts:AssumeRole
    among them), and aws:ResourceOrgID / aws:ResourceOrgPaths as there whenever the resource's
    account is in an organization ("AWS global condition context keys", Properties of the
    resource: docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
    #condition-keys-resource-properties). aws:ResourceOrgPaths is multivalued, hence
    ForAnyValue; the others are single-valued.
    """
    ids = {spec.accounts[a].id for a in role.accounts if a in spec.accounts}
    sel = role.selection
    if sel is None or not (sel.every or sel.units):
        return [{"StringEquals": {"aws:ResourceAccount": sorted(ids)}}] if ids else []
    view = spec.organization or placeholder_view()
    if sel.every:
        cond: Condition = {"StringEquals": {"aws:ResourceOrgID": view.id}}
        matched = {m.id for m in view.members}
    else:
        patterns = sorted({unit_org_path(view, u) + ("*" if u.recursive else "") for u in sel.units})
        cond = {"ForAnyValue:StringLike": {"aws:ResourceOrgPaths": patterns}}
        matched = set()
        for u in sel.units:
            unit = view.unit(u.path)
            if unit is not None:
                matched |= {m.id for m in view.members_of(unit, recursive=u.recursive)}
    outside = sorted(matched - ids)
    if outside:
        cond["StringNotEquals"] = {"aws:ResourceAccount": outside}
    out = [cond]
    if spec.organization is not None:
        named = sorted(ids - matched)
    else:
        named = sorted(spec.accounts[n].id for n in sel.names if n in spec.accounts)
    if named and not sel.every:
        out.append({"StringEquals": {"aws:ResourceAccount": named}})
    return out


def assume_document(grants: Iterable[tuple[str, Condition]]) -> Doc:
    """The assume-roles policy of a group: sts:AssumeRole on each (role ARN, condition) of
    `grants`, one statement per distinct condition listing every role ARN it applies to."""
    # Roles of one IAM name in accounts named one by one (`name:` in the spec) are one grant.
    named: dict[str, set[str]] = {}
    merged: list[tuple[str, Condition]] = []
    for arn, cond in grants:
        ids = _by_account(arn, cond)
        if ids is None:
            merged.append((arn, cond))
        else:
            named.setdefault(arn, set()).update(ids)
    merged += [(arn, {"StringEquals": {"aws:ResourceAccount": sorted(ids)}}) for arn, ids in named.items()]
    by_condition: dict[str, tuple[Condition, set[str]]] = {}
    for arn, cond in merged:
        key = json.dumps(cond, sort_keys=True)
        by_condition.setdefault(key, (cond, set()))[1].add(arn)
    statements = []
    for n, key in enumerate(sorted(by_condition)):
        cond, arns = by_condition[key]
        statements.append(
            {
                "Sid": f"AssumeLayerRoles{n + 1 if n else ''}",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": sorted(arns),
                "Condition": cond,
            }
        )
    return normalize({"Version": "2012-10-17", "Statement": statements})


def account_grants(role_arns: Iterable[str]) -> list[tuple[str, Condition]]:
    """The grants of `assume_document` for roles named by their ARNs in each account (what the
    importer compares live policies against): each role in every account, with the account's id."""
    out: list[tuple[str, Condition]] = []
    for arn in role_arns:
        _, _, _, _, account, resource = arn.split(":", 5)
        out.append((f"arn:aws:iam::*:{resource}", {"StringEquals": {"aws:ResourceAccount": [account]}}))
    return out


def self_management_policy(mode: SelfManagement) -> Doc:
    """Let people manage their own password, MFA (and access keys), and deny all else until MFA.

    What a person may do before they have MFA is exactly what enrolling needs: the first-sign-in
    password change, creating, enabling (and, when enabling failed, deleting) their own virtual
    MFA device, and sts:GetSessionToken. Everything else, access keys included, needs MFA.

    Compared with AWS's example "Allows MFA-authenticated IAM users to manage their own credentials
    on the Security credentials page" (IAM User Guide, reference_policies_examples_aws_my-sec-creds-
    self-manage; its earlier form is in github.com/awsdocs/iam-user-guide), on purpose:

    - Own-user statements name both SELF_USER_ARNS, not only `user/${aws:username}`: AWS's form
      denies everything to a user with a `path:` (their ARN is user/<path>/<name>).
    - iam:ChangePassword and iam:GetAccountPasswordPolicy are exempt from the MFA Deny. iamlayer
      creates passwords with PasswordResetRequired, and a new person has no MFA yet: without this
      their first sign-in cannot complete. AWS's page names this very addition as the way to allow
      it. They still only reach their own user (AllowManageOwnPasswords).
    - iam:DeleteVirtualMFADevice is allowed without MFA on the caller's own device only. AWS's
      current example leaves delete out and its earlier form required MFA for it, so a person whose
      first `mfa enable` failed (a mistyped code) could never clean up their unassigned device, and
      every retry failed with EntityAlreadyExists. Safe: AWS refuses to delete a device that is
      still assigned (DeleteConflict), and iam:DeactivateMFADevice stays MFA-only, so a stolen
      password or key cannot remove an enabled device. A second Deny keeps the exemption to the
      caller's own device whatever other policies the person has.
    - iam:CreateVirtualMFADevice is limited to the device named after the caller (as in AWS's
      earlier example; the current one allows any name, mfa/*). Then a person can delete every
      device they can create, and nobody can squat the name of someone else's future device. In
      the console, people name the device exactly as their user name.
    - iam:GetLoginProfile (read own password status) is allowed with MFA; iam:GetAccountSummary,
      iam:ListUsers, signing certificates, SSH keys and CodeCommit Git credentials are left out:
      nothing in this layer uses them.
    - `restricted` leaves out AllowManageOwnAccessKeys.

    The Deny uses BoolIfExists: a person signing in for the first time has no MFA yet, and the key
    is absent for long-term access keys, so plain Bool would let those requests through unchecked.
    sts:GetCallerIdentity needs no permission and cannot be denied, so it is not listed.
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
            "Resource": list(SELF_USER_ARNS),
        },
        {
            "Sid": "AllowManageOwnVirtualMFADevice",
            "Effect": "Allow",
            "Action": ["iam:CreateVirtualMFADevice", "iam:DeleteVirtualMFADevice"],
            "Resource": SELF_MFA_ARN,
        },
        {
            "Sid": "AllowManageOwnUserMFA",
            "Effect": "Allow",
            "Action": [
                "iam:DeactivateMFADevice",
                "iam:EnableMFADevice",
                "iam:GetMFADevice",
                "iam:ListMFADevices",
                "iam:ResyncMFADevice",
            ],
            "Resource": list(SELF_USER_ARNS),
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
                "Resource": list(SELF_USER_ARNS),
            }
        )
    no_mfa = {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
    statements += [
        {
            "Sid": "DenyAllExceptListedIfNoMFA",
            "Effect": "Deny",
            "NotAction": [
                "iam:ChangePassword",
                "iam:CreateVirtualMFADevice",
                "iam:DeleteVirtualMFADevice",
                "iam:EnableMFADevice",
                "iam:GetAccountPasswordPolicy",
                "iam:GetMFADevice",
                "iam:GetUser",
                "iam:ListMFADevices",
                "iam:ListVirtualMFADevices",
                "iam:ResyncMFADevice",
                "sts:GetSessionToken",
            ],
            "Resource": "*",
            "Condition": no_mfa,
        },
        {
            "Sid": "DenyDeletingOthersMFADeviceIfNoMFA",
            "Effect": "Deny",
            "Action": "iam:DeleteVirtualMFADevice",
            "NotResource": SELF_MFA_ARN,
            "Condition": no_mfa,
        },
    ]
    return normalize({"Version": "2012-10-17", "Statement": statements})


def grant_sid(grant: Grant, taken: set[str]) -> str:
    """`Grant<reason>`: the reason in the statement id, in the letters and digits a Sid allows
    (INC-4521 -> GrantINC4521); a number is added when another grant took it."""
    return unique_sid("Grant", grant.reason, taken)


def unique_sid(prefix: str, text: str, taken: set[str]) -> str:
    """`<prefix><text>` in the letters and digits a Sid allows (INC-4521 -> INC4521), with a
    number added when another statement of the policy took it; recorded in `taken`."""
    base = prefix + re.sub(r"[^A-Za-z0-9]", "", text)
    sid, n = base, 1
    while sid in taken:
        n += 1
        sid = f"{base}{n}"
    taken.add(sid)
    return sid


def grants_policy(spec: Spec, user: str, now: datetime) -> Doc | None:
    """The inline policy of `user`'s grants still active at `now`, or None when there is none.

    One statement per grant: sts:AssumeRole on the role in each of its accounts, while
    `DateLessThan aws:CurrentTime` holds, so AWS ends the grant at `until` whether or not iamlayer
    runs again. An expired grant renders nothing: the plan deletes the statement (or the policy).
    """
    taken: set[str] = set()
    statements = [
        {
            "Sid": grant_sid(g, taken),
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": sorted(role_arn(spec, spec.roles[g.assume], a) for a in g.accounts),
            "Condition": {"DateLessThan": {"aws:CurrentTime": g.until_text}},
        }
        for g in spec.active_grants(now)
        if g.who == user
    ]
    return normalize({"Version": "2012-10-17", "Statement": statements}) if statements else None


def offboarded_statements(entries: Iterable[Offboarding], max_session: int, now: datetime) -> list[Doc]:
    """The Deny statements for the sessions of people who left (`entries`, the ones that concern
    one role or permission set, whose longest session is `max_session` s), while any may live.

    A role session of a person has aws:userid `<role id>:<session name>`, and the layer's trust
    makes the session name the person's user name (SESSION_NAMED_AFTER_USER); an Identity
    Center session's name is the Identity Center user name. aws:TokenIssueTime is when the
    session was issued: sessions issued at or after `at` (a new hire's, a re-hire's) are not
    denied. Once `at` + `max_session` has passed, no such session is left and nothing renders.
    """
    taken: set[str] = set()
    return [
        {
            "Sid": unique_sid("Offboarded", e.user, taken),
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "StringLike": {"aws:userid": f"*:{e.user}"},
                "DateLessThan": {"aws:TokenIssueTime": e.at_text},
            },
        }
        for e in entries
        if e.active(now, max_session)
    ]


def offboarded_policy(spec: Spec, role_key: str, account: str, now: datetime) -> Doc | None:
    """The `iamlayer-offboarded` inline policy of role `role_key` in `account` at `now`, or None."""
    role = spec.roles[role_key]
    entries = [e for e in spec.offboarded if (role_key, account) in e.roles]
    statements = offboarded_statements(entries, role.max_session_duration, now)
    return normalize({"Version": "2012-10-17", "Statement": statements}) if statements else None


def desired_state(
    spec: Spec, account: str, *, now: datetime | None = None, operator: OperatorPolicies | None = None
) -> AccountState:
    """What `account` should hold according to the spec; `now` (default: the clock) decides which
    grants have expired. `operator`: the operator policies the CI roles of `ci:` get inline
    (iamlayer.plan.ci); the planner passes them, analyses of trust alone need not."""
    acc = spec.accounts[account]
    owner = {OWNER_TAG: spec.project}
    state = AccountState(account_id=acc.id, alias=acc.alias, password_policy=acc.password_policy)
    state.oidc_providers = ci_providers(spec, account)
    state.roles.update(ci_roles(spec, account, operator))
    now = now or datetime.now(UTC)
    for key, role in spec.roles.items():
        if account not in role.accounts:
            continue
        inline = {k: normalize(v) for k, v in role.inline_policies.items()}
        if (offboarded := offboarded_policy(spec, key, account, now)) is not None:
            inline[OFFBOARDED_POLICY_NAME] = offboarded
        state.roles[role.name] = RoleState(
            name=role.name,
            path=role.path,
            trust=trust_policy(spec, role),
            max_session_duration=role.max_session_duration,
            description=role.description,
            permissions_boundary=role.permissions_boundary,
            attached=frozenset(role.policies),
            inline=inline,
            tags={**role.tags, **tag_manifest(role.tags), **owner},
        )
    if spec.identity_center is not None:
        # The customer-managed policies an Identity Center permission set references must exist
        # in each account it is assigned in: iamlayer makes them there from `policies:`.
        for name in spec.identity_center.policies_in(account):
            pol = spec.policies[name]
            state.policies[name] = PolicyState(
                name=name,
                path=pol.path,
                description=f"{pol.description} {policy_marker(spec.project)}".strip(),
                document=normalize(pol.document),
                arn=f"arn:aws:iam::{acc.id}:policy{pol.path}{name}",
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
        if (signin := signin_policy(spec, group)) is not None:
            inline[SIGNIN_POLICY_NAME] = signin
        state.groups[group.name] = GroupState(
            name=group.name,
            path=group.path,
            attached=frozenset(spec.policy_arn(p) for p in group.policies),
            inline=inline,
            owner=spec.project,
            members=frozenset(u.name for u in spec.users.values() if group.name in u.groups),
        )
    for user in spec.users.values():
        kept = user.keep_credentials
        state.users[user.name] = UserState(
            name=user.name,
            path=user.path,
            tags={**user.tags, **tag_manifest(user.tags), **owner},
            groups=frozenset(user.groups),
            # `credentials: keep`: nothing is wanted, so nothing is compared (see diff._credentials).
            login_profile=None if kept else user.console,
            access_keys=None if kept else ((AccessKey(id="", active=True),) if user.access_key else ()),
            credentials_kept=kept,
        )
    _add_grants(spec, state, now)
    return state


def _add_grants(spec: Spec, people: AccountState, now: datetime) -> None:
    for name, user in people.users.items():
        if (doc := grants_policy(spec, name, now)) is not None:
            user.inline[GRANTS_POLICY_NAME] = doc

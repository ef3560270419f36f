"""The grant `aws login` needs, for the people whose `cli:` is `login` (pure, no I/O).

`aws login` (AWS CLI 2.32) turns a console sign-in into CLI credentials through the AWS Sign-in
service's OAuth2 flow: signin:AuthorizeOAuth2Access when the person approves in the browser,
signin:CreateOAuth2Token when the CLI redeems the code and, every 15 minutes, refreshes the
credentials. Both are on the public CLI client, the resource AWS's managed policy
SignInLocalDevelopmentAccess names.

The grant is an inline policy of each group with such members. When every member of the group
uses `login`, it names no one; otherwise an `aws:username` condition keeps it to those who do,
so a person with `cli: key` in the same group does not get it.

The self-management policy (`enforce_mfa`, `restricted`) denies every action but enrolment until
the console session has MFA, the signin actions included: `aws login` works after a sign-in with
MFA, never before. tests/unit/test_signin_grant.py evaluates both.
"""

from __future__ import annotations

from typing import Any

from iamlayer.spec.model import CliMode, Group, Spec
from iamlayer.state.model import Doc
from iamlayer.state.normalize import normalize

SIGNIN_POLICY_NAME = "aws-login"
SIGNIN_ACTIONS = ("signin:AuthorizeOAuth2Access", "signin:CreateOAuth2Token")
#: the AWS CLI's public OAuth2 client, in every region and account (AWS's managed policy names it so)
SIGNIN_RESOURCE = "arn:aws:signin:*:*:oauth2/public-client/*"


def login_members(spec: Spec, group: Group) -> tuple[str, ...]:
    """The members of `group` whose `cli:` (their own, else their groups') is `login`."""
    return tuple(
        u.name for u in spec.users.values() if group.name in u.groups and spec.cli_of(u.name) is CliMode.LOGIN
    )


def signin_policy(spec: Spec, group: Group) -> Doc | None:
    """The group's `aws-login` inline policy, or None when no member uses `aws login`."""
    members = [u.name for u in spec.users.values() if group.name in u.groups]
    logins = login_members(spec, group)
    if not logins:
        return None
    statement: dict[str, Any] = {
        "Sid": "AllowAwsLogin",
        "Effect": "Allow",
        "Action": list(SIGNIN_ACTIONS),
        "Resource": SIGNIN_RESOURCE,
    }
    if len(logins) < len(members):
        statement["Condition"] = {"StringEquals": {"aws:username": sorted(logins)}}
    return normalize({"Version": "2012-10-17", "Statement": [statement]})

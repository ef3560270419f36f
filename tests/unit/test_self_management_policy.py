"""The self-management policy iamlayer renders, evaluated as AWS would (principalmapper, locally).

Each row is one request a member of an `enforce_mfa` group makes, with or without MFA, and what
AWS must answer. The same table run against the policy iamlayer rendered before issue 9 shows the
table can fail: that policy denied what the person's path needs (see `BEFORE_ISSUE_9`).
"""

from __future__ import annotations

from typing import Any

import pytest

from iamlayer.plan.desired import self_management_policy
from iamlayer.spec.model import SelfManagement
from policy_history import BEFORE_ISSUE_9
from policy_oracle import EVALUATORS, Evaluator, Identity, Request, World

ACCOUNT = "222222222222"


def user_arn(name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCOUNT}:user{path}{name}"


def mfa_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:mfa/{name}"


JANE = user_arn("jane.doe")
ANA = user_arn("ana.lopez", "/people/")
DOE = user_arn("doe", "/staff/")

# (who, action, resource, mfa, allowed)
CASES: list[tuple[str, str, str, bool, bool]] = [
    # Enrolling MFA without MFA: own user, own device, with and without a path.
    (JANE, "iam:ListMFADevices", JANE, False, True),
    (JANE, "iam:CreateVirtualMFADevice", mfa_arn("jane.doe"), False, True),
    (JANE, "iam:EnableMFADevice", JANE, False, True),
    (ANA, "iam:ListMFADevices", ANA, False, True),
    (ANA, "iam:CreateVirtualMFADevice", mfa_arn("ana.lopez"), False, True),
    (ANA, "iam:EnableMFADevice", ANA, False, True),
    (ANA, "iam:GetUser", ANA, False, True),
    # First sign-in: the forced password change works before MFA exists.
    (JANE, "iam:ChangePassword", JANE, False, True),
    (ANA, "iam:ChangePassword", ANA, False, True),
    (JANE, "iam:GetAccountPasswordPolicy", "*", False, True),
    # Clean-up after a failed enable: one's own unassigned device, without MFA; nobody else's.
    (JANE, "iam:DeleteVirtualMFADevice", mfa_arn("jane.doe"), False, True),
    (ANA, "iam:DeleteVirtualMFADevice", mfa_arn("ana.lopez"), False, True),
    (JANE, "iam:DeleteVirtualMFADevice", mfa_arn("ana.lopez"), False, False),
    (JANE, "iam:DeleteVirtualMFADevice", mfa_arn("ana.lopez"), True, False),
    (JANE, "iam:CreateVirtualMFADevice", mfa_arn("ana.lopez"), False, False),
    (JANE, "iam:CreateVirtualMFADevice", mfa_arn("some-other-name"), True, False),
    # Removing an enabled device stays MFA-only (a stolen password or key cannot do it).
    (JANE, "iam:DeactivateMFADevice", JANE, False, False),
    (JANE, "iam:DeactivateMFADevice", JANE, True, True),
    (ANA, "iam:DeactivateMFADevice", ANA, True, True),
    # Access keys: MFA first (console path: enrol MFA, sign in again, then create a key).
    (JANE, "iam:CreateAccessKey", JANE, False, False),
    (JANE, "iam:CreateAccessKey", JANE, True, True),
    (ANA, "iam:CreateAccessKey", ANA, True, True),
    (ANA, "iam:ListAccessKeys", ANA, True, True),
    # Own user only, exact name: doe is not jane.doe, with or without paths.
    (DOE, "iam:ListMFADevices", DOE, False, True),
    (DOE, "iam:ListMFADevices", JANE, False, False),
    (DOE, "iam:CreateAccessKey", JANE, True, False),
    (DOE, "iam:CreateAccessKey", user_arn("jane.doe", "/staff/"), True, False),
    (JANE, "iam:EnableMFADevice", ANA, False, False),
    (ANA, "iam:CreateAccessKey", JANE, True, False),
    (DOE, "iam:DeleteVirtualMFADevice", mfa_arn("jane.doe"), False, False),
    # Everything else waits for MFA (and is not granted by this policy anyway).
    (JANE, "s3:ListAllMyBuckets", "*", True, False),
    (JANE, "iam:GetLoginProfile", JANE, False, False),
    (JANE, "iam:GetLoginProfile", JANE, True, True),
]


def world(doc: dict[str, Any]) -> World:
    group = f"arn:aws:iam::{ACCOUNT}:group/devops"
    return World(
        identities={
            arn: Identity(arn=arn, groups=((group, (("self-management", doc),)),)) for arn in (JANE, ANA, DOE)
        }
    )


def decide_all(evaluate: Evaluator, doc: dict[str, Any]) -> list[str]:
    """The rows `evaluate` answers differently from CASES, as readable lines."""
    w = world(doc)
    wrong = []
    for who, action, resource, mfa, allowed in CASES:
        d = evaluate(Request(who, action, resource, mfa, 0 if mfa else None), w)
        if d.allowed != allowed:
            name = who.rsplit("/", 1)[-1]
            wrong.append(
                f"{name} {action} {resource} mfa={mfa}: expected {'allow' if allowed else 'deny'}, got "
                f"{'allow' if d.allowed else 'deny'} ({d.why})"
            )
    return wrong


@pytest.mark.parametrize("evaluator", list(EVALUATORS))
def test_enforce_mfa_policy_lets_people_enrol_and_nothing_more(evaluator: str) -> None:
    doc = self_management_policy(SelfManagement.ENFORCE_MFA)
    assert decide_all(EVALUATORS[evaluator], doc) == []


@pytest.mark.parametrize("evaluator", list(EVALUATORS))
def test_restricted_policy_never_allows_access_keys(evaluator: str) -> None:
    doc = self_management_policy(SelfManagement.RESTRICTED)
    w, decide = world(doc), EVALUATORS[evaluator]
    assert not decide(Request(JANE, "iam:CreateAccessKey", JANE, True, 0), w).allowed
    assert decide(Request(ANA, "iam:EnableMFADevice", ANA, False), w).allowed


@pytest.mark.parametrize("evaluator", list(EVALUATORS))
def test_the_table_fails_on_the_policy_before_issue_9(evaluator: str) -> None:
    wrong = "\n".join(decide_all(EVALUATORS[evaluator], BEFORE_ISSUE_9))
    # A user with a path could not enrol at all; nobody could clean up a failed enrolment; anyone
    # could delete anyone's unassigned device (with MFA) or squat their device name.
    assert "ana.lopez iam:ListMFADevices" in wrong and "ana.lopez iam:EnableMFADevice" in wrong
    assert f"jane.doe iam:DeleteVirtualMFADevice {mfa_arn('jane.doe')} mfa=False" in wrong
    assert f"jane.doe iam:DeleteVirtualMFADevice {mfa_arn('ana.lopez')} mfa=True" in wrong
    assert f"jane.doe iam:CreateVirtualMFADevice {mfa_arn('ana.lopez')} mfa=False" in wrong

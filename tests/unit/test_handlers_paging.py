"""Delete handlers against AWS page sizes and propagation, with botocore's Stubber.

moto answers every list in one page and never answers DeleteConflict after a detach, so the
Stubber stands in for AWS: each list comes in two pages (IsTruncated + Marker, as AWS answers
more than 100 items), and the final delete first answers DeleteConflict, as IAM does while the
detaches have not reached every endpoint. Every queued answer must be consumed, in order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import Stubber

from iamlayer.apply import handlers
from iamlayer.apply.handlers import HandlerContext
from iamlayer.aws.read import confirm_user
from iamlayer.aws.session import AccountClients
from iamlayer.plan.model import Action, Address, Change, Kind
from iamlayer.state.model import UserState

ACCOUNT = "222222222222"
ARN = f"arn:aws:iam::{ACCOUNT}:policy/billing-read"
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IAMLAYER_CONSISTENCY_TIMEOUT", "5")


def two_pages(
    stub: Stubber, method: str, key: str, first: list[Any], second: list[Any], **params: Any
) -> None:
    """Queue `method` answering `first` with a Marker, then `second` for that Marker."""
    stub.add_response(method, {key: first, "IsTruncated": True, "Marker": "m1"}, params)
    stub.add_response(method, {key: second, "IsTruncated": False}, {**params, "Marker": "m1"})


def conflict_then_ok(stub: Stubber, method: str, params: dict[str, Any]) -> None:
    stub.add_client_error(
        method,
        "DeleteConflict",
        "Cannot delete entity, must detach all policies first.",
        409,
        expected_params=params,
    )
    stub.add_response(method, {}, params)


def group_user(name: str) -> dict[str, Any]:
    return {
        "Path": "/",
        "UserName": name,
        "UserId": "AIDA" + name.upper().ljust(17, "X"),
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "CreateDate": WHEN,
    }


def attached(arn: str) -> dict[str, str]:
    return {"PolicyName": arn.rsplit("/", 1)[-1], "PolicyArn": arn}


def delete(kind: Kind, name: str, before: dict[str, Any] | None = None) -> Change:
    return Change(Address("security", kind, name), Action.DELETE, before or {}, None)


def test_group_delete_removes_every_member_and_policy_across_pages(
    handler_ctx: HandlerContext, iam_stub: Stubber
) -> None:
    group = {
        "Path": "/",
        "GroupName": "big",
        "GroupId": "AGPAXXXXXXXXXXXXXXXX",
        "Arn": f"arn:aws:iam::{ACCOUNT}:group/big",
        "CreateDate": WHEN,
    }
    iam_stub.add_response(
        "get_group",
        {"Group": group, "Users": [group_user("u1")], "IsTruncated": True, "Marker": "m1"},
        {"GroupName": "big"},
    )
    iam_stub.add_response(
        "get_group",
        {"Group": group, "Users": [group_user("u2")], "IsTruncated": False},
        {"GroupName": "big", "Marker": "m1"},
    )
    p1, p2 = "arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/SecurityAudit"
    two_pages(
        iam_stub,
        "list_attached_group_policies",
        "AttachedPolicies",
        [attached(p1)],
        [attached(p2)],
        GroupName="big",
    )
    two_pages(
        iam_stub, "list_group_policies", "PolicyNames", ["iamlayer-owner-acme"], ["extra"], GroupName="big"
    )
    for u in ("u1", "u2"):
        iam_stub.add_response("remove_user_from_group", {}, {"GroupName": "big", "UserName": u})
    for p in (p1, p2):
        iam_stub.add_response("detach_group_policy", {}, {"GroupName": "big", "PolicyArn": p})
    for p in ("extra", "iamlayer-owner-acme"):  # the ownership marker last
        iam_stub.add_response("delete_group_policy", {}, {"GroupName": "big", "PolicyName": p})
    conflict_then_ok(iam_stub, "delete_group", {"GroupName": "big"})
    handlers.delete_group(handler_ctx, delete(Kind.GROUP, "big", {"marker": "iamlayer-owner-acme"}))


def test_policy_delete_detaches_every_entity_across_pages(
    handler_ctx: HandlerContext, iam_stub: Stubber
) -> None:
    iam_stub.add_response(
        "list_entities_for_policy",
        {
            "PolicyGroups": [{"GroupName": "g1"}],
            "PolicyUsers": [{"UserName": "u1"}],
            "PolicyRoles": [],
            "IsTruncated": True,
            "Marker": "m1",
        },
        {"PolicyArn": ARN},
    )
    iam_stub.add_response(
        "list_entities_for_policy",
        {
            "PolicyGroups": [{"GroupName": "g2"}],
            "PolicyUsers": [],
            "PolicyRoles": [{"RoleName": "r1"}],
            "IsTruncated": False,
        },
        {"PolicyArn": ARN, "Marker": "m1"},
    )
    for g in ("g1", "g2"):
        iam_stub.add_response("detach_group_policy", {}, {"GroupName": g, "PolicyArn": ARN})
    iam_stub.add_response("detach_user_policy", {}, {"UserName": "u1", "PolicyArn": ARN})
    iam_stub.add_response("detach_role_policy", {}, {"RoleName": "r1", "PolicyArn": ARN})
    two_pages(
        iam_stub,
        "list_policy_versions",
        "Versions",
        [{"VersionId": "v3", "IsDefaultVersion": True, "CreateDate": WHEN}],
        [{"VersionId": "v2", "IsDefaultVersion": False, "CreateDate": WHEN}],
        PolicyArn=ARN,
    )
    iam_stub.add_response("delete_policy_version", {}, {"PolicyArn": ARN, "VersionId": "v2"})
    conflict_then_ok(iam_stub, "delete_policy", {"PolicyArn": ARN})
    handlers.delete_policy(handler_ctx, delete(Kind.POLICY, "billing-read", {"arn": ARN}))


def test_role_delete_detaches_every_policy_across_pages(
    handler_ctx: HandlerContext, iam_stub: Stubber
) -> None:
    p1, p2 = "arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/SecurityAudit"
    two_pages(
        iam_stub,
        "list_attached_role_policies",
        "AttachedPolicies",
        [attached(p1)],
        [attached(p2)],
        RoleName="Auditor",
    )
    two_pages(iam_stub, "list_role_policies", "PolicyNames", ["a"], ["b"], RoleName="Auditor")
    profile = {
        "Path": "/",
        "InstanceProfileName": "ip2",
        "InstanceProfileId": "AIPAXXXXXXXXXXXXXXXX",
        "Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/ip2",
        "CreateDate": WHEN,
        "Roles": [],
    }
    two_pages(
        iam_stub, "list_instance_profiles_for_role", "InstanceProfiles", [], [profile], RoleName="Auditor"
    )
    for p in (p1, p2):
        iam_stub.add_response("detach_role_policy", {}, {"RoleName": "Auditor", "PolicyArn": p})
    for p in ("a", "b"):
        iam_stub.add_response("delete_role_policy", {}, {"RoleName": "Auditor", "PolicyName": p})
    iam_stub.add_response(
        "remove_role_from_instance_profile", {}, {"RoleName": "Auditor", "InstanceProfileName": "ip2"}
    )
    conflict_then_ok(iam_stub, "delete_role", {"RoleName": "Auditor"})
    handlers.delete_role(handler_ctx, delete(Kind.ROLE, "Auditor"))


def test_user_delete_reads_every_page_and_waits_out_a_propagating_conflict(
    handler_ctx: HandlerContext, iam_stub: Stubber
) -> None:
    user = {"UserName": "jane"}
    iam_stub.add_response("delete_login_profile", {}, user)
    key = {"UserName": "jane", "AccessKeyId": "AKIAXXXXXXXXXXXXXXX2", "Status": "Active", "CreateDate": WHEN}
    two_pages(iam_stub, "list_access_keys", "AccessKeyMetadata", [], [key], **user)
    two_pages(iam_stub, "list_mfa_devices", "MFADevices", [], [], **user)
    g = {
        "Path": "/",
        "GroupName": "g2",
        "GroupId": "AGPAXXXXXXXXXXXXXXXX",
        "Arn": f"arn:aws:iam::{ACCOUNT}:group/g2",
        "CreateDate": WHEN,
    }
    two_pages(iam_stub, "list_groups_for_user", "Groups", [], [g], **user)
    two_pages(iam_stub, "list_attached_user_policies", "AttachedPolicies", [], [attached(ARN)], **user)
    two_pages(iam_stub, "list_user_policies", "PolicyNames", [], ["inline2"], **user)
    two_pages(iam_stub, "list_signing_certificates", "Certificates", [], [], **user)
    two_pages(iam_stub, "list_ssh_public_keys", "SSHPublicKeys", [], [], **user)
    iam_stub.add_response("delete_access_key", {}, {**user, "AccessKeyId": "AKIAXXXXXXXXXXXXXXX2"})
    iam_stub.add_response("remove_user_from_group", {}, {**user, "GroupName": "g2"})
    iam_stub.add_response("detach_user_policy", {}, {**user, "PolicyArn": ARN})
    iam_stub.add_response("delete_user_policy", {}, {**user, "PolicyName": "inline2"})
    iam_stub.add_client_error("delete_user", "DeleteConflict", "must remove", 409, expected_params=user)
    iam_stub.add_response("list_service_specific_credentials", {"ServiceSpecificCredentials": []}, user)
    conflict_then_ok(iam_stub, "delete_user", user)
    handlers.delete_user(handler_ctx, delete(Kind.USER, "jane"))


def test_a_conflict_that_outlasts_the_bound_is_reported(
    handler_ctx: HandlerContext, iam_stub: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IAMLAYER_CONSISTENCY_TIMEOUT", "0.3")
    # Time as the delays slept, not the wall clock: on a loaded machine the clock would end the
    # loop after fewer tries than queued below.
    from iamlayer.aws.retry import Backoff

    defaults = Backoff.__init__.__kwdefaults__
    assert defaults is not None
    monkeypatch.setitem(defaults, "clock", lambda: 0.0)
    monkeypatch.setitem(defaults, "sleep", lambda _delay: None)
    for method in ("list_attached_role_policies", "list_role_policies", "list_instance_profiles_for_role"):
        key = {"list_attached_role_policies": "AttachedPolicies", "list_role_policies": "PolicyNames"}.get(
            method, "InstanceProfiles"
        )
        iam_stub.add_response(method, {key: [], "IsTruncated": False}, {"RoleName": "Auditor"})
    for _ in range(3):  # 0.25 s, then the last 0.05 s up to the bound, then no more
        iam_stub.add_client_error("delete_role", "DeleteConflict", "still attached", 409)
    from iamlayer.errors import AwsError

    with pytest.raises(AwsError, match=r"deleting role Auditor .*DeleteConflict"):
        handlers.delete_role(handler_ctx, delete(Kind.ROLE, "Auditor"))


def test_confirm_user_reads_every_page_of_keys(offline_clients: AccountClients, iam_stub: Stubber) -> None:
    iam_stub.add_client_error(
        "get_login_profile", "NoSuchEntity", "none", 404, expected_params={"UserName": "ci"}
    )
    k1 = {"UserName": "ci", "AccessKeyId": "AKIAXXXXXXXXXXXXXXX1", "Status": "Active", "CreateDate": WHEN}
    k2 = {"UserName": "ci", "AccessKeyId": "AKIAXXXXXXXXXXXXXXX2", "Status": "Inactive", "CreateDate": WHEN}
    two_pages(iam_stub, "list_access_keys", "AccessKeyMetadata", [k1], [k2], UserName="ci")
    user = UserState(name="ci")
    confirm_user(offline_clients, ACCOUNT, user)
    assert user.login_profile is False
    assert [(k.id, k.active) for k in user.access_keys or ()] == [
        ("AKIAXXXXXXXXXXXXXXX1", True),
        ("AKIAXXXXXXXXXXXXXXX2", False),
    ]

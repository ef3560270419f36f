"""Identity Center where the emulator cannot go, with botocore's Stubber: asynchronous requests
that stay IN_PROGRESS or end FAILED, ConflictException (a write racing another, or a name taken),
and the calls the emulator lacks: DescribePermissionSetProvisioningStatus, permissions boundaries
of permission sets, UpdateUser and UpdateGroup. (Tags at creation the emulator accepts; it has no
ListTagsForResource, and iamlayer does not read tags back: see iamlayer.state.ic_model.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from iamlayer.apply.executor import execute
from iamlayer.apply.handlers import HANDLERS, HandlerContext
from iamlayer.aws.gateways.identity_center import IdentityCenter
from iamlayer.aws.identity_center import read_identity_center
from iamlayer.aws.session import AccountClients
from iamlayer.errors import ApplyError, AwsError
from iamlayer.plan.model import AccountPlan, Action, Address, Change, Kind, Plan
from iamlayer.state.ic_model import AssignmentReads, AssignmentReadShape, AssignmentState
from iamlayer.state.journal import Journal

INSTANCE = "arn:aws:sso:::instance/ssoins-1234567890abcdef"
STORE = "d-1234567890"
PS_ARN = f"{INSTANCE}/ps-0123456789abcdef"
REQUEST = "b2a4b3a5-1111-2222-3333-444455556666"
ACCOUNT = "333333333333"
GROUP_ID = "90676d1234-0a1b2c3d-1111-2222-3333-444455556666"
USER_ARN = f"arn:aws:identitystore::111111111111:identitystore/{STORE}/user/u-1"
GROUP_ARN = f"arn:aws:identitystore::111111111111:identitystore/{STORE}/group/{GROUP_ID}"
MEMBERSHIP_ARN = f"arn:aws:identitystore::111111111111:identitystore/{STORE}/membership/m-1"


@pytest.fixture
def sso_stub(offline_clients: AccountClients) -> Iterator[Stubber]:
    with Stubber(offline_clients.client("sso-admin")) as stub:
        stub.add_response(
            "list_instances", {"Instances": [{"InstanceArn": INSTANCE, "IdentityStoreId": STORE}]}, {}
        )
        yield stub
        stub.assert_no_pending_responses()


@pytest.fixture
def store_stub(offline_clients: AccountClients) -> Iterator[Stubber]:
    with Stubber(offline_clients.client("identitystore")) as stub:
        yield stub
        stub.assert_no_pending_responses()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def ctx(
    offline_clients: AccountClients,
    sso_stub: Stubber,
    store_stub: Stubber,
    tmp_path: Path,
    sleeps: list[float],
) -> HandlerContext:
    """The handler context of the instance's account, on stubbed clients; polls sleep no time."""
    journal = Journal(tmp_path / "journal.json")
    ic = IdentityCenter(
        offline_clients.sso_admin("us-east-1"),
        offline_clients.identitystore("us-east-1"),
        "in account management (us-east-1)",
        sleep=sleeps.append,
    )
    return HandlerContext("management", "111111111111", "acme", None, None, journal, ic=ic)


def handle(ctx: HandlerContext, change: Change) -> None:
    HANDLERS[(change.address.kind, change.action)].fn(ctx, change)


def assignment(action: Action) -> Change:
    fields = {
        "principal_type": "GROUP",
        "principal": "devops",
        "principal_id": GROUP_ID,
        "permission_set": "DevOps",
        "permission_set_arn": PS_ARN,
        "account_id": ACCOUNT,
    }
    address = Address("management", Kind.IC_ASSIGNMENT, "group/devops", "DevOps@shared")
    return Change(
        address,
        action,
        fields if action is Action.DELETE else None,
        fields if action is Action.CREATE else None,
    )


ASSIGNMENT_PARAMS = {
    "InstanceArn": INSTANCE,
    "TargetId": ACCOUNT,
    "TargetType": "AWS_ACCOUNT",
    "PermissionSetArn": PS_ARN,
    "PrincipalType": "GROUP",
    "PrincipalId": GROUP_ID,
}


def status(state: str, reason: str | None = None) -> dict[str, Any]:
    out = {"Status": state, "RequestId": REQUEST}
    if reason:
        out["FailureReason"] = reason
    return out


def test_an_assignment_in_progress_is_polled_with_backoff_until_it_succeeded(
    ctx: HandlerContext, sso_stub: Stubber, sleeps: list[float]
) -> None:
    sso_stub.add_response(
        "create_account_assignment",
        {"AccountAssignmentCreationStatus": status("IN_PROGRESS")},
        ASSIGNMENT_PARAMS,
    )
    poll = {"InstanceArn": INSTANCE, "AccountAssignmentCreationRequestId": REQUEST}
    sso_stub.add_response(
        "describe_account_assignment_creation_status",
        {"AccountAssignmentCreationStatus": status("IN_PROGRESS")},
        poll,
    )
    sso_stub.add_response(
        "describe_account_assignment_creation_status",
        {"AccountAssignmentCreationStatus": status("SUCCEEDED")},
        poll,
    )
    handle(ctx, assignment(Action.CREATE))
    assert sleeps == [1, 2]  # iamlayer's Backoff: 1, 2, 4, 8, 8... seconds


def test_a_failed_assignment_fails_the_apply_with_aws_reason_and_skips_what_depends_on_it(
    ctx: HandlerContext, sso_stub: Stubber
) -> None:
    """A ConflictException (another write on the permission set) is retried; FAILED is not."""
    sso_stub.add_client_error(
        "create_account_assignment",
        "ConflictException",
        "Request conflicts with an operation in progress on the permission set",
        expected_params=ASSIGNMENT_PARAMS,
    )
    # The confirming read: not assigned yet, so the ConflictException was a race, retried.
    sso_stub.add_response(
        "list_account_assignments",
        {"AccountAssignments": []},
        {"InstanceArn": INSTANCE, "AccountId": ACCOUNT, "PermissionSetArn": PS_ARN},
    )
    sso_stub.add_response(
        "create_account_assignment",
        {"AccountAssignmentCreationStatus": status("IN_PROGRESS")},
        ASSIGNMENT_PARAMS,
    )
    reason = (
        "Received a 404 status error: Not supported policy arn:aws:iam::333333333333:policy/billing-read."
    )
    sso_stub.add_response(
        "describe_account_assignment_creation_status",
        {"AccountAssignmentCreationStatus": status("FAILED", reason)},
        {"InstanceArn": INSTANCE, "AccountAssignmentCreationRequestId": REQUEST},
    )
    later = Change(Address("management", Kind.IC_PROVISION, "DevOps", "shared"), Action.UPDATE, None, {})
    plan = Plan(
        "acme",
        "x",
        "",
        (AccountPlan("management", "111111111111", "", "", "", (assignment(Action.CREATE), later)),),
        "",
    )
    result = execute(plan, {"management": ctx})
    [(failed, message)] = result.failed
    assert failed.address.kind is Kind.IC_ASSIGNMENT
    assert message == (
        "creating the assignment of DevOps in shared to group/devops in account management (us-east-1): "
        f"AWS reports FAILED: {reason}"
    )
    # re-provisioning DevOps to shared waits for the assignment there: skipped, naming it
    assert result.skipped == ((later, failed),) and not result.ok  # the CLI exits 1 on this


def test_a_deletion_in_progress_is_polled_and_a_gone_assignment_is_success(
    ctx: HandlerContext, sso_stub: Stubber, sleeps: list[float]
) -> None:
    sso_stub.add_response(
        "delete_account_assignment",
        {"AccountAssignmentDeletionStatus": status("IN_PROGRESS")},
        ASSIGNMENT_PARAMS,
    )
    sso_stub.add_response(
        "describe_account_assignment_deletion_status",
        {"AccountAssignmentDeletionStatus": status("SUCCEEDED")},
        {"InstanceArn": INSTANCE, "AccountAssignmentDeletionRequestId": REQUEST},
    )
    handle(ctx, assignment(Action.DELETE))
    sso_stub.add_client_error("delete_account_assignment", "ResourceNotFoundException", "no such assignment")
    handle(ctx, assignment(Action.DELETE))  # deleted meanwhile: nothing to do
    assert sleeps == [1]


def test_still_in_progress_after_the_bound_says_so(
    ctx: HandlerContext, sso_stub: Stubber, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Identity Center's requests have a bound of their own (IAMLAYER_IC_TIMEOUT), apart from
    IAM's consistency bound: minutes across many accounts are normal for them."""
    monkeypatch.setenv("IAMLAYER_IC_TIMEOUT", "3")
    monkeypatch.setenv("IAMLAYER_CONSISTENCY_TIMEOUT", "1")
    sso_stub.add_response(
        "create_account_assignment",
        {"AccountAssignmentCreationStatus": status("IN_PROGRESS")},
        ASSIGNMENT_PARAMS,
    )
    for _ in range(2):
        sso_stub.add_response(
            "describe_account_assignment_creation_status",
            {"AccountAssignmentCreationStatus": status("IN_PROGRESS")},
            {"InstanceArn": INSTANCE, "AccountAssignmentCreationRequestId": REQUEST},
        )
    with pytest.raises(
        AwsError, match=f"still IN_PROGRESS after 3 s \\(request {REQUEST}\\); run apply again"
    ):
        handle(ctx, assignment(Action.CREATE))
    assert sleeps == [1, 2]


def test_identity_center_waits_up_to_ten_minutes_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from iamlayer.aws.retry import consistency_timeout, ic_timeout

    monkeypatch.delenv("IAMLAYER_IC_TIMEOUT", raising=False)
    monkeypatch.delenv("IAMLAYER_CONSISTENCY_TIMEOUT", raising=False)
    assert (ic_timeout(), consistency_timeout()) == (600.0, 60.0)
    monkeypatch.setenv("IAMLAYER_IC_TIMEOUT", "90")
    assert ic_timeout() == 90.0


def provision() -> Change:
    return Change(
        Address("management", Kind.IC_PROVISION, "DevOps", "shared"),
        Action.UPDATE,
        None,
        {"permission_set_arn": PS_ARN, "account_id": ACCOUNT},
        note="DevOps changed",
    )


PROVISION_PARAMS = {
    "InstanceArn": INSTANCE,
    "PermissionSetArn": PS_ARN,
    "TargetType": "AWS_ACCOUNT",
    "TargetId": ACCOUNT,
}


def test_reprovisioning_polls_its_status_and_then_clears_the_journal(
    ctx: HandlerContext, sso_stub: Stubber, sleeps: list[float]
) -> None:
    ctx.journal.begin("provisioning", "management", f"DevOps@{ACCOUNT}")
    sso_stub.add_response(
        "provision_permission_set",
        {"PermissionSetProvisioningStatus": status("IN_PROGRESS")},
        PROVISION_PARAMS,
    )
    sso_stub.add_response(
        "describe_permission_set_provisioning_status",
        {"PermissionSetProvisioningStatus": status("SUCCEEDED")},
        {"InstanceArn": INSTANCE, "ProvisionPermissionSetRequestId": REQUEST},
    )
    handle(ctx, provision())
    assert ctx.journal.pending("provisioning", "management") == frozenset()
    assert sleeps == [1]


def test_a_failed_reprovisioning_keeps_its_journal_entry_for_the_next_plan(
    ctx: HandlerContext, sso_stub: Stubber
) -> None:
    ctx.journal.begin("provisioning", "management", f"DevOps@{ACCOUNT}")
    sso_stub.add_response(
        "provision_permission_set",
        {
            "PermissionSetProvisioningStatus": status(
                "FAILED", "Policy billing-read does not exist in 333333333333"
            )
        },
        PROVISION_PARAMS,
    )
    with pytest.raises(
        AwsError, match="AWS reports FAILED: Policy billing-read does not exist in 333333333333"
    ):
        handle(ctx, provision())
    assert ctx.journal.pending("provisioning", "management") == {f"DevOps@{ACCOUNT}"}


def test_updating_a_permission_set_journals_first_and_sets_the_boundary(
    ctx: HandlerContext, sso_stub: Stubber
) -> None:
    change = Change(
        Address("management", Kind.PERMISSION_SET, "DevOps"),
        Action.UPDATE,
        {"boundary": None, "session_duration": "PT1H", "description": "x [iamlayer:acme]", "relay_state": ""},
        {
            "boundary": "/boundaries/billing-read",
            "session_duration": "PT4H",
            "description": "x [iamlayer:acme]",
            "relay_state": "",
            "arn": PS_ARN,
            "reprovision": [ACCOUNT],
        },
    )
    args = {"InstanceArn": INSTANCE, "PermissionSetArn": PS_ARN}
    sso_stub.add_response(
        "update_permission_set", {}, {**args, "Description": "x [iamlayer:acme]", "SessionDuration": "PT4H"}
    )
    sso_stub.add_response(
        "put_permissions_boundary_to_permission_set",
        {},
        {
            **args,
            "PermissionsBoundary": {
                "CustomerManagedPolicyReference": {"Name": "billing-read", "Path": "/boundaries/"}
            },
        },
    )
    handle(ctx, change)
    assert ctx.journal.pending("provisioning", "management") == {f"DevOps@{ACCOUNT}"}
    # `boundary: none`: the boundary goes; gone already is fine.
    removed = Change(
        change.address,
        Action.UPDATE,
        {"boundary": "arn:aws:iam::aws:policy/PowerUserAccess"},
        {"boundary": None, "arn": PS_ARN},
    )
    sso_stub.add_client_error(
        "delete_permissions_boundary_from_permission_set",
        "ResourceNotFoundException",
        "none",
        expected_params=args,
    )
    handle(ctx, removed)


def test_a_taken_permission_set_name_is_adopted_only_when_it_carries_our_marker(
    ctx: HandlerContext, sso_stub: Stubber
) -> None:
    """An apply that died after CreatePermissionSet: the rerun finds it (ConflictException
    "already exists"), sees its marker, and attaches what is missing; someone else's is refused."""
    after = {
        "description": "Full access [iamlayer:acme]",
        "session_duration": "PT4H",
        "relay_state": "",
        "policies": ["arn:aws:iam::aws:policy/AdministratorAccess"],
        "customer_managed_policies": ["/billing-read"],
        "inline_policy": None,
        "tags": {"iamlayer:project": "acme"},
    }
    change = Change(Address("management", Kind.PERMISSION_SET, "DevOps"), Action.CREATE, None, after)
    create = {
        "InstanceArn": INSTANCE,
        "Name": "DevOps",
        "Description": "Full access [iamlayer:acme]",
        "SessionDuration": "PT4H",
        "Tags": [{"Key": "iamlayer:project", "Value": "acme"}],  # the emulator has no tag calls
    }
    args = {"InstanceArn": INSTANCE, "PermissionSetArn": PS_ARN}
    for description in ("Full access [iamlayer:acme]", "made by hand"):
        sso_stub.add_client_error(
            "create_permission_set",
            "ConflictException",
            "PermissionSet with name DevOps already exists.",
            expected_params=create,
        )
        sso_stub.add_response("list_permission_sets", {"PermissionSets": [PS_ARN]}, {"InstanceArn": INSTANCE})
        sso_stub.add_response(
            "describe_permission_set",
            {"PermissionSet": {"Name": "DevOps", "PermissionSetArn": PS_ARN, "Description": description}},
            args,
        )
        if description == "made by hand":
            with pytest.raises(ApplyError, match="iamlayer did not create it; it is left alone"):
                handle(ctx, change)
            continue
        sso_stub.add_response(
            "list_managed_policies_in_permission_set",
            {
                "AttachedManagedPolicies": [
                    {"Arn": "arn:aws:iam::aws:policy/AdministratorAccess", "Name": "AdministratorAccess"}
                ]
            },
            args,
        )
        sso_stub.add_response(
            "list_customer_managed_policy_references_in_permission_set",
            {"CustomerManagedPolicyReferences": []},
            args,
        )
        sso_stub.add_response("get_inline_policy_for_permission_set", {}, args)
        # Only what is missing is attached (the first apply died before it).
        sso_stub.add_response(
            "attach_customer_managed_policy_reference_to_permission_set",
            {},
            {**args, "CustomerManagedPolicyReference": {"Name": "billing-read", "Path": "/"}},
        )
        handle(ctx, change)


def test_people_and_groups_are_updated_with_identity_store_operations(
    ctx: HandlerContext, store_stub: Stubber
) -> None:
    user = Change(
        Address("management", Kind.IC_USER, "jane.doe"),
        Action.UPDATE,
        {"email": "old@example.com", "family_name": "Smith"},
        {"email": "jane@example.com", "family_name": "Doe", "id": "u-1"},
    )
    store_stub.add_response(
        "update_user",
        {"IdentityStoreId": STORE, "UserId": "u-1", "UserArn": USER_ARN, "Revision": "2"},
        {
            "IdentityStoreId": STORE,
            "UserId": "u-1",
            "Operations": [
                {"AttributePath": "name.familyName", "AttributeValue": "Doe"},
                {
                    "AttributePath": "emails",
                    "AttributeValue": [{"value": "jane@example.com", "type": "work", "primary": True}],
                },
            ],
        },
    )
    handle(ctx, user)
    group = Change(
        Address("management", Kind.IC_GROUP, "devops"),
        Action.UPDATE,
        {"description": "old [iamlayer:acme]"},
        {"description": "DevOps team [iamlayer:acme]", "id": GROUP_ID},
    )
    store_stub.add_response(
        "update_group",
        {"IdentityStoreId": STORE, "GroupId": GROUP_ID, "GroupArn": GROUP_ARN, "Revision": "2"},
        {
            "IdentityStoreId": STORE,
            "GroupId": GROUP_ID,
            "Operations": [{"AttributePath": "description", "AttributeValue": "DevOps team [iamlayer:acme]"}],
        },
    )
    handle(ctx, group)


@pytest.mark.parametrize("user_type", ["[iamlayer:acme]", "Employee"])
def test_a_taken_user_name_is_ours_only_with_our_user_type(
    ctx: HandlerContext, store_stub: Stubber, user_type: str
) -> None:
    change = Change(
        Address("management", Kind.IC_USER, "jane.doe"),
        Action.CREATE,
        None,
        {
            "display_name": "Jane Doe",
            "given_name": "Jane",
            "family_name": "Doe",
            "email": "j@example.com",
            "user_type": "[iamlayer:acme]",
        },
    )
    # The identity store says "taken" with a Reason, not with a code of its own.
    store_stub.add_client_error(
        "create_user",
        "ConflictException",
        "Duplicate UserName",
        modeled_fields={"Reason": "UNIQUENESS_CONSTRAINT_VIOLATION"},
    )
    store_stub.add_response(
        "get_user_id",
        {"UserId": "u-1", "IdentityStoreId": STORE, "UserArn": USER_ARN},
        {
            "IdentityStoreId": STORE,
            "AlternateIdentifier": {
                "UniqueAttribute": {"AttributePath": "userName", "AttributeValue": "jane.doe"}
            },
        },
    )
    store_stub.add_response(
        "describe_user",
        {
            "UserId": "u-1",
            "IdentityStoreId": STORE,
            "UserArn": USER_ARN,
            "Revision": "1",
            "UserType": user_type,
        },
        {"IdentityStoreId": STORE, "UserId": "u-1"},
    )
    if user_type == "Employee":
        with pytest.raises(ApplyError, match=r"Identity Center user jane\.doe: one of that name appeared"):
            handle(ctx, change)
    else:
        handle(ctx, change)  # made by an earlier, interrupted apply: ours, nothing more to do


def test_a_membership_made_by_a_lost_attempt_is_fine(ctx: HandlerContext, store_stub: Stubber) -> None:
    change = Change(
        Address("management", Kind.IC_MEMBERSHIP, "devops", "jane.doe"),
        Action.CREATE,
        None,
        {"group_id": GROUP_ID, "user_id": "u-1", "user": "jane.doe"},
    )
    store_stub.add_client_error(
        "create_group_membership",
        "ConflictException",
        "Member already exists",
        modeled_fields={"Reason": "UNIQUENESS_CONSTRAINT_VIOLATION"},
    )
    handle(ctx, change)


def test_the_read_asks_for_a_boundary_only_where_the_spec_manages_it(
    offline_clients: AccountClients, sso_stub: Stubber, store_stub: Stubber
) -> None:
    """GetPermissionsBoundaryForPermissionSet (which the emulator lacks) answers
    ResourceNotFoundException when there is none."""
    store_stub.add_response("list_users", {"Users": []}, {"IdentityStoreId": STORE, "MaxResults": 100})
    store_stub.add_response("list_groups", {"Groups": []}, {"IdentityStoreId": STORE, "MaxResults": 100})
    other = f"{INSTANCE}/ps-fedcba9876543210"
    sso_stub.add_response(
        "list_permission_sets", {"PermissionSets": [PS_ARN, other]}, {"InstanceArn": INSTANCE}
    )
    for arn, name in ((PS_ARN, "DevOps"), (other, "ReadOnly")):
        sso_stub.add_response(
            "describe_permission_set",
            {
                "PermissionSet": {
                    "Name": name,
                    "PermissionSetArn": arn,
                    "Description": "[iamlayer:acme]",
                    "SessionDuration": "PT1H",
                }
            },
            {"InstanceArn": INSTANCE, "PermissionSetArn": arn},
        )
    for arn in (PS_ARN, other):
        args = {"InstanceArn": INSTANCE, "PermissionSetArn": arn}
        sso_stub.add_response(
            "list_managed_policies_in_permission_set", {"AttachedManagedPolicies": []}, args
        )
        sso_stub.add_response(
            "list_customer_managed_policy_references_in_permission_set",
            {"CustomerManagedPolicyReferences": []},
            args,
        )
        sso_stub.add_response("get_inline_policy_for_permission_set", {}, args)
        sso_stub.add_response("list_accounts_for_provisioned_permission_set", {"AccountIds": []}, args)
        sso_stub.add_response(
            "list_accounts_for_provisioned_permission_set",
            {"AccountIds": []},
            {**args, "ProvisioningStatus": "LATEST_PERMISSION_SET_NOT_PROVISIONED"},
        )
        if arn == PS_ARN:
            sso_stub.add_response(
                "get_permissions_boundary_for_permission_set",
                {"PermissionsBoundary": {"ManagedPolicyArn": "arn:aws:iam::aws:policy/PowerUserAccess"}},
                args,
            )
    for arn in (PS_ARN, other):  # then the assignments of each, per account
        args = {"InstanceArn": INSTANCE, "PermissionSetArn": arn, "AccountId": ACCOUNT}
        sso_stub.add_response("list_account_assignments", {"AccountAssignments": []}, args)
    state = read_identity_center(
        offline_clients,
        "us-east-1",
        detail=lambda ps: True,
        account_ids=[ACCOUNT],
        boundaries=frozenset({"DevOps"}),
        max_workers=1,  # the Stubber answers in order
    )
    devops, readonly = state.permission_sets["DevOps"], state.permission_sets["ReadOnly"]
    assert (devops.boundary, devops.boundary_read) == ("arn:aws:iam::aws:policy/PowerUserAccess", True)
    assert (readonly.boundary, readonly.boundary_read) == (None, False)


OUTDATED_SPEC = """\
project: acme
accounts:
  management: {id: "111111111111"}
  shared:     {id: "333333333333"}
people_account: management
identity_center:
  groups:
    devops: {description: DevOps team}
  permission_sets:
    DevOps:
      session_duration: PT4H
      policies: [arn:aws:iam::aws:policy/AdministratorAccess]
  assignments:
    - {group: devops, permission_sets: [DevOps], accounts: [shared]}
"""


@pytest.mark.parametrize("outdated", [[ACCOUNT], []], ids=["outdated-in-shared", "up-to-date"])
def test_a_permission_set_aws_reports_outdated_is_re_provisioned_from_any_clone(
    offline_clients: AccountClients,
    sso_stub: Stubber,
    store_stub: Stubber,
    tmp_path: Path,
    outdated: list[str],
) -> None:
    """The accounts holding an outdated version come from AWS (ListAccountsForProvisioned-
    PermissionSet with ProvisioningStatus=LATEST_PERMISSION_SET_NOT_PROVISIONED: one call per owned
    permission set, whatever the number of accounts), not from the local journal: a clone with an
    empty .iamlayer/ plans the re-provisioning an apply elsewhere left undone, and nothing when AWS
    says every account is up to date. (The emulator ignores this filter unless taught: the
    Stubber answers as AWS does, validated against the real service model.)"""
    from spec_support import write_spec

    from iamlayer.plan.ic_plan import plan_identity_center
    from iamlayer.spec.load import load_spec

    spec = load_spec(write_spec(tmp_path, OUTDATED_SPEC), check_keys=False)
    journal = Journal.for_spec(spec)
    assert not journal.path.parent.exists()  # a fresh clone: no .iamlayer/ at all
    store_stub.add_response("list_users", {"Users": []}, {"IdentityStoreId": STORE, "MaxResults": 100})
    store_stub.add_response(
        "list_groups",
        {
            "Groups": [
                {
                    "GroupId": GROUP_ID,
                    "IdentityStoreId": STORE,
                    "DisplayName": "devops",
                    "Description": "DevOps team [iamlayer:acme]",
                    "GroupArn": GROUP_ARN,
                    "Revision": "1",
                }
            ]
        },
        {"IdentityStoreId": STORE, "MaxResults": 100},
    )
    sso_stub.add_response("list_permission_sets", {"PermissionSets": [PS_ARN]}, {"InstanceArn": INSTANCE})
    args = {"InstanceArn": INSTANCE, "PermissionSetArn": PS_ARN}
    sso_stub.add_response(
        "describe_permission_set",
        {
            "PermissionSet": {
                "Name": "DevOps",
                "PermissionSetArn": PS_ARN,
                "Description": "[iamlayer:acme]",
                "SessionDuration": "PT4H",
            }
        },
        args,
    )
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    sso_stub.add_response(
        "list_managed_policies_in_permission_set",
        {"AttachedManagedPolicies": [{"Arn": admin, "Name": "AdministratorAccess"}]},
        args,
    )
    sso_stub.add_response(
        "list_customer_managed_policy_references_in_permission_set",
        {"CustomerManagedPolicyReferences": []},
        args,
    )
    sso_stub.add_response("get_inline_policy_for_permission_set", {}, args)
    sso_stub.add_response("list_accounts_for_provisioned_permission_set", {"AccountIds": [ACCOUNT]}, args)
    sso_stub.add_response(
        "list_accounts_for_provisioned_permission_set",
        {"AccountIds": outdated},
        {**args, "ProvisioningStatus": "LATEST_PERMISSION_SET_NOT_PROVISIONED"},
    )
    store_stub.add_response(
        "list_group_memberships",
        {"GroupMemberships": []},
        {"IdentityStoreId": STORE, "GroupId": GROUP_ID, "MaxResults": 100},
    )
    # One managed principal against one permission set in two accounts: read by principal
    # (iamlayer.aws.identity_center.choose_assignment_reads); where it is provisioned it holds it,
    # so nothing is completed.
    sso_stub.add_response(
        "list_account_assignments_for_principal",
        {
            "AccountAssignments": [
                {
                    "AccountId": ACCOUNT,
                    "PermissionSetArn": PS_ARN,
                    "PrincipalType": "GROUP",
                    "PrincipalId": GROUP_ID,
                }
            ]
        },
        {"InstanceArn": INSTANCE, "PrincipalId": GROUP_ID, "PrincipalType": "GROUP", "MaxResults": 100},
    )
    part = plan_identity_center(spec, offline_clients, journal)
    assert part.read_shape is not None and part.read_shape.by is AssignmentReads.PRINCIPAL
    assert not part.collisions
    # The spec has no start_url: the plan names what gives people's sso profiles the default portal.
    assert part.notices == [
        "people's sso profiles (credentials configure --sso) need the access portal URL: add "
        f"identity_store_id: {STORE} under identity_center (the default portal, https://{STORE}.awsapps.com/start), "
        "or start_url if it was customised"
    ]
    if not outdated:
        assert part.changes == []
        return
    [change] = part.changes
    assert (str(change.address), change.action) == ("management/ic_provision.DevOps/shared", Action.UPDATE)
    assert change.after == {"permission_set_arn": PS_ARN, "account_id": ACCOUNT}
    assert change.note == "AWS holds an outdated version here: it was changed and never re-provisioned"


def test_the_import_reads_nothing_more_where_there_is_no_instance(offline_clients: AccountClients) -> None:
    """ListInstances answers none (Identity Center not enabled there, or in another region): no
    other call is made, and the import says so (IMPORT.md notes it)."""
    from iamlayer.aws.identity_center import read_identity_center_for_import

    with Stubber(offline_clients.client("sso-admin")) as stub:
        stub.add_response("list_instances", {"Instances": []}, {})
        assert read_identity_center_for_import(offline_clients, "us-east-1", ["333333333333"]) == (None, {})
        stub.assert_no_pending_responses()


# --- ConflictException: by operation and a confirming read, never by the message -------------------
# sso-admin answers ConflictException both for a write racing another and, on creates and
# attaches, for what is there already; its message is prose. These answers say "already" where
# it is a race, and nothing where it is done: only the confirming read may decide.

PS_ARGS = {"InstanceArn": INSTANCE, "PermissionSetArn": PS_ARN}
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def permission_set_update(before: dict[str, Any], after: dict[str, Any]) -> Change:
    return Change(
        Address("management", Kind.PERMISSION_SET, "DevOps"), Action.UPDATE, before, {**after, "arn": PS_ARN}
    )


def test_a_conflict_saying_already_is_a_race_when_the_confirming_read_finds_nothing(
    ctx: HandlerContext, sso_stub: Stubber, sleeps: list[float]
) -> None:
    """CreatePermissionSet and AttachManagedPolicyToPermissionSet answer ConflictException with
    "already" in the message, yet the confirming read finds nothing: a race, retried after a
    backoff, never mistaken for a taken name or an attached policy."""
    create = {
        "InstanceArn": INSTANCE,
        "Name": "DevOps",
        "Description": "Full access [iamlayer:acme]",
        "SessionDuration": "PT4H",
        "Tags": [],
    }
    sso_stub.add_client_error(
        "create_permission_set",
        "ConflictException",
        "PermissionSet with name DevOps already exists.",
        expected_params=create,
    )
    sso_stub.add_response("list_permission_sets", {"PermissionSets": []}, {"InstanceArn": INSTANCE})
    sso_stub.add_response(
        "create_permission_set",
        {"PermissionSet": {"Name": "DevOps", "PermissionSetArn": PS_ARN}},
        create,
    )
    sso_stub.add_client_error(
        "attach_managed_policy_to_permission_set",
        "ConflictException",
        f"Managed policy {ADMIN} is already attached",
        expected_params={**PS_ARGS, "ManagedPolicyArn": ADMIN},
    )
    sso_stub.add_response("list_managed_policies_in_permission_set", {"AttachedManagedPolicies": []}, PS_ARGS)
    sso_stub.add_response(
        "attach_managed_policy_to_permission_set", {}, {**PS_ARGS, "ManagedPolicyArn": ADMIN}
    )
    after = {
        "description": "Full access [iamlayer:acme]",
        "session_duration": "PT4H",
        "relay_state": "",
        "policies": [ADMIN],
    }
    handle(ctx, Change(Address("management", Kind.PERMISSION_SET, "DevOps"), Action.CREATE, None, after))
    assert sleeps == [0.25, 0.25]  # one backoff per race, each write sent again


def test_a_conflict_with_a_neutral_message_is_done_when_the_confirming_read_finds_it(
    ctx: HandlerContext, sso_stub: Stubber, store_stub: Stubber, sleeps: list[float]
) -> None:
    """The same answers with a message that says nothing: the confirming read finds the policy
    attached, the customer-managed reference attached, the assignment made and the membership
    there, so each is done (a rerun after a lost answer converges), not retried."""
    neutral = "Request conflicts with an operation in progress"
    sso_stub.add_client_error(
        "attach_managed_policy_to_permission_set",
        "ConflictException",
        neutral,
        expected_params={**PS_ARGS, "ManagedPolicyArn": ADMIN},
    )
    sso_stub.add_response(
        "list_managed_policies_in_permission_set",
        {"AttachedManagedPolicies": [{"Arn": ADMIN, "Name": "AdministratorAccess"}]},
        PS_ARGS,
    )
    ref = {"Name": "billing-read", "Path": "/finance/"}
    sso_stub.add_client_error(
        "attach_customer_managed_policy_reference_to_permission_set",
        "ConflictException",
        neutral,
        expected_params={**PS_ARGS, "CustomerManagedPolicyReference": ref},
    )
    sso_stub.add_response(
        "list_customer_managed_policy_references_in_permission_set",
        {"CustomerManagedPolicyReferences": [{"Name": "other", "Path": "/"}, ref]},
        PS_ARGS,
    )
    handle(
        ctx,
        permission_set_update(
            {"policies": [], "customer_managed_policies": []},
            {"policies": [ADMIN], "customer_managed_policies": ["/finance/billing-read"]},
        ),
    )
    sso_stub.add_client_error(
        "create_account_assignment", "ConflictException", neutral, expected_params=ASSIGNMENT_PARAMS
    )
    sso_stub.add_response(
        "list_account_assignments",
        {
            "AccountAssignments": [
                {
                    "AccountId": ACCOUNT,
                    "PermissionSetArn": PS_ARN,
                    "PrincipalType": "GROUP",
                    "PrincipalId": GROUP_ID,
                }
            ]
        },
        {"InstanceArn": INSTANCE, "AccountId": ACCOUNT, "PermissionSetArn": PS_ARN},
    )
    handle(ctx, assignment(Action.CREATE))  # assigned already: no request to wait for
    membership = {"IdentityStoreId": STORE, "GroupId": GROUP_ID, "MemberId": {"UserId": "u-1"}}
    store_stub.add_client_error(
        "create_group_membership", "ConflictException", neutral, expected_params=membership
    )  # no Reason given: the identity store's answer is read as sso-admin's
    store_stub.add_response(
        "get_group_membership_id",
        {"MembershipId": "m-1", "IdentityStoreId": STORE, "MembershipArn": MEMBERSHIP_ARN},
        membership,
    )
    handle(
        ctx,
        Change(
            Address("management", Kind.IC_MEMBERSHIP, "devops", "jane.doe"),
            Action.CREATE,
            None,
            {"group_id": GROUP_ID, "user_id": "u-1", "user": "jane.doe"},
        ),
    )
    assert sleeps == []


def stub_bare_permission_set(sso_stub: Stubber, description: str) -> None:
    """The instance lists one permission set, DevOps (PS_ARN), described with `description`,
    with no policies: the scan of permission sets, and the three reads of its policies."""
    sso_stub.add_response("list_permission_sets", {"PermissionSets": [PS_ARN]}, {"InstanceArn": INSTANCE})
    sso_stub.add_response(
        "describe_permission_set",
        {"PermissionSet": {"Name": "DevOps", "PermissionSetArn": PS_ARN, "Description": description}},
        PS_ARGS,
    )
    sso_stub.add_response("list_managed_policies_in_permission_set", {"AttachedManagedPolicies": []}, PS_ARGS)
    sso_stub.add_response(
        "list_customer_managed_policy_references_in_permission_set",
        {"CustomerManagedPolicyReferences": []},
        PS_ARGS,
    )
    sso_stub.add_response("get_inline_policy_for_permission_set", {}, PS_ARGS)


def test_a_neutral_conflict_on_create_permission_set_finds_our_own_and_adopts_it(
    ctx: HandlerContext, sso_stub: Stubber
) -> None:
    """A rerun after CreatePermissionSet's answer was lost: ConflictException without "already";
    the confirming scan finds it with our marker, and what is missing is attached."""
    sso_stub.add_client_error("create_permission_set", "ConflictException", "Conflict")
    stub_bare_permission_set(sso_stub, "x [iamlayer:acme]")
    sso_stub.add_response(
        "attach_managed_policy_to_permission_set", {}, {**PS_ARGS, "ManagedPolicyArn": ADMIN}
    )
    after = {
        "description": "x [iamlayer:acme]",
        "session_duration": "PT1H",
        "relay_state": "",
        "policies": [ADMIN],
    }
    handle(ctx, Change(Address("management", Kind.PERMISSION_SET, "DevOps"), Action.CREATE, None, after))


def test_a_conflict_on_an_overwrite_or_provisioning_is_a_race_whatever_it_says(
    ctx: HandlerContext, sso_stub: Stubber, sleeps: list[float]
) -> None:
    """PutInlinePolicyToPermissionSet, PutPermissionsBoundaryToPermissionSet and
    ProvisionPermissionSet replace or re-send: their ConflictException is only ever a race,
    retried without a read, even when the message says "already"."""
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}
    inline = {
        **PS_ARGS,
        "InlinePolicy": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}',
    }
    boundary = {**PS_ARGS, "PermissionsBoundary": {"ManagedPolicyArn": ADMIN}}
    for op, params in (
        ("put_inline_policy_to_permission_set", inline),
        ("put_permissions_boundary_to_permission_set", boundary),
    ):
        sso_stub.add_client_error(
            op, "ConflictException", "An inline policy is already being set", expected_params=params
        )
        sso_stub.add_response(op, {}, params)
    handle(
        ctx,
        permission_set_update(
            {"inline_policy": None, "boundary": None}, {"inline_policy": doc, "boundary": ADMIN}
        ),
    )
    sso_stub.add_client_error(
        "provision_permission_set",
        "ConflictException",
        "already in progress",
        expected_params=PROVISION_PARAMS,
    )
    sso_stub.add_response(
        "provision_permission_set", {"PermissionSetProvisioningStatus": status("SUCCEEDED")}, PROVISION_PARAMS
    )
    handle(ctx, provision())
    assert sleeps == [0.25, 0.25, 0.25]


def test_the_identity_stores_reason_decides_where_it_is_given(
    ctx: HandlerContext, store_stub: Stubber, sleeps: list[float]
) -> None:
    """Reason is structured data: CONCURRENT_MODIFICATION is a race (retried, no read) even if
    the message says "already"; UNIQUENESS_CONSTRAINT_VIOLATION is taken (see the user test)."""
    membership = {"IdentityStoreId": STORE, "GroupId": GROUP_ID, "MemberId": {"UserId": "u-1"}}
    store_stub.add_client_error(
        "create_group_membership",
        "ConflictException",
        "Member already being added",
        modeled_fields={"Reason": "CONCURRENT_MODIFICATION"},
        expected_params=membership,
    )
    store_stub.add_response(
        "create_group_membership",
        {"MembershipId": "m-1", "IdentityStoreId": STORE, "MembershipArn": MEMBERSHIP_ARN},
        membership,
    )
    handle(
        ctx,
        Change(
            Address("management", Kind.IC_MEMBERSHIP, "devops", "jane.doe"),
            Action.CREATE,
            None,
            {"group_id": GROUP_ID, "user_id": "u-1", "user": "jane.doe"},
        ),
    )
    assert sleeps == [0.25]


def test_a_race_that_outlasts_the_bound_fails_naming_the_attempt(
    ctx: HandlerContext, store_stub: Stubber, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    """CreateGroup answers ConflictException without a Reason and the group never shows: retried
    with backoff up to the consistency bound, then the ConflictException is the apply's error."""
    monkeypatch.setenv("IAMLAYER_CONSISTENCY_TIMEOUT", "0.5")
    lookup = {
        "IdentityStoreId": STORE,
        "AlternateIdentifier": {
            "UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": "devops"}
        },
    }
    for _ in range(3):  # at 0, 0.25 and 0.5 s
        store_stub.add_client_error("create_group", "ConflictException", "Group already exists")
        store_stub.add_client_error(
            "get_group_id", "ResourceNotFoundException", "no such group", expected_params=lookup
        )
    change = Change(
        Address("management", Kind.IC_GROUP, "devops"),
        Action.CREATE,
        None,
        {"description": "d [iamlayer:acme]"},
    )
    with pytest.raises(
        AwsError,
        match=r"^creating Identity Center group devops in account management \(us-east-1\): ConflictException",
    ) as caught:
        handle(ctx, change)
    assert type(caught.value).__name__ == "ConflictError"
    assert sleeps == [0.25, 0.25]


def test_the_read_by_principal_pages_keeps_owned_sets_and_completes_where_someone_else_holds_one(
    offline_clients: AccountClients, sso_stub: Stubber, store_stub: Stubber
) -> None:
    """ListAccountAssignmentsForPrincipal in pages of 100 (the second page asked for with AWS's
    NextToken); a foreign permission set's assignment is dropped; the account DevOps is
    provisioned to where the managed group holds nothing is listed in full
    (ListAccountAssignments), which finds another group there, as the read by pairs would."""
    from iamlayer.state.ic_model import IcState, PermissionSetState

    other_account, foreign_ps = "444444444444", f"{INSTANCE}/ps-ffffffffffffffff"
    groups = [
        {
            "GroupId": gid,
            "IdentityStoreId": STORE,
            "DisplayName": name,
            "Description": description,
            "GroupArn": f"arn:aws:identitystore::111111111111:identitystore/{STORE}/group/{gid}",
            "Revision": "1",
        }
        for gid, name, description in (
            (GROUP_ID, "devops", "[iamlayer:acme]"),
            ("g-other", "contractors", "Contractors"),
        )
    ]
    store_stub.add_response("list_users", {"Users": []}, {"IdentityStoreId": STORE, "MaxResults": 100})
    store_stub.add_response("list_groups", {"Groups": groups}, {"IdentityStoreId": STORE, "MaxResults": 100})
    stub_bare_permission_set(sso_stub, "[iamlayer:acme]")
    args = PS_ARGS
    sso_stub.add_response(
        "list_accounts_for_provisioned_permission_set", {"AccountIds": [ACCOUNT, other_account]}, args
    )
    sso_stub.add_response(
        "list_accounts_for_provisioned_permission_set",
        {"AccountIds": []},
        {**args, "ProvisioningStatus": "LATEST_PERMISSION_SET_NOT_PROVISIONED"},
    )

    def row(account: str, arn: str, principal: str = GROUP_ID) -> dict[str, str]:
        return {
            "AccountId": account,
            "PermissionSetArn": arn,
            "PrincipalType": "GROUP",
            "PrincipalId": principal,
        }

    asked = {"InstanceArn": INSTANCE, "PrincipalId": GROUP_ID, "PrincipalType": "GROUP", "MaxResults": 100}
    first = [row(f"{n:012d}", foreign_ps) for n in range(100)]
    sso_stub.add_response(
        "list_account_assignments_for_principal", {"AccountAssignments": first, "NextToken": "page-2"}, asked
    )
    sso_stub.add_response(
        "list_account_assignments_for_principal",
        {"AccountAssignments": [row(ACCOUNT, PS_ARN)]},
        {**asked, "NextToken": "page-2"},
    )
    sso_stub.add_response(
        "list_account_assignments",
        {"AccountAssignments": [row(other_account, PS_ARN, "g-other")]},
        {**args, "AccountId": other_account},
    )
    desired = IcState(
        permission_sets={"DevOps": PermissionSetState(name="DevOps", owner="acme")},
        assignments={AssignmentState("GROUP", "devops", "DevOps", ACCOUNT)},
    )
    state = read_identity_center(
        offline_clients,
        "us-east-1",
        detail=lambda ps: ps.owned_by("acme"),
        account_ids=[ACCOUNT],
        project="acme",
        desired=desired,
        max_workers=1,  # the Stubber answers in order
    )
    assert state.assignments == {
        AssignmentState("GROUP", "devops", "DevOps", ACCOUNT),
        AssignmentState("GROUP", "contractors", "DevOps", other_account),
    }
    assert state.read_shape == AssignmentReadShape(
        AssignmentReads.PRINCIPAL, principals=1, pairs=2, completions=1
    )

"""The account access manager (`roles.<Role>.entitled`) with botocore's Stubber on botocore's own
model of the service (account-access 2018-05-10): the emulator lacks the service. The Stubber
checks every request against the operation's input shape (botocore validates and serializes the
parameters before the stub answers) and every queued answer against its output shape, so these
calls are the real service's operations, parameter names and structures.

Proven here: the plan reads the application and the entitlements and shows the application (once)
and one entitlement per principal and role ARN with the principal's resolved id; an entitlement
the spec dropped is deleted, others' are left; the handlers' CreateApplication, CreateEntitlement
(and its confirming read on ConflictException) and DeleteEntitlement; the role's trust; bad input.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from spec_support import line_of, load_errors, only, write_spec

from iamlayer.apply import access_handlers as _registers  # noqa: F401 - its handlers
from iamlayer.apply.handlers import HANDLERS, HandlerContext
from iamlayer.aws.gateways.account_access import AccountAccessGateway
from iamlayer.aws.gateways.identity_center import IdentityCenter
from iamlayer.aws.session import AccountClients
from iamlayer.errors import SpecError
from iamlayer.plan.desired import trust_policy
from iamlayer.plan.ic_diff import foreign_entitled_roles
from iamlayer.plan.ic_plan import plan_identity_center
from iamlayer.plan.model import Action, Address, Change, Kind
from iamlayer.spec.load import load_spec
from iamlayer.state.journal import Journal
from iamlayer.state.model import AccountState, RoleState

INSTANCE = "arn:aws:sso:::instance/ssoins-1234567890abcdef"
STORE = "d-1234567890"
STORE_ARN = f"arn:aws:identitystore::111111111111:identitystore/{STORE}"
APP = "arn:aws:account-access:us-east-1:111111111111:application/app-0123456789"
GROUP_ID = "90676d1234-0a1b2c3d-1111-2222-3333-444455556666"
USER_ID = "90676d1234-9f8e7d6c-1111-2222-3333-444455556666"
OTHER_ID = "90676d1234-aaaabbbb-1111-2222-3333-444455556666"
SHARED = "333333333333"
ROLE_ARN = f"arn:aws:iam::{SHARED}:role/DevOps"

SPEC = """\
project: acme
region: us-east-1
accounts:
  management: {id: "111111111111"}
  shared:     {id: "333333333333"}
people_account: management
roles:
  DevOps:
    accounts: [shared]
    entitled: [group/devops, user/jane.doe]
identity_center:
  account: management
  users:
    jane.doe: {external: true}
  groups:
    devops: {description: DevOps team}
"""


@pytest.fixture
def stubs(offline_clients: AccountClients) -> Iterator[dict[str, Stubber]]:
    clients = {
        "sso": offline_clients.client("sso-admin", "us-east-1"),
        "store": offline_clients.client("identitystore", "us-east-1"),
        "access": offline_clients.account_access("us-east-1"),
    }
    stubbers = {k: Stubber(c) for k, c in clients.items()}
    for s in stubbers.values():
        s.activate()
    yield stubbers
    for s in stubbers.values():
        s.assert_no_pending_responses()
        s.deactivate()


def queue_instance_read(stubs: dict[str, Stubber]) -> None:
    """The Identity Center read of a plan: the instance, its people (devops is iamlayer's, jane.doe
    an identity provider's) and no permission sets."""
    stubs["sso"].add_response(
        "list_instances", {"Instances": [{"InstanceArn": INSTANCE, "IdentityStoreId": STORE}]}
    )
    stubs["sso"].add_response("list_permission_sets", {"PermissionSets": []})
    user = {
        "UserId": USER_ID,
        "IdentityStoreId": STORE,
        "UserName": "jane.doe",
        "UserArn": f"{STORE_ARN}/user/{USER_ID}",
        "Revision": "1",
    }
    stubs["store"].add_response("list_users", {"Users": [user]})
    group = {
        "GroupId": GROUP_ID,
        "IdentityStoreId": STORE,
        "GroupArn": f"{STORE_ARN}/group/{GROUP_ID}",
        "Revision": "1",
        "DisplayName": "devops",
        "Description": "DevOps team [iamlayer:acme]",
    }
    stubs["store"].add_response("list_groups", {"Groups": [group]})
    stubs["store"].add_response("list_group_memberships", {"GroupMemberships": []})


def application(tags: dict[str, str]) -> dict[str, Any]:
    return {
        "identitySource": {"identityCenter": {"instanceArn": INSTANCE}},
        "status": "ACTIVE",
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:00:00Z",
        "tags": tags,
    }


def queue_application(stubs: dict[str, Stubber], tags: dict[str, str]) -> None:
    """The account's one application, for the instance, tagged `tags`."""
    summary = {
        "applicationArn": APP,
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:00:00Z",
    }
    stubs["access"].add_response("list_applications", {"applications": [summary]}, {})
    stubs["access"].add_response("get_application", application(tags), {"applicationArn": APP})


def entitlement(eid: str, kind: str, pid: str, role_arn: str = ROLE_ARN) -> dict[str, Any]:
    return {
        "entitlementId": eid,
        "entitlement": {
            "principalRole": {
                "principal": {"identityCenter": {kind: pid}},
                "roleArn": role_arn,
                "account": role_arn.split(":")[4],
            }
        },
        "createdAt": "2026-01-01T00:00:00Z",
    }


def plan(tmp_path: Path, offline_clients: AccountClients, text: str = SPEC) -> list[Change]:
    spec = load_spec(write_spec(tmp_path, text), check_keys=False)
    return plan_identity_center(spec, offline_clients, Journal(tmp_path / "journal.json")).changes


def test_a_first_plan_shows_the_application_once_and_an_entitlement_per_principal_and_role(
    tmp_path: Path, offline_clients: AccountClients, stubs: dict[str, Stubber]
) -> None:
    queue_instance_read(stubs)
    stubs["access"].add_response("list_applications", {"applications": []}, {})
    changes = plan(tmp_path, offline_clients)
    assert [(str(c.address), c.action) for c in changes] == [
        ("management/access_application.account-access", Action.CREATE),
        ("management/entitlement.group/devops/DevOps@shared", Action.CREATE),
        ("management/entitlement.user/jane.doe/DevOps@shared", Action.CREATE),
    ]
    app, group, user = changes
    assert app.after == {"instance_arn": INSTANCE, "tags": {"iamlayer:project": "acme"}}
    assert group.after is not None and group.after["role_arn"] == ROLE_ARN
    # The plan shows the ids resolved in this run (the external user's by name).
    assert (group.after["principal_id"], user.after and user.after["principal_id"]) == (GROUP_ID, USER_ID)
    assert group.note == f"group devops is {GROUP_ID}"


def test_a_dropped_entitlement_is_deleted_and_others_are_left(
    tmp_path: Path, offline_clients: AccountClients, stubs: dict[str, Stubber]
) -> None:
    queue_instance_read(stubs)
    queue_application(stubs, {"iamlayer:project": "acme"})
    live = [
        entitlement("e-1", "groupId", GROUP_ID),  # wanted: stays
        entitlement("e-2", "userId", OTHER_ID),  # the spec's role, no longer entitled: deleted
        entitlement("e-3", "userId", OTHER_ID, f"arn:aws:iam::{SHARED}:role/Theirs"),  # not the spec's role
    ]
    stubs["access"].add_response(
        "list_entitlements",
        {"entitlements": live},
        {"applicationArn": APP, "filter": {"principalRole": {"account": SHARED}}},
    )
    changes = plan(tmp_path, offline_clients, SPEC.replace(", user/jane.doe", ""))
    assert [(str(c.address), c.action) for c in changes] == [
        (f"management/entitlement.user/id:{OTHER_ID}/DevOps@shared", Action.DELETE)
    ]
    assert changes[0].before is not None
    assert (changes[0].before["entitlement_id"], changes[0].before["application_arn"]) == ("e-2", APP)


def test_someone_elses_application_is_a_collision_never_written(
    tmp_path: Path, offline_clients: AccountClients, stubs: dict[str, Stubber]
) -> None:
    queue_instance_read(stubs)
    queue_application(stubs, {})
    stubs["access"].add_response(
        "list_entitlements",
        {"entitlements": []},
        {"applicationArn": APP, "filter": {"principalRole": {"account": SHARED}}},
    )
    spec = load_spec(write_spec(tmp_path, SPEC), check_keys=False)
    part = plan_identity_center(spec, offline_clients, Journal(tmp_path / "journal.json"))
    assert part.changes == []
    [collision] = part.collisions
    assert "tag-resource" in collision and "iamlayer:project=acme" in collision


@pytest.fixture
def ctx(offline_clients: AccountClients, stubs: dict[str, Stubber], tmp_path: Path) -> HandlerContext:
    ic = IdentityCenter(
        offline_clients.sso_admin("us-east-1"),
        offline_clients.identitystore("us-east-1"),
        "in account management",
        sleep=lambda s: None,
    )
    access = AccountAccessGateway(offline_clients.account_access("us-east-1"), "in account management")
    return HandlerContext(
        "management", "111111111111", "acme", None, None, Journal(tmp_path / "j.json"), ic=ic, access=access
    )  # type: ignore[arg-type]


def handle(ctx: HandlerContext, change: Change) -> None:
    HANDLERS[(change.address.kind, change.action)].fn(ctx, change)


def wanted(principal_id: str = "", app: str = "") -> dict[str, str]:
    return {
        "role_arn": ROLE_ARN,
        "principal_type": "GROUP",
        "principal": "devops",
        "principal_id": principal_id,
        "application_arn": app,
    }


def entitlement_change(action: Action, data: dict[str, str]) -> Change:
    """The plan's change of group devops's entitlement to DevOps in shared."""
    address = Address("management", Kind.ENTITLEMENT, "group/devops", "DevOps@shared")
    return Change(
        address, action, data if action is Action.DELETE else None, data if action is Action.CREATE else None
    )


CREATE_PARAMS = {
    "applicationArn": APP,
    "entitlement": {
        "principalRole": {"principal": {"identityCenter": {"groupId": GROUP_ID}}, "roleArn": ROLE_ARN}
    },
}


def test_apply_makes_the_application_then_entitles_a_group_made_by_the_same_apply(
    ctx: HandlerContext, stubs: dict[str, Stubber]
) -> None:
    app = Change(
        Address("management", Kind.ACCESS_APPLICATION, "account-access"),
        Action.CREATE,
        None,
        {"instance_arn": INSTANCE, "tags": {"iamlayer:project": "acme"}},
    )
    stubs["access"].add_response(
        "create_application",
        {"applicationArn": APP},
        {
            "identitySource": {"identityCenter": {"instanceArn": INSTANCE}},
            "tags": {"iamlayer:project": "acme"},
        },
    )
    handle(ctx, app)
    # Planned before the application and the group existed: both resolved when it runs.
    stubs["sso"].add_response(
        "list_instances", {"Instances": [{"InstanceArn": INSTANCE, "IdentityStoreId": STORE}]}
    )
    stubs["store"].add_response(
        "get_group_id",
        {"GroupId": GROUP_ID, "IdentityStoreId": STORE, "GroupArn": f"{STORE_ARN}/group/{GROUP_ID}"},
        {
            "IdentityStoreId": STORE,
            "AlternateIdentifier": {
                "UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": "devops"}
            },
        },
    )
    stubs["access"].add_response("create_entitlement", {"entitlementId": "e-1"}, CREATE_PARAMS)
    handle(ctx, entitlement_change(Action.CREATE, wanted()))


def test_a_conflict_on_create_asks_whether_it_is_there_and_a_delete_of_one_gone_is_fine(
    ctx: HandlerContext, stubs: dict[str, Stubber]
) -> None:
    stubs["access"].add_client_error(
        "create_entitlement", "ConflictException", "conflict", 409, expected_params=CREATE_PARAMS
    )
    stubs["access"].add_response(
        "list_entitlements",
        {"entitlements": [entitlement("e-1", "groupId", GROUP_ID)]},
        {"applicationArn": APP, "filter": {"principalRole": {"account": SHARED}}},
    )
    handle(ctx, entitlement_change(Action.CREATE, wanted(GROUP_ID, APP)))
    stubs["access"].add_client_error(
        "delete_entitlement",
        "ResourceNotFoundException",
        "gone",
        404,
        expected_params={"applicationArn": APP, "entitlementId": "e-9"},
    )
    before = {**wanted(GROUP_ID, APP), "entitlement_id": "e-9"}
    handle(ctx, entitlement_change(Action.DELETE, before))


def test_an_entitled_role_trusts_the_account_access_manager(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, SPEC), check_keys=False)
    statements = trust_policy(spec, spec.roles["DevOps"])["Statement"]
    [ours] = [s for s in statements if s.get("Sid") == "AccountAccessManager"]
    assert ours["Effect"] == "Allow" and ours["Principal"] == {"Service": ["account-access.amazonaws.com"]}
    assert ours["Action"] == ["sts:AssumeRole", "sts:SetContext", "sts:TagSession"]
    plain = load_spec(
        write_spec(tmp_path, SPEC.replace("    entitled: [group/devops, user/jane.doe]\n", "")),
        check_keys=False,
    )
    assert trust_policy(plain, plain.roles["DevOps"])["Statement"] == [s for s in statements if s is not ours]


def test_bad_entitlements_are_spec_errors_at_their_line(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path, SPEC.replace("group/devops", "group/devop").replace("user/jane.doe", "team/x")
    )
    errors = load_errors(path)
    assert "did you mean 'devops'?" in (only(errors, "roles.DevOps.entitled[0]").hint or "")
    assert only(errors, "roles.DevOps.entitled[0]").line == line_of(path, "entitled:")
    assert "group/<name> or user/<name>" in (only(errors, "roles.DevOps.entitled[1]").hint or "")
    no_ic = SPEC.split("identity_center:")[0]
    assert (
        "no identity_center"
        in only(load_errors(write_spec(tmp_path, no_ic)), "roles.DevOps.entitled[0]").message
    )


def test_an_entitlement_to_a_role_iamlayer_does_not_own_is_a_spec_error(tmp_path: Path) -> None:
    path = write_spec(tmp_path, SPEC)
    spec = load_spec(path, check_keys=False)
    live = AccountState(SHARED, roles={"DevOps": RoleState("DevOps", tags={"owner": "someone"})})
    error = foreign_entitled_roles(spec, "shared", live)
    assert isinstance(error, SpecError)
    [d] = error.diagnostics
    assert (d.line, d.key) == (line_of(path, "entitled:"), "roles.DevOps.entitled")
    assert "not created by iamlayer" in d.message
    ours = AccountState(SHARED, roles={"DevOps": RoleState("DevOps", tags={"iamlayer:project": "acme"})})
    assert foreign_entitled_roles(spec, "shared", ours) is None

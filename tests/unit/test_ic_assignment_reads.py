"""Issue 21 item 5: Identity Center's assignments are read by principal or by permission set and
account, whichever costs fewer calls (iamlayer.aws.identity_center.choose_assignment_reads), and a
read by principal is completed where the diff needs other principals' assignments. Pure parts
here; the Stubber read in test_ic_stubbed.py; both shapes against the emulator in
tests/integration/test_ic_assignment_reads.py."""

from __future__ import annotations

from iamlayer.aws.identity_center import choose_assignment_reads, completing_pairs
from iamlayer.kinds import (
    IC_ASSIGNMENT_READS_BY,
    REGISTRY,
    expected_plan_reads,
    ic_operations,
    read_permissions,
)
from iamlayer.plan.model import Kind
from iamlayer.plan.render import render_stats
from iamlayer.state.ic_model import (
    AssignmentReads,
    AssignmentReadShape,
    AssignmentState,
    IcState,
    PermissionSetState,
)

A, B, C = "111111111111", "222222222222", "333333333333"


def test_the_read_by_principal_is_chosen_only_when_it_costs_fewer_calls() -> None:
    # the bench: 20 groups against 8 permission sets in 200 accounts
    assert choose_assignment_reads(20, 8 * 200) is AssignmentReads.PRINCIPAL
    assert choose_assignment_reads(1, 2) is AssignmentReads.PRINCIPAL
    # a tie, or more principals than pairs (many people, a set or two in one account): by pairs
    assert choose_assignment_reads(6, 6) is AssignmentReads.PAIRS
    assert choose_assignment_reads(300, 2) is AssignmentReads.PAIRS
    assert choose_assignment_reads(0, 0) is AssignmentReads.PAIRS


def ps(name: str) -> PermissionSetState:
    return PermissionSetState(name=name, arn=f"arn:ps/{name}", owner="acme")


def group(name: str, ps_name: str, account: str) -> AssignmentState:
    return AssignmentState("GROUP", name, ps_name, account)


def wanted(*assignments: AssignmentState, sets: tuple[str, ...] = ("DevOps",)) -> IcState:
    return IcState(permission_sets={n: ps(n) for n in sets}, assignments=set(assignments))


def completed(
    found: set[AssignmentState], desired: IcState, provisioned: dict[str, list[str]], *sets: str
) -> list[tuple[str, str]]:
    detailed = [ps(n) for n in sets]
    scopes = {n: sorted({A, B, *provisioned[n]}) for n in sets}
    return [(p.name, a) for p, a in completing_pairs(found, scopes, detailed, provisioned, desired)]


def test_a_no_op_read_by_principal_completes_nothing() -> None:
    """Every account the set is provisioned to is held by a managed principal, who keeps it."""
    found = {group("devops", "DevOps", A), group("devops", "DevOps", B)}
    assert completed(found, wanted(*found), {"DevOps": [A, B]}, "DevOps") == []


def test_an_account_provisioned_but_held_by_no_managed_principal_is_listed_in_full() -> None:
    """AWS provisions a set where it is assigned: someone else holds it in C."""
    found = {group("devops", "DevOps", A)}
    assert completed(found, wanted(*found), {"DevOps": [A, C]}, "DevOps") == [("DevOps", C)]


def test_a_pair_whose_managed_assignment_the_plan_deletes_is_listed_in_full() -> None:
    """Does the set stay assigned in B (re-provisioning, policy copies) once devops' goes?"""
    found = {group("devops", "DevOps", A), group("devops", "DevOps", B)}
    desired = wanted(group("devops", "DevOps", A))
    assert completed(found, desired, {"DevOps": [A, B]}, "DevOps") == [("DevOps", B)]


def test_every_pair_of_a_permission_set_the_spec_drops_is_listed_in_full() -> None:
    """An owned set the spec no longer has is deleted only when no one else holds it."""
    found = {group("devops", "Old", A)}
    assert completed(found, wanted(), {"Old": [A]}, "Old") == [("Old", A), ("Old", B)]


def test_the_registry_declares_both_shapes_and_the_operator_may_make_them() -> None:
    reads = {c.operation for c in REGISTRY[Kind.IC_ASSIGNMENT].reads}
    assert reads == {"sso:ListAccountAssignmentsForPrincipal", "sso:ListAccountAssignments"}
    assert set(IC_ASSIGNMENT_READS_BY) == {str(s) for s in AssignmentReads}
    assert {"sso:ListAccountAssignmentsForPrincipal", "sso:ListAccountAssignments"} <= read_permissions()
    assert {"ListAccountAssignmentsForPrincipal", "ListUsers", "DescribePermissionSet"} <= ic_operations()
    assert "GetAccountAuthorizationDetails" not in ic_operations()


def test_the_expected_reads_follow_the_shape_the_read_chose() -> None:
    """In the instance's account only: one call per principal, or per pair."""
    base = expected_plan_reads([A, B], A, A)
    by_principal = expected_plan_reads([A, B], A, A, ("principal", 20))
    by_pairs = expected_plan_reads([A, B], A, A, ("permission set and account", 1600))
    assert "ListAccountAssignmentsForPrincipal" not in base and "ListAccountAssignments" not in base
    assert by_principal == {**base, "ListAccountAssignmentsForPrincipal": 20}
    assert by_pairs == {**base, "ListAccountAssignments": 1600}
    # no instance in the plan: no assignment read expected
    assert expected_plan_reads([A, B], A, None, ("principal", 20)) == expected_plan_reads([A, B], A, None)


def test_plan_stats_name_the_shape_and_identity_centers_calls() -> None:
    shape = AssignmentReadShape(AssignmentReads.PRINCIPAL, principals=20, pairs=1600, completions=0)
    stats = {
        "total": 25,
        "by_operation": {"ListAccountAssignmentsForPrincipal": 20, "ListInstances": 1, "ListRoles": 4},
        "expected_bulk_reads": {"ListAccountAssignmentsForPrincipal": 20, "ListInstances": 1, "ListRoles": 4},
        "identity_center": {
            **shape.as_json(),
            "calls": {"ListAccountAssignmentsForPrincipal": 20, "ListInstances": 1},
        },
    }
    text = render_stats(stats)
    assert "beyond them: none" in text
    assert (
        "Identity Center: assignments read by principal (20 managed principal(s), 1600 permission set and "
        "account pair(s), 0 completing read(s)); its calls: 21 (ListAccountAssignmentsForPrincipal 20, "
        "ListInstances 1)"
    ) in text


def test_how_the_assignments_were_read_is_no_part_of_the_fingerprint() -> None:
    a, b = IcState(), IcState()
    b.read_shape = AssignmentReadShape(AssignmentReads.PRINCIPAL, 1, 2)
    assert a.fingerprint() == b.fingerprint()

"""IL-4 held against NCC Group's principalmapper on the seeded account of tests/escalation_seed.py
(issue 22): principalmapper builds its graph locally (its edge checkers' `generate_edges_locally`,
with no Lambda functions, stacks or projects listed, as the seed has none) and `can_privesc`
answers for each principal that is not admin; IL-4's answer is "is or can become admin, not
directly": an escalation (certain or possible) or assuming an admin role.

Every principal on which they disagree is in DISAGREEMENTS with the reason, checked to be the
documented one (principalmapper does not model the method, or the audit cannot be sure); every
other principal agrees. `pytest -s` prints the numbers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from escalation_seed import ACCT, seeded_account
from iamlayer.audit.escalation import DIRECT, THROUGH_GROUP, account_escalation
from iamlayer.audit.model import Principal
from pmapper_compat import Group, Node, Policy

pytestmark = pytest.mark.proof  # a long proof: `make proof`

NOW_ISO = "2025-06-01T12:00:00+00:00"

#: principal -> why principalmapper does not find the path IL-4 finds (principalmapper 1.1.5)
NOT_IN_PMAPPER = {
    "SetDefaultPolicyVersion": "principalmapper does not model policy versions",
    "AddUserToGroup": "principalmapper has no edge for joining a group",
    "PassRole+Glue": "principalmapper has no Glue edge checker",
    "UpdateDevEndpoint": "principalmapper has no Glue edge checker",
    "PassRole+DataPipeline": "principalmapper has no Data Pipeline edge checker",
    "UpdateFunctionCode": "principalmapper needs the Lambda functions listed; the audit does not read them "
    "and reports a possible path",
    "PassRole+Lambda+EventSource": "principalmapper's Lambda edge needs lambda:InvokeFunction or an existing function",
    "CreateAccessKey": "an uncertain step (aws:ResourceTag unknown): a possible path for IL-4, none for "
    "principalmapper, which decides unknown keys as absent",
    "CreateLoginProfile": "principalmapper counts it only for a user without a password (admin-user has one "
    "here); GetAccountAuthorizationDetails does not say, and IL-4 counts it",
    "AttachRolePolicy": "principalmapper counts a role made admin by itself only, not by a principal that "
    "then assumes it",
    "PutRolePolicy": "principalmapper counts a role made admin by itself only, not by a principal that "
    "then assumes it",
    "AssumeRole with MFA": "principalmapper's STS edge needs the principal to have MFA (none in GAAD); IL-4 "
    "asks as a fresh MFA session",
}
#: methods where only the grant on named resources disagrees
NAMED_ONLY = {
    m: "principalmapper asks the service action on `*`; the grant names the service's resource ARNs"
    for m in ("PassRole+EC2", "PassRole+Lambda", "PassRole+CloudFormation")
}


def reason(principal: str, method: str) -> str | None:
    if principal.startswith("user/named-") and method in NAMED_ONLY:
        return NAMED_ONLY[method]
    return NOT_IN_PMAPPER.get(method)


def _nodes() -> tuple[list[Any], dict[str, str]]:
    auth, aws, expected = seeded_account()
    documents = {p.arn: p for p in (*auth.policies, *aws)}

    def policies(p: Principal) -> list[Any]:
        out = [Policy(p.arn, n, dict(d)) for n, d in p.inline.items()]
        out += [Policy(a, documents[a].name, dict(documents[a].document)) for a in p.attached]
        return out

    groups = {g.name: Group(g.arn, policies(g)) for g in auth.groups}
    nodes = [
        Node(u.arn, f"AIDA{i:017d}", policies(u), [groups[g] for g in u.groups], None, None, 1, True, False,
             None, False, {})
        for i, u in enumerate(auth.users)
    ]  # fmt: skip
    nodes += [
        Node(r.arn, f"AROA{i:017d}", policies(r), [], dict(r.trust or {}),
             [f"arn:aws:iam::{ACCT}:instance-profile/{r.name}"], 0, False, False, None, False, {})
        for i, r in enumerate(auth.roles)
    ]  # fmt: skip
    return nodes, expected


def _pmapper_privesc() -> tuple[set[str], set[str]]:
    """(principals principalmapper says can escalate, admins), as refs (user/x, role/y)."""
    from principalmapper.common import Graph
    from principalmapper.graphing import (
        cloudformation_edges,
        ec2_edges,
        gathering,
        iam_edges,
        lambda_edges,
        sts_edges,
    )
    from principalmapper.querying.presets.privesc import can_privesc

    nodes, _ = _nodes()
    gathering.update_admin_status(nodes)
    edges = iam_edges.generate_edges_locally(nodes) + sts_edges.generate_edges_locally(nodes)
    edges += ec2_edges.generate_edges_locally(nodes)
    edges += lambda_edges.generate_edges_locally(nodes, [])
    edges += cloudformation_edges.generate_edges_locally(nodes, [])
    graph = Graph(nodes, edges, [], [], {"account_id": ACCT, "pmapper_version": "1.1.5"})

    def ref(n: Any) -> str:
        kind, name = n.arn.split(":")[5].split("/", 1)
        return f"{kind}/{name.rsplit('/', 1)[-1]}"

    admins = {ref(n) for n in nodes if n.is_admin}
    return {ref(n) for n in nodes if not n.is_admin and can_privesc(graph, n)[0]}, admins


def test_il4_agrees_with_principalmapper_where_both_model_the_method() -> None:
    auth, aws, expected = seeded_account()
    esc = account_escalation(auth, aws, ACCT, datetime.fromisoformat(NOW_ISO))
    ours = {r.principal.ref for r in esc.reaches if r.how not in (DIRECT, THROUGH_GROUP)}
    ours_admins = {r.principal.ref for r in esc.admins}
    privesc, their_admins = _pmapper_privesc()
    # principalmapper marks a principal that can change its own policies admin (update_admin_status):
    # for IL-4 that is an escalation. So "can become admin" is privesc or admin, not "*" on "*".
    theirs = (privesc | their_admins) - ours_admins
    method_of = {f"user/{u}": m for u, m in expected.items()}
    method_of |= {"user/maybe": "CreateAccessKey", "user/devops": "AssumeRole with MFA"}
    only_ours = ours - theirs
    only_theirs = theirs - ours
    principals = len(auth.users) + len(auth.roles)
    print(
        f"\nseeded account: {principals} principals; IL-4 finds {len(ours)} who can become admin "
        f"({sum(1 for r in esc.escalations if r.certain)} certain), principalmapper {len(theirs)}; "
        f"both {len(ours & theirs)}, only IL-4 {len(only_ours)}, only principalmapper {len(only_theirs)}; "
        f'holders of "*" on "*": {len(ours_admins)} (principalmapper counts {len(their_admins)} admins)'
    )
    for p in sorted(only_ours):
        print(f"  only IL-4: {p} ({method_of.get(p, '?')}: {reason(p, method_of.get(p, ''))})")
    assert not only_theirs, f"principalmapper finds paths IL-4 misses: {sorted(only_theirs)}"
    undocumented = {p for p in only_ours if reason(p, method_of.get(p, "")) is None}
    assert not undocumented, f"disagreements without a documented reason: {sorted(undocumented)}"
    assert ours_admins <= their_admins  # a "*" on "*" holder is admin for both

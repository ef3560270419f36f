"""IAM size quotas on the documents iamlayer renders itself (validation checks the spec's own).

A group's inline policies count together against 5,120 characters, and iamlayer adds two of its
own: the assume-roles policy, which grows with every account a role is in, and the
self-management policy. The spec alone cannot show that sum, so it is checked on the rendering,
before any AWS call, as a spec error.
"""

from __future__ import annotations

from iamlayer.errors import Diagnostic, SpecError
from iamlayer.plan.desired import ASSUME_POLICY_NAME, SELF_MANAGEMENT_POLICY_NAME, desired_state
from iamlayer.spec.model import Spec
from iamlayer.spec.policy_grammar import GROUP_INLINE_LIMIT, policy_size
from iamlayer.state.model import group_marker_document


def rendered_limit_problems(spec: Spec) -> list[Diagnostic]:
    """Groups whose inline policies, as iamlayer will write them, exceed IAM's quota."""
    problems: list[Diagnostic] = []
    marker = policy_size(group_marker_document())
    people = desired_state(spec, spec.people_account)
    for name, group in people.groups.items():
        size = marker + sum(policy_size(d) for d in group.inline.values())
        if size > GROUP_INLINE_LIMIT:
            ours = [p for p in (ASSUME_POLICY_NAME, SELF_MANAGEMENT_POLICY_NAME) if p in group.inline]
            problems.append(
                Diagnostic(
                    str(spec.path),
                    None,
                    f"groups.{name}",
                    f"the inline policies iamlayer writes for group {name} ({', '.join([*group.inline][:5])}) come to "
                    f"{size} characters; IAM allows {GROUP_INLINE_LIMIT} per group",
                    f"split the group, or move policies to managed ones (`policies:`); {', '.join(ours)} are iamlayer's"
                    if ours
                    else "move policies to managed ones (`policies:`)",
                )
            )
    return problems


def check_rendered_limits(spec: Spec) -> None:
    """Raise SpecError when what iamlayer would write exceeds an IAM quota."""
    problems = rendered_limit_problems(spec)
    if problems:
        raise SpecError(problems)

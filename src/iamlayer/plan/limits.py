"""IAM size quotas on the documents iamlayer renders itself (validation checks the spec's own).

A group's inline policies count together against their quota, and iamlayer adds two of its own:
the assume-roles policy, which grows with every account a role names one by one (15 characters
each; OU selectors and `organization: true` cost the same at any number of accounts), and the
self-management policy. A role's trust policy is rendered from its fields (or given verbatim). The spec alone
cannot show those sizes, so they are checked on the rendering, before any AWS call: past what
AWS allows at most, a spec error; past an adjustable quota's default, a warning. The limits are
the kinds' quotas (iamlayer.kinds).
"""

from __future__ import annotations

from datetime import timedelta

from iamlayer.errors import Diagnostic, SpecError
from iamlayer.kinds import quota
from iamlayer.plan.desired import (
    ASSUME_POLICY_NAME,
    SELF_MANAGEMENT_POLICY_NAME,
    desired_state,
    grants_policy,
    trust_policy,
)
from iamlayer.plan.model import Kind
from iamlayer.spec.model import Spec
from iamlayer.spec.policy_grammar import policy_size
from iamlayer.state.model import group_marker_document


def _group_problems(spec: Spec) -> list[Diagnostic]:
    """Groups whose inline policies, as iamlayer will write them, exceed IAM's quota."""
    most = quota(Kind.GROUP, "inline_policies").limit
    problems: list[Diagnostic] = []
    marker = policy_size(group_marker_document())
    people = desired_state(spec, spec.people_account)
    for name, group in people.groups.items():
        size = marker + sum(policy_size(d) for d in group.inline.values())
        if size > most:
            ours = [p for p in (ASSUME_POLICY_NAME, SELF_MANAGEMENT_POLICY_NAME) if p in group.inline]
            problems.append(
                Diagnostic(
                    str(spec.path),
                    None,
                    f"groups.{name}",
                    f"the inline policies iamlayer writes for group {name} ({', '.join([*group.inline][:5])}) come to "
                    f"{size} characters; IAM allows {most} per group",
                    f"split the group, or move policies to managed ones (`policies:`); {', '.join(ours)} are iamlayer's"
                    + (
                        "; roles chosen with ou: selectors or accounts: {organization: true} are named in "
                        "assume-roles by the organization's condition keys, whatever the number of accounts"
                        if ASSUME_POLICY_NAME in ours
                        else ""
                    )
                    if ours
                    else "move policies to managed ones (`policies:`)",
                )
            )
    return problems


def _grant_problems(spec: Spec) -> list[Diagnostic]:
    """Users whose grants policy, as iamlayer will write it, exceeds IAM's quota on a user's
    inline policies (every grant is counted, expired or not: a spec valid today stays valid)."""
    most = quota(Kind.USER, "inline_policies").limit
    problems: list[Diagnostic] = []
    for user in dict.fromkeys(g.who for g in spec.grants):
        doc = grants_policy(spec, user, min(g.until for g in spec.grants) - timedelta(seconds=1))
        size = policy_size(doc) if doc is not None else 0
        if size > most:
            first = next(g for g in spec.grants if g.who == user)
            problems.append(
                Diagnostic(
                    str(spec.path),
                    first.line,
                    first.path,
                    f"the grants of user {user} come to {size:,} characters of inline policy; IAM allows "
                    f"{most:,} per user (whitespace not counted)",
                    "shorten their reasons, or grant fewer roles at once",
                )
            )
    return problems


def _trust_sizes(spec: Spec) -> list[tuple[str, int]]:
    """(role, characters of the trust policy iamlayer writes for it), for every role in an account."""
    return [(key, policy_size(trust_policy(spec, role))) for key, role in spec.roles.items() if role.accounts]


def rendered_limit_problems(spec: Spec) -> list[Diagnostic]:
    """What iamlayer would write past the most an IAM quota allows."""
    trust = quota(Kind.ROLE, "trust_policy")
    return (
        _group_problems(spec)
        + _grant_problems(spec)
        + [
            Diagnostic(
                str(spec.path),
                None,
                f"roles.{key}",
                f"the trust policy of role {key} comes to {size:,} characters; IAM allows at most {trust.limit:,} "
                "(whitespace not counted)",
                "shorten trust_policy:, or split the role",
            )
            for key, size in _trust_sizes(spec)
            if size > trust.limit
        ]
    )


def rendered_limit_warnings(spec: Spec) -> list[Diagnostic]:
    """What iamlayer would write past an adjustable quota's default: AWS refuses it until the
    account's quota is raised."""
    trust = quota(Kind.ROLE, "trust_policy")
    default = trust.default if trust.default is not None else trust.limit
    return [
        Diagnostic(
            str(spec.path),
            None,
            f"roles.{key}",
            f"the trust policy of role {key} comes to {size:,} characters; IAM's default quota is "
            f"{default:,}, so AWS refuses it until the quota is raised",
            f"request a quota increase of '{trust.aws_name}' (up to {trust.limit:,}) in every account of the role",
            severity="warning",
        )
        for key, size in _trust_sizes(spec)
        if default < size <= trust.limit
    ]


def check_rendered_limits(spec: Spec) -> None:
    """Raise SpecError when what iamlayer would write exceeds an IAM quota."""
    problems = rendered_limit_problems(spec)
    if problems:
        raise SpecError(problems)

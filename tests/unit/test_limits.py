"""Quotas on what iamlayer renders itself: a group's inline policies, including assume-roles."""

from __future__ import annotations

from pathlib import Path

import pytest

from iamlayer.errors import SpecError
from iamlayer.plan.limits import check_rendered_limits, rendered_limit_problems
from iamlayer.spec.model import Account, Group, Role, SelfManagement, Spec


def spec_with(n_accounts: int) -> Spec:
    accounts = {
        f"a{i:03d}": Account(f"a{i:03d}", f"{100000000000 + i}", None, None) for i in range(n_accounts)
    }
    return Spec(
        path=Path("/layer/iamlayer.yaml"),
        project="acme",
        project_long="acme",
        region="us-east-1",
        accounts=accounts,
        people_account="a000",
        management_account=None,
        roles={"DevOps": Role("DevOps", tuple(accounts), "a000", mfa_max_age=3600)},
        groups={"devops": Group("devops", assume=("DevOps",), self_management=SelfManagement.ENFORCE_MFA)},
    )


def test_a_group_within_the_quota_passes() -> None:
    assert rendered_limit_problems(spec_with(20)) == []
    check_rendered_limits(spec_with(20))


def test_assume_policy_over_the_group_quota_is_a_spec_error() -> None:
    # Accounts named one by one cost 15 characters each (their ids in aws:ResourceAccount).
    with pytest.raises(SpecError) as info:
        check_rendered_limits(spec_with(300))
    [d] = info.value.diagnostics
    assert d.key == "groups.devops" and d.file == "/layer/iamlayer.yaml"
    assert "IAM allows 5120 per group" in d.message
    assert "assume-roles" in (d.hint or "") and "self-management" in (d.hint or "")
    assert "ou: selectors or accounts: {organization: true}" in (d.hint or "")

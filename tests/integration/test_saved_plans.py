"""A saved plan is checked by the library's apply, not only by the CLI: spec digest and state."""

from __future__ import annotations

import json

import pytest

from iamlayer.apply.run import apply_plan
from iamlayer.aws.session import ApiStats
from iamlayer.errors import StalePlanError
from iamlayer.plan.model import plan_from_json, plan_to_json
from iamlayer.plan.planner import make_plan
from iamlayer.spec.load import load_spec
from layer import Layer


def test_apply_plan_refuses_a_saved_plan_whose_spec_or_accounts_changed(layer: Layer) -> None:
    spec = load_spec(layer.spec)
    made = make_plan(spec, profile=None, only=["security"])
    saved = plan_from_json(json.loads(json.dumps(plan_to_json(made))))
    assert saved.saved and not made.saved
    original = layer.spec.read_text()

    layer.edit('"cur:Describe*"', '"cur:Describe*", "budgets:View*"')
    with pytest.raises(StalePlanError, match=r"the spec .*iamlayer.yaml changed since the plan was made"):
        apply_plan(saved, load_spec(layer.spec), profile=None, stats=ApiStats())

    layer.write(original)
    layer.iam("security").create_group(GroupName="made-meanwhile")
    with pytest.raises(StalePlanError, match=r"account\(s\) security changed since the plan was made"):
        apply_plan(saved, load_spec(layer.spec), profile=None, stats=ApiStats())
    assert layer.iam("security").list_users()["Users"] == []  # nothing was applied

    # a plan made in the same run is applied without reading the accounts again first
    stats = ApiStats()
    outcome = apply_plan(made, spec, profile=None, stats=stats)
    assert outcome.ok and outcome.verify is not None and outcome.verify.empty
    assert stats.by_operation()["GetAccountAuthorizationDetails"] == 1  # the verifying re-read only

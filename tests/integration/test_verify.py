"""The re-read after apply waits for IAM: reads lag behind writes on AWS, never on the emulator.

The lag is simulated where the verifying re-read happens: its first plans are the plan from before
the apply (what a lagging IAM still shows), then the emulator's real answer.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from iamlayer.apply import run
from iamlayer.apply.run import apply_plan
from iamlayer.aws.session import ApiStats
from iamlayer.errors import InconsistentResultError
from iamlayer.plan.model import Plan
from iamlayer.plan.planner import make_plan
from iamlayer.spec.load import load_spec
from layer import Layer, apply_now

ONLY = ["security"]


def lagging(monkeypatch: pytest.MonkeyPatch, stale: Plan, reads: int | None) -> list[int]:
    """The verifying re-read sees `stale` `reads` times (None: always), then the real state."""
    calls: list[int] = []

    def plan_as_iam_shows_it(*args: Any, **kwargs: Any) -> Plan:
        calls.append(1)
        if reads is None or len(calls) <= reads:
            return stale
        return make_plan(*args, **kwargs)

    monkeypatch.setattr(run, "make_plan", plan_as_iam_shows_it)
    return calls


def test_apply_waits_with_backoff_until_iam_shows_its_writes(
    layer: Layer, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_spec(layer.spec)
    plan = make_plan(spec, profile=None, only=ONLY)
    calls = lagging(monkeypatch, plan, reads=2)
    said: list[str] = []
    outcome = apply_plan(plan, spec, profile=None, stats=ApiStats(), progress=said.append)
    assert outcome.ok and outcome.verify is not None and outcome.verify.empty
    # It slept 1 s, then 2 s (the messages below), and re-read three times: far from the 60 s bound.
    assert len(calls) == 3 and 3 <= outcome.waited < 30
    n = len(plan.changes)
    waits = [m for m in said if m.startswith("waiting for IAM")]
    assert waits == [
        f"waiting for IAM to show {n} change(s): re-reading in 1 s (0 of at most 60 s waited)",
        f"waiting for IAM to show {n} change(s): re-reading in 2 s (1 of at most 60 s waited)",
    ]


def test_an_apply_iam_shows_at_once_waited_for_nothing(layer: Layer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first re-read already shows every write: no wait is reported, however long it took."""
    spec = load_spec(layer.spec)
    plan = make_plan(spec, profile=None, only=ONLY)
    calls = lagging(monkeypatch, plan, reads=0)
    real_read = run.make_plan

    def slow_read(*args: Any, **kwargs: Any) -> Plan:
        time.sleep(1.5)
        return real_read(*args, **kwargs)

    monkeypatch.setattr(run, "make_plan", slow_read)
    outcome = apply_plan(plan, spec, profile=None, stats=ApiStats())
    assert outcome.ok and outcome.verify is not None and outcome.verify.empty
    assert len(calls) == 1 and outcome.waited == 0.0


def test_a_result_still_different_after_the_bound_names_every_change_and_field(
    layer: Layer, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply_now(layer, ONLY)
    layer.edit('"cur:Describe*"', '"cur:Describe*", "budgets:View*"')
    layer.edit(
        "jane.doe:   {pgp_key: keys/jane.doe, groups: [devops]}",
        "jane.doe:   {pgp_key: keys/jane.doe, groups: [devops, finops]}",
    )
    spec = load_spec(layer.spec)
    plan = make_plan(spec, profile=None, only=ONLY)
    monkeypatch.setenv("IAMLAYER_VERIFY_TIMEOUT", "2")
    lagging(monkeypatch, plan, reads=None)
    with pytest.raises(InconsistentResultError) as info:
        apply_plan(plan, spec, profile=None, stats=ApiStats())
    message = str(info.value)
    assert message.startswith("inconsistent result after apply: 2 change(s) still planned after waiting 2 s")
    assert "  ~ security/policy.billing-read: document differ(s)" in message
    assert "  + security/group_membership.jane.doe/finops (missing)" in message
    assert "IAMLAYER_VERIFY_TIMEOUT sets the wait" in message

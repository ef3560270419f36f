"""Grants that expire by themselves, end to end on the emulator (issue 23, item 3): an applied grant
makes the user's inline policy with its time condition; once `until` has passed, `validate` warns,
the next plan deletes the policy, and apply converges. The emulator enforces no IAM policy, so
what AWS would decide is asked of iamlayer's evaluator on what the emulator holds (`--live`).

The grant's `until` is a few seconds ahead of the moment it is applied: the test waits for it
rather than faking the clock of a subprocess.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from iamlayer.state.model import GRANTS_POLICY_NAME
from iamlayer.state.normalize import normalize
from layer import Layer, apply_now, run_cli

LEAD = timedelta(seconds=10)  # the small apply of the grant takes a few seconds


def _text(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.proof  # a long walk: make proof (make test keeps under 5 minutes)
def test_a_grant_is_applied_ends_by_itself_and_the_next_plan_removes_it(
    layer: Layer, aws_env: dict[str, str]
) -> None:
    apply_now(layer)  # the layer without grants
    iam = layer.iam("security")
    until = (datetime.now(UTC) + LEAD).replace(microsecond=0)
    spec = layer.spec.read_text()
    layer.write(
        spec + "grants:\n  - {who: machine.ci, assume: DevOps, accounts: [apps-prd], "
        f"until: {_text(until)}, reason: INC-4521}}\n"
    )
    apply_now(layer)
    doc = iam.get_user_policy(UserName="machine.ci", PolicyName=GRANTS_POLICY_NAME)["PolicyDocument"]
    assert normalize(doc) == normalize(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "GrantINC4521",
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Resource": [f"arn:aws:iam::{layer.ids['apps-prd']}:role/DevOps"],
                    "Condition": {"DateLessThan": {"aws:CurrentTime": _text(until)}},
                }
            ],
        }
    )
    assert iam.list_user_policies(UserName="jane.doe")["PolicyNames"] == []

    # What AWS decides on what the emulator holds, before and after `until`.
    ask = ["access", "can", "machine.ci", "sts:AssumeRole", "role/DevOps@apps-prd", "--mfa", "--live"]
    r = run_cli(*ask, "--at", _text(until - timedelta(seconds=1)), cwd=layer.root, env=aws_env)
    assert r.code == 0, r.out + r.err
    assert f"user machine.ci / inline {GRANTS_POLICY_NAME}" in r.out
    r = run_cli(*ask, "--at", _text(until), cwd=layer.root, env=aws_env)
    assert r.code == 3, r.out + r.err

    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 1)

    r = run_cli("validate", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.err
    err = " ".join(r.err.split())
    assert (
        f"warning: grants[0]: the grant of DevOps to machine.ci ended at {_text(until)}; the plan removes it"
        in err
    )
    r = run_cli("plan", "--json", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.err
    changes = [c for a in r.json()["accounts"] for c in a["changes"]]
    assert [(c["action"], c["address"]) for c in changes] == [
        ("delete", f"security/user_inline_policy.machine.ci/{GRANTS_POLICY_NAME}")
    ], json.dumps(changes)[:2000]
    apply_now(layer)
    assert iam.list_user_policies(UserName="machine.ci")["PolicyNames"] == []
    r = run_cli("plan", "--json", cwd=layer.root, env=aws_env)
    assert r.code == 0 and not [c for a in r.json()["accounts"] for c in a["changes"]], r.out

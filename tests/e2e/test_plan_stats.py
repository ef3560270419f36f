"""`plan --stats` compares the calls made with the bulk reads the kinds declare (iamlayer.kinds):
a no-op plan makes exactly those, plus connecting; a per-resource read shows as such."""

from __future__ import annotations

import json

from iamlayer.kinds import expected_plan_reads
from layer import Layer, apply_now, run_cli


def test_the_kinds_predict_a_no_op_plans_reads(layer: Layer, aws_env: dict[str, str]) -> None:
    apply_now(layer)
    r = run_cli("plan", "--json", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.err
    stats = json.loads(r.out)["stats"]
    expected = expected_plan_reads(layer.ids, "security", None)
    assert stats["expected_bulk_reads"] == expected
    assert expected["GetAccountAuthorizationDetails"] == 5 and expected["GetCredentialReport"] == 1
    made = stats["by_operation"]
    beyond = {op: n - expected.get(op, 0) for op, n in made.items() if n != expected.get(op, 0)}
    assert beyond == {"AssumeRole": 5, "GetCallerIdentity": 1}  # connecting, nothing per resource

    text = run_cli("plan", "--stats", cwd=layer.root, env=aws_env)
    assert (
        f"The kinds' bulk reads for these accounts: {sum(expected.values())} call(s); beyond them: "
        in text.out
    )
    assert "AssumeRole 5, GetCallerIdentity 1" in text.out

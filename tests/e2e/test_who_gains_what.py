"""Who gains what: every plan shows, by evaluation, the roles people newly can, no longer can, or
differently can assume. Through the CLI on the emulator (moto server over HTTP)."""

from __future__ import annotations

from typing import Any

from layer import Layer, apply_now, run_cli


def plan_json(layer: Layer, aws_env: dict[str, str]) -> dict[str, Any]:
    r = run_cli("plan", "--json", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.out[-2000:] + r.err[-2000:]
    data: dict[str, Any] = r.json()
    return data


def test_a_plan_shows_who_gains_and_loses_which_role(layer: Layer, aws_env: dict[str, str]) -> None:
    """machine.ci moves from auditors to devops: it gains DevOps (admin, MFA) in the three
    workload accounts and loses Auditor in all five; jane.doe's reach does not change."""
    first = plan_json(layer, aws_env)
    gained = {(c["person"], c["role"], c["account"]) for c in first["access_changes"] if c["change"] == "+"}
    assert ("jane.doe", "DevOps", "apps-prd") in gained  # the first plan: from nothing
    apply_now(layer)
    assert plan_json(layer, aws_env)["access_changes"] == []  # nothing changes, nothing gained

    layer.edit("groups: [auditors],", "groups: [devops],")
    data = plan_json(layer, aws_env)
    changes = {(c["change"], c["person"], c["role"], c["account"]): c for c in data["access_changes"]}
    workloads = ("shared", "apps-devstg", "apps-prd")
    assert set(changes) == {("+", "machine.ci", "DevOps", a) for a in workloads} | {
        ("-", "machine.ci", "Auditor", a) for a in layer.ids
    }
    devops = changes[("+", "machine.ci", "DevOps", "apps-prd")]
    assert devops["after"] == {"admin": True, "mfa": "MFA", "requires_mfa": True, "certain": True}
    assert devops["text"] == "+ machine.ci can assume DevOps (admin) in apps-prd, MFA"
    auditor = changes[("-", "machine.ci", "Auditor", "security")]
    assert auditor["before"] is not None and auditor["before"]["admin"] is False and auditor["after"] is None

    text = run_cli("plan", cwd=layer.root, env=aws_env)
    assert text.code == 0, text.err
    assert "Who gains what" in text.out
    assert "+ machine.ci can assume DevOps (admin) in apps-prd, MFA" in text.out
    assert "- machine.ci can assume Auditor in management, no MFA" in text.out
    assert "jane.doe can assume" not in text.out


def test_a_role_that_no_longer_asks_for_mfa_is_a_change_in_reach(
    layer: Layer, aws_env: dict[str, str]
) -> None:
    """DevOps's trust drops its MFA condition and devops no longer enforces MFA: jane.doe keeps
    DevOps, now without MFA."""
    apply_now(layer)
    layer.edit("apps-prd], mfa_max_age: 43200,", "apps-prd],")
    layer.edit("devops:   {assume: [DevOps], self_management: enforce_mfa}", "devops:   {assume: [DevOps]}")
    data = plan_json(layer, aws_env)
    texts = [c["text"] for c in data["access_changes"]]
    assert "~ jane.doe can assume DevOps (admin) in apps-prd, no MFA; was MFA" in texts, texts

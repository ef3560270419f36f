"""`plan --format markdown` (a pull-request comment) and `drift` (plan + audit for a schedule),
through the CLI on the emulator (moto server over HTTP)."""

from __future__ import annotations

import json

from layer import Layer, apply_now, run_cli


def test_markdown_plan_puts_destructive_changes_first_and_marked(
    layer: Layer, aws_env: dict[str, str]
) -> None:
    apply_now(layer)
    layer.edit("groups: [auditors],", "groups: [devops],")
    r = run_cli("plan", "--format", "markdown", "--detailed-exitcode", cwd=layer.root, env=aws_env)
    assert r.code == 2, r.err  # changes
    md = r.out
    assert md.startswith("### iamlayer plan: acme\n")
    assert "**1 to add, 0 to change, 1 to destroy** in 1 of 5 account(s)." in md
    assert "> **1 resource(s) will be destroyed**" in md
    block = (
        md.split("<details open><summary><b>security</b>", 1)[1].split("```diff\n", 1)[1].split("```", 1)[0]
    )
    assert block.splitlines() == [
        "- group_membership.machine.ci/auditors   # DESTROY",
        "+ group_membership.machine.ci/devops",
    ]
    assert "#### Who gains what" in md and "+ machine.ci can assume DevOps (admin) in apps-prd, MFA" in md
    assert "| security |" in md and "No changes in: management, shared, apps-devstg, apps-prd." in md
    assert "\x1b[" not in md  # no terminal colours in a comment


def test_drift_reports_a_hand_change_as_drift_in_json_sarif_and_markdown(
    layer: Layer, aws_env: dict[str, str]
) -> None:
    apply_now(layer)
    converged = run_cli("drift", "--format", "json", cwd=layer.root, env=aws_env)
    doc = json.loads(converged.out)
    fails = doc["audit"]["totals"]["FAIL"]
    assert doc["plan"]["summary"]["update"] == 0 and doc["plan"]["summary"]["create"] == 0
    assert converged.code == (2 if fails else 0) and doc["drift"] is bool(fails), converged.err

    # Someone detaches a policy by hand: drift, whatever the audit says.
    iam = layer.iam("apps-prd")
    iam.detach_role_policy(RoleName="DevOps", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    drifted = run_cli("drift", "--format", "json", "--account", "apps-prd", cwd=layer.root, env=aws_env)
    assert drifted.code == 2, drifted.err
    doc = json.loads(drifted.out)
    assert doc["drift"] is True and doc["exit_code"] == 2
    [change] = doc["plan"]["accounts"][0]["changes"]
    assert (
        change["address"]
        == "apps-prd/role_policy_attachment.DevOps/arn:aws:iam::aws:policy/AdministratorAccess"
    )

    out = layer.root / "drift.sarif"
    sarif = run_cli(
        "drift",
        "--format",
        "sarif",
        "--output",
        str(out),
        "--account",
        "apps-prd",
        cwd=layer.root,
        env=aws_env,
    )
    assert sarif.code == 2, sarif.err
    log = json.loads(out.read_text())
    assert log["version"] == "2.1.0"
    [run] = log["runs"]
    rules = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert "iamlayer/drift" in rules and all(r["ruleId"] in rules for r in run["results"])
    drift_results = [r for r in run["results"] if r["ruleId"] == "iamlayer/drift"]
    assert [r["message"]["text"] for r in drift_results] == [f"apply would create {change['address']}"]
    location = drift_results[0]["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "iamlayer.yaml"

    md = run_cli("drift", "--format", "markdown", "--account", "apps-prd", cwd=layer.root, env=aws_env)
    assert md.code == 2 and md.out.startswith("## iamlayer drift: drift: 1 planned change(s)"), md.out[:300]
    assert "### Audit" in md.out

"""`iamlayer migrate identity-center` against the emulator (issue 24 item 5): from the spec
`import aws` wrote of an applied `init` layer, with --live (the credential report gives each
password's and key's last use), a proposal whose parity holds, which then applies beside the
IAM layer and plans empty."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_import_aws import applied_init_layer, plan_json

from layer import run_cli

pytestmark = pytest.mark.proof  # a whole walk (apply, import, migrate, apply): `make proof`

PEOPLE = "user,email\njane.doe,jane@example.com\nmachine.ci,ci@example.com\n"


def test_migrate_an_imported_layer_live_then_apply_both_side_by_side(
    tmp_path: Path, aws_env: dict[str, str]
) -> None:
    _, mgmt_env = applied_init_layer(tmp_path)
    imported = tmp_path / "imported"
    r = run_cli("import", "aws", "--out", str(imported), cwd=tmp_path, env=mgmt_env)
    assert r.code == 0, r.err
    (tmp_path / "people.csv").write_text(PEOPLE)
    proposed = tmp_path / "proposed.yaml"
    r = run_cli(
        "migrate", "identity-center", "--spec", str(imported / "iamlayer.yaml"), "--emails", "people.csv",
        "--live", "--json", "--out", str(proposed), cwd=tmp_path, env=mgmt_env,
    )  # fmt: skip
    assert r.code == 0, r.out + r.err
    data = r.json()
    assert data["parity"] is True and data["differences"] == [] and data["credentials_read"] is True
    reached = {(row["person"], row["account"], row["before"]["name"]) for row in data["rows"]}
    assert ("jane.doe", "apps-prd", "DevOps") in reached and (
        "machine.ci",
        "shared",
        "DeployMaster",
    ) in reached
    retire = {r["user"]: r for r in data["retirement"]}
    # init gives jane a console password and an access key, machine.ci a key: none used yet
    assert retire["jane.doe"]["credentials"] == [
        {"what": "password", "last_used": "never"},
        {"what": "access key 1", "last_used": "never"},
    ]
    assert retire["machine.ci"]["credentials"] == [{"what": "access key 1", "last_used": "never"}]

    # Both layers side by side: the proposal applies, and the next plan is empty.
    shutil.copy(proposed, imported / "iamlayer.yaml")
    plan = plan_json(imported, mgmt_env)
    made = [c for a in plan["accounts"] for c in a["changes"]]
    assert {c["action"] for c in made} == {"create"}  # only Identity Center is added; IAM stays
    kinds = sorted({c["kind"] for c in made})
    assert {"ic_user", "ic_group", "permission_set", "ic_assignment"} <= set(kinds), kinds
    r = run_cli("apply", "--auto-approve", cwd=imported, env=mgmt_env)
    assert r.code == 0, r.out + r.err
    plan = plan_json(imported, mgmt_env)
    assert not any(plan["summary"].values()), plan["summary"]

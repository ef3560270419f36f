"""Golden tests for the rendered plan: the DESIGN.md example against an empty and a drifted state.

Regenerate after an intended change with: UPDATE_GOLDEN=1 pytest tests/unit/test_render_golden.py
(and read the diff of tests/golden/ before committing it).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from iamlayer.plan.desired import desired_state
from iamlayer.plan.diff import SecretIntent, diff
from iamlayer.plan.model import AccountPlan, Plan, plan_from_json, plan_to_json
from iamlayer.plan.render import render_plan
from iamlayer.spec.load import load_spec
from iamlayer.state.model import AccountState

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
FIXTURE = Path(__file__).resolve().parent / "spec_fixtures" / "design_example.yaml"


@pytest.fixture
def spec_path(tmp_path: Path) -> Path:
    """The DESIGN.md example, beside key files (their content is not read: check_keys=False)."""
    (tmp_path / "keys").mkdir()
    for k in ("jane.doe", "machine.infra"):
        (tmp_path / "keys" / k).write_text("not read")
    path = tmp_path / "iamlayer.yaml"
    shutil.copy(FIXTURE, path)
    return path


def build_plan(spec_path: Path, live: dict[str, AccountState] | None = None) -> Plan:
    spec = load_spec(spec_path, check_keys=False)
    intents = {
        "jane.doe": SecretIntent("keys/jane.doe", "F" * 40),
        "machine.ci": SecretIntent("keys/machine.infra", "E" * 40),
    }
    accounts = []
    for name, acc in spec.accounts.items():
        state = (live or {}).get(name, AccountState(account_id=acc.id))
        r = diff(
            name,
            spec.project,
            desired_state(spec, name),
            state,
            secret_intents=intents if name == spec.people_account else {},
        )
        accounts.append(
            AccountPlan(
                name,
                acc.id,
                f"arn:aws:sts::{acc.id}:assumed-role/OrganizationAccountAccessRole/x",
                f"role arn:aws:iam::{acc.id}:role/OrganizationAccountAccessRole",
                "f" * 64,
                tuple(r.changes),
                notices=tuple(r.notices),
                api_calls=5,
            )
        )
    return Plan(
        spec.project,
        "iamlayer.yaml",
        "d" * 64,
        tuple(accounts),
        "2026-01-01T00:00:00+00:00",
        {"total": 25, "by_account": {}, "by_operation": {}},
    )


def rendered(plan: Plan) -> str:
    console = Console(record=True, width=120, color_system=None, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(render_plan(plan), soft_wrap=True)
    return console.export_text()


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert text == path.read_text()


def test_first_plan_of_the_design_example(spec_path: Path) -> None:
    text = rendered(build_plan(spec_path))
    check_golden("plan_design_example_create.txt", text)
    assert text.rstrip().endswith("Plan: 47 to add, 0 to change, 0 to destroy.")


def test_drifted_plan_shows_readable_document_diff_and_destroys(spec_path: Path) -> None:
    spec = load_spec(spec_path, check_keys=False)
    live = {n: desired_state(spec, n) for n in spec.accounts}
    sec = live["security"]
    sec.groups["finops"].inline["reports"] = json.loads(
        json.dumps(sec.groups["finops"].inline["reports"]).replace("acme-reports/*", "acme-reports/old/*")
    )
    for u in sec.users.values():
        u.login_profile = bool(u.login_profile)
    sec.users["jane.doe"].access_keys = ()
    sec.users["machine.ci"].access_keys = ()
    from iamlayer.state.model import OWNER_TAG, UserState

    sec.users["left.company"] = UserState(
        "left.company", tags={OWNER_TAG: "acme"}, groups=frozenset({"devops"})
    )
    del live["apps-prd"].roles["DevOps"]
    text = rendered(build_plan(spec_path, live))
    check_golden("plan_design_example_drift.txt", text)
    lines = [line.strip() for line in text.splitlines()]
    assert '- "arn:aws:s3:::acme-reports/old/*"' in [" ".join(x.split()) for x in lines]
    assert '+ "arn:aws:s3:::acme-reports/*"' in [" ".join(x.split()) for x in lines]
    assert "- user.left.company" in text


def test_plan_json_round_trips(spec_path: Path) -> None:
    plan = build_plan(spec_path)
    again = plan_from_json(json.loads(json.dumps(plan_to_json(plan))))
    assert again == plan


def test_deletes_that_change_principals_iamlayer_does_not_own_say_so(spec_path: Path) -> None:
    """Issue 18 item 9: deleting an owned policy detaches it from everything (IAM refuses to
    delete an attached policy), and deleting an owned group removes every member: the principals
    that are not iamlayer's are named under the delete, in the text and the JSON."""
    from iamlayer.state.model import OWNER_TAG, GroupState, PolicyState, RoleState, UserState, policy_marker

    spec = load_spec(spec_path, check_keys=False)
    live = {n: desired_state(spec, n) for n in spec.accounts}
    sec = live["security"]
    for u in sec.users.values():
        u.login_profile = bool(u.login_profile)
    sec.users["machine.ci"].access_keys = ()
    sec.users["jane.doe"].access_keys = ()
    arn = "arn:aws:iam::222222222222:policy/old-reports"
    sec.policies["old-reports"] = PolicyState(
        "old-reports", description=f"Old reports {policy_marker('acme')}", arn=arn, attachments=3
    )
    sec.users["bob"] = UserState("bob", attached=frozenset({arn}), groups=frozenset({"old-team"}))
    sec.roles["CiDeploy"] = RoleState("CiDeploy", attached=frozenset({arn}))
    sec.roles["Owned"] = RoleState("Owned", attached=frozenset({arn}), tags={OWNER_TAG: "other"})
    sec.groups["old-team"] = GroupState("old-team", owner="acme", members=frozenset({"bob", "jane.doe"}))
    sec.users["jane.doe"].groups = sec.users["jane.doe"].groups | {"old-team"}
    plan = build_plan(spec_path, live)
    text = rendered(plan)
    check_golden("plan_unowned_detaches.txt", text)
    assert (
        "- policy.old-reports (detaches it from 3 principal(s) iamlayer does not own: role CiDeploy, "
        "role Owned, user bob)" in text
    )
    assert "- group.old-team (removes from it 1 principal(s) iamlayer does not own: user bob)" in text
    doc = plan_to_json(plan)
    [security] = [a for a in doc["accounts"] if a["account"] == "security"]
    by_address = {c["address"]: c for c in security["changes"]}
    assert by_address["security/policy.old-reports"]["before"]["detaches_unowned"] == [
        "role CiDeploy",
        "role Owned",
        "user bob",
    ]
    assert by_address["security/group.old-team"]["before"]["removes_unowned"] == ["user bob"]

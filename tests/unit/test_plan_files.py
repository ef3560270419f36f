"""Saved plan files: whatever the file holds, `apply FILE` answers with a PlanError, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iamlayer.cli.common import run_guarded
from iamlayer.cli.main import cli
from iamlayer.errors import PlanError
from iamlayer.plan.model import AccountPlan, Action, Address, Change, Kind, Plan, plan_to_json
from iamlayer.plan.planfile import load_plan


def saved() -> dict[str, object]:
    change = Change(Address("security", Kind.USER, "jane"), Action.CREATE, None, {"path": "/", "tags": {}})
    account = AccountPlan(
        "security", "222222222222", "arn:aws:iam::222222222222:root", "caller", "f" * 64, (change,)
    )
    return plan_to_json(Plan("acme", "/x/iamlayer.yaml", "d" * 64, (account,), "2026-01-01T00:00:00+00:00"))


def broken(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(text)
    return path


def without(data: dict[str, object], *path: object) -> str:
    d = json.loads(json.dumps(data))
    node = d
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return json.dumps(d)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"format_version": 1, "project": ', "not JSON (line 1, column"),
        ("", "not JSON"),
        ("[1, 2]", "not a plan (no format_version)"),
        ('{"hello": "world"}', "not a plan (no format_version)"),
        (json.dumps({**saved(), "format_version": 99}), "unsupported plan format 99"),
        (without(saved(), "accounts"), "missing field accounts"),
        (without(saved(), "spec_digest"), "missing field spec_digest"),
        (without(saved(), "accounts", 0, "fingerprint"), "missing field accounts[0].fingerprint"),
        (
            without(saved(), "accounts", 0, "changes", 0, "action"),
            "missing field accounts[0].changes[0].action",
        ),
        (json.dumps(saved()).replace('"kind": "user"', '"kind": "robot"'), "accounts[0].changes[0]: 'robot'"),
    ],
)
def test_a_file_that_is_not_a_usable_plan_is_a_plan_error(tmp_path: Path, text: str, says: str) -> None:
    path = broken(tmp_path, text)
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert str(info.value).startswith(f"{path} is not a usable iamlayer plan: ")
    assert says in str(info.value)


def test_a_saved_plan_round_trips(tmp_path: Path) -> None:
    plan = load_plan(broken(tmp_path, json.dumps(saved())))
    assert [str(c.address) for c in plan.changes] == ["security/user.jane"]


def test_apply_of_a_corrupt_plan_exits_1_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "iamlayer.yaml").write_text('project: acme\naccounts:\n  security: {id: "222222222222"}\n')
    broken(tmp_path, '{"format_version": 1, "accounts": [')
    monkeypatch.chdir(tmp_path)
    assert run_guarded(cli, ["apply", "plan.json", "--auto-approve"]) == 1
    err = capsys.readouterr().err
    assert "plan.json is not a usable iamlayer plan: not JSON" in err and "Traceback" not in err


def test_a_plan_with_an_unplanned_account_is_never_empty() -> None:
    """Issue 18 item 7: `empty` means "nothing to do", which a plan missing an account cannot say."""
    ok = AccountPlan("security", "222222222222", "arn", "caller", "f" * 64)
    failed = AccountPlan("shared", "333333333333", "", "", "", error="AccessDenied")
    assert Plan("acme", "/x/iamlayer.yaml", "d" * 64, (ok,), "2026-01-01T00:00:00+00:00").empty
    partial = Plan("acme", "/x/iamlayer.yaml", "d" * 64, (ok, failed), "2026-01-01T00:00:00+00:00")
    assert not partial.changes and partial.errors == [failed] and not partial.empty
    import iamlayer

    text = iamlayer.render_plan(partial)
    assert "1 account(s) could not be planned: shared" in text and "[red]" not in text and "[/]" not in text
    assert "No changes in the 1 account(s) planned" in text

"""iamlayer as a library (issue 13): load, plan, apply, audit, outputs, secrets and profiles from
Python, with credentials as a boto3 Session or a profile name, against the emulator (moto server
over HTTP). The README's example runs here as written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

import iamlayer
from iamlayer.errors import IamlayerError, SpecError, StalePlanError, UserAbort
from layer import REPO, Layer, fresh_account_ids, run_cli, session_in

ACCESS_ROLE = "OrganizationAccountAccessRole"


def _profile(aws_env: dict[str, str], name: str) -> None:
    """An AWS profile `name` with the emulator's keys, in the test's own AWS config files."""
    with open(aws_env["AWS_SHARED_CREDENTIALS_FILE"], "a", encoding="utf-8") as f:
        f.write(f"[{name}]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    with open(aws_env["AWS_CONFIG_FILE"], "a", encoding="utf-8") as f:
        f.write(f"[profile {name}]\nregion = us-east-1\n")


def test_plan_apply_audit_with_a_session_and_a_profile_name(layer: Layer, aws_env: dict[str, str]) -> None:
    _profile(aws_env, "acme-admin")
    spec = iamlayer.load_spec(layer.spec)
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    stats = iamlayer.ApiStats()
    plan = iamlayer.make_plan(spec, credentials=session, stats=stats)
    assert plan.counts()["create"] > 0 and not plan.errors
    assert stats.total == plan.stats["total"] > 0
    assert "+ user.jane.doe" in iamlayer.render_plan(plan, detail=False)

    seen: list[str] = []
    applied = iamlayer.apply_plan(
        spec,
        plan,
        credentials="acme-admin",  # a profile name: the same operator
        confirm=lambda p: seen.append(f"confirm {len(p.changes)}"),
        on_change=lambda change, error: seen.append("change" if error is None else f"error {error}"),
    )
    assert applied.ok and applied.verify is not None and applied.verify.empty
    assert seen == [f"confirm {len(plan.changes)}", *["change"] * len(plan.changes)]
    assert iamlayer.make_plan(spec, credentials=session).empty

    report = iamlayer.run_audit(spec, credentials=session, accounts=["security"]).report
    assert {f.account for f in report.findings} == {"security"}
    assert report.counts()["PASS"] > 0

    people = {p.user: p for p in iamlayer.outputs(spec, credentials=session).people}
    assert people["jane.doe"].password and people["machine.ci"].access_key_ids
    assert people["machine.ci"].secrets[0]["decrypt"].startswith("gpg --decrypt ")


def test_a_saved_plan_round_trips_and_a_stale_one_is_refused(layer: Layer, tmp_path: Path) -> None:
    spec = iamlayer.load_spec(layer.spec)
    path = tmp_path / "plan.json"
    iamlayer.save_plan(iamlayer.make_plan(spec), path)
    saved = iamlayer.read_plan(path)
    assert saved.saved and (path.stat().st_mode & 0o777) == 0o600
    layer.iam("security").create_user(UserName="someone.by.hand")  # the account moves
    with pytest.raises(StalePlanError):
        iamlayer.apply_plan(spec, saved)
    with pytest.raises(UserAbort):  # a refusal in the confirm hook stops it before any write
        iamlayer.apply_plan(spec, confirm=lambda p: (_ for _ in ()).throw(UserAbort("no")))
    assert [u["UserName"] for u in layer.iam("security").list_users()["Users"]] == ["someone.by.hand"]


def test_validation_secrets_and_profiles(layer: Layer, aws_env: dict[str, str]) -> None:
    v = iamlayer.validate(layer.spec)
    assert set(v.keys) == {"jane.doe", "machine.ci"} and layer.keys.jane_fpr in v.keys["jane.doe"]
    spec = v.spec
    assert iamlayer.apply_plan(spec).ok

    issued = iamlayer.reset_password(spec, "jane.doe")
    assert issued.file.name == "password.asc" and issued.fingerprint == layer.keys.jane_fpr
    assert layer.keys.gpg.decrypt(issued.file)  # jane reads it with stock gpg

    rotated = iamlayer.rotate_access_key(spec, "machine.ci")
    assert rotated.file.exists() and len(rotated.old_keys) == 1
    retired = iamlayer.retire_access_keys(spec, "machine.ci")
    assert [k.id for k in retired.retired] == [rotated.old_keys[0].id]
    assert [k.id for k in retired.kept] == [rotated.access_key_id]
    with pytest.raises(IamlayerError, match=r"no user 'jane\.do' in the spec .*did you mean 'jane\.doe'"):
        iamlayer.reset_password(spec, "jane.do")

    profiles = iamlayer.render_profiles(
        spec, "jane.doe", access_key_id="AKIAEXAMPLE", secret_access_key="example", mfa_serial=None
    )
    assert [r.role for r in profiles.roles] == ["DevOps", "DevOps", "DevOps"]
    assert {r.account for r in profiles.roles} == {"shared", "apps-devstg", "apps-prd"}
    assert iamlayer.operator_policy()["Statement"][1]["Action"]


def test_errors_are_values_not_exits(tmp_path: Path) -> None:
    (tmp_path / "iamlayer.yaml").write_text("project: acme\naccounts: {}\nusers: [x]\n")
    with pytest.raises(SpecError) as info:
        iamlayer.validate(tmp_path / "iamlayer.yaml")
    assert {d.key for d in info.value.diagnostics} >= {"users"}


def test_the_readme_example_runs_as_written(layer: Layer, aws_env: dict[str, str], tmp_path: Path) -> None:
    """The README's library example, run as a script in the layer folder (its profile name is one
    with the emulator's keys here)."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## As a library") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    _profile(aws_env, "acme-admin")
    script = tmp_path / "example.py"
    script.write_text(code.group(1))
    r = subprocess.run(
        [sys.executable, str(script)],
        cwd=layer.root,
        env=aws_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "+ user.jane.doe" in r.stdout and "'PASS'" in r.stdout
    assert run_cli("plan", "--detailed-exitcode", cwd=layer.root, env=aws_env).code == 0


@pytest.mark.skipif(shutil.which("mypy", path=str(Path(sys.executable).parent)) is None, reason="needs mypy")
@pytest.mark.proof  # a long walk: make proof (make test keeps under 5 minutes)
def test_the_api_is_typed_for_callers(tmp_path: Path) -> None:
    """py.typed is shipped and the README's example type-checks under mypy --strict, with the
    results' types known (a wrong use is an error)."""
    readme = (REPO / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme[readme.index("## As a library") :], re.S)
    assert code is not None
    (tmp_path / "good.py").write_text(code.group(1))
    (tmp_path / "bad.py").write_text("import iamlayer\n\nplan = iamlayer.make_plan('iamlayer.yaml')\n")
    mypy = str(Path(sys.executable).parent / "mypy")
    env: dict[str, Any] = {**os.environ, "MYPYPATH": ""}
    ok = subprocess.run(
        [mypy, "--strict", "--no-incremental", str(tmp_path / "good.py")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert ok.returncode == 0, ok.stdout
    bad = subprocess.run(
        [mypy, "--strict", "--no-incremental", str(tmp_path / "bad.py")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 1 and 'incompatible type "str"; expected "Spec"' in bad.stdout, bad.stdout
    assert (Path(iamlayer.__file__).parent / "py.typed").exists()


def test_a_plan_whose_every_account_failed_is_not_empty_and_renders_as_plain_text(
    tmp_path: Path, aws_env: dict[str, str]
) -> None:
    """Issue 18 item 7: with its only account unreadable (a user of the spec exists there, not
    iamlayer's), the plan has no change but is not `empty`: a script that skips apply when the plan
    is empty must not conclude "all is well". `render_plan` gives plain text (no `[bold]` tags);
    apply refuses it, in the library and the CLI."""
    [account_id] = fresh_account_ids(1)
    iam = session_in(account_id).client("iam")
    iam.create_user(UserName="bob")  # someone else's
    iam.create_account_alias(AccountAlias="acme-people")  # as the spec wants: no change to plan
    (tmp_path / "iamlayer.yaml").write_text(
        f'project: acme\naccounts:\n  people: {{id: "{account_id}"}}\nusers:\n  bob: {{console: false}}\n'
    )
    spec = iamlayer.load_spec(tmp_path / "iamlayer.yaml")
    plan = iamlayer.make_plan(spec)
    assert not plan.changes and [a.account for a in plan.errors] == ["people"]
    assert not plan.empty
    text = iamlayer.render_plan(plan)
    assert "user bob exists but is not owned" in text
    assert "1 account(s) could not be planned: people" in text
    assert not re.search(r"\[/?(bold|red|green|yellow|dim|cyan)?\]", text), text
    with pytest.raises(iamlayer.PlanError, match="could not be planned"):
        iamlayer.apply_plan(spec, plan)
    r = run_cli("apply", "--auto-approve", cwd=tmp_path, env=aws_env)
    assert r.code == 1 and "could not be planned" in r.out + r.err, r.out + r.err


def test_render_plan_keeps_brackets_of_the_plan_itself(layer: Layer) -> None:
    """Markup is resolved, text is kept: a policy document's JSON lists still read `[...]`."""
    text = iamlayer.render_plan(iamlayer.make_plan(iamlayer.load_spec(layer.spec), accounts=["security"]))
    assert '"Action": [' in text and "+ user.jane.doe" in text and "[/]" not in text and "[green]" not in text

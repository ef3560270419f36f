"""`iamlayer audit` and `iamlayer sts-regions` against the emulator, through click, as a user runs them.

The commands are mounted on a small group here (the lead registers them in iamlayer.cli.main).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from iamlayer.cli.audit_cmds import commands
from iamlayer.cli.common import run_guarded

SPEC = """\
project: acme
project_long: acme-corp
region: us-east-1
regions_in_use: [us-east-1, eu-west-1]
accounts:
  security: {id: "123456789012"}
  apps: {id: "999999999999"}
  shared: {id: "333333333333", profile: no-such-profile}
people_account: security
users:
  bot: {console: false}
"""


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "iamlayer.yaml"
    path.write_text(SPEC)
    return path


def run(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    group = click.Group("iamlayer", commands={c.name or "": c for c in commands()})
    code = run_guarded(group, args)
    return code, capsys.readouterr().out


def test_audit_json_reaches_accounts_and_reports_unreachable_as_error(
    aws_env: dict[str, str],
    spec_file: Path,
    iam: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run(
        ["audit", "-f", str(spec_file), "--format", "json", "--benchmark", "cis-5.0"], monkeypatch, capsys
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["benchmark"] == "cis-5.0"
    assert [a["account"] for a in doc["accounts"]] == ["security", "apps", "shared"]
    # apps is reached by assuming the access role (moto lets any role be assumed)
    assert {f["status"] for f in doc["findings"] if f["account"] == "apps"} >= {"PASS", "FAIL"}
    shared = [f for f in doc["findings"] if f["account"] == "shared"]
    assert shared and {f["status"] for f in shared} == {"ERROR"}
    assert "not reachable" in shared[0]["detail"] and "no-such-profile" in shared[0]["detail"]
    regions = {
        f["resource"]
        for f in doc["findings"]
        if f["control"] == "access-analyzer" and f["account"] == "security"
    }
    assert regions == {"region/us-east-1", "region/eu-west-1"}
    assert any(f["control_id"] == "1.7" and f["control"] == "password-length" for f in doc["findings"])
    assert doc["accounts"][0]["credential_report"]["generated_at"] is not None


def test_audit_fail_on_fail_and_html_output(
    aws_env: dict[str, str],
    spec_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out_file = tmp_path / "report.html"
    args = ["audit", "-f", str(spec_file), "--account", "security", "--format", "html", "-o", str(out_file)]
    code, _ = run([*args, "--fail-on", "fail"], monkeypatch, capsys)
    assert code == 1  # moto's root has no MFA: 1.5 FAILs
    html = out_file.read_text()
    assert "Summary per account" in html and "security" in html
    code, _ = run(args, monkeypatch, capsys)
    assert code == 0
    code, _ = run(["audit", "-f", str(spec_file), "--account", "nope"], monkeypatch, capsys)
    assert code == 2


def test_sts_regions_json_and_set_token_version_error_is_reported(
    aws_env: dict[str, str],
    spec_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run(
        ["sts-regions", "-f", str(spec_file), "--account", "security", "--json"], monkeypatch, capsys
    )
    assert code == 0
    [doc] = json.loads(out)
    assert doc["global_endpoint_token_version"] == 1 and doc["set_token_version_v2"] is True
    deactivate = {d["region"] for d in doc["deactivate"]}
    assert "us-west-2" in deactivate and "eu-west-1" not in deactivate and "us-east-1" not in deactivate
    assert doc["unknown"][0]["region"] == "*"  # moto has no account:ListRegions
    # moto lacks SetSecurityTokenServicePreferences: the failure is shown per account, exit 1.
    code, out = run(
        ["sts-regions", "-f", str(spec_file), "--account", "security", "--json", "--set-token-version", "v2"],
        monkeypatch,
        capsys,
    )
    assert code == 1
    [doc] = json.loads(out)
    assert "token version to v2" in doc["token_version_error"]
    code, out = run(["sts-regions", "-f", str(spec_file), "--json"], monkeypatch, capsys)
    assert code == 0
    _security, apps, shared = json.loads(out)
    # apps is reached through a role: probed with AssumeRole via each region's endpoint
    assert apps["active_regions"] and "us-west-2" in {d["region"] for d in apps["deactivate"]}
    assert shared["errors"] and "not reachable" in shared["errors"][0]
    code, out = run(["sts-regions", "-f", str(spec_file), "--account", "security"], monkeypatch, capsys)
    assert code == 0 and "Security Token Service (STS)" in out and "us-west-2" in out


def test_cli_runner_smoke(aws_env: dict[str, str], spec_file: Path) -> None:
    group = click.Group("iamlayer", commands={c.name or "": c for c in commands()})
    result = CliRunner().invoke(group, ["audit", "--help"])
    assert result.exit_code == 0 and "--fail-on" in result.output and "cis-5.0" in result.output

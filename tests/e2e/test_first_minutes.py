"""What a new user tripped on in their first minutes (issue 13's findings), as they ran it: the CLI
in a subprocess, the real aws CLI, the embedded emulator (moto server over HTTP).

Each test fails without its fix; the finding it holds is named in its docstring.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from iamlayer.errors import IamlayerError
from iamlayer.sandbox.emulator import free_port, start_emulator
from layer import Layer, apply_now, run_cli

VENV_BIN = Path(sys.executable).parent


def test_the_sandbox_exports_are_enough_for_the_aws_cli_v1(tmp_path: Path) -> None:
    """Finding 1: `iamlayer sandbox` printed AWS_REGION but not AWS_DEFAULT_REGION, and the aws
    CLI v1 (botocore) then said "You must specify a region"."""
    port = free_port()
    clean = {"PATH": f"{VENV_BIN}{os.pathsep}/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "iamlayer", "sandbox", "--port", str(port)],
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        while not any("Ctrl-C" in line for line in lines):
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            lines.append(line)
        exported: dict[str, str] = {}
        for line in lines:
            if line.strip().startswith("export "):
                exported.update(re.findall(r"(\w+)=(\S+)", line))
        assert exported["AWS_DEFAULT_REGION"] == exported["AWS_REGION"] == "us-east-1"
        # Only what the sandbox said to export (and no config files): the v1 CLI works.
        env = {**clean, **exported, "AWS_CONFIG_FILE": str(tmp_path / "no-config")}
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "no-credentials")
        for args in (["sts", "get-caller-identity"], ["iam", "list-users"]):
            r = subprocess.run([str(VENV_BIN / "aws"), *args], env=env, capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["Users"] == []  # the sandbox's default account, new
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_credentials_configure_needs_only_the_spec_and_no_one_elses_key(
    layer: Layer, aws_env: dict[str, str], tmp_path: Path
) -> None:
    """Finding 3: `credentials configure --user X` failed unless every user's key file was present;
    a person has only the spec (and at most their own key)."""
    apply_now(layer)
    key = layer.iam("security").create_access_key(UserName="jane.doe")["AccessKey"]
    creds = tmp_path / "accessKeys.csv"
    with creds.open("w", newline="") as f:
        csv.writer(f).writerows(
            [["Access key ID", "Secret access key"], [key["AccessKeyId"], key["SecretAccessKey"]]]
        )
    for name in ("jane.doe", "machine.infra"):
        (layer.root / "keys" / name).unlink()  # the person's copy of the layer: the spec alone
    aws_dir = tmp_path / "aws"
    r = run_cli(
        "credentials",
        "configure",
        "--user",
        "jane.doe",
        "--credentials-file",
        str(creds),
        "--aws-dir",
        str(aws_dir),
        "--plaintext",
        "--json",
        cwd=layer.root,
        env=aws_env,
    )
    assert r.code == 0, r.err
    assert [p["role"] for p in r.json()["profiles"]] == ["DevOps", "DevOps", "DevOps"]
    assert key["SecretAccessKey"] not in r.out + r.err
    assert key["SecretAccessKey"] in (aws_dir / "credentials").read_text()


def test_sts_regions_set_token_version_says_why_it_failed_without_html(
    layer: Layer, aws_env: dict[str, str]
) -> None:
    """Finding 4: `sts-regions --set-token-version v2` (which the tool recommends) dumped a raw HTML
    500 page in the sandbox, and exited 1 without saying why."""
    r = run_cli(
        "sts-regions", "--account", "security", "--set-token-version", "v2", cwd=layer.root, env=aws_env
    )
    assert r.code == 1
    assert "<html" not in (r.out + r.err).lower() and "<!doctype" not in (r.out + r.err).lower()
    flat = " ".join(r.out.split())
    assert "could not change it" in flat and "500 Internal Server Error" in flat
    assert "does not implement this API" in flat
    assert "The token version could not be set in 1 account(s): security" in " ".join(r.err.split())


def test_a_saved_plan_is_applied_without_a_terminal(layer: Layer, aws_env: dict[str, str]) -> None:
    """Finding 9: `apply plan.json` refused without a terminal; the saved plan was the review (as
    Terraform applies a saved plan without asking). A fresh plan still needs --auto-approve."""
    r = run_cli("plan", "--out", "plan.json", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.err
    r = run_cli("apply", cwd=layer.root, env=aws_env, input="")  # stdin is not a terminal
    assert r.code == 1 and "no terminal to confirm on" in r.err
    r = run_cli("apply", "plan.json", cwd=layer.root, env=aws_env, input="")
    assert r.code == 0, r.out + r.err
    assert "Applying the plan saved in plan.json" in r.out and "Apply complete!" in r.out
    assert "Only 'yes' will be accepted" not in r.out + r.err
    r = run_cli("plan", "--detailed-exitcode", cwd=layer.root, env=aws_env)
    assert r.code == 0, r.out + r.err


def test_the_emulator_ignores_a_stray_module_in_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 10: a stray code.py in the current folder made the emulator exit at start."""
    (tmp_path / "code.py").write_text("raise SystemExit('a stray code.py was imported')\n")
    monkeypatch.chdir(tmp_path)
    emu = start_emulator()
    try:
        emu.reset()
    finally:
        emu.stop()


def test_an_emulator_that_exits_at_start_says_what_it_said() -> None:
    """Finding 10: the emulator's own error output was discarded ("exited at start (code 1)")."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(IamlayerError) as info:
            start_emulator(port=port, timeout=60)
    message = str(info.value)
    assert "exited at start" in message
    assert "in use" in message.lower(), message  # werkzeug: "Address already in use"

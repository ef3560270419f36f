"""End to end: a person enrols MFA, configures profiles, and the real `aws` CLI and `iamlayer exec` use them.

Everything runs as subprocesses against the emulator (moto server over HTTP), with HOME in a temp
folder. The subprocesses start in a new session, so there is no controlling terminal: prompts
(iamlayer's and the aws CLI's "Enter MFA code") read stdin, and a prompt that should not happen
fails instead of waiting. TOTP codes come from the seed CreateVirtualMFADevice returned (shown
with --show-secret), via pyotp; the emulator accepts any code.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pyotp

from iamlayer.sandbox.emulator import Emulator

OWN_EMULATOR = "the default account is the people account, reset per test"

PEOPLE, DEVSTG, PRD = "123456789012", "444444444444", "555555555555"
VENV_BIN = Path(sys.executable).parent
AWS = str(VENV_BIN / "aws")

SPEC = f"""\
project: acme
project_long: acme-corp
region: us-east-1
accounts:
  security:    {{id: "{PEOPLE}"}}
  apps-devstg: {{id: "{DEVSTG}"}}
  apps-prd:    {{id: "{PRD}"}}
people_account: security
roles:
  DevOps: {{accounts: [apps-devstg, apps-prd], mfa_max_age: 43200}}
groups:
  devops: {{assume: [DevOps]}}
users:
  jane.doe: {{groups: [devops], console: false}}
"""

HAND_WRITTEN = """\
# my own profiles
[profile personal]
region = eu-west-1
output = text

"""

# Until the lead registers the people's commands in cli/commands.py, run them in a group of their
# own through the same error handling as `python -m iamlayer`.
RUNNER = (
    "import sys, click\n"
    "from iamlayer.cli.common import run_guarded\n"
    "from iamlayer.cli.people import commands\n"
    "g = click.Group('iamlayer', commands={c.name: c for c in commands()})\n"
    "sys.exit(run_guarded(g))\n"
)


def iamlayer_argv(tmp: Path) -> list[str]:
    probe = subprocess.run(
        [sys.executable, "-m", "iamlayer", "--help"], capture_output=True, text=True, check=False
    )
    if "credential-process" in probe.stdout:
        return [sys.executable, "-m", "iamlayer"]
    runner = tmp / "iamlayer_people.py"
    runner.write_text(RUNNER)
    return [sys.executable, str(runner)]


def run(
    argv: list[str], env: dict[str, str], stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        env=env,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        start_new_session=True,  # no controlling terminal: prompts read stdin
        check=False,
    )


def create_role(account: str) -> None:
    """DevOps in a member account, made through OrganizationAccountAccessRole (moto allows it)."""
    c = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="setup"
    )["Credentials"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{PEOPLE}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    boto3.client(
        "iam",
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
    ).create_role(RoleName="DevOps", AssumeRolePolicyDocument=json.dumps(trust))


def enable_mfa(cli: list[str], env: dict[str, str], png: Path) -> pyotp.TOTP:
    """`mfa enable --show-secret`: read the otpauth URI it shows, answer with two consecutive codes."""
    proc = subprocess.Popen(
        [*cli, "mfa", "enable", "--show-secret", "--png", str(png), "--json"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stderr is not None
    uri = None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "otpauth://" in line:
            uri = line[line.index("otpauth://") :].strip()
            break
    assert uri, "".join(lines)
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP)
    codes = f"{totp.now()}\n{totp.at(time.time(), counter_offset=1)}\n"
    out, err = proc.communicate(codes, timeout=60)
    assert proc.returncode == 0, "".join(lines) + err
    result = json.loads(out)
    assert result["serial"] == f"arn:aws:iam::{PEOPLE}:mfa/jane.doe"
    assert result["otpauth_uri"] == uri  # asked for with --show-secret; the seed appears nowhere else
    assert out.count(totp.secret) == 1 and "".join(lines).count(totp.secret) == 1
    return totp


def identity(stdout: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(stdout)
    return data


def test_person_flow_with_real_aws_cli(
    emulator: Emulator, aws_env: dict[str, str], iam: Any, tmp_path: Path
) -> None:
    emulator.reset()
    iam.create_user(UserName="jane.doe")
    key = iam.create_access_key(UserName="jane.doe")["AccessKey"]
    for account in (DEVSTG, PRD):
        create_role(account)

    home = tmp_path / "home"
    aws_dir = home / ".aws" / "acme"
    layer = tmp_path / "layer"
    layer.mkdir()
    (layer / "iamlayer.yaml").write_text(SPEC)
    csv = tmp_path / "accessKeys.csv"
    csv.write_bytes(
        f"\ufeffAccess key ID,Secret access key\r\n{key['AccessKeyId']},{key['SecretAccessKey']}\r\n".encode()
    )
    cli = iamlayer_argv(tmp_path)

    base = {
        k: v
        for k, v in aws_env.items()
        if not k.startswith("AWS_") or k in ("AWS_ENDPOINT_URL", "AWS_REGION")
    }
    base.update(HOME=str(home), PATH=f"{VENV_BIN}{os.pathsep}{base.get('PATH', '')}")
    base.pop("IAMLAYER_MFA_CODE", None)

    # 1. MFA with the person's own key (from the environment, as before any profile exists).
    as_jane = {
        **base,
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    png = tmp_path / "jane-mfa.png"
    totp = enable_mfa(cli, as_jane, png)
    assert stat.S_IMODE(png.stat().st_mode) == 0o600 and png.read_bytes().startswith(b"\x89PNG")

    # 2. A hand-written profile exists before iamlayer writes anything.
    aws_dir.mkdir(parents=True)
    (aws_dir / "config").write_text(HAND_WRITTEN)
    configure = [
        *cli,
        "credentials",
        "configure",
        "--user",
        "jane.doe",
        "--credentials-file",
        str(csv),
        "--plaintext",  # this walk is the plaintext one; test_people_keys.py walks the others
        "--json",
    ]
    r = run(configure, base, cwd=layer)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert key["SecretAccessKey"] not in r.stdout + r.stderr
    assert summary["mfa_serial"] == f"arn:aws:iam::{PEOPLE}:mfa/jane.doe"
    assert [p["profile"] for p in summary["profiles"]] == ["acme-apps-devstg-devops", "acme-apps-prd-devops"]
    assert summary["exports"] == [
        f"export AWS_CONFIG_FILE={aws_dir / 'config'}",
        f"export AWS_SHARED_CREDENTIALS_FILE={aws_dir / 'credentials'}",
    ]
    config, creds = aws_dir / "config", aws_dir / "credentials"
    for f in (config, creds):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert config.read_text().startswith(HAND_WRITTEN)
    assert (aws_dir / "config.bak").read_text() == HAND_WRITTEN
    before = {f: (f.read_bytes(), f.stat().st_mtime_ns) for f in (config, creds)}

    env = {**base, "AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(creds)}

    # 3. The real aws CLI uses the generated profile, asking for the MFA code on stdin.
    r = run(
        [AWS, "sts", "get-caller-identity", "--profile", "acme-apps-devstg-devops", "--output", "json"],
        env,
        stdin=totp.now() + "\n",
    )
    assert r.returncode == 0, r.stderr
    assert identity(r.stdout)["Arn"] == f"arn:aws:sts::{DEVSTG}:assumed-role/DevOps/jane.doe"

    # 4. iamlayer exec: the code once, then another role in the same MFA session without one.
    r = run(
        [
            *cli,
            "exec",
            "acme-apps-devstg-devops",
            "--",
            AWS,
            "sts",
            "get-caller-identity",
            "--output",
            "json",
        ],
        env,
        stdin=totp.now() + "\n",
    )
    assert r.returncode == 0, r.stderr
    assert identity(r.stdout)["Account"] == DEVSTG
    assert "MFA code" in r.stderr
    r = run(
        [*cli, "exec", "acme-apps-prd-devops", "--", AWS, "sts", "get-caller-identity", "--output", "json"],
        env,
    )
    assert r.returncode == 0, r.stderr
    assert identity(r.stdout)["Arn"] == f"arn:aws:sts::{PRD}:assumed-role/DevOps/jane.doe"
    assert "MFA code" not in r.stderr
    r = run(
        [*cli, "exec", "acme-apps-prd-devops", "--", sys.executable, "-c", "import sys; sys.exit(7)"], env
    )
    assert r.returncode == 7

    cache = aws_dir / "cache"
    assert sorted(p.name for p in cache.iterdir()) == [
        "mfa-session--acme-security.json",
        "role--acme-apps-devstg-devops.json",
        "role--acme-apps-prd-devops.json",
    ]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in cache.iterdir())

    # 5. Rerunning configure leaves both files byte-identical (not even rewritten), also without
    #    the CSV: the key configured before is reused, nothing is asked.
    r = run(configure, base, cwd=layer)
    assert r.returncode == 0, r.stderr
    assert {f: (f.read_bytes(), f.stat().st_mtime_ns) for f in (config, creds)} == before
    without_csv = [a for a in configure if a not in ("--credentials-file", str(csv))]
    r = run(without_csv, base, cwd=layer)
    assert r.returncode == 0, r.stderr
    assert {f: (f.read_bytes(), f.stat().st_mtime_ns) for f in (config, creds)} == before

    # 6. A hand-written profile using credential_process, next to ours, works through the aws CLI.
    with config.open("a") as f:
        f.write(
            f"\n[profile via-process]\ncredential_process = {' '.join(cli)} credential-process acme-apps-prd-devops\n"
            "region = us-east-1\n"
        )
    r = run([AWS, "sts", "get-caller-identity", "--profile", "via-process", "--output", "json"], env)
    assert r.returncode == 0, r.stderr
    assert identity(r.stdout)["Account"] == PRD
    r = run([*cli, "credential-process", "acme-apps-prd-devops"], env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["Version"] == 1 and set(out) == {
        "Version",
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
    }

    # 7. whoami, unknown profile, logout.
    r = run([*cli, "whoami", "--profile", "acme-apps-prd-devops", "--json"], env)
    assert r.returncode == 0, r.stderr
    who = json.loads(r.stdout)
    assert (who["account"], who["type"], who["name"], who["mfa_session"]) == (
        PRD,
        "assumed-role",
        "DevOps",
        True,
    )
    r = run([*cli, "exec", "acme-apps-prd-devop", "--", "true"], env)
    assert r.returncode == 1 and "did you mean 'acme-apps-prd-devops'" in r.stderr
    r = run([*cli, "mfa", "logout"], env)
    assert r.returncode == 0, r.stderr
    assert list(cache.iterdir()) == []
    r = run([*cli, "exec", "acme-apps-prd-devops", "--", "true"], env)  # no code, no terminal: clear error
    assert r.returncode == 1 and "IAMLAYER_MFA_CODE" in r.stderr
    assert config.read_text().startswith(HAND_WRITTEN)
    # Hand-written sections added after ours survive a rerun too, byte for byte.
    text = config.read_bytes()
    r = run(configure, base, cwd=layer)
    assert r.returncode == 0, r.stderr
    assert config.read_bytes() == text and b"[profile via-process]" in text

"""End to end: `iamlayer credentials configure --sso` writes sso-session profiles, and botocore and
the real `aws` CLI get credentials through them.

The emulator has no AWS access portal (sso:GetRoleCredentials; it routes the request to S3), so
a small portal stands in on 127.0.0.1, reached through AWS_ENDPOINT_URL_SSO as botocore reaches
the real one: it checks the bearer token botocore read from the SSO cache, and answers with
temporary credentials the emulator really issued in the asked account (AssumeRole there), so the
call made with them (sts:GetCallerIdentity against the emulator) shows which account was reached.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from layer import fresh_account_ids, run_cli, session_in

AWS = str(Path(sys.executable).parent / "aws")
TOKEN = "portal-token-for-jane"

SPEC = """\
project: acme
region: eu-west-1
accounts:
  management: {{id: "{management}"}}
  shared:     {{id: "{shared}"}}
  apps-prd:   {{id: "{prd}"}}
people_account: management
roles:
  devops: {{accounts: [shared]}}
identity_center:
  region: us-east-1
  start_url: https://d-1234567890.awsapps.com/start
  users:
    jane.doe: {{email: jane@example.com, given_name: Jane, family_name: Doe}}
    john.roe: {{email: john@example.com, given_name: John, family_name: Roe}}
  groups:
    devops: {{members: [jane.doe]}}
  permission_sets:
    DevOps: {{policies: [arn:aws:iam::aws:policy/AdministratorAccess]}}
    ReadOnly: {{policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]}}
  assignments:
    - {{group: devops, permission_sets: [DevOps], accounts: [shared, apps-prd]}}
    - {{user: jane.doe, permission_sets: [ReadOnly], accounts: [apps-prd]}}
    - {{user: john.roe, permission_sets: [ReadOnly], accounts: all}}
"""


class Portal:
    """A stand-in for the AWS access portal's GetRoleCredentials, over HTTP."""

    def __init__(self) -> None:
        self.asked: list[dict[str, str]] = []
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's name for it
                url = urllib.parse.urlparse(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                token = self.headers.get("x-amz-sso_bearer_token", "")
                portal.asked.append({"path": url.path, "token": token, **query})
                if url.path != "/federation/credentials" or token != TOKEN:
                    self.send_response(401)
                    self.end_headers()
                    return
                creds = session_in(query["account_id"]).get_credentials().get_frozen_credentials()
                body = {
                    "roleCredentials": {
                        "accessKeyId": creds.access_key,
                        "secretAccessKey": creds.secret_key,
                        "sessionToken": creds.token,
                        "expiration": 4102444800000,  # 2100-01-01, in milliseconds
                    }
                }
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def portal() -> Iterator[Portal]:
    p = Portal()
    try:
        yield p
    finally:
        p.close()


def test_sso_profiles_are_written_once_and_resolve_credentials_through_the_portal(
    tmp_path: Path, aws_env: dict[str, str], portal: Portal
) -> None:
    management, shared, prd = fresh_account_ids(3)
    layer = tmp_path / "layer"
    layer.mkdir()
    (layer / "iamlayer.yaml").write_text(SPEC.format(management=management, shared=shared, prd=prd))
    home, aws_dir = tmp_path / "home", tmp_path / "home" / ".aws" / "acme"
    home.mkdir()
    aws_dir.mkdir(parents=True)
    config = aws_dir / "config"
    config.write_text("# mine\n[profile personal]\nregion = eu-west-2\n")
    env = {**aws_env, "HOME": str(home)}
    args = ("credentials", "configure", "--sso", "--user", "jane.doe", "--aws-dir", str(aws_dir), "--json")

    r = run_cli(*args, cwd=layer, env=env)
    assert r.code == 0, r.err
    out = r.json()
    assert out["sso_session"] == "acme" and out["start_url"] == "https://d-1234567890.awsapps.com/start"
    # DevOps is named like the IAM role devops (profile acme-shared-devops): marked sso- (issue 18).
    assert [p["profile"] for p in out["profiles"]] == [
        "acme-shared-sso-DevOps",
        "acme-apps-prd-sso-DevOps",
        "acme-apps-prd-ReadOnly",
    ]
    assert out["files"]["config"]["changed"] is True
    text = config.read_text()
    assert text.startswith("# mine\n[profile personal]\nregion = eu-west-2\n")  # a person's own, kept
    assert (
        "# managed by iamlayer (acme sso)\n[sso-session acme]\n"
        "sso_start_url = https://d-1234567890.awsapps.com/start\nsso_region = us-east-1\n"
        "sso_registration_scopes = sso:account:access\n"
    ) in text
    assert (
        "# managed by iamlayer (acme sso)\n[profile acme-apps-prd-ReadOnly]\nsso_session = acme\n"
        f"sso_account_id = {prd}\nsso_role_name = ReadOnly\nregion = eu-west-1\noutput = json\n"
    ) in text
    mtime = config.stat().st_mtime_ns
    r = run_cli(*args, cwd=layer, env=env)
    assert r.code == 0 and r.json()["files"]["config"]["changed"] is False  # rerunning changes nothing
    assert config.stat().st_mtime_ns == mtime and config.read_text() == text

    # The person signs in (`aws sso login` leaves the token in the SSO cache, keyed by the session).
    cache = home / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    (cache / f"{hashlib.sha1(b'acme').hexdigest()}.json").write_text(
        json.dumps(
            {
                "startUrl": "https://d-1234567890.awsapps.com/start",
                "region": "us-east-1",
                "accessToken": TOKEN,
                "expiresAt": "2099-01-01T00:00:00Z",
            }
        )
    )
    person = {
        k: v for k, v in env.items() if not k.startswith(("AWS_ACCESS_KEY", "AWS_SECRET", "AWS_SESSION"))
    }
    person.update({"AWS_CONFIG_FILE": str(config), "AWS_ENDPOINT_URL_SSO": portal.url})

    # The real aws CLI, through botocore's SSO credential provider.
    proc = subprocess.run(
        [AWS, "sts", "get-caller-identity", "--profile", "acme-apps-prd-ReadOnly", "--output", "json"],
        env=person,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Account"] == prd
    assert portal.asked[-1] == {
        "path": "/federation/credentials",
        "token": TOKEN,
        "role_name": "ReadOnly",
        "account_id": prd,
    }

    # And boto3 in a person's program, with the other profile (in a process of its own: botocore
    # fixes the SSO cache folder from HOME when it is imported).
    program = "import boto3; print(boto3.Session(profile_name='acme-shared-sso-DevOps').client('sts').get_caller_identity()['Account'])"
    proc = subprocess.run(
        [sys.executable, "-c", program], env=person, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == shared
    assert portal.asked[-1]["role_name"] == "DevOps" and portal.asked[-1]["account_id"] == shared


def test_sso_and_iam_profiles_share_the_file_without_removing_each_other(tmp_path: Path) -> None:
    """Each command owns its own sections: writing one never removes the other's."""
    from iamlayer.profiles.inifile import sync_file
    from iamlayer.profiles.render import Section
    from iamlayer.profiles.sso import write_sso_profiles
    from iamlayer.spec.load import load_spec

    management, shared, prd = fresh_account_ids(3)
    (tmp_path / "iamlayer.yaml").write_text(SPEC.format(management=management, shared=shared, prd=prd))
    spec = load_spec(tmp_path / "iamlayer.yaml", check_keys=False)
    config = tmp_path / "config"
    sync_file(config, "acme", [Section("profile acme-shared-devops", (("region", "eu-west-1"),))])
    _, change = write_sso_profiles(spec, "john.roe", config)
    assert change.added and not change.removed
    again = sync_file(config, "acme", [Section("profile acme-shared-devops", (("region", "eu-west-1"),))])
    assert not again.changed  # the IAM side sees its own section as it left it
    text = config.read_text()
    assert "[profile acme-shared-devops]" in text and "[profile acme-management-ReadOnly]" in text

"""Who reaches a role through the account access manager (`roles.<Role>.entitled`), offline
from the spec: `iamlayer access who-can-assume` lists the entitled Identity Center principals, and
`credentials configure --sso` writes a profile per entitled role and account for a person."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spec_support import write_spec

from iamlayer.cli.common import run_guarded
from iamlayer.cli.main import cli
from iamlayer.profiles.sso import render_sso_profiles
from iamlayer.spec.load import load_spec

SPEC = """\
project: acme
accounts:
  management: {id: "111111111111"}
  shared:     {id: "333333333333"}
  apps-prd:   {id: "555555555555"}
people_account: management
roles:
  DevOps:
    accounts: [shared, apps-prd]
    entitled: [group/devops, user/okta.jane]
  Auditor: {accounts: [shared]}
identity_center:
  users:
    jane.doe: {email: jane@example.com, given_name: Jane, family_name: Doe}
    okta.jane: {external: true}
  groups:
    devops: {members: [jane.doe]}
    okta-ops: {external: true}
"""


def test_who_can_assume_lists_the_entitled_principals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_spec(tmp_path, SPEC)
    monkeypatch.chdir(tmp_path)
    code = run_guarded(cli, ["access", "who-can-assume", "DevOps", "--account", "shared", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["entitled"] == [
        {"kind": "group", "name": "devops", "external": False, "members": ["jane.doe"]},
        {"kind": "user", "name": "okta.jane", "external": True, "members": []},
    ]
    run_guarded(cli, ["access", "who-can-assume", "DevOps", "--account", "shared"])
    text = capsys.readouterr().out
    assert "Identity Center group devops (members: jane.doe): entitled by the account access manager" in text
    assert "Identity Center user okta.jane (provisioned by the identity provider)" in text
    run_guarded(cli, ["access", "who-can-assume", "Auditor", "--json"])
    assert json.loads(capsys.readouterr().out)["entitled"] == []


def test_sso_profiles_of_entitled_roles_directly_and_through_a_group(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, SPEC), check_keys=False)
    url = "https://d-1234567890.awsapps.com/start"
    for user in ("jane.doe", "okta.jane"):  # through group devops; directly
        r = render_sso_profiles(spec, user, start_url=url)
        assert [p.profile for p in r.profiles] == [
            "acme-shared-entitled-DevOps",
            "acme-apps-prd-entitled-DevOps",
        ]
        assert dict(r.config[1].items) == {
            "sso_session": "acme",
            "sso_account_id": "333333333333",
            "sso_role_name": "DevOps",
            "region": "us-east-1",
            "output": "json",
        }

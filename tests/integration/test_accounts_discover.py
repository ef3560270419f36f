"""`iamlayer accounts discover` against an emulated AWS Organization."""

from __future__ import annotations

from pathlib import Path

from iamlayer.spec.edit import account_name
from layer import fresh_account_ids, run_cli, session_in

SPEC = """\
# our layer
project: acme
project_long: acme-corp   # alias prefix
accounts:
  security: {id: "%s"}    # people live here
people_account: security
"""


def test_account_names_lose_the_project_prefix() -> None:
    assert account_name("acme-corp-apps-prd", "acme-corp") == "apps-prd"
    assert account_name("Acme Corp Sandbox", "acme-corp") == "acme-corp-sandbox"
    assert account_name("acme-corp", "acme-corp") == "acme-corp"


def test_discover_writes_the_organizations_accounts_and_keeps_the_rest(
    tmp_path: Path, aws_env: dict[str, str]
) -> None:
    [mgmt] = fresh_account_ids(1)
    session = session_in(mgmt)
    org = session.client("organizations")
    org.create_organization(FeatureSet="ALL")
    made = {}
    for name in ("acme-corp-security", "acme-corp-shared", "acme-corp-apps-prd"):
        status = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
        made[name] = status["AccountId"]
    spec = tmp_path / "iamlayer.yaml"
    spec.write_text(SPEC % made["acme-corp-security"])
    creds = session.get_credentials().get_frozen_credentials()
    env = {
        **aws_env,
        "AWS_ACCESS_KEY_ID": creds.access_key,
        "AWS_SECRET_ACCESS_KEY": creds.secret_key,
        "AWS_SESSION_TOKEN": creds.token or "",
    }

    r = run_cli("accounts", "discover", "--dry-run", cwd=tmp_path, env=env)
    assert r.code == 0, r.err
    assert spec.read_text() == SPEC % made["acme-corp-security"]

    r = run_cli("accounts", "discover", "--json", cwd=tmp_path, env=env)
    assert r.code == 0, r.err
    out = r.json()
    assert out["management_account_id"] == mgmt
    text = spec.read_text()
    assert "# our layer" in text and "# people live here" in text and "# alias prefix" in text
    assert f'shared: {{id: "{made["acme-corp-shared"]}"}}' in text
    assert f'apps-prd: {{id: "{made["acme-corp-apps-prd"]}"}}' in text
    assert text.count(made["acme-corp-security"]) == 1  # known id keeps its name, not duplicated
    r = run_cli("accounts", "discover", cwd=tmp_path, env=env)
    assert r.code == 0 and "already lists them" in r.out
    assert spec.read_text() == text

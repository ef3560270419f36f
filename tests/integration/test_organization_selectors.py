"""Accounts chosen by the organization (issue 21 items 1 and 2), against an emulated AWS
Organization: OU selectors and `accounts: {organization: true}` resolved at plan time, what each
matched shown by the plan, SUSPENDED accounts skipped, an OU that does not exist refused at its
line with the OUs that do, and a new account picked up by the next plan with no edit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from iamlayer.aws.org import read_org_view
from iamlayer.errors import SpecError
from iamlayer.plan.planner import make_plan
from iamlayer.spec.load import load_spec
from iamlayer.stats import ApiStats
from layer import fresh_account_ids, run_cli, session_in


@dataclass
class Org:
    session: boto3.Session
    env: dict[str, str]
    ids: dict[str, str]  # account name in the organization -> id
    ous: dict[str, str]  # OU path -> id

    def client(self) -> Any:
        return self.session.client("organizations")

    def add_account(self, name: str, ou: str | None = None) -> str:
        org = self.client()
        made = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
        account_id = str(made["AccountId"])
        if ou is not None:
            root = org.list_roots()["Roots"][0]["Id"]
            org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=self.ous[ou])
        self.ids[name] = account_id
        return account_id


@pytest.fixture
def org(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Org:
    """An organization of its own: Workloads (with Workloads/Prod), Sandbox (with Sandbox/Dev);
    security at the root, two accounts in Workloads, one in Workloads/Prod, one in Sandbox, one in
    Sandbox/Dev, and a SUSPENDED (closed) one in Workloads."""
    [mgmt] = fresh_account_ids(1)
    session = session_in(mgmt)
    client = session.client("organizations")
    client.create_organization(FeatureSet="ALL")
    root = client.list_roots()["Roots"][0]["Id"]
    ous: dict[str, str] = {}
    for path in ("Workloads", "Workloads/Prod", "Sandbox", "Sandbox/Dev"):
        parent = ous[path.rsplit("/", 1)[0]] if "/" in path else root
        made = client.create_organizational_unit(ParentId=parent, Name=path.rsplit("/", 1)[-1])
        ous[path] = made["OrganizationalUnit"]["Id"]
    creds = session.get_credentials().get_frozen_credentials()
    env = {
        **aws_env,
        "AWS_ACCESS_KEY_ID": creds.access_key,
        "AWS_SECRET_ACCESS_KEY": creds.secret_key,
        "AWS_SESSION_TOKEN": creds.token or "",
    }
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, env[key])
    o = Org(session, env, {"management": mgmt}, ous)
    o.add_account("acme-corp-security")
    o.add_account("acme-corp-apps-a", "Workloads")
    o.add_account("acme-corp-apps-b", "Workloads")
    o.add_account("acme-corp-apps-prd", "Workloads/Prod")
    o.add_account("acme-corp-sandbox", "Sandbox")
    o.add_account("acme-corp-dev", "Sandbox/Dev")
    closed = o.add_account("acme-corp-old", "Workloads")
    client.close_account(AccountId=closed)
    return o


def write_spec(tmp_path: Path, org: Org, accounts: str, devops: str) -> Path:
    spec = tmp_path / "iamlayer.yaml"
    spec.write_text(
        "project: acme\nproject_long: acme-corp\n"
        f"accounts:\n{accounts}\n"
        "people_account: security\n"
        "roles:\n"
        f"  DevOps: {{accounts: {devops}, mfa_max_age: 3600}}\n"
        "groups:\n  devops: {assume: [DevOps]}\n"
        "users:\n  jane: {groups: [devops], console: false}\n"
    )
    return spec


def listed_accounts(org: Org, *names: str) -> str:
    return "\n".join(f'  {n}: {{id: "{org.ids["acme-corp-" + n]}"}}' for n in names)


def test_the_organization_is_read_with_its_ous_paths_and_statuses(org: Org) -> None:
    view = read_org_view(None, "us-east-1", ApiStats())
    assert {u.path for u in view.units} == {"Workloads", "Workloads/Prod", "Sandbox", "Sandbox/Dev"}
    prod = view.unit("Workloads/Prod")
    assert prod is not None
    assert prod.org_path == f"{view.id}/{view.root_id}/{org.ous['Workloads']}/{org.ous['Workloads/Prod']}/"
    by_name = {m.name: m for m in view.members}
    assert by_name["acme-corp-apps-prd"].org_path == prod.org_path
    assert by_name["acme-corp-apps-prd"].ou == "Workloads/Prod"
    assert by_name["acme-corp-old"].status == "SUSPENDED"
    assert by_name["acme-corp-security"].org_path == view.root_path
    workloads = view.unit("Workloads")
    assert workloads is not None
    assert {m.name for m in view.members_of(workloads, recursive=True)} == {
        "acme-corp-apps-a", "acme-corp-apps-b", "acme-corp-apps-prd", "acme-corp-old",
    }  # fmt: skip
    assert {m.name for m in view.members_of(workloads, recursive=False)} == {
        "acme-corp-apps-a", "acme-corp-apps-b", "acme-corp-old",
    }  # fmt: skip


def test_ou_selectors_resolve_at_plan_time_and_the_plan_shows_what_they_matched(
    org: Org, tmp_path: Path
) -> None:
    accounts = listed_accounts(org, "security", "apps-a", "apps-b", "apps-prd", "sandbox", "dev")
    spec_path = write_spec(tmp_path, org, accounts, "[ou:Workloads, ou:Sandbox/Dev, sandbox]")
    r = run_cli("validate", cwd=tmp_path, env=org.env)
    assert r.code == 0, r.err
    spec = load_spec(spec_path)
    assert spec.unresolved and spec.roles["DevOps"].accounts == ("sandbox",)

    r = run_cli("plan", "--json", cwd=tmp_path, env=org.env)
    assert r.code == 0, r.err
    plan = r.json()
    devops = {
        (a["account"], c["name"]) for a in plan["accounts"] for c in a["changes"] if c["kind"] == "role"
    }
    assert devops == {
        ("apps-a", "DevOps"),
        ("apps-b", "DevOps"),
        ("apps-prd", "DevOps"),
        ("dev", "DevOps"),
        ("sandbox", "DevOps"),
    }
    by = {m["selector"]: m for m in plan["selectors"]}
    assert by["ou:Workloads"]["accounts"] == ["apps-a", "apps-b", "apps-prd"]
    assert by["ou:Workloads"]["where"] == "roles.DevOps.accounts[0]" and by["ou:Workloads"]["line"] == 12
    assert by["ou:Workloads"]["skipped"] == [f"acme-corp-old ({org.ids['acme-corp-old']}): SUSPENDED"]
    assert by["ou:Sandbox/Dev"]["accounts"] == ["dev"]

    text = run_cli("plan", cwd=tmp_path, env=org.env)
    assert "Accounts chosen by the organization:" in text.out
    assert (
        "ou:Workloads (line 12, roles.DevOps.accounts[0]) matched 3 account(s): apps-a, apps-b, apps-prd"
        in text.out
    )

    # The group's policy names the role in every account and states the selection by OU path.
    [people] = [a for a in plan["accounts"] if a["account"] == "security"]
    [assume] = [
        c for c in people["changes"] if c["kind"] == "group_inline_policy" and c["sub"] == "assume-roles"
    ]
    statements = assume["after"]["document"]["Statement"]
    view = read_org_view(None, "us-east-1", ApiStats())
    work, dev = view.unit("Workloads"), view.unit("Sandbox/Dev")
    assert work is not None and dev is not None
    assert {json_key(s["Condition"]) for s in statements} == {
        json_key(
            {
                "ForAnyValue:StringLike": {
                    "aws:ResourceOrgPaths": sorted([f"{work.org_path}*", f"{dev.org_path}*"])
                },
                "StringNotEquals": {"aws:ResourceAccount": [org.ids["acme-corp-old"]]},
            }
        ),
        json_key({"StringEquals": {"aws:ResourceAccount": [org.ids["acme-corp-sandbox"]]}}),
    }
    assert all(s["Resource"] == ["arn:aws:iam::*:role/DevOps"] for s in statements)


def json_key(d: Any) -> str:
    import json

    from iamlayer.state.normalize import normalize

    return json.dumps(normalize({"Statement": [{"Condition": d}]}), sort_keys=True)


def test_an_ou_that_does_not_exist_is_an_error_at_its_line_with_a_did_you_mean(
    org: Org, tmp_path: Path
) -> None:
    accounts = listed_accounts(org, "security", "apps-a")
    spec_path = write_spec(tmp_path, org, accounts, "[ou:Workload]")
    spec = load_spec(spec_path)
    with pytest.raises(SpecError) as info:
        make_plan(spec, profile=None)
    [d] = info.value.diagnostics
    assert d.line == 8 and d.key == "roles.DevOps.accounts[0]"
    assert "no organizational unit 'Workload'" in d.message and d.hint == "did you mean 'ou:Workloads'?"
    r = run_cli("plan", cwd=tmp_path, env=org.env)
    assert r.code == 2 and "iamlayer.yaml:8" in r.err and "ou:Workloads" in r.err, r.err
    spec_path.write_text(spec_path.read_text().replace("ou:Workload]", "ou:Nowhere]"))
    with pytest.raises(SpecError) as info:
        make_plan(load_spec(spec_path), profile=None)
    [d] = info.value.diagnostics
    assert d.hint == "OUs: Workloads, Sandbox, Workloads/Prod, Sandbox/Dev"


def test_accounts_from_the_organization_follow_it_with_no_edit(org: Org, tmp_path: Path) -> None:
    security, mgmt = org.ids["acme-corp-security"], org.ids["management"]
    # moto names the management account "master": names: gives it the spec's name
    names = f'{{security: "{security}", management: "{mgmt}"}}'
    accounts = f"  organization: true\n  exclude: [sandbox]\n  names: {names}"
    write_spec(tmp_path, org, accounts, "all")
    r = run_cli("apply", "--auto-approve", "--json", cwd=tmp_path, env=org.env)
    assert r.code == 0, r.out + r.err
    roles = {a.split("/", 1)[0] for a in r.json()["succeeded"] if "/role.DevOps" in a}
    assert roles == {"management", "security", "apps-a", "apps-b", "apps-prd", "dev"}
    plan = run_cli("plan", "--json", cwd=tmp_path, env=org.env).json()
    assert not any(plan["summary"].values())
    [whole] = plan["selectors"]
    assert whole["selector"] == "organization: true" and len(whole["accounts"]) == 6
    assert sorted(whole["skipped"]) == sorted(
        [
            f"old ({org.ids['acme-corp-old']}): SUSPENDED",
            f"sandbox ({org.ids['acme-corp-sandbox']}): excluded",
        ]
    )

    # Account vending adds an account: the next plan gives it the layer's roles, no edit.
    new = org.add_account("acme-corp-apps-c", "Workloads")
    plan = run_cli("plan", "--json", cwd=tmp_path, env=org.env).json()
    changed = {(a["account"], c["kind"]) for a in plan["accounts"] for c in a["changes"]}
    assert ("apps-c", "role") in changed
    assert {a["account_id"] for a in plan["accounts"] if a["account"] == "apps-c"} == {new}
    # ... and the group's policy does not change: `all` is the organization, minus what is not in the layer.
    assert ("security", "group_inline_policy") not in changed


def test_people_see_the_accounts_the_last_apply_resolved_without_reading_organizations(
    org: Org, tmp_path: Path
) -> None:
    """credentials configure / onboard render a person's profiles from the organization the last
    apply recorded in outputs/organization.json: people's credentials do not reach Organizations."""
    from iamlayer import api
    from iamlayer.errors import IamlayerError

    security, mgmt = org.ids["acme-corp-security"], org.ids["management"]
    names = f'{{security: "{security}", management: "{mgmt}"}}'
    write_spec(tmp_path, org, f"  organization: true\n  names: {names}", "[ou:Workloads, security]")
    spec = load_spec(tmp_path / "iamlayer.yaml", check_keys=False)
    with pytest.raises(IamlayerError, match=r"organization\.json .*iamlayer outputs sync"):
        api.render_profiles(spec, "jane", access_key_id="AKIAEXAMPLE", secret_access_key="")
    r = run_cli("apply", "--auto-approve", "--json", cwd=tmp_path, env=org.env)
    assert r.code == 0, r.out + r.err
    record = tmp_path / "outputs" / "organization.json"
    assert record.is_file() and org.ids["acme-corp-apps-prd"] in record.read_text()
    rendered = api.render_profiles(spec, "jane", access_key_id="AKIAEXAMPLE", secret_access_key="")
    ids = {org.ids[f"acme-corp-{n}"] for n in ("apps-a", "apps-b", "apps-prd", "security")}
    assert {
        r.account_id for r in rendered.roles
    } == ids  # Workloads (Prod included) and security; not the SUSPENDED one, nor Sandbox


IC_BY_OU = """\
identity_center:
  account: management
  users:
    jane: {email: jane@example.com, given_name: Jane, family_name: Doe}
  groups:
    devops: {members: [jane]}
  permission_sets:
    ReadOnly: {policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]}
  assignments:
    - {group: devops, permission_sets: [ReadOnly], accounts: [ou:Workloads, management], exclude: [apps-b]}
"""


def test_identity_center_assignments_by_ou_resolve_at_plan_time(org: Org, tmp_path: Path) -> None:
    """Issue 24 item 3: an assignment's `ou:` selector is resolved from the organization by the
    plan, which shows what it matched (SUSPENDED skipped) and warns about the management account;
    an OU that does not exist is exit 2 at its line and apply writes nothing."""
    accounts = listed_accounts(org, "security", "apps-a", "apps-b", "apps-prd", "sandbox")
    accounts += f'\n  management: {{id: "{org.ids["management"]}"}}'
    spec_path = write_spec(tmp_path, org, accounts, "[sandbox]")
    spec_path.write_text(spec_path.read_text() + IC_BY_OU)
    line = spec_path.read_text().splitlines().index(IC_BY_OU.splitlines()[-1]) + 1
    assert run_cli("validate", cwd=tmp_path, env=org.env).code == 0

    r = run_cli("plan", "--json", cwd=tmp_path, env=org.env)
    assert r.code == 0, r.err
    plan = r.json()
    assigned = {
        c["address"].rsplit("@", 1)[1]
        for a in plan["accounts"]
        for c in a["changes"]
        if c["kind"] == "ic_assignment"
    }
    assert assigned == {"apps-a", "apps-prd", "management"}
    [work] = [m for m in plan["selectors"] if m["where"] == "identity_center.assignments[0].accounts[0]"]
    assert work["selector"] == "ou:Workloads" and work["line"] == line
    assert work["accounts"] == ["apps-a", "apps-b", "apps-prd"]
    assert work["skipped"] == [f"acme-corp-old ({org.ids['acme-corp-old']}): SUSPENDED"]
    [warning] = plan["warnings"]
    assert warning.startswith(f"iamlayer.yaml:{line}: ") and "in the management account management" in warning

    spec_path.write_text(
        spec_path.read_text().replace("[ou:Workloads, management]", "[ou:Workload, management]")
    )
    r = run_cli("apply", "--auto-approve", cwd=tmp_path, env=org.env)
    assert r.code == 2 and f"iamlayer.yaml:{line}" in r.err and "did you mean 'ou:Workloads'?" in r.err, r.err
    sso = session_in(org.ids["management"]).client("sso-admin")
    [instance] = sso.list_instances()["Instances"]
    assert sso.list_permission_sets(InstanceArn=instance["InstanceArn"])["PermissionSets"] == []


def test_migrate_a_layer_whose_roles_are_chosen_by_ou(org: Org, tmp_path: Path) -> None:
    """Issue 24 item 5 with OU selectors: offline, migrate asks for --live; with it, the
    organization is read, the permission set is assigned with the role's selectors as written,
    and parity holds over the accounts they match."""
    accounts = listed_accounts(org, "security", "apps-a", "apps-b", "apps-prd", "sandbox", "dev")
    spec_path = write_spec(tmp_path, org, accounts, "[ou:Workloads, sandbox]")
    spec_path.write_text(
        spec_path.read_text().replace("console: false}", "console: false, tags: {email: jane@example.com}}")
    )
    r = run_cli("migrate", "identity-center", "--ic-account", "security", cwd=tmp_path, env=org.env)
    assert r.code == 1 and "run with --live to read it" in r.err, r.err
    r = run_cli(
        "migrate",
        "identity-center",
        "--ic-account",
        "security",
        "--live",
        "--json",
        cwd=tmp_path,
        env=org.env,
    )
    assert r.code == 0, r.out + r.err
    data = r.json()
    assert data["proposed"]["assignments"] == [
        {"group": "devops", "permission_sets": ["DevOps"], "accounts": ["ou:Workloads", "sandbox"]}
    ]
    assert sorted(row["account"] for row in data["rows"]) == ["apps-a", "apps-b", "apps-prd", "sandbox"]
    assert all(row["verdict"] == "same" for row in data["rows"])
    # Not applied: the credential report has no row for jane yet, so no credential to list.
    [jane] = data["retirement"]
    assert (jane["user"], jane["credentials"], jane["hold"]) == ("jane", [], None)

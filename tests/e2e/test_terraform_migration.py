"""A real Terraform layer, migrated to iamlayer: the README's migration guide, run end to end.

Terraform 1.11 and hashicorp/aws 5.100 (offline, from the filesystem mirror in /opt/tf-plugins,
through a CLI config of our own) apply tests/fixtures/terraform_layer against the emulator: people
through an iam-user-shaped module with `pgp_key = file("keys/<user>")`, a machine user with an
access key, groups whose policies list each account's role ARN, MFA-trusted roles in two
workload accounts (one defined differently in each), a vendor role of another trust shape,
aliases and password policies. Then `iamlayer import terraform` from `terraform state pull`,
validate, a plan that only adopts, `removed` blocks with `destroy = false` applied (Terraform
stops managing, nothing is destroyed), apply, an empty plan; ids, passwords and keys unchanged;
real gpg decrypts the carried-over ciphertexts to what Terraform encrypted; and `iamlayer import
aws` of the result plans empty too.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from layer import Keys, fresh_account_ids, run_cli, session_in

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "terraform_layer"
MIRROR = Path("/opt/tf-plugins")
ACCOUNTS = ("security", "apps-devstg", "apps-prd")

pytestmark = [
    pytest.mark.proof,
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("terraform") is None or not (MIRROR / "registry.terraform.io/hashicorp/aws").is_dir(),
        reason="needs terraform and the hashicorp/aws provider in the filesystem mirror /opt/tf-plugins",
    ),
]


def terraform(layer: Path, *args: str, timeout: float = 600) -> str:
    """Run terraform in `layer`, offline: providers only from the mirror, no checkpoint calls.

    `terraform(layer, "bash", "-c", SCRIPT)` runs a shell script with that same environment.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    env.update(
        TF_CLI_CONFIG_FILE=str(layer / "cli.tfrc"),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
    )
    command = list(args) if args[0] == "bash" else ["terraform", *args]
    proc = subprocess.run(
        command, cwd=layer, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, f"terraform {' '.join(args)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def write_layer(root: Path, endpoint: str, ids: dict[str, str], keys: Keys, john: str) -> Path:
    layer = root / "base-identities"
    shutil.copytree(FIXTURE, layer)
    (layer / "keys").mkdir()
    # Terraform's pgp_key takes base64 of the binary key: `gpg --export NAME | base64`.
    keys.gpg.export(keys.jane_fpr, "base64", layer / "keys" / "jane.doe")
    keys.gpg.export(john, "base64", layer / "keys" / "john.roe")
    keys.gpg.export(keys.infra_fpr, "base64", layer / "keys" / "machine.infra")
    (layer / "terraform.tfvars.json").write_text(json.dumps({"endpoint": endpoint, "accounts": ids}))
    (layer / "cli.tfrc").write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{MIRROR}"\n    include = ["registry.terraform.io/*/*"]\n  }}\n'
        '  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }\n}\n'
    )
    return layer


def identities(ids: dict[str, str]) -> dict[str, Any]:
    """Every id the migration must keep: users, groups, roles, policies, access keys, passwords."""
    iam = session_in(ids["security"]).client("iam")
    out: dict[str, Any] = {}
    for u in ("jane.doe", "john.roe", "machine.ci"):
        out[f"user/{u}"] = iam.get_user(UserName=u)["User"]["UserId"]
        out[f"keys/{u}"] = [k["AccessKeyId"] for k in iam.list_access_keys(UserName=u)["AccessKeyMetadata"]]
    for u in ("jane.doe", "john.roe"):
        out[f"login/{u}"] = str(iam.get_login_profile(UserName=u)["LoginProfile"]["CreateDate"])
    for g in ("devops", "auditors", "deploymaster"):
        out[f"group/{g}"] = iam.get_group(GroupName=g)["Group"]["GroupId"]
    for p in iam.list_policies(Scope="Local")["Policies"]:
        out[f"policy/{p['PolicyName']}"] = p["PolicyId"]
    for account in ("apps-devstg", "apps-prd"):
        member = session_in(ids[account]).client("iam")
        for r in member.list_roles()["Roles"]:
            out[f"role/{account}/{r['RoleName']}"] = r["RoleId"]
    return out


README = Path(__file__).resolve().parent.parent.parent / "README.md"


def readme_removed_blocks() -> str:
    """The README's command that writes removed.tf (migration guide, step 5): the test runs it."""
    text = README.read_text()
    start = text.index("   terraform state list | grep -v")
    return "\n".join(
        line.strip() for line in text[start : text.index("> removed.tf", start) + 12].splitlines()
    )


def changes(plan: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["action"], c["address"]) for a in plan["accounts"] for c in a["changes"]]


def gpg_decrypt(keys: Keys, data: bytes, tmp: Path) -> str:
    path = tmp / "message.gpg"
    path.write_bytes(data)
    return keys.gpg.decrypt(path)


def test_a_terraform_layer_migrates_to_iamlayer(
    tmp_path: Path, gpg_keys: Keys, aws_env: dict[str, str], emulator: Any
) -> None:
    ids = dict(zip(ACCOUNTS, fresh_account_ids(len(ACCOUNTS)), strict=True))
    john = gpg_keys.gpg.gen_key("John Roe <john@example.com>", "rsa2048", "encr")
    layer = write_layer(tmp_path, emulator.url, ids, gpg_keys, john)
    terraform(layer, "init", "-input=false", "-no-color")
    terraform(layer, "apply", "-auto-approve", "-input=false", "-no-color")
    state_file = tmp_path / "state.json"
    state_file.write_text(terraform(layer, "state", "pull"))
    state = json.loads(state_file.read_text())
    before = identities(ids)

    # -- import terraform: the spec, keys and outputs, offline ------------------------------------
    out = tmp_path / "iamlayer"
    r = run_cli(
        "import",
        "terraform",
        "--state",
        str(state_file),
        "--layer",
        str(layer),
        "--out",
        str(out),
        "--project",
        "acme",
        "--json",
        cwd=tmp_path,
    )
    assert r.code == 0, r.err
    result = r.json()
    assert result["api_calls"] is None  # nothing read from AWS
    assert {a["name"]: a["id"] for a in result["accounts"]} == ids  # names from the aliases
    assert sorted(result["adopt"]) == sorted(
        [f"security/user/{u}" for u in ("jane.doe", "john.roe", "machine.ci")]
        + [f"security/group/{g}" for g in ("auditors", "deploymaster", "devops")]
        + ["security/policy/billing-read", "security/policy/devops-assume"]
        + [f"{a}/role/{r}" for a in ("apps-devstg", "apps-prd") for r in ("DevOps", "Auditor")]
        + ["apps-prd/role/Vendor"]
    )
    # Vendor trusts another account; the people trusts lack the named-session condition and are
    # kept as written (the import changes nothing): they get it when someone edits the role
    assert result["verbatim_trust_policies"] == ["Auditor", "Auditor.apps-prd", "DevOps", "Vendor"]
    assert [s["name"] for s in result["split_roles"]] == ["Auditor"]
    assert (
        result["users_with_keys"] == ["jane.doe", "john.roe", "machine.ci"]
        and result["credentials_kept"] == []
    )
    spec_text = (out / "iamlayer.yaml").read_text()
    assert "jane.doe: {pgp_key: keys/jane.doe, groups: [devops], tags: {Team: platform}}" in spec_text
    assert "pgp_key: keys/machine.infra" in spec_text  # the file the layer's .tf gave the machine user
    # The layer's people trust lacks the named-session condition (issue 23): kept as written, with
    # its MFA bound, so the import changes nothing; it gets the condition when someone edits it.
    devops = spec_text[spec_text.index("  DevOps:\n") :].split("\n  # ", 1)[0]
    assert devops.startswith("  DevOps:\n    accounts: [apps-devstg, apps-prd]\n")
    assert "trust_policy:" in devops and '"aws:MultiFactorAuthAge": ["43200"]' in devops
    for name in ("jane.doe", "john.roe", "machine.infra"):  # the layer's keys/ became the spec's
        assert (out / "keys" / name).read_bytes() == (layer / "keys" / name).read_bytes()

    # The ciphertexts Terraform recorded are iamlayer's outputs now, and gpg reads them.
    recorded = {
        (i["attributes"]["user"], r["type"]): i["attributes"]
        for r in state["resources"]
        if r["type"] in ("aws_iam_user_login_profile", "aws_iam_access_key")
        for i in r["instances"]
    }
    for user in ("jane.doe", "john.roe"):
        asc = out / "outputs" / "security" / user / "password.asc"
        assert oct(asc.stat().st_mode & 0o777) == "0o600"
        password = gpg_keys.gpg.decrypt(asc)
        encrypted = base64.b64decode(recorded[(user, "aws_iam_user_login_profile")]["encrypted_password"])
        assert password == gpg_decrypt(gpg_keys, encrypted, tmp_path) and len(password) == 24
    key = recorded[("machine.ci", "aws_iam_access_key")]
    asc = out / "outputs" / "security" / "machine.ci" / f"access-key-{key['id']}.asc"
    secret = gpg_keys.gpg.decrypt(asc)
    assert (
        secret == gpg_decrypt(gpg_keys, base64.b64decode(key["encrypted_secret"]), tmp_path)
        and len(secret) == 40
    )
    r = run_cli("outputs", "--user", "machine.ci", "--json", cwd=out)
    assert r.code == 0 and key["id"] in r.out, r.err

    # -- validate, and a plan that only adopts ------------------------------------------------------
    r = run_cli("validate", cwd=out)
    assert r.code == 0, r.err
    r = run_cli("plan", cwd=out)
    assert r.code == 0, r.out + r.err
    assert "Only adoption" in r.out and "0 to add, 0 to change, 0 to destroy, 13 to adopt." in r.out

    # -- Terraform lets go without destroying anything (removed blocks), then iamlayer adopts ------
    for tf in ("users.tf", "groups.tf", "roles.tf", "account.tf", "outputs.tf"):
        (layer / tf).unlink()
    terraform(layer, "bash", "-c", readme_removed_blocks())
    assert "from = module.user\n" in (layer / "removed.tf").read_text()
    applied = terraform(layer, "apply", "-auto-approve", "-input=false", "-no-color")
    assert "0 destroyed" in applied and "will no longer be managed by Terraform" in applied, applied
    assert terraform(layer, "state", "list").split() == []
    assert identities(ids) == before
    r = run_cli("apply", "--auto-approve", cwd=out)
    assert r.code == 0, r.out + r.err
    assert "13 adopted" in r.out
    r = run_cli("plan", "--json", cwd=out)
    assert r.code == 0 and changes(r.json()) == [], r.out
    assert identities(ids) == before  # every id, password and access key kept
    iam = session_in(ids["security"]).client("iam")
    assert {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName="machine.ci")["Tags"]} == {
        "Purpose": "ci",
        "iamlayer:project": "acme",
        "iamlayer:tags": "Purpose",  # the spec's tags, now iamlayer's (issue 18 item 9)
    }

    # -- and `import aws` of the adopted layer plans empty as well ---------------------------------
    again = tmp_path / "again"
    r = run_cli(
        "import",
        "aws",
        "--out",
        str(again),
        "--keys",
        str(out / "keys"),
        "--json",
        *[f"--account={n}={i}" for n, i in ids.items()],
        cwd=tmp_path,
    )
    assert r.code == 0, r.err
    live = r.json()
    assert (
        live["project"] == "acme"
        and live["adopt"] == []
        and live["users_with_keys"] == ["jane.doe", "john.roe"]
    )
    assert live["credentials_kept"] == ["machine.ci"]  # its key file is not named after it
    r = run_cli("plan", "--json", cwd=again)
    assert r.code == 0 and changes(r.json()) == [], r.out

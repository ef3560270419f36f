"""`import terraform`, offline: a hand-made state in the terraform-aws-iam modules' address shapes.

The modules are not on disk (no network), so their state addresses are modelled here as those
modules make them: module.iam_user["x"].aws_iam_user.this[0], ...aws_iam_access_key.this_no_pgp[0],
module.iam_group_with_policies.aws_iam_policy.custom[0], module.iam_assumable_role.aws_iam_role.this[0],
module.iam_account.aws_iam_account_alias.this. Keys and ciphertexts are real OpenPGP (pysequoia).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pysequoia
import pytest

from iamlayer.errors import SpecError
from iamlayer.importer.build import ImportOptions
from iamlayer.importer.run import import_terraform
from iamlayer.importer.terraform import layer_key_refs, parse_state, read_terraform
from iamlayer.secrets.crypto import decrypt_file
from iamlayer.spec.load import load_spec

SECURITY, PRD = "111122223333", "444455556666"
PROVIDER = 'provider["registry.terraform.io/hashicorp/aws"]'
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{SECURITY}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "Bool": {"aws:MultiFactorAuthPresent": "true"},
                "NumericLessThan": {"aws:MultiFactorAuthAge": "86400"},
            },
        }
    ],
}
DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
}


def resource(
    module: str,
    rtype: str,
    name: str,
    attrs: dict[str, Any],
    index: Any = 0,
    provider: str = PROVIDER,
    mode: str = "managed",
) -> dict[str, Any]:
    r: dict[str, Any] = {
        "mode": mode,
        "type": rtype,
        "name": name,
        "provider": provider,
        "instances": [{"schema_version": 0, "attributes": attrs, "sensitive_attributes": []}],
    }
    if index is not None:
        r["instances"][0]["index_key"] = index
    if module:
        r["module"] = module
    return r


def dearmor(armored: str) -> str:
    """The base64 body of an armored key: `gpg --export NAME | base64`, as Terraform takes keys."""
    lines = armored.strip().splitlines()
    body = lines[lines.index("") + 1 :]
    return "".join(ln for ln in body if not ln.startswith(("=", "-----")))


@pytest.fixture
def people(tmp_path: Path) -> dict[str, Any]:
    """Two people's keys (secret and public, base64 as Terraform takes them) and a password for each."""
    out: dict[str, Any] = {}
    for name in ("jane.doe", "ops.team"):
        tsk = pysequoia.Tsk.generate(f"{name} <{name}@example.com>", profile=pysequoia.Profile.RFC4880)
        cert = tsk.extract_certificate()
        (tmp_path / f"{name}.secret.asc").write_text(str(tsk))
        out[name] = {
            "secret": tmp_path / f"{name}.secret.asc",
            "pgp_key": dearmor(str(cert)),
            "fingerprint": cert.fingerprint.lower(),
        }
    message = pysequoia.encrypt(
        b"Terraform-Made-Password-1",
        [pysequoia.Cert.from_bytes(base64.b64decode(out["jane.doe"]["pgp_key"]))],
        armor=False,
    )
    out["encrypted_password"] = base64.b64encode(bytes(message)).decode()
    secret = pysequoia.encrypt(
        b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        [pysequoia.Cert.from_bytes(base64.b64decode(out["ops.team"]["pgp_key"]))],
        armor=False,
    )
    out["encrypted_secret"] = base64.b64encode(bytes(secret)).decode()
    return out


def state(p: dict[str, Any]) -> dict[str, Any]:
    jane = 'module.iam_user["jane.doe"]'
    arn = f"arn:aws:iam::{SECURITY}"
    resources = [
        resource(
            "",
            "data.aws_caller_identity".removeprefix("data."),
            "current",
            {"account_id": SECURITY, "arn": f"{arn}:user/terraform"},
            index=None,
            mode="data",
        ),
        resource(
            jane,
            "aws_iam_user",
            "this",
            {
                "name": "jane.doe",
                "path": "/people/",
                "arn": f"{arn}:user/people/jane.doe",
                "tags": {"Team": "platform"},
                "unique_id": "AIDAJANE",
            },
        ),
        resource(
            jane,
            "aws_iam_user_login_profile",
            "this",
            {
                "user": "jane.doe",
                "pgp_key": p["jane.doe"]["pgp_key"],
                "key_fingerprint": p["jane.doe"]["fingerprint"],
                "encrypted_password": p["encrypted_password"],
                "password_length": 20,
            },
        ),
        resource(
            'module.iam_user["ci"]',
            "aws_iam_user",
            "this",
            {"name": "ci", "path": "/", "arn": f"{arn}:user/ci"},
        ),
        resource(
            'module.iam_user["ci"]',
            "aws_iam_access_key",
            "this",
            {
                "id": "AKIAEXAMPLE000000CI1",
                "user": "ci",
                "pgp_key": p["ops.team"]["pgp_key"],
                "status": "Active",
                "key_fingerprint": p["ops.team"]["fingerprint"],
                "encrypted_secret": p["encrypted_secret"],
                "create_date": "2024-05-01T10:00:00Z",
            },
        ),
        resource(
            'module.iam_user["legacy"]',
            "aws_iam_user",
            "this",
            {"name": "legacy", "arn": f"{arn}:user/legacy"},
        ),
        resource(
            'module.iam_user["legacy"]',
            "aws_iam_access_key",
            "this_no_pgp",
            {"id": "AKIAEXAMPLE0000LEG1", "user": "legacy", "status": "Active", "secret": "plain"},
        ),
        resource('module.iam_user["kb"]', "aws_iam_user", "this", {"name": "kb", "arn": f"{arn}:user/kb"}),
        resource(
            'module.iam_user["kb"]',
            "aws_iam_user_login_profile",
            "this",
            {"user": "kb", "pgp_key": "keybase:kb"},
        ),
        resource(
            "module.iam_group_with_policies",
            "aws_iam_group",
            "this",
            {"name": "devops", "arn": f"{arn}:group/devops"},
        ),
        resource(
            "module.iam_group_with_policies",
            "aws_iam_group_membership",
            "this",
            {"name": "devops", "group": "devops", "users": ["jane.doe"]},
        ),
        resource(
            "module.iam_group_with_policies",
            "aws_iam_policy",
            "custom",
            {
                "name": "devops-assume",
                "path": "/",
                "description": "Assume DevOps",
                "arn": f"{arn}:policy/devops-assume",
                "policy": json.dumps(DOC),
                "tags": {},
            },
        ),
        resource(
            "module.iam_group_with_policies",
            "aws_iam_group_policy_attachment",
            "custom",
            {"group": "devops", "policy_arn": f"{arn}:policy/devops-assume"},
        ),
        resource(
            "module.iam_group_with_policies",
            "aws_iam_group_policy_attachment",
            "custom_arns",
            {"group": "devops", "policy_arn": "arn:aws:iam::aws:policy/IAMReadOnlyAccess"},
        ),
        resource("", "aws_iam_user_group_membership", "ci", {"user": "ci", "groups": ["devops"]}, index=None),
        resource(
            "",
            "aws_iam_user_policy_attachment",
            "ci",
            {"user": "ci", "policy_arn": "arn:aws:iam::aws:policy/A"},
            index=None,
        ),
        resource(
            "module.iam_account",
            "aws_iam_account_alias",
            "this",
            {"account_alias": "acme-security"},
            index=None,
        ),
        resource(
            "module.iam_account",
            "aws_iam_account_password_policy",
            "this",
            {
                "minimum_password_length": 24,
                "require_symbols": True,
                "require_numbers": True,
                "allow_users_to_change_password": True,
                "password_reuse_prevention": 12,
                "max_password_age": 0,
            },
        ),
        resource(
            "module.iam_assumable_role",
            "aws_iam_role",
            "this",
            {
                "name": "DevOps",
                "path": "/",
                "arn": f"arn:aws:iam::{PRD}:role/DevOps",
                "assume_role_policy": json.dumps(TRUST),
                "max_session_duration": 43200,
                "description": "",
                "managed_policy_arns": ["arn:aws:iam::aws:policy/PowerUserAccess"],
                "inline_policy": [{"name": "", "policy": ""}],
                "tags": {"Layer": "base-identities"},
            },
            provider=PROVIDER + ".prd",
        ),
        resource(
            "module.iam_assumable_role",
            "aws_iam_role_policy_attachment",
            "custom",
            {"role": "DevOps", "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"},
            provider=PROVIDER + ".prd",
        ),
        resource(
            "module.prd_account",
            "aws_iam_account_alias",
            "this",
            {"account_alias": "acme-prd"},
            index=None,
            provider=PROVIDER + ".prd",
        ),
    ]
    return {
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": 7,
        "lineage": "x",
        "outputs": {},
        "resources": resources,
    }


def write_state(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(data))
    return path


def test_module_addresses_are_read_as_resources(tmp_path: Path, people: dict[str, Any]) -> None:
    source = read_terraform(
        [write_state(tmp_path, state(people))],
        layer=None,
        region="us-east-1",
        access_role="OrganizationAccountAccessRole",
    )
    accounts = {a.id: a.state for a in source.accounts}
    sec, prd = accounts[SECURITY], accounts[PRD]
    assert sec.alias == "acme-security" and prd.alias == "acme-prd"
    assert sec.password_policy is not None and sec.password_policy.reuse_prevention == 12
    assert sec.password_policy.max_age_days is None and sec.password_policy.require == {"symbols", "numbers"}
    jane = sec.users["jane.doe"]
    assert (jane.path, jane.tags, jane.groups, jane.login_profile, jane.access_keys) == (
        "/people/",
        {"Team": "platform"},
        frozenset({"devops"}),
        True,
        (),
    )
    assert sec.users["ci"].groups == {"devops"} and [k.id for k in sec.users["ci"].access_keys or ()] == [
        "AKIAEXAMPLE000000CI1"
    ]
    assert sec.groups["devops"].attached == {
        f"arn:aws:iam::{SECURITY}:policy/devops-assume",
        "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
    }
    role = prd.roles["DevOps"]
    assert role.attached == {
        "arn:aws:iam::aws:policy/PowerUserAccess",
        "arn:aws:iam::aws:policy/AdministratorAccess",
    }
    assert role.inline == {} and role.max_session_duration == 43200
    # keys: from the state (no layer); keybase cannot be fetched; legacy's key has no pgp_key
    assert source.user_keys == {"jane.doe": "jane.doe", "ci": "ci"}
    assert source.key_files["jane.doe"].decode().strip() == people["jane.doe"]["pgp_key"]
    assert [(c.user, c.kind, c.fingerprint) for c in source.ciphertexts] == [
        ("jane.doe", "password", people["jane.doe"]["fingerprint"].upper()),
        ("ci", "access_key", people["ops.team"]["fingerprint"].upper()),
    ]
    assert [(c.created, c.access_key_id, c.source) for c in source.ciphertexts] == [
        ("", None, 'module.iam_user["jane.doe"].aws_iam_user_login_profile.this[0]'),
        ("2024-05-01T10:00:00Z", "AKIAEXAMPLE000000CI1", 'module.iam_user["ci"].aws_iam_access_key.this[0]'),
    ]
    whys = {f.where: f.why for f in source.findings}
    assert "keybase" in whys['module.iam_user["kb"].aws_iam_user_login_profile.this[0]']
    assert "through groups only" in whys["aws_iam_user_policy_attachment.ci"]


def test_import_writes_a_spec_that_loads_and_outputs_that_decrypt(
    tmp_path: Path, people: dict[str, Any]
) -> None:
    path = write_state(tmp_path, state(people))
    result = import_terraform(tmp_path / "out", states=[path], options=ImportOptions(project_long="acme"))
    spec = load_spec(result.spec_path)
    assert list(spec.accounts) == ["security", "prd"] and spec.people_account == "security"
    assert spec.project == "acme" and spec.adopt
    assert spec.users["jane.doe"].pgp_key == (tmp_path / "out" / "keys" / "jane.doe").resolve()
    assert spec.users["jane.doe"].console and not spec.users["jane.doe"].access_key
    assert spec.users["ci"].access_key and not spec.users["ci"].console
    assert spec.users["legacy"].keep_credentials and spec.users["kb"].keep_credentials
    assert spec.groups["devops"].policies == ("arn:aws:iam::aws:policy/IAMReadOnlyAccess", "devops-assume")
    # A trust of the people account without the session name condition is not the one iamlayer
    # renders for it (iamlayer.plan.desired.trust_document): kept verbatim, so the import changes nothing.
    trust = spec.roles["DevOps"].trust_policy
    assert trust is not None and spec.roles["DevOps"].accounts == ("prd",)
    assert trust["Statement"][0]["Condition"]["NumericLessThan"] == {"aws:MultiFactorAuthAge": ["86400"]}
    assert spec.roles["DevOps"].tags == {"Layer": "base-identities"}
    outputs = tmp_path / "out" / "outputs" / "security"
    password = decrypt_file(outputs / "jane.doe" / "password.asc", people["jane.doe"]["secret"])
    assert password == "Terraform-Made-Password-1"
    secret = decrypt_file(
        outputs / "ci" / "access-key-AKIAEXAMPLE000000CI1.asc", people["ops.team"]["secret"]
    )
    assert secret == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert (
        "iamlayer-recipient: " + people["jane.doe"]["fingerprint"].upper()
        in (outputs / "jane.doe" / "password.asc").read_text()
    )
    report = result.report_path.read_text()
    assert "legacy" in report and "aws_iam_user_policy_attachment.ci" in report
    with pytest.raises(Exception, match="already exists"):
        import_terraform(tmp_path / "out", states=[path])


def test_the_layer_gives_each_user_the_file_its_tf_names(tmp_path: Path, people: dict[str, Any]) -> None:
    layer = tmp_path / "layer"
    (layer / "keys").mkdir(parents=True)
    (layer / "keys" / "jane").write_text(people["jane.doe"]["pgp_key"] + "\n")
    (layer / "keys" / "ops").write_text(people["ops.team"]["pgp_key"] + "\n")
    (layer / "keys" / "unused").write_text(people["ops.team"]["pgp_key"] + "\n")
    (layer / "users.tf").write_text(
        'module "iam_user" {\n  source = "terraform-aws-modules/iam/aws//modules/iam-user"\n'
        '  for_each = local.users\n  name = each.key\n  pgp_key = file("keys/${each.value.key}")\n}\n'
        'module "other" {\n  pgp_key = file("keys/ops")\n}\n'
    )
    assert layer_key_refs(layer) == {"module.iam_user": "keys/${each.value.key}", "module.other": "keys/ops"}
    source = read_terraform(
        [write_state(tmp_path, state(people))],
        layer=layer,
        region="us-east-1",
        access_role="OrganizationAccountAccessRole",
    )
    # `${each.value.key}` cannot be resolved offline: the file whose content is the key decides.
    assert source.user_keys == {"jane.doe": "jane", "ci": "ops"}
    assert set(source.key_files) == {"jane", "ops", "unused"}  # the layer's keys/ become the spec's
    (layer / "users.tf").write_text(
        'module "iam_user" {\n  pgp_key = file("${path.module}/keys/${each.key}")\n}\n'
    )
    (layer / "keys" / "ci").write_text(people["ops.team"]["pgp_key"] + "\n")
    source = read_terraform(
        [write_state(tmp_path, state(people))],
        layer=layer,
        region="us-east-1",
        access_role="OrganizationAccountAccessRole",
    )
    assert source.user_keys["ci"] == "ci"  # named by the .tf, before any content match
    assert source.user_keys["jane.doe"] == "jane"  # keys/jane.doe does not exist: by content


def test_not_a_usable_state_is_a_spec_error_naming_the_file(tmp_path: Path) -> None:
    for text, message in (
        ("{", "not JSON"),
        ('{"version": 3, "resources": []}', "state format version 3 is not supported"),
        ('{"modules": []}', "not a Terraform state"),
    ):
        with pytest.raises(SpecError) as info:
            parse_state(text, "old.tfstate")
        [d] = info.value.diagnostics
        assert d.file == "old.tfstate" and message in d.message
    empty = write_state(tmp_path, {"version": 4, "resources": []})
    with pytest.raises(SpecError, match="no IAM resource in the state"):
        read_terraform([empty], layer=None, region="us-east-1", access_role="R")


def test_one_state_per_account_layer(tmp_path: Path) -> None:
    """The same addresses and provider configuration in two layers' states are two accounts."""
    files = []
    for account, alias in ((SECURITY, "acme-security"), (PRD, "acme-prd")):
        data = {"version": 4, "resources": [
            resource("", "aws_iam_role", "admin", {"name": "Admin", "arn": f"arn:aws:iam::{account}:role/Admin",
                                                   "assume_role_policy": json.dumps(TRUST)}, index=None),
            resource("", "aws_iam_account_alias", "this", {"account_alias": alias}, index=None),
        ]}  # fmt: skip
        path = tmp_path / f"{alias}.tfstate"
        path.write_text(json.dumps(data))
        files.append(path)
    source = read_terraform(files, layer=None, region="us-east-1", access_role="R")
    assert {a.id: a.state.alias for a in source.accounts} == {SECURITY: "acme-security", PRD: "acme-prd"}


# --- state files as AWS provider 4, 5 and 6 write them ----------------------------------------------

STATES = Path(__file__).resolve().parent.parent / "fixtures" / "terraform_states"
READ_ONLY, SECURITY_AUDIT = "arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/SecurityAudit"


@pytest.mark.parametrize("provider", [4, 5, 6])
def test_every_attachment_type_is_modelled_and_deposed_objects_are_not_read(
    tmp_path: Path, provider: int
) -> None:
    """tests/fixtures/terraform_states/aws<N>.tfstate: a layer as hashicorp/aws N writes its state
    (4.67 with Terraform 1.4, 5.100 with 1.11, 6.x with 1.13: resource identities). Policies
    attached through aws_iam_policy_attachment and the *_exclusive types are in the spec, so the
    first plan detaches none of them; deposed objects (left behind by create_before_destroy,
    destroyed by Terraform's next apply) are not read as live."""
    source = read_terraform(
        [STATES / f"aws{provider}.tfstate"], layer=None, region="us-east-1", access_role="R"
    )
    sec = next(a.state for a in source.accounts if a.id == SECURITY)
    assert [k.id for k in sec.users["machine.ci"].access_keys or ()] == ["AKIAEXAMPLECURRENT01"]
    result = import_terraform(
        tmp_path / "out", states=[STATES / f"aws{provider}.tfstate"], options=ImportOptions(project="acme")
    )
    spec = load_spec(result.spec_path)
    newer = ("arn:aws:iam::aws:policy/IAMReadOnlyAccess",) if provider > 4 else ()
    assert spec.groups["devops"].policies == (*newer, READ_ONLY, "devops-assume")
    assert spec.groups["auditors"].policies == (READ_ONLY,)
    auditor = spec.roles["Auditor"]
    assert auditor.accounts == ("prd",) and set(auditor.policies) == {READ_ONLY, SECURITY_AUDIT}
    assert set(auditor.inline_policies) == ({"deny-secrets"} if provider > 4 else set())
    found = {(f.kind, f.where): f"{f.what}: {f.why}" for f in result.report.findings}
    not_modelled = [w for k, w in found.items() if "not a resource type the spec models" in w]
    assert not_modelled == [], not_modelled
    assert "users machine.ci" in found[("left_out", "aws_iam_policy_attachment.read_only")]
    deposed = {w for (k, w) in found if "deposed" in found[(k, w)]}
    assert deposed == (
        {"aws_iam_role_policy_attachment.auditor"} if provider == 4 else {"aws_iam_access_key.ci"}
    )
    if provider == 6:
        assert spec.groups["auditors"].inline_policies == {
            "cost-read": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["ce:Get*"], "Resource": ["*"]}],
            }
        }
        # an inline policy the state names but has no document of: the role is left out whole,
        # or the first plan would delete that policy
        assert "Breakglass" not in spec.roles
        assert "break-glass" in found[("left_out", "aws_iam_role_policies_exclusive.breakglass")]
        assert "through groups only" in found[("left_out", "aws_iam_user_policy_attachments_exclusive.ci")]


def test_a_state_terraform_wrote_with_provider_5_is_read_whole(tmp_path: Path) -> None:
    """aws5-terraform-1.11.tfstate: written by Terraform 1.11.4 and hashicorp/aws 5.100.0 applying
    aws_iam_policy_attachment and the *_exclusive types against the emulator (account
    123456789012), then replacing a create_before_destroy access key."""
    source = read_terraform(
        [STATES / "aws5-terraform-1.11.tfstate"], layer=None, region="us-east-1", access_role="R"
    )
    [account] = source.accounts
    groups, role = account.state.groups, account.state.roles["Auditor"]
    assert groups["devops"].attached == {READ_ONLY, SECURITY_AUDIT} and groups["auditors"].attached == {
        READ_ONLY
    }
    assert role.attached == {READ_ONLY, SECURITY_AUDIT} and set(role.inline) == {"deny-secrets"}
    assert [f.what for f in source.findings] == [
        "aws_iam_policy_attachment: " + READ_ONLY + " to users machine.ci"
    ]

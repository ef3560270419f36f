"""`iamlayer init`: the scaffold validates as written, its example keys work with real gpg."""

from __future__ import annotations

import base64
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from spec_support import needs_key_loader

from iamlayer.cli.common import run_guarded
from iamlayer.cli.main import cli
from iamlayer.errors import IamlayerError
from iamlayer.spec import ic_validate, validate
from iamlayer.spec.load import load_spec, load_spec_with_warnings
from iamlayer.spec.scaffold import scaffold


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """One scaffold for the module: generating the RSA example key takes a couple of seconds."""
    target = tmp_path_factory.mktemp("init") / "acme"
    return target, scaffold(target)


def test_writes_the_documented_files(layer: tuple[Path, list[Path]]) -> None:
    target, written = layer
    assert sorted(p.relative_to(target).as_posix() for p in written) == [
        ".gitignore",
        "README.md",
        "example-secret-keys/README.md",
        "example-secret-keys/jane.doe.asc",
        "example-secret-keys/machine.infra.asc",
        "iamlayer.yaml",
        "keys/README.md",
        "keys/jane.doe",
        "keys/machine.infra",
    ]
    assert all(p.is_file() for p in written)
    for secret in (target / "example-secret-keys").glob("*.asc"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert secret.read_text().startswith("-----BEGIN PGP PRIVATE KEY BLOCK-----")
    assert stat.S_IMODE((target / "example-secret-keys").stat().st_mode) == 0o700
    keys_readme = (target / "keys" / "README.md").read_text()
    assert "gpg --export NAME | base64 > keys/NAME" in keys_readme
    assert "gpg --export --armor NAME > keys/NAME" in keys_readme
    secret_readme = (target / "example-secret-keys" / "README.md").read_text()
    assert "only so that the example layer works end to end" in secret_readme
    assert "must be\nreplaced" in secret_readme
    readme = (target / "README.md").read_text()
    for command in ("iamlayer validate", "iamlayer plan", "iamlayer apply", "iamlayer outputs"):
        assert command in readme


def test_scaffold_validates_cleanly(layer: tuple[Path, list[Path]]) -> None:
    target, _ = layer
    spec, warnings = load_spec_with_warnings(target / "iamlayer.yaml", check_keys=False)
    assert warnings == []
    assert {n: a.id for n, a in spec.accounts.items()} == {
        "management": "111111111111",
        "security": "222222222222",
        "shared": "333333333333",
        "apps-devstg": "444444444444",
        "apps-prd": "555555555555",
    }
    assert (spec.project, spec.project_long, spec.people_account) == ("acme", "acme-corp", "security")
    assert set(spec.roles) == {"DevOps", "Auditor", "DeployMaster", "FinOps"}
    deploy = spec.roles["DeployMaster"]
    assert deploy.source_identity and deploy.tag_session and deploy.mfa_max_age is None
    assert spec.groups["devops"].assume == ("DevOps",)
    assert spec.groups["devops"].self_management.value == "enforce_mfa"
    assert spec.groups["deploymaster"].self_management.value == "none"
    assert set(spec.groups) == {"devops", "auditors", "deploymaster", "finops"}
    jane, ci = spec.users["jane.doe"], spec.users["machine.ci"]
    assert (
        jane.groups == ("devops",) and jane.console and jane.pgp_key == (target / "keys/jane.doe").resolve()
    )
    assert (ci.console, ci.access_key) == (False, True)
    assert jane.access_key  # a person who uses the CLI gets their first key encrypted, for `onboard`
    assert ci.pgp_key == (target / "keys/machine.infra").resolve()


@needs_key_loader
def test_scaffold_keys_pass_the_key_checks(layer: tuple[Path, list[Path]]) -> None:
    from iamlayer.secrets.keys import load_public_key

    target, _ = layer
    load_spec(target / "iamlayer.yaml")  # check_keys=True
    jane = load_public_key(target / "keys" / "jane.doe")
    infra = load_public_key(target / "keys" / "machine.infra")
    assert (jane.form, infra.form) == ("armored", "base64")


def test_template_documents_every_field(layer: tuple[Path, list[Path]]) -> None:
    text = (layer[0] / "iamlayer.yaml").read_text()
    fields = (
        validate.TOP_FIELDS
        + validate.ACCOUNT_FIELDS
        + validate.PASSWORD_POLICY_FIELDS
        + validate.POLICY_FIELDS
        + validate.ROLE_FIELDS
        + validate.GROUP_FIELDS
        + validate.USER_FIELDS
        + ic_validate.IC_FIELDS
        + ic_validate.IC_USER_FIELDS
        + ic_validate.IC_GROUP_FIELDS
        + ic_validate.PERMISSION_SET_FIELDS
        + ic_validate.ASSIGNMENT_FIELDS
    )
    assert [f for f in fields if f not in text] == []
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#") or " # " in line]
    assert len(comments) > 60


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    spec = tmp_path / "iamlayer.yaml"
    spec.write_text("project: mine\n")
    with pytest.raises(IamlayerError, match="already exists"):
        scaffold(tmp_path, example_keys=False)
    assert spec.read_text() == "project: mine\n"
    other = tmp_path / "other"
    (other / "keys").mkdir(parents=True)
    (other / "keys" / "jane.doe").write_text("someone's real key")
    with pytest.raises(IamlayerError, match=r"keys/jane\.doe"):
        scaffold(other)
    assert (other / "keys" / "jane.doe").read_text() == "someone's real key"
    assert not (other / "iamlayer.yaml").exists()


def test_without_example_keys_the_layer_validates_and_says_how_to_add_people(tmp_path: Path) -> None:
    """`init --no-example-keys` names no key it did not write, so the first `validate` passes, and
    its READMEs describe only what is there (issue 13, finding 2)."""
    target = tmp_path / "x"
    written = scaffold(target, example_keys=False)
    assert sorted(p.relative_to(target).as_posix() for p in written) == [
        ".gitignore",
        "README.md",
        "iamlayer.yaml",
        "keys/README.md",
    ]
    spec, warnings = load_spec_with_warnings(target / "iamlayer.yaml")  # keys checked: there are none
    assert spec.users == {} and [w for w in warnings if w.severity == "error"] == []
    assert len(spec.roles) == 4 and len(spec.groups) == 4 and spec.checks  # the rest of the example
    text = (target / "iamlayer.yaml").read_text()
    assert "keys/jane.doe" in text  # the example users stay, commented out, to copy from
    assert all(line.lstrip().startswith("#") for line in text.splitlines() if "pgp_key: keys/" in line)
    assert "Add people once their public keys are in keys/" in text
    for readme in ("README.md", "keys/README.md"):
        body = (target / readme).read_text()
        assert "example-secret-keys" not in body and "#{" not in body
    # The CLI's `validate` on it, as a new user runs it, exits 0.
    r = run_guarded(cli, ["validate", "-f", str(target / "iamlayer.yaml")])
    assert r == 0


def test_with_example_keys_no_template_marker_is_left(layer: tuple[Path, list[Path]]) -> None:
    target, _ = layer
    for rel in ("iamlayer.yaml", "README.md", "keys/README.md"):
        assert "#{" not in (target / rel).read_text()
    assert "example-secret-keys/" in (target / "README.md").read_text()


@pytest.fixture
def gnupghome() -> Iterator[dict[str, str]]:
    """A throwaway GNUPGHOME (short path: gpg-agent's socket path is length-limited)."""
    home = tempfile.mkdtemp(prefix="gpg-")
    env = {**os.environ, "GNUPGHOME": home}
    try:
        yield env
    finally:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)


def _gpg(env: dict[str, str], *args: str, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(
        ["gpg", "--batch", "--yes", "--quiet", "--no-tty", "--pinentry-mode", "loopback", *args],
        input=stdin,
        env=env,
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


@pytest.mark.skipif(
    shutil.which("gpg") is None or shutil.which("gpgconf") is None, reason="gpg is not installed"
)
def test_example_keys_work_with_real_gpg(layer: tuple[Path, list[Path]], gnupghome: dict[str, str]) -> None:
    """A message gpg encrypts to each public key file is decrypted with its example secret key."""
    target, _ = layer
    public = {
        "jane.doe": (target / "keys" / "jane.doe").read_bytes(),  # armored
        "machine.infra": base64.b64decode((target / "keys" / "machine.infra").read_bytes()),  # base64 form
    }
    listing = _gpg(gnupghome, "--with-colons", "--show-keys", stdin=public["jane.doe"]).decode()
    assert any(line.startswith("sub:") and ":18:" in line for line in listing.splitlines())  # ECDH = cv25519
    listing = _gpg(gnupghome, "--with-colons", "--show-keys", stdin=public["machine.infra"]).decode()
    assert any(line.startswith("pub:") and ":3072:1:" in line for line in listing.splitlines())  # RSA 3072
    for name, key in public.items():
        recipients = tempfile.mkdtemp(prefix="rcpt-")
        try:
            keyring = Path(recipients) / "pub.gpg"
            keyring.write_bytes(key)
            ciphertext = _gpg(
                gnupghome,
                "--trust-model",
                "always",
                "--armor",
                "--encrypt",
                "--recipient-file",
                str(keyring),
                stdin=f"hello {name}".encode(),
            )
        finally:
            shutil.rmtree(recipients, ignore_errors=True)
        _gpg(gnupghome, "--import", str(target / "example-secret-keys" / f"{name}.asc"))
        assert _gpg(gnupghome, "--decrypt", stdin=ciphertext) == f"hello {name}".encode()


def test_the_identity_center_example_validates_once_uncommented(layer: tuple[Path, list[Path]]) -> None:
    """The commented `identity_center:` example is a working block: uncommented, the spec loads."""
    target, _ = layer
    lines = (target / "iamlayer.yaml").read_text().splitlines()
    start = lines.index("# identity_center:")
    block = [line.removeprefix("# ") for line in lines[start:]]
    assert all(not line.startswith("#") for line in block), "the example runs to the end of the file"
    (target / "with-ic.yaml").write_text("\n".join(lines[:start] + block) + "\n")
    spec, warnings = load_spec_with_warnings(target / "with-ic.yaml", check_keys=False)
    assert warnings == []
    ic = spec.identity_center
    assert ic is not None and (ic.account, ic.region) == ("management", "us-east-1")
    assert ic.groups["devops"].members == ("jane.doe",)
    devops = ic.permission_sets["DevOps"]
    assert (devops.session_duration, devops.customer_managed_policies) == ("PT4H", ("billing-read",))
    assert ic.access_of("jane.doe")[:3] == (
        ("shared", "DevOps"),
        ("apps-devstg", "DevOps"),
        ("apps-prd", "DevOps"),
    )
    assert len(ic.assignments) == 3 + len(spec.accounts) - 1  # ReadOnly everywhere but the management account
    # The scaffold as written has no Identity Center: `iamlayer init` + demo never need one.
    assert load_spec_with_warnings(target / "iamlayer.yaml", check_keys=False)[0].identity_center is None


def test_the_backend_example_validates_once_uncommented(layer: tuple[Path, list[Path]]) -> None:
    """The commented `backend:` example is a working block: uncommented, the spec loads with it."""
    target, _ = layer
    lines = (target / "iamlayer.yaml").read_text().splitlines()
    start = lines.index("# backend:")
    end = lines.index("", start)
    block = [line.removeprefix("# ") for line in lines[start:end]]
    (target / "with-backend.yaml").write_text("\n".join(lines[:start] + block + lines[end:]) + "\n")
    backend = load_spec(target / "with-backend.yaml", check_keys=False).backend
    assert backend is not None
    assert (backend.bucket, backend.prefix, backend.account, backend.kms_key, backend.lock_lease) == (
        "acme-iamlayer", "identities", "security", "alias/iamlayer", 300.0
    )  # fmt: skip
    assert load_spec(target / "iamlayer.yaml", check_keys=False).backend is None

"""What a layer folder must not leak, as a person runs the CLI (issue 18 items 13 and 14).

Users encrypted to keys whose secret halves are in the layer folder (`iamlayer init`'s example
keys, or a real key exported with its secret next to it): `validate` and `plan` say so loudly.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpgkeys import GpgHome, gpg_available
from layer import run_cli

pytestmark = pytest.mark.skipif(not gpg_available(), reason="needs gpg to make a person's key")


@pytest.fixture
def gpg(tmp_path: Path) -> Iterator[GpgHome]:
    home = GpgHome(tmp_path / "gnupg")
    try:
        yield home
    finally:
        home.close()


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_validate_and_plan_warn_about_keys_whose_secret_half_is_in_the_layer(
    tmp_path: Path, aws_env: dict[str, str], gpg: GpgHome
) -> None:
    assert run_cli("init", "acme", cwd=tmp_path, env=aws_env).code == 0
    layer = tmp_path / "acme"
    jane = "NOT SECRET: jane.doe's secrets are encrypted to an `iamlayer init` example key keys/jane.doe"
    jane_where = "its secret half is in the layer folder (example-secret-keys/jane.doe.asc)"
    machine = "machine.ci's secrets are encrypted to an `iamlayer init` example key keys/machine.infra"

    r = run_cli("validate", cwd=layer, env=aws_env)
    assert r.code == 0, r.err
    err = one_line(r.err)
    assert jane in err and jane_where in err and machine in err, err
    assert "iamlayer.yaml:" in err and "users.jane.doe.pgp_key" in err  # file:line and key path
    assert "put jane.doe's own public key in keys/jane.doe" in err

    r = run_cli("plan", cwd=layer, env=aws_env)
    assert r.code == 0, r.err
    err = one_line(r.err)
    assert f"WARNING: {jane}" in err and jane_where in err and machine in err, err
    assert "Fix: put machine.ci's own public key in keys/machine.infra" in err
    r = run_cli("plan", "--json", cwd=layer, env=aws_env)
    assert r.code == 0 and jane in one_line(r.err)  # on stderr: the JSON stays parseable
    r.json()

    # jane's own key: no warning for her. Then her secret key is exported into the folder.
    fpr = gpg.gen_key("Jane Doe <jane.doe@example.com>", "ed25519", "sign")
    gpg.add_subkey(fpr, "cv25519", "encr")
    gpg.export(fpr, "armored", layer / "keys" / "jane.doe")
    r = run_cli("validate", cwd=layer, env=aws_env)
    assert r.code == 0 and "NOT SECRET: jane.doe" not in one_line(r.err) and machine in one_line(r.err)
    gpg.export_secret(fpr, layer / "keys" / "jane-backup.key", armor=False)
    for args in (["validate"], ["plan"]):
        r = run_cli(*args, cwd=layer, env=aws_env)
        err = one_line(r.err)
        assert r.code == 0, r.err
        assert (
            f"NOT SECRET: jane.doe's secrets are encrypted to keys/jane.doe ({fpr.upper()}) and its "
            "secret half is in the layer folder (keys/jane-backup.key)" in err
        ), err
        assert "delete keys/jane-backup.key (and never commit it)" in err
    # The example secret keys deleted: the example key is still nobody's own.
    shutil.rmtree(layer / "example-secret-keys")
    r = run_cli("validate", cwd=layer, env=aws_env)
    err = one_line(r.err)
    assert "machine.ci's secrets are encrypted to keys/machine.infra" in err, err
    assert "it is an `iamlayer init` example key, not a person's own: whoever kept its secret half" in err


def git_ignored(repo: Path, *paths: str) -> set[str]:
    """Which of `paths` git itself ignores in `repo` (real `git check-ignore`)."""
    r = subprocess.run(
        ["git", "check-ignore", "--no-index", *paths], cwd=repo, capture_output=True, text=True, check=False
    )
    return set(r.stdout.split())


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_init_writes_a_gitignore_and_appends_to_an_existing_one(
    tmp_path: Path, aws_env: dict[str, str]
) -> None:
    """Issue 18 item 14: the layer's .iamlayer/ state, the example secret keys and MFA QR codes
    stay out of git; outputs/ (ciphertexts meant for the team), keys/ and the spec do not."""
    assert run_cli("init", "acme", cwd=tmp_path, env=aws_env).code == 0
    layer = tmp_path / "acme"
    subprocess.run(["git", "init", "-q"], cwd=layer, check=True)
    kept = ["iamlayer.yaml", "keys/jane.doe", "outputs/security/jane.doe/password.asc", "README.md"]
    secret = [".iamlayer/locks/security.lock", "example-secret-keys/jane.doe.asc", "mfa-jane.doe.png"]
    assert git_ignored(layer, *kept, *secret) == set(secret)

    # A folder that already has a .gitignore (and no final newline): kept, only what is missing added.
    mine = "node_modules/\n/.iamlayer"
    other = tmp_path / "other"
    other.mkdir()
    (other / ".gitignore").write_text(mine)
    r = run_cli("init", str(other), "--no-example-keys", cwd=tmp_path, env=aws_env)
    assert r.code == 0, r.err
    text = (other / ".gitignore").read_text()
    assert text.startswith(mine + "\n\n# Written by `iamlayer init`"), text
    lines = text.splitlines()
    assert lines.count("example-secret-keys/") == 1 and lines.count("mfa-*.png") == 1
    assert not any(line.strip("/") == ".iamlayer" for line in lines[2:]), text  # not added twice
    subprocess.run(["git", "init", "-q"], cwd=other, check=True)
    assert git_ignored(other, *kept, *secret, "node_modules/x") == {*secret, "node_modules/x"}

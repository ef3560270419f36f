"""What a layer folder must not leak, as a person runs the CLI (issue 18 items 13 and 14).

Users encrypted to keys whose secret halves are in the layer folder (`iamlayer init`'s example
keys, or a real key exported with its secret next to it): `validate` and `plan` say so loudly.
"""

from __future__ import annotations

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

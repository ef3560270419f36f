"""update_accounts: record account ids in the spec, keeping everything people wrote."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from spec_support import FIXTURES

from iamlayer.errors import IamlayerError
from iamlayer.spec.edit import update_accounts
from iamlayer.spec.load import load_spec


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "iamlayer.yaml"
    shutil.copy(FIXTURES / "design_example.yaml", path)
    for name in ("jane.doe", "machine.infra"):
        (tmp_path / "keys").mkdir(exist_ok=True)
        (tmp_path / "keys" / name).write_text("placeholder; keys are not checked here\n")
    return path


def test_changes_only_the_ids_and_keeps_comments(spec_file: Path) -> None:
    before = spec_file.read_text()
    changed = update_accounts(spec_file, {"shared": "999999999999", "apps-prd": "012345678901"})
    assert changed is True
    after = spec_file.read_text()
    # exactly the two id tokens differ; every other byte (comments, flow maps, spacing) is kept
    assert after == before.replace('"333333333333"', '"999999999999"').replace(
        '"555555555555"', '"012345678901"'
    )
    spec = load_spec(spec_file, check_keys=False)
    assert spec.accounts["shared"].id == "999999999999"
    assert spec.accounts["apps-prd"].id == "012345678901"


def test_is_idempotent(spec_file: Path) -> None:
    ids = {"management": "111111111111", "security": "222222222222"}
    assert update_accounts(spec_file, ids) is False  # already so
    mtime = spec_file.stat().st_mtime_ns
    assert update_accounts(spec_file, {"shared": "444444444444"}) is True
    content = spec_file.read_text()
    assert update_accounts(spec_file, {"shared": "444444444444"}) is False
    assert spec_file.read_text() == content
    assert spec_file.stat().st_mtime_ns >= mtime


def test_adds_new_accounts_in_the_block_and_keeps_other_fields(tmp_path: Path) -> None:
    path = tmp_path / "iamlayer.yaml"
    path.write_text(
        "# my layer\n"
        "project: acme   # short\n"
        "accounts:\n"
        "  security:\n"
        "    id: 222222222222      # unquoted int\n"
        "    alias: acme-sec\n"
        "    password_policy: {minimum_length: 20}\n"
        "  # workloads below\n"
        "  dev: {id: '333333333333', profile: dev-admin}\n"
        "\n"
        "# who manages people\n"
        "people_account: security\n"
    )
    path.chmod(0o640)
    changed = update_accounts(
        path,
        {
            "security": "222222222222",
            "dev": "333333333334",
            "prod": "444444444444",
            "odd name": "555555555555",
        },
    )
    assert changed is True
    text = path.read_text()
    assert text == (
        "# my layer\n"
        "project: acme   # short\n"
        "accounts:\n"
        "  security:\n"
        "    id: 222222222222      # unquoted int\n"
        "    alias: acme-sec\n"
        "    password_policy: {minimum_length: 20}\n"
        "  # workloads below\n"
        '  dev: {id: "333333333334", profile: dev-admin}\n'
        '  prod: {id: "444444444444"}\n'
        '  "odd name": {id: "555555555555"}\n'
        "\n"
        "# who manages people\n"
        "people_account: security\n"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # the file keeps its mode
    data = YAML(typ="safe").load(text)
    assert data["accounts"]["security"] == {
        "id": 222222222222,
        "alias": "acme-sec",
        "password_policy": {"minimum_length": 20},
    }
    assert data["accounts"]["odd name"] == {"id": "555555555555"}
    assert update_accounts(path, {"prod": "444444444444", "odd name": "555555555555"}) is False


def test_accounts_block_last_in_file_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "iamlayer.yaml"
    path.write_text('project: acme\npeople_account: a\naccounts:\n  a: {id: "111111111111"}')
    assert update_accounts(path, {"b": "222222222222"}) is True
    assert path.read_text() == (
        'project: acme\npeople_account: a\naccounts:\n  a: {id: "111111111111"}\n  b: {id: "222222222222"}\n'
    )


def test_flow_or_empty_accounts_fall_back_to_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "iamlayer.yaml"
    path.write_text("# top comment\nproject: acme  # short name\naccounts: {}\n")
    assert update_accounts(path, {"security": "222222222222"}) is True
    text = path.read_text()
    assert "# top comment" in text and "# short name" in text
    spec = load_spec(path, check_keys=False)
    assert spec.accounts["security"].id == "222222222222"
    assert update_accounts(path, {"security": "222222222222"}) is False


def test_rejects_bad_ids_without_touching_the_file(spec_file: Path) -> None:
    before = spec_file.read_bytes()
    with pytest.raises(IamlayerError, match="12-digit"):
        update_accounts(spec_file, {"shared": "12345"})
    assert spec_file.read_bytes() == before
    assert [p.name for p in spec_file.parent.iterdir() if p.name.endswith(".tmp")] == []

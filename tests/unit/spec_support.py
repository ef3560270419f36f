"""Helpers shared by the tests/unit/test_spec_*.py modules: write a spec, find a line, load errors."""

from __future__ import annotations

import importlib.util
import textwrap
from collections.abc import Iterable
from pathlib import Path

import pysequoia
import pytest

from iamlayer.errors import Diagnostic, SpecError
from iamlayer.spec.load import load_spec_with_warnings

FIXTURES = Path(__file__).parent / "spec_fixtures"

#: the secrets helper's key loader; key-content checks are skipped while it does not exist
HAVE_KEY_LOADER = importlib.util.find_spec("iamlayer.secrets.keys") is not None
needs_key_loader = pytest.mark.skipif(
    not HAVE_KEY_LOADER, reason="iamlayer.secrets.keys (load_public_key) is not in the tree yet"
)

#: a minimal valid spec other tests extend
MINIMAL = """\
project: acme
accounts:
  security: {id: "222222222222"}
"""


def write_key(path: Path, user_id: str = "Test <t@example.com>") -> Path:
    """A real (Cv25519, armored) public key at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cert = pysequoia.Tsk.generate(user_id, profile=pysequoia.Profile.RFC4880).extract_certificate()
    path.write_text(str(cert))
    return path


def offline_design_layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The design example in tmp_path (empty key files: nothing here reads keys), as the working
    folder, with AWS out of reach (any call would fail at once). Returns the spec file."""
    import shutil

    shutil.copy(FIXTURES / "design_example.yaml", tmp_path / "iamlayer.yaml")
    (tmp_path / "keys").mkdir()
    for name in ("jane.doe", "machine.infra"):
        (tmp_path / "keys" / name).write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # offline: nothing could reach AWS
    for k in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(k, raising=False)
    return tmp_path / "iamlayer.yaml"


def write_spec(tmp_path: Path, text: str, keys: Iterable[str] = ()) -> Path:
    """Write `text` (dedented) as tmp_path/iamlayer.yaml, with a real public key per name in `keys`."""
    for name in keys:
        write_key(tmp_path / "keys" / name)
    spec = tmp_path / "iamlayer.yaml"
    spec.write_text(textwrap.dedent(text))
    return spec


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    """1-based line of the `nth` line of `path` containing `needle`."""
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    assert len(hits) >= nth, f"{needle!r} not in {path}"
    return hits[nth - 1]


def load_errors(path: Path, *, check_keys: bool = False) -> list[Diagnostic]:
    """The diagnostics of a spec that must fail to load."""
    with pytest.raises(SpecError) as info:
        load_spec_with_warnings(path, check_keys=check_keys)
    diagnostics = info.value.diagnostics
    assert any(d.severity == "error" for d in diagnostics)
    return diagnostics


def only(diagnostics: list[Diagnostic], key: str, severity: str = "error") -> Diagnostic:
    """The one diagnostic for `key` (fails listing all diagnostics otherwise)."""
    found = [d for d in diagnostics if d.key == key and d.severity == severity]
    assert len(found) == 1, f"expected one {severity} at {key}, got:\n" + "\n".join(map(str, diagnostics))
    return found[0]

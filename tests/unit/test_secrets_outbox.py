"""The outbox: staging, committing and discarding passwords, crash leftovers, access keys, modes.

Keys are generated with pysequoia and ciphertexts decrypted in-process with the matching secret
key; the same flows are read back with the real `gpg` in tests/integration/test_secrets_gpg.py.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pysequoia
import pytest

from iamlayer.errors import IamlayerError
from iamlayer.secrets import Outbox, PublicKey, decrypt_file, generate_password, load_public_key
from iamlayer.spec.model import PasswordPolicy

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@dataclass
class Person:
    key: PublicKey
    secret_key: Path


@pytest.fixture(scope="module")
def jane(tmp_path_factory: pytest.TempPathFactory) -> Person:
    folder = tmp_path_factory.mktemp("jane")
    tsk = pysequoia.Tsk.generate("Jane Doe <jane@example.com>")
    (folder / "jane.asc").write_text(str(tsk.extract_certificate()))
    (folder / "jane.secret.asc").write_text(str(tsk))
    return Person(load_public_key(folder / "jane.asc"), folder / "jane.secret.asc")


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def assert_private_and_no_plaintext(root: Path, *plaintexts: str) -> None:
    """Every file 0600, every folder 0700, and no plaintext in any byte on disk."""
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    for p in root.rglob("*"):
        assert stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600), p
        if p.is_file():
            data = p.read_bytes()
            for text in plaintexts:
                assert text.encode() not in data, p


def test_stage_then_commit(jane: Person, tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outputs")
    password = generate_password(PasswordPolicy(minimum_length=30))
    staged = outbox.stage_password("security", "jane.doe", jane.key, password)

    assert staged.path == tmp_path / "outputs/security/jane.doe/password.asc.pending"
    assert staged.fingerprint == jane.key.fingerprint
    assert outbox.records() == []  # not live yet: nothing to hand out
    assert [p.path for p in outbox.pending_passwords()] == [staged.path]

    final = outbox.commit(staged)
    assert final == tmp_path / "outputs/security/jane.doe/password.asc"
    assert not staged.path.exists()
    assert outbox.pending_passwords() == []
    assert decrypt_file(final, jane.secret_key) == password
    assert outbox.commit(staged) == final  # committing twice is harmless

    [rec] = outbox.records()
    assert (rec.account, rec.user, rec.kind, rec.path, rec.fingerprint, rec.access_key_id) == (
        "security",
        "jane.doe",
        "password",
        final,
        jane.key.fingerprint,
        None,
    )
    assert rec.created_at == staged.created_at and rec.created_at.endswith("+00:00")
    assert outbox.record_for("security", "jane.doe", "password") == rec
    assert outbox.record_for("security", "jane.doe", "access_key") is None
    assert_private_and_no_plaintext(outbox.root, password)


def test_stage_then_discard_leaves_nothing(jane: Person, tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outputs")
    staged = outbox.stage_password("security", "jane.doe", jane.key, "Secret-1234!abcdEFGH")
    outbox.discard(staged)
    assert all_files(outbox.root) == []
    assert outbox.pending_passwords() == [] and outbox.records() == []
    outbox.discard(staged)  # idempotent
    with pytest.raises(IamlayerError, match="has vanished; it was never committed"):
        outbox.commit(staged)


def test_a_new_password_replaces_the_old_one_on_commit(jane: Person, tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outputs")
    outbox.commit(outbox.stage_password("security", "jane.doe", jane.key, "first-Password-1!"))
    second = outbox.stage_password("security", "jane.doe", jane.key, "second-Password-2!")
    # Until the reset is live in AWS, the old password is still the one handed out.
    [rec] = outbox.records()
    assert decrypt_file(rec.path, jane.secret_key) == "first-Password-1!"
    outbox.commit(second)
    [rec] = outbox.records()
    assert decrypt_file(rec.path, jane.secret_key) == "second-Password-2!"


def test_staging_again_over_an_unresolved_pending_is_refused(jane: Person, tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outputs")
    outbox.stage_password("security", "jane.doe", jane.key, "first-Password-1!")
    with pytest.raises(IamlayerError, match=r"still pending .* interrupted apply"):
        outbox.stage_password("security", "jane.doe", jane.key, "second-Password-2!")


CRASH_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from iamlayer.secrets import Outbox, load_public_key
    outbox = Outbox(Path(sys.argv[1]))
    key = load_public_key(Path(sys.argv[2]))
    for user in ("jane.doe", "john.roe"):
        outbox.stage_password("security", user, key, sys.argv[3])
    # The process dies here: after staging, before the AWS call returned and commit ran.
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_crash_between_stage_and_commit_is_recovered(jane: Person, tmp_path: Path) -> None:
    root = tmp_path / "outputs"
    password = "Crash-Test-Password-123!"
    proc = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(root), str(jane.key.path), password], check=False
    )
    assert proc.returncode == -signal.SIGKILL

    outbox = Outbox(root)  # a later run
    pending = outbox.pending_passwords()
    assert [(p.account, p.user, p.fingerprint) for p in pending] == [
        ("security", "jane.doe", jane.key.fingerprint),
        ("security", "john.roe", jane.key.fingerprint),
    ]
    assert all(p.path.name == "password.asc.pending" for p in pending)
    assert_private_and_no_plaintext(root, password)

    # AWS says jane's login profile was created before the crash, john's was not.
    outbox.resolve_pending(pending[0], live=True)
    outbox.resolve_pending(pending[1], live=False)
    assert outbox.pending_passwords() == []
    [rec] = outbox.records()
    assert (rec.user, rec.kind) == ("jane.doe", "password")
    assert decrypt_file(rec.path, jane.secret_key) == password
    assert not (root / "security" / "john.roe" / "password.asc").exists()


def test_access_keys_stored_listed_and_forgotten(jane: Person, tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outputs")
    path = outbox.store_access_key("security", "machine.ci", jane.key, KEY_ID, SECRET)
    assert path == tmp_path / "outputs/security/machine.ci" / f"access-key-{KEY_ID}.asc"
    assert decrypt_file(path, jane.secret_key) == SECRET
    other = outbox.store_access_key(
        "security", "machine.ci", jane.key, "AKIAOTHERKEY0000EXAM", "other-secret"
    )

    rec = outbox.record_for("security", "machine.ci", "access_key", KEY_ID)
    assert rec is not None
    assert (rec.kind, rec.access_key_id, rec.fingerprint, rec.path) == (
        "access_key",
        KEY_ID,
        jane.key.fingerprint,
        path,
    )
    assert [r.access_key_id for r in outbox.records()] == ["AKIAIOSFODNN7EXAMPLE", "AKIAOTHERKEY0000EXAM"]
    assert_private_and_no_plaintext(outbox.root, SECRET, "other-secret")

    outbox.forget_access_key("security", "machine.ci", KEY_ID)
    outbox.forget_access_key("security", "machine.ci", KEY_ID)  # already gone: fine
    assert [r.path for r in outbox.records()] == [other]
    assert outbox.record_for("security", "machine.ci", "access_key", KEY_ID) is None


def test_records_survive_without_any_index_file(jane: Person, tmp_path: Path) -> None:
    """The ciphertexts are the records: a fresh Outbox over the folder sees everything."""
    root = tmp_path / "outputs"
    first = Outbox(root)
    first.commit(first.stage_password("security", "jane.doe", jane.key, "Pass-word-1234567!"))
    first.store_access_key("apps-prd", "machine.ci", jane.key, KEY_ID, SECRET)
    again = Outbox(root)
    assert [(r.account, r.user, r.kind) for r in again.records()] == [
        ("apps-prd", "machine.ci", "access_key"),
        ("security", "jane.doe", "password"),
    ]
    assert {p.name for p in all_files(root)} == {"password.asc", f"access-key-{KEY_ID}.asc"}


def test_headers_say_what_a_file_is_for_a_person_reading_it(jane: Person, tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outputs")
    path = outbox.store_access_key("security", "machine.ci", jane.key, KEY_ID, SECRET)
    head = path.read_text().split("\n\n", 1)[0]
    assert f"Comment: iamlayer access key {KEY_ID} for machine.ci in account security" in head
    assert f"Comment: iamlayer-recipient: {jane.key.fingerprint}" in head


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../x", "with space", "tab\tname"])
def test_names_that_would_escape_the_outbox_are_refused(jane: Person, tmp_path: Path, name: str) -> None:
    outbox = Outbox(tmp_path / "outputs")
    with pytest.raises(ValueError, match="invalid user name"):
        outbox.stage_password("security", name, jane.key, "Pass-word-1234567!")
    with pytest.raises(ValueError, match="not an access key ID"):
        outbox.store_access_key("security", "u", jane.key, "../../etc", SECRET)
    assert not (tmp_path / "outputs").exists() or all_files(tmp_path / "outputs") == []


def test_umask_does_not_loosen_modes(jane: Person, tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        outbox = Outbox(tmp_path / "outputs")
        outbox.commit(outbox.stage_password("security", "jane.doe", jane.key, "Pass-word-1234567!"))
    finally:
        os.umask(old)
    assert_private_and_no_plaintext(outbox.root, "Pass-word-1234567!")


def test_a_password_committed_while_listing_is_not_listed(
    jane: Person, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Apply's workers commit their users' staged passwords while another worker lists what is
    pending: a file listed, then renamed before it is read, was settled (it crashed the 1,000-user
    bench apply with FileNotFoundError, issue 13)."""
    outbox = Outbox(tmp_path / "outputs")
    staged = [outbox.stage_password("security", u, jane.key, f"pw-{u}") for u in ("ann", "bob")]
    listing = sorted(outbox.root.glob("*/*/password.asc.pending"))  # as the listing saw them
    outbox.commit(staged[0])  # ann's worker commits between the listing and the reading
    real_glob = Path.glob
    monkeypatch.setattr(
        Path, "glob", lambda self, pattern: iter(listing) if self == outbox.root else real_glob(self, pattern)
    )
    assert [(p.user, p.path) for p in outbox.pending_passwords()] == [("bob", staged[1].path)]
    monkeypatch.undo()
    assert outbox.pending_password("security", "ann") is None
    bob = outbox.pending_password("security", "bob")
    assert bob is not None and (bob.path, bob.fingerprint) == (staged[1].path, jane.key.fingerprint)
    assert bob.created_at == staged[1].created_at


def test_a_secret_deleted_while_records_are_read_is_skipped(
    jane: Person, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Apply deletes one user's password in one thread while another looks up a user's keys:
    a file listed and then gone is no longer held, not an error (the graph runs both at once)."""
    import iamlayer.secrets.outbox as outbox_module

    outbox = Outbox(tmp_path / "outputs")
    password = outbox.commit(outbox.stage_password("security", "jane.doe", jane.key, "Pass-word-1234567!"))
    outbox.store_access_key("security", "jane.doe", jane.key, KEY_ID, SECRET)
    outbox.store_access_key("security", "machine.ci", jane.key, "AKIAOTHERKEY0000EXAM", "other-secret")
    real_mtime = outbox_module._mtime

    def deleted_first(path: Path) -> str:
        if path == password:
            outbox.forget_password("security", "jane.doe")
        return real_mtime(path)

    monkeypatch.setattr(outbox_module, "_mtime", deleted_first)
    assert [(r.user, r.kind) for r in outbox.records()] == [
        ("jane.doe", "access_key"),
        ("machine.ci", "access_key"),
    ]
    assert outbox.access_key_ids("security", "jane.doe") == {KEY_ID}
    assert [r.user for r in outbox.records("security", "machine.ci")] == ["machine.ci"]

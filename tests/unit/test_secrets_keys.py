"""Key files in their three forms, and files that are not public keys.

Keys here are generated with pysequoia (milliseconds); keys made by the real gpg, including
expired, revoked and sign-only ones, are in tests/integration/test_secrets_gpg.py.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pysequoia
import pytest

from iamlayer.errors import KeyFileError
from iamlayer.secrets import decrypt_file, encrypt_armored, load_public_key
from iamlayer.secrets.crypto import armor_comments


@pytest.fixture(scope="module")
def tsk() -> pysequoia.Tsk:
    return pysequoia.Tsk.generate("Ana Lyst <ana@example.com>")


@pytest.mark.parametrize("form", ["armored", "binary", "base64"])
def test_three_forms_load_to_the_same_key(tsk: pysequoia.Tsk, tmp_path: Path, form: str) -> None:
    cert = tsk.extract_certificate()
    data = {
        "armored": str(cert).encode(),
        "binary": bytes(cert),
        "base64": base64.encodebytes(bytes(cert)),  # wrapped at 76 columns like `base64`
    }[form]
    path = tmp_path / "ana.key"
    path.write_bytes(data)
    key = load_public_key(path)
    assert key.fingerprint == cert.fingerprint.upper()
    assert key.user_ids == ("Ana Lyst <ana@example.com>",)
    assert key.form == form
    assert key.algorithm == "Cv25519"  # pysequoia's default suite encrypts with Curve25519
    assert key.label.startswith(key.fingerprint)


def test_armored_text_around_the_key_is_tolerated(tsk: pysequoia.Tsk, tmp_path: Path) -> None:
    path = tmp_path / "ana.asc"
    path.write_text("Ana's key, sent by mail:\n\n" + str(tsk.extract_certificate()) + "\n-- \nAna\n")
    assert load_public_key(path).form == "armored"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the PGP key file is empty"),
        (b"  \n\n", "the PGP key file is empty"),
        (b"hello, this is not a key\n", "not an OpenPGP public key"),
        (base64.encodebytes(b"hello, base64 of text\n"), "not an OpenPGP public key"),
        (b"\x99\x01\x02garbage-after-a-packet-header", "not an OpenPGP public key"),
    ],
)
def test_files_that_are_not_keys(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bogus.key"
    path.write_bytes(content)
    with pytest.raises(KeyFileError, match=message) as err:
        load_public_key(path)
    assert str(err.value).startswith(f"{path}: ")


def test_secret_key_export_is_refused(tsk: pysequoia.Tsk, tmp_path: Path) -> None:
    for name, data in (("armored.asc", str(tsk).encode()), ("binary.gpg", bytes(tsk))):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(
            KeyFileError, match="this is a secret key; export the public key with gpg --export"
        ):
            load_public_key(path)


def test_an_armored_message_is_not_a_key(tsk: pysequoia.Tsk, tmp_path: Path) -> None:
    key_file = tmp_path / "ana.asc"
    key_file.write_text(str(tsk.extract_certificate()))
    message = tmp_path / "message.asc"
    message.write_text(encrypt_armored(load_public_key(key_file), "x"))
    with pytest.raises(KeyFileError, match="this is an armored 'BEGIN PGP MESSAGE', not a public key"):
        load_public_key(message)


def test_two_keys_in_one_file_are_refused(tsk: pysequoia.Tsk, tmp_path: Path) -> None:
    other = pysequoia.Tsk.generate("Bo <bo@example.com>").extract_certificate()
    path = tmp_path / "two.gpg"
    path.write_bytes(bytes(tsk.extract_certificate()) + bytes(other))
    with pytest.raises(KeyFileError, match="holds 2 keys"):
        load_public_key(path)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read the PGP key file: No such file"):
        load_public_key(tmp_path / "nope.asc")
    with pytest.raises(KeyFileError, match="cannot read the PGP key file: Is a directory"):
        load_public_key(tmp_path)


def test_encrypted_message_carries_comments_and_decrypts_with_the_secret_key(
    tsk: pysequoia.Tsk, tmp_path: Path
) -> None:
    key_file = tmp_path / "ana.asc"
    key_file.write_text(str(tsk.extract_certificate()))
    key = load_public_key(key_file)
    text = encrypt_armored(key, "pässword!", comments=["iamlayer test", "second: line"])
    assert armor_comments(text) == ["iamlayer test", "second: line"]
    assert "pässword" not in text
    message = tmp_path / "m.asc"
    message.write_text(text)
    secret = tmp_path / "ana.secret.asc"
    secret.write_text(str(tsk))
    assert decrypt_file(message, secret) == "pässword!"
    with pytest.raises(ValueError, match="one line of printable ASCII"):
        encrypt_armored(key, "x", comments=["two\nlines"])


@pytest.mark.parametrize(
    ("suite", "profile", "algorithm"),
    [
        (pysequoia.CipherSuite.RSA2k, None, "RSA 2048"),
        (pysequoia.CipherSuite.P256, None, "NIST P-256"),
        (pysequoia.CipherSuite.Cv25519, None, "Cv25519"),
        (None, pysequoia.Profile.RFC9580, "X25519"),  # a v6 key: different packet layout
    ],
)
def test_algorithm_names(
    tmp_path: Path, suite: pysequoia.CipherSuite | None, profile: pysequoia.Profile | None, algorithm: str
) -> None:
    tsk = pysequoia.Tsk.generate("Al Go <al@example.com>", cipher_suite=suite, profile=profile)
    path = tmp_path / "al.asc"
    path.write_text(str(tsk.extract_certificate()))
    assert load_public_key(path).algorithm == algorithm


def test_expiry_is_reported_and_enforced(tmp_path: Path) -> None:
    tsk = pysequoia.Tsk.generate("Tim Ely <tim@example.com>", validity_seconds=3600)
    path = tmp_path / "tim.asc"
    path.write_text(str(tsk.extract_certificate()))
    key = load_public_key(path)
    assert key.expires_at is not None
    # Sequoia backdates new keys by a minute against clock skew.
    assert timedelta(minutes=55) < key.expires_at - datetime.now(UTC) <= timedelta(hours=1)
    with pytest.raises(KeyFileError, match=r"expired on .*gpg --quick-set-expire"):
        load_public_key(path, now=key.expires_at + timedelta(seconds=1))


def test_each_key_file_is_loaded_once_per_run_and_never_trial_encrypted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan of people sharing key files parsed one file per user and ran a trial encryption per
    load (issue 13: 500 users sharing one key file, 501 loads and 501 encryptions). Now: one load
    per distinct file, judged from the packets; a changed file is loaded again."""
    from spec_support import MINIMAL, write_key, write_spec

    from iamlayer.plan.planner import secret_intents
    from iamlayer.secrets import keys as keys_module
    from iamlayer.spec.load import load_spec

    for name in ("a", "b"):
        write_key(tmp_path / "keys" / name, f"{name} <{name}@example.com>")
    users = "".join(f"  u{i}: {{pgp_key: keys/{'ab'[i % 2]}}}\n" for i in range(40))
    path = write_spec(tmp_path, MINIMAL + "users:\n" + users)
    loads: list[Path] = []
    real_load = keys_module._load
    monkeypatch.setattr(keys_module, "_load", lambda p, raw, now: loads.append(p) or real_load(p, raw, now))

    def no_trial(*_: object, **__: object) -> None:
        raise AssertionError("a trial encryption")

    monkeypatch.setattr(pysequoia, "encrypt", no_trial)
    monkeypatch.setattr(keys_module, "_LOADED", {})
    spec = load_spec(path)
    intents = secret_intents(spec)
    assert len(intents) == 40 and len({i.fingerprint for i in intents.values()}) == 2
    assert sorted(p.name for p in loads) == ["a", "b"]
    write_key(tmp_path / "keys" / "a", "a2 <a2@example.com>")  # the person sent a new key
    assert load_public_key((tmp_path / "keys" / "a").resolve()).user_ids == ("a2 <a2@example.com>",)
    assert sorted(p.name for p in loads) == ["a", "a", "b"]

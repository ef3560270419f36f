"""Secrets against the real GnuPG: keys made and exported with `gpg`, ciphertexts read by `gpg --decrypt`."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gpgkeys import GpgHome, gpg_available
from iamlayer.errors import IamlayerError, KeyFileError
from iamlayer.secrets import Outbox, decrypt_file, encrypt_armored, generate_password, load_public_key
from iamlayer.spec.model import PasswordPolicy

pytestmark = pytest.mark.skipif(not gpg_available(), reason="needs the gpg binary")

PLAINTEXT = "Zq9!wr[x]'long-enough|pässwörd"


@dataclass
class Keys:
    gpg: GpgHome
    dir: Path
    rsa: str  # RSA 3072, encrypt-capable primary
    cv: str  # Ed25519 primary (sign) + Cv25519 encryption subkey
    expired: str  # whole key expired in 2020
    expired_sub: str  # primary valid forever, its only encryption subkey expired in 2020
    revoked: str
    sign_only: str


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    base = tmp_path_factory.mktemp("gpg")
    g = GpgHome(base / "home")
    rsa = g.gen_key("Rita Rsa <rita@example.com>", "rsa3072", "encr")
    cv = g.gen_key("Carl Curve <carl@example.com>", "ed25519", "sign")
    g.add_subkey(cv, "cv25519", "encr")
    expired = g.gen_key("Eve Expired <eve@example.com>", "ed25519", "sign", "1d", past=True)
    g.add_subkey(expired, "cv25519", "encr", "1d", past=True)
    expired_sub = g.gen_key("Sam Subkey <sam@example.com>", "ed25519", "sign", "never", past=True)
    g.add_subkey(expired_sub, "cv25519", "encr", "1d", past=True)
    revoked = g.gen_key("Rob Revoked <rob@example.com>", "ed25519", "sign")
    g.add_subkey(revoked, "cv25519", "encr")
    g.revoke(revoked)
    sign_only = g.gen_key("Sue Signer <sue@example.com>", "ed25519", "sign")
    try:
        yield Keys(g, base, rsa, cv, expired, expired_sub, revoked, sign_only)
    finally:
        g.close()


@pytest.mark.parametrize("form", ["armored", "binary", "base64"])
@pytest.mark.parametrize(("which", "algorithm"), [("rsa", "RSA 3072"), ("cv", "Cv25519")])
def test_every_export_form_loads_and_gpg_decrypts(keys: Keys, form: str, which: str, algorithm: str) -> None:
    fpr = getattr(keys, which)
    path = keys.gpg.export(fpr, form, keys.dir / f"{which}.{form}")
    key = load_public_key(path)
    assert (key.fingerprint, key.form, key.algorithm, key.path) == (fpr, form, algorithm, path)
    assert len(key.user_ids) == 1 and "@example.com" in key.user_ids[0]
    assert key.expires_at is None

    message = keys.dir / f"{which}.{form}.msg.asc"
    message.write_text(encrypt_armored(key, PLAINTEXT))
    assert message.read_text().startswith("-----BEGIN PGP MESSAGE-----\n")
    assert keys.gpg.decrypt(message) == PLAINTEXT


def test_issue_cases_rsa_base64_and_curve25519_armored(keys: Keys) -> None:
    """The two shapes named in the issue, end to end through the outbox and `gpg --decrypt`."""
    rsa = load_public_key(keys.gpg.export(keys.rsa, "base64", keys.dir / "jane.b64"))
    cv = load_public_key(keys.gpg.export(keys.cv, "armored", keys.dir / "carl.asc"))
    assert b"\n" in rsa.path.read_bytes().strip()  # base64 wrapped over lines, as `base64` prints it
    outbox = Outbox(keys.dir / "outputs-issue")
    policy = PasswordPolicy(minimum_length=30)
    for user, key in (("jane.doe", rsa), ("carl", cv)):
        password = generate_password(policy)
        final = outbox.commit(outbox.stage_password("security", user, key, password))
        assert keys.gpg.decrypt(final) == password
        assert password.encode() not in final.read_bytes()
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    path = outbox.store_access_key("security", "machine.ci", cv, "AKIAIOSFODNN7EXAMPLE", secret)
    assert keys.gpg.decrypt(path) == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("which", "fragment"),
    [
        ("expired", "expired on 2020-01-02"),
        ("expired_sub", "has no usable encryption subkey"),
        ("revoked", "is revoked"),
        ("sign_only", "has no encryption subkey (it can only sign"),
    ],
)
@pytest.mark.parametrize("form", ["armored", "base64"])
def test_unusable_keys_are_refused_with_the_reason(keys: Keys, which: str, fragment: str, form: str) -> None:
    fpr = getattr(keys, which)
    path = keys.gpg.export(fpr, form, keys.dir / f"bad-{which}.{form}")
    with pytest.raises(KeyFileError) as err:
        load_public_key(path)
    assert str(path) in str(err.value)
    assert fragment in str(err.value)
    assert fpr in str(err.value)


def test_expired_subkey_message_names_the_subkey_and_the_fix(keys: Keys) -> None:
    path = keys.gpg.export(keys.expired_sub, "binary", keys.dir / "sam.gpg")
    with pytest.raises(KeyFileError, match=r"expired on 2020-01-02\).*gpg --quick-add-key"):
        load_public_key(path)


@pytest.mark.parametrize("armor", [True, False])
def test_secret_key_file_is_refused(keys: Keys, armor: bool) -> None:
    path = keys.gpg.export_secret(keys.rsa, keys.dir / f"secret-{armor}.key", armor=armor)
    with pytest.raises(KeyFileError, match="this is a secret key; export the public key with gpg --export"):
        load_public_key(path)


def test_decrypt_file_with_gpg_keyring_and_with_secret_key_file(
    keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = load_public_key(keys.gpg.export(keys.cv, "armored", keys.dir / "carl-dec.asc"))
    message = keys.dir / "for-carl.asc"
    message.write_text(encrypt_armored(key, PLAINTEXT))

    secret = keys.gpg.export_secret(keys.cv, keys.dir / "carl-secret.gpg", armor=False)
    assert decrypt_file(message, secret) == PLAINTEXT  # pysequoia, in-process

    monkeypatch.setenv("GNUPGHOME", str(keys.gpg.home))
    assert decrypt_file(message) == PLAINTEXT  # the person's own gpg and keyring

    other = keys.gpg.export_secret(keys.rsa, keys.dir / "rita-secret.asc")
    with pytest.raises(IamlayerError, match="not encrypted to this key"):
        decrypt_file(message, other)


def test_decrypt_file_without_the_key_in_the_keyring_says_gpg_failed(
    keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = load_public_key(keys.gpg.export(keys.rsa, "binary", keys.dir / "rita-dec.gpg"))
    message = tmp_path / "for-rita.asc"
    message.write_text(encrypt_armored(key, PLAINTEXT))
    empty = GpgHome(tmp_path / "empty-home")
    try:
        monkeypatch.setenv("GNUPGHOME", str(empty.home))
        with pytest.raises(IamlayerError, match=rf"gpg could not decrypt {message}: .*secret key"):
            decrypt_file(message)
    finally:
        empty.close()


def test_decrypt_file_with_a_passphrase_protected_secret_key(keys: Keys) -> None:
    fpr = keys.gpg.gen_key("Pat Protected <pat@example.com>", "rsa3072", "encr", passphrase="correct horse")
    key = load_public_key(keys.gpg.export(fpr, "armored", keys.dir / "pat.asc"))
    message = keys.dir / "for-pat.asc"
    message.write_text(encrypt_armored(key, PLAINTEXT))
    secret = keys.gpg.export_secret(fpr, keys.dir / "pat-secret.asc", passphrase="correct horse")

    assert decrypt_file(message, secret, passphrase="correct horse") == PLAINTEXT
    with pytest.raises(IamlayerError, match="it is passphrase-protected; give the passphrase"):
        decrypt_file(message, secret)
    with pytest.raises(IamlayerError, match="the passphrase is wrong"):
        decrypt_file(message, secret, passphrase="wrong")


def _trial(path: Path) -> tuple[bool, int | None]:
    """The oracle the key checks replaced (issue 13): can pysequoia encrypt to the whole key as
    exported, and which PKESK version (6: an RFC 9580 SEIPDv2 message) does it send?"""
    import pysequoia

    data = path.read_bytes()
    try:
        message = bytes(pysequoia.encrypt(b"", [pysequoia.Cert.from_bytes(data)], armor=False))
    except Exception:  # pysequoia raises bare RuntimeError with Rust text
        return False, None
    body = 2 if message[1] < 192 else 3  # a new-format PKESK header, as Sequoia writes it
    return True, message[body]


def test_key_checks_read_from_the_packets_agree_with_a_trial_encryption(keys: Keys, tmp_path: Path) -> None:
    """Without trial encryptions (issue 13), a key is still usable exactly when pysequoia can
    encrypt to it (weak RSA and ElGamal keys are refused), and `rfc9580_only` is exactly when it
    sends an RFC 9580 message: keys made by gpg, and by Sequoia in both profiles."""
    import pysequoia

    g = keys.gpg
    made = {
        "rsa3072": keys.rsa,
        "cv25519": keys.cv,
        "rsa2048": g.gen_key("Ron Rsa <ron@example.com>", "rsa2048", "encr"),
        "nistp256": g.gen_key("Nia Nist <nia@example.com>", "nistp256", "sign"),
        "rsa1024": g.gen_key("Old Rsa <old@example.com>", "rsa1024", "encr"),
        "dsa-elg1024": g.gen_key("Dan Dsa <dan@example.com>", "dsa2048", "sign"),
    }
    g.add_subkey(made["nistp256"], "nistp256", "encr")
    g.add_subkey(made["dsa-elg1024"], "elg1024", "encr")
    paths = {name: g.export(fpr, "binary", tmp_path / name) for name, fpr in made.items()}
    for profile in ("RFC4880", "RFC9580"):
        tsk = pysequoia.Tsk.generate(
            f"{profile} <p@example.com>", profile=getattr(pysequoia.Profile, profile)
        )
        paths[f"sequoia-{profile}"] = tmp_path / f"sequoia-{profile}"
        paths[f"sequoia-{profile}"].write_bytes(bytes(tsk.extract_certificate()))
    seen = {}
    for name, path in paths.items():
        usable, version = _trial(path)
        try:
            key = load_public_key(path)
        except KeyFileError as exc:
            assert not usable, f"{name}: refused ({exc}), but pysequoia encrypts to it"
            assert "too weak" in str(exc), exc
            seen[name] = "refused"
            continue
        assert usable, f"{name}: accepted, but pysequoia cannot encrypt to it"
        assert key.rfc9580_only == (version == 6), name
        seen[name] = "rfc9580" if key.rfc9580_only else "ok"
    assert seen == {
        "rsa3072": "ok",
        "cv25519": "ok",
        "rsa2048": "ok",
        "nistp256": "ok",
        "rsa1024": "refused",
        "dsa-elg1024": "refused",
        "sequoia-RFC4880": "rfc9580",
        "sequoia-RFC9580": "rfc9580",
    }

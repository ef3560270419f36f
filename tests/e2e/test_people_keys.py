"""`cli: key` without plaintext (issue 23): after `onboard --cli key` no file under the person's HOME
holds their secret access key or a session secret, and the real aws CLI (v1) still reaches DevOps
through `credential_process = iamlayer credential-process ...`, asking for the MFA code on the
person's terminal.

The person's shell is test_person_path's (own HOME, own gpg keyring, the emulator behind the
recording proxy), and every AWS call is evaluated against the applied policies there too. The
keyring is never the machine's: tests/conftest.py selects keyring's `fail` backend (so iamlayer
falls back to gpg), and the keyring walk uses tests/keyring_backend.py's file, outside HOME.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_person_path import (
    AWS,
    EVALUATORS,
    Layer,
    assert_all_allowed,
    decide,
    exported,
    layer,
    onboard,
    person_env,
    proxy,
    run,
    step_names,
    walk,
)

from awsharness import AwsHarness
from gpgkeys import GpgHome, gpg_available
from keyring_backend import BACKEND

__all__ = ["layer", "proxy"]  # fixtures, used by name

pytestmark = [
    pytest.mark.proof,
    pytest.mark.skipif(not gpg_available(), reason="needs gpg, as the person decrypts with it"),
]  # long end to end (gpg, the aws CLI, a pty): `make proof`

TESTS = Path(__file__).resolve().parents[1]


def no_secret_under(home: Path, *secrets: str) -> None:
    """No file under `home` holds any of `secrets` (ciphertexts and all: grep every byte)."""
    assert all(secrets)
    files = [f for f in home.rglob("*") if f.is_file()]
    assert files
    for f in files:
        data = f.read_bytes()
        for s in secrets:
            assert s.encode() not in data, f"{f} holds a secret"


def iamlayer(*args: str) -> list[str]:
    return [sys.executable, "-m", "iamlayer", *args]


def onboard_as_person(layer: Layer, env: dict[str, str], *extra: str) -> tuple[str, str]:
    # test_person_path's helper adds --plaintext; these walks are the ones without it.
    import test_person_path

    done = test_person_path.enrolling(
        ["onboard", "--user", "jane.doe", "--show-secret", "--cli", "key", *extra], env, layer.root
    )
    assert done.code == 0, done.err
    *_, export_line, _next = done.out.strip().splitlines()
    return done.out + done.err, export_line


def decrypted_key(layer: Layer) -> str:
    [asc] = (layer.root / "outputs" / "security" / "jane.doe").glob("access-key-*.asc")
    return layer.gpg.decrypt(asc)


def test_onboard_cli_key_with_gpg_leaves_no_secret_on_disk(
    layer: Layer, proxy: AwsHarness, tmp_path: Path
) -> None:
    env = person_env(tmp_path, layer, proxy)
    home = tmp_path / "home"
    prd = layer.ids["apps-prd"]
    proxy.label = "1 iamlayer onboard --cli key"
    out, export_line = onboard_as_person(layer, env)
    secret = decrypted_key(layer)
    assert "Access key kept in files encrypted with gpg to your key" in out
    aws_dir = home / ".aws" / "acme"
    config = (aws_dir / "config").read_text()
    assert not (aws_dir / "credentials").exists()
    assert "credential_process = " in config and "iamlayer_store = gpg " in config
    assert "role_arn = " not in config.replace("iamlayer_role_arn = ", "")  # SDKs would cache its credentials
    assert sorted(p.name for p in (aws_dir / "secrets").iterdir()) == ["access-key--acme-security.asc"]
    no_secret_under(home, secret)

    env = exported(env, export_line)
    code = f"{time.time():.0f}"[-6:]  # the emulator takes any 6 digits
    proxy.label = "2 aws sts get-caller-identity (credential_process)"
    r = run(
        [AWS, "sts", "get-caller-identity", "--profile", "acme-apps-prd-devops"], env, tmp_path, f"{code}\n"
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Arn"] == f"arn:aws:sts::{prd}:assumed-role/DevOps/jane.doe"

    # credential-process returns the role's and the MFA session's credentials: none is on disk.
    proxy.label = "3 credential-process (cached, no code)"
    role = run(iamlayer("credential-process", "acme-apps-prd-devops"), env, tmp_path)
    session = run(iamlayer("credential-process", "acme-security"), env, tmp_path)
    assert role.returncode == 0 and session.returncode == 0, role.stderr + session.stderr
    role_creds, session_creds = json.loads(role.stdout), json.loads(session.stdout)
    assert session_creds["AccessKeyId"] != role_creds["AccessKeyId"]
    assert "MFA code" not in role.stderr + session.stderr  # both were kept, encrypted
    no_secret_under(
        home,
        secret,
        role_creds["SecretAccessKey"],
        role_creds["SessionToken"],
        session_creds["SecretAccessKey"],
        session_creds["SessionToken"],
    )
    assert sorted(p.name for p in (aws_dir / "secrets").iterdir()) == [
        "access-key--acme-security.asc",
        "mfa-session--acme-security.asc",
        "role--acme-apps-prd-devops.asc",
    ]
    assert not (aws_dir / "cache").exists()

    # Every call of this path is one the applied policies allow (GetSessionToken with MFA, then
    # AssumeRole with the MFA session), as AWS would decide it.
    world, steps = walk(layer, proxy)
    assert step_names(steps, "2 aws sts get-caller-identity (credential_process)") == [
        "sts:GetSessionToken",
        "sts:AssumeRole",
        "sts:GetCallerIdentity",
    ]
    for evaluator in EVALUATORS:
        assert_all_allowed(decide(steps, world, evaluator))

    # `mfa logout` forgets the sessions, not the key.
    r = run(iamlayer("mfa", "logout"), env, tmp_path)
    assert r.returncode == 0 and "Removed 2 cached session(s)" in r.stdout, r.stdout + r.stderr
    assert [p.name for p in (aws_dir / "secrets").iterdir()] == ["access-key--acme-security.asc"]


def test_keyring_walk_and_leaving_plaintext_behind(layer: Layer, proxy: AwsHarness, tmp_path: Path) -> None:
    """With a keyring (a file the test controls, outside HOME): after a plaintext onboarding, the
    default one moves the key into the keyring and removes every plaintext copy (file, .bak,
    cached sessions)."""
    env = person_env(tmp_path, layer, proxy)
    home = tmp_path / "home"
    aws_dir = home / ".aws" / "acme"
    ring = tmp_path / "keyring.json"
    env.update(
        PYTHON_KEYRING_BACKEND=BACKEND,
        IAMLAYER_TEST_KEYRING=str(ring),
        PYTHONPATH=os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")]),
    )
    plain = onboard(layer, env, "jane.doe")  # test_person_path's: --plaintext
    assert plain.code == 0 and plain.totp is not None, plain.err
    secret = decrypted_key(layer)
    assert secret in (aws_dir / "credentials").read_text()
    *_, export_line, _ = plain.out.strip().splitlines()
    env = exported(env, export_line)
    r = run(iamlayer("exec", "acme-shared-devops", "--", "true"), env, tmp_path, f"{plain.totp.now()}\n")
    assert r.returncode == 0, r.stderr
    assert any((aws_dir / "cache").iterdir())

    out, _ = onboard_as_person(layer, env)
    assert "Access key kept in the OS keyring" in out
    no_secret_under(home, secret)
    assert not (aws_dir / "credentials.bak").exists() and not any((aws_dir / "cache").iterdir())
    assert secret in ring.read_text()
    r = run(iamlayer("credential-process", "acme-shared-devops"), env, tmp_path, f"{plain.totp.now()}\n")
    assert r.returncode == 0, r.stderr
    creds = json.loads(r.stdout)
    no_secret_under(home, creds["SecretAccessKey"], creds["SessionToken"])
    # A rerun reads the key from the keyring: nothing decrypted, nothing changed.
    before = (aws_dir / "config").read_bytes()
    again, _ = onboard_as_person(layer, env, "--json")
    assert '"decrypted": false' in again and (aws_dir / "config").read_bytes() == before


def _pty_run(argv: list[str], env: dict[str, str], answer: str) -> tuple[int, str, str, str]:
    """Run `argv` as from a person's terminal (a pseudo-terminal: the controlling terminal and
    stdin) with stdout and stderr captured; answer the first prompt that appears on the terminal.
    Returns (exit code, stdout, stderr, what the terminal showed)."""
    master, slave = os.openpty()
    slave_name = os.ttyname(slave)

    def controlling_tty() -> None:
        os.setsid()
        os.close(os.open(slave_name, os.O_RDWR))  # the first tty a session leader opens is its own

    proc = subprocess.Popen(
        argv,
        env=env,
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=controlling_tty,
    )
    os.close(slave)
    shown = b""
    deadline = time.time() + 90
    while b"MFA code" not in shown and time.time() < deadline and proc.poll() is None:
        ready, _, _ = select.select([master], [], [], 1)
        if ready:
            try:
                shown += os.read(master, 1024)
            except OSError:
                break
    if b"MFA code" in shown:
        os.write(master, answer.encode() + b"\n")
    out, err = proc.communicate(timeout=90)
    os.close(master)
    return proc.returncode, out, err, shown.decode(errors="replace")


def test_the_mfa_prompt_reaches_the_terminal_when_the_aws_cli_runs_credential_process(
    layer: Layer, proxy: AwsHarness, tmp_path: Path
) -> None:
    env = person_env(tmp_path, layer, proxy)
    _, export_line = onboard_as_person(layer, env)
    env = exported(env, export_line)
    argv = [AWS, "sts", "get-caller-identity", "--profile", "acme-apps-prd-devops", "--output", "json"]
    code, out, err, shown = _pty_run(argv, env, f"{time.time():.0f}"[-6:])
    assert "MFA code for arn:aws:iam::" in shown, (shown, err)
    assert code == 0, err
    assert json.loads(out)["Arn"].endswith(":assumed-role/DevOps/jane.doe")
    assert "MFA code" not in err  # the aws CLI captured nothing of the prompt


def test_gpg_without_gpg_tty_says_what_to_set(tmp_path: Path) -> None:
    """A passphrase-protected key, no terminal for pinentry, no GPG_TTY: the error says to set it."""
    gpg = GpgHome(tmp_path / "gnupg")
    try:
        # "default default": a signing primary key and an encryption subkey, both protected.
        fpr = gpg.gen_key("pat <pat@example.com>", "default", "default", passphrase="correct horse")
        gpg.close()  # forget the passphrase the agent may hold from key generation
        script = (
            "import sys\nfrom pathlib import Path\n"
            "from iamlayer.profiles.secret_store import GpgStore\n"
            "from iamlayer.errors import CredentialsError\n"
            f"s = GpgStore(Path({str(tmp_path / 'secrets')!r}), {fpr!r})\n"
            "s.put('access-key--x', 'not-a-real-secret')\n"
            "try:\n    s.get('access-key--x')\nexcept CredentialsError as e:\n    print(e)\n    sys.exit(3)\n"
        )
        env = {k: v for k, v in gpg.env.items() if k not in ("GPG_TTY", "DISPLAY", "WAYLAND_DISPLAY")}
        r = subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            start_new_session=True,  # no terminal: pinentry cannot ask
            check=False,
        )
        assert r.returncode == 3, r.stdout + r.stderr
        assert "GPG_TTY is not set" in r.stdout and "export GPG_TTY=$(tty)" in r.stdout
        # With GPG_TTY set (to no usable terminal here) the hint is not repeated blindly.
        r = subprocess.run(
            [sys.executable, "-c", script],
            env={**env, "GPG_TTY": "/dev/null"},
            capture_output=True,
            text=True,
            timeout=120,
            start_new_session=True,
            check=False,
        )
        assert r.returncode == 3 and "GPG_TTY is not set" not in r.stdout, r.stdout + r.stderr
    finally:
        gpg.close()


def test_an_unknown_cli_value_exits_2_and_writes_nothing(
    layer: Layer, proxy: AwsHarness, tmp_path: Path
) -> None:
    spec = layer.root / "iamlayer.yaml"
    text = spec.read_text()
    spec.write_text(
        text.replace("groups: [devops], access_key: true}", "groups: [devops], access_key: true, cli: keys}")
    )
    line = next(i for i, t in enumerate(spec.read_text().splitlines(), 1) if "cli: keys" in t)
    env = person_env(tmp_path, layer, proxy)
    for argv in (
        iamlayer("onboard", "--user", "jane.doe"),
        iamlayer("credentials", "configure", "--user", "jane.doe"),
    ):
        r = run(argv, env, layer.root)
        assert r.returncode == 2, r.stderr
        assert f"iamlayer.yaml:{line}" in r.stderr and "did you mean 'key'?" in r.stderr, r.stderr
    assert list((tmp_path / "home").rglob("*")) == []

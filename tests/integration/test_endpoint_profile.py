"""A sandbox reached only through a profile's `endpoint_url` (issue 18, item 1): every client
iamlayer makes, in the member accounts too, goes to that endpoint and never to AWS.

The emulator is configured in an AWS config file alone (no AWS_ENDPOINT_URL, no keys or region in
the environment); tests/loopback_only.py fails any connection to a host other than the loopback,
in this process (the library) and in the CLI's subprocess.
"""

from __future__ import annotations

import socket
from pathlib import Path

import boto3
import pytest

import iamlayer
from iamlayer.aws.accounts import connect_accounts
from iamlayer.aws.people import make_client_factory
from iamlayer.aws.session import ApiStats
from iamlayer.profiles.credentials import Credentials
from iamlayer.sandbox.emulator import Emulator
from iamlayer.spec.load import load_spec
from layer import Layer, run_cli
from loopback_only import guarded_getaddrinfo, refused, subprocess_env

PROFILE = "sandbox"


@pytest.fixture
def profile_env(
    aws_env: dict[str, str], emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The emulator as the profile `sandbox` only: its endpoint and keys in the AWS config files."""
    Path(aws_env["AWS_CONFIG_FILE"]).write_text(
        f"[profile {PROFILE}]\nregion = us-east-1\nendpoint_url = {emulator.url}\n"
    )
    Path(aws_env["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
        f"[{PROFILE}]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
    )
    env = dict(aws_env)
    for key in (
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(key, raising=False)
        env.pop(key, None)
    return env


def test_library_and_cli_reach_member_accounts_through_the_profile_endpoint(
    layer: Layer, profile_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "refused-hosts"
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo(log))

    # The README's library example, as written.
    spec = iamlayer.load_spec(layer.spec)
    session = boto3.Session(profile_name=PROFILE)
    plan = iamlayer.make_plan(spec, credentials=session)
    assert refused(log) == [] and not plan.errors, plan.errors
    assert plan.counts()["create"] > 0
    applied = iamlayer.apply_plan(spec, plan, credentials=session)
    assert refused(log) == []
    assert applied.ok, applied.failed

    # The CLI, in every account: the layer is there, so the plan is empty.
    r = run_cli(
        "plan",
        "--profile",
        PROFILE,
        "--detailed-exitcode",
        cwd=layer.root,
        env={**profile_env, **subprocess_env(log)},
    )
    assert refused(log) == [], r.err
    assert r.code == 0, r.out + r.err


def test_clients_with_explicit_keys_keep_the_profile_endpoint(
    profile_env: dict[str, str], emulator: Emulator
) -> None:
    """A person's own clients (onboarding, MFA sessions) made with explicit keys keep the endpoint
    of the profile they came from."""
    factory = make_client_factory(PROFILE)
    creds = Credentials("AKIDEXAMPLE", "secret", "token")
    assert factory("iam", creds, None).meta.endpoint_url == emulator.url
    assert factory("sts", None, None).meta.endpoint_url == emulator.url


def test_a_profiles_services_section_reaches_member_accounts_too(
    layer: Layer,
    profile_env: dict[str, str],
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The per-service form of the same setting (`services = NAME` and a `[services NAME]` section)."""
    Path(profile_env["AWS_CONFIG_FILE"]).write_text(
        f"[profile {PROFILE}]\nregion = us-east-1\nservices = emulator\n\n"
        f"[services emulator]\niam =\n  endpoint_url = {emulator.url}\nsts =\n  endpoint_url = {emulator.url}\n"
    )
    log = tmp_path / "refused-hosts"
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo(log))
    conn = connect_accounts(load_spec(layer.spec), profile=PROFILE, stats=ApiStats(), only=["shared"])[
        "shared"
    ]
    assert conn.error is None and conn.clients is not None, conn.error
    conn.clients.client("iam").list_roles()
    assert refused(log) == []
    assert conn.clients.client("iam").meta.endpoint_url == emulator.url

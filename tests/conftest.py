"""Shared fixtures: one embedded AWS emulator (moto server over HTTP) per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from iamlayer.sandbox.emulator import Emulator, start_emulator


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """A moto server on 127.0.0.1 for the whole test session (one per xdist worker)."""
    log = Path(tmp_path_factory.mktemp("moto")) / "moto.log"
    emu = start_emulator(log_path=log)
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def aws_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Point boto3 (and subprocesses given this env) at the emulator, isolated from ~/.aws."""
    env = emulator.env()
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    env["AWS_CONFIG_FILE"] = str(tmp_path / "aws-config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "aws-credentials")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return {**os.environ, **env}


@pytest.fixture
def iam(aws_env: dict[str, str]) -> object:
    """A boto3 IAM client for the emulator's default account (123456789012)."""
    return boto3.client("iam", region_name="us-east-1")

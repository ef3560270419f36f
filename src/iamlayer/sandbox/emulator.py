"""The embedded AWS emulator: a moto server on 127.0.0.1, started and stopped by us.

Used by `iamlayer sandbox`, `iamlayer demo` and the test suite. It runs as a child process (not a
thread) so that the CLI run in a subprocess, the real `aws` CLI and the tests all see one server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from iamlayer.errors import IamlayerError
from iamlayer.sandbox.moto_launcher import POLICIES_ENV

#: credentials the emulator accepts; moto maps any key to its default account unless told otherwise
SANDBOX_ACCESS_KEY = "testing"
SANDBOX_SECRET_KEY = "testing"  # a well-known dummy value for the emulator
DEFAULT_ACCOUNT_ID = "123456789012"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Emulator:
    """A running moto server that we started (we stop only our own process, by PID)."""

    url: str
    process: subprocess.Popen[bytes] | None
    log_path: Path | None = None
    #: the log is a temporary file of ours (no log_path was asked for): removed by `stop`
    own_log: bool = False

    def reset(self) -> None:
        """Forget every resource (POST /moto-api/reset)."""
        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=30):
            pass

    def env(self, account_id: str | None = None) -> dict[str, str]:
        """Environment variables that point boto3 and the aws CLI at this emulator."""
        env = {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": SANDBOX_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SANDBOX_SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }
        if account_id:
            # moto reads the account of a request from this header-equivalent env var only in
            # decorator mode; over HTTP it maps access keys to accounts. See seed_organization.
            env["MOTO_ACCOUNT_ID"] = account_id
        return env

    def stop(self) -> None:
        try:
            if self.process is None or self.process.poll() is not None:
                return
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        finally:
            if self.own_log and self.log_path is not None:
                self.log_path.unlink(missing_ok=True)

    def log_tail(self, lines: int = 15) -> str:
        """The last lines the emulator wrote (its errors at start), or ""."""
        if self.log_path is None:
            return ""
        try:
            text = self.log_path.read_text("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])


def _wait_ready(emulator: Emulator, timeout: float) -> None:
    url, process = emulator.url, emulator.process
    assert process is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = emulator.log_tail()
            said = f"; it said:\n{tail}" if tail else " without a word"
            raise IamlayerError(f"the AWS emulator exited at start (code {process.returncode}){said}")
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise IamlayerError(f"the AWS emulator did not answer at {url} within {timeout:.0f}s")


def start_emulator(
    port: int | None = None,
    log_path: Path | None = None,
    timeout: float = 60.0,
    managed_policies: Collection[str] | None = None,
) -> Emulator:
    """Start a moto server on 127.0.0.1 with AWS-managed IAM policies loaded; wait until it answers.

    `managed_policies` (ARNs) loads only those: the test suite's emulator, where loading all 1,582
    into every account dominates the time of a test. None loads them all (the sandbox, the demo).
    """
    try:
        import moto.server  # noqa: F401 - only to give a clear error when the extra is missing
    except ImportError as exc:
        raise IamlayerError(
            "the embedded AWS emulator needs the sandbox extra: pip install 'iamlayer[sandbox]'"
        ) from exc
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    # Without this, moto knows no AWS-managed policy ARN (AdministratorAccess and friends).
    env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    env.pop(POLICIES_ENV, None)
    if managed_policies is not None:
        env[POLICIES_ENV] = ",".join(sorted(managed_policies))
    own_log = log_path is None
    if log_path is None:
        # Kept until stop: what the emulator says when it fails at start is the only clue.
        fd, name = tempfile.mkstemp(prefix="iamlayer-emulator-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    with open(log_path, "wb") as out:
        process = subprocess.Popen(
            # -P: the current folder is not put on sys.path, so a stray code.py or http.py there
            # cannot replace a module the emulator imports.
            [
                sys.executable,
                "-P",
                "-m",
                "iamlayer.sandbox.moto_launcher",
                "-H",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    emulator = Emulator(url=url, process=process, log_path=log_path, own_log=own_log)
    try:
        _wait_ready(emulator, timeout)
    except BaseException:
        emulator.stop()
        raise
    return emulator

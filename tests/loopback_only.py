"""A guard that makes any connection to a host other than the loopback fail, and records it.

iamlayer pointed at an emulator must never send a request to AWS. Every HTTP library resolves the
host it connects to with `socket.getaddrinfo` (urllib3 does, also for a literal IP address), so a
replacement that refuses every other host catches a request before it leaves the machine, whichever
botocore session or client sent it. botocore reports the refusal as an HTTPClientError (after its
retries); the log records every attempt, whatever iamlayer then makes of the error.

In this process: `monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo(log))`. In a
subprocess (the CLI): `subprocess_env(log)`, whose PYTHONPATH loads tests/loopback_site/sitecustomize.py.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: where the guard in a subprocess writes the hosts it refused, one a line
LOG_ENV = "IAMLAYER_TEST_LOOPBACK_LOG"
SITE_DIR = Path(__file__).resolve().parent / "loopback_site"


class LeftLoopback(RuntimeError):
    """A connection to a host other than the loopback was attempted."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def guarded_getaddrinfo(log: Path, real: Callable[..., Any] = socket.getaddrinfo) -> Callable[..., Any]:
    """`socket.getaddrinfo` that refuses (and appends to `log`) every host but the loopback."""

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and not is_loopback(str(name)):
            with log.open("a") as f:
                f.write(f"{name}\n")
            raise LeftLoopback(f"a connection to {name} was attempted; only the loopback is allowed")
        return real(host, *args, **kwargs)

    return getaddrinfo


def install_from_env() -> None:
    """In a subprocess started with `subprocess_env`: guard this process."""
    log = os.environ.get(LOG_ENV)
    if log:
        socket.getaddrinfo = guarded_getaddrinfo(Path(log))


def subprocess_env(log: Path) -> dict[str, str]:
    """Environment variables that guard a Python subprocess, recording refused hosts in `log`."""
    path = os.pathsep.join(p for p in (str(SITE_DIR), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, LOG_ENV: str(log)}


def refused(log: Path) -> list[str]:
    """The hosts the guard refused so far."""
    return log.read_text().split() if log.exists() else []

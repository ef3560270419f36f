"""The backend of a spec: the local folder, or the team's S3 bucket (`backend: {s3: ...}`).

A shared backend is opened once per process and spec (its account reached, its bucket checked) and
then reused: the lock taken by `apply` and the one the library's `apply_plan` takes again are the
same holding, renewed by one heartbeat.
"""

from __future__ import annotations

import threading
from typing import Any

from iamlayer.spec.model import Spec
from iamlayer.state.backend import Backend
from iamlayer.state.local_backend import LocalBackend

_lock = threading.Lock()
_open: dict[tuple[object, ...], Backend] = {}


def open_backend(spec: Spec, credentials: Any = None, *, check: bool = True) -> Backend:
    """The spec's backend. A shared one is reached with `credentials` (a profile name, a boto3
    Session, or None for the standard chain); `check=False` skips checking its bucket (for
    `backend init`, which makes it)."""
    if spec.backend is None:
        return LocalBackend(spec)
    from iamlayer.aws.s3_backend import S3Backend

    # A Session is keyed by identity: two sessions are two operators, whatever they hold.
    who = credentials if credentials is None or isinstance(credentials, str) else id(credentials)
    key = (str(spec.root), spec.project, spec.backend, who, check)
    with _lock:
        if key not in _open:
            _open[key] = S3Backend.open(spec, credentials, check=check)
        return _open[key]


def forget_backends() -> None:
    """Drop the backends opened so far (tests that restart their emulator)."""
    with _lock:
        _open.clear()

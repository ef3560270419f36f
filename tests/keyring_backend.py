"""A keyring the tests control, standing in for the OS keyring (never the machine's real one).

`FileKeyring` keeps entries in the JSON file IAMLAYER_TEST_KEYRING names (outside the person's
HOME: it plays the Keychain's own database). Select it in a subprocess with
PYTHON_KEYRING_BACKEND=keyring_backend.FileKeyring and this folder on PYTHONPATH.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

BACKEND = "keyring_backend.FileKeyring"


class FileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    @property
    def _file(self) -> Path:
        return Path(os.environ["IAMLAYER_TEST_KEYRING"])

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            data: dict[str, dict[str, str]] = json.loads(self._file.read_text())
        except FileNotFoundError:
            return {}
        return data

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data.setdefault(service, {})[username] = password
        self._file.write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if username not in data.get(service, {}):
            raise PasswordDeleteError(username)
        del data[service][username]
        self._file.write_text(json.dumps(data))

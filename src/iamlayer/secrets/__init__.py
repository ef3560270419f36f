"""Onboarding secrets: OpenPGP public keys, password generation, encryption, and the outbox.

Plaintext secrets live only in memory: they are encrypted to the person's public key before they
touch disk, and never printed or logged.

The names below are loaded on first use: importing a pure submodule (`iamlayer.secrets.names`,
`iamlayer.secrets.passwords`) does not load the OpenPGP library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from iamlayer._lazy import lazy_attributes

_FROM: dict[str, str] = {
    "decrypt_file": "iamlayer.secrets.crypto",
    "encrypt_armored": "iamlayer.secrets.crypto",
    "PublicKey": "iamlayer.secrets.keys",
    "load_public_key": "iamlayer.secrets.keys",
    "Outbox": "iamlayer.secrets.outbox",
    "PendingSecret": "iamlayer.secrets.outbox",
    "SecretRecord": "iamlayer.secrets.outbox",
    "StagedSecret": "iamlayer.secrets.outbox",
    "check_password": "iamlayer.secrets.passwords",
    "generate_password": "iamlayer.secrets.passwords",
}

__all__ = [
    "Outbox",
    "PendingSecret",
    "PublicKey",
    "SecretRecord",
    "StagedSecret",
    "check_password",
    "decrypt_file",
    "encrypt_armored",
    "generate_password",
    "load_public_key",
]

if TYPE_CHECKING:
    from iamlayer.secrets.crypto import decrypt_file, encrypt_armored
    from iamlayer.secrets.keys import PublicKey, load_public_key
    from iamlayer.secrets.outbox import Outbox, PendingSecret, SecretRecord, StagedSecret
    from iamlayer.secrets.passwords import check_password, generate_password


__getattr__, __dir__ = lazy_attributes(__name__, __all__, _FROM)
